"""Bad input files for the battery, built in a folder by `build(root)`: every one small, made by hand.

`build` returns {name: path}; case arguments name them as `{name}` (see cases.py). Nothing here needs
a model or the network.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import socket
import subprocess
from pathlib import Path

TEXT_A = ("Roof tiles must be inspected every spring. Cracked tiles let water into the attic, and a wet attic "
          "rots the rafters within a few winters. Replace a cracked tile at once.")
TEXT_B = ("A building permit is needed for any extension larger than fifteen square metres. Apply to the "
          "municipality with drawings and a site plan; the answer comes within ten weeks.")
CHATS = [
    [{"role": "user", "content": "How often should roof tiles be inspected?"},
     {"role": "assistant", "content": "Every spring."}],
    [{"role": "user", "content": "Do I need a permit for a small shed?"},
     {"role": "assistant", "content": "Not below fifteen square metres."}],
    [{"role": "user", "content": "How long does a permit take?"},
     {"role": "assistant", "content": "About ten weeks."}],
    [{"role": "user", "content": "What rots the rafters?"},
     {"role": "assistant", "content": "Water in a wet attic."}],
]
HUB_ID = "nobody-org/not-a-cached-model"  # a hub id: not an asset, not a folder, not in the HF cache (offline machine)


def good_dataset() -> dict:
    return {
        "queries": {"q1": "how often inspect roof tiles", "q2": "do I need a permit", "q3": "what rots rafters",
                    "q4": "how long for a permit answer"},
        "corpus": {"a1": TEXT_A, "a2": "Replace a cracked tile at once.", "b1": TEXT_B, "b2": "The answer comes within ten weeks."},
        "relevant_docs": {"q1": ["a1"], "q2": ["b1"], "q3": ["a1"], "q4": ["b2"]},
        "mode": "text",
        "doc_source": {"a1": "a.txt", "a2": "a.txt", "b1": "b.txt", "b2": "b.txt"},
    }


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def _jsonl(rows) -> str:
    return "".join(json.dumps(r) + "\n" for r in rows)


def read_only_folder(path: Path) -> str | None:
    """Make `path` a folder nobody can write into, root included; returns how, or None when impossible here.

    chmod alone does not stop root (tests run as root in CI); `chattr +i` (immutable) does, where the
    file system and the container's capabilities allow it."""
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        path.chmod(0o555)
        return "chmod 555 (not root)"
    if shutil.which("chattr"):
        done = subprocess.run(["chattr", "+i", str(path)], capture_output=True)
        if done.returncode == 0:
            return "chattr +i"
    return None


def release(path: Path) -> None:
    """Undo `read_only_folder` so the temp folder can be removed."""
    if shutil.which("chattr") and path.exists():
        subprocess.run(["chattr", "-i", str(path)], capture_output=True)
    if path.exists():
        path.chmod(0o755)


def build(root: Path) -> dict[str, str]:
    root.mkdir(parents=True, exist_ok=True)
    f: dict[str, Path] = {}
    rng = random.Random(16)
    garbage = bytes(rng.randrange(256) for _ in range(2048))

    # documents
    f["docs"] = root / "docs"
    _write(f["docs"] / "a.txt", TEXT_A)
    _write(f["docs"] / "b.md", TEXT_B)
    f["pdfdocs"] = root / "pdfdocs"
    _write(f["pdfdocs"] / "cut.pdf", b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n2 0 obj\n<< /Type /Pa")
    f["garbagedocs"] = root / "garbagedocs"
    _write(f["garbagedocs"] / "blob.txt", garbage)
    f["emptydocs"] = root / "emptydocs"
    f["emptydocs"].mkdir()

    # retrieval datasets
    good = good_dataset()
    f["good"] = _write(root / "good.json", json.dumps(good))
    one = {**good, "doc_source": {d: "same.txt" for d in good["corpus"]}}
    f["one_source"] = _write(root / "one_source.json", json.dumps(one))
    f["dangling"] = _write(root / "dangling.json", json.dumps({**good, "relevant_docs": {**good["relevant_docs"],
                                                                                          "q2": ["no-such-doc"]}}))
    text = json.dumps(good)
    f["dup_ids"] = _write(root / "dup_ids.json", text.replace('"a2": "Replace', '"a1": "Replace'))  # "a1" twice in corpus
    f["int_text"] = _write(root / "int_text.json", json.dumps({**good, "corpus": {**good["corpus"], "a2": 5}}))
    f["int_query"] = _write(root / "int_query.json", json.dumps({**good, "queries": {**good["queries"], "q3": 7}}))
    rows = [{"type": "corpus", "id": "a1", "text": TEXT_A}, {"type": "corpus", "id": "b1", "text": 12},
            {"type": "query", "id": "q1", "text": "roof tiles?", "relevant": ["a1"]}]
    f["int_text_jsonl"] = _write(root / "int_text.jsonl", _jsonl(rows))
    rows = [{"type": "corpus", "id": "a1", "text": TEXT_A}, {"type": "corpus", "id": "a1", "text": TEXT_B},
            {"type": "query", "id": "q1", "text": "roof tiles?", "relevant": ["a1"]}]
    f["dup_ids_jsonl"] = _write(root / "dup_ids.jsonl", _jsonl(rows))
    f["garbage_json"] = _write(root / "garbage.json", garbage)
    f["truncated"] = _write(root / "truncated.json", text[: len(text) // 2])
    f["latin1"] = _write(root / "latin1.json", text.replace("roof tiles", "tuiles du toît").encode("latin-1"))
    f["not_object"] = _write(root / "list.json", "[1, 2, 3]\n")
    f["beir_noqrels"] = root / "beir_noqrels"
    _write(f["beir_noqrels"] / "corpus.jsonl", _jsonl([{"_id": "a1", "text": TEXT_A}]))

    # chat data
    f["chat"] = _write(root / "chat.jsonl", _jsonl({"messages": m} for m in CHATS))
    f["chat_latin1"] = _write(root / "chat_latin1.jsonl",
                              _jsonl({"messages": m} for m in CHATS).replace("spring", "printemps é").encode("latin-1"))
    bad = [dict(m) for m in CHATS[0]]
    bad[1]["content"] = 42
    f["chat_int"] = _write(root / "chat_int.jsonl", _jsonl([{"messages": bad}, *({"messages": m} for m in CHATS[1:])]))
    f["chat_garbage"] = _write(root / "chat_garbage.jsonl", garbage)
    f["chat_empty"] = _write(root / "chat_empty.jsonl", "")

    # label queries, prompts
    f["queries"] = _write(root / "queries.txt", "how often inspect roof tiles\ndo I need a permit\n")
    f["queries_latin1"] = _write(root / "queries_latin1.txt", "tuiles du toît?\n".encode("latin-1"))
    f["prompt_nopassage"] = _write(root / "prompt.txt", "Write {n} questions.\n")

    # QA sets, answers and judge data (generate judge-data, eval judge, eval rag)
    qa = [{"id": "p1", "question": "how often inspect roof tiles", "reference": TEXT_A, "category": "roofs", "doc_id": "a1"},
          {"id": "p2", "question": "do I need a permit", "reference": TEXT_B, "category": "permits", "doc_id": "b1"}]
    f["qa"] = _write(root / "qa.jsonl", _jsonl(qa))
    f["qa_latin1"] = _write(root / "qa_latin1.jsonl", _jsonl(qa).replace("roof tiles", "tuiles du toît").encode("latin-1"))
    f["qa_dup"] = _write(root / "qa_dup.jsonl", _jsonl([qa[0], {**qa[1], "id": "p1"}]))
    f["qa_noref"] = _write(root / "qa_noref.jsonl", _jsonl([qa[0], {k: v for k, v in qa[1].items() if k != "reference"}]))
    f["qa_baddoc"] = _write(root / "qa_baddoc.jsonl", _jsonl([qa[0], {**qa[1], "doc_id": "no-such-doc"}]))
    f["answers_unknown"] = _write(root / "answers_unknown.jsonl", _jsonl([{"id": "p1", "answer": "yes"}, {"id": "zz9", "answer": "no"}]))
    item = {"kind": "correctness", "id": "p1|control:reference", "question_id": "p1", "category": "roofs", "question": qa[0]["question"],
            "reference": TEXT_A, "answer": TEXT_A, "source": "control:reference", "truth": 5.0, "control": "reference"}
    f["judge_data"] = root / "judge_data"
    _write(f["judge_data"] / "items.jsonl", _jsonl([item]))
    _write(f["judge_data"] / "split.json", json.dumps({"train": [], "test": ["p1"]}))
    f["judge_data_bad"] = root / "judge_data_bad"
    _write(f["judge_data_bad"] / "items.jsonl", _jsonl([item]) + '{"kind": "correctness", "id": 7}\n')
    _write(f["judge_data_bad"] / "split.json", json.dumps({"train": [], "test": ["p1"]}))

    # text-to-SQL: a SQLite file, Spider-format tables and questions, predictions, sql-create-context rows
    import sqlite3

    f["sqlitedb"] = root / "shop.sqlite"
    conn = sqlite3.connect(f["sqlitedb"])
    conn.executescript("CREATE TABLE shop (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO shop VALUES (1, 'a'), (2, 'b');")
    conn.commit()
    conn.close()
    tables = [{"db_id": db, "table_names_original": ["shop"], "column_names_original": [[-1, "*"], [0, "id"], [0, "name"]],
               "column_types": ["text", "number", "text"], "primary_keys": [1], "foreign_keys": []} for db in ("s1", "s2")]
    f["spider_tables"] = _write(root / "tables.json", json.dumps(tables))
    f["spider_rows"] = _write(root / "sql_dev.json", json.dumps([{"db_id": "s1", "question": "How many shops?",
                                                                  "query": "SELECT count(*) FROM shop"},
                                                                 {"db_id": "s2", "question": "Shop names?",
                                                                  "query": "SELECT name FROM shop"}]))
    f["spider_one_db"] = _write(root / "sql_one_db.json", json.dumps([{"db_id": "s1", "question": "How many shops?",
                                                                      "query": "SELECT count(*) FROM shop"}]))
    f["spider_baddb"] = _write(root / "sql_baddb.json", json.dumps([{"db_id": "nope", "question": "How many shops?",
                                                                    "query": "SELECT count(*) FROM shop"}]))
    f["sql_noquery"] = _write(root / "sql_noquery.json", json.dumps([{"db_id": "s1", "question": "How many shops?"}]))
    f["pred_one"] = _write(root / "pred_one.sql", "SELECT count(*) FROM shop\n")
    f["cc_noanswer"] = _write(root / "cc_noanswer.jsonl", _jsonl([{"question": "q?", "context": "CREATE TABLE t (a INT)"}]))

    f["json_schema"] = _write(root / "schema.json", json.dumps({"type": "object", "properties": {"category": {"enum": ["roof"]}}}))
    f["bad_schema"] = _write(root / "bad_schema.json", json.dumps({"type": "no-such-type"}))
    f["json_chat"] = _write(root / "json_chat.jsonl", _jsonl([{"messages": [{"role": "user", "content": "Roof tiles?"},
                                                                            {"role": "assistant", "content": '{"category": "roof"}'}]}]))

    # paths that are in the way
    f["afile"] = _write(root / "afile", "a file where a folder is expected\n")
    f["dir_json"] = root / "dir.json"
    f["dir_json"].mkdir()
    _write(f["dir_json"] / "keep.txt", "a folder named like an output file\n")
    f["dir_jsonl"] = root / "dir.jsonl"
    f["dir_jsonl"].mkdir()
    f["loop"] = root / "loop"
    os.symlink(f["loop"], f["loop"])  # loop -> loop
    f["dangling_link"] = root / "dangling_link.json"
    os.symlink(root / "nowhere.json", f["dangling_link"])
    f["missing"] = root / "missing.json"
    f["empty_run"] = root / "empty_run"
    f["empty_run"].mkdir()
    f["rodir"] = root / "rodir"
    how = read_only_folder(f["rodir"])
    out = {k: str(v) for k, v in f.items()}
    out["rodir_how"] = how or ""
    out["hub"] = HUB_ID
    out["closed"] = f"http://127.0.0.1:{closed_port()}/v1"
    return out
