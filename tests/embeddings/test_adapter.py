"""Adapters: identity at init, file round trip, wrapper fingerprints, teacher distillation that must
help on a case built by hand, and the no-regression rule."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ragtune.embedders import Adapter, adapted_embedder, load_adapter, save_adapter
from ragtune.embeddings.train_adapter import train_adapter
from ragtune.errors import DataValidationError
from ragtune.evaluation.retrieval import evaluate_retrieval


def headline(report, label: str) -> float:
    return report.result(label).metrics["ndcg@10"]

from .conftest import KEYWORDS, keyword_dataset, keyword_embedder


@pytest.mark.parametrize("kind", ["linear", "mlp"])
def test_adapter_is_identity_at_init(kind):
    x = np.random.default_rng(0).normal(size=(5, 16)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    a = Adapter(kind, "both", 16, hidden=8)
    np.testing.assert_allclose(a.apply_numpy(x, "query"), x, atol=1e-6)
    np.testing.assert_allclose(a.apply_numpy(x, "document"), x, atol=1e-6)


def test_save_load_round_trip_and_wrapper_fingerprint(tmp_path):
    import torch

    dim = len(KEYWORDS) + 1  # the fake embedder's keyword dimensions plus its bias dimension
    a = Adapter("mlp", "query", dim, hidden=4, seed=1)
    with torch.no_grad():
        for p in a.parameters():
            p.add_(torch.randn_like(p) * 0.3)
    save_adapter(a, tmp_path / "ad", {"spec": "kw"})
    b, cfg = load_adapter(tmp_path / "ad")
    assert cfg["kind"] == "mlp" and cfg["side"] == "query" and cfg["base"]["spec"] == "kw"
    x = np.eye(dim, dtype=np.float32)
    np.testing.assert_allclose(a.apply_numpy(x, "query"), b.apply_numpy(x, "query"), atol=1e-6)
    np.testing.assert_allclose(b.apply_numpy(x, "document"), x)  # query-only adapter leaves documents alone
    base = keyword_embedder("base")
    wrapped = adapted_embedder(base, b)
    assert wrapped.fingerprint.startswith(base.fingerprint) and wrapped.fingerprint != base.fingerprint
    assert adapted_embedder(base, Adapter("mlp", "query", dim, hidden=4)).fingerprint != wrapped.fingerprint
    q = wrapped.encode(["roof window"], kind="query")
    np.testing.assert_allclose(q, b.apply_numpy(base.encode(["roof window"], kind="query"), "query"), atol=1e-6)


def test_teacher_distillation_fixes_a_wrong_base_and_ships(tmp_path):
    ds = keyword_dataset()
    base = keyword_embedder("base", query_shift=1)  # queries land on the wrong keyword
    teacher = keyword_embedder("teacher")
    before = headline(evaluate_retrieval(ds, {"base": base}), "base")
    assert before < 0.2
    # held-out "real" queries, all 28: enough of them change for the data to judge (6 held-out ones would not);
    # synthetic validation alone never ships, so they decide
    m = train_adapter(dataset=ds, model=base, output=tmp_path / "run", teacher=teacher, val_dataset=keyword_dataset("val"),
                      eval_dataset=keyword_dataset("real"), epochs=60, learning_rate=0.05, pseudo_queries=False,
                      select_epoch=True)
    assert m.decision.shipped and m.decision.decided_by == "eval dataset" and m.decision.verdict == "ship"
    assert m.decision.evidence["changed"] >= 10 and m.teacher_check["used"]
    val = m.models["val"]
    assert val["adapter"]["ndcg@10"] > 0.9 > val["base"]["ndcg@10"]
    assert m.best_epoch > 0 and m.curve[0]["epoch"] == 0
    assert m.best_epoch_by == "validation KL to the teacher"
    assert m.shipped_adapter.startswith("refit on training + validation data")
    assert m.curve[m.best_epoch]["val_kl_to_teacher"] == min(r["val_kl_to_teacher"] for r in m.curve)
    run = tmp_path / "run"
    for f in ("config.json", "metrics.json", "card.md", "log.txt", "eval/val.json", "data/train.json", "data/val.json",
              "model/adapter.safetensors", "model/adapter.json"):
        assert (run / f).exists(), f
    report = json.loads((run / "eval/val.json").read_text())
    assert [r["model"] for r in report["results"]] == ["base", "adapter"]
    # the shipped folder applied over the base gives the improvement on the full dataset
    tuned = adapted_embedder(base, run / "model")
    assert headline(evaluate_retrieval(ds, {"a": tuned}), "a") > 0.9


def test_labels_only_adapter_learns_too(tmp_path):
    m = train_adapter(dataset=keyword_dataset(), model=keyword_embedder("base", query_shift=1), output=tmp_path / "run", epochs=60, learning_rate=0.05)
    assert m.models["val"]["adapter"]["ndcg@10"] > m.models["val"]["base"]["ndcg@10"] + 0.3
    assert m.best_epoch_by == "validation ndcg@10"


def test_never_ships_when_it_cannot_beat_the_base(tmp_path):
    perfect = keyword_embedder("perfect")
    m = train_adapter(dataset=keyword_dataset(), model=perfect, output=tmp_path / "run", teacher=perfect, epochs=5, kind="mlp", side="both")
    assert not m.decision.shipped
    # the base is already perfect, so nothing can change: a tie is "cannot judge", never a ship
    assert m.decision.verdict == "cannot_judge" and "CANNOT JUDGE" in m.decision.reason and "ragtune label" in m.decision.reason
    assert not (tmp_path / "run" / "model").exists()
    assert "CANNOT JUDGE" in (tmp_path / "run" / "card.md").read_text()


def test_eval_dataset_decides_the_ship(tmp_path):
    ds = keyword_dataset()
    base = keyword_embedder("base", query_shift=1)
    m = train_adapter(dataset=ds, model=base, output=tmp_path / "run", teacher=keyword_embedder("teacher"), epochs=40, learning_rate=0.05,
                      eval_dataset=keyword_dataset("real"))
    assert m.decision.decided_by == "eval dataset" and m.decision.dataset == "real"
    assert m.best_epoch_by == "fixed epoch count" and m.best_epoch == 40  # the default with a teacher
    assert (tmp_path / "run" / "eval" / "real.json").exists()


def test_invalid_dataset_stops_before_training(tmp_path):
    ds = keyword_dataset()
    ds.relevant_docs["q01"] = ["no-such-doc"]
    with pytest.raises(DataValidationError) as e:
        train_adapter(dataset=ds, model=keyword_embedder("base"), output=tmp_path / "run")
    assert "no-such-doc" in str(e.value)
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_fixed_epoch_count_without_selection(tmp_path):
    m = train_adapter(dataset=keyword_dataset(), model=keyword_embedder("base", query_shift=1), output=tmp_path / "run",
                      teacher=keyword_embedder("teacher"), epochs=7, learning_rate=0.05, select_epoch=False, pseudo_queries=False)
    assert m.best_epoch == 7 and m.best_epoch_by == "fixed epoch count"
    assert m.shipped_adapter == "refit on training + validation data for 7 epochs"


def test_pseudo_queries_are_sentences_plus_short_seeded_spans_of_them():
    from ragtune.generate.pseudo import pseudo_queries, sentence_spans

    docs = ["Permits are needed for every extension of a house. A tiny one.", "Ask the municipality before you build a garage."]
    sentences = ["Permits are needed for every extension of a house.", "Ask the municipality before you build a garage."]
    spans = sentence_spans(sentences, per_sentence=4, seed=7)
    assert spans == sentence_spans(sentences, per_sentence=4, seed=7)  # seeded: reruns hit the embedding cache
    assert spans != sentence_spans(sentences, per_sentence=4, seed=8)
    for span in spans:
        assert 3 <= len(span.split()) <= 8
        assert any(span in s for s in sentences)  # a contiguous window of one sentence, punctuation stripped
        assert not span.endswith(".")
    got = pseudo_queries(docs, 4, 7, exclude={sentences[1]})
    assert got[:1] == sentences[:1]  # "A tiny one." has fewer than 4 words; an excluded real query is dropped
    assert set(got[1:]) == set(spans) - {sentences[1]}
    assert pseudo_queries(docs, 0, 7) == sentences


def test_spans_skip_punctuation_only_tokens_and_are_never_short():
    from ragtune.generate.pseudo import sentence_spans

    spans = sentence_spans(["See page 12 - and ( the rules ) for % or more ."], per_sentence=30, seed=0)
    assert spans
    for span in spans:
        words = span.split()
        assert len(words) >= 3 and span == span.strip()
        assert all(any(c.isalnum() for c in w) for w in words), span


def test_an_adapter_folder_or_its_run_folder_loads_as_an_embedder(tmp_path, tiny_st_dir):
    import torch

    from ragtune.embedders import load_embedder

    torch.manual_seed(0)
    a = Adapter("linear", "query", 32, seed=1)
    with torch.no_grad():
        for p in a.parameters():
            p.add_(torch.randn_like(p) * 0.3)
    save_adapter(a, tmp_path / "run" / "model", {"spec": str(tiny_st_dir)})
    base = load_embedder(str(tiny_st_dir))
    want = a.apply_numpy(base.encode(["roof window"], kind="query"), "query")
    for spec in (tmp_path / "run" / "model", tmp_path / "run"):
        emb = load_embedder(str(spec))
        assert emb.fingerprint != base.fingerprint
        np.testing.assert_allclose(emb.encode(["roof window"], kind="query"), want, atol=1e-5)
        np.testing.assert_allclose(emb.encode(["roof window"], kind="document"), base.encode(["roof window"], kind="document"), atol=1e-6)
    assert load_embedder(str(tmp_path / "run")).name == str(tmp_path / "run")  # reports name the adapter, not "base+adapter"


def test_a_registry_name_wins_over_a_same_named_adapter_folder_and_a_self_based_adapter_is_refused(tmp_path, monkeypatch):
    from ragtune.embedders import load_adapted
    from ragtune.embedders import load_embedder
    from ragtune.errors import InputError

    monkeypatch.chdir(tmp_path)
    save_adapter(Adapter("linear", "query", 384, seed=1), tmp_path / "minilm" / "model", {"spec": "minilm"})
    emb = load_embedder("minilm")  # the registry model (loaded lazily), not ./minilm, and no endless recursion
    assert emb.name == "minilm" and not hasattr(emb, "adapter")
    adapted = load_embedder(str(tmp_path / "minilm"))  # the folder itself: an adapter over the registry minilm, not a loop
    assert adapted.adapter is not None and adapted.base.name == "minilm"
    save_adapter(Adapter("linear", "query", 8, seed=1), tmp_path / "loop" / "model", {"spec": str(tmp_path / "loop")})
    with pytest.raises(InputError, match="itself"):
        load_adapted(tmp_path / "loop" / "model")
