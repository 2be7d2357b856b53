"""What evaluation needs from a model, as protocols: evaluation never imports a model package.

An `Encoder` is any embedder (`ragtune.embedders.Embedder`, a fake, a remote API wrapper); a `Scorer` is
anything that scores (query, passage) pairs, such as a sentence-transformers `CrossEncoder`. A
`TaskEvaluator` judges a tuned chat model against its base on held-out task data (text-to-SQL by execution:
`ragtune.sql.ship.SqlShipEvaluator`); `train_sft(evaluator=...)` ships on its paired gain instead of the
validation loss.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal, Protocol

import numpy as np

from ragtune.records import EvalReport

__all__ = ["Encoder", "Scorer", "TaskEvaluator"]


class Encoder(Protocol):
    """Text in, one L2-normalised float32 row per text out; queries and documents may be encoded differently."""

    name: str

    def encode(self, texts: Sequence[str], kind: Literal["query", "document"] = "document", batch_size: int = 64,
               show_progress: bool = False) -> np.ndarray:
        ...


class Scorer(Protocol):
    """Scores (query, passage) pairs; higher means more relevant."""

    def predict(self, inputs: list[tuple[str, str]], batch_size: int = 32, show_progress_bar: bool | None = None) -> np.ndarray:
        ...


class TaskEvaluator(Protocol):
    """Held-out task data that decides whether a tuned chat model ships.

    `name` says what decides (the decision's `decided_by`, e.g. "eval sql"), `dataset` names the data (the
    report's dataset, e.g. "test"), `metric` is the report's headline (e.g. "test_suite_accuracy").
    `evaluate(base, tuned)` gets the base model's spec and the folder of the tuned model (a LoRA adapter with
    its ragtune_base.json, or a full model) and returns an `EvalReport` whose first result is the base, labelled
    "base", and whose second is the tuned model, labelled "tuned", with its paired comparison (`vs_first`).
    An evaluator may also have `settings` (a dict: how it judges, e.g. fills and decoding), which the run
    records with the decision."""

    name: str
    dataset: str
    metric: str

    def evaluate(self, base: str, tuned: str | Path) -> EvalReport:
        ...
