"""What evaluation needs from a model, as protocols: evaluation never imports a model package.

An `Encoder` is any embedder (`ragtune.embedders.Embedder`, a fake, a remote API wrapper); a `Scorer` is
anything that scores (query, passage) pairs, such as a sentence-transformers `CrossEncoder`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, Protocol

import numpy as np

__all__ = ["Encoder", "Scorer"]


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
