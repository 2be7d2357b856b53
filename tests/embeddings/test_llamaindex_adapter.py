"""The LlamaIndex embedding class applies a shipped adapter exactly like the Python wrapper."""

from __future__ import annotations

import numpy as np
import pytest

from ragtune.embedders import Adapter, adapted_embedder, save_adapter, sentence_transformer_embedder


def test_adapter_embedding_matches_the_wrapper(tmp_path, tiny_st_dir):
    pytest.importorskip("llama_index.core", reason="needs the llamaindex extra (in the dev extra)")
    import torch

    from ragtune.integrations.llamaindex import AdapterEmbedding

    a = Adapter("linear", "both", 32, seed=0)
    with torch.no_grad():
        for p in a.parameters():
            p.add_(torch.randn_like(p) * 0.2)
    save_adapter(a, tmp_path / "ad", {"spec": str(tiny_st_dir)})
    li = AdapterEmbedding(str(tmp_path / "ad"))
    ref = adapted_embedder(sentence_transformer_embedder(tiny_st_dir), a)
    np.testing.assert_allclose(li.get_query_embedding("roof permit"), ref.encode(["roof permit"], "query")[0], atol=1e-5)
    np.testing.assert_allclose(li.get_text_embedding("a garage answer"), ref.encode(["a garage answer"], "document")[0], atol=1e-5)
    base_q = sentence_transformer_embedder(tiny_st_dir).encode(["roof permit"], "query")[0]
    assert not np.allclose(li.get_query_embedding("roof permit"), base_q, atol=1e-3)  # the adapter is really applied
