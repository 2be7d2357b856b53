"""`train_sft` on a tiny model built from config with the real SmolLM2 tokenizer."""

from __future__ import annotations

import json

import pytest
from conftest import config, faq_chats

from ragtune.sft.train import train_sft


def test_lora_weights_change_and_base_weights_do_not(tiny_run):
    cfg, _, before, trained, torch = tiny_run
    lora_b = {n: p for n, p in trained.items() if "lora_B" in n}
    assert len(lora_b) == 2 * 7  # 2 layers x (q, k, v, o, gate, up, down)
    assert all(p.abs().sum() > 0 for p in lora_b.values())  # LoRA B starts at zero, so it moved
    base = {n.replace("base_model.model.", "").replace(".base_layer", ""): p for n, p in trained.items() if "lora_" not in n}
    assert set(before) <= set(base) | {"lm_head.weight"}
    for name, tensor in before.items():
        if name in base:
            assert torch.equal(base[name].cpu(), tensor), f"base weight {name} changed"


def test_run_folder_and_metrics(tiny_run):
    from pathlib import Path

    cfg, metrics, *_ = tiny_run
    run = Path(cfg.output)
    for name in ("config.json", "metrics.json", "curve.json", "card.md", "log.txt", "eval/val.json",
                 "data/train.jsonl", "data/val.jsonl", "model/adapter_config.json", "model/ragtune_base.json"):
        assert (run / name).exists(), name
    assert metrics.train_examples == 9 and metrics.val_examples == 3
    assert metrics.tuned["val_loss"] < metrics.base["val_loss"]
    assert metrics.train_tokens_per_second > 0 and metrics.peak_memory_mb > 0
    evals = [h for h in metrics.curve if "eval_loss" in h]
    assert [round(h["epoch"]) for h in evals] == [1, 2]  # validation loss every epoch
    assert json.loads((run / "config.json").read_text())["learning_rate"] == 1e-2
    report = json.loads((run / "eval" / "val.json").read_text())
    assert report["task"] == "sft" and [r["metrics"]["loss"] for r in report["results"]] == [
        metrics.base["val_loss"], metrics.tuned["val_loss"]]
    assert "lower" in (run / "card.md").read_text()
    assert "step" in (run / "log.txt").read_text()


def test_finished_run_is_not_trained_again(tiny_run):
    cfg, metrics, *_ = tiny_run
    assert train_sft(cfg) == metrics


def test_resume_after_interruption(tmp_path, tiny_model_dir):
    from transformers import TrainerCallback

    class StopAfterFirstSave(TrainerCallback):
        def on_save(self, args, state, control, **kwargs):
            raise KeyboardInterrupt

    cfg = config(tmp_path, tiny_model_dir)
    with pytest.raises(KeyboardInterrupt):
        train_sft(cfg, callbacks=[StopAfterFirstSave()])
    assert (tmp_path / "run" / "checkpoints" / "checkpoint-3").is_dir()
    assert not (tmp_path / "run" / "metrics.json").exists()
    before = json.loads((tmp_path / "run" / "checkpoints" / "checkpoint-3" / "ragtune_time.json").read_text())["seconds"]
    metrics = train_sft(cfg)
    log = (tmp_path / "run" / "log.txt").read_text()
    assert "resuming from" in log and metrics.tuned is not None
    # steps 1-3 were trained before the interruption, 4-6 after it; none twice
    logged = [int(line.split("step ")[1].split()[0]) for line in log.splitlines() if '"loss"' in line]
    assert logged == [1, 2, 3, 4, 5, 6]
    # seconds and tokens/s cover all six steps, not only the three after the resume
    fresh = train_sft(config(tmp_path / "fresh", tiny_model_dir))
    assert metrics.train_seconds > before > 0
    assert metrics.train_tokens_per_second * metrics.train_seconds == pytest.approx(
        fresh.train_tokens_per_second * fresh.train_seconds)


def test_refuses_to_ship_a_regression(tmp_path, tiny_model_dir):
    # a learning rate of 0 is refused (a run that trains nothing); 1e-30 moves no float32 weight: loss as the base's
    metrics = train_sft(config(tmp_path, tiny_model_dir, learning_rate=1e-30, epochs=1))
    assert not metrics.decision.shipped and "did not improve" in metrics.decision.reason
    assert metrics.decision.rule == "lower_loss" and metrics.decision.delta >= 0
    assert not (tmp_path / "run" / "model").exists()
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["decision"]["reason"] == metrics.decision.reason


def test_padding_free_loss_equals_padded_loss(tiny_model_dir, smollm2_tokenizer):
    """Padding-free batches (one row + position ids) must not attend across examples on CPU attention."""
    import torch
    from transformers import AutoModelForCausalLM
    from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

    from ragtune.data.chat import ChatExample
    from ragtune.sft.train import to_dataset

    model = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir)).eval()
    ds = to_dataset([ChatExample(r["messages"]) for r in faq_chats(3)], smollm2_tokenizer, 512)
    rows = [{"input_ids": ds[i]["input_ids"], "labels": ds[i]["labels"]} for i in range(len(ds))]
    pad = smollm2_tokenizer.pad_token_id
    with torch.no_grad():
        padded = model(**DataCollatorForLanguageModeling(pad_token_id=pad)(rows)).loss
        flat = model(**{k: v for k, v in DataCollatorForLanguageModeling(pad_token_id=pad, padding_free=True)(rows).items()
                        if k in ("input_ids", "labels", "position_ids")}).loss
    assert float(flat) == pytest.approx(float(padded), rel=1e-4)


def test_packing_and_full_fine_tune(tmp_path, tiny_model_dir):
    """Packed rows train (loss goes down); a full fine-tune writes a plain model folder."""
    packed = train_sft(config(tmp_path / "packed", tiny_model_dir, packing=True, max_length=256))
    assert packed.tuned["val_loss"] < packed.base["val_loss"]
    full = train_sft(config(tmp_path / "full", tiny_model_dir, full=True, epochs=1, learning_rate=1e-3))
    model_dir = tmp_path / "full" / "run" / "model"
    assert full.method == "full" and full.tuned["val_loss"] < full.base["val_loss"]
    assert (model_dir / "config.json").exists() and not (model_dir / "adapter_config.json").exists()


def test_a_folder_of_another_configuration_is_refused_even_before_it_finished(tmp_path):
    from ragtune.errors import InputError
    from ragtune.runs import Run
    from ragtune.sft.config import SFTConfig

    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    first = SFTConfig(dataset="chats.jsonl", output=str(run), model="a").resolved()
    (run / "config.json").write_text(json.dumps({"job": "sft", **first.model_dump()}))
    with Run(run, "sft", first) as r:
        assert r.finished() is None  # same config, no metrics yet: resume
    with Run(run, "sft", first.model_copy(update={"model": "b"})) as r, pytest.raises(InputError, match="different configuration"):
        r.finished()


def test_gradient_checkpointing_is_on_only_when_the_largest_batch_is_big():
    from ragtune.sft.config import SFTConfig
    from ragtune.sft.train import CHECKPOINT_TOKENS, batch_tokens, with_checkpointing

    cfg = SFTConfig(dataset="chats.jsonl", output="run", batch_size=4)
    short = [300] * 40
    long = [300] * 40 + [CHECKPOINT_TOKENS // 4 + 1] * 4  # the four longest together exceed the threshold
    assert batch_tokens(cfg, long) == CHECKPOINT_TOKENS + 4
    assert with_checkpointing(cfg, short).gradient_checkpointing is False
    assert with_checkpointing(cfg, long).gradient_checkpointing is True
    assert with_checkpointing(cfg, [CHECKPOINT_TOKENS // 4] * 4).gradient_checkpointing is False  # exactly at it: off
    # an explicit choice is kept either way
    assert with_checkpointing(cfg.model_copy(update={"gradient_checkpointing": False}), long).gradient_checkpointing is False
    assert with_checkpointing(cfg.model_copy(update={"gradient_checkpointing": True}), short).gradient_checkpointing is True
    # padded: batch_size rows as long as the longest example
    padded = cfg.model_copy(update={"padding_free": False})
    assert batch_tokens(padded, [CHECKPOINT_TOKENS // 4 + 1] + [10] * 10) == CHECKPOINT_TOKENS + 4
    assert batch_tokens(cfg, [CHECKPOINT_TOKENS // 4 + 1] + [10] * 10) == CHECKPOINT_TOKENS // 4 + 31
    # packed: rows of up to max_length tokens, never more tokens than the data holds
    packed = cfg.model_copy(update={"packing": True, "max_length": 1024})
    assert batch_tokens(packed, short) == 4 * 1024 and with_checkpointing(packed, short).gradient_checkpointing is True
    assert batch_tokens(packed, [300] * 3) == 900


def test_a_run_resumes_across_a_gradient_checkpointing_change(tmp_path):
    """Checkpointing trades memory for time and does not change what is learnt: a run started with the
    old default (off) or the new one (auto) is resumed, not refused, when only that setting differs."""
    from ragtune.errors import InputError
    from ragtune.records import RunMetrics, ShipDecision, write_metrics
    from ragtune.runs import Run
    from ragtune.sft.config import SFTConfig
    from ragtune.sft.train import RESUMABLE_CHANGES

    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    old = SFTConfig(dataset="chats.jsonl", output=str(run), gradient_checkpointing=False).resolved()
    (run / "config.json").write_text(json.dumps({"job": "sft", **old.model_dump()}))
    done = RunMetrics(job="sft", decision=ShipDecision(shipped=True, verdict="ship", model="tuned", decided_by="validation split", dataset="val",
                                                       metric="val_loss", delta=-0.1, ci95=None, rule="lower_loss", reason="ok"))
    write_metrics(run, done)
    for setting in (None, True):
        with Run(run, "sft", old.model_copy(update={"gradient_checkpointing": setting}), resumable=RESUMABLE_CHANGES) as r:
            assert r.finished() == done
    with Run(run, "sft", old.model_copy(update={"epochs": 5.0}), resumable=RESUMABLE_CHANGES) as r, pytest.raises(InputError):
        r.finished()
