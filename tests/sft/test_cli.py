"""The sft commands end to end through the CLI: help texts, validate, eval, merge, chat."""

from __future__ import annotations

import json

import pytest
from conftest import faq_chats, write_jsonl
from typer.testing import CliRunner

from ragtune.cli.main import app

runner = CliRunner()

COMMANDS = [["data", "validate"], ["train", "sft"], ["eval", "sft"], ["sft", "merge"], ["sft", "submit"], ["chat"], ["distill"]]


@pytest.mark.parametrize("cmd", COMMANDS, ids=" ".join)
def test_help(cmd):
    res = runner.invoke(app, [*cmd, "--help"])
    assert res.exit_code == 0 and "Usage" in res.output


def test_validate_exit_codes_and_locations(tmp_path):
    good = write_jsonl(tmp_path / "good.jsonl", faq_chats(4))
    res = runner.invoke(app, ["data", "validate", str(good), "-o", str(tmp_path / "out.jsonl")])
    assert res.exit_code == 0, res.output
    assert "4 conversations" in res.output and "0 error(s)" in res.output
    assert len((tmp_path / "out.jsonl").read_text().splitlines()) == 4
    bad = write_jsonl(tmp_path / "bad.jsonl", [faq_chats(1)[0], {"messages": [{"role": "robot", "content": "x"}]}])
    res = runner.invoke(app, ["data", "validate", str(bad)])
    assert res.exit_code == 1
    assert f"{bad}:2: messages[0]: unrecognized role" in res.output.replace("\n", "")


def test_validate_with_model_checks_tokens(tmp_path, tiny_model_dir):
    data = write_jsonl(tmp_path / "d.jsonl", faq_chats(3) + [faq_chats(1)[0]])
    res = runner.invoke(app, ["data", "validate", str(data), "--model", str(tiny_model_dir), "--max-length", "40"])
    assert res.exit_code == 0, res.output
    assert "exact duplicate of" in res.output and "will be truncated" in res.output
    assert "estimated" not in res.output  # exact token counts with --model


def test_validate_retrieval_dataset(tmp_path):
    path = tmp_path / "ds.json"
    path.write_text(json.dumps({"queries": {"q1": "a?", "q2": "b?"}, "corpus": {"d1": "x"},
                                "relevant_docs": {"q1": ["d1"], "q2": []}, "mode": "text"}))
    res = runner.invoke(app, ["data", "validate", str(path)])
    assert res.exit_code == 1 and "query has no relevant doc" in res.output


def test_eval_merge_and_chat(tmp_path, tiny_run, tiny_model_dir):
    import torch
    from transformers import AutoModelForCausalLM

    from ragtune.llm.models import load_causal_lm

    cfg = tiny_run[0]
    val = f"{cfg.output}/data/val.jsonl"
    out = tmp_path / "eval.json"
    res = runner.invoke(app, ["eval", "sft", val, "-m", str(tiny_model_dir), "-m", cfg.output, "--json", str(out),
                              "--generate", "2", "--max-new-tokens", "4"])
    assert res.exit_code == 0, res.output
    report = json.loads(out.read_text())
    base, tuned = report["results"]
    assert tuned["metrics"]["loss"] < base["metrics"]["loss"]
    assert tuned["metrics"]["loss"] == pytest.approx(tiny_run[1].tuned["val_loss"], rel=1e-5)
    assert (tmp_path / "eval.samples.md").exists()

    res = runner.invoke(app, ["sft", "merge", cfg.output, "-o", str(tmp_path / "merged")])
    assert res.exit_code == 0, res.output
    merged = AutoModelForCausalLM.from_pretrained(str(tmp_path / "merged")).eval()
    adapted = load_causal_lm(cfg.output).eval()
    ids = torch.tensor([[1, 4093, 198, 26843, 2, 198]])
    with torch.no_grad():
        assert torch.allclose(merged(ids).logits, adapted(ids).logits, atol=1e-4)
    assert not (tmp_path / "merged" / "adapter_config.json").exists()

    res = runner.invoke(app, ["chat", str(tmp_path / "merged"), "--prompt", "Do I need a roof permit?",
                              "--max-new-tokens", "5"])
    assert res.exit_code == 0, res.output
    assert res.output.strip()


def test_chat_keeps_the_conversation(tiny_model_dir):
    from ragtune.sft.chat import ChatSession

    session = ChatSession(str(tiny_model_dir), system="Be brief.", max_new_tokens=3)
    first = session.ask("Hi")
    session.ask("And?")
    assert [m["role"] for m in session.messages] == ["system", "user", "assistant", "user", "assistant"]
    assert session.messages[2]["content"] == first


def test_bad_model_is_a_clean_error(tmp_path):
    data = write_jsonl(tmp_path / "d.jsonl", faq_chats(2))
    res = runner.invoke(app, ["eval", "sft", str(data), "-m", str(tmp_path / "nope")])
    assert res.exit_code == 2 and "does not exist" in res.output
