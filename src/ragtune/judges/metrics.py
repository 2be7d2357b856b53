"""How good is a judge: against a reference judge (the teacher), on its own, and on the controls.

Conventions, the same in every function:

- items are matched by id; a judge's missing judgment (failed call or unparsed reply) is *counted*:
  it is a miss in every share (agreement, accuracy) and left out of correlations, which are computed
  on the items both judges scored (their `n` says how many);
- pairwise verdicts are the final ones (both orders combined, `ragtune.judges.judge.combine_orders`);
  "conclusive" means A, B or tie, i.e. not "inconclusive" and not missing;
- which score: a correctness judgment has a stated score and, where the judge gave first-token
  log-probabilities, an expected score E[s] (`ragtune.judges.judge.CorrectnessJudgment`). Pearson,
  Spearman and Kendall use `value` (E[s] where present, else the stated score); everything that needs a
  1-5 category (control accuracy, exact / within-one agreement, quadratic kappa, the score histogram)
  uses `discrete` (E[s] rounded half up, else the stated score);
- a statistic that is undefined (no items, a constant input to a correlation, kappa of two raters who
  both used one category) is None, never a made-up number.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence

import numpy as np
from scipy import stats

from ragtune.evaluation.metrics import bootstrap_ci, paired_comparison
from ragtune.judges.items import CorrectnessItem, PairwiseItem, in_band
from ragtune.judges.judge import JudgeRun

SCORES = (1, 2, 3, 4, 5)


def _num(x: float) -> float | None:
    x = float(x)
    return None if math.isnan(x) else x


def _share(values: Sequence[bool] | np.ndarray) -> float | None:
    return float(np.mean(values)) if len(values) else None


# ---------------------------------------------------------------- score statistics (arrays)

def correlations(x: Sequence[float], y: Sequence[float]) -> dict:
    """Pearson, Spearman and Kendall (tau-b) of paired scores (scipy.stats); None where undefined."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    out = {"pearson": None, "spearman": None, "kendall": None, "n": int(len(x))}
    if len(x) < 2:
        return out
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a constant input gives nan with a warning; we report None
        out["pearson"] = _num(stats.pearsonr(x, y).statistic)
        out["spearman"] = _num(stats.spearmanr(x, y).statistic)
        out["kendall"] = _num(stats.kendalltau(x, y).statistic)
    return out


def exact_agreement(a: Sequence[float], b: Sequence[float]) -> float | None:
    """Share of items with the same score."""
    return _share(np.asarray(a) == np.asarray(b))


def within_one_agreement(a: Sequence[float], b: Sequence[float]) -> float | None:
    """Share of items whose scores differ by at most one point."""
    return _share(np.abs(np.asarray(a, dtype=float) - np.asarray(b, dtype=float)) <= 1)


def quadratic_weighted_kappa(a: Sequence[int], b: Sequence[int], labels: Sequence[int] = SCORES) -> float | None:
    """Cohen's kappa with quadratic weights: 1 - sum(W*O) / sum(W*E).

    O is the confusion matrix of the two raters' labels, E the matrix expected by chance from their
    marginals (outer product / n), W[i, j] = (i - j)^2 / (k - 1)^2. None when E has no weight (both
    raters used the same single category) or there are no items.
    """
    index = {v: i for i, v in enumerate(labels)}
    k = len(labels)
    if len(a) != len(b):
        raise ValueError(f"two raters need the same number of items; got {len(a)} and {len(b)}")
    if not len(a):
        return None
    observed = np.zeros((k, k))
    for x, y in zip(a, b):
        if x not in index or y not in index:
            raise ValueError(f"labels must be among {list(labels)}; got {x!r} and {y!r}")
        observed[index[x], index[y]] += 1
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0)) / observed.sum()
    i, j = np.indices((k, k))
    weights = (i - j) ** 2 / (k - 1) ** 2
    den = (weights * expected).sum()
    if den == 0:
        return None
    return float(1.0 - (weights * observed).sum() / den)


def score_statistics(x: Sequence[int], y: Sequence[int], values: tuple[Sequence[float], Sequence[float]] | None = None) -> dict:
    """Every agreement statistic of two raters' paired 1-5 scores; the correlations on `values` (the same items'
    finer scores, e.g. E[s]) when given."""
    return {**correlations(*(values if values is not None else (x, y))), "exact_agreement": exact_agreement(x, y),
            "within_one_agreement": within_one_agreement(x, y), "kappa_quadratic": quadratic_weighted_kappa(x, y)}


# ---------------------------------------------------------------- a judge against the teacher

def _correctness_ids(run: JudgeRun, items: Sequence[CorrectnessItem | PairwiseItem] | None) -> list[str]:
    if items is None:
        return sorted(run.correctness)
    return [i.id for i in items if i.kind == "correctness"]


def _pairwise_ids(run: JudgeRun, items: Sequence[CorrectnessItem | PairwiseItem] | None) -> list[str]:
    if items is None:
        return sorted(run.pairwise)
    return [i.id for i in items if i.kind == "pairwise"]


def _score(run: JudgeRun, item_id: str) -> int | None:
    """The judge's 1-5 category for the item (`discrete`)."""
    j = run.correctness.get(item_id)
    return j.discrete if j is not None else None


def _value(run: JudgeRun, item_id: str) -> float | None:
    """The judge's score for correlations (`value`: E[s] where present)."""
    j = run.correctness.get(item_id)
    return j.value if j is not None else None


def _verdict(run: JudgeRun, item_id: str) -> str | None:
    j = run.pairwise.get(item_id)
    return j.verdict if j is not None else None


def score_agreement(run: JudgeRun, teacher: JudgeRun, items: Sequence[CorrectnessItem | PairwiseItem] | None = None) -> dict:
    """Correlations (of `value`), exact/within-one agreement and quadratic kappa (of `discrete`) vs the teacher.

    Computed on the items both scored (`n`); `n_teacher_scored` items had a teacher score, of which
    the judge left `n_judge_missing` unscored (`exact_agreement_all` counts those as disagreements).
    """
    ids = [i for i in _correctness_ids(teacher, items) if _score(teacher, i) is not None]
    both = [i for i in ids if _score(run, i) is not None]
    x = [_score(run, i) for i in both]
    y = [_score(teacher, i) for i in both]
    out = score_statistics(x, y, ([_value(run, i) for i in both], [_value(teacher, i) for i in both]))
    out.update(n_teacher_scored=len(ids), n_judge_missing=len(ids) - len(both),
               exact_agreement_all=_share([_score(run, i) == _score(teacher, i) for i in ids]))
    return out


def pairwise_agreement(run: JudgeRun, teacher: JudgeRun, items: Sequence[CorrectnessItem | PairwiseItem] | None = None) -> dict:
    """Agreement of final verdicts with the teacher.

    `agreement`: on pairs both judges decided conclusively (A, B or tie), as LlamaIndex reports it.
    `agreement_all`: on every pair the teacher decided, the judge's inconclusive or missing verdicts
    counted as disagreements (the per-item quantity behind the paired bootstrap).
    """
    ids = _pairwise_ids(teacher, items)
    conclusive = ("A", "B", "tie")
    t_ok = [i for i in ids if _verdict(teacher, i) in conclusive]
    both = [i for i in t_ok if _verdict(run, i) in conclusive]
    return {
        "agreement": _share([_verdict(run, i) == _verdict(teacher, i) for i in both]),
        "n_compared": len(both),
        "agreement_all": _share([_verdict(run, i) == _verdict(teacher, i) for i in t_ok]),
        "n_teacher_conclusive": len(t_ok),
        "n_items": len(ids),
        "n_judge_inconclusive": sum(_verdict(run, i) == "inconclusive" for i in ids),
        "n_teacher_inconclusive": sum(_verdict(teacher, i) == "inconclusive" for i in ids),
        "n_judge_missing": sum(_verdict(run, i) is None for i in ids),
    }


# ---------------------------------------------------------------- a judge on its own

def swap_consistency(run: JudgeRun, items: Sequence[CorrectnessItem | PairwiseItem] | None = None) -> dict:
    """Share of pairwise items whose two orders agree (once mapped back), and the inconclusive rate.

    Both are shares of the items with a parsed verdict in both orders (`n_both_orders`). A tie in one
    order and A in the other is inconsistent but not inconclusive (the final verdict is A), so the two
    rates need not add up to one.
    """
    ids = _pairwise_ids(run, items)
    js = [run.pairwise[i] for i in ids if i in run.pairwise and run.pairwise[i].verdict is not None]
    return {
        "swap_consistency": _share([bool(j.consistent) for j in js]),
        "inconclusive_rate": _share([j.verdict == "inconclusive" for j in js]),
        "n_both_orders": len(js),
        "n_inconclusive": sum(j.verdict == "inconclusive" for j in js),
        "n_items": len(ids),
        "n_missing": len(ids) - len(js),
    }


def control_correct(item: CorrectnessItem | PairwiseItem, run: JudgeRun) -> bool:
    """Did the judge judge this control as its truth says? (score in the truth's band; verdict = truth)."""
    if item.kind == "correctness":
        return in_band(_score(run, item.id), item.truth)
    return _verdict(run, item.id) == item.truth


def control_items(items: Sequence[CorrectnessItem | PairwiseItem]) -> list[CorrectnessItem | PairwiseItem]:
    """The items whose truth is known (controls, or any item given a truth)."""
    return [i for i in items if i.truth is not None]


def control_accuracy(items: Sequence[CorrectnessItem | PairwiseItem], run: JudgeRun, *, n_resamples: int = 1000,
                     seed: int = 0) -> dict:
    """Share of control items judged as their truth says, overall (with a bootstrap 95% CI), by kind of item and by control."""
    ctl = control_items(items)
    hits = [control_correct(i, run) for i in ctl]
    by: dict[str, list[bool]] = {}
    for item, hit in zip(ctl, hits):
        by.setdefault(item.control or f"{item.kind}:labelled", []).append(hit)
    corr = [h for i, h in zip(ctl, hits) if i.kind == "correctness"]
    pair = [h for i, h in zip(ctl, hits) if i.kind == "pairwise"]
    return {
        "accuracy": _share(hits),
        "ci95": list(bootstrap_ci(np.asarray(hits, dtype=float), n_resamples, seed)) if hits else None,
        "n": len(hits),
        "correctness": _share(corr), "n_correctness": len(corr),
        "pairwise": _share(pair), "n_pairwise": len(pair),
        "by_control": {k: {"accuracy": _share(v), "n": len(v)} for k, v in sorted(by.items())},
    }


# ---------------------------------------------------------------- several judges, paired

def per_item(items: Sequence[CorrectnessItem | PairwiseItem], run: JudgeRun,
             teacher: JudgeRun | None = None) -> dict[str, tuple[list[str], np.ndarray]]:
    """Per-item 0/1 values behind each share, on item sets that do not depend on the judge:

    `control` (every control item), and against the teacher `score_exact` / `score_within_one`
    (correctness items the teacher scored) and `verdict` (pairwise items the teacher decided
    conclusively). A judge's missing judgment is 0.
    """
    out: dict[str, tuple[list[str], np.ndarray]] = {}
    ctl = control_items(items)
    out["control"] = ([i.id for i in ctl], np.array([control_correct(i, run) for i in ctl], dtype=float))
    if teacher is not None:
        ids = [i.id for i in items if i.kind == "correctness" and _score(teacher, i.id) is not None]
        js = [_score(run, i) for i in ids]
        ts = [_score(teacher, i) for i in ids]
        out["score_exact"] = (ids, np.array([j is not None and j == t for j, t in zip(js, ts)], dtype=float))
        out["score_within_one"] = (ids, np.array([j is not None and abs(j - t) <= 1 for j, t in zip(js, ts)], dtype=float))
        pids = [i.id for i in items if i.kind == "pairwise" and _verdict(teacher, i.id) in ("A", "B", "tie")]
        out["verdict"] = (pids, np.array([_verdict(run, i) == _verdict(teacher, i) for i in pids], dtype=float))
    return out


def compare_judges(items: Sequence[CorrectnessItem | PairwiseItem], runs: Mapping[str, JudgeRun],
                   teacher: JudgeRun | None = None, *, n_resamples: int = 1000, seed: int = 0) -> dict[str, dict]:
    """Paired bootstrap 95% CI of each judge's difference to the first judge in `runs`, per per-item value.

    `{name: {"control": paired_comparison(...), "score_exact": ..., ...}}` for every judge after the
    first; `delta` > 0 means better than the first judge. Each entry also has `n` (items paired).
    """
    names = list(runs)
    if not names:
        return {}
    base = per_item(items, runs[names[0]], teacher)
    out = {}
    for name in names[1:]:
        other = per_item(items, runs[name], teacher)
        out[name] = {}
        for metric, (ids, values) in other.items():
            base_ids, base_values = base[metric]
            assert base_ids == ids  # the item sets depend on the items and the teacher only
            res = paired_comparison(base_values, values, n_resamples, seed) if len(ids) else None
            out[name][metric] = {**res, "n": len(ids)} if res else {"n": 0}
    return out
