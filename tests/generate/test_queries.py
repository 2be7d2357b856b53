from __future__ import annotations

import json
from pathlib import Path

import pytest

from ragtune.data.retrieval import check, load_dataset
from ragtune.errors import LLMError, NoUsableDataError
from ragtune.generate import generate_queries
from ragtune.generate.journal import Journal
from ragtune.generate.queries import summary_lines
from ragtune.llm import FakeLLM

from .conftest import TOPICS, topic_reply


def test_end_to_end_with_fake_llm(docs_folder, tmp_path, keyword_embedder):
    out = tmp_path / "out"
    llm = FakeLLM(default=topic_reply)
    res = generate_queries(docs_folder, out, llm=llm, embedder=keyword_embedder, questions_per_chunk=2, val_style="same",
                           val_fraction=0.4, price_per_1k=0.5)
    assert len(llm.calls) == 5
    s = res.summary
    assert s["chunks"] == 5 and s["calls"]["made"] == 5 and s["questions_kept"] + s["dropped"]["round_trip"] == 10
    assert s["dropped"]["preamble"] == 5 and s["dropped"]["not_a_question"] == 5
    assert s["cost"] > 0 and s["tokens"]["out"] > 0
    full = load_dataset(out / "all.json")
    assert len(full.corpus) == 5 and check(full)
    train, val = load_dataset(out / "train.json"), load_dataset(out / "val.json")
    assert not {full.source_of(d) for d in train.corpus} & {full.source_of(d) for d in val.corpus}
    assert len(train.queries) + len(val.queries) == s["questions_kept"]
    assert len(val.corpus) == 2
    assert json.loads((out / "summary.json").read_text())["questions_kept"] == s["questions_kept"]
    reasons = {json.loads(line)["reason"] for line in (out / "dropped.jsonl").read_text().splitlines()}
    assert {"preamble", "not_a_question"} <= reasons


def test_rerun_resumes_without_calls_and_changed_prompt_regenerates(docs_folder, tmp_path, keyword_embedder):
    out = tmp_path / "out"
    generate_queries(docs_folder, out, llm=FakeLLM(default=topic_reply), embedder=keyword_embedder)
    again = FakeLLM()  # no replies: any call would fail
    res = generate_queries(docs_folder, out, llm=again, embedder=keyword_embedder)
    assert again.calls == [] and res.summary["calls"]["resumed_from_journal"] == 5
    more = FakeLLM(default=topic_reply)
    generate_queries(docs_folder, out, llm=more, embedder=keyword_embedder, questions_per_chunk=3)
    # the training prompt changed (4 training chunks asked again); the held-out chunk's validation prompt did not
    assert len(more.calls) == 4, "a different prompt must not reuse replies made for another prompt"
    assert all("Write 3 different questions" in c[-1]["content"] for c in more.calls)


def test_failed_chunk_is_given_up_then_retried_on_rerun(docs_folder, tmp_path, keyword_embedder):
    out = tmp_path / "out"

    def flaky(messages):
        if TOPICS["roofs"] in messages[-1]["content"]:
            raise LLMError("server gave up")
        return topic_reply(messages)

    class Flaky(FakeLLM):
        async def complete(self, messages, **kw):
            self.calls.append(messages)
            return await FakeLLM(default=flaky).complete(messages, **kw)

    res = generate_queries(docs_folder, out, llm=Flaky(), embedder=keyword_embedder)
    assert res.summary["calls"]["given_up"] == 1 and "server gave up" in res.summary["errors"][0]
    assert len(Journal(out / "journal.jsonl").done) == 4
    fixed = FakeLLM(default=topic_reply)
    res = generate_queries(docs_folder, out, llm=fixed, embedder=keyword_embedder)
    assert len(fixed.calls) == 1 and res.summary["calls"]["given_up"] == 0


def test_torn_journal_tail_is_tolerated(docs_folder, tmp_path, keyword_embedder):
    out = tmp_path / "out"
    generate_queries(docs_folder, out, llm=FakeLLM(default=topic_reply), embedder=keyword_embedder)
    path = out / "journal.jsonl"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 25])  # tear the last record
    redo = FakeLLM(default=topic_reply)
    generate_queries(docs_folder, out, llm=redo, embedder=keyword_embedder)
    assert len(redo.calls) == 1
    assert len(Journal(path).done) == 5


def test_round_trip_filter_drops_off_topic(docs_folder, tmp_path, keyword_embedder):
    def reply(messages):
        if TOPICS["kitchens"] in messages[-1]["content"]:
            return "What are heat pumps extracting warmth from air, ground or water in district heating towns?"
        return topic_reply(messages)

    res = generate_queries(docs_folder, tmp_path / "o", llm=FakeLLM(default=reply), embedder=keyword_embedder,
                           filter_top_k=1)
    assert res.summary["dropped"]["round_trip"] >= 1
    assert not any("heat pumps extracting" in q for q in res.dataset.queries.values())
    off = generate_queries(docs_folder, tmp_path / "o2", llm=FakeLLM(default=reply), filter=False)
    assert any("heat pumps extracting" in q for q in off.dataset.queries.values())


def test_nothing_kept_is_a_clear_error(docs_folder, tmp_path):
    with pytest.raises(NoUsableDataError, match="no question survived"):
        generate_queries(docs_folder, tmp_path / "o", llm=FakeLLM(default="I cannot help with that."), filter=False)
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert summary["questions_kept"] == 0 and sum(summary["dropped"].values()) == 5


def test_examples_and_prompt_file_reach_the_prompt(docs_folder, tmp_path):
    (tmp_path / "ex.txt").write_text("# style\ncan i put solar panels on a listed house?\n")
    (tmp_path / "p.txt").write_text("PASSAGE={passage}\nN={n}\n{examples}END")
    llm = FakeLLM(default=topic_reply)
    generate_queries(docs_folder, tmp_path / "o", llm=llm, filter=False, examples_file=str(tmp_path / "ex.txt"),
                     prompt_file=str(tmp_path / "p.txt"), questions_per_chunk=4)
    prompt = llm.calls[0][-1]["content"]
    assert prompt.startswith("PASSAGE=") and "N=4" in prompt and "- can i put solar panels" in prompt
    assert "# style" not in prompt


def test_llamaindex_documents_and_nodes(tmp_path, keyword_embedder):
    schema = pytest.importorskip("llama_index.core.schema", reason="llama-index-core is the optional [llamaindex] extra")
    docs = [schema.Document(text=text, doc_id=name, metadata={"file_path": f"{name}.txt"}) for name, text in TOPICS.items()]
    res = generate_queries(docs, tmp_path / "a", llm=FakeLLM(default=topic_reply), embedder=keyword_embedder)
    assert set(res.dataset.doc_source.values()) == set(TOPICS)
    nodes = [schema.TextNode(text=text, id_=f"node-{name}") for name, text in TOPICS.items()]
    res = generate_queries(nodes, tmp_path / "b", llm=FakeLLM(default=topic_reply), embedder=keyword_embedder)
    assert set(res.dataset.corpus) == {f"node-{n}" for n in TOPICS}
    assert res.dataset.corpus["node-roofs"] == TOPICS["roofs"]


def test_unknown_or_bad_option_is_an_input_error(docs_folder, tmp_path):
    from ragtune.errors import InputError

    with pytest.raises(InputError, match="no_filter"):
        generate_queries(docs_folder, tmp_path / "o", llm=FakeLLM(), no_filter=True)
    with pytest.raises(InputError, match="questions_per_chunk"):
        generate_queries(docs_folder, tmp_path / "o", llm=FakeLLM(), questions_per_chunk=0)


def test_self_check_keeps_only_answerable_questions_and_resumes(docs_folder, tmp_path, keyword_embedder):
    def reply(messages):
        prompt = messages[-1]["content"]
        if prompt.startswith("Passage:"):  # the self-check prompt
            return "No." if "cost" in prompt.split("Question:")[1] else "Yes, it does."
        return topic_reply(messages)

    llm = FakeLLM(default=reply)
    res = generate_queries(docs_folder, tmp_path / "o", llm=llm, filter=False, self_check=True, questions_per_chunk=2,
                           val_style="same")
    assert len(llm.calls) == 5 + 10
    assert res.summary["dropped"]["self_check"] == 5
    assert all("cost" not in q for q in res.dataset.queries.values()) and len(res.dataset.queries) == 5
    again = FakeLLM()
    res = generate_queries(docs_folder, tmp_path / "o", llm=again, filter=False, self_check=True, questions_per_chunk=2,
                           val_style="same")
    assert again.calls == [] and len(res.dataset.queries) == 5


def test_a_judge_that_rejects_everything_is_called_out(docs_folder, tmp_path):
    def reply(messages):
        return "No." if messages[-1]["content"].startswith("Passage:") else topic_reply(messages)

    with pytest.raises(NoUsableDataError, match="no question survived.*self-check rejected 10 of 10 questions"):
        generate_queries(docs_folder, tmp_path / "o", llm=FakeLLM(default=reply), filter=False, self_check=True, val_style="same",
                         questions_per_chunk=2)
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert summary["dropped"]["self_check"] == 10 and summary["questions_kept"] == 0
    assert any("self-check rejected 10 of 10" in w for w in summary["warnings"])
    assert any(line.startswith("warning: the self-check rejected") for line in summary_lines({**summary, "train_queries": 0,
                                                                                              "val_queries": 0}))


def test_validation_questions_are_written_apart_in_a_users_words(docs_folder, tmp_path, keyword_embedder):
    """Held-out sources get questions from the validation prompt and writer, limited by overlap, never round-trip filtered."""
    from ragtune.generate.prompts import validation_template

    train_llm = FakeLLM(default=topic_reply, model="trainer")
    marker = validation_template().split("\n")[0][:40]

    def val_reply(messages):
        prompt = messages[-1]["content"]
        assert marker in prompt  # the validation prompt, not the training one
        topic = next(t for t, text in TOPICS.items() if text in prompt)
        first = TOPICS[topic].split()[0].lower().strip(".")
        # one question in everyday words, one that reuses the passage's own distinctive words
        return f"Is it worth paying someone to help with my house?\nHow do {first} {TOPICS[topic].split()[1]} work?"

    val_llm = FakeLLM(default=val_reply, model="validator")
    res = generate_queries(docs_folder, tmp_path / "o", llm=train_llm, val_llm=val_llm, embedder=keyword_embedder,
                           questions_per_chunk=2, val_fraction=0.4)
    split = json.loads((tmp_path / "o" / "split.json").read_text())
    val_sources = set(split["val_sources"])
    assert len(val_sources) == 2
    assert all(marker not in c[-1]["content"] for c in train_llm.calls)  # the trainer never wrote validation questions
    asked = {next(t for t, text in TOPICS.items() if text in c[-1]["content"]) for c in val_llm.calls}
    assert {Path(src).stem for src in val_sources} == asked  # the validator wrote for the held-out sources only
    v = res.summary["validation"]
    assert v["style"] == "user" and v["llm"] == "validator" and v["dropped"].get("overlap", 0) >= 1
    assert "round_trip" not in v["dropped"]  # the base model never chooses the validation questions
    assert set(res.val.queries.values()) == {"Is it worth paying someone to help with my house?"}
    rows = [json.loads(x) for x in (tmp_path / "o" / "dropped.jsonl").read_text().splitlines()]
    assert any(r["reason"] == "overlap" and r["side"] == "val" and r["overlap"] > 0.5 for r in rows)
    # the same split and training questions as writing everything one way: only the validation side differs
    same = generate_queries(docs_folder, tmp_path / "s", llm=FakeLLM(default=topic_reply, model="trainer"),
                            embedder=keyword_embedder, questions_per_chunk=2, val_fraction=0.4, val_style="same")
    assert json.loads((tmp_path / "s" / "split.json").read_text()) == split
    assert same.train.queries == res.train.queries


def test_overlap_weighs_distinctive_words():
    from ragtune.generate.queries import overlap_filter

    corpus = ["the roof needs a permit", "the window needs a permit", "the bygglov for a roof"]
    kept, rows = overlap_filter([("c", "What is a bygglov permit?"), ("c", "Do I need approval to build?")],
                                {"c": corpus[2]}, corpus, 0.5)
    assert kept == [("c", "Do I need approval to build?")] and rows[0]["reason"] == "overlap"
