"""Exported sentence-transformers models: plain `SentenceTransformer(path)` gives exactly base + adapter on
both routes (linear and mlp, query-only and both sides), with stock modules only, and ragtune's own loaders
keep working on the exported folder and on the original adapter folder."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from ragtune.embedders import Adapter, adapted_embedder, load_embedder, save_adapter, sentence_transformer_embedder
from ragtune.embedders.st_export import EXPORT_INFO, EXPORT_NOTE, export_sentence_transformer
from ragtune.errors import InputError

TEXTS = ["what is the permit fee for a garage?", "The roof must be inspected before the window is replaced.",
         "kitchen", "heating and balcony rules " * 40]  # the last one is longer than the tiny model's 64 tokens


def random_adapter(kind: str, side: str, dim: int, hidden: int = 16, seed: int = 0, scale: float = 0.3) -> Adapter:
    import torch

    a = Adapter(kind, side, dim, hidden=hidden, seed=seed)
    with torch.no_grad():
        for p in a.parameters():
            p.add_(torch.randn_like(p) * scale)
    return a


def plain_st(path):
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(path), device="cpu", local_files_only=True)


def max_diffs(model, reference, texts=TEXTS, normalize_options=(False, True)) -> dict[str, float]:
    out = {}
    for kind, fn in (("query", model.encode_query), ("document", model.encode_document)):
        ref = reference.encode(texts, kind)
        for normalize in normalize_options:
            got = fn(texts, convert_to_numpy=True, normalize_embeddings=normalize)
            out[f"{kind}/{normalize}"] = float(np.abs(got - ref).max())
    return out


def class_refs(folder) -> list[str]:
    """Every class a loader imports from the exported folder: module types, route types, activations."""
    refs = [m["type"] for m in json.loads((folder / "modules.json").read_text())]
    refs += json.loads((folder / "router_config.json").read_text())["types"].values()
    refs += [json.loads(p.read_text()).get("activation_function") for p in folder.glob("*_Dense/config.json")]
    return refs


@pytest.mark.parametrize("kind,side", [("linear", "query"), ("linear", "both"), ("mlp", "query"), ("mlp", "both")])
def test_export_matches_the_adapted_embedder_on_both_routes(tmp_path, tiny_st_dir, kind, side):
    a = random_adapter(kind, side, 32)
    save_adapter(a, tmp_path / "ad", {"spec": str(tiny_st_dir)})
    out = export_sentence_transformer(tmp_path / "ad", tmp_path / "st")
    base = sentence_transformer_embedder(tiny_st_dir)
    ref = adapted_embedder(base, a)

    model = plain_st(out)
    diffs = max_diffs(model, ref)
    assert max(diffs.values()) < 1e-5, diffs
    # the adapter is really applied on the adapted side(s) and the other side is the base model
    assert not np.allclose(model.encode_query(TEXTS), base.encode(TEXTS, "query"), atol=1e-3)
    doc = model.encode_document(TEXTS)
    assert np.allclose(doc, base.encode(TEXTS, "document"), atol=1e-5) == (side == "query")
    # plain encode() takes the default route, documents; task="query" takes the query route
    np.testing.assert_allclose(model.encode(TEXTS), doc, atol=1e-6)
    np.testing.assert_allclose(model.encode(TEXTS, task="query"), model.encode_query(TEXTS), atol=1e-6)

    # stock classes only (loads without ragtune or trust_remote_code); the base transformer is saved once
    assert all(r.startswith(("sentence_transformers.", "torch.")) for r in class_refs(out)), class_refs(out)
    routes = json.loads((out / "router_config.json").read_text())["structure"]
    assert routes["query"][:3] == routes["document"][:3] == ["query_0_Transformer", "query_1_Pooling", "query_2_Normalize"]
    assert len(list(out.glob("*Transformer"))) == 1
    assert not (out / "adapter.json").exists()
    info = json.loads((out / EXPORT_INFO).read_text())
    assert info["adapter"]["kind"] == kind and max(info["verified_max_abs_diff"].values()) < 1e-5
    note = (out / EXPORT_NOTE).read_text()
    assert "query route: Transformer -> Pooling -> Normalize -> Dense(32->" in note
    if side == "query":
        assert "document route: Transformer -> Pooling -> Normalize (the base model, unchanged)" in note
    print(kind, side, diffs)


def test_export_loads_with_ragtune_blocked(tmp_path, tiny_st_dir):
    a = random_adapter("linear", "both", 32)
    save_adapter(a, tmp_path / "ad", {"spec": str(tiny_st_dir)})
    out = export_sentence_transformer(tmp_path / "ad", tmp_path / "st")
    np.save(tmp_path / "ref.npy", adapted_embedder(sentence_transformer_embedder(tiny_st_dir), a).encode(TEXTS, "query"))
    script = (
        "import sys, json, numpy as np\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'ragtune': raise ImportError('ragtune is blocked')\n"
        "sys.meta_path.insert(0, Block())\n"
        "from sentence_transformers import SentenceTransformer\n"
        f"m = SentenceTransformer({str(out)!r}, device='cpu', local_files_only=True)\n"
        f"texts = json.loads({json.dumps(json.dumps(TEXTS))})\n"
        f"print(float(np.abs(m.encode_query(texts) - np.load({str(tmp_path / 'ref.npy')!r})).max()))\n"
        "assert not any(k.startswith('ragtune') for k in sys.modules)\n"
    )
    res = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                         env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin", "PYTHONPATH": ""})
    assert res.returncode == 0, res.stderr[-2000:]
    assert float(res.stdout.strip().splitlines()[-1]) < 1e-5


def test_ragtune_loaders_on_the_export_and_the_original_adapter_folder(tmp_path, tiny_st_dir):
    a = random_adapter("linear", "query", 32)
    save_adapter(a, tmp_path / "ad", {"spec": str(tiny_st_dir)})
    before = {p.name: p.read_bytes() for p in (tmp_path / "ad").iterdir()}
    out = export_sentence_transformer(tmp_path / "ad", tmp_path / "st")
    assert {p.name: p.read_bytes() for p in (tmp_path / "ad").iterdir()} == before  # the adapter folder is untouched

    ref = adapted_embedder(sentence_transformer_embedder(tiny_st_dir), a)
    exported = load_embedder(str(out))  # a sentence-transformers folder: encode_query / encode_document pick the routes
    # the same text as a query, then as a document: the cache must not hand the query vector back
    for kind in ("query", "document", "query"):
        np.testing.assert_allclose(exported.encode(TEXTS, kind), ref.encode(TEXTS, kind), atol=1e-5)
    assert not np.allclose(exported.encode(TEXTS[:1], "query"), exported.encode(TEXTS[:1], "document"), atol=1e-3)

    pytest.importorskip("llama_index.core", reason="needs the llamaindex extra (in the dev extra)")
    from ragtune.integrations.llamaindex import AdapterEmbedding

    li = AdapterEmbedding(str(tmp_path / "ad"))
    np.testing.assert_allclose(li.get_query_embedding(TEXTS[0]), ref.encode(TEXTS[:1], "query")[0], atol=1e-5)
    np.testing.assert_allclose(li.get_text_embedding(TEXTS[1]), ref.encode(TEXTS[1:2], "document")[0], atol=1e-5)


def test_refusals(tmp_path, tiny_st_dir):
    save_adapter(random_adapter("linear", "query", 32), tmp_path / "ad", {"spec": str(tiny_st_dir)})
    with pytest.raises(InputError, match="holds the adapter folder"):
        export_sentence_transformer(tmp_path / "ad", tmp_path / "ad")
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "x.txt").write_text("keep")
    with pytest.raises(InputError, match="not empty"):
        export_sentence_transformer(tmp_path / "ad", tmp_path / "busy")
    assert (tmp_path / "busy" / "x.txt").read_text() == "keep"
    save_adapter(random_adapter("linear", "query", 32), tmp_path / "remote", {"spec": "openai:text-embedding-3-small"})
    with pytest.raises(InputError, match="remote embedder"):
        export_sentence_transformer(tmp_path / "remote", tmp_path / "out1")
    save_adapter(random_adapter("linear", "query", 16), tmp_path / "wrongdim", {"spec": str(tiny_st_dir)})
    with pytest.raises(InputError, match="16-d vectors"):
        export_sentence_transformer(tmp_path / "wrongdim", tmp_path / "out2")
    save_adapter(random_adapter("linear", "query", 32), tmp_path / "nobase", {})
    with pytest.raises(InputError, match="base_path"):
        export_sentence_transformer(tmp_path / "nobase", tmp_path / "out3")
    # an explicit base_path stands in for a base the adapter does not name
    out = export_sentence_transformer(tmp_path / "nobase", tmp_path / "out3", base_path=tiny_st_dir)
    assert (out / "modules.json").is_file()
    assert not any(p.name.startswith(".out") for p in tmp_path.iterdir())  # no temporary folder left behind


def test_real_minilm_linear_query(tmp_path):
    from ragtune.assets import resolve_model

    minilm = resolve_model("minilm")
    a = random_adapter("linear", "query", 384, scale=0.05)
    save_adapter(a, tmp_path / "ad", {"spec": "minilm"})
    out = export_sentence_transformer(tmp_path / "ad", tmp_path / "st", verify=False)  # checked here instead (time)
    model = plain_st(out)
    ref = adapted_embedder(sentence_transformer_embedder(minilm), a)
    texts = TEXTS + ["roof " * 400]  # past MiniLM's 256-token limit: the exported model truncates where the base does
    diffs = max_diffs(model, ref, texts, normalize_options=(False,))
    assert max(diffs.values()) < 1e-5, diffs
    assert model.max_seq_length == 256
    assert "document route: Transformer -> Pooling -> Normalize (the base model, unchanged)" in (out / EXPORT_NOTE).read_text()
    print("minilm", diffs)
