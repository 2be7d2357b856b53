"""CLI: bad input is a clean message and exit code (never a traceback); export writes Cohere JSONL."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from ragtune.cli.main import app
from ragtune.data.retrieval import write_llamaindex

runner = CliRunner()


def test_train_reranker_stops_on_invalid_data_before_training(topic_dataset, tmp_path):
    bad = topic_dataset.model_copy(deep=True)
    bad.relevant_docs["q-roof-0-0"] = ["ghost"]
    write_llamaindex(bad, tmp_path / "bad.json")
    res = runner.invoke(app, ["train", "reranker", str(tmp_path / "bad.json"), "-o", str(tmp_path / "run")])
    assert res.exit_code == 2, res.output
    assert "relevant_docs['q-roof-0-0'][0]" in res.output and "Traceback" not in res.output
    assert not (tmp_path / "run").exists()


def test_eval_rerank_missing_dataset_is_a_clean_error(tmp_path):
    res = runner.invoke(app, ["eval", "rerank", str(tmp_path / "nope.json"), "--retriever", "minilm", "--reranker", str(tmp_path)])
    assert res.exit_code == 2 and "not found" in res.output and "Traceback" not in res.output


def test_export_cohere_rerank_writes_jsonl(topic_dataset, tmp_path):
    ds = topic_dataset.model_copy(deep=True)
    ds.hard_negatives = {"q-roof-0-0": ["fence-0"]}
    write_llamaindex(ds, tmp_path / "d.json")
    res = runner.invoke(app, ["export", "cohere-rerank", str(tmp_path / "d.json"), "-o", str(tmp_path / "c.jsonl")])
    assert res.exit_code == 0, res.output
    rows = [json.loads(x) for x in (tmp_path / "c.jsonl").read_text().splitlines()]
    assert len(rows) == len(ds.queries) and set(rows[0]) == {"query", "relevant_passages", "hard_negatives"}
    first = next(r for r in rows if r["query"] == ds.queries["q-roof-0-0"])
    assert first["hard_negatives"] == [ds.corpus["fence-0"]] and first["relevant_passages"] == [ds.corpus["roof-0"]]
    assert "at least 256" in res.output


def _tiny_sentence_transformer(folder):
    """A random 2-layer, hidden-32 bi-encoder with the real MiniLM tokenizer, as a retriever folder."""
    import torch
    from sentence_transformers import SentenceTransformer, models
    from transformers import AutoTokenizer, BertConfig, BertModel

    from ragtune.assets import resolve_model

    tok = AutoTokenizer.from_pretrained(str(resolve_model("minilm")))
    torch.manual_seed(0)
    BertModel(BertConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                         intermediate_size=64, max_position_embeddings=128)).save_pretrained(str(folder / "hf"))
    tok.save_pretrained(str(folder / "hf"))
    body = models.Transformer(str(folder / "hf"), max_seq_length=64)
    SentenceTransformer(modules=[body, models.Pooling(32)], device="cpu").save(str(folder / "st"))
    return folder / "st"


def test_eval_rerank_writes_the_shared_json_shape(topic_dataset, tiny_cross_encoder, tmp_path):
    write_llamaindex(topic_dataset, tmp_path / "d.json")
    retriever = _tiny_sentence_transformer(tmp_path)
    res = runner.invoke(app, ["eval", "rerank", str(tmp_path / "d.json"), "--retriever", str(retriever), "--reranker",
                              str(tiny_cross_encoder), "--top-k", "5", "--json", str(tmp_path / "r.json"), "--bootstrap", "20",
                              "--latency-queries", "2", "--fuse", "0.5"])
    assert res.exit_code == 0, res.output
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["task"] == "rerank" and report["num_queries"] == len(topic_dataset.queries)
    labels = [r["model"] for r in report["results"]]
    assert labels[:2] == ["retriever", "reranked"] and "fused (w=0.5)" in labels and labels[-1].startswith("reranked (oracle")
    assert all("ndcg@10" in r["metrics"] and "ndcg@10" in r["ci95"] for r in report["results"])
    assert "latency at K=5" in res.output
