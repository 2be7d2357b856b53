"""LlamaIndex classes for ragtune's outputs (needs `pip install 'ragtune[llamaindex]'`).

    from ragtune.integrations.llamaindex import AdapterEmbedding, ChatRecorder
    Settings.embed_model = AdapterEmbedding("runs/adapter/model")   # a shipped adapter (or its run folder)
    with ChatRecorder("calls.jsonl"):                                # record the app's LLM calls for distillation
        index.as_query_engine().query("...")

A fully fine-tuned model needs no bridge: `HuggingFaceEmbedding(model_name="RUN/model")` (from
llama-index-embeddings-huggingface, in the extra) loads it. An adapter's model/ folder does not work there:
it is an asymmetric sentence-transformers model (a Router), and HuggingFaceEmbedding encodes queries with
`prompt_name="query"`, which a Router does not route on, so queries would skip the adapter. Use
AdapterEmbedding for adapters.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ragtune.llm.recorder import Recorder

try:
    from llama_index.core.base.embeddings.base import BaseEmbedding
    from llama_index.core.instrumentation import get_dispatcher
    from llama_index.core.instrumentation.event_handlers import BaseEventHandler
    from llama_index.core.instrumentation.events.llm import LLMChatEndEvent, LLMCompletionEndEvent
    from llama_index.core.instrumentation.span import BaseSpan
    from llama_index.core.instrumentation.span_handlers import BaseSpanHandler
    from llama_index.core.llms import CompletionResponse, CompletionResponseGen, CustomLLM, LLMMetadata
    from llama_index.core.llms.callbacks import llm_completion_callback
    from llama_index.core.prompts import PromptTemplate
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


class _SpanParents(BaseSpanHandler[BaseSpan]):
    """Learns each open span's parent, so a call recorded inside another (a chat() that calls complete(), or the
    reverse) marks the outer one as covered; a span's entries go when it closes."""

    _parents: dict[str, str | None] = PrivateAttr(default_factory=dict)
    _covered: set[str] = PrivateAttr(default_factory=set)

    @classmethod
    def class_name(cls) -> str:
        return "RagtuneSpanParents"

    def new_span(self, id_: str, bound_args: Any, instance: Any = None, parent_span_id: str | None = None,
                 tags: dict[str, Any] | None = None, **kwargs: Any) -> BaseSpan:
        self._parents[id_] = parent_span_id
        return BaseSpan(id_=id_, parent_id=parent_span_id)

    def prepare_to_exit_span(self, id_: str, bound_args: Any, instance: Any = None, result: Any = None,
                             **kwargs: Any) -> BaseSpan | None:
        return self._close(id_)

    def prepare_to_drop_span(self, id_: str, bound_args: Any, instance: Any = None, err: BaseException | None = None,
                             **kwargs: Any) -> BaseSpan | None:
        return self._close(id_)

    def _close(self, id_: str) -> BaseSpan | None:
        self._parents.pop(id_, None)
        self._covered.discard(id_)
        return self.open_spans.get(id_)

    def first_inside(self, span_id: str) -> bool:
        """True for the first call recorded inside each enclosing call (it covers them); False for a call that
        encloses one already recorded."""
        if span_id in self._covered:
            return False
        self._covered.update(self.ancestors(span_id))
        return True

    def ancestors(self, span_id: str | None) -> list[str]:
        found: list[str] = []
        while span_id is not None and (span_id := self._parents.get(span_id)) is not None:
            found.append(span_id)
        return found


class ChatRecorder(BaseEventHandler):
    """Record every LLM call a LlamaIndex app makes as chat JSONL, ready for `ragtune train sft` (what
    llama-index-finetuning's OpenAIFineTuningHandler did, on ragtune's Recorder: fsynced appends, secrets
    scrubbed, safe under concurrency).

        with ChatRecorder("teacher-calls.jsonl") as rec:     # or rec = ChatRecorder(...).attach()
            engine.query("How long does concrete cure?")
        # rec.count calls recorded; then: ragtune train sft teacher-calls.jsonl --model smollm2-135m-instruct -o RUN

    A chat call is recorded as its messages plus the answer; a completion call as one user turn. When one call
    runs inside another (LlamaIndex implements chat() with complete() for completion models, and the reverse
    for chat models), only the innermost, the prompt the model really saw, is recorded.
    """

    path: str
    _recorder: Recorder = PrivateAttr()
    _spans: _SpanParents = PrivateAttr()
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    def __init__(self, path: str | Path, secrets: Iterable[str] = (), **kwargs: Any):
        super().__init__(path=str(path), **kwargs)
        self._recorder = Recorder(None, path, secrets)
        self._spans = _SpanParents()

    @classmethod
    def class_name(cls) -> str:
        return "RagtuneChatRecorder"

    @property
    def count(self) -> int:
        """Calls recorded so far."""
        return self._recorder.count

    def attach(self) -> ChatRecorder:
        """Listen to every LLM call (LlamaIndex's root dispatcher)."""
        dispatcher = get_dispatcher()
        dispatcher.add_span_handler(self._spans)
        dispatcher.add_event_handler(self)
        return self

    def detach(self) -> None:
        dispatcher = get_dispatcher()
        for handlers, handler in ((dispatcher.event_handlers, self), (dispatcher.span_handlers, self._spans)):
            if handler in handlers:
                handlers.remove(handler)

    def __enter__(self) -> ChatRecorder:
        return self.attach()

    def __exit__(self, *exc: Any) -> None:
        self.detach()

    def handle(self, event: Any, **kwargs: Any) -> None:
        if isinstance(event, LLMChatEndEvent) and event.response is not None:
            messages = [{"role": str(getattr(m.role, "value", m.role)), "content": m.content or ""} for m in event.messages]
            answer = event.response.message.content or ""
        elif isinstance(event, LLMCompletionEndEvent):
            messages, answer = [{"role": "user", "content": event.prompt}], event.response.text
        else:
            return
        with self._lock:
            innermost = self._spans.first_inside(event.span_id)
        if innermost:
            self._recorder.record(messages, answer)


# ---------------------------------------------------------------------------------------------
# a ragtune chat model (a tuned text-to-SQL model, say) as a LlamaIndex LLM


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
