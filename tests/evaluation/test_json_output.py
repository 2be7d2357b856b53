"""eval json: validity against a JSON Schema, field accuracy, paired comparison; the faq-json example; the CLI."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

pytest.importorskip("jsonschema")

from ragtune.cli.main import app  # noqa: E402
from ragtune.data.chat import ChatExample  # noqa: E402
from ragtune.errors import InputError  # noqa: E402
from ragtune.evaluation.json_output import evaluate_json, extract_json  # noqa: E402
from ragtune.llm import FakeLLM  # noqa: E402

runner = CliRunner()
SCHEMA = {"type": "object", "properties": {"category": {"enum": ["roof", "permit"]}, "related_service": {"type": ["string", "null"]}},
          "required": ["category", "related_service"], "additionalProperties": False}


def _examples():
    refs = [{"category": "roof", "related_service": None}, {"category": "permit", "related_service": "bygglov"},
            {"category": "roof", "related_service": "tak"}, {"category": "permit", "related_service": None}]
    return [ChatExample([{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": json.dumps(r)}], f"x:{i}")
            for i, r in enumerate(refs)], refs


def test_extract_json_takes_the_first_object_fenced_or_not():
    assert extract_json('Sure: ```json\n{"a": 1}\n``` and {"b": 2}') == {"a": 1}
    assert extract_json("{not json} then {\"a\": [1, 2]}") == {"a": [1, 2]}
    assert extract_json("no object [1]") is None


def test_validity_field_accuracy_and_the_paired_comparison():
    examples, refs = _examples()
    perfect = FakeLLM(default=lambda m: next(e.messages[-1]["content"] for e in examples if e.messages[0] == m[0]))
    wrong = ['{"category": "roof", "related_service": null}', '{"category": "sauna", "related_service": "bygglov"}',
             'Here: {"category": "roof", "related_service": "tak"}', "I think it's a permit"]
    report = evaluate_json(examples, {"perfect": perfect, "wrong": FakeLLM(wrong)}, SCHEMA, concurrency=1)
    p, w = report.result("perfect").metrics, report.result("wrong").metrics
    assert report.task == "json" and p["valid_rate"] == 1.0 and p["field_accuracy"] == 1.0 and p["exact_match"] == 1.0
    assert w["valid_rate"] == 0.5  # "sauna" is not in the enum; prose has no object
    assert w["field_accuracy.category"] == 0.5 and w["field_accuracy.related_service"] == 0.5 and w["exact_match"] == 0.5
    cmp = report.comparison("wrong")
    assert cmp.delta == -0.5 and cmp.losses == 2 and cmp.ties == 2
    assert "valid_rate.delta" in report.result("wrong").ci95


def test_a_reference_that_is_not_json_is_an_input_error():
    bad = [ChatExample([{"role": "user", "content": "q"}, {"role": "assistant", "content": "roof"}], "f:1")]
    with pytest.raises(InputError, match="f:1.*not JSON"):
        evaluate_json(bad, {"m": FakeLLM(["{}"])}, SCHEMA)


def test_faq_json_split_is_stratified_and_seeded_and_eval_json_runs_end_to_end(tmp_path, tiny_chat_dir):
    from ragtune.assets import get_asset

    if not get_asset("construction-faq").installed():
        pytest.skip("needs construction-faq")
    res = runner.invoke(app, ["data", "faq-json", "-o", str(tmp_path / "faq")])
    assert res.exit_code == 0, res.output
    split = json.loads((tmp_path / "faq" / "split.json").read_text())
    assert split["categories"] == 39 and split["train_examples"] + split["test_examples"] == 503
    test = [json.loads(x) for x in (tmp_path / "faq" / "test.jsonl").read_text().splitlines()]
    train = [json.loads(x) for x in (tmp_path / "faq" / "train.jsonl").read_text().splitlines()]
    cats = lambda rows: {json.loads(r["messages"][-1]["content"])["category"] for r in rows}  # noqa: E731
    assert cats(test) <= cats(train) and len(cats(train)) == 39
    again = tmp_path / "again"
    runner.invoke(app, ["data", "faq-json", "-o", str(again)])
    assert (again / "test.jsonl").read_text() == (tmp_path / "faq" / "test.jsonl").read_text()
    small = tmp_path / "small.jsonl"
    small.write_text("".join(json.dumps(r) + "\n" for r in test[:3]))
    out = tmp_path / "r.json"
    res = runner.invoke(app, ["eval", "json", str(small), "--schema", str(tmp_path / "faq" / "schema.json"),
                              "-m", f"tiny={tiny_chat_dir}", "--max-new-tokens", "8", "--json", str(out)])
    assert res.exit_code == 0, res.output
    report = json.loads(out.read_text())
    assert report["task"] == "json" and report["results"][0]["metrics"]["valid_rate"] == 0.0  # random weights
