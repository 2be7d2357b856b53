from __future__ import annotations

from ragtune.generate.parsing import Limits, dedup_across, parse_reply, strip_decoration

PASSAGE = ("You need a building permit (bygglov) to build a new house or an extension in Sweden. "
           "The municipality's building committee decides on the application within ten weeks.")


def test_strips_numbering_bullets_quotes_and_labels():
    assert strip_decoration('1. "Do I need a permit?"') == "Do I need a permit?"
    assert strip_decoration("- **How long does it take?**") == "How long does it take?"
    assert strip_decoration("Question 2: Who decides?") == "Who decides?"
    assert strip_decoration("Q3) Who decides?") == "Who decides?"
    assert strip_decoration("(a) Who decides?") == "Who decides?"
    assert strip_decoration("2) - Who decides?") == "Who decides?"


def test_parse_reply_keeps_questions_and_counts_drops():
    reply = """Here are 3 questions:
1. Do I need a bygglov for an extension?
2. How long does the committee take to decide?
3. Do I need bygglov for an extension?
You need a building permit (bygglov) to build a new house or an extension in Sweden.
Why?
This is just a statement about houses
4. What does the municipality decide on
"""
    p = parse_reply(reply, PASSAGE, n_wanted=5)
    assert p.kept == ["Do I need a bygglov for an extension?", "How long does the committee take to decide?",
                      "What does the municipality decide on?"]
    assert p.drop_counts() == {"preamble": 1, "duplicate_in_chunk": 1, "copies_passage": 1, "too_short": 1,
                               "not_a_question": 1}


def test_over_limit_and_packed_questions_and_empty():
    p = parse_reply("Who decides on the permit? How long does it take to decide? What does it cost here?", PASSAGE, 2)
    assert len(p.kept) == 2 and p.drop_counts() == {"over_limit": 1}
    assert parse_reply("   ", PASSAGE, 2).drop_counts() == {"empty_reply": 1}


def test_length_bounds():
    long_q = "What " + " ".join(["very"] * 50) + " long?"
    p = parse_reply(long_q, PASSAGE, 1, Limits(max_words=40))
    assert p.drop_counts() == {"too_long": 1}


def test_text_after_question_mark_is_cut():
    p = parse_reply("Who decides on a bygglov? Answer: the committee.", PASSAGE, 1)
    assert p.kept == ["Who decides on a bygglov?"]


def test_dedup_across_chunks():
    kept, dropped = dedup_across([("c1", "What is a bygglov?"), ("c2", "what is the Bygglov?"), ("c3", "Who decides?")])
    assert [t for _, t in kept] == ["What is a bygglov?", "Who decides?"]
    assert dropped == [("duplicate_across_set", "c2", "what is the Bygglov?")]


def test_lead_in_before_a_question_is_dropped():
    p = parse_reply('A user could ask: "What is the deadline for a bygglov decision?"', PASSAGE, 1)
    assert p.kept == ["What is the deadline for a bygglov decision?"]
    assert parse_reply("Note: this passage is about permits.", PASSAGE, 1).drop_counts() == {"preamble": 1}


def test_cut_off_last_line_is_dropped_when_the_reply_hit_its_budget():
    reply = 'Who decides on a bygglov?\nA user could ask: "What is the maximum number of weeks without'
    p = parse_reply(reply, PASSAGE, 3, truncated=True)
    assert p.kept == ["Who decides on a bygglov?"] and p.drop_counts() == {"truncated": 1}
    assert len(parse_reply(reply, PASSAGE, 3).kept) == 2
    assert parse_reply("Who decides on a bygglov?", PASSAGE, 3, truncated=True).kept == ["Who decides on a bygglov?"]


def test_question_echoing_the_prompt_is_dropped():
    from ragtune.generate.prompts import default_template, render

    instructions = render(default_template(), "", 1, [])
    reply = "What is the meaning of 'a user would use'?\nWho decides on a bygglov in Sweden?"
    p = parse_reply(reply, PASSAGE, 2, instructions=instructions)
    assert p.kept == ["Who decides on a bygglov in Sweden?"] and p.drop_counts() == {"echoes_prompt": 1}


def test_question_pointing_at_its_source_is_dropped():
    passage = "ROT covers labour costs for repairs in a private home."
    reply = ("What are the main points of the passage about tax fraud?\n"
             "Which deduction is described in the text?\n"
             "According to the document, who pays?\n"
             "How much ROT can I deduct for labour?\n"
             "What does ROT mean in the context of renovation?\n"
             "What is the maximum height according to the Planning and Building Act?\n"
             "Where do I send the documents for a building permit?\n"
             "Can I sign the document electronically?\n"
             "Is the work described in the contract deductible?")
    parsed = parse_reply(reply, passage, 9)
    assert parsed.kept == ["How much ROT can I deduct for labour?", "What does ROT mean in the context of renovation?",
                           "What is the maximum height according to the Planning and Building Act?",
                           "Where do I send the documents for a building permit?", "Can I sign the document electronically?",
                           "Is the work described in the contract deductible?"]
    assert parsed.drop_counts()["mentions_source"] == 3
