from __future__ import annotations

import json
import random

import pytest

from ragtune.errors import DataValidationError, InputError
from ragtune.judges.items import (
    CONTROL_TRUTH,
    CORRECT,
    INCOMPLETE,
    WRONG,
    control_answers,
    correctness_items,
    faq_qa,
    in_band,
    pairwise_items,
    qa_rows,
    read_answers,
    read_items,
    score_band,
    sentences,
    split_items,
    split_question_ids,
    truncate_reference,
    write_items,
)



def by_control(items):
    return {(i.question_id, i.control): i for i in items if i.control}


def test_qa_rows_accept_faq_and_canonical_shapes():
    rows = qa_rows([{"id": "x", "category": "c", "q": "Q?", "a": "A."}, {"id": 7, "question": "Q2?", "reference": "R."}])
    assert [(r.id, r.question, r.reference, r.category) for r in rows] == [("x", "Q?", "A.", "c"), ("7", "Q2?", "R.", None)]


@pytest.mark.parametrize("rows,where", [
    ([{"id": "a", "question": "q", "reference": "r"}, {"id": "a", "question": "q2", "reference": "r2"}], "duplicate id 'a'"),
    ([{"id": "a", "question": "", "reference": "r"}], "row 1: question"),
    ([{"id": "a", "question": "q"}], "row 1: reference"),
    (["not a row"], "expected an object"),
])
def test_qa_rows_reject_bad_rows_with_location(rows, where):
    with pytest.raises(DataValidationError, match=where):
        qa_rows(rows)


def test_empty_qa_set_is_an_input_error():
    with pytest.raises(InputError, match="empty"):
        qa_rows([])


def test_controls_have_truth_by_construction(qa):
    items = by_control(correctness_items(qa))
    refs = {r.id: r for r in qa}
    for qid, row in refs.items():
        ref = items[(qid, "reference")]
        assert ref.answer == row.reference and ref.truth == CORRECT and ref.source == "control:reference"
        same = items.get((qid, "same_category"))
        if same is not None:
            donor = refs[same.donor_id]
            assert same.truth == WRONG and donor.id != qid and donor.category == row.category
            assert same.answer == donor.reference
        other = items[(qid, "other_category")]
        assert other.truth == WRONG and refs[other.donor_id].category != row.category
        assert other.answer == refs[other.donor_id].reference
    # heating has a single question: no same-category donor exists, so no such control is made
    assert ("h1", "same_category") not in items
    assert ("p1", "same_category") in items and ("r1", "same_category") in items


def test_truncated_control_is_the_first_sentence_of_a_long_enough_reference(qa):
    items = by_control(correctness_items(qa))
    assert items[("r1", "truncated")].answer == "Inspect a roof every year."
    assert items[("r1", "truncated")].truth == INCOMPLETE
    assert ("p3", "truncated") not in items  # one sentence: nothing to cut
    assert ("h1", "truncated") not in items  # first sentence "Usually yes." has 2 words: too short to stand alone
    assert truncate_reference("One two three four five six. Seven.") is None  # first sentence holds 6/7 > 2/3 of the words
    assert truncate_reference("One two three. Four five six.") == "One two three."


def test_sentence_split_keeps_abbreviations_and_numbers():
    assert sentences("The fee is approx. 25,000 SEK. E.g. Lund differs. Costs 5 m. Then stop! Why? \"Yes\" he said.") == [
        "The fee is approx. 25,000 SEK.", "E.g. Lund differs.", "Costs 5 m.", "Then stop!", "Why?", "\"Yes\" he said."]
    assert sentences("See PBL 9 kap. 27 § for the rule.") == ["See PBL 9 kap. 27 § for the rule."]
    assert sentences("Heat, e.g. Pumps. Fine.") == ["Heat, e.g. Pumps.", "Fine."]


def test_controls_are_seeded_and_independent_of_qa_order(qa):
    a = control_answers(qa, seed=0)
    shuffled = list(qa)
    random.Random(3).shuffle(shuffled)
    assert control_answers(shuffled, seed=0) == a
    assert control_answers(qa, seed=0) == a
    seeds = {tuple(control_answers(qa, seed=s)["p1"]["other_category"]) for s in range(20)}
    assert len(seeds) > 1  # the seed changes the donor


def test_wrong_controls_never_borrow_an_identical_reference():
    rows = qa_rows([{"id": "a", "category": "c", "question": "q1", "reference": "Same text."},
                    {"id": "b", "category": "c", "question": "q2", "reference": "same   TEXT."},
                    {"id": "c", "category": "d", "question": "q3", "reference": "Same text."}])
    ctl = control_answers(rows)
    assert "same_category" not in ctl["a"] and "other_category" not in ctl["a"]


def test_score_bands():
    assert score_band(CORRECT) == (4, 5) and score_band(INCOMPLETE) == (3, 4) and score_band(WRONG) == (1, 2)
    assert score_band(2.0) == (1.0, 3.0)  # any other truth: within one point
    assert [s for s in range(1, 6) if in_band(s, CORRECT)] == [4, 5]
    assert [s for s in range(1, 6) if in_band(s, INCOMPLETE)] == [3, 4]
    assert [s for s in range(1, 6) if in_band(s, WRONG)] == [1, 2]
    assert not in_band(None, CORRECT)
    assert set(CONTROL_TRUTH) == {"reference", "same_category", "other_category", "truncated"}


def test_source_items_and_pairs(qa):
    sources = {"sys1": {"p1": "Yes.", "p2": "Ten weeks."}, "sys2": {"p1": "No.", "r1": "Yearly."}}
    items = correctness_items(qa, sources, controls=())
    assert [(i.id, i.answer, i.truth) for i in items] == [
        ("p1|sys1", "Yes.", None), ("p1|sys2", "No.", None), ("p2|sys1", "Ten weeks.", None), ("r1|sys2", "Yearly.", None)]
    pairs = pairwise_items(qa, sources, controls=())
    assert [p.id for p in pairs] == ["p1|sys1|sys2"]  # only p1 was answered by both
    p = pairs[0]
    assert {(p.source_a, p.answer_a), (p.source_b, p.answer_b)} == {("sys1", "Yes."), ("sys2", "No.")}
    assert p.truth is None and p.reference == qa[0].reference
    assert pairwise_items(qa, sources, controls=(), with_reference=False)[0].reference is None


def test_pairwise_controls_put_the_reference_on_a_seeded_side_and_it_must_win(qa):
    pairs = pairwise_items(qa)
    refs = {r.id: r.reference for r in qa}
    kinds = {p.control for p in pairs}
    assert kinds == {"reference_vs_same_category", "reference_vs_other_category", "reference_vs_truncated"}
    for p in pairs:
        winner = p.answer_a if p.truth == "A" else p.answer_b
        loser = p.answer_b if p.truth == "A" else p.answer_a
        assert winner == refs[p.question_id] and loser != refs[p.question_id]
        assert (p.source_a if p.truth == "A" else p.source_b) == "control:reference"
    assert pairwise_items(qa, seed=0) == pairs
    sides = {p.truth for s in range(5) for p in pairwise_items(qa, seed=s)}
    assert sides == {"A", "B"}


@pytest.mark.parametrize("sources,msg", [
    ({"control:x": {}}, "reserved for controls"),
    ({"a|b": {}}, "without '|'"),
    ({"sys": {"q-p1": "x"}}, "not questions of the QA set: 'q-p1'"),
])
def test_bad_sources_are_input_errors(qa, sources, msg):
    with pytest.raises(InputError, match=msg):
        correctness_items(qa, sources)


def test_unknown_control_is_an_input_error(qa):
    with pytest.raises(InputError, match="unknown control"):
        correctness_items(qa, controls=("nonsense",))


def test_read_answers(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_text('{"id": "p1", "answer": "Yes."}\n\n{"id": 2, "answer": ""}\n', encoding="utf-8")
    assert read_answers(path) == {"p1": "Yes.", "2": ""}
    path.write_text('{"id": "p1", "answer": "Yes."}\n{"id": "p1", "answer": "No."}\n')
    with pytest.raises(InputError, match="line 2: a second answer"):
        read_answers(path)
    path.write_text('{"id": "p1", "text": "Yes."}\n')
    with pytest.raises(InputError, match="line 1: expected"):
        read_answers(path)
    path.write_text('{"id": "p1", "ans')
    with pytest.raises(InputError, match="line 1: not valid JSON"):
        read_answers(path)
    with pytest.raises(InputError, match="not found"):
        read_answers(tmp_path / "missing.jsonl")


def test_split_by_question_is_disjoint_seeded_and_order_free():
    ids = [f"q{i}" for i in range(50)]
    train, test = split_question_ids(ids, 0.2, seed=1)
    assert len(test) == 10 and len(train) == 40 and not set(train) & set(test) and set(train) | set(test) == set(ids)
    assert split_question_ids(list(reversed(ids)), 0.2, seed=1) == (train, test)
    assert split_question_ids(ids, 0.2, seed=2) != (train, test)
    tr, te = split_question_ids(["a", "b"], 0.01)
    assert len(tr) == len(te) == 1  # both sides get one id when there are two
    with pytest.raises(InputError):
        split_question_ids(ids, 1.0)


def test_split_items_keeps_every_item_of_a_question_on_one_side(qa):
    items = correctness_items(qa) + pairwise_items(qa)
    train_ids, test_ids = split_question_ids([r.id for r in qa], 0.34, seed=0)
    train, test = split_items(items, test_ids)
    assert len(train) + len(test) == len(items)
    assert {i.question_id for i in train} == set(train_ids) and {i.question_id for i in test} == set(test_ids)
    # a wrong control's donor may sit on the other side: that is its answer text, not its question


def test_items_round_trip_through_jsonl(tmp_path, qa):
    items = correctness_items(qa, {"s": {"p1": "x"}}) + pairwise_items(qa, {"s": {"p1": "x"}, "t": {"p1": "y"}})
    path = write_items(tmp_path / "items.jsonl", items)
    assert read_items(path) == items
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert {r["kind"] for r in rows} == {"correctness", "pairwise"}
    path.write_text(path.read_text() + '{"kind": "pairwise", "id": "broken"}\n')
    with pytest.raises(InputError, match=f"line {len(rows) + 1}"):
        read_items(path)


def test_faq_controls():
    qa = faq_qa()
    items = correctness_items(qa)
    counts = {k: sum(i.control == k for i in items) for k in CONTROL_TRUTH}
    assert len(qa) == 503
    assert counts["reference"] == counts["same_category"] == counts["other_category"] == 503
    assert 300 < counts["truncated"] < 503
    refs = {r.id: r for r in qa}
    for i in items:
        if i.control == "same_category":
            assert refs[i.donor_id].category == i.category
        if i.control == "other_category":
            assert refs[i.donor_id].category != i.category
