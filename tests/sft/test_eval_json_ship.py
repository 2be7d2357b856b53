"""`ragtune train sft CHATS --eval-json test.jsonl`: held-out structured outputs decide the ship.

The evaluator alone with queue-free fakes (a base that writes broken JSON, a tuned model that writes the
references: a clear gain; the other way round: a clear loss), the base-reply cache, and the CLI end to end with
the tiny model, including the errors a user meets before any training starts."""

from __future__ import annotations

import json

import pytest
from conftest import write_jsonl
from typer.testing import CliRunner

from ragtune.cli.main import app
from ragtune.errors import InputError
from ragtune.evaluation.json_ship import JsonShipEvaluator
from ragtune.llm import FakeLLM
from ragtune.runs.decision import decide_gain

runner = CliRunner()
KINDS = ["roof", "window", "garden"]
SCHEMA = {"type": "object", "properties": {"kind": {"enum": KINDS}, "urgent": {"type": "boolean"}},
          "required": ["kind", "urgent"], "additionalProperties": False}


def _chats(n: int, offset: int = 0) -> list[dict]:
    rows = []
    for i in range(offset, offset + n):
        ref = {"kind": KINDS[i % 3], "urgent": i % 2 == 0}
        rows.append({"messages": [{"role": "system", "content": "Reply with JSON: {\"kind\": roof|window|garden, \"urgent\": bool}."},
                                  {"role": "user", "content": f"Ticket {i}: my {ref['kind']} leaks{' now' if ref['urgent'] else ''}."},
                                  {"role": "assistant", "content": json.dumps(ref)}]})
    return rows


@pytest.fixture
def data(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    write_jsonl(folder / "train.jsonl", _chats(8))
    write_jsonl(folder / "test.jsonl", _chats(30, offset=100))
    (folder / "schema.json").write_text(json.dumps(SCHEMA))
    return folder


def _reference(messages) -> str:
    text = messages[-1]["content"]
    kind = next(k for k in KINDS if k in text)
    return json.dumps({"kind": kind, "urgent": " now" in text})


def _fakes(good: str):
    return lambda spec: FakeLLM(default=_reference if spec == good else '{"kind": "roof", "urgent": "yes"}', model=spec)


def test_valid_right_json_ships_and_broken_json_is_refused(data):
    ev = JsonShipEvaluator(data / "test.jsonl", llm=_fakes("tuned-run"))  # schema.json next to the data
    report = ev.evaluate("base-model", "tuned-run")
    assert [r.model for r in report.results] == ["base", "tuned"] and report.task == "json"
    base, tuned = report.results
    assert base.metrics["valid_rate"] == 0.0 and tuned.metrics["valid_rate"] == 1.0
    assert tuned.metrics["field_accuracy"] == 1.0 and tuned.vs_first.metric == "field_accuracy"
    assert decide_gain(report, ev.name, "tuned").verdict == "ship"
    worse = JsonShipEvaluator(data / "test.jsonl", llm=_fakes("base-model")).evaluate("base-model", "tuned-run")
    assert decide_gain(worse, ev.name, "tuned").verdict == "refuse"
    assert ev.settings["schema"] == str(data / "schema.json") and ev.settings["base_replies"] == {"cache": "off"}


def test_bad_inputs_fail_when_the_evaluator_is_made(data, tmp_path):
    (tmp_path / "alone").mkdir()
    write_jsonl(tmp_path / "alone" / "test.jsonl", _chats(3))
    with pytest.raises(InputError, match="--json-schema"):
        JsonShipEvaluator(tmp_path / "alone" / "test.jsonl")
    with pytest.raises(InputError, match="does not exist"):
        JsonShipEvaluator(data / "test.jsonl", tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text('{"type": 12}')
    with pytest.raises(InputError, match="not a valid JSON Schema"):
        JsonShipEvaluator(data / "test.jsonl", tmp_path / "bad.json")
    write_jsonl(tmp_path / "prose.jsonl", [{"messages": [{"role": "user", "content": "hi"},
                                                          {"role": "assistant", "content": "hello"}]}])
    with pytest.raises(InputError, match="not JSON"):
        JsonShipEvaluator(tmp_path / "prose.jsonl", data / "schema.json")
    with pytest.raises(ValueError, match="factory"):  # a fake would silently decode unconstrained
        JsonShipEvaluator(data / "test.jsonl", llm=_fakes("tuned-run"), constrained=True)


def test_cli_train_sft_eval_json_end_to_end(data, tmp_path, tiny_model_dir, monkeypatch):
    monkeypatch.setenv("RAGTUNE_HOME", str(tmp_path / "home"))
    run = tmp_path / "run"
    args = ["train", "sft", str(data / "train.jsonl"), "-m", str(tiny_model_dir), "-o", str(run), "--eval-json",
            str(data / "test.jsonl"), "--epochs", "1", "--batch-size", "4", "--val-fraction", "0.25", "--device", "cpu"]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "held-out json test (30 questions): field_accuracy" in " ".join(res.output.split())
    metrics = json.loads((run / "metrics.json").read_text())
    d, task = metrics["decision"], metrics["task_eval"]
    assert d["decided_by"] == "eval json" and d["metric"] == "field_accuracy" and d["rule"] == "gain"
    assert task["task"] == "json" and task["data"] == str(data / "test.jsonl") and task["questions"] == 30
    assert task["settings"]["schema"] == str(data / "schema.json")
    assert task["settings"]["base_replies"]["generated"] == 30 and task["settings"]["base_replies"]["cached"] == 0
    report = json.loads((run / "eval" / "json.json").read_text())
    assert [r["model"] for r in report["results"]] == ["base", "tuned"]
    # random tiny weights write no valid JSON for either: nothing to tell apart, the base stays
    assert d["verdict"] != "ship" and not (run / "model").exists()

    other = tmp_path / "run2"  # the next run on the same base takes its 30 replies from the cache
    res = runner.invoke(app, [*args[:6], str(other), *args[7:]])
    assert res.exit_code == 0, res.output
    replies = json.loads((other / "metrics.json").read_text())["task_eval"]["settings"]["base_replies"]
    assert (replies["cached"], replies["generated"]) == (30, 0)

    bound = tmp_path / "run3"  # both decode inside the schema: every reply validates, and the base's are keyed apart
    res = runner.invoke(app, [*args[:6], str(bound), *args[7:], "--json-constrained"])
    assert res.exit_code == 0, res.output
    settings = json.loads((bound / "metrics.json").read_text())["task_eval"]["settings"]
    assert settings["decoding"] == "greedy, constrained to the JSON Schema" and settings["base_replies"]["generated"] == 30
    results = json.loads((bound / "eval" / "json.json").read_text())["results"]
    assert [r["metrics"]["valid_rate"] for r in results] == [1.0, 1.0]
    assert "decoding inside the JSON Schema" in (bound / "card.md").read_text()
    assert "decoding inside" not in (run / "card.md").read_text()


def test_cli_errors_before_training(data, tmp_path, tiny_model_dir):
    base = ["train", "sft", str(data / "train.jsonl"), "-m", str(tiny_model_dir), "--device", "cpu"]
    (tmp_path / "alone").mkdir()
    write_jsonl(tmp_path / "alone" / "test.jsonl", _chats(3))
    cases = [(["--eval-json", str(tmp_path / "alone" / "test.jsonl")], "--json-schema"),
             (["--eval-json", str(data / "test.jsonl"), "--eval-sql", "spider-dev"], "not both"),
             (["--json-schema", str(data / "schema.json")], "goes with --eval-json"),
             (["--json-constrained"], "goes with --eval-json")]
    for i, (extra, message) in enumerate(cases):
        run = tmp_path / f"run{i}"
        res = runner.invoke(app, [*base, "-o", str(run), *extra])
        assert res.exit_code != 0 and message in " ".join(res.output.split()), res.output
        assert "Traceback" not in res.output and not (run / "checkpoints").exists()
