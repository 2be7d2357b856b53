"""`ragtune eval retrieval` end to end through the CLI: JSON shape, comparisons, clean errors."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from ragtune.cli.main import app
from ragtune.data.retrieval import RetrievalDataset, write_llamaindex

runner = CliRunner()


def _tiny_model(folder):
    """A 2-layer BERT sentence-transformer built from config with the real MiniLM tokenizer."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Pooling, Transformer
    from transformers import BertConfig, BertModel, AutoTokenizer

    from ragtune.assets import resolve_model

    tok = AutoTokenizer.from_pretrained(str(resolve_model("minilm")))
    cfg = BertConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                     intermediate_size=64, max_position_embeddings=128)
    BertModel(cfg).save_pretrained(folder / "bert")
    tok.save_pretrained(folder / "bert")
    word = Transformer(str(folder / "bert"), max_seq_length=64)
    st = SentenceTransformer(modules=[word, Pooling(32, "mean")], device="cpu")
    st.save(str(folder / "st"))
    return folder / "st"


def test_eval_retrieval_writes_the_shared_json_shape(tmp_path, monkeypatch):
    monkeypatch.setenv("RAGTUNE_HOME", str(tmp_path / "home"))
    ds = RetrievalDataset(queries={f"q{i}": f"question number {i} about topic {i}" for i in range(6)},
                          corpus={f"d{i}": f"answer {i} about topic {i}" for i in range(6)},
                          relevant_docs={f"q{i}": [f"d{i}"] for i in range(6)}, name="toy")
    write_llamaindex(ds, tmp_path / "toy.json")
    model = _tiny_model(tmp_path)
    out = tmp_path / "eval.json"
    res = runner.invoke(app, ["eval", "retrieval", str(tmp_path / "toy.json"), "-m", f"a={model}", "-m", f"b={model}",
                              "--k", "1,5", "--json", str(out), "--bootstrap", "50"])
    assert res.exit_code == 0, res.output
    rep = json.loads(out.read_text())
    assert rep["task"] == "retrieval" and rep["dataset"] == "toy" and rep["num_queries"] == 6 and rep["num_docs"] == 6
    assert [r["model"] for r in rep["results"]] == ["a", "b"]
    assert set(rep["results"][0]["metrics"]) >= {"hit@1", "recall@5", "mrr@10", "ndcg@10", "map@5", "median_rank"}
    lo, hi = rep["results"][0]["ci95"]["ndcg@10"]
    assert lo <= rep["results"][0]["metrics"]["ndcg@10"] <= hi
    cmp = rep["results"][1]["vs_first"]  # the same model twice: no difference at all
    assert cmp["delta"] == 0 and cmp["ties"] == 6 and cmp["wins"] == cmp["losses"] == 0
    # cached: the second model (same weights) re-embedded nothing
    assert rep["results"][1]["cache"]["encoded"] == 0


def test_eval_retrieval_bad_inputs_give_clean_errors(tmp_path):
    res = runner.invoke(app, ["eval", "retrieval", str(tmp_path / "missing.json"), "-m", "minilm"])
    assert res.exit_code == 2 and "not found" in res.output and "Traceback" not in res.output
    bad = tmp_path / "bad.json"
    bad.write_text('{"queries": {"q": "x"}, "corpus": {"d": ""}, "relevant_docs": {"q": ["zzz"]}}')
    res = runner.invoke(app, ["eval", "retrieval", str(bad), "-m", "minilm"])
    assert res.exit_code == 2
    assert "empty document text" in res.output and "'zzz' is not in the corpus" in res.output
    res = runner.invoke(app, ["eval", "retrieval", "construction-faq", "-m", "minilm", "--k", "ten"])
    assert res.exit_code == 2 and "--k" in res.output
    res = runner.invoke(app, ["eval", "retrieval", "construction-faq", "-m", "no-such-org/no-such-model"])
    assert res.exit_code == 3 and "offline" in res.output
