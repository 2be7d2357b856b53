"""ragtune's outputs in LlamaIndex and LangChain, written the way their users write them: an index, a retriever,
a query engine, an embeddings object; and ChatRecorder, which records an app's LLM calls as chat JSONL for
`train sft`. The load lines here are the ones the model cards print."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("llama_index.core", reason="needs the llamaindex extra (in the dev extra)")

from llama_index.core import Document, VectorStoreIndex  # noqa: E402
from llama_index.core.base.llms.types import ChatMessage, CompletionResponse, LLMMetadata  # noqa: E402
from llama_index.core.embeddings import MockEmbedding  # noqa: E402
from llama_index.core.llms import CustomLLM, MockLLM  # noqa: E402
from llama_index.core.llms.callbacks import llm_completion_callback  # noqa: E402

from ragtune.data.chat import load_chat  # noqa: E402
from ragtune.embedders import load_embedder  # noqa: E402
from ragtune.evaluation.search import top_k  # noqa: E402
from ragtune.integrations.llamaindex import AdapterEmbedding, ChatRecorder  # noqa: E402

PASSAGES = ["A building permit is needed for a new roof.", "The garage may stand 1 m from the fence.",
            "Concrete cures for 28 days before full load.", "Rebar needs 40 mm of cover outdoors."]
QUERIES = ["do I need a permit for my roof", "how close can a garage be to the fence", "how long does concrete cure"]


def index_ranking(embed_model, k=4):
    index = VectorStoreIndex.from_documents([Document(text=p, doc_id=str(i)) for i, p in enumerate(PASSAGES)],
                                            embed_model=embed_model)
    retriever = index.as_retriever(similarity_top_k=k)
    return [[PASSAGES.index(n.node.get_content()) for n in retriever.retrieve(q)] for q in QUERIES]


def ragtune_ranking(embedder, k=4):
    return [list(map(int, row)) for row in top_k(embedder, QUERIES, PASSAGES, k).indices]


def test_a_shipped_adapter_ranks_the_same_in_a_vector_store_index(adapter_model_dir):
    ours = load_embedder(str(adapter_model_dir))
    assert index_ranking(AdapterEmbedding(str(adapter_model_dir))) == ragtune_ranking(ours)


def test_a_fine_tuned_model_loads_in_huggingface_embedding(tiny_st_dir):
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding

    hf, ours = HuggingFaceEmbedding(model_name=str(tiny_st_dir), device="cpu"), load_embedder(str(tiny_st_dir))
    np.testing.assert_allclose(hf.get_query_embedding(QUERIES[0]), ours.encode(QUERIES[:1], "query")[0], atol=1e-5)
    assert index_ranking(hf) == ragtune_ranking(ours)


def test_huggingface_embedding_would_skip_an_adapters_query_route(adapter_model_dir):
    """Why the card and the docs send adapters to AdapterEmbedding: HuggingFaceEmbedding encodes queries with
    prompt_name='query', which a sentence-transformers Router does not route on, so the query gets the document
    route (the plain base). If this starts failing, LlamaIndex routes now: update the card and the docs."""
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding

    hf, ours = HuggingFaceEmbedding(model_name=str(adapter_model_dir), device="cpu"), load_embedder(str(adapter_model_dir))
    q = np.array(hf.get_query_embedding(QUERIES[0]))
    assert np.abs(q - ours.encode(QUERIES[:1], "document")[0]).max() < 1e-5
    assert np.abs(q - ours.encode(QUERIES[:1], "query")[0]).max() > 1e-2


class ChatModel(CustomLLM):
    """A chat model written as LlamaIndex's docs say (complete() decorated), whose chat() LlamaIndex implements
    through complete(): two nested LLM calls, and events, per chat."""

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(is_chat_model=True, model_name="chat-echo")

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs) -> CompletionResponse:
        return CompletionResponse(text=f"answer {len(prompt)}")

    def stream_complete(self, prompt: str, formatted: bool = False, **kwargs):
        yield self.complete(prompt)


def test_chat_recorder_records_each_call_of_a_query_engine_once(tmp_path, monkeypatch):
    monkeypatch.setenv("SUPPORT_API_KEY", "sk-secret-0123456789")
    docs = [Document(text=p) for p in PASSAGES] + [Document(text="our key is sk-secret-0123456789")]
    index = VectorStoreIndex.from_documents(docs, embed_model=MockEmbedding(embed_dim=8))
    out = tmp_path / "calls.jsonl"
    with ChatRecorder(out) as rec:
        index.as_query_engine(llm=MockLLM(max_tokens=4), similarity_top_k=5).query(QUERIES[0])
        index.as_query_engine(llm=ChatModel(), similarity_top_k=2).query(QUERIES[1])
        ChatModel().chat([ChatMessage(role="system", content="be brief"), ChatMessage(role="user", content="hi")])
    index.as_query_engine(llm=MockLLM(max_tokens=4)).query(QUERIES[2])  # detached: not recorded
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert rec.count == len(rows) == 3
    assert QUERIES[0] in rows[0]["messages"][0]["content"] and rows[0]["messages"][-1]["role"] == "assistant"
    assert QUERIES[1] in json.dumps(rows[1]) and rows[2]["messages"][-1]["content"].startswith("answer ")
    assert "sk-secret-0123456789" not in out.read_text(encoding="utf-8")
    chats = load_chat(out)  # the format `ragtune train sft` reads
    assert len(chats) == 3


def test_a_shipped_adapter_and_a_fine_tuned_model_in_langchain(adapter_model_dir, tiny_st_dir):
    from langchain_huggingface import HuggingFaceEmbeddings

    ours = load_embedder(str(adapter_model_dir))
    lc = HuggingFaceEmbeddings(model_name=str(adapter_model_dir), encode_kwargs={"task": "document"},
                               query_encode_kwargs={"task": "query"})
    np.testing.assert_allclose(lc.embed_query(QUERIES[0]), ours.encode(QUERIES[:1], "query")[0], atol=1e-5)
    np.testing.assert_allclose(lc.embed_documents(PASSAGES), ours.encode(PASSAGES, "document"), atol=1e-5)
    plain, base = HuggingFaceEmbeddings(model_name=str(tiny_st_dir)), load_embedder(str(tiny_st_dir))
    np.testing.assert_allclose(plain.embed_query(QUERIES[0]), base.encode(QUERIES[:1], "query")[0], atol=1e-5)
