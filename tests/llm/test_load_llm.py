from __future__ import annotations

import pytest

from ragtune.errors import InputError
from ragtune.llm import LocalLLM, OpenAIProvider, load_llm


def test_specs(monkeypatch):
    monkeypatch.setenv("MY_KEY", "sk-abcdefghijklmnopqrstu")
    llm = load_llm("openai:gpt-x", api_key_env="MY_KEY")
    assert isinstance(llm, OpenAIProvider) and llm.model == "gpt-x" and "sk-" not in repr(llm)
    assert isinstance(load_llm("local:some/folder"), LocalLLM)
    with pytest.raises(InputError, match="needs a model name"):
        load_llm("openai:")
    with pytest.raises(InputError, match="unknown --llm"):
        load_llm("anthropic:claude")


def test_missing_key_without_base_url_is_explained(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(InputError, match="OPENAI_API_KEY"):
        load_llm("openai:gpt-x")
    assert load_llm("openai:local-model", base_url="http://127.0.0.1:1/v1").model == "local-model"


def test_concurrency_defaults_to_a_big_local_batch_and_few_server_requests():
    from ragtune.generate.config import QueryGenConfig
    from ragtune.sft.config import DistillConfig

    assert QueryGenConfig().concurrency == 32 and QueryGenConfig(llm="local:smollm2").concurrency == 32
    assert QueryGenConfig(llm="openai:gpt-x").concurrency == 8
    assert QueryGenConfig(llm="openai:gpt-x", concurrency=3).concurrency == 3
    assert DistillConfig(docs=["d"], output="o").concurrency == 32
    assert DistillConfig(docs=["d"], output="o", teacher="openai:m").concurrency == 8
    assert load_llm("local").batch_size == 32
