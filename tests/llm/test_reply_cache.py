"""ragtune.llm.ReplyCache: greedy replies kept in one JSONL file and answered from it."""

from __future__ import annotations

import asyncio
import json

from ragtune.llm import FakeLLM, ReplyCache, complete_many, user_message

IDENTITY = {"model": "/models/m", "files": [["model.safetensors", 10, 1]], "batch_size": 4}


def _ask(llm, prompts, **kw):
    return [o.completion.text for o in asyncio.run(complete_many(llm, [user_message(p) for p in prompts], concurrency=2, **kw))]


def test_greedy_replies_come_back_from_the_file_without_the_model(tmp_path):
    path = tmp_path / "replies.jsonl"
    first = ReplyCache(FakeLLM(default=lambda m: "A:" + m[-1]["content"]), path, IDENTITY)
    assert _ask(first, ["one", "two", "one"], max_tokens=8) == ["A:one", "A:two", "A:one"]
    assert first.hits + first.misses == 3 and first.misses in (2, 3)  # the repeat may be in flight with the first
    rows = [json.loads(x) for x in path.read_text().splitlines()]
    assert {r["text"] for r in rows} == {"A:one", "A:two"}
    assert all(set(r) == {"key", "text", "prompt_tokens", "completion_tokens", "finish_reason"} for r in rows)  # no prompt

    dead = FakeLLM()  # would raise on any call: every answer must come from the file
    again = ReplyCache(dead, path, IDENTITY)
    assert _ask(again, ["two", "one"], max_tokens=8) == ["A:two", "A:one"]
    assert (again.hits, again.misses, dead.calls) == (2, 0, [])


def test_what_the_key_holds(tmp_path):
    path = tmp_path / "replies.jsonl"
    _ask(ReplyCache(FakeLLM(default="old"), path, IDENTITY), ["q"], max_tokens=8)
    other_model = ReplyCache(FakeLLM(default="new"), path, {**IDENTITY, "files": [["model.safetensors", 11, 2]]})
    other_budget = ReplyCache(FakeLLM(default="new"), path, IDENTITY)
    assert _ask(other_model, ["q"], max_tokens=8) == ["new"]  # changed weights: generated again
    assert _ask(other_budget, ["q"], max_tokens=16) == ["new"]  # another reply budget: generated again
    sampled = FakeLLM(default="sampled")
    cache = ReplyCache(sampled, path, IDENTITY)
    assert _ask(cache, ["q"], max_tokens=8, temperature=0.7) == ["sampled"]  # sampling is never cached
    assert len(sampled.calls) == 1 and cache.misses == 0


def test_a_torn_last_line_is_skipped(tmp_path):
    path = tmp_path / "replies.jsonl"
    _ask(ReplyCache(FakeLLM(default="kept"), path, IDENTITY), ["a"], max_tokens=8)
    with path.open("a") as f:
        f.write('{"key": "abc", "te')  # a crash mid-write
    cache = ReplyCache(FakeLLM(default="fresh"), path, IDENTITY)
    assert _ask(cache, ["a", "b"], max_tokens=8) == ["kept", "fresh"] and (cache.hits, cache.misses) == (1, 1)
    later = ReplyCache(FakeLLM(), path, IDENTITY)  # the torn line was repaired, the new reply kept
    assert _ask(later, ["b", "a"], max_tokens=8) == ["fresh", "kept"] and later.misses == 0
