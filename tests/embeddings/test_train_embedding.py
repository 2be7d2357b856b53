"""Full fine-tune through SentenceTransformerTrainer on a tiny BERT (2 layers, hidden 32) with the real
MiniLM tokenizer: weights change, run folder, distillation columns, resume, validation before training."""

from __future__ import annotations

import json
import shutil

import pytest

from ragtune.embeddings.train import train_embedding, training_rows
from ragtune.embeddings.config import EmbeddingConfig
from ragtune.embedders import sentence_transformer_embedder
from ragtune.errors import DataValidationError

from .conftest import keyword_dataset, keyword_embedder


def _weights(path):
    from sentence_transformers import SentenceTransformer

    return {k: v.clone() for k, v in SentenceTransformer(str(path), device="cpu").state_dict().items()}


def test_mnrl_run_changes_weights_and_writes_the_run_folder(tmp_path, tiny_st_dir):
    run = tmp_path / "run"
    m = train_embedding(dataset=keyword_dataset(), model=str(tiny_st_dir), output=run, epochs=2, batch_size=8, learning_rate=1e-3)
    before, after = _weights(tiny_st_dir), _weights(run / "checkpoints" / "tuned")
    changed = [k for k in before if not (before[k] == after[k]).all()]
    assert any("encoder.layer" in k for k in changed) and any("embeddings" in k for k in changed)
    for f in ("config.json", "metrics.json", "card.md", "log.txt", "eval/val.json", "data/train.json", "data/val.json"):
        assert (run / f).exists(), f
    assert [r.get("eval_val_ndcg@10") is not None for r in m.curve].count(True) == 2  # one validation per epoch
    assert m.validation_difficulty["base_median_rank"] >= 1
    assert (run / "model").exists() == m.decision.shipped
    if m.decision.shipped:
        from sentence_transformers import SentenceTransformer

        assert SentenceTransformer(str(run / "model"), device="cpu").encode(["roof"]).shape == (1, 32)
    else:
        assert m.decision.verdict in ("refuse", "cannot_judge") and m.decision.reason.startswith(("REFUSED", "CANNOT JUDGE"))
    assert json.loads((run / "config.json").read_text())["batch_size"] == 8
    # rerunning a finished run returns the recorded result without training again
    assert train_embedding(dataset=keyword_dataset(), model=str(tiny_st_dir), output=run, epochs=2, batch_size=8, learning_rate=1e-3) == m


def test_hard_negatives_and_distillation_columns(tiny_st_dir):
    ds = keyword_dataset()
    ds.hard_negatives = {"q01": ["d23"]}
    base = sentence_transformer_embedder(tiny_st_dir)
    cfg = EmbeddingConfig(dataset="kw", output="unused")
    rows = training_rows(ds, cfg, base, None)
    assert list(rows) == ["anchor", "positive", "negative"]
    assert rows["negative"][0] == ds.corpus["d23"]  # the dataset's own hard negative
    assert all(n != p for n, p in zip(rows["negative"], rows["positive"]))  # others mined, never the positive
    rows = training_rows(ds, cfg.model_copy(update={"teacher_top_n": 4}), base, keyword_embedder("teacher"))
    assert list(rows) == ["query", "doc0", "doc1", "doc2", "doc3", "label"]
    assert rows["doc0"][0] == ds.corpus["d01"] and len(rows["label"][0]) == 4
    assert rows["label"][0][0] == max(rows["label"][0])  # the keyword teacher scores the true answer highest
    rows = training_rows(ds, cfg.model_copy(update={"distill_loss": "margin_mse"}), base, keyword_embedder("teacher"))
    assert list(rows) == ["query", "positive", "negative", "label"] and rows["label"][0] > 0


def test_distillation_run_and_resume_from_last_checkpoint(tmp_path, tiny_st_dir):
    run = tmp_path / "run"
    kw = dict(teacher=keyword_embedder("teacher"), max_steps=4, eval_steps=2, batch_size=8, learning_rate=1e-3, teacher_top_n=3)
    train_embedding(dataset=keyword_dataset(), model=str(tiny_st_dir), output=run, **kw)
    assert (run / "checkpoints" / "checkpoint-2").exists() and (run / "checkpoints" / "checkpoint-4").exists()
    # simulate an interruption after step 2
    shutil.rmtree(run / "checkpoints" / "checkpoint-4")
    (run / "metrics.json").unlink()
    m = train_embedding(dataset=keyword_dataset(), model=str(tiny_st_dir), output=run, **kw)
    assert "resuming from" in (run / "log.txt").read_text() and "checkpoint-2" in (run / "log.txt").read_text()
    assert m.curve[-1]["step"] == 4


def test_cached_mnrl_and_matryoshka(tmp_path, tiny_st_dir):
    m = train_embedding(dataset=keyword_dataset(), model=str(tiny_st_dir), output=tmp_path / "run", loss="cached_mnrl", mini_batch_size=4,
                        matryoshka_dims=[32, 16], max_steps=2, batch_size=8)
    assert m.decision.decided_by == "validation split"


def test_invalid_dataset_stops_before_training(tmp_path, tiny_st_dir):
    ds = keyword_dataset()
    ds.queries["q01"] = ""
    ds.relevant_docs["q02"] = ["missing"]
    with pytest.raises(DataValidationError) as e:
        train_embedding(dataset=ds, model=str(tiny_st_dir), output=tmp_path / "run")
    assert "q01" in str(e.value) and "missing" in str(e.value)
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_cli_train_embedding_and_adapter(tmp_path, tiny_st_dir):
    from typer.testing import CliRunner

    from ragtune.cli.main import app
    from ragtune.data.retrieval import write_llamaindex

    data = write_llamaindex(keyword_dataset(), tmp_path / "train.json")
    r = CliRunner().invoke(app, ["train", "embedding", str(data), "-m", str(tiny_st_dir), "-o", str(tmp_path / "e"),
                                 "--max-steps", "2", "--batch-size", "8"])
    assert r.exit_code == 0, r.output
    assert "decided by: validation split" in r.output and "median rank" in r.output
    r = CliRunner().invoke(app, ["train", "adapter", str(data), "-e", str(tiny_st_dir), "-o", str(tmp_path / "a"),
                                 "--teacher", str(tiny_st_dir), "--epochs", "2"])
    assert r.exit_code == 0, r.output
    assert "-e is an old name of --model" in r.stderr  # the old spelling still works, with a warning
    assert json.loads((tmp_path / "a" / "metrics.json").read_text())["job"] == "adapter"
    bad = tmp_path / "bad.json"
    bad.write_text('{"queries": {"q": "x"}, "corpus": {}, "relevant_docs": {"q": ["nope"]}}')
    r = CliRunner().invoke(app, ["train", "embedding", str(bad), "-m", str(tiny_st_dir), "-o", str(tmp_path / "b")])
    assert r.exit_code == 2 and "nope" in r.output and "Traceback" not in r.output


def test_a_folder_of_another_configuration_is_refused_not_resumed(tmp_path):
    """Resuming another configuration's checkpoints would label the old model with the new settings."""
    from ragtune.errors import InputError
    from ragtune.runs import Run

    run = tmp_path / "run"
    (run / "checkpoints" / "checkpoint-4").mkdir(parents=True)
    same = EmbeddingConfig(dataset="d.json", output=str(run))
    (run / "config.json").write_text(json.dumps({"job": "embedding", **same.model_dump()}))
    with Run(run, "embedding", same) as r:
        assert r.finished() is None  # same config, unfinished: resume
    with Run(run, "embedding", same.model_copy(update={"learning_rate": 5e-5})) as r:
        with pytest.raises(InputError, match="different configuration"):
            r.finished()


@pytest.mark.parametrize("job, extra", [
    ("embedding", ["--max-steps", "2", "--batch-size", "8"]),
    ("adapter", ["--epochs", "3"]),
])
def test_a_run_repeated_from_its_own_config_json_gives_the_same_metrics(tmp_path, tiny_st_dir, job, extra):
    from typer.testing import CliRunner

    from ragtune.cli.main import app
    from ragtune.data.retrieval import write_llamaindex
    from ragtune.records import read_metrics

    data = write_llamaindex(keyword_dataset(), tmp_path / "train.json")
    first, again = tmp_path / "first", tmp_path / "again"
    r = CliRunner().invoke(app, ["train", job, str(data), "-m", str(tiny_st_dir), "-o", str(first), "--seed", "3", *extra])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(app, ["train", job, "--config", str(first / "config.json"), "-o", str(again)])
    assert r.exit_code == 0, r.output
    saved = {k: v for k, v in json.loads((first / "config.json").read_text()).items() if k != "output"}
    assert {k: v for k, v in json.loads((again / "config.json").read_text()).items() if k != "output"} == saved
    a, b = read_metrics(first), read_metrics(again)
    assert a.decision == b.decision
    assert a.model_dump()["models"] == b.model_dump()["models"]
