"""The records every layer reads and writes: the evaluation report and a run's metrics.json.

An evaluation report (`RUN/eval/NAME.json`, `ragtune eval ... --json`) has one shape for every task:

    {"task": "retrieval"|"rerank"|"sft"|..., "dataset": NAME, "num_queries": N,
     "results": [{"model": LABEL, "metrics": {...}, "ci95": {...}, "vs_first": {...}}, ...], ...}

A run's `metrics.json` holds the job name, one `ShipDecision` (`decision`) and the job's own figures.
Both are pydantic models here, so writers and readers share one definition; `read_report`,
`read_metrics` and `read_decision` are the only readers of these files.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ragtune.errors import InputError
from ragtune.io import atomic_write_json

__all__ = ["Comparison", "ModelResult", "PerQuery", "EvalReport", "ShipDecision", "RunMetrics",
           "read_report", "write_report", "read_metrics", "read_decision", "write_metrics"]


class Comparison(BaseModel):
    """A model against the report's first model (the baseline): paired bootstrap over queries."""

    baseline: str = Field(description="label of the baseline model")
    metric: str = Field(description="the compared metric (the report's headline)")
    delta: float = Field(description="mean of this model's metric minus the baseline's, over queries")
    ci95: list[float] = Field(description="paired bootstrap 95% interval of delta")
    significant: bool = Field(description="the interval excludes 0")
    wins: int = Field(description="queries where this model scores higher")
    losses: int = Field(description="queries where it scores lower")
    ties: int = Field(description="queries with the same score")


class ModelResult(BaseModel):
    """One evaluated model: its aggregate metrics, their 95% intervals, and the paired comparison."""

    model: str = Field(description="label of the model in this report")
    model_name: str | None = Field(None, description="the model's own name (spec)")
    fingerprint: str | None = Field(None, description="hash of the weights (embedding models)")
    metrics: dict[str, float]
    ci95: dict[str, list[float]] = Field(default_factory=dict)
    seconds: dict[str, float] | None = None
    cache: dict[str, int] | None = None
    decoding: str | None = Field(None, description="how the replies were decoded (chat tasks), e.g. 'greedy' or "
                                 "'greedy, constrained to the JSON Schema'")
    vs_first: Comparison | None = None


class PerQuery(BaseModel):
    """Per-query values of the headline metric (and the positive's rank, for retrieval), by model label."""

    model_config = ConfigDict(extra="allow")

    query_ids: list[str]

    def values(self, metric: str, label: str) -> list[float]:
        """One model's per-query values of `metric` (in `query_ids` order)."""
        table = (self.model_extra or {}).get(metric)
        if not table or label not in table:
            raise KeyError(f"no per-query {metric} for {label!r}")
        return table[label]


class EvalReport(BaseModel):
    """An evaluation report: every model of one evaluation set, the first one the baseline."""

    task: str
    dataset: str
    num_queries: int
    num_docs: int | None = None
    num_generated: int | None = None
    ks: list[int] | None = None
    headline: str | None = None
    top_k: int | None = None
    retriever: str | None = None
    reranker: str | None = None
    results: list[ModelResult]
    seconds: dict[str, float] | None = None
    latency: dict[str, Any] | None = None
    per_query: PerQuery | None = None

    def result(self, label: str) -> ModelResult:
        """The result of the model labelled `label`."""
        for r in self.results:
            if r.model == label:
                return r
        raise KeyError(f"{label!r} is not in the report on {self.dataset} (models: {[r.model for r in self.results]})")

    def comparison(self, label: str) -> Comparison:
        """`label` against the baseline (the first model)."""
        cmp = self.result(label).vs_first
        if cmp is None:
            raise KeyError(f"{label!r} is the baseline of the report on {self.dataset}; it has no comparison")
        return cmp

    def metric_table(self) -> dict[str, dict[str, float]]:
        """{model label: metrics}: the compact form kept in metrics.json."""
        return {r.model: r.metrics for r in self.results}

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


class ShipDecision(BaseModel):
    """Whether a run's trained model ships (RUN/model/ is written), by which rule and on which data."""

    shipped: bool = Field(description="RUN/model/ holds the tuned model (the verdict is 'ship')")
    verdict: Literal["ship", "refuse", "cannot_judge"] = Field(
        description="'ship'; 'refuse' (measured worse, or not better by the job's rule); 'cannot_judge' (the deciding data "
                    "cannot tell a gain from noise: the base stays the result)")
    model: str = Field(description="label of the judged candidate (finetuned, adapter, reranked, tuned, ...)")
    decided_by: str = Field(description="what decided: 'validation split', 'eval dataset', or a task "
                                                "evaluator's name ('eval sql': held-out text-to-SQL by execution)")
    dataset: str = Field(description="name of the deciding data")
    metric: str = Field(description="the deciding metric (ndcg@10, val_loss)")
    delta: float | None = Field(description="candidate minus base on the metric (a loss: lower is better)")
    ci95: list[float] | None = Field(description="paired 95% interval of delta, where the rule has one")
    rule: str = Field(description="the job's rule: 'gain' (a paired CI above zero on data that can judge), 'lower_loss'")
    reason: str = Field(description="one line for people: what was measured and what was decided")
    evidence: dict[str, Any] | None = Field(None, description="how much the deciding data could say: queries, how many "
                                                              "changed, the base's score and median rank, the CI width")


class RunMetrics(BaseModel):
    """metrics.json: the job, its one ship decision, and the job's own figures (extra keys)."""

    model_config = ConfigDict(extra="allow")

    job: str
    decision: ShipDecision

    def to_json(self) -> dict[str, Any]:
        return self.model_dump()


def _read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path}: no {what} here.") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InputError(f"{path}: not a readable {what} ({type(e).__name__}: {e}).") from None


def read_report(path: str | Path) -> EvalReport:
    """An evaluation report written by ragtune (`eval/NAME.json`, `--json`)."""
    path = Path(path)
    try:
        return EvalReport.model_validate(_read_json(path, "evaluation report"))
    except ValidationError as e:
        raise InputError(f"{path}: not a ragtune evaluation report ({e.error_count()} problem(s), first: "
                         f"{e.errors()[0]['loc']}: {e.errors()[0]['msg']}).") from None


def write_report(path: str | Path, report: EvalReport) -> Path:
    return atomic_write_json(path, report.to_json())


def read_metrics(run: str | Path) -> RunMetrics:
    """RUN/metrics.json (or the file itself)."""
    path = Path(run)
    path = path / "metrics.json" if path.is_dir() else path
    try:
        return RunMetrics.model_validate(_read_json(path, "run metrics file"))
    except ValidationError as e:
        raise InputError(f"{path}: not a ragtune metrics.json ({e.error_count()} problem(s), first: "
                         f"{e.errors()[0]['loc']}: {e.errors()[0]['msg']}).") from None


def read_decision(run: str | Path) -> ShipDecision | None:
    """The ship decision of a finished run folder; None when the run has not finished."""
    if not (Path(run) / "metrics.json").is_file():
        return None
    return read_metrics(run).decision


def write_metrics(run: str | Path, metrics: RunMetrics) -> Path:
    return atomic_write_json(Path(run) / "metrics.json", metrics.to_json())
