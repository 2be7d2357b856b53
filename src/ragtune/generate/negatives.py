"""Hard-negative mining: for each query, highly ranked chunks that are not its positives.

Reusable by any trainer (embeddings, rerankers):

    from ragtune.generate.negatives import mine_hard_negatives
    mined, stats = mine_hard_negatives(dataset, load_embedder("minilm"), num_negatives=5, margin=0.95)

The retriever is any encoder (`encode(texts, kind)`), passed in by the caller.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from ragtune.data.retrieval import RetrievalDataset
from ragtune.errors import InputError
from ragtune.evaluation.protocols import Encoder
from ragtune.evaluation.search import top_k

__all__ = ["mine_hard_negatives"]


def mine_hard_negatives(dataset: RetrievalDataset, embedder: Encoder, num_negatives: int = 5, skip_top: int = 0,
                        margin: float | None = 0.95, depth: int = 50, batch_size: int = 64,
                        show_progress: bool = False) -> tuple[RetrievalDataset, dict[str, Any]]:
    """A copy of `dataset` whose `hard_negatives` holds up to `num_negatives` doc ids per query.

    Candidates are the retriever's top `depth` docs, positives excluded, in rank order; the first
    `skip_top` candidates are skipped (they are often unlabelled positives); a candidate scoring above
    `margin` x the positive's score is dropped as a likely false negative (None turns the guard off);
    a candidate whose text equals a positive's text is dropped too. `embedder` has
    `.encode(texts, kind="query"|"document")` returning L2-normalised rows.
    """
    _check_args(num_negatives, skip_top, margin, depth)
    qids = [q for q in dataset.queries if dataset.relevant_docs.get(q)]
    doc_ids = list(dataset.corpus)
    pos_index = {d: i for i, d in enumerate(doc_ids)}
    found = top_k(embedder, [dataset.queries[q] for q in qids], list(dataset.corpus.values()),
                  min(len(doc_ids), depth + skip_top + 8), batch_size=batch_size, show_progress=show_progress)
    qv, dv, scores, idx = found.query_vecs, found.doc_vecs, found.scores, found.indices
    counts: Counter = Counter()
    mined: dict[str, list[str]] = {}
    for row, q in enumerate(qids):
        positives = [pos_index[d] for d in dataset.relevant_docs[q] if d in pos_index]
        pos_score = float(max(qv[row] @ dv[j] for j in positives)) if positives else float("inf")
        mined[q] = _pick(dataset, q, [doc_ids[j] for j in idx[row]], scores[row], pos_score, num_negatives,
                         skip_top, margin, counts)
    out = dataset.model_copy(deep=True)
    out.hard_negatives = {q: v for q, v in mined.items() if v}
    stats = {"queries": len(qids), "with_negatives": len(out.hard_negatives),
             "negatives": sum(len(v) for v in out.hard_negatives.values()),
             "short_of_target": sum(1 for v in mined.values() if len(v) < num_negatives), "dropped": dict(counts),
             "settings": {"num_negatives": num_negatives, "skip_top": skip_top, "margin": margin, "depth": depth}}
    out.meta = {**dataset.meta, "hard_negatives": {**stats, "model": str(embedder.name)}}
    return out, stats


def _pick(ds: RetrievalDataset, qid: str, ranked: list[str], scores: np.ndarray, pos_score: float, n: int,
          skip_top: int, margin: float | None, counts: Counter) -> list[str]:
    positives = set(ds.relevant_docs[qid])
    pos_texts = {ds.corpus[d].strip() for d in positives if d in ds.corpus}
    picked, seen = [], 0
    for did, score in zip(ranked, scores):
        if did in positives:
            continue
        seen += 1
        if seen <= skip_top:
            counts["skipped_top"] += 1
        elif ds.corpus[did].strip() in pos_texts:
            counts["same_text_as_positive"] += 1
        elif margin is not None and float(score) > margin * pos_score:
            counts["above_margin"] += 1
        else:
            picked.append(did)
            if len(picked) == n:
                break
    return picked


def _check_args(num_negatives: int, skip_top: int, margin: float | None, depth: int) -> None:
    if num_negatives < 1:
        raise InputError(f"--num-negatives must be >= 1; got {num_negatives}")
    if skip_top < 0:
        raise InputError(f"--skip-top must be >= 0; got {skip_top}")
    if margin is not None and not 0 < margin <= 2:
        raise InputError(f"--margin must be in (0, 2] (0.95 drops candidates scoring above 95% of the positive); got {margin}")
    if depth < num_negatives:
        raise InputError(f"--depth ({depth}) must be at least --num-negatives ({num_negatives})")

