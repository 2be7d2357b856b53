"""The shared ship rule: judge only on data that can judge; never ship or refuse on a tie."""

from __future__ import annotations

import numpy as np
import pytest

from ragtune.records import Comparison, EvalReport, ModelResult
from ragtune.runs import decide_gain, decide_lower_loss
from ragtune.runs.decision import EVAL_DATASET, MIN_CHANGED, VALIDATION


def report(delta: float, lo: float, hi: float, wins: int, losses: int, n: int = 100, base: float = 0.7) -> EvalReport:
    cmp = Comparison(baseline="base", metric="ndcg@10", delta=delta, ci95=[lo, hi], significant=lo > 0 or hi < 0,
                     wins=wins, losses=losses, ties=n - wins - losses)
    return EvalReport(task="retrieval", dataset="d", num_queries=n, headline="ndcg@10", results=[
        ModelResult(model="base", metrics={"ndcg@10": base, "median_rank": 1.0}),
        ModelResult(model="tuned", metrics={"ndcg@10": base + delta}, vs_first=cmp)])


# the issue's measured cases: synthetic validation cannot judge them, 503 human questions can
@pytest.mark.parametrize("case,verdict", [
    (report(+0.0045, -0.004, +0.014, 2, 3, n=75, base=0.959), "cannot_judge"),   # FAQ fine-tune on synthetic validation
    (report(-0.0037, -0.037, +0.027, 4, 5, n=75, base=0.959), "cannot_judge"),   # FAQ adapter on synthetic validation
    (report(0.0, 0.0, 0.0, 0, 0, n=131, base=0.997), "cannot_judge"),            # held-out domain, an exact tie
    (report(-0.0056, -0.017, +0.006, 6, 9, n=131, base=0.997), "cannot_judge"),  # held-out adapter, CI through zero
    (report(+0.059, +0.042, +0.076, 116, 48, n=503, base=0.716), "ship"),        # FAQ adapter on the human questions
    (report(-0.020, -0.028, -0.011, 60, 120, n=546, base=0.6), "refuse"),         # a clear regression
])
def test_the_issue_cases(case, verdict):
    d = decide_gain(case, VALIDATION, "tuned", ship_on_validation=True)
    assert d.verdict == verdict and d.shipped == (verdict == "ship") and d.rule == "gain"
    assert d.evidence["changed"] == case.comparison("tuned").wins + case.comparison("tuned").losses
    assert d.evidence["base_score"] == case.results[0].metrics["ndcg@10"]


def test_too_few_changed_queries_cannot_judge_even_when_all_won():
    d = decide_gain(report(+0.05, +0.01, +0.09, MIN_CHANGED - 1, 0), VALIDATION, "tuned")
    assert d.verdict == "cannot_judge" and "only 9 of 100 queries" in d.reason and "rank differently" in d.reason
    assert "ragtune label" in d.reason and "base model stays" in d.reason  # says how to get data that can judge
    assert decide_gain(report(+0.05, +0.01, +0.09, MIN_CHANGED, 0), VALIDATION, "tuned", ship_on_validation=True).verdict == "ship"
    sql = report(+0.05, +0.01, +0.09, MIN_CHANGED - 1, 0).model_copy(update={"task": "sql"})
    assert "queries on d (eval sql) score differently" in decide_gain(sql, "eval sql", "tuned").reason  # SQL is scored, not ranked


def test_synthetic_validation_alone_never_ships():
    """bench/ship_decisions.py, FAQ documents only: validation +0.049 [+0.008, +0.093] for an adapter the 503 human
    questions put at -0.011 [-0.027, +0.004]. The same numbers on real queries ship."""
    gain = report(+0.0491, +0.0084, +0.0927, 20, 8, n=76, base=0.680)
    d = decide_gain(gain, VALIDATION, "tuned")
    assert d.verdict == "cannot_judge" and not d.shipped
    assert "synthetic" in d.reason and "ragtune label" in d.reason and "base model stays" in d.reason
    assert decide_gain(gain, EVAL_DATASET, "tuned").verdict == "ship"
    assert decide_gain(report(-0.05, -0.09, -0.01, 8, 20), VALIDATION, "tuned").verdict == "refuse"  # it still refuses


def test_a_clear_gain_ships_and_a_clear_loss_is_refused_on_real_queries_without_the_label_hint():
    ship = decide_gain(report(+0.03, +0.01, +0.05, 30, 10), EVAL_DATASET, "tuned")
    assert ship.shipped and "beats base" in ship.reason
    refuse = decide_gain(report(-0.03, -0.05, -0.01, 10, 30), EVAL_DATASET, "tuned")
    assert refuse.verdict == "refuse" and "REFUSED TO SHIP" in refuse.reason and "ragtune label" not in refuse.reason
    unclear = decide_gain(report(+0.01, -0.01, +0.03, 20, 15), EVAL_DATASET, "tuned")
    assert unclear.verdict == "cannot_judge" and "includes zero" in unclear.reason


def test_allow_regression_ships_and_says_so():
    d = decide_gain(report(-0.03, -0.05, -0.01, 10, 30), VALIDATION, "tuned", allow_regression=True,
                    versus="the retriever alone")
    assert d.shipped and d.reason.startswith("shipped anyway (allow_regression)") and "the retriever alone" in d.reason


def test_lower_loss_rule():
    assert decide_lower_loss(2.0, 1.5, "val").shipped
    d = decide_lower_loss(2.0, 2.1, "val")
    assert d.verdict == "refuse" and "did not improve" in d.reason and d.delta == pytest.approx(0.1)
    assert decide_lower_loss(2.0, 2.1, "val", allow_regression=True).shipped


def _measured(diff) -> EvalReport:
    """A report whose comparison is the real paired bootstrap of these per-query differences."""
    from ragtune.evaluation.metrics import paired_comparison

    c = paired_comparison(np.zeros(len(diff)), np.asarray(diff), 2000, 0)
    return report(c["delta"], *c["ci95"], c["wins"], c["losses"], n=len(diff))


def test_cannot_judge_on_real_queries_says_how_many_labels_would_decide():
    """40 labelled FAQ questions (bench/ship_decisions.py --label 40): a gain too small for 40 to confirm. The projected
    count is enough: the same per-query differences, repeated to that many queries, give a CI above zero."""
    rng = np.random.default_rng(0)
    diff = np.zeros(40)
    diff[:12] = rng.normal(0.08, 0.25, 12)  # 12 of 40 rank differently, as measured
    few = _measured(diff)
    d = decide_gain(few, EVAL_DATASET, "tuned")
    need = d.evidence["queries_to_decide"]
    assert d.verdict == "cannot_judge" and need > 40
    assert f"about {need} labelled queries in all ({need - 40} more)" in d.reason
    more = _measured(np.resize(diff, need))  # the same effect per query, `need` queries
    assert decide_gain(more, EVAL_DATASET, "tuned").verdict == "ship"
    shorter = _measured(np.resize(diff, int(need * 0.5)))  # half as many do not decide: the projection is not padded much
    assert decide_gain(shorter, EVAL_DATASET, "tuned").verdict == "cannot_judge"


def test_no_label_projection_without_a_gain_or_on_synthetic_validation():
    lost = decide_gain(report(-0.01, -0.03, +0.01, 20, 25), EVAL_DATASET, "tuned")
    assert lost.verdict == "cannot_judge" and lost.evidence["queries_to_decide"] is None and "labelled queries in all" not in lost.reason
    synthetic = decide_gain(report(+0.01, -0.01, +0.03, 20, 15), VALIDATION, "tuned")
    assert "labelled queries in all" not in synthetic.reason and "ragtune label" in synthetic.reason
