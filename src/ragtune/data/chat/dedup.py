"""Exact and near duplicates in chat data, and overlap between training and validation files."""

from __future__ import annotations

import re
import zlib
from typing import Any

from ragtune.data.chat.formats import ChatExample
from ragtune.errors import Problem

__all__ = ["NEAR_DUPLICATE_JACCARD", "near_duplicate_pairs", "duplicate_problems", "overlap_problems"]

NEAR_DUPLICATE_JACCARD = 0.9


def _shingles(text: str, n: int = 3) -> set[str]:
    words = re.findall(r"\w+", text.lower())
    if len(words) < n:
        return {" ".join(words)}
    return {" ".join(words[i : i + n]) for i in range(len(words) - n + 1)}


def _text(ex: ChatExample) -> str:
    return "\n".join(f"{m['role']}: {m.get('content') or ''}" for m in ex.messages)


def near_duplicate_pairs(texts: list[str], threshold: float = NEAR_DUPLICATE_JACCARD) -> list[tuple[int, int, float]]:
    """Pairs (i, j, jaccard) of texts whose word-3-gram Jaccard similarity is at least `threshold`.

    Candidates come from MinHash LSH (16 bands of 4 hashes), then the exact Jaccard is checked, so
    every reported pair is real; a pair above 0.9 is missed with probability below 1e-6.
    """
    import numpy as np

    sets = [_shingles(t) for t in texts]
    signatures = _minhash(sets, np)
    buckets: dict[tuple, list[int]] = {}
    for i, sig in enumerate(signatures):
        for b in range(16):
            buckets.setdefault((b, *sig[b * 4 : b * 4 + 4].tolist()), []).append(i)
    candidates = {(a, c) for ids in buckets.values() for k, a in enumerate(ids) for c in ids[k + 1 :]}
    pairs = []
    for a, c in sorted(candidates):
        jac = len(sets[a] & sets[c]) / max(1, len(sets[a] | sets[c]))
        if jac >= threshold:
            pairs.append((a, c, jac))
    return pairs


def _minhash(sets: list[set[str]], np) -> Any:
    prime = (1 << 61) - 1
    rng = np.random.default_rng(0)
    a = rng.integers(1, 1 << 31, size=64, dtype=np.uint64)
    b = rng.integers(0, 1 << 31, size=64, dtype=np.uint64)
    out = np.zeros((len(sets), 64), dtype=np.uint64)
    for i, s in enumerate(sets):
        h = np.array([zlib.crc32(x.encode("utf-8")) for x in s] or [0], dtype=np.uint64)
        out[i] = ((h[:, None] * a[None, :] + b[None, :]) % prime).min(axis=0)
    return out


def duplicate_problems(examples: list[ChatExample]) -> list[Problem]:
    """Warnings for exact duplicates (same normalized conversation) and near duplicates."""
    problems, first = [], {}
    for ex in examples:
        k = ex.key()
        if k in first:
            problems.append(Problem(ex.location, f"exact duplicate of {first[k]}", "warning"))
        else:
            first[k] = ex.location
    unique = [ex for ex in examples if first[ex.key()] == ex.location]
    for a, c, jac in near_duplicate_pairs([_text(e) for e in unique]):
        problems.append(Problem(unique[c].location, f"near duplicate of {unique[a].location} (Jaccard {jac:.2f})", "warning"))
    return problems


def overlap_problems(train: list[ChatExample], val: list[ChatExample]) -> list[Problem]:
    """Validation examples also in training data: exact copies are errors, near copies warnings."""
    seen = {ex.key(): ex.location for ex in train}
    problems = [Problem(v.location, f"also in the training data at {seen[v.key()]} (train/val overlap)")
                for v in val if v.key() in seen]
    texts = [_text(e) for e in train] + [_text(e) for e in val]
    n = len(train)
    for a, c, jac in near_duplicate_pairs(texts):
        if a < n <= c and val[c - n].key() not in seen:
            problems.append(Problem(val[c - n].location, f"near copy of training example {train[a].location} "
                                    f"(Jaccard {jac:.2f}, train/val overlap)", "warning"))
    return problems
