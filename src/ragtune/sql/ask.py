"""`ask_sql`: one question over a SQLite file: the model's SQL (extracted from its reply) and its result,
run in the sandbox (read-only, time and row limits)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from ragtune.llm import LLM
from ragtune.sql.extract import extract_sql
from ragtune.sql.prompt import to_chat
from ragtune.sql.sandbox import DEFAULT_TIMEOUT_S, SqlResult, SqlSandbox
from ragtune.sql.schema import schema_from_sqlite

__all__ = ["Answer", "ask_sql"]


@dataclass
class Answer:
    """The model's reply, the SQL taken from it and what running it returned."""

    reply: str
    sql: str
    result: SqlResult


def ask_sql(llm: LLM, db: str | Path, question: str, *, rows: int = 0, max_tokens: int = 128,
            timeout_s: float = DEFAULT_TIMEOUT_S) -> Answer:
    """Ask `llm` for SQL that answers `question` over `db` (the training prompt format), then run it."""
    db = Path(db)
    schema = schema_from_sqlite(db)
    messages = to_chat(schema, question, None, rows=rows, db=db)["messages"]
    reply = asyncio.run(llm.complete(messages, max_tokens=max_tokens, temperature=0.0)).text
    sql = extract_sql(reply)
    if not sql:
        return Answer(reply, "", SqlResult(False, error="no SQL in the reply"))
    with SqlSandbox(db, timeout_s=timeout_s) as box:
        return Answer(reply, sql, box.run(sql))
