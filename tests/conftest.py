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


@pytest.fixture
def keyword_embedder():
    """Factory: keyword_embedder(["a", "b"]) -> a FakeEmbedder, one dimension per keyword (substring match).

    Metrics of a dataset embedded this way can be worked out by hand.
    """
    from ragtune.embedders import FakeEmbedder

    return lambda keywords: FakeEmbedder(keywords, name="keywords")
