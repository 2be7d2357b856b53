"""Retrieval evaluation: embed (cached), exact top-k, metrics, bootstrap CIs, paired comparisons.

`evaluate_retrieval(dataset, {"base": encoder_a, "tuned": encoder_b})` returns the evaluation report
(`ragtune.records.EvalReport`, task "retrieval"); `ragtune eval retrieval` is its command-line mirror.
The encoders are any objects with `encode(texts, kind)` (see `ragtune.evaluation.protocols`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping

import numpy as np

from ragtune.data.retrieval import RetrievalDataset, check
from ragtune.evaluation.metrics import bootstrap_ci, paired_comparison, per_query_metrics
from ragtune.evaluation.protocols import Encoder
from ragtune.evaluation.search import positive_ranks, top_k
from ragtune.records import Comparison, EvalReport, ModelResult, PerQuery

__all__ = ["DEFAULT_KS", "HEADLINE", "ScoredModel", "score_encoder", "evaluate_retrieval", "difficulty"]

DEFAULT_KS = (1, 3, 5, 10)
HEADLINE = "ndcg@10"


class ScoredModel:
    """One encoder on one dataset: per-query metrics, each query's positive rank, its ranked ids, timings."""

    def __init__(self, per_query: dict[str, np.ndarray], ranks: np.ndarray, ranked: list[list[str]],
                 seconds: dict[str, float], cache: dict[str, int]):
        self.per_query, self.ranks, self.ranked, self.seconds, self.cache = per_query, ranks, ranked, seconds, cache


def score_encoder(ds: RetrievalDataset, encoder: Encoder, ks: list[int], batch_size: int = 64,
                  index: str = "exact", show_progress: bool = False) -> ScoredModel:
    """Per-query metrics of one encoder on one dataset, plus the rank of each query's positive."""
    t0 = time.perf_counter()
    found = top_k(encoder, list(ds.queries.values()), list(ds.corpus.values()), max(ks), index=index,
                  batch_size=batch_size, show_progress=show_progress)
    ranked = found.ids(list(ds.corpus))
    relevant = [set(ds.relevant_docs.get(qid, [])) for qid in ds.queries]
    per_query = per_query_metrics(ranked, relevant, ks)
    pos = {did: i for i, did in enumerate(ds.corpus)}
    ranks = positive_ranks(found.query_vecs, found.doc_vecs,
                           [[pos[x] for x in ds.relevant_docs.get(qid, []) if x in pos] for qid in ds.queries])
    return ScoredModel(per_query, ranks, ranked, {"total": time.perf_counter() - t0},
                       dict(getattr(encoder, "last_stats", {}) or {}))


def evaluate_retrieval(ds: RetrievalDataset, models: Mapping[str, Encoder], ks: list[int] | tuple[int, ...] = DEFAULT_KS,
                       batch_size: int = 64, bootstrap: int = 1000, index: str = "exact", show_progress: bool = False,
                       seed: int = 0) -> EvalReport:
    """Evaluate each labelled encoder; the first is the baseline of the paired comparisons."""
    check(ds, ds.name)
    ks = sorted(set(ks) | {10})
    scored = {label: score_encoder(ds, enc, ks, batch_size, index, show_progress) for label, enc in models.items()}
    results = [_result(label, models[label], s, bootstrap, seed) for label, s in scored.items()]
    first = next(iter(scored), None)
    for r in results[1:]:
        r.vs_first = Comparison(baseline=first, metric=HEADLINE, **paired_comparison(
            scored[first].per_query[HEADLINE], scored[r.model].per_query[HEADLINE], bootstrap, seed))
    per_query = PerQuery(query_ids=list(ds.queries), **{
        HEADLINE: {lab: s.per_query[HEADLINE].round(6).tolist() for lab, s in scored.items()},
        "rank": {lab: s.ranks.astype(int).tolist() for lab, s in scored.items()}})
    return EvalReport(task="retrieval", dataset=ds.name, num_queries=len(ds.queries), num_docs=len(ds.corpus), ks=ks,
                      headline=HEADLINE, results=results, per_query=per_query)


def _result(label: str, encoder: Encoder, s: ScoredModel, bootstrap: int, seed: int) -> ModelResult:
    metrics = {name: float(v.mean()) if len(v) else float("nan") for name, v in s.per_query.items()}
    metrics["median_rank"] = float(np.median(s.ranks)) if len(s.ranks) else float("nan")
    ci = {name: list(bootstrap_ci(v, bootstrap, seed)) for name, v in s.per_query.items() if name.startswith(("ndcg", "mrr", "hit"))}
    return ModelResult(model=label, model_name=encoder.name, fingerprint=getattr(encoder, "fingerprint", None), metrics=metrics,
                       ci95=ci, seconds={k: round(v, 3) for k, v in s.seconds.items()}, cache=s.cache)


def difficulty(report: EvalReport) -> dict[str, float | str]:
    """How hard the data is for the baseline: its ndcg@10 and the median rank of each query's positive (1 = easy)."""
    base = report.results[0].metrics
    return {"dataset": report.dataset, "base_median_rank": base["median_rank"], "base_ndcg@10": base["ndcg@10"]}
