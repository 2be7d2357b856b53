"""Realistic vs oracle rerank evaluation on a hand-made case, checked by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ragtune.data.retrieval import RetrievalDataset
from ragtune.evaluation.rerank import ORACLE_LABEL, evaluate_rerank, inject_positives, rerank


class KnowsTheAnswers:
    """A fake reranker that scores 1 for a relevant (query, passage) pair and 0 otherwise."""

    def __init__(self, ds: RetrievalDataset):
        self.good = {(ds.queries[q], ds.corpus[d]) for q, docs in ds.relevant_docs.items() for d in docs}
        self.calls = 0

    def predict(self, inputs, batch_size=32, show_progress_bar=None):
        self.calls += 1
        return np.array([1.0 if tuple(p) in self.good else 0.0 for p in inputs])


@pytest.fixture
def hand_case() -> RetrievalDataset:
    # keyword retrieval with K=3: q1's answer d3 is retrieved but ranked 3rd; q2's answer d5 is not retrieved at all.
    return RetrievalDataset(
        queries={"q1": "apple banana", "q2": "cherry"},
        corpus={"d1": "apple banana cherry pie", "d2": "apple banana bread", "d3": "apple tart",
                "d4": "cherry jam", "d5": "kirsch liqueur", "d6": "cherry cake", "d7": "cherry apple"},
        relevant_docs={"q1": ["d3"], "q2": ["d5"]},
        name="hand",
    )


def test_realistic_and_oracle_differ_as_they_should(hand_case, keyword_embedder):
    emb = keyword_embedder(["apple", "banana", "cherry"])
    report = evaluate_rerank(hand_case, emb, KnowsTheAnswers(hand_case), top_k=3, ks=[1, 3], bootstrap=50, latency_queries=2)
    by = report.metric_table()
    assert [r.model for r in report.results] == ["retriever", "reranked", ORACLE_LABEL]
    # retriever alone: q1's answer at rank 3 -> ndcg 1/log2(4) = 0.5; q2's answer missing -> 0
    assert by["retriever"]["ndcg@10"] == pytest.approx(0.25)
    assert by["retriever"]["mrr@10"] == pytest.approx(1 / 6)
    # realistic rerank: q1's answer moves to rank 1; q2's stays missed
    assert by["reranked"]["ndcg@10"] == pytest.approx(0.5)
    assert by["reranked"]["hit@3"] == by["retriever"]["hit@3"] == pytest.approx(0.5)
    # oracle: the missing positive is injected, so both queries are perfect
    assert by[ORACLE_LABEL]["ndcg@10"] == pytest.approx(1.0)
    assert by[ORACLE_LABEL]["hit@3"] == pytest.approx(1.0)
    vs = report.results[1].vs_first
    assert vs.delta == pytest.approx(0.25) and (vs.wins, vs.losses, vs.ties) == (1, 0, 1)
    assert report.task == "rerank" and report.num_queries == 2 and report.results[1].ci95
    assert report.latency["queries_timed"] == 2 and report.latency["k"] == 3


def test_inject_positives_replaces_the_lowest_non_positive(hand_case):
    got = inject_positives(hand_case, [["d1", "d2", "d3"], ["d4", "d6", "d7"]])
    assert got == [["d1", "d2", "d3"], ["d4", "d6", "d5"]]


def test_rerank_scores_each_pair_once_and_keeps_retriever_order_on_ties(hand_case):
    scorer = KnowsTheAnswers(hand_case)
    cache: dict = {}
    first = rerank(hand_case, [["d1", "d2", "d3"], ["d4", "d6", "d7"]], scorer, cache=cache)
    assert first == [["d3", "d1", "d2"], ["d4", "d6", "d7"]]
    rerank(hand_case, [["d1", "d2", "d3"], ["d4", "d6", "d7"]], scorer, cache=cache)
    assert scorer.calls == 1


def test_latency_is_a_real_measurement(hand_case, keyword_embedder):
    class Slow(KnowsTheAnswers):
        def predict(self, inputs, batch_size=32, show_progress_bar=None):
            import time

            time.sleep(0.02)
            return super().predict(inputs)

    report = evaluate_rerank(hand_case, keyword_embedder(["apple", "cherry"]), Slow(hand_case), top_k=3, bootstrap=20,
                             latency_queries=2, oracle=False)
    assert report.latency["ms_median"] >= 20
    assert math.isfinite(report.results[1].metrics["ndcg@10"]) and len(report.results) == 2


def test_fusion_row_and_weight_chosen_on_data(hand_case, keyword_embedder):
    from ragtune.evaluation.rerank import choose_fusion_weight, retrieve_scored

    emb = keyword_embedder(["apple", "banana", "cherry"])
    scorer = KnowsTheAnswers(hand_case)
    report = evaluate_rerank(hand_case, emb, scorer, top_k=3, bootstrap=20, latency_queries=0, oracle=False, fuse=0.0)
    by = {r.model: r.metrics["ndcg@10"] for r in report.results}
    assert by["fused (w=0)"] == pytest.approx(by["retriever"])  # weight 0 is the retriever alone
    choice = choose_fusion_weight(hand_case, *retrieve_scored(hand_case, emb, 3), scorer)
    assert choice["weight"] == 1.0 and choice["ndcg@10"] == pytest.approx(0.5) and choice["grid"]["0.0"] == pytest.approx(0.25)
