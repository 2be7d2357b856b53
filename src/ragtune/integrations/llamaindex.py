"""LlamaIndex embedding class that applies a ragtune adapter (needs `pip install 'ragtune[llamaindex]'`).

    from ragtune.integrations.llamaindex import AdapterEmbedding
    Settings.embed_model = AdapterEmbedding("runs/adapter/model")

A fully fine-tuned model needs no bridge: `HuggingFaceEmbedding(model_name="RUN/model")` loads it.
"""

from __future__ import annotations

from typing import Any

try:
    from llama_index.core.base.embeddings.base import BaseEmbedding
    from pydantic import PrivateAttr
except ImportError as e:  # pragma: no cover - exercised only without the extra
    raise ImportError("ragtune.integrations.llamaindex needs LlamaIndex: pip install 'ragtune[llamaindex]' "
                      "(or llama-index-core).") from e


class AdapterEmbedding(BaseEmbedding):
    """Queries (and documents, for a 'both' adapter) embedded by the frozen base, then adapted."""

    _embedder: Any = PrivateAttr()

    def __init__(self, adapter_folder: str, base_url: str | None = None, **kwargs: Any):
        from ragtune.embedders import load_adapted

        embedder = load_adapted(adapter_folder, base_url=base_url)
        super().__init__(model_name=embedder.name, **kwargs)
        self._embedder = embedder

    @classmethod
    def class_name(cls) -> str:
        return "RagtuneAdapterEmbedding"

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._embedder.encode([query], kind="query")[0].tolist()

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._embedder.encode([text], kind="document")[0].tolist()

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self._embedder.encode(texts, kind="document").tolist()

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)
