"""Retrieval evaluation: embed (cached), exact top-k, metrics, bootstrap CIs, paired comparisons.

`evaluate_retrieval(dataset, {"base": "minilm", "tuned": "runs/x/model"})` returns the evaluation
report (the JSON shape in DESIGN.md); `ragtune eval retrieval` is its command-line mirror.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import numpy as np

from ragtune.data.retrieval import RetrievalDataset, check
from ragtune.embeddings.encoder import Embedder, load_embedder
from ragtune.evaluation.metrics import bootstrap_ci, paired_comparison, per_query_metrics
from ragtune.evaluation.search import positive_ranks, search

DEFAULT_KS = (1, 3, 5, 10)
HEADLINE = "ndcg@10"


def embed_dataset(ds: RetrievalDataset, embedder: Embedder, batch_size: int = 64, show_progress: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(query vectors, doc vectors) in the dataset's key order, through the embedder's cache."""
    q = embedder.encode(list(ds.queries.values()), kind="query", batch_size=batch_size, show_progress=show_progress)
    d = embedder.encode(list(ds.corpus.values()), kind="document", batch_size=batch_size, show_progress=show_progress)
    return q, d


def rank_dataset(ds: RetrievalDataset, q: np.ndarray, d: np.ndarray, k: int, index: str = "exact") -> list[list[str]]:
    """Each query's top-k doc ids."""
    _, idx = search(q, d, k, index=index)
    doc_ids = list(ds.corpus)
    return [[doc_ids[j] for j in row] for row in idx]


def score_embedder(ds: RetrievalDataset, embedder: Embedder, ks: list[int], batch_size: int = 64,
                   index: str = "exact", show_progress: bool = False) -> dict[str, Any]:
    """Per-query metrics of one embedder on one dataset, plus the rank of each query's positive."""
    t0 = time.perf_counter()
    q, d = embed_dataset(ds, embedder, batch_size, show_progress)
    t_embed = time.perf_counter() - t0
    ranked = rank_dataset(ds, q, d, max(ks), index)
    relevant = [set(ds.relevant_docs.get(qid, [])) for qid in ds.queries]
    per_query = per_query_metrics(ranked, relevant, ks)
    pos = {did: i for i, did in enumerate(ds.corpus)}
    ranks = positive_ranks(q, d, [[pos[x] for x in ds.relevant_docs.get(qid, []) if x in pos] for qid in ds.queries])
    return {"per_query": per_query, "ranks": ranks, "ranked": ranked,
            "seconds": {"embed": t_embed, "total": time.perf_counter() - t0}, "cache": dict(embedder.last_stats)}


def evaluate_retrieval(ds: RetrievalDataset, models: Mapping[str, str | Embedder], ks: list[int] | tuple[int, ...] = DEFAULT_KS,
                       batch_size: int = 64, bootstrap: int = 1000, index: str = "exact", show_progress: bool = False,
                       seed: int = 0) -> dict[str, Any]:
    """Evaluate each labelled model; the first is the baseline for paired comparisons."""
    check(ds, ds.name)
    ks = sorted(set(ks) | {10})
    results, scored = [], {}
    for label, spec in models.items():
        emb = load_embedder(spec) if not isinstance(spec, Embedder) else spec
        s = score_embedder(ds, emb, ks, batch_size, index, show_progress)
        scored[label] = s
        results.append(_result_entry(label, emb, s, bootstrap, seed))
    first = next(iter(scored), None)
    for entry in results[1:]:
        entry["vs_first"] = {"baseline": first, "metric": HEADLINE,
                             **paired_comparison(scored[first]["per_query"][HEADLINE], scored[entry["model"]]["per_query"][HEADLINE],
                                                 bootstrap, seed)}
    return {"task": "retrieval", "dataset": ds.name, "num_queries": len(ds.queries), "num_docs": len(ds.corpus),
            "ks": ks, "headline": HEADLINE, "results": results,
            "per_query": {"query_ids": list(ds.queries), HEADLINE: {lab: s["per_query"][HEADLINE].round(6).tolist() for lab, s in scored.items()}}}


def _result_entry(label: str, emb: Embedder, s: dict[str, Any], bootstrap: int, seed: int) -> dict[str, Any]:
    metrics = {name: float(v.mean()) if len(v) else float("nan") for name, v in s["per_query"].items()}
    metrics["median_rank"] = float(np.median(s["ranks"])) if len(s["ranks"]) else float("nan")
    ci = {name: list(bootstrap_ci(v, bootstrap, seed)) for name, v in s["per_query"].items() if name.startswith(("ndcg", "mrr", "hit"))}
    return {"model": label, "model_name": emb.name, "fingerprint": emb.fingerprint, "metrics": metrics, "ci95": ci,
            "seconds": {k: round(v, 3) for k, v in s["seconds"].items()}, "cache": s["cache"]}


def headline(report: dict[str, Any], label: str, metric: str = HEADLINE) -> float:
    """One model's metric from a report."""
    for r in report["results"]:
        if r["model"] == label:
            return r["metrics"][metric]
    raise KeyError(label)
