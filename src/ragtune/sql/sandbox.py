"""Run untrusted (model-written) SQL against a SQLite file without letting it change or escape anything.

Layers, each enough on its own for the common attacks:
1. text gate: exactly one statement, starting with SELECT, WITH or VALUES (comments and one trailing
   `;` allowed; a second statement after `;` is refused, also when hidden behind comments);
2. the file is opened read-only (`file:...?mode=ro`), `PRAGMA query_only` is on, extension loading
   is off and no database can be attached (`SQLITE_LIMIT_ATTACHED` = 0);
3. an authorizer allows only reads (SELECT, READ, RECURSIVE and functions other than
   `load_extension`): no writes, DDL, temp objects, ATTACH/DETACH, PRAGMA, transactions or savepoints;
4. limits: wall time via the progress handler (default 2 s), rows fetched (default 10,000), value
   length (`SQLITE_LIMIT_LENGTH`, default 1,000,000 bytes, so `randomblob(1e9)` fails at once), the
   whole result's size (default 32 MB, so 10,000 rows of 1 MB blobs stop early) and query length.

Every outcome is a `SqlResult`; refusals, timeouts and SQL errors are results with a short reason,
never exceptions, so one hostile prediction cannot crash an evaluation run.
"""

from __future__ import annotations

import sqlite3
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ragtune.errors import InputError

DEFAULT_TIMEOUT_S = 2.0
DEFAULT_MAX_ROWS = 10_000
DEFAULT_MAX_VALUE_BYTES = 1_000_000
DEFAULT_MAX_RESULT_BYTES = 32_000_000  # all values of a result together (rows x value length)
_FETCH_BATCH = 32
MAX_SQL_CHARS = 100_000
_ALLOWED_FIRST_WORDS = ("SELECT", "WITH", "VALUES")
_DENIED_FUNCTIONS = frozenset({"load_extension"})
_PROGRESS_EVERY = 1_000  # SQLite VM instructions between two deadline checks

_REASONS = {
    sqlite3.SQLITE_INSERT: "writes are not allowed",
    sqlite3.SQLITE_UPDATE: "writes are not allowed",
    sqlite3.SQLITE_DELETE: "writes are not allowed",
    sqlite3.SQLITE_ATTACH: "ATTACH is not allowed",
    sqlite3.SQLITE_DETACH: "DETACH is not allowed",
    sqlite3.SQLITE_PRAGMA: "PRAGMA is not allowed",
    sqlite3.SQLITE_TRANSACTION: "transactions are not allowed",
    sqlite3.SQLITE_SAVEPOINT: "savepoints are not allowed",
}


@dataclass
class SqlResult:
    """What one query did: `ok` with rows and column names, or a short `error` saying why not."""

    ok: bool
    rows: list[tuple] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    elapsed_ms: float = 0.0
    error: str = ""


class SqlSandbox:
    """One locked-down read-only connection to a SQLite file; `run(sql)` many queries on it.

    Use as a context manager (or call `close`). Opening fails with InputError when the file is missing
    or not a database: that is a setup mistake, not a property of a query.
    """

    def __init__(self, db_path: str | Path, *, timeout_s: float = DEFAULT_TIMEOUT_S,
                 max_rows: int = DEFAULT_MAX_ROWS, max_value_bytes: int = DEFAULT_MAX_VALUE_BYTES,
                 max_result_bytes: int = DEFAULT_MAX_RESULT_BYTES):
        self.db_path = Path(db_path).expanduser().resolve()
        self.max_result_bytes = int(max_result_bytes)
        self.timeout_s = float(timeout_s)
        self.max_rows = int(max_rows)
        self.max_value_bytes = int(max_value_bytes)
        self._denied: list[str] = []
        self._conn = _open_locked(self.db_path, self.max_value_bytes, self._authorize)

    def run(self, sql: str) -> SqlResult:
        """Run one query; never raises for anything the query text does."""
        start = time.perf_counter()
        statement, problem = check_statement(sql)
        if problem:
            return SqlResult(False, elapsed_ms=_ms(start), error=problem)
        self._denied.clear()
        deadline = start + self.timeout_s
        self._conn.set_progress_handler(lambda: 1 if time.perf_counter() > deadline else 0, _PROGRESS_EVERY)
        cursor = None
        try:
            cursor = self._conn.execute(statement)
            columns = [d[0] for d in cursor.description or ()]
            rows, too_much = self._fetch(cursor)
        except (sqlite3.Error, OverflowError, MemoryError, ValueError) as e:
            return SqlResult(False, elapsed_ms=_ms(start), error=self._reason(e))
        finally:
            if cursor is not None:
                cursor.close()
            self._conn.set_progress_handler(None, 0)
        if too_much:
            return SqlResult(False, columns=columns, elapsed_ms=_ms(start), error=too_much)
        return SqlResult(True, rows, columns, _ms(start))

    def _fetch(self, cursor: sqlite3.Cursor) -> tuple[list[tuple], str]:
        """(rows, "") or ([], why it stopped) when the result passes the row or byte cap."""
        rows: list[tuple] = []
        size = 0
        while batch := cursor.fetchmany(_FETCH_BATCH):
            rows.extend(batch)
            size += sum(len(v) if isinstance(v, (str, bytes)) else 8 for row in batch for v in row)
            if len(rows) > self.max_rows:
                return [], f"stopped: more than {self.max_rows} rows"
            if size > self.max_result_bytes:
                return [], f"stopped: result larger than {self.max_result_bytes} bytes"
        return rows, ""

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()

    def __enter__(self) -> SqlSandbox:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _authorize(self, action: int, arg1: str | None, arg2: str | None, db: str | None, trigger: str | None) -> int:
        """SQLite authorizer: reads and ordinary functions pass; everything else is denied and noted."""
        if action in (sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_RECURSIVE):
            return sqlite3.SQLITE_OK
        if action == sqlite3.SQLITE_FUNCTION:
            if (arg2 or "").lower() not in _DENIED_FUNCTIONS:
                return sqlite3.SQLITE_OK
            self._denied.append(f"function {arg2} is not allowed")
            return sqlite3.SQLITE_DENY
        if action == sqlite3.SQLITE_UPDATE and (arg1 or "").lower() in ("sqlite_master", "sqlite_schema"):
            # SQLite asks this when a table-valued function (json_each, pragma_*) is first used
            self._denied.append("table-valued functions and schema changes are not allowed")
        else:
            self._denied.append(_REASONS.get(action, "only reading queries are allowed"))
        return sqlite3.SQLITE_DENY

    def _reason(self, error: Exception) -> str:
        """A short, stable reason for a failed query."""
        text = str(error)
        if self._denied:
            return f"refused: {self._denied[0]}"
        if "interrupted" in text:
            return f"timed out after {self.timeout_s:.1f} s"
        if "too big" in text or isinstance(error, (OverflowError, MemoryError)):
            return f"refused: a value longer than {self.max_value_bytes} bytes"
        if "not authorized" in text:
            return "refused: only reading queries are allowed"
        if "readonly" in text or "read-only" in text:
            return "refused: writes are not allowed"
        if "syntax error" in text or "incomplete input" in text or "unrecognized token" in text:
            return f"syntax error: {text}"
        if "one statement at a time" in text:
            return "refused: exactly one statement is allowed"
        return f"error: {text}"


def run_sql(db_path: str | Path, sql: str, *, timeout_s: float = DEFAULT_TIMEOUT_S,
            max_rows: int = DEFAULT_MAX_ROWS, max_value_bytes: int = DEFAULT_MAX_VALUE_BYTES,
            max_result_bytes: int = DEFAULT_MAX_RESULT_BYTES) -> SqlResult:
    """Run one untrusted query on a fresh sandboxed connection (see `SqlSandbox` for many queries)."""
    with SqlSandbox(db_path, timeout_s=timeout_s, max_rows=max_rows, max_value_bytes=max_value_bytes,
                    max_result_bytes=max_result_bytes) as box:
        return box.run(sql)


def check_statement(sql: str) -> tuple[str, str]:
    """(the statement without its trailing `;`, "") when `sql` is one reading statement, else ("", reason)."""
    if not isinstance(sql, str) or not sql.strip():
        return "", "refused: empty query"
    if len(sql) > MAX_SQL_CHARS:
        return "", f"refused: query longer than {MAX_SQL_CHARS} characters"
    if "\x00" in sql:
        return "", "refused: NUL character in query"
    start = _skip_space_and_comments(sql, 0)
    first = _first_word(sql, start)
    if first.upper() not in _ALLOWED_FIRST_WORDS:
        shown = first or sql[start:start + 20]
        return "", f"refused: only SELECT/WITH queries are allowed (got {shown!r})"
    end = _statement_end(sql, start)
    rest = _skip_space_and_comments(sql, end + 1) if end < len(sql) else end
    while rest < len(sql) and sql[rest] == ";":
        rest = _skip_space_and_comments(sql, rest + 1)
    if rest < len(sql):
        return "", "refused: exactly one statement is allowed"
    return sql[start:end].rstrip(), ""


def _first_word(sql: str, i: int) -> str:
    """The run of letters at position i."""
    j = i
    while j < len(sql) and (sql[j].isalpha() or sql[j] == "_"):
        j += 1
    return sql[i:j]


def _skip_space_and_comments(sql: str, i: int) -> int:
    """Index of the first character at or after i that is not whitespace or inside a comment."""
    n = len(sql)
    while i < n:
        if sql[i].isspace():
            i += 1
        elif sql.startswith("--", i):
            j = sql.find("\n", i)
            i = n if j < 0 else j + 1
        elif sql.startswith("/*", i):
            j = sql.find("*/", i + 2)
            i = n if j < 0 else j + 2
        else:
            break
    return i


def _statement_end(sql: str, i: int) -> int:
    """Index of the `;` ending the statement that starts at i (len(sql) if none), skipping quoted
    strings and identifiers ('...', "...", `...`, [...]) and comments, as SQLite's tokenizer does."""
    n = len(sql)
    closers = {"'": "'", '"': '"', "`": "`", "[": "]"}
    while i < n:
        ch = sql[i]
        if ch == ";":
            return i
        if ch in closers:
            close = closers[ch]
            j = i + 1
            while j < n:
                if sql[j] == close:
                    if close != "]" and j + 1 < n and sql[j + 1] == close:  # doubled quote = escaped
                        j += 2
                        continue
                    break
                j += 1
            i = j + 1
        elif sql.startswith("--", i) or sql.startswith("/*", i):
            i = _skip_space_and_comments(sql, i)
        else:
            i += 1
    return n


def _open_locked(path: Path, max_value_bytes: int, authorizer) -> sqlite3.Connection:
    """A read-only, query-only connection with extension loading off, limits set and the authorizer on."""
    if not path.is_file():
        raise InputError(f"SQLite database {path} does not exist; build it first (ragtune.sql.build) or fix the path.")
    try:
        conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA query_only = ON")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.DatabaseError as e:
        raise InputError(f"{path} is not a readable SQLite database ({e}).") from e
    if hasattr(conn, "enable_load_extension"):
        conn.enable_load_extension(False)
    conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, max_value_bytes)
    conn.setlimit(sqlite3.SQLITE_LIMIT_SQL_LENGTH, MAX_SQL_CHARS)
    conn.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, 0)
    conn.text_factory = lambda b: b.decode(errors="ignore")  # as the test-suite evaluator reads text
    conn.set_authorizer(authorizer)
    return conn


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000.0, 3)


def sandbox_overhead_ms(db_path: str | Path, sql: str = "SELECT 1", repeats: int = 200) -> dict[str, float]:
    """Median ms per query of `sql` through `SqlSandbox.run` and through a bare read-only connection,
    their difference (what the sandbox's checks cost per simple query), and `run_sql_ms`: one call of
    `run_sql`, which opens and closes its own locked-down connection."""
    with SqlSandbox(db_path) as box:
        sandboxed = [box.run(sql).elapsed_ms for _ in range(repeats)]
    fresh = []
    for _ in range(max(1, repeats // 5)):
        t = time.perf_counter()
        run_sql(db_path, sql)
        fresh.append((time.perf_counter() - t) * 1000.0)
    conn = sqlite3.connect(f"{Path(db_path).resolve().as_uri()}?mode=ro", uri=True)
    bare = []
    try:
        for _ in range(repeats):
            t = time.perf_counter()
            conn.execute(sql).fetchall()
            bare.append((time.perf_counter() - t) * 1000.0)
    finally:
        conn.close()
    s, b = statistics.median(sandboxed), statistics.median(bare)
    return {"sandbox_ms": round(s, 4), "bare_ms": round(b, 4), "overhead_ms": round(s - b, 4),
            "run_sql_ms": round(statistics.median(fresh), 4)}
