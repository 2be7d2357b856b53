"""`BaseVsTuned`: the two models a chat-task evaluator (`TaskEvaluator`) judges, made one way.

The base model answers from a reply cache across runs (`ragtune.llm.cache.local_reply_cache`: it is the same
model every run), the tuned candidate always generates. `llm(spec)` replaces the in-process `LocalLLM` (tests
pass fakes); a given factory's replies need not follow from the model's files, so they are never cached.
`base_replies` records what the cache did (metrics.json `task_eval.settings.base_replies`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ragtune.llm.cache import local_reply_cache
from ragtune.records import EvalReport

__all__ = ["BaseVsTuned"]


class BaseVsTuned:
    """Mixin of `SqlShipEvaluator` and `JsonShipEvaluator`: call `_models_setup` in `__init__`, `judge` in `evaluate`."""

    batch_size: int
    device: str
    json_schema: dict | None = None  # set: both models decode inside this JSON Schema (`LocalLLM(json_schema=)`)

    def _models_setup(self, *, batch_size: int, device: str, llm: Callable[[str], Any] | None, cache: bool) -> None:
        self.batch_size, self.device, self._llm = batch_size, device, llm
        self.cache = cache and llm is None
        self.base_replies: dict[str, Any] = {} if self.cache else {"cache": "off"}

    def make_llm(self, spec: str):
        if self._llm is not None:
            return self._llm(spec)
        from ragtune.llm import LocalLLM

        return LocalLLM(spec, batch_size=self.batch_size, device=self.device, json_schema=self.json_schema)

    def judge(self, base: str, tuned: str | Path, score: Callable[[Mapping[str, Any]], EvalReport]) -> EvalReport:
        """`score({"base": ..., "tuned": ...})` with the base behind its reply cache; records the cache's counts."""
        base_llm = self.make_llm(base)
        cached = None
        if self.cache:
            cached, self.base_replies = local_reply_cache(base_llm, base, batch_size=self.batch_size, device=self.device)
        report = score({"base": cached or base_llm, "tuned": self.make_llm(str(tuned))})
        if cached is not None:
            self.base_replies = {"cache": str(cached.path), "cached": cached.hits, "generated": cached.misses}
        return report
