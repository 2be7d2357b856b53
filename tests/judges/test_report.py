from __future__ import annotations

import json

import pytest

from ragtune.judges.items import correctness_items, pairwise_items
from ragtune.judges.judge import judge_items
from ragtune.judges.metrics import score_agreement, swap_consistency
from ragtune.judges.report import judge_report, judges_report
from ragtune.llm import FakeLLM

from .conftest import oracle_reply

REQUIRED = {"model", "n_items", "control_accuracy", "pearson_vs_teacher", "swap_consistency", "inconclusive_rate",
            "kappa_vs_teacher", "pairwise_agreement_vs_teacher", "n_unparsed", "n_failed_calls"}


def lazy(messages):
    """A weak judge: always 4, and 'A' whatever the order (a position bias)."""
    return "A\nLooks fine." if "Answer A:" in messages[-1]["content"] else "4\nLooks fine."


@pytest.fixture
def runs(tmp_path, qa):
    sources = {"sys": {r.id: r.reference.split(".")[0] + "." for r in qa}}
    items = correctness_items(qa, sources) + pairwise_items(qa, {**sources, "other": {r.id: "No idea." for r in qa}})
    teacher = judge_items(FakeLLM(default=oracle_reply, model="teacher"), items, tmp_path / "t.jsonl")
    base = judge_items(FakeLLM(default=lazy, model="base"), items, tmp_path / "b.jsonl")
    tuned = judge_items(FakeLLM(default=oracle_reply, model="tuned"), items, tmp_path / "s.jsonl")
    return items, teacher, base, tuned


def test_report_without_teacher(runs):
    items, teacher, base, _ = runs
    r = judge_report(items, base)
    assert REQUIRED <= set(r)
    assert r["pearson_vs_teacher"] is None and r["pairwise_agreement_vs_teacher"] is None
    assert r["n_items"] == len(items) and r["model"] == "base"
    assert r["swap_consistency"] == swap_consistency(base, items)["swap_consistency"]
    json.dumps(r, allow_nan=False)


def test_report_against_teacher(runs):
    items, teacher, base, tuned = runs
    r = judge_report(items, tuned, teacher)
    assert r["control_accuracy"] == 1.0 and r["pearson_vs_teacher"] == pytest.approx(1.0)
    assert r["swap_consistency"] == 1.0 and r["inconclusive_rate"] == 0.0
    assert r["pairwise_agreement_vs_teacher"] == 1.0 and r["n_pairwise_compared"] == sum(i.kind == "pairwise" for i in items)
    b = judge_report(items, base, teacher)
    assert b["pearson_vs_teacher"] is None  # a constant judge has no correlation, and it is not made up
    assert b["swap_consistency"] == 0.0 and b["inconclusive_rate"] == 1.0
    assert b["control_accuracy_by_control"]["reference"]["accuracy"] == 1.0  # 4 is in the band 4-5
    assert b["control_accuracy_by_control"]["same_category"]["accuracy"] == 0.0
    assert b["exact_agreement_vs_teacher"] == score_agreement(base, teacher, items)["exact_agreement"]
    assert b["scores_vs_teacher_on_answers"]["n"] == sum(i.kind == "correctness" and i.control is None for i in items)
    json.dumps(b, allow_nan=False)


def test_judges_report_pairs_students_against_the_first_student(runs):
    items, teacher, base, tuned = runs
    rep = judges_report(items, {"teacher": teacher, "student_base": base, "student_tuned": tuned}, n_resamples=200)
    assert set(rep["judges"]) == {"teacher", "student_base", "student_tuned"} and rep["baseline"] == "student_base"
    assert all(REQUIRED <= set(r) for r in rep["judges"].values())
    assert rep["judges"]["teacher"]["pearson_vs_teacher"] == pytest.approx(1.0)
    paired = rep["paired"]["student_tuned"]
    assert set(paired) == {"control", "score_exact", "score_within_one", "verdict"}
    assert paired["control"]["delta"] > 0 and paired["control"]["significant"]
    json.dumps(rep, allow_nan=False)
    with pytest.raises(KeyError):
        judges_report(items, {"student": base})
