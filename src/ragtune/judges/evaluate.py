"""`ragtune eval judge`: several judges on a judge-data folder's items, against the teacher and the controls.

    report, details = evaluate_judges("judge-data/", {"base": load_llm("local:smollm2-135m-instruct"),
                                                      "tuned": load_llm("local:runs/judge")})

Each judge (an LLM, or the name `teacher` for the folder's stored teacher judgments) judges the items
of the chosen split (default: the test questions), journaled in DATA/journal/judge-LABEL.jsonl (a
rerun makes only the missing calls). The result is an `EvalReport` (task `judge`, headline
`control_accuracy`): per judge the metrics of `ragtune.judges.report.judge_report` (against the teacher:
Pearson, Spearman, Kendall, exact and within-one agreement, quadratic-weighted kappa, pairwise agreement;
on its own: swap consistency, inconclusive rate; on the controls: accuracy), with bootstrap 95% CIs,
computed on the expected score E[s] where the judge gave first-token log-probabilities (correlations on
E[s] itself, the shares and kappa on E[s] rounded; `ragtune.judges.metrics`),
and for every judge after the first the paired bootstrap CI of its difference to the first
(`delta_METRIC`, Pearson included: the same resampled items for both judges).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np

from ragtune.errors import InputError
from ragtune.evaluation.metrics import paired_comparison
from ragtune.judges.items import read_items
from ragtune.judges.judge import SCORE_LOGPROBS, JudgeRun, judge_items, read_judgments
from ragtune.judges.metrics import correlations, per_item
from ragtune.judges.report import judges_report
from ragtune.llm import LLM
from ragtune.records import Comparison, EvalReport, ModelResult, PerQuery

TEACHER = "teacher"
_FLAT = ("control_accuracy", "control_accuracy_correctness", "control_accuracy_pairwise", "pearson_vs_teacher",
         "spearman_vs_teacher", "kendall_vs_teacher", "kappa_vs_teacher", "exact_agreement_vs_teacher",
         "within_one_vs_teacher", "pairwise_agreement_vs_teacher", "swap_consistency", "inconclusive_rate")
_PAIRED = {"control": "control_accuracy", "score_exact": "exact_agreement_vs_teacher",
           "score_within_one": "within_one_vs_teacher", "verdict": "pairwise_agreement_vs_teacher"}


def read_data(folder: str | Path, split: str = "test") -> tuple[list, JudgeRun | None, dict]:
    """(items of the split, the teacher's judgments or None, split.json) of a `generate judge-data` folder."""
    folder = Path(folder)
    if not (folder / "items.jsonl").is_file():
        raise InputError(f"judge data {folder}: no items.jsonl here; make the folder with `ragtune generate judge-data QA -o {folder}`.")
    if split not in ("train", "test", "all"):
        raise InputError(f"--split must be train, test or all; got {split!r}.")
    items = read_items(folder / "items.jsonl")
    meta = {}
    if (folder / "split.json").is_file():
        try:
            meta = json.loads((folder / "split.json").read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise InputError(f"judge data {folder}/split.json: not readable JSON ({e}).") from None
    if split != "all":
        ids = set(meta.get(split) or [])
        if not ids:
            raise InputError(f"judge data {folder}: the {split} split has no questions (split.json); use --split all.")
        items = [i for i in items if i.question_id in ids]
    teacher = read_judgments(folder / "teacher.jsonl", TEACHER) if (folder / "teacher.jsonl").is_file() else None
    return items, teacher, meta


def correlation_ci(pairs: np.ndarray, n_resamples: int = 1000, seed: int = 0) -> list[float] | None:
    """Percentile bootstrap 95% interval of the Pearson correlation of rows (x, y); None when undefined."""
    if len(pairs) < 3:
        return None
    rng = np.random.default_rng(seed)
    stats = []
    for idx in rng.integers(0, len(pairs), size=(n_resamples, len(pairs))):
        x, y = pairs[idx, 0], pairs[idx, 1]
        if x.std() > 0 and y.std() > 0:
            stats.append(float(np.corrcoef(x, y)[0, 1]))
    if len(stats) < n_resamples // 2:
        return None
    return [float(np.percentile(stats, 2.5)), float(np.percentile(stats, 97.5))]


def paired_pearson(base: JudgeRun, other: JudgeRun, teacher: JudgeRun, items, n_resamples: int = 1000,
                   seed: int = 0) -> dict | None:
    """Pearson(other, teacher) - Pearson(base, teacher) on the correctness items all three scored, paired bootstrap CI."""
    rows = []
    for i in items:
        if i.kind != "correctness":
            continue
        s = [r.correctness.get(i.id) for r in (base, other, teacher)]
        if all(j is not None and j.value is not None for j in s):
            rows.append([j.value for j in s])
    if len(rows) < 3:
        return None
    a = np.asarray(rows, dtype=float)

    def pearson(x, y):
        return float(np.corrcoef(x, y)[0, 1]) if x.std() > 0 and y.std() > 0 else float("nan")

    delta = pearson(a[:, 1], a[:, 2]) - pearson(a[:, 0], a[:, 2])
    rng = np.random.default_rng(seed)
    ds = []
    for idx in rng.integers(0, len(a), size=(n_resamples, len(a))):
        b = a[idx]
        d = pearson(b[:, 1], b[:, 2]) - pearson(b[:, 0], b[:, 2])
        if not np.isnan(d):
            ds.append(d)
    if np.isnan(delta) or len(ds) < n_resamples // 2:
        return {"delta": None, "ci95": None, "n": len(rows)}
    lo, hi = float(np.percentile(ds, 2.5)), float(np.percentile(ds, 97.5))
    return {"delta": delta, "ci95": [lo, hi], "significant": bool(lo > 0 or hi < 0), "n": len(rows)}


def run_judges(items, judges: Mapping[str, LLM | str], journal_dir: str | Path, teacher: JudgeRun | None, *,
               concurrency: int = 8, max_tokens: int = 128,
               on_progress: Callable[[str, int, int], None] | None = None,
               score_logprobs: int | None = SCORE_LOGPROBS) -> dict[str, JudgeRun]:
    """Each judge's run on the items (the string `teacher` stands for the stored teacher judgments)."""
    runs = {}
    for label, judge in judges.items():
        if isinstance(judge, str):
            if judge != TEACHER:
                raise InputError(f"judge {label!r}: {judge!r} is not an LLM; only 'teacher' names stored judgments.")
            if teacher is None:
                raise InputError("--judge teacher: this judge-data folder has no teacher.jsonl (made without --teacher).")
            runs[label] = teacher
            continue
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in label)
        progress = (lambda d, t, lab=label: on_progress(lab, d, t)) if on_progress else None
        runs[label] = judge_items(judge, items, Path(journal_dir) / f"judge-{safe}.jsonl", concurrency=concurrency,
                                  max_tokens=max_tokens, on_progress=progress, score_logprobs=score_logprobs)
    return runs


def judge_eval_report(items, runs: Mapping[str, JudgeRun], teacher: JudgeRun | None, *, dataset: str = "judge-data",
                      n_resamples: int = 1000, seed: int = 0) -> tuple[EvalReport, dict]:
    """The EvalReport (task `judge`) of these judge runs, and the full per-judge details (`judges_report`)."""
    names = list(runs)
    all_runs = dict(runs)
    ref = None
    if teacher is not None:
        ref = TEACHER if TEACHER in all_runs and all_runs[TEACHER] is teacher else "__teacher__"
        all_runs.setdefault(ref, teacher)
    details = judges_report(items, all_runs, teacher=ref, baseline=names[0] if names[0] != ref else None,
                            n_resamples=n_resamples, seed=seed)
    details["judges"].pop("__teacher__", None)
    first = names[0]
    base_vals = per_item(items, runs[first], teacher)
    results, per_query = [], {}
    for name in names:
        rep = details["judges"][name]
        metrics = {k: float(rep[k]) for k in _FLAT if rep.get(k) is not None}
        metrics["n_items"] = float(rep["n_items"])
        metrics["n_unparsed"] = float(rep["n_unparsed"]["correctness"] + rep["n_unparsed"]["pairwise_orders"])
        calls = rep["calls"]
        if calls["calls_made"] and calls["seconds"] > 0 and calls["calls_resumed"] == 0:
            metrics["items_per_s"] = len(items) / calls["seconds"]
            metrics["seconds"] = calls["seconds"]
        ci95 = {}
        if rep.get("control_accuracy_ci95"):
            ci95["control_accuracy"] = rep["control_accuracy_ci95"]
        if teacher is not None and rep.get("scores_vs_teacher"):
            pairs = np.asarray([[runs[name].correctness[i.id].value, teacher.correctness[i.id].value] for i in items
                                if i.kind == "correctness" and i.id in runs[name].correctness and i.id in teacher.correctness
                                and runs[name].correctness[i.id].value is not None and teacher.correctness[i.id].value is not None],
                               dtype=float).reshape(-1, 2)
            if (ci := correlation_ci(pairs, n_resamples, seed)) is not None:
                ci95["pearson_vs_teacher"] = ci
        vs_first = None
        if name != first:
            vals = per_item(items, runs[name], teacher)
            for key, metric in _PAIRED.items():
                if key in vals and len(vals[key][0]):
                    cmp = paired_comparison(base_vals[key][1], vals[key][1], n_resamples, seed)
                    metrics[f"delta_{metric}"] = cmp["delta"]
                    ci95[f"delta_{metric}"] = cmp["ci95"]
                    if key == "control":
                        vs_first = Comparison(baseline=first, metric="control_accuracy", **cmp)
            if teacher is not None and (pp := paired_pearson(runs[first], runs[name], teacher, items, n_resamples, seed)):
                if pp["delta"] is not None:
                    metrics["delta_pearson_vs_teacher"] = pp["delta"]
                    ci95["delta_pearson_vs_teacher"] = pp["ci95"]
                details["paired"].setdefault(name, {})["pearson_vs_teacher"] = pp
        ids, control_vals = per_item(items, runs[name], teacher)["control"]
        per_query.setdefault("query_ids", ids)
        per_query.setdefault("control", {})[name] = control_vals.tolist()
        results.append(ModelResult(model=name, model_name=runs[name].model, metrics=metrics, ci95=ci95, vs_first=vs_first))
    report = EvalReport(task="judge", dataset=dataset, num_queries=len(items), headline="control_accuracy", results=results,
                        per_query=PerQuery(**per_query) if per_query.get("query_ids") else None)
    return report, details


def evaluate_judges(folder: str | Path, judges: Mapping[str, LLM | str], *, split: str = "test", concurrency: int = 8,
                    max_tokens: int = 128, n_resamples: int = 1000, seed: int = 0,
                    on_progress: Callable[[str, int, int], None] | None = None,
                    score_logprobs: int | None = SCORE_LOGPROBS) -> tuple[EvalReport, dict]:
    """Judge the folder's items with every judge, then `judge_eval_report` (see the module docstring).
    `score_logprobs` first-token log-probabilities are asked with each correctness call; 0 or None asks for none
    (the judgments are then the stated scores: for servers that refuse logprobs)."""
    if not judges:
        raise InputError("give at least one --judge (an LLM spec, or 'teacher' for the stored teacher judgments).")
    items, teacher, _ = read_data(folder, split)
    if not items:
        raise InputError(f"judge data {folder}: no items in the {split} split.")
    runs = run_judges(items, judges, Path(folder) / "journal", teacher, concurrency=concurrency, max_tokens=max_tokens,
                      on_progress=on_progress, score_logprobs=score_logprobs or None)
    return judge_eval_report(items, runs, teacher, dataset=f"{Path(folder).name}:{split}", n_resamples=n_resamples, seed=seed)
