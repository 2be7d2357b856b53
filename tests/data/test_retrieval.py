"""The retrieval dataset record: format round trips, validation with locations, split by source."""

from __future__ import annotations

import json

import pytest

from ragtune.data.retrieval import (
    RetrievalDataset,
    check,
    load_dataset,
    read_beir,
    save_dataset,
    save_split_record,
    split_by_source,
    validate,
    write_beir,
    write_jsonl,
    write_llamaindex,
)
from ragtune.errors import DataValidationError, InputError


def sample(**extra) -> RetrievalDataset:
    return RetrievalDataset(
        queries={"q1": "What is a bygglov?", "q2": "Who pays ROT?", "q3": "Är altanen bygglovspliktig?"},
        corpus={"d1": "A building permit.", "d2": "The owner, with a tax deduction.", "d3": "Ja, ofta: se PBL 9 kap.",
                "d4": "An unrelated distractor."},
        relevant_docs={"q1": ["d1"], "q2": ["d2"], "q3": ["d3", "d1"]},
        **extra,
    )


# ---------------------------------------------------------------------------------------------
# LlamaIndex JSON


def test_llamaindex_file_round_trips_exactly(tmp_path):
    """A file as `EmbeddingQAFinetuneDataset.save_json` writes it (json.dump, indent=4) comes back unchanged."""
    data = {"queries": {"q1": "What is a bygglov?", "q2": "Who pays?"},
            "corpus": {"n-1": "A permit.", "n-2": "The owner."},
            "relevant_docs": {"q1": ["n-1"], "q2": ["n-2", "n-1"]}, "mode": "text"}
    src = tmp_path / "llama.json"
    src.write_text(json.dumps(data, indent=4), encoding="utf-8")

    ds = load_dataset(src)
    out = write_llamaindex(ds, tmp_path / "again.json")

    assert ds.name == "llama" and ds.relevant_docs["q2"] == ["n-2", "n-1"]
    assert out.read_text(encoding="utf-8") == src.read_text(encoding="utf-8") + "\n"
    assert list(json.loads(out.read_text(encoding="utf-8"))) == ["queries", "corpus", "relevant_docs", "mode"]


def test_llamaindex_keeps_non_ascii_and_ragtune_extras(tmp_path):
    ds = sample(hard_negatives={"q1": ["d4"]}, doc_source={"d1": "a.txt", "d3": "a.txt"}, meta={"seed": 3}, name="s")
    back = load_dataset(write_llamaindex(ds, tmp_path / "s.json"))
    assert back == ds
    assert "Är altanen" in (tmp_path / "s.json").read_text(encoding="utf-8")  # written as UTF-8, not \\u escapes


@pytest.mark.parametrize(("content", "message"), [
    ('{"queries": {}, "corpus": {}}', r"missing key\(s\) \['relevant_docs'\]"),
    ('{"queries": {"q": 1}, "corpus": {}, "relevant_docs": {}}', "wrong value types"),
    ('[1, 2]', "expected a JSON object"),
    ('{"queries": ', "not valid JSON"),
])
def test_bad_llamaindex_files_are_input_errors_naming_the_file(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InputError, match=message) as err:
        load_dataset(path)
    assert str(path) in str(err.value)


# ---------------------------------------------------------------------------------------------
# BEIR


def test_beir_round_trip(tmp_path):
    ds = sample(name="beirtest")
    folder = write_beir(ds, tmp_path / "beirtest")
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()) == [
        "corpus.jsonl", "qrels/test.tsv", "queries.jsonl"]
    back = load_dataset(folder)
    assert (back.queries, back.corpus, back.relevant_docs, back.name) == (ds.queries, ds.corpus, ds.relevant_docs, "beirtest")


def write_beir_files(folder, corpus_rows, query_rows, qrels: dict[str, str]):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "corpus.jsonl").write_text("".join(json.dumps(r) + "\n" for r in corpus_rows), encoding="utf-8")
    (folder / "queries.jsonl").write_text("".join(json.dumps(r) + "\n" for r in query_rows), encoding="utf-8")
    (folder / "qrels").mkdir(exist_ok=True)
    for split, text in qrels.items():
        (folder / "qrels" / f"{split}.tsv").write_text(text, encoding="utf-8")
    return folder


def test_beir_reader_titles_scores_splits_and_unjudged_queries(tmp_path):
    folder = write_beir_files(
        tmp_path / "b",
        [{"_id": "d1", "title": "Permit", "text": "body one"}, {"_id": "d2", "text": "body two"}],
        [{"_id": "q1", "text": "first"}, {"_id": "q2", "text": "second"}, {"_id": "q3", "text": "unjudged"}],
        {"test": "query-id\tcorpus-id\tscore\nq1\td1\t1\nq1\td2\t0\nq2\td2\t2\n", "dev": "q2\td1\t1\n"},
    )
    ds = read_beir(folder)
    assert ds.corpus == {"d1": "Permit\nbody one", "d2": "body two"}
    assert ds.relevant_docs == {"q1": ["d1"], "q2": ["d2"]}  # score 0 is not relevant
    assert set(ds.queries) == {"q1", "q2"}  # queries without judgments in this split are left out
    assert read_beir(folder, "dev").relevant_docs == {"q2": ["d1"]}
    with pytest.raises(InputError, match="no qrels/train.tsv; available splits: dev, test"):
        read_beir(folder, "train")


def test_beir_errors_name_the_file_and_line(tmp_path):
    with pytest.raises(InputError, match="not a BEIR folder"):
        load_dataset(tmp_path)
    folder = write_beir_files(tmp_path / "b", [{"_id": "d1", "text": "x"}], [{"_id": "q1", "text": "y"}],
                              {"test": "q1\td1\t1\nq1\td1\n"})
    with pytest.raises(InputError, match=r"test\.tsv:2: expected 3 tab-separated columns"):
        load_dataset(folder)
    (folder / "qrels" / "test.tsv").write_text("q1\td1\tyes\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"test\.tsv:1: .*score.*'yes'"):
        load_dataset(folder)
    (folder / "qrels" / "test.tsv").write_text("q1\td1\t1\n", encoding="utf-8")
    (folder / "corpus.jsonl").write_text('{"_id": "d1", "text": "x"}\n{oops\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"corpus\.jsonl:2: not valid JSON"):
        load_dataset(folder)
    (folder / "corpus.jsonl").write_bytes(b'{"_id": "d1", "text": "caf\xe9"}\n')
    with pytest.raises(InputError, match=r"corpus\.jsonl:1: not UTF-8"):
        load_dataset(folder)


# ---------------------------------------------------------------------------------------------
# ragtune JSONL and save_dataset


def test_jsonl_round_trip_keeps_everything(tmp_path):
    ds = sample(hard_negatives={"q1": ["d4"]}, doc_source={"d1": "a.txt"}, meta={"split": {"seed": 1}},
                name="full", mode="text")
    back = load_dataset(write_jsonl(ds, tmp_path / "x.jsonl"))
    assert back == ds


@pytest.mark.parametrize(("line", "message"), [
    ('{"type": "chunk", "id": "a"}', r"x\.jsonl:2: unknown row type 'chunk'"),
    ('{"type": "corpus", "text": "no id"}', r"x\.jsonl:2: .*'id'"),
    ('{"type": "query", "text": "no id", "relevant": []}', r"x\.jsonl:2: .*'id'"),
    ('not json', r"x\.jsonl:2: not valid JSON"),
])
def test_bad_jsonl_rows_are_input_errors_with_line(tmp_path, line, message):
    path = tmp_path / "x.jsonl"
    path.write_text('{"type": "corpus", "id": "d1", "text": "ok"}\n' + line + "\n", encoding="utf-8")
    with pytest.raises(InputError, match=message):
        load_dataset(path)


def test_save_dataset_picks_the_format_from_the_name_or_argument(tmp_path):
    ds = sample()
    assert load_dataset(save_dataset(ds, tmp_path / "a.json")).relevant_docs == ds.relevant_docs
    assert load_dataset(save_dataset(ds, tmp_path / "a.jsonl")).relevant_docs == ds.relevant_docs
    assert (save_dataset(ds, tmp_path / "a_folder") / "qrels" / "test.tsv").exists()
    assert (save_dataset(ds, tmp_path / "b.json", "beir") / "corpus.jsonl").exists()
    with pytest.raises(InputError, match="unknown dataset format 'csv'"):
        save_dataset(ds, tmp_path / "c.csv", "csv")


def test_load_dataset_registry_name_and_missing_path():
    faq = load_dataset("construction-faq")
    assert (len(faq.queries), len(faq.corpus)) == (503, 503)
    assert validate(faq) == []
    with pytest.raises(InputError, match="dataset 'no-such-thing' not found"):
        load_dataset("no-such-thing")


# ---------------------------------------------------------------------------------------------
# validation


def test_clean_dataset_has_no_problems():
    ds = sample(hard_negatives={"q1": ["d4"]})
    assert validate(ds) == []
    assert check(ds) is ds


def test_every_problem_kind_is_reported_with_its_location():
    ds = RetrievalDataset(
        queries={"q1": "  ", "q2": "fine", "q3": "no judgments", "q4": "negs"},
        corpus={"d1": "", "d2": "text"},
        relevant_docs={"q1": ["d2"], "q2": ["d2", "ghost", "d2"], "q9": ["d2"], "q4": ["d2"]},
        hard_negatives={"q2": ["phantom"], "q8": ["d1"], "q4": ["d2"]},
    )
    got = {(p.location, p.message, p.severity) for p in validate(ds, where="w.json")}
    assert got == {
        ("w.json: queries['q1']", "empty query text", "error"),
        ("w.json: corpus['d1']", "empty document text", "error"),
        ("w.json: relevant_docs['q3']", "query has no relevant doc", "error"),
        ("w.json: relevant_docs['q9']", "judgment for a query id that is not in queries", "error"),
        ("w.json: relevant_docs['q2'][1]", "doc id 'ghost' is not in the corpus", "error"),
        ("w.json: relevant_docs['q2']", "the same doc id is listed twice", "warning"),
        ("w.json: hard_negatives['q2'][0]", "doc id 'phantom' is not in the corpus", "error"),
        ("w.json: hard_negatives['q8']", "negatives for a query id that is not in queries", "error"),
        ("w.json: hard_negatives['q4']", "doc(s) ['d2'] are also relevant", "error"),
    }
    with pytest.raises(DataValidationError) as err:
        check(ds, "w.json")
    assert len(err.value.problems) == 9 and "8 error(s)" in str(err.value)
    assert "w.json: relevant_docs['q2'][1]: doc id 'ghost' is not in the corpus" in str(err.value)


def test_warnings_alone_pass_check():
    ds = sample()
    ds.relevant_docs["q1"] = ["d1", "d1"]
    assert [p.severity for p in validate(ds)] == ["warning"]
    assert check(ds) is ds


# ---------------------------------------------------------------------------------------------
# split by source document


def sourced(n_sources: int = 10, chunks_per_source: int = 3) -> RetrievalDataset:
    ds = RetrievalDataset(queries={}, corpus={}, relevant_docs={}, name="src", meta={"origin": "test"})
    for s in range(n_sources):
        for c in range(chunks_per_source):
            did = f"s{s}-c{c}"
            ds.corpus[did] = f"text of source {s} chunk {c}"
            ds.doc_source[did] = f"file{s}.txt"
            ds.queries[f"q-{did}"] = f"question about {did}"
            ds.relevant_docs[f"q-{did}"] = [did]
            ds.hard_negatives[f"q-{did}"] = [f"s{(s + 1) % n_sources}-c{c}"]
    return ds


def test_split_never_puts_one_source_on_both_sides():
    ds = sourced()
    train, val = split_by_source(ds, val_fraction=0.3, seed=7)
    train_src = {train.source_of(d) for d in train.corpus}
    val_src = {val.source_of(d) for d in val.corpus}
    assert not train_src & val_src and train_src | val_src == {f"file{s}.txt" for s in range(10)}
    assert len(val_src) == 3
    assert len(train.queries) + len(val.queries) == 30
    for part in (train, val):
        assert all(d in part.corpus for docs in part.relevant_docs.values() for d in docs)
        assert all(d in part.corpus for docs in part.hard_negatives.values() for d in docs)
        assert validate(part) == []
    assert (train.name, val.name) == ("src-train", "src-val")


def test_split_is_seeded_and_recorded(tmp_path):
    ds = sourced()
    a_train, a_val = split_by_source(ds, 0.2, seed=1)
    b_train, b_val = split_by_source(ds, 0.2, seed=1)
    assert a_val == b_val and a_train == b_train
    vals = {tuple(split_by_source(ds, 0.2, seed=s)[1].meta["split"]["val_sources"]) for s in range(6)}
    assert len(vals) > 1  # the seed matters
    record = a_val.meta["split"]
    assert record == {"by": "source document", "seed": 1, "val_fraction": 0.2,
                      "val_sources": sorted({a_val.source_of(d) for d in a_val.corpus}),
                      "train_sources": sorted({a_train.source_of(d) for d in a_train.corpus})}
    assert a_train.meta["origin"] == "test" and a_train.meta["split"] == record
    save_split_record(a_train, a_val, tmp_path / "out")
    assert json.loads((tmp_path / "out" / "split.json").read_text(encoding="utf-8")) == record
    assert load_dataset(tmp_path / "out" / "val.json").corpus == a_val.corpus


def test_split_query_keeps_only_relevant_docs_on_its_side():
    ds = sourced(n_sources=4, chunks_per_source=1)
    ds.relevant_docs["q-s0-c0"] = ["s0-c0", "s1-c0", "s2-c0", "s3-c0"]  # spans every source
    train, val = split_by_source(ds, 0.5, seed=3)
    side = train if "q-s0-c0" in train.queries else val
    assert side.relevant_docs["q-s0-c0"] == [d for d in ds.relevant_docs["q-s0-c0"] if d in side.corpus]


def test_split_bad_arguments():
    with pytest.raises(InputError, match="between 0 and 1"):
        split_by_source(sourced(), val_fraction=1.0)
    with pytest.raises(InputError, match="has 1 source"):
        split_by_source(sourced(n_sources=1), val_fraction=0.2)
