"""Training progress where no bar is drawn (CI, `| tee`, a log file): a line at least every 30 s with steps
done/total and the ETA (`ragtune.io.ProgressLines`), from a transformers TrainerCallback."""

from __future__ import annotations

__all__ = ["progress_callback"]


def progress_callback(what: str = "training", every: float = 30.0):
    """A TrainerCallback printing `what: step/max_steps (pct), elapsed, ETA` on stderr at most every `every` s."""
    from transformers import TrainerCallback

    from ragtune.io import ProgressLines

    class ProgressLinesCallback(TrainerCallback):
        lines: ProgressLines | None = None

        def on_train_begin(self, args, state, control, **kwargs):
            self.lines = ProgressLines(what, state.max_steps, every=every, done=state.global_step)

        def on_step_end(self, args, state, control, **kwargs):
            if self.lines is not None:
                self.lines.update(state.global_step)

    return ProgressLinesCallback()
