"""The text-to-SQL chat format, the three readers and the split by database."""

from __future__ import annotations

import json
import sqlite3

import pytest

from ragtune.errors import InputError
from ragtune.sql.prompt import (
    SYSTEM_PROMPT,
    TextToSqlExample,
    example_to_chat,
    read_spider,
    read_sql_create_context,
    read_sqlite,
    split_by_database,
    tidy_sql,
    to_chat,
)
from ragtune.sql.schema import render_schema


def test_chat_row_has_system_schema_question_and_sql_only(shop_schema):
    row = to_chat(shop_schema, "  Which shops are in France? ", "SELECT name  FROM shop WHERE country_code = 'FR';")
    assert [m["role"] for m in row["messages"]] == ["system", "user", "assistant"]
    assert row["messages"][0]["content"] == SYSTEM_PROMPT
    user = row["messages"][1]["content"]
    assert user == f"Database schema:\n{render_schema(shop_schema)}\n\nQuestion: Which shops are in France?"
    assert row["messages"][2]["content"] == "SELECT name FROM shop WHERE country_code = 'FR'"
    assert [m["role"] for m in to_chat(shop_schema, "Q?")["messages"]] == ["system", "user"]  # for inference
    json.dumps(row)  # a JSONL row as is


def test_chat_row_errors(shop_schema):
    with pytest.raises(InputError, match="needs a question"):
        to_chat(shop_schema, "  ")
    with pytest.raises(InputError, match="empty"):
        to_chat(shop_schema, "Q?", " ; ")


def test_tidy_sql_keeps_quoted_text():
    assert tidy_sql("SELECT a  ,  b FROM t WHERE x  =  'a  b' ;") == "SELECT a , b FROM t WHERE x = 'a  b'"
    assert tidy_sql("SELECT a\n    FROM t") == "SELECT a\nFROM t"


def test_sample_rows_from_a_file_or_a_fresh_synthetic_fill(tmp_path, shop_schema, monkeypatch):
    db = tmp_path / "shop.sqlite"
    conn = sqlite3.connect(db)
    conn.executescript(render_schema(shop_schema))
    conn.executemany("INSERT INTO country VALUES (?, ?, ?)", [("FR", "France", 68), ("SE", "Sweden", 10)])
    conn.commit()
    conn.close()
    user = to_chat(shop_schema, "Q?", rows=1, db=db)["messages"][1]["content"]
    assert "/* 1 example row from country:\ncode\tname\tpopulation\nFR\tFrance\t68 */" in user
    monkeypatch.setenv("RAGTUNE_HOME", str(tmp_path / "home"))
    synthetic = to_chat(shop_schema, "Q?", "SELECT name FROM country WHERE name = 'Atlantis'", rows=2)
    text = synthetic["messages"][1]["content"]
    assert text.count("example rows from") == 3 and "Atlantis" not in text  # no gold literal leaks into rows
    assert list((tmp_path / "home" / "sql").glob("*/shop/fill0.sqlite"))


def test_read_spider_dev(spider_dir):
    examples = list(read_spider(spider_dir / "tables.json", spider_dir / "dev.json"))
    assert len(examples) == 1034 and len({e.db_id for e in examples}) == 20
    first = examples[0]
    assert (first.db_id, first.question, first.sql) == ("concert_singer", "How many singers do we have?",
                                                       "SELECT count(*) FROM singer")
    assert first.schema.table("singer") is not None and first.db_path is None


def test_read_spider_errors_name_the_row(spider_schemas):
    with pytest.raises(InputError, match=r"Spider questions\[1\]: db_id 'nope' is not in the tables file"):
        list(read_spider(spider_schemas, [{"db_id": "pets_1", "question": "q", "query": "SELECT 1"},
                                          {"db_id": "nope", "question": "q", "query": "SELECT 1"}]))
    with pytest.raises(InputError, match="field 'query' is missing"):
        list(read_spider(spider_schemas, [{"db_id": "pets_1", "question": "q"}]))


def test_read_sql_create_context_from_jsonl(tmp_path):
    ctx = "CREATE TABLE head (age INTEGER, name VARCHAR)"
    rows = [{"question": "How many heads are older than 56?", "context": ctx, "answer": "SELECT COUNT(*) FROM head WHERE age > 56"},
            {"question": "Names?", "context": ctx, "answer": "SELECT name FROM head"},
            {"question": "Other?", "context": "CREATE TABLE x (a INT)", "answer": "SELECT a FROM x"}]
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    examples = list(read_sql_create_context(path))
    assert [e.question for e in examples] == [r["question"] for r in rows]
    assert examples[0].db_id == examples[1].db_id != examples[2].db_id  # same tables, same database
    assert examples[0].schema.table("head").column("age").kind == "number"
    path.write_text('{"question": "q", "context": "CREATE TABLE (", "answer": "SELECT 1"}\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"rows.jsonl:1: .*cannot parse"):
        list(read_sql_create_context(path))
    path.write_text("{not json\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"rows.jsonl:1: not valid JSON"):
        list(read_sql_create_context(path))


def test_read_sqlite_schema_only_or_with_questions(tmp_path, shop_schema):
    db = tmp_path / "my shop.db"
    conn = sqlite3.connect(db)
    conn.executescript(render_schema(shop_schema))
    conn.close()
    (only,) = read_sqlite(db)
    assert (only.question, only.sql, only.db_id, only.db_path) == (None, None, "my shop", db)
    assert [t.name for t in only.schema.tables] == ["country", "shop", "sale"]
    asked = list(read_sqlite(db, [("How many shops?", "SELECT count(*) FROM shop"), ("Names?", None)]))
    assert [(e.question, e.sql) for e in asked] == [("How many shops?", "SELECT count(*) FROM shop"), ("Names?", None)]
    row = example_to_chat(asked[0], rows=1)
    assert "0 example" not in row["messages"][1]["content"]  # empty tables show no rows block
    assert row["messages"][-1]["content"] == "SELECT count(*) FROM shop"


def _examples(n_dbs: int, per_db: int = 3) -> list[TextToSqlExample]:
    from ragtune.sql.schema import Schema

    return [TextToSqlExample(Schema(f"db{d}"), f"q{d}-{i}", "SELECT 1", f"db{d}") for d in range(n_dbs) for i in range(per_db)]


def test_split_by_database_is_disjoint_seeded_and_recorded():
    examples = _examples(10)
    split = split_by_database(examples, test_share=0.3, seed=1)
    assert len(split.test_dbs) == 3 and len(split.train_dbs) == 7
    assert not set(split.train_dbs) & set(split.test_dbs)
    assert {e.db_id for e in split.test} == set(split.test_dbs) and {e.db_id for e in split.train} == set(split.train_dbs)
    assert len(split.train) + len(split.test) == len(examples)
    again = split_by_database(examples, test_share=0.3, seed=1)
    assert again.test_dbs == split.test_dbs
    assert any(split_by_database(examples, 0.3, seed=s).test_dbs != split.test_dbs for s in range(2, 6))
    record = split.record()
    assert record == {"seed": 1, "test_share": 0.3, "train_dbs": split.train_dbs, "test_dbs": split.test_dbs,
                      "train_examples": 21, "test_examples": 9}
    json.dumps(record)


def test_split_needs_two_databases_and_a_share():
    with pytest.raises(InputError, match="at least 2 databases"):
        split_by_database(_examples(1))
    with pytest.raises(InputError, match="between 0 and 1"):
        split_by_database(_examples(3), test_share=1.0)
    assert len(split_by_database(_examples(2), test_share=0.01).test_dbs) == 1  # at least one database each side


def test_spider_dev_split_by_database(spider_dir):
    split = split_by_database(read_spider(spider_dir / "tables.json", spider_dir / "dev.json"), 0.25, seed=0)
    assert len(split.test_dbs) == 5 and len(split.train_dbs) == 15
    assert {e.db_id for e in split.train}.isdisjoint(e.db_id for e in split.test)
