"""Pulling the SQL out of messy model replies."""

from __future__ import annotations

import pytest

from ragtune.sql.extract import extract_sql

CASES = [
    ("SELECT name FROM singer", "SELECT name FROM singer"),
    ("SELECT name FROM singer;", "SELECT name FROM singer"),
    ("```sql\nSELECT name\nFROM singer\nWHERE age > 30;\n```", "SELECT name\nFROM singer\nWHERE age > 30"),
    ("Here is the query:\n```SQL\nselect count(*) from singer\n```\nIt counts the singers.", "select count(*) from singer"),
    ("```\nSELECT a FROM t\n```", "SELECT a FROM t"),
    ("```python\nprint('SELECT 1')\n```\n```sql\nSELECT b FROM t\n```", "SELECT b FROM t"),
    ("```sql\n-- names of old singers\nSELECT name FROM singer WHERE age > 60; SELECT 2;\n```", "SELECT name FROM singer WHERE age > 60"),
    ("To answer this, I will select the right rows.\n\nSELECT name FROM singer WHERE country = 'France'\n\nThis returns the names.",
     "SELECT name FROM singer WHERE country = 'France'"),
    ("SELECT name FROM singer WHERE note = 'a; b';  -- done", "SELECT name FROM singer WHERE note = 'a; b'"),
    ("The answer is `SELECT max(age) FROM singer` as requested.", "SELECT max(age) FROM singer"),
    ("SQL: SELECT count(*) FROM singer. This counts every singer.", "SELECT count(*) FROM singer"),
    ("SELECT name\nFROM singer\nORDER BY age DESC\nLIMIT 1\nThis query finds the oldest singer's name by sorting.",
     "SELECT name\nFROM singer\nORDER BY age DESC\nLIMIT 1"),
    ("WITH t AS (SELECT 1 AS x) SELECT x FROM t;\nExplanation: a CTE.", "WITH t AS (SELECT 1 AS x) SELECT x FROM t"),
    ("<think>Maybe SELECT * FROM wrong? No.</think>\n```sql\nSELECT id FROM right_table\n```", "SELECT id FROM right_table"),
    ("<think>I should SELECT from singer</think>SELECT name FROM singer", "SELECT name FROM singer"),
    ("```sql\nSELECT name FROM singer WHERE", "SELECT name FROM singer WHERE"),  # cut off: kept, scored as broken
    ("I cannot answer that with the given tables.", ""),
    ("", ""),
    ("You could select whatever you like with this schema.", ""),
    ("   \n  select distinct T1.name from singer as T1   ", "select distinct T1.name from singer as T1"),
]


@pytest.mark.parametrize("reply,expected", CASES)
def test_extract_sql(reply, expected):
    assert extract_sql(reply) == expected
