"""Record every LLM call and its answer as OpenAI chat fine-tuning JSONL, secrets scrubbed."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from pathlib import Path

from ragtune.io import append_jsonl
from ragtune.llm.base import LLM, Completion, Messages
from ragtune.secrets import scrub, secrets_from_env


class Recorder:
    """Wraps any provider; appends `{"messages": [...prompt, {"role": "assistant", ...}]}` per answer.

    The file is OpenAI fine-tuning JSONL, ready for `ragtune` chat SFT. Each line is written with
    one fsynced append under a lock, so concurrent calls never interleave and a crash leaves at
    most one torn last line (which `ragtune.io.read_jsonl_tolerant` skips). Failed calls are not
    recorded. Secret values (from `secrets` and secret-looking environment variables) are scrubbed.
    """

    def __init__(self, llm: LLM | None, path: str | Path, secrets: Iterable[str] = ()):
        """`llm` is the provider whose calls `complete` records; None for a recorder fed through `record` only
        (e.g. ragtune.integrations.llamaindex.ChatRecorder, which records another framework's LLM calls)."""
        self.llm = llm
        self.model = llm.model if llm is not None else None
        self.path = Path(path)
        self.secrets = [*secrets, *secrets_from_env()]
        self._lock = threading.Lock()
        self.count = 0

    async def complete(self, messages: Messages, *, max_tokens: int = 256, temperature: float = 0.0,
                       seed: int | None = None, logprobs: int | None = None) -> Completion:
        if self.llm is None:
            raise TypeError("this Recorder records through record() only: it was made without an LLM")
        done = await self.llm.complete(messages, max_tokens=max_tokens, temperature=temperature, seed=seed,
                                       **({"logprobs": logprobs} if logprobs else {}))
        self.record(messages, done.text)
        return done

    def record(self, messages: Messages, answer: str) -> None:
        """Append one conversation (prompt + answer) to the file."""
        turns = [{"role": m["role"], "content": scrub(m["content"], self.secrets)} for m in messages]
        turns.append({"role": "assistant", "content": scrub(answer, self.secrets)})
        with self._lock:
            append_jsonl(self.path, {"messages": turns})
            self.count += 1
