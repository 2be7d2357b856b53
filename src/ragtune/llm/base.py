"""The provider interface: one async method, `complete`, plus the helpers every caller shares.

A provider is any object with a `model` string and

    async def complete(self, messages, *, max_tokens=256, temperature=0.0, seed=None, logprobs=None) -> Completion

`logprobs=k` (optional; callers pass it only when they want it) asks for the k most likely first reply
tokens with their log-probabilities, in `Completion.top_logprobs`; a provider that cannot give them
leaves it None (the local model, FakeLLM and the OpenAI provider can).

`messages` is an OpenAI-style chat list (`[{"role": "user", "content": "..."}]`). A provider
either returns a `Completion` or raises `ragtune.errors.LLMError` once its own bounded retries are
spent (`LLMError.fatal` is True when retrying other prompts is pointless, e.g. a wrong API key).

Concurrency is the caller's choice: `complete_many` runs many prompts with at most `concurrency`
in flight and hands each result to a callback the moment it finishes (for journaling). The local
provider turns concurrent calls into batched forward passes, so the same code drives both.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from ragtune.errors import LLMError

Messages = list[dict[str, str]]


@dataclass(frozen=True)
class Completion:
    """One answer from an LLM, with token counts for throughput and cost reports."""

    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    model: str = ""
    finish_reason: str | None = None
    # the first reply token's `logprobs` most likely tokens: ((token text, natural-log probability), ...), best first;
    # None unless the call asked for them (and the provider can give them)
    top_logprobs: tuple[tuple[str, float], ...] | None = None


class LLM(Protocol):
    """What ragtune needs from a chat model: a name and one async method."""

    model: str

    async def complete(
        self, messages: Messages, *, max_tokens: int = 256, temperature: float = 0.0, seed: int | None = None,
        logprobs: int | None = None,
    ) -> Completion:
        """Answer one chat prompt; raise LLMError after bounded retries. `logprobs=k`: the first token's top k too."""
        ...


class FatalLLMError(LLMError):
    """An error that will not go away by retrying (bad key, unknown model, bad request)."""

    fatal = True


class UnreachableError(LLMError):
    """Every try of a prompt failed to connect: nothing answers at the server's address."""


def check_llm(llm: object) -> None:
    """Resolve an LLM before its first call: a local model's folder (a hub id that is not cached fails here), a
    server's address (nothing listening fails here, naming the URL). A provider opts in with a `check()` method;
    wrappers (`Recorder`) are looked through."""
    while llm is not None:
        check = getattr(llm, "check", None)
        if callable(check):
            check()
            return
        llm = getattr(llm, "llm", None)


@dataclass(frozen=True)
class Outcome:
    """The result of one prompt in `complete_many`: a completion, or the error that ended it."""

    index: int
    completion: Completion | None
    error: LLMError | None = None


async def complete_many(
    llm: LLM,
    prompts: Sequence[Messages],
    *,
    concurrency: int = 8,
    max_tokens: int = 256,
    temperature: float = 0.0,
    seeds: Sequence[int | None] | None = None,
    on_done: Callable[[Outcome], Awaitable[None] | None] | None = None,
    logprobs: int | None = None,
) -> list[Outcome]:
    """Run every prompt with at most `concurrency` in flight; a failed prompt does not stop the others.

    A `FatalLLMError` stops the whole run (raised after in-flight prompts settle), and so do connection failures
    on every prompt of the first wave (`UnreachableError` before any success): the server is not there, and
    trying every other prompt would only repeat that. `logprobs` is passed to `complete` only when given
    (providers written before it need not take it).
    """
    if concurrency < 1:
        raise ValueError(f"concurrency must be >= 1; got {concurrency}")
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(len(prompts)):
        queue.put_nowait(i)
    outcomes: list[Outcome | None] = [None] * len(prompts)
    fatal: list[LLMError] = []
    first_wave = min(concurrency, len(prompts))
    seen = {"ok": 0, "unreachable": 0}
    extra = {"logprobs": logprobs} if logprobs else {}

    async def worker() -> None:
        while not fatal and not queue.empty():
            i = queue.get_nowait()
            seed = seeds[i] if seeds is not None else None
            try:
                done = Outcome(i, await llm.complete(prompts[i], max_tokens=max_tokens, temperature=temperature, seed=seed,
                                                   **extra))
            except FatalLLMError as e:
                fatal.append(e)
                return
            except LLMError as e:
                done = Outcome(i, None, e)
                if isinstance(e, UnreachableError) and not seen["ok"]:
                    seen["unreachable"] += 1
                    if seen["unreachable"] >= first_wave:
                        fatal.append(UnreachableError(f"{e}; stopped after the first {first_wave} prompt(s) all failed "
                                                      "to connect: is the server running?"))
                        return
            else:
                seen["ok"] += 1
            outcomes[i] = done
            if on_done is not None:
                res = on_done(done)
                if asyncio.iscoroutine(res):
                    await res

    await asyncio.gather(*(worker() for _ in range(min(concurrency, max(1, len(prompts))))))
    if fatal:
        raise fatal[0]
    return [o for o in outcomes if o is not None]


def complete_sync(llm: LLM, messages: Messages, **kwargs) -> Completion:
    """Blocking one-off call (for scripts and notebooks without an event loop)."""
    return asyncio.run(llm.complete(messages, **kwargs))


def user_message(text: str, system: str | None = None) -> Messages:
    """A chat list with an optional system message and one user turn."""
    return ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": text}]
