from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from ragtune.evaluation.metrics import paired_comparison
from ragtune.judges.items import CorrectnessItem, PairwiseItem
from ragtune.judges.metrics import (
    compare_judges,
    control_accuracy,
    correlations,
    exact_agreement,
    pairwise_agreement,
    per_item,
    quadratic_weighted_kappa,
    score_agreement,
    swap_consistency,
    within_one_agreement,
)

from .conftest import make_run


def citem(id_, truth=None, control=None):
    return CorrectnessItem(id=id_, question_id=id_, question="q", reference="r", answer="a", source="s",
                           truth=truth, control=control)


def pitem(id_, truth=None, control=None):
    return PairwiseItem(id=id_, question_id=id_, question="q", answer_a="a", answer_b="b", source_a="x", source_b="y",
                        truth=truth, control=control)


# ---------------------------------------------------------------- correlations and agreement

def test_correlations_by_hand_and_against_scipy():
    x, y = [1, 2, 3, 4, 5], [2, 1, 4, 3, 5]
    c = correlations(x, y)
    # by hand: deviations (-2,-1,0,1,2) and (-1,-2,1,0,2): r = 8/10; Spearman 1 - 6*4/120; Kendall (8-2)/10
    assert c["pearson"] == pytest.approx(0.8) and c["spearman"] == pytest.approx(0.8) and c["kendall"] == pytest.approx(0.6)
    rng = np.random.default_rng(0)
    a, b = rng.integers(1, 6, 200), rng.integers(1, 6, 200)
    c = correlations(a, b)
    assert c["pearson"] == pytest.approx(stats.pearsonr(a, b).statistic)
    assert c["spearman"] == pytest.approx(stats.spearmanr(a, b).statistic)
    assert c["kendall"] == pytest.approx(stats.kendalltau(a, b).statistic)
    assert c["n"] == 200


def test_undefined_correlations_are_none():
    assert correlations([3, 3, 3], [1, 2, 3])["pearson"] is None  # constant input
    assert correlations([3], [3]) == {"pearson": None, "spearman": None, "kendall": None, "n": 1}
    assert correlations([], [])["n"] == 0


def test_exact_and_within_one():
    a, b = [1, 2, 3, 4, 5], [1, 3, 5, 4, 1]
    assert exact_agreement(a, b) == pytest.approx(2 / 5)
    assert within_one_agreement(a, b) == pytest.approx(3 / 5)
    assert exact_agreement([], []) is None


def test_quadratic_kappa_by_hand():
    # a=[1,1,2,3], b=[1,2,2,3]: sum W*O = 1/16; marginals (2,1,1) x (1,2,1) give sum W*E = 20/64; kappa = 1 - (1/16)/(20/64) = 0.8
    assert quadratic_weighted_kappa([1, 1, 2, 3], [1, 2, 2, 3]) == pytest.approx(0.8)


def test_quadratic_kappa_known_values():
    assert quadratic_weighted_kappa([1, 2, 3, 4, 5], [1, 2, 3, 4, 5]) == pytest.approx(1.0)
    assert quadratic_weighted_kappa([1, 5], [5, 1]) == pytest.approx(-1.0)  # complete reversal
    assert quadratic_weighted_kappa([3, 3], [3, 3]) is None  # one category: undefined
    assert quadratic_weighted_kappa([], []) is None
    with pytest.raises(ValueError):
        quadratic_weighted_kappa([0, 1], [1, 1])


def test_quadratic_kappa_matches_sklearn():
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(1)
    for _ in range(20):
        n = int(rng.integers(5, 80))
        a = rng.integers(1, 6, n)
        b = np.clip(a + rng.integers(-2, 3, n), 1, 5)
        ours = quadratic_weighted_kappa(a.tolist(), b.tolist())
        theirs = sklearn_metrics.cohen_kappa_score(a, b, weights="quadratic", labels=[1, 2, 3, 4, 5])
        assert ours == pytest.approx(theirs)


# ---------------------------------------------------------------- against the teacher

def test_score_agreement_counts_missing_and_correlates_on_the_rest():
    teacher = make_run({"a": 5, "b": 1, "c": 3, "d": 4, "e": None})
    judge = make_run({"a": 4, "b": 1, "c": None, "d": 4, "e": 2})
    s = score_agreement(judge, teacher)
    assert s["n"] == 3 and s["n_teacher_scored"] == 4 and s["n_judge_missing"] == 1
    assert s["pearson"] == pytest.approx(stats.pearsonr([4, 1, 4], [5, 1, 4]).statistic)
    assert s["exact_agreement"] == pytest.approx(2 / 3) and s["exact_agreement_all"] == pytest.approx(2 / 4)
    assert s["within_one_agreement"] == pytest.approx(1.0)
    assert s["kappa_quadratic"] == pytest.approx(quadratic_weighted_kappa([4, 1, 4], [5, 1, 4]))
    only = score_agreement(judge, teacher, [citem("a"), citem("b")])
    assert only["n"] == 2


def test_pairwise_agreement_on_conclusive_pairs():
    teacher = make_run(verdicts={"i1": ("A", "B"), "i2": ("B", "A"), "i3": ("tie", "tie"), "i4": ("A", "A"), "i5": ("A", "B")})
    judge = make_run(verdicts={"i1": ("A", "B"), "i2": ("A", "B"), "i3": ("B", "B"), "i4": ("A", "B"), "i5": ("A", None)})
    p = pairwise_agreement(judge, teacher)
    # teacher: A, B, tie, inconclusive, A; judge: A, A, inconclusive, A, missing
    assert p["agreement"] == pytest.approx(1 / 2) and p["n_compared"] == 2  # i1 agrees, i2 does not
    assert p["agreement_all"] == pytest.approx(1 / 4) and p["n_teacher_conclusive"] == 4
    assert (p["n_judge_inconclusive"], p["n_teacher_inconclusive"], p["n_judge_missing"], p["n_items"]) == (1, 1, 1, 5)


# ---------------------------------------------------------------- on its own and on the controls

def test_swap_consistency_and_inconclusive_rate():
    run = make_run(verdicts={"i1": ("A", "B"), "i2": ("A", "A"), "i3": ("tie", "B"), "i4": (None, "A"), "i5": ("tie", "tie")})
    s = swap_consistency(run)
    assert s["n_both_orders"] == 4 and s["n_missing"] == 1 and s["n_items"] == 5
    assert s["swap_consistency"] == pytest.approx(2 / 4)  # i1 and i5 agree across orders; i3 leans A but is not consistent
    assert s["inconclusive_rate"] == pytest.approx(1 / 4) and s["n_inconclusive"] == 1
    assert swap_consistency(make_run())["swap_consistency"] is None


def test_control_accuracy_uses_the_bands():
    items = [citem("c5", 5.0, "reference"), citem("c5b", 5.0, "reference"), citem("c3", 3.0, "truncated"),
             citem("c3b", 3.0, "truncated"), citem("c1", 1.0, "same_category"), citem("c1b", 1.0, "other_category"),
             citem("free"), pitem("pA", "A", "reference_vs_same_category"), pitem("pB", "B", "reference_vs_truncated"),
             pitem("pC", "A", "reference_vs_other_category"), pitem("pfree")]
    run = make_run({"c5": 4, "c5b": 3, "c3": 4, "c3b": 5, "c1": 2, "c1b": None, "free": 1},
                   {"pA": ("A", "B"), "pB": ("A", "A"), "pC": ("tie", "tie"), "pfree": ("A", "B")})
    acc = control_accuracy(items, run)
    # right: c5 (4 in 4-5), c3 (4 in 3-4), c1 (2 in 1-2), pA; wrong: c5b, c3b, c1b (unparsed), pB (inconclusive), pC (tie)
    assert acc["n"] == 9 and acc["accuracy"] == pytest.approx(4 / 9)
    assert acc["correctness"] == pytest.approx(3 / 6) and acc["pairwise"] == pytest.approx(1 / 3)
    assert acc["by_control"]["reference"] == {"accuracy": 0.5, "n": 2}
    assert acc["by_control"]["reference_vs_same_category"] == {"accuracy": 1.0, "n": 1}
    lo, hi = acc["ci95"]
    assert lo <= 4 / 9 <= hi
    assert control_accuracy([citem("free")], run)["accuracy"] is None


def test_compare_judges_is_paired_bootstrap_of_per_item_values():
    items = [citem(f"c{i}", 5.0, "reference") for i in range(6)] + [citem("x"), pitem("p1"), pitem("p2")]
    teacher = make_run({**{f"c{i}": 5 for i in range(6)}, "x": 2}, {"p1": ("A", "B"), "p2": ("B", "A")})
    base = make_run({**{f"c{i}": 2 for i in range(6)}, "x": 2}, {"p1": ("A", "A"), "p2": ("B", "A")})
    tuned = make_run({**{f"c{i}": 5 for i in range(5)}, "c5": 1, "x": 3}, {"p1": ("A", "B"), "p2": ("B", "A")})
    out = compare_judges(items, {"base": base, "tuned": tuned}, teacher, n_resamples=500, seed=3)
    assert list(out) == ["tuned"]
    v_base, v_tuned = per_item(items, base, teacher), per_item(items, tuned, teacher)
    for metric in ("control", "score_exact", "score_within_one", "verdict"):
        expect = paired_comparison(v_base[metric][1], v_tuned[metric][1], 500, 3)
        assert out["tuned"][metric] == {**expect, "n": len(v_base[metric][0])}
    assert out["tuned"]["control"]["delta"] == pytest.approx(5 / 6) and out["tuned"]["control"]["wins"] == 5
    assert out["tuned"]["verdict"]["delta"] == pytest.approx(0.5)
    assert v_base["score_exact"][1].tolist() == [0, 0, 0, 0, 0, 0, 1]
    assert compare_judges(items, {"only": base}, teacher) == {}


def test_pearson_ci_and_paired_pearson_against_scipy():
    from scipy import stats

    from ragtune.judges.evaluate import correlation_ci, paired_pearson
    from ragtune.judges.items import CorrectnessItem

    from .conftest import make_run

    rng = np.random.default_rng(3)
    teacher_scores = rng.integers(1, 6, size=40)
    good = np.clip(teacher_scores + rng.integers(-1, 2, size=40), 1, 5)
    noisy = rng.integers(1, 6, size=40)
    ids = [f"i{k}" for k in range(40)]
    items = [CorrectnessItem(id=i, question_id=i, question="q", reference="r", answer="a", source="s") for i in ids]
    runs = {name: make_run({i: int(s) for i, s in zip(ids, scores)}, model=name)
            for name, scores in (("t", teacher_scores), ("good", good), ("noisy", noisy))}
    pp = paired_pearson(runs["noisy"], runs["good"], runs["t"], items, n_resamples=500)
    expected = stats.pearsonr(good, teacher_scores).statistic - stats.pearsonr(noisy, teacher_scores).statistic
    assert pp["delta"] == pytest.approx(expected) and pp["n"] == 40
    assert pp["ci95"][0] <= pp["delta"] <= pp["ci95"][1] and pp["significant"]
    ci = correlation_ci(np.stack([good, teacher_scores], axis=1).astype(float), 500)
    assert ci[0] <= stats.pearsonr(good, teacher_scores).statistic <= ci[1]
    assert correlation_ci(np.ones((2, 2))) is None


def test_correlations_use_the_expected_score_and_shares_its_rounding():
    """A teacher whose stated score is always 5 has no Pearson; its E[s] does, and the bands use E[s] rounded."""
    from ragtune.judges.judge import CorrectnessJudgment, JudgeRun, JudgeStats
    from ragtune.judges.metrics import control_accuracy, score_agreement

    items = [CorrectnessItem(id=f"c{i}", question_id=f"q{i}", question="q", reference="r", answer="a", source="control:x",
                             truth=t, control="x") for i, t in enumerate([5.0, 5.0, 1.0, 1.0, 3.0])]
    t_exp = [4.6, 4.4, 2.4, 1.2, 3.5]
    s_exp = [4.0, 4.8, 1.9, 1.0, 2.49]

    def run(exps):
        return JudgeRun("x", {f"c{i}": CorrectnessJudgment(item_id=f"c{i}", key="k", score=5, raw="5", expected_score=e,
                                                          score_mass=0.9) for i, e in enumerate(exps)}, {}, JudgeStats())

    teacher, student = run(t_exp), run(s_exp)
    got = score_agreement(student, teacher, items)
    assert got["pearson"] == pytest.approx(stats.pearsonr(s_exp, t_exp).statistic)
    assert got["spearman"] == pytest.approx(stats.spearmanr(s_exp, t_exp).statistic)
    # rounded half up: teacher 5 4 2 1 4 (3.5 -> 4), student 4 5 2 1 2 (2.49 -> 2)
    assert [teacher.correctness[f"c{i}"].discrete for i in range(5)] == [5, 4, 2, 1, 4]
    assert got["exact_agreement"] == pytest.approx(2 / 5)
    assert control_accuracy(items, teacher)["accuracy"] == 1.0
    assert control_accuracy(items, student)["accuracy"] == pytest.approx(4 / 5)  # 2.49 -> 2 is out of band 3-4
    stated = JudgeRun("x", {k: j.model_copy(update={"expected_score": None}) for k, j in teacher.correctness.items()}, {},
                      JudgeStats())
    assert score_agreement(student, stated, items)["pearson"] is None  # constant 5: undefined, as before
