"""Suite-wide set-up: offline, and a RAGTUNE_HOME cache inside the checkout (empty on a fresh clone,
shared by the xdist workers, guarded by file locks) so prepared assets are built once per machine."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("RAGTUNE_HOME", str(Path(__file__).resolve().parent.parent / ".cache" / "ragtune-test"))


class KeywordEmbedder:
    """A deterministic fake embedder: one dimension per keyword, 1 if the keyword occurs in the text.

    Metrics of a dataset embedded this way can be worked out by hand.
    """

    def __init__(self, keywords: list[str]):
        self.keywords = [k.lower() for k in keywords]
        self.name = "keywords"
        self.fingerprint = "kw-" + "-".join(self.keywords)

    def raw_encode(self, texts, kind="document", batch_size=64, show_progress=False):
        import numpy as np

        out = np.zeros((len(texts), len(self.keywords) + 1), dtype=np.float32)
        for i, t in enumerate(texts):
            words = t.lower()
            for j, k in enumerate(self.keywords):
                out[i, j] = 1.0 if k in words else 0.0
            out[i, -1] = 1e-3  # so an empty match still has a direction
        return out


@pytest.fixture
def keyword_embedder():
    """Factory: keyword_embedder(["a", "b"]) -> a ragtune Embedder over KeywordEmbedder (cache in tmp)."""
    from ragtune.embeddings.encoder import Embedder

    def make(keywords: list[str]) -> Embedder:
        kw = KeywordEmbedder(keywords)
        return Embedder(kw.name, kw.fingerprint, kw.raw_encode)

    return make
