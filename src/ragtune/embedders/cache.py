"""A disk cache of embeddings, keyed by a fingerprint of the model and a hash of the text.

One SQLite file per model fingerprint under `RAGTUNE_HOME/embeddings/`. SQLite gives atomic,
concurrent-safe writes for free; vectors are stored as raw float32 bytes.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ragtune.assets import ragtune_home


def text_key(text: str, prompt: str = "") -> str:
    """Cache key of one input: the prompt prefix (if any) and the text."""
    return hashlib.sha256(f"{prompt}\x00{text}".encode("utf-8")).hexdigest()[:32]


class EmbeddingCache:
    """Vectors of one model, keyed by `text_key`."""

    def __init__(self, fingerprint: str, root: Path | None = None):
        folder = (root or ragtune_home() / "embeddings")
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / f"{fingerprint}.sqlite"
        self._db = sqlite3.connect(self.path, timeout=60, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS vec (key TEXT PRIMARY KEY, v BLOB NOT NULL)")

    def get_many(self, keys: Sequence[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        unique = list(dict.fromkeys(keys))
        for i in range(0, len(unique), 900):
            part = unique[i : i + 900]
            marks = ",".join("?" * len(part))
            for key, blob in self._db.execute(f"SELECT key, v FROM vec WHERE key IN ({marks})", part):
                found[key] = np.frombuffer(blob, dtype=np.float32)
        return found

    def put_many(self, keys: Sequence[str], vectors: np.ndarray) -> None:
        rows = [(k, np.ascontiguousarray(v, dtype=np.float32).tobytes()) for k, v in zip(keys, vectors)]
        with self._db:
            self._db.executemany("INSERT OR REPLACE INTO vec (key, v) VALUES (?, ?)", rows)

    def close(self) -> None:
        self._db.close()
