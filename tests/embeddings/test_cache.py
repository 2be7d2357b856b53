"""The embedding cache: a second evaluation re-embeds nothing; changed weights change the key."""

from __future__ import annotations

import numpy as np

from ragtune.data.retrieval import RetrievalDataset
from ragtune.embedders import Embedder
from ragtune.embedders.loading import model_fingerprint
from ragtune.evaluation.retrieval import evaluate_retrieval


def _counting_embedder(calls: list[int]) -> Embedder:
    def raw(texts, kind, batch_size, show_progress):
        calls.append(len(texts))
        return np.array([[len(t), t.count("a") + 1.0] for t in texts], dtype=np.float32)

    return Embedder("count", "count-v1", raw)


def test_second_evaluation_embeds_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("RAGTUNE_HOME", str(tmp_path))
    ds = RetrievalDataset(queries={"q": "aa"}, corpus={"d1": "aaa", "d2": "b", "d3": "aa"}, relevant_docs={"q": ["d3"]})
    calls: list[int] = []
    first = evaluate_retrieval(ds, {"m": _counting_embedder(calls)}, bootstrap=10)
    assert sum(calls) == 3  # "aa" is both the query and d3: each distinct text is embedded once
    second = evaluate_retrieval(ds, {"m": _counting_embedder(calls)}, bootstrap=10)
    assert sum(calls) == 3, "cached texts were embedded again"
    assert second.results[0].cache == {"cached": 3, "encoded": 0}
    assert first.results[0].metrics == second.results[0].metrics


def test_vectors_are_normalised_and_duplicates_embedded_once(tmp_path, monkeypatch):
    monkeypatch.setenv("RAGTUNE_HOME", str(tmp_path))
    calls: list[int] = []
    emb = _counting_embedder(calls)
    v = emb.encode(["abc", "abc", "xyz"])
    assert calls == [2]
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0)
    assert np.allclose(v[0], v[1])


def test_fingerprint_follows_weights(tmp_path, monkeypatch):
    monkeypatch.setenv("RAGTUNE_HOME", str(tmp_path / "home"))
    model = tmp_path / "m"
    model.mkdir()
    (model / "config.json").write_text("{}")
    (model / "model.safetensors").write_bytes(b"weights-1")
    fp1 = model_fingerprint(model)
    assert model_fingerprint(model) == fp1
    (model / "model.safetensors").write_bytes(b"weights-2")
    assert model_fingerprint(model) != fp1
