"""generate_sql with a queue-backed fake LLM: checks by execution, drop reasons, dedup, cap, kill-and-resume, CLI."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from ragtune.cli.main import app
from ragtune.errors import InputError, NoUsableDataError
from ragtune.llm import FakeLLM, FatalLLMError
from ragtune.sql.generate import generate_sql, parse_pairs

runner = CliRunner()

GOOD = """Question: What are the names of all shops?
SQL: SELECT name FROM shop
Question: How many countries are there?
SQL: SELECT count(*) FROM country"""
MIXED = """1. Question: Which shops have a rating above 3?
SQL: SELECT name FROM shop WHERE rating > 3;
2. Question: List shop names
SQL: select NAME from shop as s
3. Question: Items sold by the shop named zzz?
SQL: SELECT item FROM sale JOIN shop ON sale.shop_id = shop.shop_id WHERE shop.name = 'no such shop zzz'
4. Question: Delete everything
SQL: DELETE FROM shop
5. Question: Population of Atlantis?
SQL: SELECT populaton FROM country"""


def test_parse_pairs_reads_blocks_and_json_lines():
    assert parse_pairs(GOOD)[1] == ("How many countries are there?", "SELECT count(*) FROM country")
    assert parse_pairs(MIXED)[0] == ("Which shops have a rating above 3?", "SELECT name FROM shop WHERE rating > 3")
    assert parse_pairs('{"question": "q?", "sql": "SELECT 1"}\n') == [("q?", "SELECT 1")]
    assert parse_pairs("I do not know.") == []


def test_candidates_are_kept_only_when_they_run_return_rows_and_are_new(tmp_path, shop_db):
    fake = FakeLLM([GOOD, MIXED, "no pairs here"])
    res = generate_sql(db=shop_db, output=tmp_path / "out", llm=fake, calls=3, concurrency=1)
    questions = [p["question"] for p in res.pairs]
    assert questions == ["What are the names of all shops?", "How many countries are there?",
                         "Which shops have a rating above 3?"]
    assert res.drops == {"duplicate": 1, "returns no rows": 1, "does not run": 2, "no pair in the reply": 1}
    assert res.summary["kept"] == 3 and res.summary["candidates"] == 8
    assert all(p["db_path"] == str(shop_db.resolve()) for p in res.pairs)
    dropped = [json.loads(x) for x in (tmp_path / "out" / "dropped.jsonl").read_text().splitlines()]
    assert {d["reason"] for d in dropped} == set(res.drops)
    focus = sorted(c[0]["content"].split("Focus on the table ")[1].split(" ")[0] for c in fake.calls)
    assert focus == ["country", "sale", "shop"]  # call k centres on table k
    prompt = fake.calls[0][0]["content"]  # a numbered slot per pair: small models copy a one-pair template once
    assert "Question 5: <question 5>\nSQL 5: <SQLite query 5, on one line>" in prompt and "Question 6" not in prompt
    assert json.loads((tmp_path / "out" / "config.json").read_text())["llm"] == fake.model  # a ready LLM, by its model
    capped = generate_sql(db=shop_db, output=tmp_path / "capped", llm=FakeLLM([GOOD, MIXED]), calls=2, concurrency=1, max_pairs=2)
    assert len(capped.pairs) == 2 and capped.drops["over --max-pairs"] == 1


def test_kill_and_resume_makes_only_the_missing_calls(tmp_path, shop_db):
    out = tmp_path / "out"
    dying = FakeLLM([GOOD, FatalLLMError("killed"), MIXED, MIXED])
    with pytest.raises(FatalLLMError):
        generate_sql(db=shop_db, output=out, llm=dying, calls=4, concurrency=1)
    journaled = (out / "journal.jsonl").read_text().splitlines()
    assert len(journaled) == 1
    again = FakeLLM([MIXED, MIXED, MIXED])
    res = generate_sql(db=shop_db, output=out, llm=again, calls=4, concurrency=1)
    assert len(again.calls) == 3 and res.summary["calls"] == {"total": 4, "resumed": 1, "made": 3, "failed": 0, "errors": []}
    assert len(res.pairs) == 3 and res.drops["duplicate"] == 1 + 2 * 2  # MIXED three times: its two runnable pairs repeat
    third = FakeLLM([])
    assert generate_sql(db=shop_db, output=out, llm=third, calls=4, concurrency=1).pairs == res.pairs and not third.calls


def test_bad_settings_are_input_errors_naming_the_field(tmp_path, shop_db):
    with pytest.raises(InputError, match=r"bad generate-sql setting\(s\): pairs_per_call: .*less than or equal to 50"):
        generate_sql(db=shop_db, output=tmp_path / "out", llm=FakeLLM([]), pairs_per_call=99)


def test_nothing_usable_is_a_clear_error(tmp_path, shop_db):
    with pytest.raises(NoUsableDataError, match="no usable pair"):
        generate_sql(db=shop_db, output=tmp_path / "out", llm=FakeLLM(default="nothing"), calls=2)


def test_cli_generate_sql_with_a_tiny_model(tmp_path, shop_db, tiny_chat_dir):
    out = tmp_path / "gen"
    res = runner.invoke(app, ["generate", "sql", "--db", str(shop_db), "-o", str(out), "--llm", f"local:{tiny_chat_dir}",
                              "--calls", "2", "--max-new-tokens", "16"])
    # a random tiny model writes no usable pair: the one clean error, with the journal and drops kept
    assert res.exit_code != 0 and "no usable pair from 2 call(s)" in res.output, res.output
    assert len((out / "journal.jsonl").read_text().splitlines()) == 2 and (out / "dropped.jsonl").is_file()
