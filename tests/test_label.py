"""`ragtune label` and `ragtune.label.label_queries`: pooling, saving after every answer, resume after a crash,
undo, skip, the output as a dataset, clean one-line errors; the CLI driven by an answers file and by stdin.

The API tests use table embedders (each model's ranking for each query is written down, so the pool can be
checked by hand); the CLI tests use the real `minilm` on a tiny corpus."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from ragtune.data.retrieval import RetrievalDataset, load_dataset, validate
from ragtune.embedders import Embedder
from ragtune.errors import InputError
from ragtune.label import (AnswerError, journal_path, label_queries, parse_answer, pool, query_id, read_queries,
                           replay)

DOCS = {f"d{i}": f"passage number {i} about topic {'abcdef'[i]}" for i in range(6)}
# each model's scores of the six docs for each query: the ranking is the order of the scores
SCORES = {
    "A": {"first": [6, 5, 4, 3, 2, 1], "second": [1, 2, 3, 4, 5, 6], "third": [3, 6, 1, 5, 2, 4], "fourth": [6, 1, 2, 3, 4, 5]},
    "B": {"first": [2, 1, 6, 5, 4, 3], "second": [1, 2, 3, 4, 5, 6], "third": [6, 5, 4, 3, 2, 1], "fourth": [1, 6, 5, 4, 3, 2]},
}
QUERIES = ["first", "second", "third", "fourth"]


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch):
    monkeypatch.setenv("RAGTUNE_HOME", str(tmp_path / "home"))


def table_embedder(name: str) -> Embedder:
    """Documents are one-hot; a query's vector is its row of SCORES, so its ranking is known exactly."""
    index = {text: i for i, text in enumerate(DOCS.values())}

    def raw(texts, kind, batch_size, show_progress):
        out = np.zeros((len(texts), len(DOCS)), dtype=np.float32)
        for r, t in enumerate(texts):
            if kind == "document":
                out[r, index[t]] = 1.0
            else:
                out[r] = SCORES[name].get(t, [1] * len(DOCS))
        return out

    return Embedder(name, f"table-{name}", raw)


def ranking(model: str, query: str, k: int) -> list[str]:
    scores = SCORES[model][query]
    return [f"d{i}" for i in sorted(range(len(scores)), key=lambda i: -scores[i])[:k]]


class Script:
    """An answer_fn that plays a list of answers and records what it was shown."""

    def __init__(self, answers, on_call=None):
        self.answers, self.on_call = list(answers), on_call
        self.shown: list[tuple[str, list]] = []

    def __call__(self, query, passages):
        self.shown.append((query, passages))
        if self.on_call:
            self.on_call(query, passages)
        return self.answers.pop(0) if self.answers else "quit"


def run(tmp_path, answers, queries=QUERIES, teacher="B", k=3, **kw):
    fn = answers if callable(answers) else Script(answers)
    summary = label_queries(queries, DOCS, model=table_embedder("A"), teacher=None if teacher is None else table_embedder(teacher),
                            output=tmp_path / "labels.json", answer_fn=fn, k=k, **kw)
    return summary, fn


# ---------------------------------------------------------------------------------------------
# pooling


def test_pool_is_the_union_interleaved_by_rank_without_duplicates():
    got = pool({"a": ["d1", "d2", "d3"], "b": ["d2", "d4", "d1"]})
    assert [d for d, _ in got] == ["d1", "d2", "d4", "d3"]  # a1, b1, (a2 = b1), b2, a3, (b3 = a1)
    assert dict(got) == {"d1": {"a": 1, "b": 3}, "d2": {"a": 2, "b": 1}, "d4": {"b": 2}, "d3": {"a": 3}}
    assert [d for d, _ in pool({"a": ["x", "y"]})] == ["x", "y"]
    assert pool({"a": [], "b": []}) == []


def test_the_pool_shows_both_models_hits_numbered_with_their_ranks(tmp_path):
    _, script = run(tmp_path, ["quit"], k=3)
    query, passages = script.shown[0]
    a, b = ranking("A", "first", 3), ranking("B", "first", 3)
    assert (a, b) == (["d0", "d1", "d2"], ["d2", "d3", "d4"])
    assert [p.doc_id for p in passages] == ["d0", "d2", "d1", "d3", "d4"]  # A1, B1, A2, B2, (A3 = B1), B3
    assert [p.number for p in passages] == [1, 2, 3, 4, 5]
    assert passages[1].ranks == {"A": 3, "B": 1} and passages[1].retrieved_by() == "A #3 · B #1"
    assert passages[0].ranks == {"A": 1} and passages[0].text == DOCS["d0"]
    assert set(a) | set(b) == {p.doc_id for p in passages}


def test_agreeing_models_and_a_single_model_show_k_passages(tmp_path):
    _, script = run(tmp_path, ["skip", "quit"], k=2)
    second = script.shown[1][1]
    assert [(p.doc_id, p.ranks) for p in second] == [("d5", {"A": 1, "B": 1}), ("d4", {"A": 2, "B": 2})]
    _, solo = run(tmp_path / "solo", ["quit"], teacher=None, k=4)
    assert [p.doc_id for p in solo.shown[0][1]] == ranking("A", "first", 4)


# ---------------------------------------------------------------------------------------------
# typed answers


@pytest.mark.parametrize(("text", "expected"), [
    ("1 3", [1, 3]), ("3,1", [1, 3]), (" 2 , 2 ", [2]), ("1,  3 4", [1, 3, 4]), ("s", "skip"), ("S", "skip"),
    ("u", "undo"), ("q", "quit"), ("?", "help"), ("v 2", ("view", 2)),
])
def test_parse_answer(text, expected):
    assert parse_answer(text, 5) == expected


@pytest.mark.parametrize("text", ["", "   ", "0", "6", "1 x", "-1", "1.5", "v", "v 9", "yes"])
def test_parse_answer_refuses_with_one_line(text):
    with pytest.raises(AnswerError) as e:
        parse_answer(text, 5)
    assert "\n" not in str(e.value) and str(e.value)


def test_read_queries_drops_blanks_comments_and_duplicates(tmp_path):
    f = tmp_path / "q.txt"
    f.write_bytes("\ufeffHow do I   fix a roof?\n\n# from the logs\nhow do i fix a roof?\n  second query \n".encode())
    assert read_queries(f) == ["How do I   fix a roof?", "second query"]
    assert query_id("How do I fix a ROOF?") == query_id("how do i   fix a roof?")


# ---------------------------------------------------------------------------------------------
# saving, resuming, undo, skip


def test_every_answer_is_saved_before_the_next_query_is_shown(tmp_path):
    output, journal = tmp_path / "labels.json", journal_path(tmp_path / "labels.json")
    seen = []

    def check(query, passages):
        answers, _ = replay(journal)
        saved = json.loads(output.read_text())
        seen.append((len(answers), len(saved["queries"]), saved["meta"]["labelling"]["skipped"]))

    run(tmp_path, Script([[1], "skip", [1, 2], "quit"], on_call=check))
    assert journal.name == "labels.journal.jsonl"
    assert seen == [(0, 0, 0), (1, 1, 0), (2, 1, 1), (3, 2, 1)]


def test_resume_after_a_crash_with_only_the_journal_left(tmp_path):
    class Crash(Exception):
        pass

    def crash_on_third(query, passages):
        if query == "third":
            raise Crash  # the process dies here: two answers are in the journal
        return [1]

    with pytest.raises(Crash):
        run(tmp_path, crash_on_third)
    output = tmp_path / "labels.json"
    output.unlink()  # say the output was never written
    with journal_path(output).open("a") as f:
        f.write('{"type": "label", "qid": "q-torn", "que')  # and the journal ends in a torn line
    summary, script = run(tmp_path, [[2], [1]])
    assert [q for q, _ in script.shown] == ["third", "fourth"]  # already-answered queries are not shown again
    ds = load_dataset(output)
    assert list(ds.queries.values()) == ["first", "second", "third", "fourth"]
    assert ds.relevant_docs[query_id("first")] == ["d0"] and ds.relevant_docs[query_id("third")] == [script.shown[0][1][1].doc_id]
    assert (summary.labelled, summary.skipped, summary.remaining, summary.answered_now) == (4, 0, 0, 2)
    assert "resuming" in summary.messages[0]


def test_undo_withdraws_the_last_answer_and_shows_its_query_again(tmp_path):
    summary, script = run(tmp_path, [[1], "undo", [2, 3], "skip", "undo", "undo", [1], "quit"])
    assert [q for q, _ in script.shown] == ["first", "second", "first", "second", "third", "second", "first", "second"]
    answers, _ = replay(journal_path(tmp_path / "labels.json"))
    first = script.shown[0][1]
    assert list(answers) == [query_id("first")] and answers[query_id("first")]["relevant"] == [first[0].doc_id]
    rows = [json.loads(line) for line in journal_path(tmp_path / "labels.json").read_text().splitlines()]
    assert [r["type"] for r in rows] == ["session", "label", "undo", "label", "skip", "undo", "undo", "label"]
    assert (summary.labelled, summary.skipped, summary.remaining, summary.quit) == (1, 0, 3, True)


def test_undo_with_nothing_to_undo_asks_the_same_query_again(tmp_path):
    summary, script = run(tmp_path, ["undo", "quit"])
    assert [q for q, _ in script.shown] == ["first", "first"]
    assert any("nothing to undo" in m for m in summary.messages)


def test_undo_reaches_back_into_the_last_session(tmp_path):
    run(tmp_path, [[1], [1], "quit"])
    _, script = run(tmp_path, ["undo", [2], "quit"])
    assert [q for q, _ in script.shown] == ["third", "second", "third"]


def test_skipped_queries_are_left_out_and_not_shown_again_unless_asked(tmp_path):
    summary, _ = run(tmp_path, ["skip", [1], [], "quit"])  # [] means skip too
    assert (summary.labelled, summary.skipped, summary.remaining) == (1, 2, 1)
    ds = load_dataset(tmp_path / "labels.json")
    assert list(ds.queries.values()) == ["second"]
    meta = ds.meta["labelling"]
    assert sorted(meta["skipped_queries"].values()) == ["first", "third"] and meta["skipped"] == 2
    _, again = run(tmp_path, [[1], "quit"])
    assert [q for q, _ in again.shown] == ["fourth"]
    _, retry = run(tmp_path, [[1], "quit"], retry_skipped=True)
    assert [q for q, _ in retry.shown] == ["first", "third"]
    assert list(load_dataset(tmp_path / "labels.json").queries.values()) == ["second", "fourth", "first"]


def test_a_finished_file_shows_nothing_and_says_so(tmp_path):
    run(tmp_path, [[1], [1], [1], [1]])
    summary, script = run(tmp_path, [])
    assert script.shown == [] and summary.remaining == 0 and "answered already" in summary.messages[-1]


def test_the_output_is_a_valid_dataset_over_the_whole_corpus(tmp_path):
    gold = {"first": {"d2"}, "second": {"d5", "d4"}, "third": set(), "fourth": {"d0"}}

    def bench(query, passages):  # a bench answers with gold labels
        hits = [p.number for p in passages if p.doc_id in gold[query]]
        return hits or "skip"

    summary, _ = run(tmp_path, bench, labeller="tester")
    ds = load_dataset(tmp_path / "labels.json")
    assert [p for p in validate(ds) if p.severity == "error"] == []
    assert ds.corpus == DOCS and summary.dataset.corpus == DOCS
    assert {ds.queries[q]: sorted(d) for q, d in ds.relevant_docs.items()} == {"first": ["d2"], "second": ["d4", "d5"], "fourth": ["d0"]}
    meta = ds.meta["labelling"]
    assert meta["pooled_by"]["models"] == ["A", "B"] and meta["pooled_by"]["k"] == 3
    assert meta["skipped"] == 1 and meta["labelled"] == 3 and meta["remaining"] == 0
    assert meta["journal"] == "labels.journal.jsonl" and meta["sessions"][0]["labeller"] == "tester"
    assert meta["judged"][query_id("first")] == ["d0", "d2", "d1", "d3", "d4"]


def test_documents_are_chunked_as_data_chunk_does_and_ids_are_stable(tmp_path):
    from ragtune.data.documents import chunk_documents, chunking_tokenizer, load_documents

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "roof.md").write_text("Roofs need a permit when the shape changes. Repairs do not.\n", encoding="utf-8")
    (docs / "fence.txt").write_text("A fence lower than 1.1 m needs no permit.\n", encoding="utf-8")
    output = docs / "labels.json"  # inside the documents folder: it and its journal are not read as documents
    kw = {"model": "minilm", "teacher": None, "output": output, "k": 2}
    (docs / "queries.txt").write_text("roof permit?\n", encoding="utf-8")  # neither it nor the output is a document
    label_queries(docs / "queries.txt", [docs], answer_fn=Script([[1]]), **kw)
    label_queries(["roof permit?", "fence height?"], [docs], answer_fn=Script([[1]]), **kw)
    expected = {c.id for c in chunk_documents(load_documents([docs])[0], chunking_tokenizer("minilm"))}
    ds = load_dataset(output)
    assert set(ds.corpus) == expected and len(ds.queries) == 2
    assert ds.relevant_docs[query_id("roof permit?")][0].startswith(f"{docs.as_posix()}/roof.md::")
    assert ds.meta["chunking"]["chunk_size"] == 256


# ---------------------------------------------------------------------------------------------
# errors: one clear line each


def test_errors(tmp_path):
    (tmp_path / "folder.json").mkdir()
    with pytest.raises(InputError, match="is a folder"):
        label_queries(QUERIES, DOCS, table_embedder("A"), None, tmp_path / "folder.json", Script([]))
    with pytest.raises(InputError, match="ending in .json"):
        label_queries(QUERIES, DOCS, table_embedder("A"), None, tmp_path / "labels.jsonl", Script([]))
    (tmp_path / "mine.json").write_text("{}")
    with pytest.raises(InputError, match="not from `ragtune label`"):
        label_queries(QUERIES, DOCS, table_embedder("A"), None, tmp_path / "mine.json", Script([]))
    with pytest.raises(InputError, match="no queries"):
        label_queries(["", "# only a comment"], DOCS, table_embedder("A"), None, tmp_path / "x.json", Script([]))
    with pytest.raises(InputError, match="no passages"):
        label_queries(QUERIES, {"d": "  "}, table_embedder("A"), None, tmp_path / "x.json", Script([]))
    with pytest.raises(InputError, match="not found"):
        label_queries(tmp_path / "missing.txt", DOCS, table_embedder("A"), None, tmp_path / "x.json", Script([]))
    (tmp_path / "empty.txt").write_text("\n# nothing\n")
    with pytest.raises(InputError, match="no queries in the file"):
        label_queries(tmp_path / "empty.txt", DOCS, table_embedder("A"), None, tmp_path / "x.json", Script([]))
    with pytest.raises(InputError, match="passage number"):
        label_queries(QUERIES, DOCS, table_embedder("A"), None, tmp_path / "x.json", Script([[9]]))
    with pytest.raises(InputError, match="list\\[int\\]"):
        label_queries(QUERIES, DOCS, table_embedder("A"), None, tmp_path / "y.json", Script(["yes"]))
    assert not (tmp_path / "x.journal.jsonl").read_text().count('"label"')


def test_a_changed_corpus_that_lost_labelled_passages_is_refused(tmp_path):
    run(tmp_path, [[1], "quit"])
    with pytest.raises(InputError, match="corpus changed"):
        label_queries(QUERIES, {d: t for d, t in DOCS.items() if d != "d0"}, table_embedder("A"), None,
                      tmp_path / "labels.json", Script([]))


def test_two_sessions_on_one_journal_are_refused(tmp_path):
    inner = []

    def second_session(query, passages):
        with pytest.raises(InputError, match="another `ragtune label` session"):
            run(tmp_path, ["quit"])
        inner.append(True)

    run(tmp_path, Script(["quit"], on_call=second_session))
    assert inner == [True]


# ---------------------------------------------------------------------------------------------
# the command


@pytest.fixture
def small(tmp_path):
    corpus = RetrievalDataset(queries={}, corpus={
        "roof": "Replacing the roof covering of a house needs a building permit only if the roof shape changes.",
        "fence": "A garden fence lower than 1.1 metres can be built without any permit.",
        "heat": "A heat pump cuts the heating bill of a detached house by about half.",
        "window": "Triple-glazed windows keep the heat inside in winter.",
        "tax": "The ROT deduction covers 30 percent of the labour cost of a renovation.",
    }, relevant_docs={}, name="small")
    from ragtune.data.retrieval import write_llamaindex

    write_llamaindex(corpus, tmp_path / "corpus.json")
    (tmp_path / "queries.txt").write_text("do I need a permit for a new roof\n\nhow high can my fence be\n"
                                          "# comment\nhow to lower my heating costs\n", encoding="utf-8")
    return tmp_path


def cli(args, **kw):
    from ragtune.cli.main import app

    return CliRunner().invoke(app, ["label", *map(str, args)], env={"COLUMNS": "160"}, **kw)


def test_cli_with_an_answers_file_then_stdin_resumes(small):
    from ragtune.assets import resolve_model

    answers = small / "answers.txt"
    answers.write_text("1\nnonsense\ns\n", encoding="utf-8")
    out = small / "labels.json"
    base = ["queries.txt", "--corpus", small / "corpus.json", "-o", out, "--top-k", "2", "--model", "minilm",
            "--teacher", resolve_model("minilm")]
    r = cli([small / base[0], *base[1:], "--replies", answers])
    assert r.exit_code == 0, r.output
    assert "do I need a permit for a new roof" in r.output and "[1]" in r.output and "found by minilm #1" in r.output
    assert "not a passage number" in r.output and "Traceback" not in r.output
    assert "labelled 1, skipped 1, remaining 1 of 3 queries" in r.output
    r = cli([small / base[0], *base[1:]], input="2\n")  # a piped stdin is read like an answers file
    assert r.exit_code == 0, r.output
    assert "resuming" in r.output and "how to lower my heating costs" in r.output and "how high can my fence" not in r.output
    assert "labelled 2, skipped 1, remaining 0 of 3 queries" in r.output
    ds = load_dataset(out)
    assert len(ds.corpus) == 5 and sorted(ds.queries.values()) == ["do I need a permit for a new roof", "how to lower my heating costs"]
    assert ds.relevant_docs[query_id("do I need a permit for a new roof")] == ["roof"]
    assert ds.meta["labelling"]["pooled_by"]["models"] == ["minilm", str(resolve_model("minilm"))]


@pytest.mark.parametrize(("args", "message"), [
    (["missing.txt", "--corpus", "corpus.json", "-o", "l.json"], "not found"),
    (["empty.txt", "--corpus", "corpus.json", "-o", "l.json"], "no queries"),
    (["queries.txt", "--corpus", "nowhere/", "-o", "l.json"], "corpus 'nowhere/' not found"),
    (["queries.txt", "--corpus", "blank.json", "-o", "l.json"], "no passages"),
    (["queries.txt", "--corpus", "corpus.json", "-o", "."], "is a folder"),
    (["queries.txt", "--corpus", "corpus.json", "-o", "l.json", "--replies", "none.txt"], "--replies"),
    (["queries.txt", "--corpus", "corpus.json", "-o", "l.json", "--model", "./no-model"], "does not exist"),
    (["queries.txt", "--corpus", "corpus.json", "-o", "l.json", "--top-k", "0"], "greater than or equal to 1"),
    (["queries.txt", "--corpus", "queries.txt", "-o", "l.json"], "that is the queries file"),
])
def test_cli_errors_are_one_line(small, monkeypatch, args, message):
    monkeypatch.chdir(small)
    (small / "empty.txt").write_text("# nothing yet\n")
    (small / "blank.json").write_text(json.dumps({"queries": {}, "corpus": {}, "relevant_docs": {}}))
    r = cli(args, input="")
    assert r.exit_code == 2, r.output
    assert "error:" in r.output and message in r.output and "Traceback" not in r.output
