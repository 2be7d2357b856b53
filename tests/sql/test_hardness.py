"""Spider hardness computed with sqlglot: hand-made cases and agreement with the official evaluator."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from ragtune.errors import InputError
from ragtune.sql.hardness import HardnessCounts, hardness, hardness_counts, level_of


CASES = [
    ("SELECT count(*) FROM singer", (0, 0, 0), "easy"),
    ("SELECT name FROM singer WHERE age > 30", (1, 0, 0), "easy"),
    ("SELECT name, age FROM singer ORDER BY age DESC", (1, 0, 1), "medium"),
    ("SELECT T1.name FROM a AS T1 JOIN b AS T2 ON T1.id = T2.id WHERE T2.x = 1 OR T2.x LIKE '%y%'", (4, 0, 1), "extra"),
    ("SELECT name FROM t WHERE a NOT IN (SELECT a FROM s WHERE b = 1 AND c = 2)", (1, 1, 0), "hard"),
    ("SELECT name FROM t WHERE x = 1 INTERSECT SELECT name FROM t WHERE x = 2", (1, 1, 0), "hard"),
    ("SELECT a FROM t UNION SELECT b FROM s", (0, 1, 0), "hard"),
    # a set operation's trailing ORDER BY/LIMIT belongs to its last part in Spider's parse
    ("SELECT a FROM t UNION SELECT b FROM s ORDER BY a LIMIT 1", (0, 1, 0), "hard"),
    ("SELECT a, max(b), min(b) FROM t GROUP BY a, c", (1, 0, 3), "hard"),
    # reference quirks: a negated condition counts as an aggregation, a HAVING AND too, count(*) in HAVING does not
    ("SELECT a FROM t WHERE b NOT IN (SELECT b FROM s) AND c NOT LIKE 'x%'", (2, 1, 2), "extra"),
    ("SELECT a FROM t WHERE b NOT BETWEEN 1 AND 5", (1, 0, 0), "easy"),
    ("SELECT a FROM t GROUP BY a HAVING count(*) > 1", (1, 0, 0), "easy"),
    ("SELECT a, count(*) FROM t GROUP BY a HAVING count(*) > 1 AND sum(b) > 2", (1, 0, 2), "medium"),
    ("SELECT a FROM t ORDER BY count(*) - sum(b)", (1, 0, 1), "medium"),
]
CASE_SCHEMA = {"a": ["id", "name"], "b": ["id", "x"], "t": ["name", "a", "b", "c", "x"], "s": ["a", "b", "c"],
               "singer": ["name", "age"]}


@pytest.mark.parametrize("sql,counts,level", CASES)
def test_hand_made_counts_and_levels(sql, counts, level):
    assert hardness_counts(sql) == HardnessCounts(*counts)
    assert hardness(sql) == level


def test_hand_made_cases_match_the_official_parser():
    import spider_reference as ref

    evaluation, process_sql = ref.load_evaluation(), ref.load_process_sql()
    schema = process_sql.Schema(CASE_SCHEMA)
    for sql, counts, level in CASES:
        parsed = process_sql.get_sql(schema, sql)
        official = (evaluation.count_component1(parsed), evaluation.count_component2(parsed),
                    evaluation.count_others(parsed))
        assert official == counts and evaluation.Evaluator().eval_hardness(parsed) == level, sql


def test_level_rules():
    assert level_of(1, 0, 0) == "easy"
    assert level_of(2, 0, 1) == "medium" and level_of(1, 0, 2) == "medium"
    assert level_of(2, 0, 3) == "hard" and level_of(3, 0, 2) == "hard" and level_of(1, 1, 0) == "hard"
    assert level_of(4, 0, 0) == "extra" and level_of(0, 2, 0) == "extra" and level_of(2, 0, 2) == "extra"


def test_bad_input_is_an_input_error():
    with pytest.raises(InputError, match="cannot parse"):
        hardness("SELECT (((")
    with pytest.raises(InputError, match="not a SELECT"):
        hardness("DELETE FROM t")


@pytest.mark.timeout(120)
def test_agrees_with_the_official_evaluator_on_the_dev_set(spider_dir, spider_dev):
    """All 1,034 dev gold queries: our level equals Evaluator.eval_hardness of the official parse
    (process_sql.get_sql over the tables.json schema). Measured agreement: 1034/1034."""
    import spider_reference as ref

    evaluator = ref.load_evaluation().Evaluator()
    process_sql = ref.load_process_sql()
    tables = {t["db_id"]: t for t in json.loads((spider_dir / "tables.json").read_text(encoding="utf-8"))}
    disagree = []
    levels = Counter()
    for x in spider_dev:
        official = evaluator.eval_hardness(ref.spider_parse(process_sql, tables[x["db_id"]], x["query"]))
        ours = hardness(x["query"])
        levels[ours] += 1
        if ours != official:
            disagree.append((official, ours, x["query"]))
    assert disagree == []
    assert levels == {"easy": 248, "medium": 446, "hard": 174, "extra": 166}  # Spider dev's published split
