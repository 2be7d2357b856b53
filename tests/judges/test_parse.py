from __future__ import annotations

import random

import pytest

from ragtune.judges.parse import parse_correctness, parse_pairwise, parse_score, parse_verdict

SCORES = [
    ("4", 4), ("4\n", 4), ("  \n\n 3\nreason", 3), ("4.0", 4), ("5.00\nok", 5), ("Score: 4", 4), ("score:4", 4),
    ("SCORE = 2", 2), ("Score - 1", 1), ("Final score: 5", 5), ("Rating: 4/5", 4), ("4/5", 4), ("4 / 5", 4),
    ("4 out of 5", 4), ("Score: 4 out of 5", 4), ("**4**", 4), ("**Score:** 3", 3), ("`2`", 2), ("# Score: 5", 5),
    ("four", 4), ("Four.", 4), ("FIVE", 5), ("Score: four", 4), ("one\nIt answers another question.", 1),
    ("(3)", 3), ("4 - misses the fee", 4), ("4 – misses the fee", 4), ("4.\nThe answer is close.", 4), ("Score: 4. Close.", 4),
    ("4/5 The answer is close", 4), ("5 The answer is correct.", 5), ("5, it matches", 5), ("2: mostly wrong", 2),
    ('3 "Partly" right', 3),
    ("The answer is right.\nScore: 5", 5), ("Good answer. Rating: 4", 4), ("I would rate this answer a 3.", 3),
    ("I rate it 2", 2), ("I give it a 2.", 2), ("I give this answer a score of 5", 5), ("It scores 4/5.", 4),
    ("[[3]]", 3), ("Explanation first. [[2]]", 2), ("Sure! Here is my grade:\n3\nbecause", 3),
    ('{"score": 4, "reason": "close"}', 4), ('```json\n{"Score": "5", "Reason": "same"}\n```', 5),
    ('"score": 3, "reason": "cut off', 3), ("Score:\n4", 4), ("half (1/2) of it. Score: 4", 4),
    ("The answer matches 4/5 facts", 4),
]

UNPARSED_SCORES = [
    "", "   ", "\n\n", "I cannot judge this.", "The answer is correct.", "Score:", "Score: N/A", "Score: 7", "0",
    "6", "6/5", "8/10", "Score: 10/10", "4.5", "Score: 3.5", "3-4", "3 – 4", "3 or 4", "Score: 3-4", "between three and four",
    "2023 rules apply", "The processing time is 10 weeks.", "The answer gave 3 examples.", "fourteen", "5th",
    "-", "?!", "null", '{"score": 7}', '{"score": null}', '{"score": "high"}', "Score 5 and 4 for style",
    "A", "B is better", "\x00\x01\x02", "🙂🙂", "Yes", "no score here, sorry", "1,000 SEK",
    # numbered lists and parroted answers (what small untuned models write), not scores
    "1. 100–150 m² roof: 1–2 weeks in good weather.", "1. 1.\n2. 2.\n3. 3.", "1. Electrical installation rules apply.",
    "4. The answer is close.", "(3) partly right", "2 weeks for a simple case", "3 sentences are missing",
]


@pytest.mark.parametrize("text,score", SCORES)
def test_scores(text, score):
    assert parse_score(text) == score


@pytest.mark.parametrize("text", UNPARSED_SCORES)
def test_unparsed_scores_are_none_not_guesses(text):
    assert parse_score(text) is None


@pytest.mark.parametrize("text,reason", [
    ("4\nThe answer misses the fee.", "The answer misses the fee."),
    ("4 - misses the fee", "misses the fee"),
    ("Score: 4. Reason: misses the fee.", "misses the fee."),
    ("**Score:** 2\n**Reason:** it contradicts the reference", "it contradicts the reference"),
    ("The answer is right.\nScore: 5", "The answer is right."),
    ("5\n\n  Same facts as   the reference.\n  Concise.  ", "Same facts as the reference. Concise."),
    ("3", ""),
    ("I would rate this answer a 3 because it is short", "I would rate this answer a 3 because it is short"),
    ('{"score": 4, "explanation": "close to the reference"}', "close to the reference"),
])
def test_reasons(text, reason):
    score, got = parse_correctness(text)
    assert score is not None
    assert got == reason


def test_unparsed_reply_keeps_all_text_as_reason():
    assert parse_correctness("  I cannot\n judge this. ") == (None, "I cannot judge this.")


VERDICTS = [
    ("A", "A"), ("B", "B"), ("A.", "A"), ("B\nB matches the reference.", "B"), ("  \nA", "A"), ("Answer A", "A"),
    ("answer b", "B"), ("Assistant B", "B"), ("Response A is better.", "A"), ("Verdict: B", "B"), ("Final verdict: A", "A"),
    ("Better answer: B", "B"), ("(A)", "A"), ("[B]", "B"), ("**A**", "A"), ("`B`", "B"), ("Verdict: A:", "A"),
    ("B - it matches", "B"), ("A because it matches", "A"), ("A is better because it matches.", "A"),
    ("B is better", "B"), ("Answer A is more complete than B.", "A"), ("The better answer is A.", "A"),
    ("I prefer B.", "B"), ("B wins.", "B"), ("A is worse than B.", "B"), ("Answer B is clearly worse", "A"),
    ("[[A]]", "A"), ("[[B]]", "B"), ("[[C]]", "tie"), ("[[tie]]", "tie"), ("Comparing both... Final verdict: [[B]]", "B"),
    ("tie", "tie"), ("Tie.", "tie"), ("TIE\nboth say the same", "tie"), ("Equal", "tie"), ("Equally good.", "tie"),
    ("It's a tie.", "tie"), ("Both answers are equally good.", "tie"), ("Neither is better than the other.", "tie"),
    ("Both answers are correct, but A is more complete.", "A"), ("Sure.\nA\nbecause", "A"),
    ('{"verdict": "B", "explanation": "x"}', "B"), ('{"winner": "tie"}', "tie"), ("A\n[[A]]", "A"),
]

UNPARSED_VERDICTS = [
    "", "  ", "C", "D", "[[D]]", "AB", "a", "b", "A or B", "A/B", "Either A or B", "A good answer mentions the fee.",
    "A permit is needed.", "Both answers mention the fee.", "Neither answer is correct.", "A is wrong.", "I think so.",
    "[[A]] [[B]]", "A\n[[B]]", "A is more accurate than B, but B is more complete.", "B is better, no, A is better",
    "4", "Score: 5", "The answers differ.", '{"verdict": "C"}', '{"verdict": null}', "\x00A\x00B", "¯\\_(ツ)_/¯",
    "Answer A correctly states the fee.", "Answer: C",
    # recitations of the prompt's 'Answer A: ...' lines (what small untuned models write), not verdicts
    "A: Yes, ROT and RUT have separate caps.", "Answer A: Yes, the labour cost counts.", "B: 100–150 m² roof: 1–2 weeks",
]


@pytest.mark.parametrize("text,verdict", VERDICTS)
def test_verdicts(text, verdict):
    assert parse_verdict(text) == verdict


@pytest.mark.parametrize("text", UNPARSED_VERDICTS)
def test_unparsed_verdicts_are_none_not_guesses(text):
    assert parse_verdict(text) is None


@pytest.mark.parametrize("text,reason", [
    ("A\nA matches the reference.", "A matches the reference."),
    ("B. The reference says 10 weeks.", "The reference says 10 weeks."),
    ("Verdict: A\nReason: it is right", "it is right"),
    ("A is better because it matches.", "A is better because it matches."),
    ("Both fit. Final verdict: [[C]]", "Both fit."),
    ("tie\n", ""),
])
def test_pairwise_reasons(text, reason):
    verdict, got = parse_pairwise(text)
    assert verdict is not None
    assert got == reason


def test_random_garbage_never_crashes_and_rarely_parses():
    rng = random.Random(0)
    alphabet = "abcxyz ABC.,:;!?-/()[]{}*#`'\"\n\t0123456789" + "éß€🙂"
    parsed = 0
    for _ in range(2000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 60)))
        s, r = parse_correctness(text)
        v, r2 = parse_pairwise(text)
        assert s is None or s in (1, 2, 3, 4, 5)
        assert v in (None, "A", "B", "tie")
        assert isinstance(r, str) and isinstance(r2, str)
        parsed += s is not None
    assert parsed < 2000  # garbage is mostly unparsed; a stray '3' on a line of its own legitimately parses


# ---------------------------------------------------------------- the expected score

def test_expected_score_by_hand():
    import math

    from ragtune.judges.parse import expected_score

    lp = [("5", math.log(0.5)), (" 4", math.log(0.2)), ("4", math.log(0.1)), ("The", math.log(0.15)), ("1", math.log(0.05))]
    e, mass = expected_score(lp)
    # digits: 5 -> 0.5, 4 -> 0.2 + 0.1 (" 4" and "4" add up), 1 -> 0.05; renormalised over 0.85
    assert mass == pytest.approx(0.85)
    assert e == pytest.approx((5 * 0.5 + 4 * 0.3 + 1 * 0.05) / 0.85)


def test_expected_score_ignores_non_scores_and_refuses_a_small_mass():
    import math

    from ragtune.judges.parse import MIN_SCORE_MASS, expected_score

    assert expected_score([("6", 0.0)]) == (None, 0.0)
    assert expected_score([("10", -0.1), ("45", -0.2), ("A", -0.3)]) == (None, 0.0)
    assert expected_score([]) == (None, 0.0) and expected_score(None) == (None, 0.0)
    small = [("The", math.log(0.95)), ("3", math.log(MIN_SCORE_MASS / 2))]
    e, mass = expected_score(small)
    assert e is None and mass == pytest.approx(MIN_SCORE_MASS / 2)
    assert expected_score(small, min_mass=0.0)[0] == pytest.approx(3.0)
    assert expected_score([("2", -float("inf")), ("3", 0.0)])[0] == pytest.approx(3.0)
