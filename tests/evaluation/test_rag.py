"""The RAG report from per-question values: means over defined values, paired deltas, significance, retrieval hits."""

from __future__ import annotations

import numpy as np
import pytest

from ragtune.embedders import FakeEmbedder
from ragtune.evaluation.rag import rag_messages, rag_report, retrieve


def test_rag_report_means_skip_missing_and_pairs_only_shared_questions():
    ids = [f"q{i}" for i in range(6)]
    values = {"naive": {"correctness": [1, 2, None, 1, 2, 1], "rouge_l": [0.1] * 6},
              "tuned": {"correctness": [5, 4, 5, None, 5, 4], "rouge_l": [0.1] * 6}}
    r = rag_report("toy", ids, values, n_resamples=300)
    naive, tuned = r.result("naive"), r.result("tuned")
    assert naive.metrics["correctness"] == pytest.approx(7 / 5) and naive.metrics["n_correctness"] == 5
    assert tuned.metrics["correctness"] == pytest.approx(23 / 5)
    shared = [(1, 5), (2, 4), (2, 5), (1, 4)]  # q0, q1, q4, q5
    assert tuned.metrics["delta_correctness"] == pytest.approx(np.mean([t - b for b, t in shared]))
    assert tuned.metrics["significant_correctness"] == 1.0 and tuned.vs_first.significant and tuned.vs_first.wins == 4
    assert tuned.metrics["delta_rouge_l"] == 0.0 and tuned.metrics["significant_rouge_l"] == 0.0
    assert r.per_query.values("correctness", "naive")[2] is None
    assert naive.vs_first is None and r.task == "rag" and r.headline == "correctness"


def test_retrieve_hits_and_prompt():
    enc = FakeEmbedder(["roof", "permit", "heat"])
    corpus = {"d1": "roof tiles last long", "d2": "a permit takes weeks", "d3": "heat pumps save money"}
    got = retrieve(enc, ["how long does a roof last", "do I need a permit"], corpus, 1, [["d1"], ["d3"]])
    assert got.doc_ids == [["d1"], ["d2"]] and got.hits == [1.0, 0.0]
    assert retrieve(enc, ["roof?"], corpus, 2).hits == [None]
    msgs = rag_messages("Q?", ["first", "second"])
    assert msgs[-1]["content"].endswith("Question: Q?") and "[1] first\n\n[2] second" in msgs[-1]["content"]
