"""The SQL sandbox: hostile statements are refused or stopped within their limits, the database file
never changes, benign queries work, and failures are results (never exceptions)."""

from __future__ import annotations

import hashlib
import sqlite3
import time

import pytest

from ragtune.errors import InputError
from ragtune.sql.sandbox import SqlSandbox, check_statement, run_sql, sandbox_overhead_ms

LIMIT_S = 0.5  # the tests' time limit per query (the default is 2 s)

# (statement, what the reason must contain)
HOSTILE = [
    ("DROP TABLE t", "refused"),
    ("DELETE FROM t", "refused"),
    ("UPDATE t SET b = 'x'", "refused"),
    ("INSERT INTO t VALUES (100, 'x')", "refused"),
    ("REPLACE INTO t VALUES (1, 'x')", "refused"),
    ("CREATE TABLE u (a)", "refused"),
    ("CREATE INDEX i ON t(b)", "refused"),
    ("CREATE VIEW v AS SELECT 1", "refused"),
    ("CREATE TRIGGER tr AFTER INSERT ON t BEGIN SELECT 1; END", "refused"),
    ("CREATE TEMP TABLE u (a)", "refused"),
    ("ATTACH DATABASE ':memory:' AS other", "refused"),
    ("DETACH DATABASE other", "refused"),
    ("PRAGMA writable_schema = 1", "refused"),
    ("PRAGMA journal_mode = DELETE", "refused"),
    ("VACUUM", "refused"),
    ("VACUUM INTO '{tmp}/copy.sqlite'", "refused"),
    ("REINDEX", "refused"),
    ("ANALYZE", "refused"),
    ("BEGIN", "refused"),
    ("COMMIT", "refused"),
    ("SAVEPOINT s1", "refused"),
    ("RELEASE s1", "refused"),
    ("ALTER TABLE t RENAME TO u", "refused"),
    ("SELECT load_extension('x')", "refused: function load_extension is not allowed"),
    ("SELECT * FROM pragma_table_info('t')", "refused"),
    ("SELECT * FROM json_each('[1]')", "refused"),
    # reading statements that smuggle a write past the first keyword: the authorizer stops them
    ("WITH x AS (SELECT 1) DELETE FROM t", "refused: writes are not allowed"),
    ("WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM t", "refused: writes are not allowed"),
    ("WITH x AS (SELECT 1) UPDATE t SET b = NULL", "refused: writes are not allowed"),
    # more than one statement, or a statement hidden by comments
    ("SELECT 1; DROP TABLE t", "refused: exactly one statement"),
    ("SELECT 1 -- x\n; DROP TABLE t", "refused: exactly one statement"),
    ("SELECT 1 -- x\nDROP TABLE t", "syntax error"),
    ("/* SELECT 1 */ DROP TABLE t", "refused: only SELECT"),
    ("SELECT 1 /* ; */ ; DELETE FROM t", "refused: exactly one statement"),
    ("SELECT 'a;' ; ATTACH ':memory:' AS x", "refused: exactly one statement"),
    ("SELECT 1 garbage garbage", "syntax error"),
    ("", "refused: empty query"),
    ("SELECT 1\x00; DROP TABLE t", "refused"),
    # resource exhaustion
    ("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c", "timed out"),
    ("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x FROM c", "more than 10000 rows"),
    ("SELECT count(*) FROM t a, t b, t c, t d, t e, t f", "timed out"),
    ("SELECT randomblob(1e9)", "refused: a value longer than"),
    ("SELECT zeroblob(1e9)", "refused: a value longer than"),
    ("SELECT length(replace(hex(zeroblob(600000)), '0', 'ab'))", "refused: a value longer than"),
    ("SELECT zeroblob(999999) FROM t a, t b, t c", "stopped: result larger than"),
]


def _sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "t.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE t (a INTEGER PRIMARY KEY, b TEXT)")
    conn.executemany("INSERT INTO t VALUES (?, ?)", [(i, f"v{i}") for i in range(30)])
    conn.commit()
    conn.close()
    return path


@pytest.mark.timeout(60)
def test_hostile_statements_are_refused_or_stopped_and_the_file_is_unchanged(db, tmp_path):
    assert len(HOSTILE) >= 25
    before = _sha256(db)
    with SqlSandbox(db, timeout_s=LIMIT_S) as box:
        for sql, reason in HOSTILE:
            sql = sql.replace("{tmp}", str(tmp_path))
            start = time.perf_counter()
            result = box.run(sql)
            took = time.perf_counter() - start
            assert not result.ok, sql
            assert result.rows == [], sql
            assert reason in result.error, (sql, result.error)
            assert took < LIMIT_S + 1.0, (sql, took)  # stopped within its limit (plus slack for a busy machine)
        assert box.run("SELECT count(*), max(b) FROM t").rows == [(30, "v9")]  # still usable afterwards
    assert _sha256(db) == before
    assert not (tmp_path / "copy.sqlite").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.sqlite"]  # no journal, no attached file


def test_default_time_limit_is_two_seconds(db):
    result = run_sql(db, "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT max(x) FROM c")
    assert not result.ok and result.error == "timed out after 2.0 s"
    assert 1900 <= result.elapsed_ms < 3500


def test_benign_queries_return_rows_and_columns(db):
    with SqlSandbox(db) as box:
        r = box.run("SELECT a, b AS label FROM t WHERE a < 3 ORDER BY a DESC;")
        assert r.ok and r.error == ""
        assert r.rows == [(2, "v2"), (1, "v1"), (0, "v0")] and r.columns == ["a", "label"]
        assert box.run("  -- leading comment\n WITH x AS (SELECT a FROM t) SELECT count(*) FROM x -- end").rows == [(30,)]
        assert box.run("SELECT 'semi;colon', \"b\" FROM t WHERE a = 1").rows == [("semi;colon", "v1")]
        assert box.run("VALUES (1, 2)").rows == [(1, 2)]
        assert box.run("SELECT name FROM sqlite_master").rows == [("t",)]
        assert box.run("SELECT * FROM nosuch").error == "error: no such table: nosuch"


def test_row_cap_is_configurable(db):
    assert run_sql(db, "SELECT * FROM t", max_rows=30).ok
    r = run_sql(db, "SELECT * FROM t", max_rows=29)
    assert not r.ok and r.error == "stopped: more than 29 rows" and r.columns == ["a", "b"]


def test_check_statement_strips_one_trailing_semicolon_and_comments():
    assert check_statement("SELECT 1 ;  -- done\n") == ("SELECT 1", "")
    assert check_statement("select [weird;name] from t;;") == ("select [weird;name] from t", "")
    assert check_statement("SELECT 'it''s;' ") == ("SELECT 'it''s;'", "")
    assert check_statement("EXPLAIN SELECT 1")[1].startswith("refused")
    assert check_statement("SELECT 1; SELECT 2")[1] == "refused: exactly one statement is allowed"


def test_missing_database_is_a_setup_error_not_a_result(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        run_sql(tmp_path / "missing.sqlite", "SELECT 1")


def test_overhead_is_measurable(db):
    figures = sandbox_overhead_ms(db, repeats=50)
    assert set(figures) == {"sandbox_ms", "bare_ms", "overhead_ms", "run_sql_ms"}
    assert 0 < figures["sandbox_ms"] < 50 and figures["bare_ms"] > 0 and figures["run_sql_ms"] >= figures["sandbox_ms"]


@pytest.mark.parametrize("sql", ["DROP TABLE t", "INSERT INTO t VALUES (99, 'x')", "CREATE TEMP TABLE u (a)",
                                 "ATTACH DATABASE ':memory:' AS other", "PRAGMA writable_schema = 1", "BEGIN",
                                 "SAVEPOINT s", "CREATE TEMP VIEW v AS SELECT 1", "SELECT load_extension('x')"])
def test_the_connection_itself_refuses_writes_without_the_text_gate(db, sql):
    """Defence in depth: the authorizer and the read-only connection stop these on their own."""
    before = _sha256(db)
    with SqlSandbox(db) as box:
        with pytest.raises(sqlite3.DatabaseError):
            box._conn.execute(sql)
    assert _sha256(db) == before
