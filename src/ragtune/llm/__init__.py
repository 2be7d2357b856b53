"""LLM providers behind one small interface (`LLM.complete`), plus a recorder of calls and a cache of greedy replies.

    from ragtune.llm import load_llm, complete_many, user_message, Recorder

    llm = load_llm("openai:gpt-4o-mini", base_url="http://127.0.0.1:8000/v1")   # or "local"
    llm = Recorder(llm, "teacher.jsonl")        # every answer appended as OpenAI chat JSONL
    outs = asyncio.run(complete_many(llm, [user_message("Hi")], concurrency=8))

To add a provider, write a class with a `model` string and
`async def complete(messages, *, max_tokens, temperature, seed) -> Completion`.
"""

from __future__ import annotations

import os

from ragtune.errors import InputError
from ragtune.llm.base import (LLM, Completion, FatalLLMError, Messages, Outcome, UnreachableError, check_llm, complete_many,
                              complete_sync, user_message)
from ragtune.llm.cache import ReplyCache
from ragtune.llm.fake import FakeLLM
from ragtune.llm.local import LOCAL_BATCH, LocalLLM, default_local_model, installed_local_models
from ragtune.llm.openai_provider import OpenAIProvider, check_server
from ragtune.llm.recorder import Recorder
from ragtune.secrets import scrub
from ragtune.llm.retry import RetryPolicy

__all__ = [
    "LLM", "Completion", "FatalLLMError", "UnreachableError", "Messages", "Outcome", "check_llm", "check_server",
    "complete_many", "complete_sync", "user_message",
    "FakeLLM", "LocalLLM", "default_local_model", "installed_local_models", "default_concurrency", "OpenAIProvider", "Recorder", "ReplyCache", "scrub", "RetryPolicy", "load_llm",
]


SERVER_CONCURRENCY = 8


def default_concurrency(spec: str) -> int:
    """Prompts per batch for the in-process model (32: batched CPU generation gains up to about
    there; see bench/generate_throughput.py), requests in flight for a server (8)."""
    return LOCAL_BATCH if spec.partition(":")[0] == "local" else SERVER_CONCURRENCY


def load_llm(spec: str = "local", *, base_url: str | None = None, api_key_env: str = "OPENAI_API_KEY",
             concurrency: int = SERVER_CONCURRENCY, timeout: float = 60.0, retry: RetryPolicy | None = None,
             batch_size: int = LOCAL_BATCH, device: str = "auto", json_schema: dict | None = None) -> LLM:
    """`local` (best installed local model), `local:MODEL` (registry name or folder), or `openai:MODEL`.

    For `openai:` the key is read from the environment variable `api_key_env` (a local server
    without auth needs none); `base_url` points at any OpenAI-compatible server. `json_schema`: every reply
    is constrained to that JSON Schema (the local model masks tokens step by step; a server is asked for
    structured outputs).
    """
    kind, _, name = spec.partition(":")
    if kind == "local":
        return LocalLLM(name or None, batch_size=batch_size, device=device, json_schema=json_schema)
    if kind == "openai":
        if not name:
            raise InputError("--llm openai:MODEL needs a model name, e.g. openai:gpt-4o-mini or openai:qwen2.5:0.5b")
        key = os.environ.get(api_key_env)
        if not key and not base_url:
            raise InputError(f"--llm {spec}: set the API key in ${api_key_env} (or --api-key-env NAME), "
                             "or give --base-url for a local server that needs no key.")
        return OpenAIProvider(name, base_url=base_url, api_key=key, max_concurrency=concurrency,
                              timeout=timeout, retry=retry, json_schema=json_schema)
    raise InputError(f"unknown --llm {spec!r}: use 'local', 'local:MODEL' (a registry name or folder) or 'openai:MODEL'.")
