"""The one text-to-SQL chat format, readers for three kinds of input, and a split by database.

`to_chat(schema, question, sql)` makes one OpenAI chat row (`{"messages": [...]}`, what ragtune's SFT
trainer reads): a system line, a user turn with the schema as compact CREATE TABLE statements
(optionally N sample rows per table) and the question, and, for training, an assistant turn that is
the SQL only. `SYSTEM_PROMPT` and `user_prompt` are the exact texts; evaluation must use the same.

Readers yield `TextToSqlExample(schema, question, sql, db_id, db_path)`:
- `read_spider(tables, questions)`: Spider format (tables.json + a list of {db_id, question, query});
- `read_sql_create_context(rows)`: sql-create-context rows ({question, context, answer}); the
  database id is a hash of the CREATE TABLE text, so rows over the same tables share a database;
- `read_sqlite(path, questions)`: a user's SQLite file (schema and sample rows from the file), with
  optional (question, sql) pairs; without them, one example with the schema only.

`split_by_database(examples, test_share, seed)` puts every database on one side only (seeded,
recorded: seed, share and both database lists), so a test score never rewards memorised schemas.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ragtune.errors import InputError
from ragtune.sql.schema import (
    Schema,
    read_sample_rows,
    read_spider_tables,
    render_schema,
    schema_from_create_statements,
    schema_from_sqlite,
)

SYSTEM_PROMPT = ("You are a careful SQLite expert. Given a database schema and a question, reply with one "
                 "SQLite query that answers the question, and nothing else.")


@dataclass(frozen=True)
class TextToSqlExample:
    """One question over one database; `sql` is the gold query (None when unknown), `db_path` the
    SQLite file the schema came from (None for schemas read from text)."""

    schema: Schema
    question: str | None
    sql: str | None
    db_id: str
    db_path: Path | None = None


@dataclass
class DatabaseSplit:
    """Examples split so that no database is on both sides, and how (for the run record)."""

    seed: int
    test_share: float
    train_dbs: list[str]
    test_dbs: list[str]
    train: list[TextToSqlExample] = field(repr=False)
    test: list[TextToSqlExample] = field(repr=False)

    def record(self) -> dict[str, Any]:
        """What to write next to a run: the seed, the share and both database lists, with counts."""
        return {"seed": self.seed, "test_share": self.test_share, "train_dbs": self.train_dbs,
                "test_dbs": self.test_dbs, "train_examples": len(self.train), "test_examples": len(self.test)}


# ---------------------------------------------------------------------------------------------
# the chat format


def user_prompt(schema: Schema, question: str, sample_rows: Mapping[str, Sequence[Sequence[Any]]] | None = None) -> str:
    """The user turn: the schema (CREATE TABLE lines, sample rows if given), then the question."""
    if not question or not question.strip():
        raise InputError(f"a text-to-SQL prompt needs a question (database '{schema.db_id}' got {question!r}).")
    return f"Database schema:\n{render_schema(schema, sample_rows)}\n\nQuestion: {question.strip()}"


def to_chat(schema: Schema, question: str, sql: str | None = None, rows: int = 0,
            db: str | Path | None = None) -> dict[str, list[dict[str, str]]]:
    """One chat row: system, user (schema + question) and, when `sql` is given, the assistant's SQL.

    With `rows` > 0 each table shows that many sample rows, read from `db` (a SQLite file) or, when
    none is given, from a synthetic fill built without any query's literals (so rows never hint at
    the answer; see `ragtune.sql.build`).
    """
    sample = _sample_rows(schema, rows, db) if rows > 0 else None
    messages = [{"role": "system", "content": SYSTEM_PROMPT},
                {"role": "user", "content": user_prompt(schema, question, sample)}]
    if sql is not None:
        answer = tidy_sql(sql)
        if not answer:
            raise InputError(f"the gold SQL for {question!r} (database '{schema.db_id}') is empty.")
        messages.append({"role": "assistant", "content": answer})
    return {"messages": messages}


def tidy_sql(sql: str) -> str:
    """The gold SQL as the assistant should write it: no trailing `;`, runs of spaces outside quotes
    made one (Spider's golds have `T1.id  =  T2.id`), indentation dropped; line breaks and quoted text kept."""
    text = sql.strip().rstrip(";").rstrip()
    out: list[str] = []
    quote = ""
    for ch in text:
        if quote:
            out.append(ch)
            if ch == quote:
                quote = ""
        elif ch in "'\"`":
            quote = ch
            out.append(ch)
        elif ch in " \t" and out and out[-1] in " \t\n":
            continue
        else:
            out.append(" " if ch == "\t" else ch)
    return "".join(out)


def example_to_chat(example: TextToSqlExample, rows: int = 0) -> dict[str, list[dict[str, str]]]:
    """`to_chat` for a read example (sample rows from its own SQLite file when it has one)."""
    return to_chat(example.schema, example.question or "", example.sql, rows=rows, db=example.db_path)


def _sample_rows(schema: Schema, rows: int, db: str | Path | None) -> dict[str, list[tuple]]:
    if db is None:
        from ragtune.sql.build import build_databases

        db = build_databases(schema, (), fills=1)[0]
    return read_sample_rows(db, schema, rows)


# ---------------------------------------------------------------------------------------------
# readers


def read_spider(tables: str | Path | Mapping[str, Schema], questions: str | Path | Iterable[Mapping[str, Any]]
                ) -> Iterator[TextToSqlExample]:
    """Examples from Spider-format data: `tables` (a tables.json path, or db_id -> Schema) and
    `questions` (a JSON/JSONL path or rows with db_id, question and query)."""
    schemas = read_spider_tables(tables) if isinstance(tables, (str, Path)) else tables
    for where, row in _rows(questions, "Spider questions"):
        db_id, question, sql = _fields(row, where, ("db_id", "question", "query"))
        if db_id not in schemas:
            raise InputError(f"{where}: db_id '{db_id}' is not in the tables file "
                             f"({len(schemas)} schemas, e.g. {', '.join(sorted(schemas)[:5])}).")
        yield TextToSqlExample(schemas[db_id], question, sql, db_id)


def read_sql_create_context(rows: str | Path | Iterable[Mapping[str, Any]]) -> Iterator[TextToSqlExample]:
    """Examples from sql-create-context rows: question, context (CREATE TABLE text), answer (SQL)."""
    cache: dict[str, Schema] = {}
    for where, row in _rows(rows, "sql-create-context rows"):
        question, context, answer = _fields(row, where, ("question", "context", "answer"))
        if context not in cache:
            try:
                cache[context] = schema_from_create_statements(context)
            except InputError as e:
                raise InputError(f"{where}: {e}") from e
        schema = cache[context]
        yield TextToSqlExample(schema, question, answer, schema.db_id)


def read_sqlite(path: str | Path, questions: Iterable[tuple[str, str | None]] = ()) -> Iterator[TextToSqlExample]:
    """Examples over a user's SQLite file: one per (question, sql-or-None) pair, or, with no pairs,
    a single schema-only example (question and sql None)."""
    path = Path(path).expanduser()
    schema = schema_from_sqlite(path)
    pairs = list(questions)
    if not pairs:
        yield TextToSqlExample(schema, None, None, schema.db_id, path)
        return
    for question, sql in pairs:
        yield TextToSqlExample(schema, question, sql, schema.db_id, path)


def _rows(source: str | Path | Iterable[Mapping[str, Any]], what: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(location, row) from a JSON array / JSONL file, or from rows given directly."""
    if isinstance(source, (str, Path)):
        path = Path(source)
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as e:
            raise InputError(f"{path}: {what} must be UTF-8 JSON ({e.reason} at byte {e.start}).") from None
        except OSError as e:
            raise InputError(f"cannot read {what} from {path}: {e}") from e
        if text.lstrip().startswith("["):
            try:
                rows = json.loads(text)
            except json.JSONDecodeError as e:
                raise InputError(f"{path}:{e.lineno}: not a valid JSON array ({e.msg}).") from None
            yield from ((f"{path}[{i}]", r) for i, r in enumerate(rows))
            return
        for n, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                try:
                    yield f"{path}:{n}", json.loads(line)
                except json.JSONDecodeError as e:
                    raise InputError(f"{path}:{n}: not valid JSON ({e.msg}); {what} are one JSON object a line.") from None
        return
    for i, row in enumerate(source):
        yield f"{what}[{i}]", row


def _fields(row: Any, where: str, names: tuple[str, ...]) -> tuple[str, ...]:
    """The named string fields of a row, or InputError naming the row and the missing field."""
    if not isinstance(row, Mapping):
        raise InputError(f"{where}: expected a JSON object, got {type(row).__name__}.")
    out = []
    for name in names:
        value = row.get(name)
        if not isinstance(value, str) or not value.strip():
            raise InputError(f"{where}: field '{name}' is missing or empty (got {value!r}); "
                             f"each row needs {', '.join(names)}.")
        out.append(value)
    return tuple(out)


# ---------------------------------------------------------------------------------------------
# splitting


def split_by_database(examples: Iterable[TextToSqlExample], test_share: float = 0.2, seed: int = 0) -> DatabaseSplit:
    """Seeded split of the databases (not the examples): round(share x databases) of them, at least
    one, go to the test side with all their examples."""
    examples = list(examples)
    if not 0 < test_share < 1:
        raise InputError(f"split_by_database: test_share must be between 0 and 1 (got {test_share}).")
    dbs = sorted({e.db_id for e in examples})
    if len(dbs) < 2:
        raise InputError(f"split_by_database: need examples over at least 2 databases to split by database "
                         f"(got {len(dbs)}: {dbs}).")
    order = list(dbs)
    random.Random(seed).shuffle(order)
    n_test = min(len(dbs) - 1, max(1, round(len(dbs) * test_share)))
    test_dbs = sorted(order[:n_test])
    test_set = set(test_dbs)
    return DatabaseSplit(seed, test_share, [d for d in dbs if d not in test_set], test_dbs,
                         [e for e in examples if e.db_id not in test_set], [e for e in examples if e.db_id in test_set])
