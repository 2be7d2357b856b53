"""ragtune.sql.sample (SQL drawn from a schema and its rows) and `generate sql --mode describe` with a fake LLM."""

from __future__ import annotations

import json
import re

import pytest
import sqlglot
from typer.testing import CliRunner

from ragtune.cli.main import app
from ragtune.errors import InputError, NoUsableDataError
from ragtune.llm import FakeLLM, FatalLLMError
from ragtune.sql.generate import generate_sql, parse_question
from ragtune.sql.sample import SHAPES, column_values, sample_queries
from ragtune.sql.sandbox import SqlSandbox
from ragtune.sql.schema import schema_from_sqlite

runner = CliRunner()


def _plain(prompt: str) -> str:
    return prompt.split("A program worded this query as: ")[1].split("\n")[0]


def _question_for(messages) -> str:
    """The sampler's own wording back, labelled as small models do."""
    return "Question: " + _plain(messages[-1]["content"])


def _drop_values(messages) -> str:
    """A rewrite that loses the query's quoted values."""
    return re.sub(r"'[^']*'|\b\d+(?:\.\d+)?\b", "that", _plain(messages[-1]["content"]))


def test_sampled_queries_are_seeded_distinct_and_run_on_the_database(shop_db):
    schema = schema_from_sqlite(shop_db)
    values = column_values(shop_db, schema)
    assert values["shop"]["name"] and all(v is not None for v in values["shop"]["rating"])
    first = sample_queries(schema, values, 40, seed=3)
    assert first == sample_queries(schema, values, 40, seed=3) and first != sample_queries(schema, values, 40, seed=4)
    sqls = [sql for _, sql, _ in first]
    assert len(sqls) == len(set(sqls)) > 20
    shapes = {shape for shape, _, _ in first}
    assert len(shapes) >= 12 and shapes <= set(SHAPES)
    with SqlSandbox(shop_db) as box:
        results = [box.run(sql) for sql in sqls]
    assert all(r.ok for r in results), [(s, r.error) for s, r in zip(sqls, results) if not r.ok]
    assert sum(bool(r.rows) for r in results) >= 0.8 * len(results)
    for shape, sql, plain in first:
        sqlglot.parse_one(sql, read="sqlite")
        assert plain.endswith(("?", ".")) and all(v in plain for v in re.findall(r"'[^']*'", sql)), (sql, plain)
        if shape.startswith("join"):  # joins follow declared foreign keys only
            assert ("sale AS T1 JOIN shop AS T2 ON T1.shop_id = T2.shop_id" in sql
                    or "shop AS T1 JOIN country AS T2 ON T1.country_code = T2.code" in sql), sql


def test_an_empty_database_gives_no_queries(tmp_path):
    import sqlite3

    db = tmp_path / "empty.sqlite"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)")
    schema = schema_from_sqlite(db)
    assert sample_queries(schema, column_values(db, schema), 10) == []


def test_parse_question():
    assert parse_question("Question: Which shops opened in 2020?\nSQL: ...") == "Which shops opened in 2020?"
    assert parse_question('  "How many sales are there?"  ') == "How many sales are there?"
    assert parse_question("SELECT name FROM shop") is None
    assert parse_question("The query selects name from shop.") == "The query selects name from shop."
    assert parse_question("") is None and parse_question("Why?") is None


def test_describe_mode_keeps_the_sampled_sql_with_the_written_question(tmp_path, shop_db):
    fake = FakeLLM(["SELECT * FROM shop", "", *[_drop_values] * 10, *[_question_for] * 20])
    res = generate_sql(db=shop_db, output=tmp_path / "out", llm=fake, mode="describe", calls=32, concurrency=1)
    prompts = [c[-1]["content"] for c in fake.calls]
    assert len(prompts) == 32 and all("CREATE TABLE shop" in p and "\nSQLite query:\n" in p for p in prompts)
    wording = {p.split("SQLite query:\n")[1].split("\n")[0]: _plain(p) for p in prompts}
    assert res.drops["no question in the reply"] == 2
    lost = [json.loads(x) for x in (tmp_path / "out" / "dropped.jsonl").read_text().splitlines()
            if json.loads(x)["reason"] == "question lost a value"]
    assert lost and all(d["values"] and "WHERE" in d["sql"] for d in lost)  # valueless rewrites of filters are dropped
    assert len(res.pairs) == 32 - sum(res.drops.values()) >= 20
    for p in res.pairs:  # each kept question was written for its own query
        assert p["question"] == wording[p["query"]]
    assert json.loads((tmp_path / "out" / "config.json").read_text())["mode"] == "describe"


def test_describe_mode_resumes_after_a_kill(tmp_path, shop_db):
    out = tmp_path / "out"
    with pytest.raises(FatalLLMError):
        generate_sql(db=shop_db, output=out, llm=FakeLLM([_question_for, _question_for, FatalLLMError("killed")]),
                     mode="describe", calls=6, concurrency=1)
    assert len((out / "journal.jsonl").read_text().splitlines()) == 2
    again = FakeLLM(default=_question_for)
    res = generate_sql(db=shop_db, output=out, llm=again, mode="describe", calls=6, concurrency=1)
    assert len(again.calls) == 4 and res.summary["calls"]["resumed"] == 2
    fresh = generate_sql(db=shop_db, output=tmp_path / "fresh", llm=FakeLLM(default=_question_for), mode="describe",
                         calls=6, concurrency=1)
    assert res.pairs == fresh.pairs  # resumed = made in one go


def test_describe_mode_default_calls_and_bad_mode(tmp_path, shop_db):
    fake = FakeLLM(default=_question_for)
    res = generate_sql(db=shop_db, output=tmp_path / "out", llm=fake, mode="describe", concurrency=4)
    assert len(fake.calls) == 30 and res.summary["calls"]["total"] == 30  # ten per table, three tables
    with pytest.raises(InputError, match="mode"):
        generate_sql(db=shop_db, output=tmp_path / "bad", llm=fake, mode="explain")


def test_cli_describe_mode_with_a_tiny_model(tmp_path, shop_db, tiny_chat_dir):
    out = tmp_path / "gen"
    res = runner.invoke(app, ["generate", "sql", "--db", str(shop_db), "-o", str(out), "--mode", "describe",
                              "--llm", f"local:{tiny_chat_dir}", "--calls", "3", "--max-new-tokens", "12"])
    journal = (out / "journal.jsonl").read_text().splitlines()
    assert len(journal) == 3
    if res.exit_code == 0:  # random tokens rarely make a question; when they do, the pair carries a sampled query
        rows = [json.loads(x) for x in (out / "pairs.jsonl").read_text().splitlines()]
        assert all(r["query"].startswith("SELECT") for r in rows)
    else:
        assert "no usable pair from 3 call(s)" in res.output, res.output
    bad = runner.invoke(app, ["generate", "sql", "--db", str(shop_db), "-o", str(tmp_path / "x"), "--mode", "explain"])
    assert bad.exit_code != 0 and "mode" in bad.output and "Traceback" not in bad.output


def test_nothing_usable_in_describe_mode_is_a_clear_error(tmp_path, shop_db):
    with pytest.raises(NoUsableDataError, match="no usable pair"):
        generate_sql(db=shop_db, output=tmp_path / "out", llm=FakeLLM(default="SELECT 1"), mode="describe", calls=3)
