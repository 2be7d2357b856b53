"""The crash-safe generation journal: one fsynced JSON line per finished (chunk, sample) call.

A record is keyed by the chunk's text hash, the prompt hash, the model and the sample index, so a
rerun with the same settings skips every finished call, and a rerun with a changed prompt or model
generates afresh without mixing results. Raw replies are stored (not parsed questions), so a change
of cleaning rules never needs the LLM again. A torn last line (kill -9 mid-write) is skipped on
read and repaired on the next append.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from ragtune.io import append_jsonl, read_jsonl_tolerant


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def call_key(chunk_text: str, prompt_hash: str, model: str, sample: int) -> str:
    """The journal key of one LLM call."""
    return f"{text_hash(chunk_text)}:{prompt_hash}:{model}:{sample}"


class Journal:
    """Append-only record of finished calls; `done` maps key -> record."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.done: dict[str, dict] = {}
        for row in read_jsonl_tolerant(self.path):
            if isinstance(row.get("key"), str) and isinstance(row.get("reply"), str):
                self.done.setdefault(row["key"], row)

    def add(self, record: dict) -> None:
        """Persist one finished call (fsynced) before it counts as done."""
        append_jsonl(self.path, record)
        self.done.setdefault(record["key"], record)
