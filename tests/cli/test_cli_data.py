"""`ragtune data chunk | convert | split | info`: real runs, and clean one-line errors for bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from typer.testing import CliRunner

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from ragtune.cli.main import app  # noqa: E402
from ragtune.data.retrieval import RetrievalDataset, load_dataset, write_llamaindex  # noqa: E402

runner = CliRunner()


def run(*args: str):
    result = runner.invoke(app, [str(a) for a in args])
    assert "Traceback" not in result.output
    return result


@pytest.fixture()
def docs(tmp_path):
    folder = tmp_path / "docs"
    (folder / "sub").mkdir(parents=True)
    (folder / "guide.md").write_text("# Guide\n\n" + " ".join(f"Sentence number {i} about permits." for i in range(120)),
                                     encoding="utf-8")
    (folder / "sub" / "page.html").write_text("<p>Short <b>html</b> page</p><script>x()</script>", encoding="utf-8")
    (folder / "rows.jsonl").write_text('{"body": "row one"}\n{broken\n', encoding="utf-8")
    (folder / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    return folder


def test_chunk_writes_a_corpus_dataset_and_reports_skips(docs, tmp_path):
    out = tmp_path / "chunks.json"
    result = run("data", "chunk", docs, "-o", out, "--text-field", "body", "--chunk-size", "64", "--overlap", "8")
    assert result.exit_code == 0, result.output
    assert f"skipped {(docs / 'latin1.txt').as_posix()}: not UTF-8" in result.stderr
    assert f"skipped {(docs / 'rows.jsonl').as_posix()}:2: not valid JSON" in result.stderr
    assert "3 documents from 3 of 4 files; skipped 1 file(s) and 1 JSONL row(s)" in result.stdout

    ds = load_dataset(out)
    assert ds.queries == {} and ds.name == "chunks"
    assert set(ds.doc_source.values()) == {(docs / "guide.md").as_posix(), (docs / "sub" / "page.html").as_posix(),
                                           (docs / "rows.jsonl").as_posix() + "#1"}
    assert sum(s.endswith("guide.md") for s in ds.doc_source.values()) > 3  # the long file was cut at 64 tokens
    assert ds.meta["chunking"]["chunk_size"] == 64 and ds.meta["chunking"]["overlap"] == 8
    assert f"{len(ds.corpus)} chunks from 3 documents -> {out}" in result.stdout


def test_chunk_to_jsonl(docs, tmp_path):
    out = tmp_path / "chunks.jsonl"
    assert run("data", "chunk", docs / "guide.md", "-o", out).exit_code == 0
    first = json.loads(out.read_text(encoding="utf-8").splitlines()[1])
    assert first["type"] == "corpus" and first["source"] == (docs / "guide.md").as_posix()


@pytest.mark.parametrize(("args", "message"), [
    (["/no/such/dir"], "document path '/no/such/dir' does not exist"),
    (["LATIN1"], "no usable documents: all 1 file(s) were skipped"),
    (["GUIDE", "--overlap", "200"], "overlap 200 must be >= 0 and less than half"),
    (["GUIDE", "--chunk-tokenizer", "/no/such/model"], "/no/such/model"),
])
def test_chunk_bad_input_is_one_clean_error(docs, tmp_path, args, message):
    args = [{"LATIN1": str(docs / "latin1.txt"), "GUIDE": str(docs / "guide.md")}.get(a, a) for a in args]
    result = run("data", "chunk", *args, "-o", tmp_path / "out.json")
    assert result.exit_code in (2, 3)
    assert result.stderr.startswith("error: ") and message in result.stderr
    assert not (tmp_path / "out.json").exists()


def test_convert_between_all_formats(tmp_path):
    as_json, as_beir, as_jsonl = tmp_path / "faq.json", tmp_path / "faq-beir", tmp_path / "faq.jsonl"
    assert run("data", "convert", "construction-faq", "-o", as_json).exit_code == 0
    result = run("data", "convert", as_json, "-o", as_beir, "--to", "beir")
    assert result.exit_code == 0 and "warning: BEIR cannot store doc_source, meta" in result.stderr
    assert run("data", "convert", as_beir, "--output", as_jsonl).exit_code == 0
    original, back = load_dataset("construction-faq"), load_dataset(as_jsonl)
    assert (back.queries, back.corpus, back.relevant_docs) == (original.queries, original.corpus, original.relevant_docs)
    assert "written as jsonl" in run("data", "convert", as_json, "-o", tmp_path / "x.jsonl").stdout


def test_convert_old_positional_output_still_works_with_a_warning(tmp_path):
    result = run("data", "convert", "construction-faq", tmp_path / "old.json")
    assert result.exit_code == 0, result.output
    assert "second argument is the old form; use -o" in result.stderr and (tmp_path / "old.json").is_file()
    result = run("data", "convert", "construction-faq", tmp_path / "a.json", "-o", tmp_path / "b.json")
    assert result.exit_code == 2 and "give the output once" in result.stderr
    result = run("data", "convert", "construction-faq")
    assert result.exit_code == 2 and "-o/--output is required" in result.stderr


def test_convert_bad_format_and_missing_input(tmp_path):
    result = run("data", "convert", "construction-faq", "-o", tmp_path / "x", "--to", "csv")
    assert result.exit_code == 2 and "'csv' is not one of" in result.stderr and "llamaindex" in result.stderr
    result = run("data", "convert", tmp_path / "missing.json", "-o", tmp_path / "x.json")
    assert result.exit_code == 2 and "not found" in result.stderr


def test_split_writes_train_val_and_record(tmp_path):
    out = tmp_path / "split"
    result = run("data", "split", "construction-faq", "-o", out, "--val-fraction", "0.25", "--seed", "5")
    assert result.exit_code == 0, result.output
    train, val = load_dataset(out / "train.json"), load_dataset(out / "val.json")
    record = json.loads((out / "split.json").read_text(encoding="utf-8"))
    assert record["seed"] == 5 and len(record["val_sources"]) == round(503 * 0.25)
    assert not set(train.corpus) & set(val.corpus)
    assert len(train.queries) + len(val.queries) == 503
    assert "train: construction-faq-train: 377 queries" in result.stdout


def test_split_bad_fraction_is_a_clean_error(tmp_path):
    result = run("data", "split", "construction-faq", "-o", tmp_path / "s", "--val-fraction", "1.5")
    assert result.exit_code == 2 and "--val-fraction': 1.5 is not in the range 0 < x < 1" in result.stderr


def test_info_clean_dataset_exits_zero():
    result = run("data", "info", "construction-faq")
    assert result.exit_code == 0
    assert "construction-faq: 503 queries, 503 docs from 503 sources" in result.stdout
    assert "0 error(s), 0 warning(s)" in result.stdout


def test_info_lists_problems_and_exits_nonzero(tmp_path):
    bad = RetrievalDataset(queries={"q1": "ok", "q2": ""}, corpus={"d1": "text"},
                           relevant_docs={"q1": ["d1", "d1"], "q2": ["gone"]})
    path = write_llamaindex(bad, tmp_path / "bad.json")
    result = run("data", "info", path)
    assert result.exit_code == 2
    assert f"error: {path}: queries['q2']: empty query text" in result.stdout
    assert f"error: {path}: relevant_docs['q2'][0]: doc id 'gone' is not in the corpus" in result.stdout
    assert f"warning: {path}: relevant_docs['q1']: the same doc id is listed twice" in result.stdout
    assert "2 error(s), 1 warning(s)" in result.stdout


def test_bad_input_in_a_real_process_has_no_traceback(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "ragtune.cli.main", "data", "info", str(bad)],
                          capture_output=True, text=True, timeout=60, env={**os.environ, "COLUMNS": "200"})
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"error: {bad}:1: not valid JSON") and "Traceback" not in proc.stderr


def test_chunk_output_inside_the_documents_folder_is_not_read_back(docs):
    out = docs / "chunks.jsonl"
    first = run("data", "chunk", docs, "-o", out, "--text-field", "body")
    second = run("data", "chunk", docs, "-o", out, "--text-field", "body")
    assert first.exit_code == second.exit_code == 0
    assert f"skipped {out.as_posix()}: excluded" in second.stderr
    n = len(load_dataset(out).corpus)
    assert f"{n} chunks from 3 documents" in first.stdout and f"{n} chunks from 3 documents" in second.stdout
