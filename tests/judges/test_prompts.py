from __future__ import annotations

import pytest

from ragtune.judges.items import pairwise_items
from ragtune.judges.parse import parse_correctness, parse_pairwise
from ragtune.judges.prompts import (
    CORRECTNESS_FORMAT,
    CORRECTNESS_TASK,
    PAIRWISE_FORMAT,
    correctness_messages,
    item_messages,
    pairwise_messages,
    render_correctness_reply,
    render_pairwise_reply,
    short_reason,
    swap_augment,
    swap_item,
    swap_reason,
)


def test_correctness_prompt_holds_the_fields_and_the_format():
    m = correctness_messages(" Q? ", "R.", "  A.  ")
    assert [x["role"] for x in m] == ["user"]
    assert m[0]["content"] == (f"{CORRECTNESS_TASK}\n\nQuestion: Q?\n\nReference answer: R.\n\nAnswer to grade: A.\n\n"
                               f"{CORRECTNESS_FORMAT}")
    assert "1 if it is wrong or answers a different question" in CORRECTNESS_TASK
    assert "score (1 to 5) alone on the first line" in CORRECTNESS_FORMAT
    assert "Answer to grade: (no answer)" in correctness_messages("Q?", "R.", "  ")[0]["content"]


def test_pairwise_prompt_with_and_without_reference():
    with_ref = pairwise_messages("Q?", "one", "two", "R.")[0]["content"]
    assert with_ref.endswith("Question: Q?\n\nReference answer: R.\n\nAnswer A: one\n\nAnswer B: two\n\n" + PAIRWISE_FORMAT)
    assert "using the reference answer" in with_ref and "A, B or tie alone on the first line" in with_ref
    without = pairwise_messages("Q?", "one", "two")[0]["content"]
    assert "reference" not in without.lower()
    assert "{" not in without + with_ref  # no unfilled placeholder


def test_item_messages_orders(qa):
    p = pairwise_items(qa)[0]
    first, second = item_messages(p, 0)[-1]["content"], item_messages(p, 1)[-1]["content"]
    assert f"Answer A: {p.answer_a}\n\nAnswer B: {p.answer_b}" in first
    assert f"Answer A: {p.answer_b}\n\nAnswer B: {p.answer_a}" in second
    with pytest.raises(ValueError):
        item_messages(p, 2)


@pytest.mark.parametrize("score", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("reason", ["", "It misses the fee.", "Matches.\nAll of it.", "A 4 out of 10 is no score."])
def test_rendered_correctness_reply_parses_back(score, reason):
    reply = render_correctness_reply(score, reason)
    assert reply.splitlines()[0] == str(score)
    assert parse_correctness(reply) == (score, " ".join(reason.split()))


@pytest.mark.parametrize("verdict", ["A", "B", "tie"])
@pytest.mark.parametrize("reason", ["", "Answer B matches the reference.", "A is better, B is shorter."])
def test_rendered_pairwise_reply_parses_back(verdict, reason):
    reply = render_pairwise_reply(verdict, reason)
    assert reply.splitlines()[0] == verdict
    assert parse_pairwise(reply) == (verdict, reason)


def test_render_refuses_what_is_not_a_judgment():
    for bad in (0, 6, None, 4.5, "4"):
        with pytest.raises(ValueError):
            render_correctness_reply(bad, "x")
    for bad in ("C", "inconclusive", None, "a"):
        with pytest.raises(ValueError):
            render_pairwise_reply(bad, "x")


def test_short_reason():
    assert short_reason("  one   two\nthree ") == "one two three"
    long = "First sentence is short. " + "word " * 50
    assert short_reason(long, max_words=10) == "First sentence is short."
    assert short_reason("w " * 50, max_words=5) == "w w w w w"
    assert render_correctness_reply(3, "x " * 100).count("x") == 40


def test_swap_item_and_reason(qa):
    p = pairwise_items(qa)[0]
    s = swap_item(p)
    assert (s.answer_a, s.answer_b, s.source_a, s.source_b) == (p.answer_b, p.answer_a, p.source_b, p.source_a)
    assert s.truth == ("B" if p.truth == "A" else "A") and s.id == p.id + "~swapped" and s.question_id == p.question_id
    back = swap_item(s)
    assert back.model_copy(update={"id": p.id}) == p
    assert swap_reason("Answer A matches; answer B does not. A is better. [[B]]") == \
        "Answer B matches; answer A does not. B is better. [[A]]"
    assert swap_reason("A permit is needed.") == "A permit is needed."


def test_swap_augment_adds_or_replaces_a_seeded_share(qa):
    items = pairwise_items(qa)
    added = swap_augment(items, ratio=0.5, seed=0)
    assert added[:len(items)] == items and len(added) == len(items) + round(0.5 * len(items))
    assert all(x.id.endswith("~swapped") for x in added[len(items):])
    assert swap_augment(items, ratio=0.5, seed=0) == added
    assert swap_augment(items, ratio=0.5, seed=1) != added
    assert swap_augment(list(reversed(items)), 0.5, 0)[len(items):] != [] and \
        {x.id for x in swap_augment(list(reversed(items)), 0.5, 0)} == {x.id for x in added}  # order of input does not matter
    replaced = swap_augment(items, ratio=0.5, seed=0, replace=True)
    assert len(replaced) == len(items) and sum(x.id.endswith("~swapped") for x in replaced) == round(0.5 * len(items))
    assert len(swap_augment(items, 1.0)) == 2 * len(items) and swap_augment(items, 0.0) == items
    with pytest.raises(ValueError):
        swap_augment(items, 1.5)
