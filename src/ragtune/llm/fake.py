"""A deterministic fake LLM for tests: it answers from a queue of canned replies."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Iterable

from ragtune.errors import LLMError
from ragtune.llm.base import Completion, Messages

Reply = str | Exception | Callable[[Messages], str]
TopLogprobs = Callable[[Messages, str], "list[tuple[str, float]] | None"]


class FakeLLM:
    """Answers each call with the next canned reply, in call order.

    A reply is a string, an exception instance (raised), or a function of the messages (for replies
    that depend on the prompt, which keeps tests deterministic under concurrency). Every call's
    messages are kept in `calls`. Token counts are whitespace word counts.

    A call with `logprobs=k` gets `top_logprobs`: `top_logprobs(messages, text)` when given (its first k
    entries), else the reply's first whitespace token with log-probability 0.0 (probability 1).
    """

    def __init__(self, replies: Iterable[Reply] = (), model: str = "fake", delay: float = 0.0,
                 default: Reply | None = None, top_logprobs: TopLogprobs | None = None):
        self.model = model
        self.replies: deque[Reply] = deque(replies)
        self.default = default
        self.delay = delay
        self.calls: list[Messages] = []
        self.top_logprobs = top_logprobs

    async def complete(self, messages: Messages, *, max_tokens: int = 256, temperature: float = 0.0,
                       seed: int | None = None, logprobs: int | None = None) -> Completion:
        self.calls.append(messages)
        if self.delay:
            await asyncio.sleep(self.delay)
        if not self.replies and self.default is None:
            raise LLMError(f"FakeLLM ran out of canned replies after {len(self.calls) - 1} call(s)")
        reply = self.replies.popleft() if self.replies else self.default
        if isinstance(reply, Exception):
            raise reply
        text = reply(messages) if callable(reply) else reply
        prompt = " ".join(m["content"] for m in messages)
        top = tuple(fake_top_logprobs(self.top_logprobs, messages, text, logprobs)) if logprobs else None
        return Completion(text, len(prompt.split()), len(text.split()), self.model, "stop", top)


def fake_top_logprobs(given: TopLogprobs | None, messages: Messages, text: str, k: int) -> list[tuple[str, float]]:
    """The first k of `given(messages, text)`, or by default the reply's first whitespace token at log-probability 0
    (what FakeLLM and the 127.0.0.1 test server answer to a call that asks for `logprobs=k`)."""
    top = given(messages, text) if given else ([(text.split()[0], 0.0)] if text.split() else [])
    return [(str(t), float(lp)) for t, lp in list(top or [])[:k]]
