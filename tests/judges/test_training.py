from __future__ import annotations

from ragtune.data.chat import check_row
from ragtune.judges.items import correctness_items, pairwise_items
from ragtune.judges.judge import judge_items
from ragtune.judges.parse import parse_correctness, parse_pairwise
from ragtune.judges.prompts import item_messages
from ragtune.judges.training import correctness_records, pairwise_records
from ragtune.llm import FakeLLM

from .conftest import make_run, oracle_reply


def test_correctness_records_are_valid_chat_and_parse_back(tmp_path, qa):
    items = correctness_items(qa)
    teacher = judge_items(FakeLLM(default=oracle_reply), items, tmp_path / "t.jsonl")
    recs = correctness_records(items, teacher)
    assert len(recs) == len(items)
    for rec, item in zip(recs, items):
        assert check_row(rec, "x") == []
        assert rec["messages"][:-1] == item_messages(item)
        score, reason = parse_correctness(rec["messages"][-1]["content"])
        assert score == teacher.correctness[item.id].score and reason == teacher.correctness[item.id].reason
        assert rec["metadata"]["question_id"] == item.question_id


def test_controls_the_teacher_got_wrong_are_not_taught(qa):
    items = correctness_items(qa, controls=("reference", "same_category"))
    scores = {i.id: (2 if i.control == "reference" else 1) for i in items}  # a wrong 2 for every reference
    recs = correctness_records(items, make_run(scores))
    assert {r["metadata"]["control"] for r in recs} == {"same_category"}
    assert len(correctness_records(items, make_run(scores), skip_failed_controls=False)) == len(items)
    assert correctness_records(items, make_run({i.id: None for i in items})) == []


def test_pairwise_records_skip_inconclusive_and_swap_a_share(tmp_path, qa):
    items = pairwise_items(qa)
    teacher = judge_items(FakeLLM(default=oracle_reply), items, tmp_path / "t.jsonl")
    plain = pairwise_records(items, teacher, swap_ratio=0.0)
    assert len(plain) == len(items) and all(not r["id"].endswith("~swapped") for r in plain)
    both = pairwise_records(items, teacher, swap_ratio=1.0)
    assert len(both) == 2 * len(items)
    by_id = {r["id"]: r for r in both}
    for item in items:
        orig, swapped = by_id[item.id], by_id[item.id + "~swapped"]
        assert orig["messages"][:-1] == item_messages(item, 0) and swapped["messages"][:-1] == item_messages(item, 1)
        v0, reason0 = parse_pairwise(orig["messages"][-1]["content"])
        v1, reason1 = parse_pairwise(swapped["messages"][-1]["content"])
        assert v0 == item.truth and v1 == {"A": "B", "B": "A"}[item.truth]
        assert reason0 == f"Answer {v0} matches the reference." and reason1 == f"Answer {v1} matches the reference."
        assert check_row(orig, "x") == [] and check_row(swapped, "x") == []
    half = pairwise_records(items, teacher, swap_ratio=0.5)
    assert len(half) == len(items) + round(0.5 * len(items))
    replaced = pairwise_records(items, teacher, swap_ratio=0.5, replace=True)
    assert len(replaced) == len(items) and sum(r["id"].endswith("~swapped") for r in replaced) == round(0.5 * len(items))
    flips = make_run(verdicts={i.id: ("A", "A") for i in items})
    assert pairwise_records(items, flips, skip_failed_controls=False) == []


def test_lean_verdict_takes_the_reason_of_the_order_that_decided(qa):
    item = pairwise_items(qa)[0]
    run = make_run(verdicts={item.id: ("tie", "B")})  # order 1 said B as shown = A in the item's labels
    run.pairwise[item.id] = run.pairwise[item.id].model_copy(update={
        "second": run.pairwise[item.id].second.model_copy(update={"reason": "B is better: it has the fee."})})
    recs = {r["id"]: r for r in pairwise_records([item], run, swap_ratio=1.0, skip_failed_controls=False)}
    assert recs[item.id]["messages"][-1]["content"] == "A\nA is better: it has the fee."
    assert recs[item.id + "~swapped"]["messages"][-1]["content"] == "B\nB is better: it has the fee."
