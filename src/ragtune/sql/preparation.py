"""`prepare_sql_data`: Spider, sql-create-context or generated pairs -> chat JSONL for `train sft`, split by database.

Inputs (one reader, `read_sql_data`):
- `spider-dev` (the registry asset) or a Spider-format JSON/JSONL list of {db_id, question, query}
  with a tables.json (`tables`, default Spider's own);
- generated pairs (`ragtune generate sql` writes OUT/pairs.jsonl): Spider-format rows with a `db_path`
  (the user's SQLite file), whose schema is read from that file; a folder holding pairs.jsonl works too;
- sql-create-context rows {question, context (CREATE TABLE text), answer}.

Output folder: train.jsonl and test.jsonl (chat rows in the one prompt format, `ragtune.sql.prompt.to_chat`),
test.json (the held-out questions in Spider format, with `db_path` where known, for `eval sql`),
split.json (seed, share, both database lists: no database is on both sides) and summary.json.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ragtune.errors import InputError
from ragtune.io import atomic_write_json, atomic_write_jsonl
from ragtune.sql.prompt import (
    TextToSqlExample,
    _rows,
    example_to_chat,
    read_spider,
    read_sql_create_context,
    split_by_database,
)
from ragtune.sql.schema import schema_from_sqlite

__all__ = ["read_sql_data", "prepare_sql_data", "spider_rows"]

FORMATS = ("auto", "spider", "create-context")


def _first_row(path: Path) -> dict[str, Any]:
    for _, row in _rows(path, "text-to-SQL rows"):
        if not isinstance(row, dict):
            raise InputError(f"{path}: rows must be JSON objects (got {type(row).__name__}).")
        return row
    raise InputError(f"{path}: no rows.")


def read_sql_data(data: str | Path, *, input_format: str = "auto", tables: str | Path | None = None
                  ) -> tuple[list[TextToSqlExample], str]:
    """The examples of `data` (see the module docstring) and the data's name."""
    if input_format not in FORMATS:
        raise InputError(f"--format must be one of {', '.join(FORMATS)}; got {input_format!r}.")
    if str(data) == "spider-dev":
        from ragtune.assets import asset_path

        folder = asset_path("spider-dev")
        return list(read_spider(Path(tables) if tables else folder / "tables.json", folder / "dev.json")), "spider-dev"
    path = Path(data)
    if path.is_dir() and (path / "pairs.jsonl").is_file():
        path = path / "pairs.jsonl"
    if not path.is_file():
        raise InputError(f"{data}: no such file (give 'spider-dev', a Spider-format JSON list, generated pairs "
                         "(pairs.jsonl or its folder) or sql-create-context rows).")
    first = _first_row(path)
    fmt = input_format
    if fmt == "auto":
        fmt = "create-context" if "context" in first and "answer" in first else "spider"
    if fmt == "create-context":
        return list(read_sql_create_context(path)), path.stem
    if "db_path" in first:
        return _read_pairs(path), path.stem
    if tables is None:
        from ragtune.assets import asset_path, get_asset

        if not get_asset("spider-dev").installed():
            raise InputError(f"{data}: give --tables FILE (a Spider tables.json with this data's schemas).")
        tables = asset_path("spider-dev") / "tables.json"
    return list(read_spider(Path(tables), path)), path.stem


def _read_pairs(path: Path) -> list[TextToSqlExample]:
    """Rows with db_id, question, query and db_path (a SQLite file, relative to the rows' file or absolute)."""
    from ragtune.sql.prompt import _fields

    schemas: dict[Path, Any] = {}
    out = []
    for where, row in _rows(path, "generated pairs"):
        _, question, sql, db_path = _fields(row, where, ("db_id", "question", "query", "db_path"))
        db = Path(db_path) if Path(db_path).is_absolute() else path.parent / db_path
        if db not in schemas:
            if not db.is_file():
                raise InputError(f"{where}: db_path {db_path!r} is not a file.")
            schemas[db] = schema_from_sqlite(db, row["db_id"])
        out.append(TextToSqlExample(schemas[db], question, sql, row["db_id"], db))
    return out


def spider_rows(examples: list[TextToSqlExample]) -> list[dict[str, Any]]:
    """Spider-format rows ({db_id, question, query}, plus db_path where the example has a file)."""
    return [{"db_id": e.db_id, "question": e.question, "query": e.sql,
             **({"db_path": str(e.db_path.resolve())} if e.db_path else {})} for e in examples]


def prepare_sql_data(data: str | Path, output: str | Path, *, input_format: str = "auto", tables: str | Path | None = None,
                     test_share: float = 0.2, seed: int = 0, rows: int = 0) -> dict[str, Any]:
    """Write the chat files and the split record (see the module docstring); returns the summary."""
    examples, name = read_sql_data(data, input_format=input_format, tables=tables)
    if not examples:
        raise InputError(f"{data}: no examples.")
    if test_share > 0:
        split = split_by_database(examples, test_share, seed)
        train, test, record = split.train, split.test, split.record()
    else:
        train, test = examples, []
        record = {"seed": seed, "test_share": 0.0, "train_dbs": sorted({e.db_id for e in examples}), "test_dbs": [],
                  "train_examples": len(train), "test_examples": 0}
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_jsonl(out / "train.jsonl", [example_to_chat(e, rows) for e in train])
    atomic_write_jsonl(out / "test.jsonl", [example_to_chat(e, rows) for e in test])
    atomic_write_json(out / "test.json", spider_rows(test))
    atomic_write_json(out / "train.json", spider_rows(train))
    record = {**record, "data": str(data), "format": input_format, "rows": rows}
    atomic_write_json(out / "split.json", record)
    atomic_write_json(out / "summary.json", {**record, "name": name})
    return record


def load_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))
