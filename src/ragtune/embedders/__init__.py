"""Embedding models behind one small interface, with a shared disk cache.

    from ragtune.embedders import load_embedder
    emb = load_embedder("minilm")              # registry name, folder, adapter folder, hub id, openai:MODEL
    vecs = emb.encode(["how tall may a fence be?"], kind="query")

This is a provider layer (like `ragtune.llm`): the jobs that train embedders live in
`ragtune.embeddings`; evaluation and data generation take any object with `encode(texts, kind)`.
"""

from ragtune.embedders.adapter import Adapter, adapted_embedder, load_adapter, save_adapter
from ragtune.embedders.base import Embedder, Kind, normalise
from ragtune.embedders.fake import FakeEmbedder
from ragtune.embedders.loading import adapter_folder, load_adapted, load_embedder, openai_embedder, sentence_transformer_embedder

__all__ = ["Embedder", "Kind", "normalise", "FakeEmbedder", "Adapter", "adapted_embedder", "load_adapter", "save_adapter",
           "load_embedder", "load_adapted", "adapter_folder", "openai_embedder", "sentence_transformer_embedder"]
