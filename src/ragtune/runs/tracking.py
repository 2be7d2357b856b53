"""Experiment tracking of the trainers: `--report-to none|tensorboard|trackio|wandb` (none by default, offline)."""

from __future__ import annotations

import importlib.util

from ragtune.errors import InputError

__all__ = ["REPORT_TO_HELP", "TRACKERS", "report_to"]

REPORT_TO_HELP = ("experiment tracker of the trainer: 'none' (the offline default), 'tensorboard', 'trackio' or 'wandb', "
                  "each where its package is installed (tensorboard writes under RUN/checkpoints/runs)")
TRACKERS = {"tensorboard": "tensorboard", "trackio": "trackio", "wandb": "wandb"}


def report_to(value: str) -> str:
    """The trainer's `report_to` for a setting; a tracker whose package is missing is a clear error before training."""
    if value == "none":
        return "none"
    if value not in TRACKERS:
        raise InputError(f"--report-to must be none, {', '.join(TRACKERS)}; got {value!r}.")
    if importlib.util.find_spec(TRACKERS[value]) is None:
        raise InputError(f"--report-to {value}: the {TRACKERS[value]} package is not installed (pip install {TRACKERS[value]}).")
    return value
