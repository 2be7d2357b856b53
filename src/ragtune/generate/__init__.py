"""Synthetic training data from documents: questions per chunk (filtered, resumable), hard negatives, pseudo-queries.

    from ragtune.generate import generate_queries, QueryGenConfig

Submodules load on first use, so importing a config (as the CLI does for `--help`) stays light.
"""

from __future__ import annotations

import importlib

__all__ = ["QueryGenConfig", "GenerationResult", "generate_queries", "summary_lines"]

_WHERE = {"QueryGenConfig": "config", "GenerationResult": "queries", "generate_queries": "queries", "summary_lines": "queries"}


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(importlib.import_module(f"ragtune.generate.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'ragtune.generate' has no attribute {name!r}")
