"""The one interface of every embedder: `encode(texts, kind) -> L2-normalised float32 matrix`, cached.

Each distinct text is embedded once per model, ever: vectors are cached on disk by model fingerprint
(a hash of the weight and config files, or of the remote model name) and text hash. A cached
re-evaluation never loads the model at all.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal

import numpy as np

from ragtune.embedders.cache import EmbeddingCache, text_key

__all__ = ["Kind", "Embedder", "normalise"]

Kind = Literal["query", "document"]


class Embedder:
    """Cached embedder over a raw encode function.

    `raw_encode(texts, kind, batch_size, show_progress) -> np.ndarray` does the real work; this class
    adds the cache, normalisation and the stable `fingerprint` that keys the cache.
    """

    def __init__(self, name: str, fingerprint: str, raw_encode: Callable[..., np.ndarray], prompts: dict[str, str] | None = None,
                 key_by_kind: bool = False):
        self.name = name
        self.fingerprint = fingerprint
        self._raw_encode = raw_encode
        self._prompts = prompts or {}
        # True when queries and documents of the same text get different vectors without a prompt (a query-side adapter)
        self._key_by_kind = key_by_kind
        self._cache: EmbeddingCache | None = None
        self.last_stats = {"cached": 0, "encoded": 0}

    @property
    def cache(self) -> EmbeddingCache:
        if self._cache is None:
            self._cache = EmbeddingCache(self.fingerprint)
        return self._cache

    def encode(self, texts: Sequence[str], kind: Kind = "document", batch_size: int = 64, show_progress: bool = False) -> np.ndarray:
        """Embed `texts` as queries or documents; cached vectors are reused, new ones stored."""
        texts = list(texts)
        prompt = self._prompts.get(kind, "") + (f"\x00{kind}" if self._key_by_kind else "")
        keys = [text_key(t, prompt) for t in texts]
        found = self.cache.get_many(keys)
        missing = list(dict.fromkeys(k for k in keys if k not in found))
        if missing:
            text_of = dict(zip(keys, texts))
            new = self._raw_encode([text_of[k] for k in missing], kind, batch_size, show_progress)
            new = normalise(np.asarray(new, dtype=np.float32))
            self.cache.put_many(missing, new)
            found.update(zip(missing, new))
        self.last_stats = {"cached": len(keys) - len(missing), "encoded": len(missing)}
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        return np.stack([found[k] for k in keys]).astype(np.float32, copy=False)


def normalise(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm (an all-zero row stays zero)."""
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.clip(norms, 1e-12, None)
