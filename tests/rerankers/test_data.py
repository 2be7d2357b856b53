"""Pair building: mined negatives respect the false-negative guard; labels and columns per loss."""

from __future__ import annotations

import pytest

from ragtune.data.retrieval import RetrievalDataset
from ragtune.errors import InputError
from ragtune.generate.negatives import mine_hard_negatives
from ragtune.llm.fake import FakeLLM
from ragtune.rerankers import data as rdata


@pytest.fixture
def guard_case() -> RetrievalDataset:
    # q: "roof height fee". positive p matches roof+height (cos 0.816); near-duplicate "dup" matches all three words
    # (cos 1.0 > 0.95 x 0.816) -> a likely false negative; "weak" matches roof only (cos 0.577) -> a fair hard negative.
    return RetrievalDataset(
        queries={"q": "roof height fee"},
        corpus={"p": "roof height", "dup": "roof height fee table", "weak": "roof tiles", "far1": "garden", "far2": "stairs"},
        relevant_docs={"q": ["p"]},
    )


def test_mining_drops_candidates_above_the_margin(guard_case, keyword_embedder):
    emb = keyword_embedder(["roof", "height", "fee"])
    mined, _ = mine_hard_negatives(guard_case, emb, num_negatives=3, margin=0.95)
    groups = rdata.build_groups(mined, random_negatives=0)
    assert "dup" not in groups[0].doc_ids and "weak" in groups[0].doc_ids
    loose, _ = mine_hard_negatives(guard_case, emb, num_negatives=3, margin=2.0)
    assert "dup" in rdata.build_groups(loose, random_negatives=0)[0].doc_ids


def test_groups_label_positives_and_never_sample_a_positive_as_random(topic_dataset, topic_embedder):
    mined, _ = mine_hard_negatives(topic_dataset, topic_embedder, num_negatives=2)
    groups = rdata.build_groups(mined, random_negatives=5, seed=1)
    for g in groups:
        pos = set(topic_dataset.relevant_docs[g.qid])
        assert [d for d, lab in zip(g.doc_ids, g.gold) if lab == 1.0] == sorted(pos)
        assert len(g.doc_ids) == len(set(g.doc_ids)) == 1 + 2 + 5
        assert not (pos & {d for d, lab in zip(g.doc_ids, g.gold) if lab == 0.0})


def test_columns_and_labels_per_loss(topic_dataset, topic_embedder):
    mined, _ = mine_hard_negatives(topic_dataset, topic_embedder, num_negatives=2)
    groups = rdata.build_groups(mined, random_negatives=1)
    bce = rdata.to_training_dataset(groups, topic_dataset.corpus, "bce")
    assert bce.column_names == ["query", "passage", "label"] and len(bce) == 4 * len(groups)
    rdata.add_teacher_scores(groups, topic_dataset.corpus, topic_embedder)
    lst = rdata.to_training_dataset(groups, topic_dataset.corpus, "listnet", teacher_temperature=0.5)
    assert lst.column_names == ["query", "docs", "labels"]
    assert lst[0]["labels"] == pytest.approx([s / 0.5 for s in groups[0].teacher])
    mse = rdata.to_training_dataset(groups, topic_dataset.corpus, "mse")
    assert mse[0]["label"] == pytest.approx(groups[0].teacher[0])


def test_teacher_only_with_losses_that_use_it():
    with pytest.raises(InputError, match="listnet"):
        rdata.check_loss_and_teacher("bce", "mpnet")
    with pytest.raises(InputError, match="--teacher"):
        rdata.check_loss_and_teacher("mse", None)
    rdata.check_loss_and_teacher("listnet", "mpnet")


def test_llm_labels_turn_a_judged_negative_positive_and_are_journalled(guard_case, tmp_path):
    groups = [rdata.Group("q", "roof height fee", ["p", "dup", "weak"], [1.0, 0.0, 0.0])]
    llm = FakeLLM(default=lambda m: "Yes." if "fee table" in m[-1]["content"] else "no")
    stats = rdata.label_with_llm(groups, guard_case.corpus, llm, tmp_path / "j.jsonl")
    assert groups[0].gold == [1.0, 1.0, 0.0] and stats["turned_positive"] == 1 and len(llm.calls) == 2
    again = [rdata.Group("q", "roof height fee", ["p", "dup", "weak"], [1.0, 0.0, 0.0])]
    silent = FakeLLM()  # would raise if asked anything
    rdata.label_with_llm(again, guard_case.corpus, silent, tmp_path / "j.jsonl")
    assert again[0].gold == [1.0, 1.0, 0.0] and silent.calls == []


def test_pseudo_groups_are_cut_from_training_documents_with_the_retrievers_candidates(topic_dataset, topic_embedder):
    from ragtune.evaluation.rerank import retrieve

    groups = rdata.pseudo_groups(topic_dataset, topic_embedder, count=20, candidates=3, random_negatives=2, seed=7)
    assert len(groups) == 20 and len({g.query for g in groups}) == 20
    assert not {g.query for g in groups} & set(topic_dataset.queries.values())
    probe = RetrievalDataset(queries={g.qid: g.query for g in groups}, corpus=topic_dataset.corpus, relevant_docs={})
    for g, top in zip(groups, retrieve(probe, topic_embedder, 3)):
        assert g.doc_ids[:3] == top and len(g.doc_ids) == len(set(g.doc_ids)) == 5
        source = [d for d, lab in zip(g.doc_ids, g.gold) if lab == 1.0]
        assert len(source) <= 1
        if source:  # the text was cut from the passage labelled 1
            def plain(text):
                return " ".join(text.replace(":", "").replace(".", "").split())

            assert plain(g.query) in plain(topic_dataset.corpus[source[0]])
    # seeded: the same call gives the same groups; the count is capped by what the documents hold
    assert [g.to_json() for g in groups] == [g.to_json() for g in rdata.pseudo_groups(topic_dataset, topic_embedder, 20, 3, 2, seed=7)]
    assert len(rdata.pseudo_groups(topic_dataset, topic_embedder, 10_000, 3, 0)) < 10_000


def test_pseudo_queries_need_a_teacher():
    with pytest.raises(InputError, match="--teacher"):
        rdata.check_loss_and_teacher("listnet", None, pseudo_queries=5)
    rdata.check_loss_and_teacher("listnet", "mpnet", pseudo_queries=5)


def test_pseudo_groups_exclude_held_out_queries_label_their_source_and_follow_the_seed(topic_dataset, topic_embedder):
    ds = topic_dataset.model_copy(deep=True)
    # a sentence that is a real query (case and spacing aside), one that an evaluation query repeats, and one in
    # fence-1 full of other topics' words, so the retriever ranks other passages above its source
    ds.corpus["roof-0"] += " what about the  ROOF height?"
    ds.corpus["stairs-0"] += " Stairs need a handrail on both sides."
    ds.corpus["fence-1"] += " A garage roof costs more to insure."
    ds.corpus["garage-2"], ds.doc_source["garage-2"] = "The garage roof.", "garage-2"  # the retriever's best match for it
    pool = rdata.pseudo_groups(ds, topic_embedder, 10_000, candidates=3, random_negatives=0, seed=7,
                               exclude={"stairs need a handrail on both sides."})
    texts = {g.query for g in pool}
    assert "what about the  ROOF height?" not in texts and "Stairs need a handrail on both sides." not in texts
    assert "A garage roof costs more to insure." in texts
    assert all(rdata.plain_text(t) not in {rdata.plain_text(q) for q in ds.queries.values()} for t in texts)
    odd = [g for g in pool if "garage roof" in g.query.lower()]
    assert odd and all(g.doc_ids[0] != "fence-1" for g in odd)  # the retriever's first pick is not the source...
    for g in odd:  # ...yet only the source, when among the candidates, is labelled 1
        assert [d for d, lab in zip(g.doc_ids, g.gold) if lab == 1.0] == (["fence-1"] if "fence-1" in g.doc_ids else [])
    other_seed = rdata.pseudo_groups(ds, topic_embedder, 10, candidates=3, random_negatives=0, seed=8)
    assert [g.query for g in other_seed] != [g.query for g in pool[:10]]
