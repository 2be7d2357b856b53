from __future__ import annotations

import asyncio
import json
import threading

import pytest

from ragtune.errors import LLMError
from ragtune.io import read_jsonl_tolerant
from ragtune.llm import FakeLLM, Recorder, complete_many, scrub, user_message


def test_fake_llm_answers_in_order_and_runs_out():
    llm = FakeLLM(["one", lambda m: m[-1]["content"].upper(), ValueError("x")])
    assert asyncio.run(llm.complete(user_message("a"))).text == "one"
    assert asyncio.run(llm.complete(user_message("b"))).text == "B"
    with pytest.raises(ValueError):
        asyncio.run(llm.complete(user_message("c")))
    with pytest.raises(LLMError, match="ran out"):
        asyncio.run(llm.complete(user_message("d")))
    assert len(llm.calls) == 4


def test_recorder_writes_openai_chat_jsonl_concurrently(tmp_path, monkeypatch):
    monkeypatch.setenv("MY_API_KEY", "topsecret-value-123")
    path = tmp_path / "rec.jsonl"
    llm = Recorder(FakeLLM(default=lambda m: "answer to " + m[-1]["content"], delay=0.001), path)
    prompts = [user_message(f"q{i} key=topsecret-value-123 sk-abcdefghijklmnop1234", system="be brief") for i in range(50)]
    outs = asyncio.run(complete_many(llm, prompts, concurrency=16))
    assert len(outs) == 50 and llm.count == 50
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(rows) == 50
    assert {r["messages"][1]["content"].split()[0] for r in rows} == {f"q{i}" for i in range(50)}
    for r in rows:
        assert [m["role"] for m in r["messages"]] == ["system", "user", "assistant"]
    text = path.read_text()
    assert "topsecret-value-123" not in text and "sk-abcdefghijklmnop1234" not in text
    assert "[REDACTED]" in text


def test_recorder_is_thread_safe(tmp_path):
    path = tmp_path / "rec.jsonl"
    rec = Recorder(FakeLLM(), path)
    threads = [threading.Thread(target=lambda i=i: [rec.record(user_message(f"t{i}-{j}"), "x" * 5000) for j in range(20)])
               for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    rows = list(read_jsonl_tolerant(path))
    assert len(rows) == 80 == len(path.read_text().splitlines())


def test_scrub_shapes():
    assert scrub("Authorization: Bearer abcdefghijklmnopqrstu") == "Authorization: [REDACTED]"
    assert scrub("key hf_abcdefghijklmnopqrstuvwxyz") == "key [REDACTED]"
    assert scrub("plain text stays") == "plain text stays"


def test_fake_llm_top_logprobs_only_when_asked(tmp_path):
    llm = FakeLLM(default="4\nok", top_logprobs=lambda m, t: [("4", -0.1), ("5", -2.0), ("3", -3.0)])
    assert asyncio.run(llm.complete([{"role": "user", "content": "x"}])).top_logprobs is None
    rec = Recorder(llm, tmp_path / "r.jsonl")
    assert asyncio.run(rec.complete([{"role": "user", "content": "x"}], logprobs=2)).top_logprobs == (("4", -0.1), ("5", -2.0))
    assert asyncio.run(FakeLLM(default="5 good").complete([], logprobs=3)).top_logprobs == (("5", 0.0),)
