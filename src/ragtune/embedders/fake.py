"""A deterministic fake embedder for tests and examples: keyword one-hot vectors, metrics checkable by hand.

    emb = FakeEmbedder(["roof", "window", "permit"])   # one dimension per keyword
    emb.encode(["is a permit needed for a new roof?"], "query")   # -> roof and permit set

With `keywords=None`, words longer than three letters are hashed into `buckets` dimensions instead (a
bag-of-words embedder that works on any text). `query_shift`/`doc_shift` rotate the keyword dimensions
of one side, which makes the embedder wrong in a known way (an adapter can learn to undo it).
"""

from __future__ import annotations

import re
from typing import Literal

import numpy as np

from ragtune.embedders.base import Embedder, Kind

__all__ = ["FakeEmbedder"]


class FakeEmbedder(Embedder):
    """Keyword one-hot (or hashed bag-of-words) vectors; cached and normalised like every `Embedder`."""

    def __init__(self, keywords: list[str] | None = None, *, name: str = "fake", match: Literal["substring", "word"] = "substring",
                 query_shift: int = 0, doc_shift: int = 0, buckets: int = 512):
        self.keywords = [k.lower() for k in keywords] if keywords is not None else None
        self.match, self.shifts, self.buckets = match, {"query": query_shift, "document": doc_shift}, buckets
        key = "-".join(self.keywords) if self.keywords is not None else f"hash{buckets}"
        super().__init__(name, f"fake-{name}-{match}-{query_shift}-{doc_shift}-{key}", self._vectors)

    def _vectors(self, texts: list[str], kind: Kind, batch_size: int = 64, show_progress: bool = False) -> np.ndarray:
        if self.keywords is None:
            return np.stack([self._hashed(t) for t in texts]) if texts else np.zeros((0, self.buckets), np.float32)
        n, shift = len(self.keywords), self.shifts[kind]
        out = np.zeros((len(texts), n + 1), dtype=np.float32)
        for row, text in enumerate(texts):
            low = text.lower()
            words = low.split() if self.match == "word" else None
            for i, kw in enumerate(self.keywords):
                if (kw in words) if words is not None else (kw in low):
                    out[row, (i + shift) % n] = 1.0
        out[:, -1] = 1e-3  # never an all-zero vector
        return out

    def _hashed(self, text: str) -> np.ndarray:
        vec = np.zeros(self.buckets, dtype=np.float32)
        for w in re.findall(r"[a-z]+", text.lower()):
            if len(w) > 3:
                vec[sum(map(ord, w)) % self.buckets] += 1.0
        return vec
