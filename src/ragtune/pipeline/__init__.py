"""`ragtune run`: documents in; synthetic data, a fine-tuned model, an adapter and one honest report out.

    from ragtune.pipeline import run, RunConfig
    metrics = run(RunConfig(output="runs/demo"))      # the bundled construction-faq demo

See `ragtune.pipeline.job` for the stages. Submodules load on first use.
"""

from __future__ import annotations

import importlib

__all__ = ["RunConfig", "run", "faq_chunks"]

_WHERE = {"RunConfig": "config", "run": "job", "faq_chunks": "job"}


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(importlib.import_module(f"ragtune.pipeline.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'ragtune.pipeline' has no attribute {name!r}")
