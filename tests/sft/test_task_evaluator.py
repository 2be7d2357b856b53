"""`train_sft(evaluator=...)`: a task evaluator's paired gain decides the ship, not the validation loss.

A stub evaluator returns a report with fixed per-question scores (a clear loss, a clear gain, a tie); the
tiny model's validation loss falls in every run, so the loss rule alone would ship each time."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import config

from ragtune.errors import InputError
from ragtune.evaluation.metrics import paired_comparison
from ragtune.records import Comparison, EvalReport, ModelResult
from ragtune.sft.train import train_sft


class StubEvaluator:
    """Held-out task data with fixed 0/1 scores per question for base and tuned."""

    name = "stub eval"
    dataset = "held-out"
    metric = "accuracy"

    def __init__(self, base: list[float], tuned: list[float]):
        self.base, self.tuned = np.asarray(base, float), np.asarray(tuned, float)
        self.calls: list[tuple[str, list[str]]] = []

    def evaluate(self, base: str, tuned) -> EvalReport:
        self.calls.append((base, sorted(p.name for p in Path(tuned).iterdir())))
        cmp = paired_comparison(self.base, self.tuned)
        results = [ModelResult(model="base", metrics={"accuracy": float(self.base.mean())}),
                   ModelResult(model="tuned", metrics={"accuracy": float(self.tuned.mean())},
                               vs_first=Comparison(baseline="base", metric="accuracy", **cmp))]
        return EvalReport(task="stub", dataset=self.dataset, num_queries=len(self.base), headline="accuracy", results=results)


def _run(tmp_path, model_dir, evaluator):
    cfg = config(tmp_path, model_dir, epochs=1)
    return cfg, train_sft(cfg, evaluator=evaluator)


def _checks(cfg, metrics, evaluator, verdict):
    run = Path(cfg.output)
    d = metrics.decision
    assert d.verdict == verdict and d.rule == "gain"
    assert d.decided_by == "stub eval" and d.dataset == "held-out" and d.metric == "accuracy"
    # the validation loss was still measured (and fell: alone it would have shipped), just not deciding
    assert metrics.tuned["val_loss"] < metrics.base["val_loss"]
    assert metrics.task_eval["val_loss_verdict"] == "ship" and metrics.task_eval["decided_by"] == "stub eval"
    # the evaluator judged the saved tuned model against the base spec
    [(base, files)] = evaluator.calls
    assert base == cfg.model and "adapter_config.json" in files and "ragtune_base.json" in files
    stored = json.loads((run / "metrics.json").read_text())
    assert stored["decision"]["verdict"] == verdict and stored["decision"]["decided_by"] == "stub eval"
    report = json.loads((run / "eval" / "stub.json").read_text())
    assert [r["model"] for r in report["results"]] == ["base", "tuned"]
    assert (run / "eval" / "val.json").exists()
    assert not (run / "checkpoints" / "candidate").exists()
    assert "Ship decided by held-out stub data" in (run / "card.md").read_text()
    return run


def test_a_clear_loss_on_the_task_refuses_though_the_validation_loss_fell(tmp_path, tiny_model_dir):
    ev = StubEvaluator([1.0] * 30 + [0.0] * 10, [0.0] * 40)
    cfg, metrics = _run(tmp_path, tiny_model_dir, ev)
    run = _checks(cfg, metrics, ev, "refuse")
    assert not metrics.decision.shipped and not (run / "model").exists()
    assert metrics.decision.ci95[1] < 0


def test_a_clear_gain_on_the_task_ships(tmp_path, tiny_model_dir):
    ev = StubEvaluator([0.0] * 40, [1.0] * 30 + [0.0] * 10)
    cfg, metrics = _run(tmp_path, tiny_model_dir, ev)
    run = _checks(cfg, metrics, ev, "ship")
    assert metrics.decision.shipped
    assert (run / "model" / "adapter_config.json").exists() and (run / "model" / "ragtune_base.json").exists()


def test_a_tie_on_the_task_cannot_judge_and_the_base_stays(tmp_path, tiny_model_dir):
    base = [1.0] * 6 + [0.0] * 6 + [1.0] * 14 + [0.0] * 14
    tuned = [0.0] * 6 + [1.0] * 6 + [1.0] * 14 + [0.0] * 14  # 6 won, 6 lost: delta 0
    ev = StubEvaluator(base, tuned)
    cfg, metrics = _run(tmp_path, tiny_model_dir, ev)
    run = _checks(cfg, metrics, ev, "cannot_judge")
    assert not metrics.decision.shipped and not (run / "model").exists()
    assert metrics.decision.delta == 0.0


def test_eval_sql_without_its_evaluator_is_an_input_error(tmp_path, tiny_model_dir):
    with pytest.raises(InputError, match="needs its evaluator"):
        train_sft(config(tmp_path, tiny_model_dir, eval_sql="test.json"))
    assert not (tmp_path / "run").exists()
