"""Chat formats, conversion, and every validation check of `ragtune data validate`."""

from __future__ import annotations

import json

import pytest
from conftest import write_jsonl

from ragtune.data.chat import (
    estimate_epochs,
    load_chat,
    near_duplicate_pairs,
    read_chat,
    validate_chat,
    write_chat,
)
from ragtune.errors import DataValidationError
from ragtune.sft.tokenize import check_tokens

GOOD = {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]}


def msgs(user: str = "Hi", answer: str = "Hello!") -> dict:
    return {"messages": [{"role": "user", "content": user}, {"role": "assistant", "content": answer}]}


def test_reads_all_four_formats_and_writes_openai_chat(tmp_path):
    path = write_jsonl(tmp_path / "mixed.jsonl", [
        GOOD,
        {"prompt": "2+2?", "completion": "4"},
        {"conversations": [{"from": "system", "value": "Be terse."}, {"from": "human", "value": "Hey"},
                           {"from": "gpt", "value": "Yo."}]},
        {"instruction": "Translate", "input": "hej", "output": "hello"},
    ])
    examples = load_chat(path)
    assert [e.messages for e in examples] == [
        GOOD["messages"],
        [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}],
        [{"role": "system", "content": "Be terse."}, {"role": "user", "content": "Hey"}, {"role": "assistant", "content": "Yo."}],
        [{"role": "user", "content": "Translate\n\nhej"}, {"role": "assistant", "content": "hello"}],
    ]
    assert [e.location for e in examples] == [f"{path}:{n}" for n in (1, 2, 3, 4)]
    out = write_chat(examples, tmp_path / "out.jsonl")
    assert [json.loads(line) for line in out.read_text().splitlines()] == [e.to_row() for e in examples]


def test_alpaca_json_array(tmp_path):
    path = tmp_path / "alpaca.json"
    path.write_text(json.dumps([{"instruction": "Say hi", "output": "hi", "system": "S"}]))
    (ex,) = load_chat(path)
    assert ex.messages == [{"role": "system", "content": "S"}, {"role": "user", "content": "Say hi"},
                           {"role": "assistant", "content": "hi"}]
    assert ex.location == f"{path}:1"


BAD_ROWS = [
    ("{not json", "not valid JSON"),
    ("[1, 2]", "expected a JSON object, got list"),
    ({"text": "hello"}, "unknown format"),
    ({"messages": "hi"}, "'messages' must be a non-empty list"),
    ({"messages": []}, "'messages' must be a non-empty list"),
    ({"messages": ["hi"]}, "a message must be an object"),
    ({"messages": [{"content": "x"}, {"role": "assistant", "content": "y"}]}, "message has no 'role'"),
    ({"messages": [{"role": "human", "content": "x"}, {"role": "assistant", "content": "y"}]}, "unrecognized role"),
    ({"messages": [{"role": "user", "content": "x", "lang": "en"}, {"role": "assistant", "content": "y"}]},
     "unrecognized key 'lang' in message"),
    ({"messages": [{"role": "user"}, {"role": "assistant", "content": "y"}]}, "message has no 'content'"),
    ({"messages": [{"role": "user", "content": 5}, {"role": "assistant", "content": "y"}]}, "'content' must be a string"),
    ({"messages": [{"role": "user", "content": "  "}, {"role": "assistant", "content": "y"}]}, "'content' is empty"),
    ({"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "x"}]}, "no assistant message"),
    ({"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": "y", "weight": 0.5}]},
     "'weight' must be 0 or 1"),
    ({"prompt": "", "completion": "y"}, "'prompt' must be a non-empty string"),
    ({"instruction": "x", "output": 3}, "'output' must be a non-empty string"),
    ({"conversations": [{"from": "alien", "value": "x"}, {"from": "gpt", "value": "y"}]}, "unrecognized role"),
]


@pytest.mark.parametrize("row,expected", BAD_ROWS, ids=[m for _, m in BAD_ROWS])
def test_every_structural_error_is_reported_with_file_and_line(tmp_path, row, expected):
    path = write_jsonl(tmp_path / "data.jsonl", [GOOD, row])
    examples, problems = read_chat(path)
    errors = [p for p in problems if p.severity == "error"]
    assert len(examples) == 1
    assert errors, f"no error for {row!r}"
    assert all(p.location.startswith(f"{path}:2") for p in errors)
    assert any(expected in p.message for p in errors), [str(p) for p in errors]
    with pytest.raises(DataValidationError) as info:
        load_chat(path)
    assert f"{path}:2" in str(info.value)


WARNING_ROWS = [
    ({"messages": GOOD["messages"], "source": "crm"}, "unknown key 'source'"),
    ({"messages": GOOD["messages"] + [{"role": "user", "content": "thanks"}]}, "last message is from 'user'"),
    ({"messages": [{"role": "user", "content": "x", "weight": 1}, {"role": "assistant", "content": "y"}]},
     "only meaningful on assistant"),
]


@pytest.mark.parametrize("row,expected", WARNING_ROWS, ids=[m for _, m in WARNING_ROWS])
def test_warnings_do_not_reject_the_example(tmp_path, row, expected):
    path = write_jsonl(tmp_path / "data.jsonl", [row])
    examples, problems = read_chat(path)
    assert len(examples) == 1
    assert [p.severity for p in problems] == ["warning"]
    assert expected in problems[0].message


def test_exact_and_near_duplicates_are_warnings(tmp_path):
    long_answer = "The municipality decides on building permits under the Planning and Building Act " * 3
    rows = [msgs("What is a permit?", long_answer), msgs("What is a permit?", long_answer),
            msgs("What is a permit?", long_answer + " Thanks."), msgs("Something else entirely", "A different reply.")]
    report = validate_chat(write_jsonl(tmp_path / "d.jsonl", rows))
    found = {(p.location.rsplit(":", 1)[1], p.message.split(" of ")[0]) for p in report.warnings}
    assert found == {("2", "exact duplicate"), ("3", "near duplicate")}
    assert not report.errors


def test_near_duplicate_pairs_are_exact_jaccard():
    a = " ".join(f"w{i}" for i in range(40))
    b = a.replace("w39", "z39")  # 37 of 39 shingles shared
    pairs = near_duplicate_pairs([a, b, "completely unrelated words here"], threshold=0.9)
    assert len(pairs) == 1 and pairs[0][:2] == (0, 1)
    assert pairs[0][2] == pytest.approx(37 / 39)


def test_train_val_overlap(tmp_path):
    long_answer = "Roof repairs need a permit only when the shape or material of the roof changes visibly " * 2
    train = write_jsonl(tmp_path / "train.jsonl", [msgs("a", "b"), msgs("roof?", long_answer)])
    val = write_jsonl(tmp_path / "val.jsonl", [msgs("a", "b"), msgs("roof?", long_answer + " Yes."), msgs("new", "fresh")])
    report = validate_chat(train, val=val)
    assert [str(p) for p in report.errors] == [f"{val}:1: also in the training data at {train}:1 (train/val overlap)"]
    assert any(p.location == f"{val}:2" and "train/val overlap" in p.message for p in report.warnings)


def test_token_checks_truncation_empty_mask_and_eot(tmp_path, smollm2_tokenizer):
    tok = smollm2_tokenizer
    rows = [msgs("hi", "short answer"),
            msgs("hi " * 60, "answer"),  # the answer falls beyond max_length: error
            msgs("hi", "word " * 60),  # truncated, but assistant tokens survive: warning
            {"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": "y", "weight": 0}]}]
    examples = load_chat(write_jsonl(tmp_path / "t.jsonl", rows))
    problems, lengths, truncated = check_tokens(examples, tok, max_length=48)
    by_line = {p.location.rsplit(":", 1)[1]: p for p in problems}
    assert set(by_line) == {"2", "3", "4"}
    assert by_line["2"].severity == "error" and "no assistant token survives truncation" in by_line["2"].message
    assert by_line["3"].severity == "warning" and "will be truncated" in by_line["3"].message
    assert by_line["4"].severity == "error" and "loss mask is empty" in by_line["4"].message
    assert truncated == 2 and lengths[0] < 48 < lengths[1]


def test_assistant_turn_must_end_with_end_of_turn_token(tmp_path, smollm2_tokenizer):
    import copy

    tok = copy.deepcopy(smollm2_tokenizer)
    tok.chat_template = ("{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\n' + m['content'] + '\n\n' }}"
                         "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")
    examples = load_chat(write_jsonl(tmp_path / "t.jsonl", [GOOD]))
    problems, _, _ = check_tokens(examples, tok, max_length=512)
    assert any("does not end with the end-of-turn token '<|im_end|>'" in p.message for p in problems)
    assert all(p.severity == "error" for p in problems)


def test_summary_epochs_and_cost(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", [msgs(f"question {i}", "answer " * 10) for i in range(10)])
    report = validate_chat(path, price_per_mtok=2.0)
    s = report.summary
    assert s["examples"] == 10 and s["epochs"] == 10  # OpenAI raises epochs for tiny sets: 100 // 10
    assert s["billed_tokens"] == s["tokens"]["total"] * 10
    assert s["estimated_cost"] == pytest.approx(s["billed_tokens"] / 1e6 * 2.0, abs=1e-4)
    assert s["tokens_exact"] is False
    assert estimate_epochs(1000) == 3 and estimate_epochs(20_000) == 1
