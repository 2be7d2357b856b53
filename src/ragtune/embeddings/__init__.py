"""The embedding jobs: fine-tune a sentence-transformers model (`train_embedding`) or fit an adapter over any
frozen embedder (`train_adapter`). Loading embedders is `ragtune.embedders`.

Submodules load on first use, so importing a config (as the CLI does for `--help`) stays light.
"""

from __future__ import annotations

import importlib

__all__ = ["EmbeddingConfig", "AdapterConfig", "train_embedding", "train_adapter"]

_WHERE = {"EmbeddingConfig": "config", "AdapterConfig": "config", "train_embedding": "train", "train_adapter": "train_adapter"}


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(importlib.import_module(f"ragtune.embeddings.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'ragtune.embeddings' has no attribute {name!r}")
