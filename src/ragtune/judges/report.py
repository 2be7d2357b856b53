"""The report of one judge (flat, JSON-ready), and of several judges with paired differences.

A benchmark writes `judges_report(items, {"teacher": t, "student_base": b, "student_tuned": s})`:
each judge's `judge_report` against the teacher, plus paired bootstrap CIs of each student's
per-item control accuracy and agreement minus the first student's.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict

from ragtune.judges.items import CorrectnessItem, PairwiseItem
from ragtune.judges.judge import JudgeRun
from ragtune.judges.metrics import (
    compare_judges,
    control_accuracy,
    pairwise_agreement,
    score_agreement,
    swap_consistency,
)

Items = Sequence[CorrectnessItem | PairwiseItem]


def judge_report(items: Items, run: JudgeRun, teacher: JudgeRun | None = None, *, n_resamples: int = 1000,
                 seed: int = 0) -> dict:
    """One judge on `items`: controls, agreement with `teacher` (None: those fields are None), swap consistency.

    Keys always present: `model`, `n_items`, `control_accuracy`, `pearson_vs_teacher`, `swap_consistency`,
    and the rest listed in the code; every share counts a missing judgment as a miss (see metrics).
    """
    corr = [i for i in items if i.kind == "correctness"]
    pair = [i for i in items if i.kind == "pairwise"]
    cj = [run.correctness[i.id] for i in corr if i.id in run.correctness]
    expected = [j.expected_score for j in cj if j.expected_score is not None]
    pj = [run.pairwise[i.id] for i in pair if i.id in run.pairwise]
    ctl = control_accuracy(items, run, n_resamples=n_resamples, seed=seed)
    swap = swap_consistency(run, items)
    report = {
        "model": run.model,
        "n_items": len(items),
        "n_correctness": len(corr),
        "n_pairwise": len(pair),
        "n_missing_judgments": (len(corr) - len(cj)) + (len(pair) - len(pj)),
        "n_failed_calls": sum(j.error is not None for j in cj) + sum(o.error is not None for j in pj for o in (j.first, j.second)),
        "n_unparsed": {"correctness": sum(j.parse_failed for j in cj),
                       "pairwise_orders": sum(o.parse_failed for j in pj for o in (j.first, j.second))},
        "control_accuracy": ctl["accuracy"],
        "control_accuracy_ci95": ctl["ci95"],
        "n_controls": ctl["n"],
        "control_accuracy_correctness": ctl["correctness"],
        "control_accuracy_pairwise": ctl["pairwise"],
        "control_accuracy_by_control": ctl["by_control"],
        "swap_consistency": swap["swap_consistency"],
        "inconclusive_rate": swap["inconclusive_rate"],
        "n_pairwise_both_orders": swap["n_both_orders"],
        "n_inconclusive": swap["n_inconclusive"],
        "score_histogram": {str(s): n for s, n in sorted(Counter(j.discrete for j in cj if j.discrete is not None).items())},
        "stated_score_histogram": {str(s): n for s, n in sorted(Counter(j.score for j in cj if j.score is not None).items())},
        "n_expected_score": len(expected),
        "expected_score_mean": sum(expected) / len(expected) if expected else None,
        "verdict_counts": dict(Counter(j.verdict or "missing" for j in pj)),
        "calls": asdict(run.stats),
    }
    vs = {"pearson_vs_teacher": None, "spearman_vs_teacher": None, "kendall_vs_teacher": None, "kappa_vs_teacher": None,
          "exact_agreement_vs_teacher": None, "within_one_vs_teacher": None, "n_scored_vs_teacher": 0,
          "scores_vs_teacher": None, "scores_vs_teacher_on_answers": None,
          "pairwise_agreement_vs_teacher": None, "n_pairwise_compared": 0, "pairwise_vs_teacher": None}
    if teacher is not None:
        s = score_agreement(run, teacher, corr)
        answers = [i for i in corr if i.control is None]
        p = pairwise_agreement(run, teacher, pair)
        vs.update(pearson_vs_teacher=s["pearson"], spearman_vs_teacher=s["spearman"], kendall_vs_teacher=s["kendall"],
                  kappa_vs_teacher=s["kappa_quadratic"], exact_agreement_vs_teacher=s["exact_agreement"],
                  within_one_vs_teacher=s["within_one_agreement"], n_scored_vs_teacher=s["n"], scores_vs_teacher=s,
                  scores_vs_teacher_on_answers=score_agreement(run, teacher, answers) if answers else None,
                  pairwise_agreement_vs_teacher=p["agreement"], n_pairwise_compared=p["n_compared"], pairwise_vs_teacher=p)
    report.update(vs)
    return report


def judges_report(items: Items, runs: Mapping[str, JudgeRun], teacher: str | None = "teacher", *,
                  baseline: str | None = None, n_resamples: int = 1000, seed: int = 0) -> dict:
    """`{"judges": {name: judge_report}, "baseline": name, "paired": {name: {metric: paired_comparison}}}`.

    `teacher` names the reference judge in `runs` (None: no vs-teacher fields). The paired differences
    are each other judge's minus `baseline` (default: the first judge in `runs` that is not the teacher).
    """
    if teacher is not None and teacher not in runs:
        raise KeyError(f"teacher {teacher!r} is not one of the judges {list(runs)}")
    ref = runs[teacher] if teacher is not None else None
    reports = {name: judge_report(items, run, ref, n_resamples=n_resamples, seed=seed) for name, run in runs.items()}
    others = [n for n in runs if n != teacher]
    baseline = baseline or (others[0] if others else None)
    paired = {}
    if baseline is not None:
        order = {baseline: runs[baseline], **{n: runs[n] for n in others if n != baseline}}
        paired = compare_judges(items, order, ref, n_resamples=n_resamples, seed=seed)
    return {"judges": reports, "baseline": baseline, "paired": paired}
