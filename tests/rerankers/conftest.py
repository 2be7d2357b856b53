"""Hand-made datasets and a tiny cross-encoder built from config with the real MiniLM tokenizer."""

from __future__ import annotations

import pytest

from ragtune.data.retrieval import RetrievalDataset

TOPICS = ["roof", "window", "permit", "stairs", "garage", "fence"]
DETAILS = ["height", "colour", "fee", "noise", "drainage", "deadline"]


@pytest.fixture
def topic_dataset() -> RetrievalDataset:
    """12 docs (two per topic, each with its own detail word), 24 queries; keyword retrieval is perfect on it."""
    corpus, queries, rel = {}, {}, {}
    for t, topic in enumerate(TOPICS):
        for j in range(2):
            detail = DETAILS[(t + j * 3) % len(DETAILS)]
            did = f"{topic}-{j}"
            corpus[did] = f"Rules for the {topic}: the {detail} must follow the municipal plan."
            for n, form in enumerate(("What about the {t} {d}?", "Which {d} applies to my {t}?")):
                qid = f"q-{did}-{n}"
                queries[qid] = form.format(t=topic, d=detail)
                rel[qid] = [did]
    return RetrievalDataset(queries=queries, corpus=corpus, relevant_docs=rel, doc_source={d: d for d in corpus}, name="topics")


@pytest.fixture
def topic_embedder(keyword_embedder):
    return keyword_embedder(TOPICS + DETAILS)


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("RAGTUNE_HOME", str(tmp_path / "home"))


@pytest.fixture(scope="session")
def tiny_cross_encoder(tmp_path_factory):
    """A 2-layer, hidden-32 BertForSequenceClassification (1 label) saved with the real MiniLM tokenizer."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from ragtune.assets import resolve_model

    folder = tmp_path_factory.mktemp("tiny-ce")
    tok = AutoTokenizer.from_pretrained(str(resolve_model("minilm")))
    cfg = BertConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                     intermediate_size=64, max_position_embeddings=128, num_labels=1)
    torch.manual_seed(0)
    BertForSequenceClassification(cfg).save_pretrained(str(folder))
    tok.save_pretrained(str(folder))
    return folder
