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


# ---------------------------------------------------------------------------------------------
# a ragtune chat model (a tuned text-to-SQL model, say) as a LlamaIndex LLM

from llama_index.core.llms import CompletionResponse, CompletionResponseGen, CustomLLM, LLMMetadata  # noqa: E402
from llama_index.core.llms.callbacks import llm_completion_callback  # noqa: E402
from llama_index.core.prompts import PromptTemplate  # noqa: E402


def text_to_sql_prompt(system: str) -> PromptTemplate:
    """A `text_to_sql_prompt` for `NLSQLTableQueryEngine` in ragtune's training format (the system line, the schema,
    the question), so a model tuned with `ragtune sql prepare` + `train sft` sees what it was trained on; pass
    `ragtune.sql.SYSTEM_PROMPT` as `system` (integrations and sql are independent packages)."""
    return PromptTemplate(system + "\n\nDatabase schema:\n{schema}\n\nQuestion: {query_str}")


class RagtuneLLM(CustomLLM):
    """Any ragtune LLM (`LocalLLM`, a server through `load_llm`, a `FakeLLM`) or a model spec (registry name,
    model folder, `train sft` run folder) as a LlamaIndex LLM: each prompt is sent as one user turn, greedily.

        from llama_index.core import SQLDatabase
        from llama_index.core.query_engine import NLSQLTableQueryEngine
        from sqlalchemy import create_engine
        db = SQLDatabase(create_engine("sqlite:///file:shop.sqlite?mode=ro&uri=true"))   # read-only
        engine = NLSQLTableQueryEngine(db, tables=["shop"], llm=RagtuneLLM("runs/sql"),
                                       text_to_sql_prompt=text_to_sql_prompt(ragtune.sql.SYSTEM_PROMPT))
    """

    max_tokens: int = 256
    _llm: Any = PrivateAttr()

    def __init__(self, llm: Any, max_tokens: int = 256, **kwargs: Any):
        super().__init__(max_tokens=max_tokens, **kwargs)
        if isinstance(llm, str):
            from ragtune.llm import LocalLLM, load_llm

            llm = load_llm(llm) if llm.startswith(("openai:", "local")) else LocalLLM(llm)
        self._llm = llm

    @classmethod
    def class_name(cls) -> str:
        return "RagtuneLLM"

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(model_name=str(getattr(self._llm, "model", "ragtune")), num_output=self.max_tokens,
                           is_chat_model=False)

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        import asyncio

        done = asyncio.run(self._llm.complete([{"role": "user", "content": prompt}], max_tokens=self.max_tokens,
                                              temperature=0.0))
        return CompletionResponse(text=done.text)

    @llm_completion_callback()
    def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponseGen:
        response = self.complete(prompt, formatted=formatted)
        yield CompletionResponse(text=response.text, delta=response.text)
