"""The run folder: one process at a time, log.txt, config.json, resume or refuse, checkpoints, eval/, model/, metrics.

    RUN/
      config.json      the resolved configuration ({"job": ..., every field}; a valid --config input)
      metrics.json     {"job", "decision": ShipDecision, ...the job's figures}
      model/           the result; absent when the run refused to ship (metrics.json says why)
      checkpoints/     for resuming; safe to delete
      data/            what the run generated or split
      eval/NAME.json   one evaluation report per evaluation set
      card.md          what the model is, from what data, how it scored against its base
      log.txt          the run's log (appended: a resumed run keeps its history)
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from ragtune.errors import InputError
from ragtune.io import atomic_dir, atomic_write_json, atomic_write_text, hold_folder
from ragtune.records import EvalReport, RunMetrics, ShipDecision, read_metrics, read_report, write_metrics, write_report
from ragtune.runs.card import hub_card, hub_meta
from ragtune.secrets import scrub

__all__ = ["Run", "training_curve", "LOG_FORMAT"]

log = logging.getLogger("ragtune.runs")
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class Run:
    """A run folder held by this process for the duration of a `with` block.

    `resumable` names configuration fields that may change between a run and its resumption (they trade
    memory for time and do not change the result); every other difference makes the folder refuse the run.
    """

    def __init__(self, folder: str | Path, job: str, config: BaseModel, *, resumable: Iterable[str] = (),
                 loggers: Iterable[str] = ("ragtune",)):
        self.folder = Path(folder)
        self.job, self.config, self.resumable = job, config, tuple(resumable)
        self._loggers = tuple(loggers)
        self._handler: logging.Handler | None = None
        self._lock = None

    # -- the folder's paths
    @property
    def data(self) -> Path:
        return self.folder / "data"

    @property
    def checkpoints(self) -> Path:
        return self.folder / "checkpoints"

    @property
    def model(self) -> Path:
        return self.folder / "model"

    # -- holding the folder
    def __enter__(self) -> "Run":
        if int(os.environ.get("RANK", "0")) == 0:  # under `accelerate launch` (DDP) rank 0 holds the folder for all
            self._lock = hold_folder(self.folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._handler = logging.FileHandler(self.folder / "log.txt", encoding="utf-8")
        self._handler.setFormatter(logging.Formatter(LOG_FORMAT))
        for name in self._loggers:
            logging.getLogger(name).addHandler(self._handler)
            logging.getLogger(name).setLevel(logging.INFO)
        self._quiet = _LibraryWarnings(self._handler)
        return self

    def __exit__(self, *exc) -> None:
        if getattr(self, "_quiet", None) is not None:
            self._quiet.close()
            self._quiet = None
        if self._handler is not None:
            for name in self._loggers:
                logging.getLogger(name).removeHandler(self._handler)
            self._handler.close()
            self._handler = None
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    # -- resume or refuse
    def stored_config(self) -> dict[str, Any]:
        return {"job": self.job, **self.config.model_dump()}

    def finished(self) -> RunMetrics | None:
        """The recorded metrics of a finished run with this configuration; None to (re)start. A folder that holds
        another configuration's results or checkpoints is refused: resuming them would mislabel the model."""
        try:
            old = json.loads((self.folder / "config.json").read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            return None
        if not self._same(old):
            if (self.checkpoints).exists() or (self.folder / "metrics.json").exists():
                raise InputError(f"{self.folder} already holds a {old.get('job', '')} run with a different configuration; "
                                 "choose another -o folder (or delete it), or rerun with the same options to resume.")
            return None
        if not (self.folder / "metrics.json").is_file():
            return None
        log.info("%s is already finished with this configuration; returning the recorded result (delete it to train again)",
                 self.folder)
        return read_metrics(self.folder)

    def _same(self, old: dict[str, Any]) -> bool:
        """Compared with defaults filled in (a run finished before a new field existed still counts)."""
        if old.get("job") != self.job:
            return False
        try:
            stored = type(self.config).model_validate({k: v for k, v in old.items() if k != "job"})
        except ValidationError:
            return False
        skip = set(self.resumable)
        return stored.model_dump(exclude=skip) == self.config.model_dump(exclude=skip)

    def start(self) -> None:
        """Record the configuration (config.json) before any work."""
        atomic_write_json(self.folder / "config.json", self.stored_config())

    def last_checkpoint(self) -> str | None:
        """The newest trainer checkpoint under RUN/checkpoints/, to resume from."""
        from transformers.trainer_utils import get_last_checkpoint

        return get_last_checkpoint(str(self.checkpoints)) if self.checkpoints.is_dir() else None

    # -- results
    def write_eval(self, name: str, report: EvalReport) -> Path:
        return write_report(self.folder / "eval" / f"{name}.json", report)

    def ship(self, decision: ShipDecision, write_model: Callable[[Path], None]) -> None:
        """Write RUN/model/ (whole, through a temp folder) when the decision ships; otherwise remove any old one."""
        if decision.shipped:
            with atomic_dir(self.model) as tmp:
                write_model(tmp)
            log.info(decision.reason)
        else:
            shutil.rmtree(self.model, ignore_errors=True)
            log.warning(decision.reason)

    def finish(self, decision: ShipDecision, fields: dict[str, Any], card_text: str) -> RunMetrics:
        """Write metrics.json (the decision first, then the job's figures) and card.md; return the metrics."""
        metrics = RunMetrics(job=self.job, decision=decision, **fields)
        write_metrics(self.folder, metrics)
        atomic_write_text(self.folder / "card.md", card_text)
        if decision.shipped and self.model.is_dir():
            atomic_write_text(self.model / "README.md", self.model_card(decision, fields, card_text))
        return metrics

    def model_card(self, decision: ShipDecision, fields: dict[str, Any], card_text: str) -> str:
        """RUN/model/README.md: the Hugging Face model card (front matter with the measured model-index, then the
        card text), with this machine's paths replaced and secrets scrubbed."""
        title = card_text.lstrip().split("\n", 1)[0].lstrip("# ").strip() or f"ragtune {self.job}"
        hide = {str(self.folder.resolve()): "RUN", str(self.folder): "RUN", str(Path.home()): "~"}
        if os.environ.get("RAGTUNE_HOME"):
            hide[os.environ["RAGTUNE_HOME"]] = "RAGTUNE_HOME"
        text = hub_card(hub_meta(self.job, self.config, decision.model), title, self._measured(decision, fields),
                        card_text, hide={k: v for k, v in hide.items() if k not in ("", ".", "/")})
        return scrub(text)

    def _measured(self, decision: ShipDecision, fields: dict[str, Any]) -> dict[str, dict[str, float]]:
        """The shipped model's metrics per evaluation set, as metrics.json holds them (else as eval/NAME.json does)."""
        tables = fields.get("models")
        if isinstance(tables, dict) and tables:
            return {name: dict(t[decision.model]) for name, t in tables.items() if isinstance(t, dict) and decision.model in t}
        out = {}
        for path in sorted((self.folder / "eval").glob("*.json")):
            rep = read_report(path)
            labels = [r.model for r in rep.results]
            if decision.model in labels:
                out[path.stem] = dict(rep.result(decision.model).metrics)
            elif rep.task == "sft" and len(labels) > 1:
                out[path.stem] = dict(rep.results[-1].metrics)
        return out


LIBRARY_LOGGERS = ("py.warnings", "transformers", "sentence_transformers", "trl", "peft", "accelerate", "datasets")


class _LibraryWarnings:
    """While a run holds its folder, Python warnings (FutureWarning, DeprecationWarning, ...) and the warnings of
    the ML libraries go to the run's log.txt, not to the user's console. The outermost run restores everything."""

    depth = 0

    def __init__(self, handler: logging.Handler):
        self.handler, self.saved = handler, []
        _LibraryWarnings.depth += 1
        if _LibraryWarnings.depth == 1:
            logging.captureWarnings(True)
        self._quiet_transformers()
        for name in LIBRARY_LOGGERS:
            lg = logging.getLogger(name)
            consoles = [h for h in lg.handlers if isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler)]
            self.saved.append((lg, lg.propagate, consoles))
            for h in consoles:
                lg.removeHandler(h)
            lg.addHandler(handler)
            lg.propagate = False

    @staticmethod
    def _quiet_transformers() -> None:
        """transformers installs its own console handler when it is first imported; make it exist now, so the loop
        above can move it aside (the jobs import transformers anyway)."""
        import importlib.util

        if importlib.util.find_spec("transformers") is not None:
            import transformers.utils.logging as tl  # noqa: F401 - configures the library's root logger

            tl.get_logger("transformers")

    def close(self) -> None:
        for lg, propagate, consoles in reversed(self.saved):
            lg.removeHandler(self.handler)
            lg.propagate = propagate
            for h in consoles:
                lg.addHandler(h)
        _LibraryWarnings.depth -= 1
        if _LibraryWarnings.depth == 0:
            logging.captureWarnings(False)


def training_curve(history: list[dict[str, Any]], evals: tuple[str, ...]) -> list[dict[str, Any]]:
    """The trainer's log history as curve rows: step, epoch, training loss and learning rate, and the `evals` metrics."""
    keep = ("loss", "learning_rate", "grad_norm", *evals)
    return [{"step": h.get("step"), "epoch": h.get("epoch"), **{k: h[k] for k in keep if k in h}}
            for h in history if "loss" in h or any(e in h for e in evals)]
