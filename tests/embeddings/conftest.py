"""Fixtures for embedding tests: the keyword one-hot FakeEmbedder (metrics checkable by hand), a
learnable keyword dataset, and a tiny sentence-transformers model (BERT, 2 layers, hidden 32) built
from config around the REAL MiniLM tokenizer."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from ragtune.data.retrieval import RetrievalDataset
from ragtune.embedders import FakeEmbedder

KEYWORDS = ["roof", "window", "permit", "garage", "fence", "kitchen", "heating", "balcony"]


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch):
    """Every test gets its own embedding cache."""
    monkeypatch.setenv("RAGTUNE_HOME", str(tmp_path / "home"))


def keyword_embedder(name: str, query_shift: int = 0, doc_shift: int = 0) -> FakeEmbedder:
    """One-hot bag of KEYWORDS (whole words); keyword i lands on dimension (i + shift) % V, per side (a shift makes it wrong)."""
    return FakeEmbedder(KEYWORDS, name=name, match="word", query_shift=query_shift, doc_shift=doc_shift)


def keyword_dataset(name: str = "kw") -> RetrievalDataset:
    """28 docs, one per keyword pair; one query per doc naming its two keywords; each doc its own source."""
    ds = RetrievalDataset(queries={}, corpus={}, relevant_docs={}, name=name)
    for a, b in itertools.combinations(range(len(KEYWORDS)), 2):
        did = f"d{a}{b}"
        ds.corpus[did] = f"this answer covers the {KEYWORDS[a]} and the {KEYWORDS[b]} ."
        ds.queries[f"q{a}{b}"] = f"what about {KEYWORDS[a]} {KEYWORDS[b]} ?"
        ds.relevant_docs[f"q{a}{b}"] = [did]
        ds.doc_source[did] = did
    return ds


@pytest.fixture(scope="session")
def minilm_tokenizer():
    from transformers import AutoTokenizer

    from ragtune.assets import resolve_model

    return AutoTokenizer.from_pretrained(str(resolve_model("minilm")))


@pytest.fixture(scope="session")
def tiny_st_dir(tmp_path_factory, minilm_tokenizer) -> Path:
    """A sentence-transformers folder: tiny random BERT (2 layers, hidden 32) + mean pooling + normalize."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.base.modules import Normalize, Transformer
    from sentence_transformers.sentence_transformer.modules import Pooling
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    hf = tmp_path_factory.mktemp("tiny-bert")
    config = BertConfig(vocab_size=len(minilm_tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=128)
    BertModel(config).save_pretrained(hf)
    minilm_tokenizer.save_pretrained(hf)
    folder = tmp_path_factory.mktemp("tiny-st")
    st = SentenceTransformer(modules=[Transformer(str(hf), max_seq_length=64), Pooling(32, "mean"), Normalize()], device="cpu")
    st.save(str(folder))
    return folder


@pytest.fixture()
def adapter_model_dir(tmp_path, tiny_st_dir) -> Path:
    """A shipped adapter's RUN/model folder over tiny_st_dir: adapter.json + weights, and the same as a
    sentence-transformers Router model (query route: base + a perturbed linear adapter; document route: base)."""
    import torch

    from ragtune.embedders import Adapter, load_embedder, save_adapter
    from ragtune.embeddings.train_adapter import _write_model

    torch.manual_seed(0)
    a = Adapter("linear", "query", 32, seed=1)
    with torch.no_grad():
        for p in a.parameters():
            p.add_(torch.randn_like(p) * 0.3)
    save_adapter(a, tmp_path / "final", {"spec": str(tiny_st_dir)})
    folder = tmp_path / "model"
    folder.mkdir()
    _write_model(tmp_path / "final", folder, load_embedder(str(tiny_st_dir)), "auto")
    return folder
