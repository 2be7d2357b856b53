"""Load a reranker (a sentence-transformers CrossEncoder) by spec: a folder, a `train reranker` run folder
(its model/; a run that shipped none says why), or a cached hub id."""

from __future__ import annotations

from pathlib import Path

from ragtune.assets import resolve_model
from ragtune.device import resolve_device
from ragtune.errors import InputError
from ragtune.records import read_decision

__all__ = ["load_reranker", "reranker_path"]


def reranker_path(spec: str | Path) -> Path:
    """The CrossEncoder folder a spec names."""
    path = Path(spec).expanduser()
    if (path / "model").is_dir():
        return path / "model"
    decision = read_decision(path) if path.is_dir() else None
    if decision is not None:
        raise InputError(f"{path} is a reranker run that shipped no model: {decision.reason}")
    return resolve_model(str(spec))


def load_reranker(spec: str | Path, max_length: int | None = None, device: str | None = None):
    """A CrossEncoder ready to score (query, passage) pairs."""
    path = reranker_path(spec)  # a bad spec fails before sentence-transformers is imported
    from sentence_transformers import CrossEncoder

    return CrossEncoder(str(path), device=resolve_device(device), local_files_only=True, max_length=max_length)
