"""`ragtune generate` end to end in subprocesses against a real 127.0.0.1 server: kill -9 and resume, faults, secrets."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ragtune.io import read_jsonl_tolerant
from ragtune.llm.testserver import ChatServer, Fault

SECRET = "sk-live-DO-NOT-LEAK-0123456789abcdef"
WORDS = ["granite", "asphalt", "bitumen", "cedar", "dolomite", "eaves", "flashing", "gable", "hempcrete", "insulation",
         "joist", "kerb", "lintel", "mortar", "newel", "oriel", "purlin", "quoin", "rafter", "soffit", "truss", "underlay",
         "vapour", "wainscot", "xylol", "yardstick", "zinc", "adobe", "baluster", "corbel"]


def make_docs(folder: Path) -> Path:
    folder.mkdir()
    for w in WORDS:
        (folder / f"{w}.txt").write_text(f"The {w} is an important part of many Swedish houses. "
                                         f"Inspect the {w} every spring and repair it before winter.", encoding="utf-8")
    return folder


def reply(messages) -> str:
    word = re.search(r"The (\w+) is an important", messages[-1]["content"]).group(1)
    return f"1. How often should I inspect the {word}?\nSure, here you go!"


def cli(args: list[str], **kw) -> subprocess.Popen:
    env = {**os.environ, "OPENAI_API_KEY": SECRET, "HF_HUB_OFFLINE": "1", "COLUMNS": "200"}
    return subprocess.Popen([sys.executable, "-m", "ragtune.cli.main", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kw)


def journal_keys(path: Path) -> list[str]:
    return [r["key"] for r in read_jsonl_tolerant(path)]


def test_kill_9_then_resume_loses_nothing_and_repeats_nothing(tmp_path):
    docs, out = make_docs(tmp_path / "docs"), tmp_path / "out"
    args = ["generate", "queries", str(docs), "-o", str(out), "--llm", "openai:test-model", "--no-filter", "--val-style", "same", "-c", "2"]
    with ChatServer(reply=reply, delay=0.1) as srv:
        proc = cli([*args, "--base-url", srv.base_url])
        journal = out / "journal.jsonl"
        deadline = time.time() + 60
        while len(journal_keys(journal)) < 8 and time.time() < deadline and proc.poll() is None:
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        assert proc.returncode == -signal.SIGKILL, proc.stderr.read()
        with journal.open("ab") as f:  # what a kill in the middle of a write leaves behind
            f.write(b'{"key": "torn-half-record", "reply": "How')
        before = set(journal_keys(journal))
        assert 8 <= len(before) < len(WORDS)
        n_before = srv.log.requests
        proc = cli([*args, "--base-url", srv.base_url])
        stdout, stderr = proc.communicate(timeout=120)
        assert proc.returncode == 0, stderr
        later_prompts = [b["messages"][-1]["content"] for b in srv.log.bodies[n_before:]]
    keys = journal_keys(journal)
    assert len(keys) == len(set(keys)) == len(WORDS), "every chunk journaled exactly once"
    done_words = {w for w in WORDS for p in later_prompts if f"The {w} is" in p}
    assert len(later_prompts) <= len(WORDS) - len(before) + 2  # only missing chunks (+ those in flight at the kill)
    assert len(done_words) == len(later_prompts)
    full = json.loads((out / "all.json").read_text())
    assert len(full["corpus"]) == len(WORDS) and len(full["queries"]) == len(WORDS)
    assert f"resumed from the journal" in stdout and "preamble" in stdout
    _assert_no_secret(out, stdout + stderr)


def test_faults_complete_and_one_chunk_given_up(tmp_path):
    docs, out = make_docs(tmp_path / "docs"), tmp_path / "out"
    faults = [Fault("429", retry_after=0.2), Fault("500"), Fault("malformed"), Fault("slow", seconds=3), Fault("drop")]

    def decide(body, n):
        return Fault("500") if "The zinc is" in body["messages"][-1]["content"] else None

    with ChatServer(reply=reply, faults=faults, decide=decide) as srv:
        proc = cli(["generate", "queries", str(docs), "-o", str(out), "--llm", "openai:test-model", "--no-filter", "--val-style", "same",
                    "-c", "4", "--base-url", srv.base_url, "--timeout", "1", "--max-tries", "3",
                    "--price-per-1k", "0.002"])
        stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 0, stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["calls"]["given_up"] == 1 and "zinc" in summary["errors"][0]
    assert summary["questions_kept"] == len(WORDS) - 1 and "cost" in summary
    assert "1 given up" in stdout and "cost:" in stdout
    assert sum(1 for b in srv.log.bodies if "The zinc is" in b["messages"][-1]["content"]) == 3
    _assert_no_secret(out, stdout + stderr)


@pytest.mark.slow
def test_negatives_cli(tmp_path):
    docs, out = make_docs(tmp_path / "docs"), tmp_path / "out"
    with ChatServer(reply=reply) as srv:
        proc = cli(["generate", "queries", str(docs), "-o", str(out), "--llm", "openai:m", "--no-filter", "--val-style", "same",
                    "--base-url", srv.base_url])
        assert proc.communicate(timeout=120)[0] and proc.returncode == 0
    proc = cli(["generate", "negatives", str(out / "all.json"), "-r", "minilm", "-o", str(tmp_path / "negs.json"),
                "--num-negatives", "3", "--skip-top", "1"])
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr
    mined = json.loads((tmp_path / "negs.json").read_text())
    assert len(mined["hard_negatives"]) == len(WORDS)
    for q, negs in mined["hard_negatives"].items():
        assert len(negs) == 3 and not set(negs) & set(mined["relevant_docs"][q])


def test_bad_input_is_a_clean_error(tmp_path):
    proc = cli(["generate", "queries", str(tmp_path / "missing"), "-o", str(tmp_path / "o"), "--llm", "openai:m"])
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode != 0 and "Traceback" not in stderr and "error" in stderr.lower()


def _assert_no_secret(out: Path, console_text: str) -> None:
    assert SECRET not in console_text
    for p in out.rglob("*"):
        if p.is_file():
            assert SECRET not in p.read_text(encoding="utf-8", errors="replace"), p
