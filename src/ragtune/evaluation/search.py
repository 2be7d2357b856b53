"""Encode, then take the top k: the one search every job uses, plus the exact rank of the positive.

`top_k(encoder, queries, docs, k)` embeds both sides (through the encoder's cache) and returns each
query's best documents; `search` is the exact top-k on vectors, `positive_ranks` the exact rank of each
query's relevant document in the whole corpus. Memory is bounded by `query_batch x doc_block` scores at a time (default 256 x 16384 floats =
16 MB), so a 100k-chunk corpus never needs a 100k x 100k matrix.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ragtune.errors import InputError
from ragtune.evaluation.protocols import Encoder

__all__ = ["TopK", "encode_pair", "top_k", "search", "positive_ranks"]


@dataclass
class TopK:
    """Each query's k best documents (indices into the documents, best first), their scores, and the vectors."""

    indices: np.ndarray
    scores: np.ndarray
    query_vecs: np.ndarray
    doc_vecs: np.ndarray

    def ids(self, doc_ids: Sequence[str]) -> list[list[str]]:
        """The top-k as document ids."""
        return [[doc_ids[j] for j in row] for row in self.indices]


def encode_pair(encoder: Encoder, queries: Sequence[str], docs: Sequence[str], batch_size: int = 64,
                show_progress: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(query vectors, document vectors), in order, through the encoder (and its cache)."""
    q = encoder.encode(list(queries), kind="query", batch_size=batch_size, show_progress=show_progress)
    d = encoder.encode(list(docs), kind="document", batch_size=batch_size, show_progress=show_progress)
    return q, d


def top_k(encoder: Encoder, queries: Sequence[str], docs: Sequence[str], k: int, *, index: str = "exact",
          batch_size: int = 64, show_progress: bool = False) -> TopK:
    """Encode the queries and documents, then take each query's k best documents by inner product."""
    q, d = encode_pair(encoder, queries, docs, batch_size, show_progress)
    scores, idx = search(q, d, k, index=index)
    return TopK(idx, scores, q, d)


def search(query_vecs: np.ndarray, doc_vecs: np.ndarray, k: int, query_batch: int = 256, doc_block: int = 16384,
           index: str = "exact") -> tuple[np.ndarray, np.ndarray]:
    """Top-k documents for every query by inner product: (scores [nq, k], indices [nq, k])."""
    k = min(k, len(doc_vecs))
    if index == "faiss":
        return _faiss_search(query_vecs, doc_vecs, k)
    import torch

    q_all = torch.from_numpy(np.ascontiguousarray(query_vecs, dtype=np.float32))
    d_all = torch.from_numpy(np.ascontiguousarray(doc_vecs, dtype=np.float32))
    scores_out = np.empty((len(q_all), k), dtype=np.float32)
    idx_out = np.empty((len(q_all), k), dtype=np.int64)
    for qs in range(0, len(q_all), query_batch):
        q = q_all[qs : qs + query_batch]
        best_s = torch.full((len(q), 0), float("-inf"))
        best_i = torch.zeros((len(q), 0), dtype=torch.long)
        for ds in range(0, len(d_all), doc_block):
            s = q @ d_all[ds : ds + doc_block].T
            top_s, top_i = torch.topk(s, min(k, s.shape[1]), dim=1)
            cand_s = torch.cat([best_s, top_s], dim=1)
            cand_i = torch.cat([best_i, top_i + ds], dim=1)
            keep_s, pos = torch.topk(cand_s, min(k, cand_s.shape[1]), dim=1)
            best_s, best_i = keep_s, torch.gather(cand_i, 1, pos)
        scores_out[qs : qs + len(q)] = best_s.numpy()
        idx_out[qs : qs + len(q)] = best_i.numpy()
    return scores_out, idx_out


def _faiss_search(query_vecs: np.ndarray, doc_vecs: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    try:
        import faiss
    except ImportError:
        raise InputError("index 'faiss' needs faiss: pip install 'ragtune[faiss]' (or faiss-cpu).") from None
    index = faiss.IndexFlatIP(doc_vecs.shape[1])
    index.add(np.ascontiguousarray(doc_vecs, dtype=np.float32))
    scores, idx = index.search(np.ascontiguousarray(query_vecs, dtype=np.float32), k)
    return scores, idx.astype(np.int64)


def positive_ranks(query_vecs: np.ndarray, doc_vecs: np.ndarray, positives: list[list[int]], doc_block: int = 8192,
                   tie_tol: float = 1e-6) -> np.ndarray:
    """1-based rank of each query's best-scored relevant doc in the whole corpus.

    Only docs scoring more than `tie_tol` above the positive count as ahead of it, so float rounding
    between differently batched products cannot push a positive behind itself.
    """
    best = np.array([max((float(query_vecs[i] @ doc_vecs[j]) for j in pos), default=np.inf) for i, pos in enumerate(positives)],
                    dtype=np.float32) + tie_tol
    above = np.zeros(len(query_vecs), dtype=np.int64)
    for qs in range(0, len(query_vecs), 1024):
        for ds in range(0, len(doc_vecs), doc_block):
            s = query_vecs[qs : qs + 1024] @ doc_vecs[ds : ds + doc_block].T
            above[qs : qs + 1024] += (s > best[qs : qs + 1024, None]).sum(axis=1)
    return above + 1
