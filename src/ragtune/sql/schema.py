"""Database schemas for text-to-SQL: one typed `Schema`, three readers, one renderer.

Readers: a Spider `tables.json` entry (`schema_from_spider`, `read_spider_tables`), CREATE TABLE
statements such as sql-create-context's `context` field (`schema_from_create_statements`, parsed with
sqlglot's sqlite dialect), and a user's SQLite file (`schema_from_sqlite`, opened read-only, read with
`PRAGMA table_info` / `foreign_key_list` / `index_list`).

`render_schema` writes the schema as compact CREATE TABLE statements, one line per table: the text
prompts show, and the DDL `ragtune.sql.build` executes, so a prompt and the databases it is scored on
never disagree. `read_sample_rows` takes N rows per table from a database; `render_schema` can show
them under each table as a small table inside a SQL comment (Rajkumar et al. 2022's
"CREATE TABLE + SELECT * LIMIT N" prompt).
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import sqlglot
from sqlglot import exp

from ragtune.errors import InputError

KINDS = ("text", "number", "time", "boolean", "others")
"""The value kinds of Spider's `column_types`; every column has one (it drives synthetic values)."""

_SPIDER_SQL_TYPES = {"text": "TEXT", "number": "NUMERIC", "time": "DATETIME", "boolean": "BOOLEAN", "others": "TEXT"}

# SQLite's keywords (https://www.sqlite.org/lang_keywords.html): a name equal to one is quoted.
_SQLITE_KEYWORDS = frozenset(
    """ABORT ACTION ADD AFTER ALL ALTER ALWAYS ANALYZE AND AS ASC ATTACH AUTOINCREMENT BEFORE BEGIN
    BETWEEN BY CASCADE CASE CAST CHECK COLLATE COLUMN COMMIT CONFLICT CONSTRAINT CREATE CROSS CURRENT
    CURRENT_DATE CURRENT_TIME CURRENT_TIMESTAMP DATABASE DEFAULT DEFERRABLE DEFERRED DELETE DESC DETACH
    DISTINCT DO DROP EACH ELSE END ESCAPE EXCEPT EXCLUDE EXCLUSIVE EXISTS EXPLAIN FAIL FILTER FIRST
    FOLLOWING FOR FOREIGN FROM FULL GENERATED GLOB GROUP GROUPS HAVING IF IGNORE IMMEDIATE IN INDEX
    INDEXED INITIALLY INNER INSERT INSTEAD INTERSECT INTO IS ISNULL JOIN KEY LAST LEFT LIKE LIMIT MATCH
    MATERIALIZED NATURAL NO NOT NOTHING NOTNULL NULL NULLS OF OFFSET ON OR ORDER OTHERS OUTER OVER
    PARTITION PLAN PRAGMA PRECEDING PRIMARY QUERY RAISE RANGE RECURSIVE REFERENCES REGEXP REINDEX
    RELEASE RENAME REPLACE RESTRICT RETURNING RIGHT ROLLBACK ROW ROWS SAVEPOINT SELECT SET TABLE TEMP
    TEMPORARY THEN TIES TO TRANSACTION TRIGGER UNBOUNDED UNION UNIQUE UPDATE USING VACUUM VALUES VIEW
    VIRTUAL WHEN WHERE WINDOW WITH WITHOUT""".split()
)
_PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


@dataclass(frozen=True)
class ForeignKey:
    """`column` of this table refers to `ref_table.ref_column`."""

    column: str
    ref_table: str
    ref_column: str


@dataclass(frozen=True)
class Column:
    """One column: its name, declared SQL type, value kind (one of `KINDS`) and key flags."""

    name: str
    type: str = ""
    kind: str = "text"
    primary_key: bool = False
    unique: bool = False


@dataclass(frozen=True)
class Table:
    """One table: columns in declaration order and its foreign keys."""

    name: str
    columns: tuple[Column, ...]
    foreign_keys: tuple[ForeignKey, ...] = ()

    def column(self, name: str) -> Column | None:
        """The column called `name` (case-insensitive, as SQLite resolves names), or None."""
        key = name.lower()
        return next((c for c in self.columns if c.name.lower() == key), None)

    @property
    def primary_key(self) -> tuple[str, ...]:
        """Names of the primary-key columns (several for a composite key, none when there is none)."""
        return tuple(c.name for c in self.columns if c.primary_key)


@dataclass(frozen=True)
class Schema:
    """A database's tables; `db_id` names it (Spider's db_id, a file stem, or a content hash)."""

    db_id: str
    tables: tuple[Table, ...] = field(default_factory=tuple)

    def table(self, name: str) -> Table | None:
        """The table called `name` (case-insensitive), or None."""
        key = name.lower()
        return next((t for t in self.tables if t.name.lower() == key), None)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (the inverse of `Schema.from_dict`)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Schema:
        """Rebuild a schema written by `to_dict`."""
        tables = tuple(
            Table(
                t["name"],
                tuple(Column(**c) for c in t["columns"]),
                tuple(ForeignKey(**f) for f in t.get("foreign_keys", ())),
            )
            for t in data["tables"]
        )
        return cls(data["db_id"], tables)

    def fingerprint(self) -> str:
        """sha256 of the schema's canonical JSON: equal schemas, equal fingerprints."""
        text = json.dumps(self.to_dict(), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()


def kind_of_type(sql_type: str) -> str:
    """The value kind of a declared SQL type: number, time, boolean, text or others (no/unknown type)."""
    t = sql_type.upper()
    if "BOOL" in t:
        return "boolean"
    if "DATE" in t or "TIME" in t:
        return "time"
    if any(k in t for k in ("CHAR", "CLOB", "TEXT", "STRING")):
        return "text"
    if any(k in t for k in ("INT", "NUM", "DEC", "REAL", "FLOA", "DOUB", "NUMBER", "BIT", "YEAR", "MONEY")):
        return "number"
    return "others"


# ---------------------------------------------------------------------------------------------
# reader 1: Spider tables.json


def schema_from_spider(entry: Mapping[str, Any]) -> Schema:
    """A Schema from one Spider `tables.json` entry (original names; Spider's types become SQL types).

    Spider types map to TEXT, NUMERIC, DATETIME, BOOLEAN and TEXT (for `others`); the kind is kept.
    """
    where = f"Spider schema '{entry.get('db_id', '?')}'"
    try:
        db_id = entry["db_id"]
        table_names = entry["table_names_original"]
        columns = entry["column_names_original"]
        types = entry["column_types"]
        primary = set(_flatten(entry.get("primary_keys", [])))
        foreign = entry.get("foreign_keys", [])
    except (KeyError, TypeError) as e:
        raise InputError(f"{where}: missing field {e}; a tables.json entry needs db_id, "
                         "table_names_original, column_names_original and column_types") from e
    try:
        by_table, fks = _spider_columns(table_names, columns, types, primary, foreign)
    except (IndexError, TypeError, ValueError) as e:
        raise InputError(f"{where}: column, type or key lists do not fit together ({e}); "
                         "check column_names_original, column_types, primary_keys and foreign_keys") from e
    tables = tuple(Table(n, tuple(cols), tuple(dict.fromkeys(fk))) for n, cols, fk in zip(table_names, by_table, fks)
                   if not n.lower().startswith("sqlite_"))  # SQLite's own tables (sqlite_sequence) are not user tables
    return Schema(db_id, tables)


def _spider_columns(table_names, columns, types, primary, foreign) -> tuple[list[list[Column]], list[list[ForeignKey]]]:
    """Columns and foreign keys per table index from Spider's parallel lists (column 0 is "*")."""
    by_table: list[list[Column]] = [[] for _ in table_names]
    for i, (table_idx, name) in enumerate(columns):
        if table_idx < 0:
            continue
        kind = types[i] if types[i] in KINDS else "others"
        by_table[table_idx].append(Column(name, _SPIDER_SQL_TYPES[kind], kind, i in primary))
    fks: list[list[ForeignKey]] = [[] for _ in table_names]
    for child, parent in foreign:
        child_table, child_name = columns[child]
        parent_table, parent_name = columns[parent]
        fks[child_table].append(ForeignKey(child_name, table_names[parent_table], parent_name))
    return by_table, fks


def read_spider_tables(path: str | Path) -> dict[str, Schema]:
    """All schemas of a Spider `tables.json`, by db_id."""
    path = Path(path)
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InputError(f"cannot read Spider tables file {path}: {e}. Give the path of a tables.json.") from e
    if not isinstance(entries, list):
        raise InputError(f"{path}: expected a JSON list of schemas (Spider tables.json), got {type(entries).__name__}")
    return {s.db_id: s for s in map(schema_from_spider, entries)}


def _flatten(keys: Sequence[Any]) -> list[int]:
    """Spider lists primary keys as ints, newer releases also as lists of ints (composite keys)."""
    out: list[int] = []
    for k in keys:
        out.extend(k if isinstance(k, list) else [k])
    return out


# ---------------------------------------------------------------------------------------------
# reader 2: CREATE TABLE statements


def schema_from_create_statements(ddl: str, db_id: str | None = None) -> Schema:
    """A Schema from CREATE TABLE statements (e.g. sql-create-context's `context`), sqlite dialect.

    Statements may be separated by `;` or just follow each other. Other statements are ignored.
    `db_id` defaults to `ddl-` + the first 12 hex digits of the DDL's sha256 (same DDL, same id).
    """
    db_id = db_id or "ddl-" + hashlib.sha256(ddl.strip().encode("utf-8")).hexdigest()[:12]
    statements = [s for s in re.split(r";|(?=\bCREATE\s+TABLE\b)", ddl, flags=re.IGNORECASE) if s.strip()]
    tables = []
    for text in statements:
        try:
            parsed = sqlglot.parse_one(text, read="sqlite")
        except sqlglot.errors.ParseError as e:
            raise InputError(f"schema '{db_id}': cannot parse {text.strip()[:120]!r}: {str(e).splitlines()[0]}. "
                             "Give CREATE TABLE statements in SQLite syntax.") from e
        if isinstance(parsed, exp.Create) and parsed.kind == "TABLE" and isinstance(parsed.this, exp.Schema):
            tables.append(_table_from_create(parsed.this))
    if not tables:
        raise InputError(f"schema '{db_id}': no CREATE TABLE statement found in {ddl.strip()[:120]!r}")
    return Schema(db_id, tuple(tables))


def _table_from_create(node: exp.Schema) -> Table:
    """One Table from a parsed `CREATE TABLE name (...)` body."""
    name = node.this.name
    defs = [d for d in node.expressions if isinstance(d, exp.ColumnDef)]
    primary = {d.name.lower() for d in defs if d.find(exp.PrimaryKeyColumnConstraint)}
    unique = {d.name.lower() for d in defs if d.find(exp.UniqueColumnConstraint)}
    fks: list[ForeignKey] = []
    for d in defs:
        ref = d.find(exp.Reference)
        if ref is not None:
            fks.extend(_references([d.name], ref))
    for item in node.expressions:
        if isinstance(item, exp.PrimaryKey):
            primary |= {i.name.lower() for i in item.expressions}
        elif isinstance(item, exp.UniqueColumnConstraint) and isinstance(item.this, exp.Schema):
            names = [i.name.lower() for i in item.this.expressions]
            if len(names) == 1:
                unique |= set(names)
        elif isinstance(item, exp.ForeignKey):
            fks.extend(_references([i.name for i in item.expressions], item.args["reference"]))
    columns = []
    for d in defs:
        kind_node = d.args.get("kind")
        sql_type = kind_node.sql() if kind_node is not None else ""  # generic dialect keeps VARCHAR(40) as written
        key = d.name.lower()
        columns.append(Column(d.name, sql_type, kind_of_type(sql_type), key in primary, key in unique))
    return Table(name, tuple(columns), tuple(fks))


def _references(columns: list[str], ref: exp.Reference) -> list[ForeignKey]:
    """ForeignKeys for `columns REFERENCES table (ref columns)`; no ref columns means the same names."""
    target = ref.this
    table = target.this.name if isinstance(target, exp.Schema) else target.name
    ref_cols = [i.name for i in target.expressions] if isinstance(target, exp.Schema) else []
    ref_cols = ref_cols or list(columns)
    return [ForeignKey(c, table, r) for c, r in zip(columns, ref_cols)]


# ---------------------------------------------------------------------------------------------
# reader 3: a SQLite file


def connect_read_only(path: str | Path) -> sqlite3.Connection:
    """A read-only connection to an existing SQLite file (`file:...?mode=ro`); InputError if it cannot open."""
    path = Path(path).expanduser().resolve()
    if not path.is_file():
        raise InputError(f"SQLite database {path} does not exist or is not a file; give the path of a .sqlite/.db file.")
    try:
        conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, check_same_thread=False)
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.DatabaseError as e:
        raise InputError(f"{path} is not a readable SQLite database ({e}).") from e
    conn.text_factory = lambda b: b.decode(errors="ignore")
    return conn


def schema_from_sqlite(path: str | Path, db_id: str | None = None) -> Schema:
    """The Schema of a SQLite file, read without writing to it; `db_id` defaults to the file stem."""
    conn = connect_read_only(path)
    try:
        names = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY rowid")]
        tables = tuple(_table_from_sqlite(conn, n) for n in names)
    finally:
        conn.close()
    return Schema(db_id or Path(path).stem, tables)


def _table_from_sqlite(conn: sqlite3.Connection, name: str) -> Table:
    """One Table from PRAGMA table_info, index_list (single-column UNIQUE) and foreign_key_list."""
    info = conn.execute("SELECT name, type, pk FROM pragma_table_info(?)", (name,)).fetchall()
    unique: set[str] = set()
    for idx_name, is_unique in conn.execute('SELECT name, "unique" FROM pragma_index_list(?)', (name,)):
        cols = [r[0] for r in conn.execute("SELECT name FROM pragma_index_info(?)", (idx_name,))]
        if is_unique and len(cols) == 1 and cols[0] is not None:
            unique.add(cols[0].lower())
    by_lower = {col_name.lower(): col_name for col_name, _, _ in info}
    fks = []
    # SQLite numbers foreign keys last-declared first: ids descending give the declaration order
    for _, _, ref_table, from_col, to_col in conn.execute(
        'SELECT id, seq, "table", "from", "to" FROM pragma_foreign_key_list(?) ORDER BY id DESC, seq', (name,)
    ):
        fks.append(ForeignKey(by_lower.get(from_col.lower(), from_col), ref_table, to_col or from_col))
    columns = tuple(
        Column(col_name, col_type or "", kind_of_type(col_type or ""), pk > 0, col_name.lower() in unique)
        for col_name, col_type, pk in info
    )
    return Table(name, columns, tuple(fks))


# ---------------------------------------------------------------------------------------------
# rendering


def quote_name(name: str) -> str:
    """`name` as a SQLite identifier: bare when plain and not a keyword, else double-quoted."""
    if _PLAIN_NAME.match(name) and name.upper() not in _SQLITE_KEYWORDS:
        return name
    return '"' + name.replace('"', '""') + '"'


def create_table_sql(table: Table) -> str:
    """One compact CREATE TABLE statement (one line) with primary and foreign keys."""
    pk = table.primary_key
    parts = []
    for c in table.columns:
        text = f"{quote_name(c.name)} {c.type}".rstrip()
        if len(pk) == 1 and c.name == pk[0]:
            text += " PRIMARY KEY"
        elif c.unique:
            text += " UNIQUE"
        parts.append(text)
    if len(pk) > 1:
        parts.append(f"PRIMARY KEY ({', '.join(map(quote_name, pk))})")
    for fk in table.foreign_keys:
        parts.append(f"FOREIGN KEY ({quote_name(fk.column)}) REFERENCES {quote_name(fk.ref_table)}"
                     f"({quote_name(fk.ref_column)})")
    return f"CREATE TABLE {quote_name(table.name)} ({', '.join(parts)});"


def render_schema(schema: Schema, sample_rows: Mapping[str, Sequence[Sequence[Any]]] | None = None) -> str:
    """The schema as CREATE TABLE statements, one line each; with `sample_rows` (table -> rows, as from
    `read_sample_rows`), each table is followed by a comment showing those rows as a small table."""
    blocks = []
    for table in schema.tables:
        text = create_table_sql(table)
        rows = (sample_rows or {}).get(table.name)
        if rows:
            text += "\n" + _rows_comment(table, rows)
        blocks.append(text)
    return "\n".join(blocks)


def read_sample_rows(db_path: str | Path, schema: Schema, n: int = 3) -> dict[str, list[tuple]]:
    """The first `n` rows of each table of `schema` in the database at `db_path` (read-only)."""
    if n <= 0:
        return {}
    conn = connect_read_only(db_path)
    try:
        out = {}
        for table in schema.tables:
            cols = ", ".join(quote_name(c.name) for c in table.columns)
            try:
                out[table.name] = conn.execute(f"SELECT {cols} FROM {quote_name(table.name)} LIMIT ?", (n,)).fetchall()
            except sqlite3.DatabaseError as e:
                raise InputError(f"{db_path}: cannot read sample rows of table '{table.name}' ({e}); "
                                 "does the database match the schema?") from e
        return out
    finally:
        conn.close()


def _rows_comment(table: Table, rows: Sequence[Sequence[Any]]) -> str:
    """`/* N rows from t: */`-style comment: a header line of column names, then one tab-separated line a row."""
    lines = [f"/* {len(rows)} example row{'s' if len(rows) != 1 else ''} from {table.name}:",
             "\t".join(c.name for c in table.columns)]
    lines += ["\t".join(_cell(v) for v in row) for row in rows]
    return "\n".join(lines) + " */"


def _cell(value: Any, width: int = 40) -> str:
    """A value as short one-line text (long values cut with an ellipsis; NULL shown as NULL)."""
    if value is None:
        return "NULL"
    text = value.hex() if isinstance(value, bytes) else str(value)
    text = " ".join(text.split()).replace("*/", "* /")
    return text if len(text) <= width else text[: width - 1] + "…"
