"""Rerank evaluation the way a reranker is used: retrieve top K, rerank those K, score the new order.

Realistic: a positive the retriever missed stays missed, so hit@K cannot move and the reranker can
only reorder. The oracle variant injects missing positives into the K candidates (replacing the
lowest-ranked ones) and is labelled as such: it measures the reranker alone, not the pipeline.
Metrics, CIs and paired comparisons are the ones `ragtune eval retrieval` uses, in the same shape.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from ragtune.data.retrieval import RetrievalDataset, check
from ragtune.evaluation.metrics import bootstrap_ci, paired_comparison, per_query_metrics
from ragtune.evaluation.protocols import Encoder, Scorer
from ragtune.evaluation.search import top_k as encode_top_k
from ragtune.records import Comparison, EvalReport, ModelResult, PerQuery

__all__ = ["HEADLINE", "ORACLE_LABEL", "retrieve", "retrieve_scored", "fused_rankings", "choose_fusion_weight",
           "inject_positives", "score_candidates", "rerank", "measure_latency", "evaluate_rerank"]

HEADLINE = "ndcg@10"
ORACLE_LABEL = "reranked (oracle: positives injected)"


def retrieve(ds: RetrievalDataset, retriever: Encoder, k: int, batch_size: int = 64, show_progress: bool = False) -> list[list[str]]:
    """Each query's top-k doc ids from the retriever (embeddings come from its disk cache)."""
    return retrieve_scored(ds, retriever, k, batch_size, show_progress)[0]


def retrieve_scored(ds: RetrievalDataset, retriever: Encoder, k: int, batch_size: int = 64,
                    show_progress: bool = False) -> tuple[list[list[str]], list[np.ndarray]]:
    """Each query's top-k doc ids and their retriever scores."""
    found = encode_top_k(retriever, list(ds.queries.values()), list(ds.corpus.values()), k, batch_size=batch_size,
                         show_progress=show_progress)
    return found.ids(list(ds.corpus)), [np.asarray(s, dtype=np.float64) for s in found.scores]


def fused_rankings(candidates: list[list[str]], retriever_scores: list[np.ndarray], reranker_scores: list[np.ndarray],
                   weight: float) -> list[list[str]]:
    """Order by weight x reranker + (1 - weight) x retriever, each min-max scaled within the query's candidates."""
    out = []
    for ids, s_ret, s_rr in zip(candidates, retriever_scores, reranker_scores):
        fused = weight * _minmax(s_rr) + (1 - weight) * _minmax(s_ret)
        out.append([ids[j] for j in np.argsort(-fused, kind="stable")])
    return out


def _minmax(x: np.ndarray) -> np.ndarray:
    span = x.max() - x.min() if len(x) else 0.0
    return (x - x.min()) / span if span > 0 else np.zeros_like(x)


def choose_fusion_weight(ds: RetrievalDataset, candidates: list[list[str]], retriever_scores: list[np.ndarray],
                         scorer: Scorer, cache: dict[tuple[str, str], float] | None = None) -> dict[str, Any]:
    """The fusion weight (0 = retriever alone ... 1 = reranker alone) with the best ndcg@10 on this (validation) data."""
    rr = score_candidates(ds, candidates, scorer, cache=cache)
    relevant = [set(ds.relevant_docs.get(q, [])) for q in ds.queries]
    weights = [round(1.0 - 0.1 * i, 1) for i in range(11)]
    ndcg = [float(per_query_metrics(fused_rankings(candidates, retriever_scores, rr, w), relevant, [10])[HEADLINE].mean())
            for w in weights]
    best = max(range(len(weights)), key=lambda i: (ndcg[i], weights[i]))
    return {"weight": weights[best], HEADLINE: ndcg[best], "grid": {f"{w:.1f}": v for w, v in zip(weights, ndcg)}}


def inject_positives(ds: RetrievalDataset, candidates: list[list[str]]) -> list[list[str]]:
    """Oracle candidates: every missing positive replaces one of the lowest-ranked non-positives."""
    out = []
    for qid, ids in zip(ds.queries, candidates):
        rel = list(dict.fromkeys(ds.relevant_docs.get(qid, [])))
        missing = [d for d in rel if d not in ids]
        keep = list(ids)
        for d in missing:
            drop = max((i for i, x in enumerate(keep) if x not in rel), default=None)
            if drop is None:
                keep.append(d)
            else:
                keep[drop] = d
        out.append(keep)
    return out


def score_candidates(ds: RetrievalDataset, candidates: list[list[str]], scorer: Scorer, batch_size: int = 64,
                     show_progress: bool = False, cache: dict[tuple[str, str], float] | None = None) -> list[np.ndarray]:
    """Scorer outputs for every (query, candidate); a pair already in `cache` is not scored again."""
    qids, texts = list(ds.queries), list(ds.queries.values())
    cache = {} if cache is None else cache
    need = list(dict.fromkeys((i, d) for i, ids in enumerate(candidates) for d in ids if (qids[i], d) not in cache))
    if need:
        out = scorer.predict([(texts[i], ds.corpus[d]) for i, d in need], batch_size=batch_size, show_progress_bar=show_progress)
        cache.update(((qids[i], d), float(s)) for (i, d), s in zip(need, np.asarray(out, dtype=np.float64).reshape(-1)))
    return [np.array([cache[(qids[i], d)] for d in ids], dtype=np.float64) for i, ids in enumerate(candidates)]


def rerank(ds: RetrievalDataset, candidates: list[list[str]], scorer: Scorer, batch_size: int = 64,
           show_progress: bool = False, cache: dict[tuple[str, str], float] | None = None) -> list[list[str]]:
    """Reorder each query's candidates by the scorer (ties keep the retriever's order)."""
    scores = score_candidates(ds, candidates, scorer, batch_size, show_progress, cache)
    return [[ids[j] for j in np.argsort(-s, kind="stable")] for ids, s in zip(candidates, scores)]


def measure_latency(ds: RetrievalDataset, candidates: list[list[str]], scorer: Scorer, n_queries: int = 50,
                    batch_size: int = 64) -> dict[str, Any]:
    """Wall-clock milliseconds to rerank one query's candidates (one predict call per query, as served)."""
    queries = list(ds.queries.values())
    n = min(n_queries, len(candidates))
    if n == 0:
        return {}
    scorer.predict([(queries[0], ds.corpus[d]) for d in candidates[0]], batch_size=batch_size, show_progress_bar=False)  # warm-up
    times = []
    for i in range(n):
        pairs = [(queries[i], ds.corpus[d]) for d in candidates[i]]
        t0 = time.perf_counter()
        scorer.predict(pairs, batch_size=batch_size, show_progress_bar=False)
        times.append((time.perf_counter() - t0) * 1000)
    t = np.array(times)
    return {"k": int(np.median([len(c) for c in candidates[:n]])), "queries_timed": n, "ms_median": round(float(np.median(t)), 1),
            "ms_p95": round(float(np.percentile(t, 95)), 1), "ms_mean": round(float(t.mean()), 1)}


def evaluate_rerank(ds: RetrievalDataset, retriever: Encoder, reranker: Scorer, top_k: int = 30,
                    ks: list[int] | tuple[int, ...] = (1, 3, 5, 10), bootstrap: int = 1000, seed: int = 0, oracle: bool = True,
                    latency_queries: int = 50, batch_size: int = 64, reranker_name: str = "reranker",
                    show_progress: bool = False, cache: dict[tuple[str, str], float] | None = None,
                    fuse: float | None = None) -> EvalReport:
    """The retriever alone, then retriever + reranker on its top K, then (labelled) the oracle variant.

    `cache` (query id, doc id) -> score may be shared between calls with the same reranker and dataset
    (e.g. behind two retrievers), so a pair is scored once. `fuse` = w adds a row ranked by
    w x reranker + (1 - w) x retriever (min-max scaled per query; choose w on validation, never on the test set).
    """
    check(ds, ds.name)
    emb = retriever
    ks = sorted(set(ks) | {10, top_k})
    relevant = [set(ds.relevant_docs.get(q, [])) for q in ds.queries]
    candidates, retriever_scores = retrieve_scored(ds, emb, top_k, batch_size, show_progress)
    t0 = time.perf_counter()
    cache = {} if cache is None else cache
    runs = {"retriever": candidates, "reranked": rerank(ds, candidates, reranker, batch_size, show_progress, cache)}
    rerank_seconds = time.perf_counter() - t0
    if fuse is not None:
        rr = score_candidates(ds, candidates, reranker, batch_size, show_progress, cache)
        runs[f"fused (w={fuse:g})"] = fused_rankings(candidates, retriever_scores, rr, fuse)
    if oracle:
        runs[ORACLE_LABEL] = rerank(ds, inject_positives(ds, candidates), reranker, batch_size, show_progress, cache)
    scored = {label: per_query_metrics(ranked, relevant, ks) for label, ranked in runs.items()}
    names = {"retriever": emb.name, "reranked": f"{emb.name} + {reranker_name}", ORACLE_LABEL: reranker_name}
    if fuse is not None:
        names[f"fused (w={fuse:g})"] = f"{fuse:g} x {reranker_name} + {1 - fuse:g} x {emb.name}"
    results = [_entry(label, names[label], pq, bootstrap, seed) for label, pq in scored.items()]
    for entry in results[1:]:
        entry.vs_first = Comparison(baseline="retriever", metric=HEADLINE, **paired_comparison(
            scored["retriever"][HEADLINE], scored[entry.model][HEADLINE], bootstrap, seed))
    return EvalReport(task="rerank", dataset=ds.name, num_queries=len(ds.queries), num_docs=len(ds.corpus), ks=ks,
                      headline=HEADLINE, top_k=top_k, retriever=emb.name, reranker=reranker_name, results=results,
                      seconds={"rerank_all": round(rerank_seconds, 2)},
                      latency=measure_latency(ds, candidates, reranker, latency_queries, batch_size) if latency_queries else {},
                      per_query=PerQuery(query_ids=list(ds.queries),
                                         **{HEADLINE: {lab: pq[HEADLINE].round(6).tolist() for lab, pq in scored.items()}}))


def _entry(label: str, name: str, pq: dict[str, np.ndarray], bootstrap: int, seed: int) -> ModelResult:
    metrics = {m: float(v.mean()) if len(v) else float("nan") for m, v in pq.items()}
    ci = {m: list(bootstrap_ci(v, bootstrap, seed)) for m, v in pq.items() if m.startswith(("ndcg", "mrr", "hit"))}
    return ModelResult(model=label, model_name=name, metrics=metrics, ci95=ci)
