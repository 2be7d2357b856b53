"""The training path on a tiny cross-encoder built from config: weights change, the head trains, the run
folder is complete, the model loads with CrossEncoder, a regression is not shipped, bad data stops first."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from ragtune.data.retrieval import RetrievalDataset
from ragtune.errors import DataValidationError, InputError
from ragtune.rerankers.models import load_reranker
from ragtune.rerankers.train import train_reranker

FAST = dict(epochs=1, batch_size=8, eval_steps=4, logging_steps=1, latency_queries=2, max_length=48, top_k=6, val_fraction=0.25,
            num_negatives=2, random_negatives=1)


def _weights(folder) -> dict[str, torch.Tensor]:
    return load_file(str(folder / "model.safetensors"))


def test_training_changes_weights_and_writes_a_loadable_model(topic_dataset, topic_embedder, tiny_cross_encoder, tmp_path):
    run = tmp_path / "run"
    m = train_reranker(dataset=topic_dataset, output=run, retriever=topic_embedder, model=str(tiny_cross_encoder), learning_rate=5e-3,
                       allow_regression=True, **FAST)
    for name in ("config.json", "metrics.json", "card.md", "log.txt", "curve.json", "data/groups.jsonl", "data/train.json",
                 "eval/val.json", "model/config.json"):
        assert (run / name).exists(), name
    before, after = _weights(tiny_cross_encoder), _weights(run / "model")
    head = [k for k in before if k.startswith("classifier")]
    body = [k for k in before if "encoder.layer.0" in k and k.endswith("weight")]
    assert head and all(not torch.equal(before[k], after[k]) for k in head)
    assert any(not torch.equal(before[k], after[k]) for k in body)
    assert any("eval_val_ndcg@10" in p for p in m.curve) and any("loss" in p for p in m.curve)
    assert json.loads((run / "eval" / "val.json").read_text())["task"] == "rerank"
    assert set(m.fusion["grid"]) == {f"{0.1 * i:.1f}" for i in range(11)} and "--fuse" in (run / "card.md").read_text()
    assert json.loads((run / "config.json").read_text())["retriever"] == "keywords"
    ce = load_reranker(run)  # a run folder resolves to its model/
    assert ce.predict([("roof height?", "Rules for the roof")]).shape == (1,)
    _llamaindex_reranks_with(run / "model")
    assert train_reranker(dataset=topic_dataset, output=run, retriever=topic_embedder, model=str(tiny_cross_encoder), learning_rate=5e-3,
                          allow_regression=True, **FAST) == m  # a finished run is not trained again


def _llamaindex_reranks_with(folder) -> None:
    from llama_index.core.postprocessor import SentenceTransformerRerank
    from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

    rr = SentenceTransformerRerank(model=str(folder), top_n=2, device="cpu")
    nodes = [NodeWithScore(node=TextNode(text=t), score=0.0) for t in ("Rules for the roof", "Fence colour", "Stairs")]
    out = rr.postprocess_nodes(nodes, query_bundle=QueryBundle("roof height?"))
    scores = [float(n.score) for n in out]
    assert len(out) == 2 and scores == sorted(scores, reverse=True)


def test_a_reranker_worse_than_the_retriever_is_not_shipped(topic_dataset, topic_embedder, tiny_cross_encoder, tmp_path):
    # the keyword retriever is perfect here; an (almost) untrained tiny cross-encoder can only be worse
    run = tmp_path / "run"
    m = train_reranker(dataset=topic_dataset, output=run, retriever=topic_embedder, model=str(tiny_cross_encoder), learning_rate=1e-9, **FAST)
    assert m.val["retriever"]["ndcg@10"] == pytest.approx(1.0)
    assert not m.decision.shipped and m.decision.verdict in ("refuse", "cannot_judge")
    assert not (run / "model").exists() and m.decision.reason.split(":")[0] in (run / "card.md").read_text()
    with pytest.raises(InputError, match="shipped no model"):
        load_reranker(run)


def test_invalid_dataset_stops_before_training_with_every_location(topic_dataset, topic_embedder, tmp_path):
    bad = topic_dataset.model_copy(deep=True)
    bad.relevant_docs["q-roof-0-0"] = ["no-such-doc"]
    bad.corpus["fence-1"] = " "
    with pytest.raises(DataValidationError) as e:
        train_reranker(dataset=bad, output=tmp_path / "run", retriever=topic_embedder, model="does-not-matter")
    text = str(e.value)
    assert "relevant_docs['q-roof-0-0'][0]" in text and "corpus['fence-1']" in text
    assert not (tmp_path / "run").exists()


def test_a_different_config_in_the_same_folder_is_refused(topic_dataset, topic_embedder, tiny_cross_encoder, tmp_path):
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "config.json").write_text(json.dumps({"job": "reranker", "dataset": "other", "output": str(run)}))
    with pytest.raises(InputError, match="different configuration"):
        train_reranker(dataset=topic_dataset, output=run, retriever=topic_embedder, model=str(tiny_cross_encoder), **FAST)


def test_resume_continues_from_the_last_checkpoint(topic_dataset, topic_embedder, tiny_cross_encoder, tmp_path, monkeypatch):
    from ragtune.rerankers import train as train_mod

    run = tmp_path / "run"
    real_finish = train_mod._finish
    monkeypatch.setattr(train_mod, "_finish", lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        train_reranker(dataset=topic_dataset, output=run, retriever=topic_embedder, model=str(tiny_cross_encoder), allow_regression=True, **FAST)
    assert list((run / "checkpoints").glob("checkpoint-*"))
    seen = {}
    monkeypatch.setattr(train_mod, "_finish", real_finish)
    original = train_mod.Run.last_checkpoint
    monkeypatch.setattr(train_mod.Run, "last_checkpoint", lambda self: seen.setdefault("ckpt", original(self)))
    m = train_reranker(dataset=topic_dataset, output=run, retriever=topic_embedder, model=str(tiny_cross_encoder), allow_regression=True, **FAST)
    assert seen["ckpt"] and "checkpoint-" in seen["ckpt"] and m.decision.shipped


def test_real_queries_decide_what_ships_when_given(topic_dataset, topic_embedder, tiny_cross_encoder, tmp_path):
    from ragtune.data.retrieval import save_dataset

    real = save_dataset(topic_dataset.model_copy(update={"name": "real-questions"}), tmp_path / "val.json")
    run = tmp_path / "run"
    m = train_reranker(dataset=topic_dataset, output=run, retriever=topic_embedder, model=str(tiny_cross_encoder), learning_rate=1e-9,
                       eval_dataset=str(real), **FAST)
    assert m.decision.decided_by == "eval dataset" and m.decision.dataset == "val" and not m.decision.shipped
    assert "REFUSED TO SHIP" in m.decision.reason and "eval dataset" in m.decision.reason
    report = json.loads((run / "eval" / "val-eval.json").read_text())  # named apart from the validation report
    assert json.loads((run / "eval" / "val.json").read_text())["dataset"] != report["dataset"]
    assert report["task"] == "rerank" and report["num_queries"] == len(topic_dataset.queries)
    assert m.eval["metrics"]["retriever"]["ndcg@10"] == pytest.approx(1.0)
    assert m.eval["vs_retriever"]["delta"] < 0 and "real held-out queries" in (run / "card.md").read_text()


def test_a_bad_eval_dataset_stops_before_training(topic_dataset, topic_embedder, tmp_path):
    with pytest.raises(InputError):
        train_reranker(dataset=topic_dataset, output=tmp_path / "run", retriever=topic_embedder, model="does-not-matter",
                       eval_dataset=str(tmp_path / "missing.json"), **FAST)
    assert not (tmp_path / "run").exists()


def test_pseudo_queries_join_training_labelled_by_the_teacher_only_from_training_documents(topic_dataset, topic_embedder,
                                                                                           tiny_cross_encoder, tmp_path):
    run = tmp_path / "run"
    m = train_reranker(dataset=topic_dataset, output=run, retriever=topic_embedder, teacher=topic_embedder, model=str(tiny_cross_encoder),
                       pseudo_queries=6, allow_regression=True, **FAST)
    groups = [json.loads(x) for x in (run / "data" / "groups.jsonl").read_text().splitlines()]
    pseudo = [g for g in groups if g["qid"].startswith("pseudo:")]
    assert m.data["pseudo_queries"] == len(pseudo) == 6 and m.data["queries"] == len(groups)
    val_docs = {d for ds in json.loads((run / "data" / "val.json").read_text())["relevant_docs"].values() for d in ds}
    assert val_docs
    assert all(g["teacher"] and len(g["teacher"]) == len(g["doc_ids"]) for g in pseudo)
    assert not val_docs & {d for g in pseudo for d in g["doc_ids"]}  # validation documents never enter training
    with pytest.raises(InputError, match="--teacher"):
        train_reranker(dataset=topic_dataset, output=tmp_path / "no-teacher", retriever=topic_embedder, model=str(tiny_cross_encoder),
                       loss="listnet", pseudo_queries=6, **FAST)
