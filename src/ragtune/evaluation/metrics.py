"""Per-query retrieval metrics with binary relevance, defined exactly as sentence-transformers'
`InformationRetrievalEvaluator` (checked against it in the tests): hit@k, recall@k, mrr@k, ndcg@k, map@k.
"""

from __future__ import annotations

import numpy as np

METRICS = ("hit", "recall", "mrr", "ndcg", "map")


def per_query_metrics(ranked: list[list[str]], relevant: list[set[str]], ks: list[int]) -> dict[str, np.ndarray]:
    """{'ndcg@10': array[n_queries], ...} from each query's ranked doc ids and its relevant set."""
    out = {f"{m}@{k}": np.zeros(len(ranked)) for m in METRICS for k in ks}
    for i, (ids, rel) in enumerate(zip(ranked, relevant)):
        hits = np.array([d in rel for d in ids], dtype=np.float64)
        for k in ks:
            _fill(out, i, hits[:k], len(rel), k)
    return out


def _fill(out: dict[str, np.ndarray], i: int, hits: np.ndarray, n_rel: int, k: int) -> None:
    if n_rel == 0:
        return
    first = np.flatnonzero(hits)
    discounts = 1.0 / np.log2(np.arange(2, len(hits) + 2))
    ideal = (1.0 / np.log2(np.arange(2, min(n_rel, k) + 2))).sum()
    cum_hits = np.cumsum(hits)
    out[f"hit@{k}"][i] = float(hits.any())
    out[f"recall@{k}"][i] = hits.sum() / n_rel
    out[f"mrr@{k}"][i] = 1.0 / (first[0] + 1) if len(first) else 0.0
    out[f"ndcg@{k}"][i] = (hits * discounts).sum() / ideal
    out[f"map@{k}"][i] = (hits * cum_hits / np.arange(1, len(hits) + 1)).sum() / min(k, n_rel)


def bootstrap_ci(values, n_resamples: int = 1000, seed: int = 0, weights=None) -> tuple[float, float]:
    """Percentile bootstrap 95% interval of the (optionally weighted) mean of per-item values."""
    values = np.asarray(values, dtype=float)
    if len(values) == 0:
        return (float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(values), size=(n_resamples, len(values)))
    if weights is None:
        means = values[idx].mean(axis=1)
    else:
        w = np.asarray(weights, dtype=float)[idx]
        means = (values[idx] * w).sum(axis=1) / np.maximum(w.sum(axis=1), 1e-12)
    return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def paired_comparison(base: np.ndarray, other: np.ndarray, n_resamples: int = 1000, seed: int = 0, eps: float = 1e-9) -> dict:
    """Paired bootstrap 95% CI of mean(other - base), with per-query wins, losses and ties."""
    diff = other - base
    lo, hi = bootstrap_ci(diff, n_resamples, seed)
    return {
        "delta": float(diff.mean()) if len(diff) else float("nan"),
        "ci95": [lo, hi],
        "significant": bool(lo > 0 or hi < 0),
        "wins": int((diff > eps).sum()),
        "losses": int((diff < -eps).sum()),
        "ties": int((np.abs(diff) <= eps).sum()),
    }
