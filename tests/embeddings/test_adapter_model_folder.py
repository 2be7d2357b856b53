"""A shipped adapter's RUN/model/ is also a plain sentence-transformers model: SentenceTransformer(path) gives the same
vectors (encode_query / encode_document) and the same retrieval metrics as ragtune's own loaders."""

from __future__ import annotations

import numpy as np

from ragtune.embedders import Adapter, load_embedder, save_adapter
from ragtune.embedders.st_export import TOLERANCE
from ragtune.embeddings.train_adapter import _write_model
from ragtune.evaluation.retrieval import evaluate_retrieval

from .conftest import keyword_dataset


class STEncoder:
    """Plain sentence-transformers, as a user would call it, behind the Encoder protocol."""

    def __init__(self, path):
        from sentence_transformers import SentenceTransformer

        self.model, self.name = SentenceTransformer(str(path)), "plain-st"

    def encode(self, texts, kind="document", batch_size=64, show_progress=False):
        fn = self.model.encode_query if kind == "query" else self.model.encode_document
        return fn(list(texts), convert_to_numpy=True, normalize_embeddings=True)


def test_model_folder_loads_in_sentence_transformers_with_the_same_vectors_and_metrics(adapter_model_dir):
    folder = adapter_model_dir
    assert (folder / "modules.json").exists() and (folder / "adapter.json").exists()
    ours, plain = load_embedder(str(folder)), STEncoder(folder)
    texts = ["is a permit needed for a new roof", "the garage and the fence"]
    for kind in ("query", "document"):
        assert np.abs(ours.encode(texts, kind) - plain.encode(texts, kind)).max() < TOLERANCE
    ds = keyword_dataset()
    rep = evaluate_retrieval(ds, {"ragtune": ours, "sentence-transformers": plain})
    assert abs(rep.results[0].metrics["ndcg@10"] - rep.results[1].metrics["ndcg@10"]) < 1e-6


def test_an_adapter_over_a_non_local_base_ships_the_adapter_alone(tmp_path, tiny_st_dir):
    from .conftest import keyword_embedder

    save_adapter(Adapter("linear", "query", 9, seed=1), tmp_path / "final", {"spec": "kw"})
    folder = tmp_path / "model"
    folder.mkdir()
    _write_model(tmp_path / "final", folder, keyword_embedder("kw"), "auto")
    assert sorted(p.name for p in folder.iterdir()) == ["adapter.json", "adapter.safetensors"]
