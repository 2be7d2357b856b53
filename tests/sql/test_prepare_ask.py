"""`ragtune sql prepare` (Spider, sql-create-context, generated pairs -> chat JSONL split by database) and `sql ask`."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from ragtune.cli.main import app
from ragtune.data.chat import load_chat
from ragtune.sql.prompt import SYSTEM_PROMPT
from sql_helpers import spider_subset

runner = CliRunner()


def _lines(path):
    return [json.loads(x) for x in path.read_text().splitlines()]


def test_prepare_spider_splits_by_database_and_records_the_split(spider_dir, tmp_path):
    path, rows = spider_subset(spider_dir, tmp_path, n=5, dbs=("concert_singer", "pets_1", "car_1", "flight_2"))
    out = tmp_path / "data"
    res = runner.invoke(app, ["sql", "prepare", str(path), "-o", str(out), "--test-share", "0.5", "--seed", "3"])
    assert res.exit_code == 0, res.output
    split = json.loads((out / "split.json").read_text())
    assert split["seed"] == 3 and len(split["test_dbs"]) == 2 and not set(split["test_dbs"]) & set(split["train_dbs"])
    train, test = _lines(out / "train.jsonl"), _lines(out / "test.jsonl")
    assert len(train) == len(test) == 10
    msg = train[0]["messages"]
    assert [m["role"] for m in msg] == ["system", "user", "assistant"] and msg[0]["content"] == SYSTEM_PROMPT
    assert "CREATE TABLE" in msg[1]["content"] and "Question: " in msg[1]["content"]
    held = json.loads((out / "test.json").read_text())
    assert {r["db_id"] for r in held} == set(split["test_dbs"])
    assert len(load_chat(out / "train.jsonl")) == 10  # what `train sft` reads, unchanged
    again = tmp_path / "again"
    runner.invoke(app, ["sql", "prepare", str(path), "-o", str(again), "--test-share", "0.5", "--seed", "3"])
    assert (again / "train.jsonl").read_text() == (out / "train.jsonl").read_text()  # seeded


def test_prepare_sql_create_context_and_generated_pairs(tmp_path, shop_db):
    cc = tmp_path / "cc.jsonl"
    cc.write_text("".join(json.dumps({"question": f"How many heads in dept {i}?", "context": ctx,
                                      "answer": "SELECT COUNT(*) FROM head"}) + "\n"
                          for i, ctx in enumerate(["CREATE TABLE head (age INTEGER)", "CREATE TABLE head (name VARCHAR)",
                                                   "CREATE TABLE head (age INTEGER)"])))
    res = runner.invoke(app, ["sql", "prepare", str(cc), "-o", str(tmp_path / "a"), "--test-share", "0.5"])
    assert res.exit_code == 0, res.output
    split = json.loads((tmp_path / "a" / "split.json").read_text())
    assert len(split["train_dbs"]) == 1 and len(split["test_dbs"]) == 1
    assert split["train_examples"] + split["test_examples"] == 3
    gen = tmp_path / "gen"
    gen.mkdir()
    (gen / "pairs.jsonl").write_text(json.dumps({"db_id": "shop", "question": "Shop names?", "query": "SELECT name FROM shop",
                                                  "db_path": str(shop_db)}) + "\n")
    res = runner.invoke(app, ["sql", "prepare", str(gen), "-o", str(tmp_path / "b"), "--test-share", "0", "--rows", "2"])
    assert res.exit_code == 0, res.output
    (row,) = _lines(tmp_path / "b" / "train.jsonl")
    assert "CREATE TABLE shop" in row["messages"][1]["content"] and row["messages"][2]["content"] == "SELECT name FROM shop"


def test_sql_ask_prints_the_sql_and_the_result_table(tmp_path, shop_db, tiny_chat_dir):
    from ragtune.llm import FakeLLM
    from ragtune.sql.ask import ask_sql

    answer = ask_sql(FakeLLM(["```sql\nSELECT name, rating FROM shop ORDER BY rating DESC LIMIT 2\n```"]), shop_db, "Best shops?")
    assert answer.result.ok and answer.result.columns == ["name", "rating"] and len(answer.result.rows) == 2
    hostile = ask_sql(FakeLLM(["DROP TABLE shop"]), shop_db, "Delete it")
    assert not hostile.result.ok
    res = runner.invoke(app, ["sql", "ask", "Which shops are there?", "--db", str(shop_db), "-m", str(tiny_chat_dir),
                              "--max-new-tokens", "8"])
    assert "SQL: " in res.output and "Traceback" not in res.output, res.output  # a random tiny model: SQL or none, never a traceback
    assert res.exit_code in (0, 3)
