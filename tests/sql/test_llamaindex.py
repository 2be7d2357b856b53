"""A ragtune model as a LlamaIndex LLM in NLSQLTableQueryEngine over the same SQLite file."""

from __future__ import annotations

import hashlib

import pytest

pytest.importorskip("llama_index.core")
sqlalchemy = pytest.importorskip("sqlalchemy")


def _engine(db, llm):
    from llama_index.core import MockEmbedding, SQLDatabase
    from llama_index.core.query_engine import NLSQLTableQueryEngine

    from ragtune.integrations.llamaindex import RagtuneLLM, text_to_sql_prompt
    from ragtune.sql import SYSTEM_PROMPT

    database = SQLDatabase(sqlalchemy.create_engine(f"sqlite:///file:{db}?mode=ro&uri=true"))
    return NLSQLTableQueryEngine(database, tables=["shop"], llm=RagtuneLLM(llm, max_tokens=16),
                                 text_to_sql_prompt=text_to_sql_prompt(SYSTEM_PROMPT), synthesize_response=False,
                                 embed_model=MockEmbedding(embed_dim=8))  # no table retrieval: tables are given


def test_nl_sql_engine_runs_the_sql_a_ragtune_llm_writes(shop_db):
    from ragtune.llm import FakeLLM
    from ragtune.sql.sandbox import run_sql

    fake = FakeLLM(["```sql\nSELECT count(*) FROM shop\n```"])
    before = hashlib.sha256(shop_db.read_bytes()).hexdigest()
    response = _engine(shop_db, fake).query("How many shops are there?")
    assert response.metadata["sql_query"] == "SELECT count(*) FROM shop"
    expected = run_sql(shop_db, "SELECT count(*) FROM shop").rows[0][0]
    assert str(expected) in str(response)
    prompt = fake.calls[0][0]["content"]
    assert prompt.startswith("You are a careful SQLite expert") and "Question: How many shops are there?" in prompt
    assert hashlib.sha256(shop_db.read_bytes()).hexdigest() == before


def test_a_tiny_local_model_drives_the_engine(shop_db, tiny_chat_dir):
    from ragtune.integrations.llamaindex import RagtuneLLM

    llm = RagtuneLLM(str(tiny_chat_dir), max_tokens=8)
    assert llm.complete("Say hi").text is not None and llm.metadata.model_name == str(tiny_chat_dir)
    try:
        _engine(shop_db, str(tiny_chat_dir)).query("How many shops?")
    except Exception as e:  # random weights write no valid SQL: LlamaIndex reports the SQL error, not ragtune
        assert "sql" in type(e).__name__.lower() or "syntax" in str(e).lower() or "error" in str(e).lower()
