"""Exact-set match and canonical dedup keys from sqlglot normalisation."""

from __future__ import annotations

import json
from collections import defaultdict

import pytest
import sqlglot

from ragtune.errors import InputError
from ragtune.sql.normalize import canonical, exact_set_match
from ragtune.sql.schema import schema_from_create_statements

SCHEMA = schema_from_create_statements(
    "CREATE TABLE singer (singer_id INT PRIMARY KEY, name TEXT, age INT, country TEXT);"
    "CREATE TABLE concert (concert_id INT PRIMARY KEY, singer_id INT REFERENCES singer(singer_id), year INT, "
    "stadium TEXT)", db_id="music")

SAME = [  # (prediction, gold): equal after normalisation, values ignored
    ("select NAME from Singer", "SELECT name FROM singer"),
    ("SELECT T1.name FROM singer AS T1 WHERE T1.age > 30", "SELECT name FROM singer WHERE age > 30"),
    ("SELECT name FROM singer WHERE 30 < age", "SELECT name FROM singer WHERE age > 30"),
    ("SELECT age, name FROM singer", "SELECT name, age FROM singer"),
    ("SELECT name FROM singer WHERE country = 'x' AND age = 1", "SELECT name FROM singer WHERE age = 1 AND country = 'x'"),
    ("SELECT name FROM singer WHERE (age = 1 OR age = 2) AND country = 'x'",
     "SELECT name FROM singer WHERE country = 'x' AND (age = 2 OR age = 1)"),
    ("SELECT DISTINCT name FROM singer", "SELECT name FROM singer"),
    ("SELECT count(DISTINCT name) FROM singer", "SELECT count(name) FROM singer"),
    ("SELECT name FROM singer WHERE country = \"France\"", "SELECT name FROM singer WHERE country = 'Spain'"),
    ("SELECT s.name FROM concert c JOIN singer s ON s.singer_id = c.singer_id WHERE c.year = 2014",
     "SELECT T2.name FROM singer AS T2 JOIN concert AS T1 ON T1.singer_id = T2.singer_id WHERE T1.year = 2015"),
    ("SELECT singer.name FROM singer, concert WHERE concert.singer_id = singer.singer_id AND year = 1",
     "SELECT T1.name FROM singer T1 JOIN concert T2 ON T1.singer_id = T2.singer_id WHERE T2.year = 1"),
    ("SELECT country, count(*) AS n FROM singer GROUP BY 1 ORDER BY n DESC LIMIT 1",
     "SELECT country, count(*) FROM singer GROUP BY country ORDER BY count(*) DESC LIMIT 3"),
    ("SELECT name FROM singer WHERE age < 20 UNION SELECT name FROM singer WHERE age > 60",
     "SELECT name FROM singer WHERE age > 60 UNION SELECT name FROM singer WHERE age < 20"),
    ("SELECT name FROM singer WHERE singer_id IN (SELECT T.singer_id FROM concert T WHERE T.year = 1)",
     "SELECT name FROM singer WHERE singer_id IN (SELECT singer_id FROM concert WHERE year = 2)"),
    ("SELECT name FROM singer WHERE age != 3;", "SELECT name FROM singer WHERE age <> 4"),
]

DIFFERENT = [  # (prediction, gold): not equal
    ("SELECT age FROM singer", "SELECT name FROM singer"),
    ("SELECT name, name FROM singer", "SELECT name FROM singer"),  # SELECT items are a multiset
    ("SELECT name FROM singer WHERE age > 30", "SELECT name FROM singer WHERE age >= 30"),
    ("SELECT name FROM singer WHERE age > 30", "SELECT name FROM singer WHERE age < 30"),
    ("SELECT name FROM singer", "SELECT name FROM singer WHERE age > 30"),
    ("SELECT name FROM singer ORDER BY age", "SELECT name FROM singer ORDER BY age DESC"),
    ("SELECT name FROM singer ORDER BY age, name", "SELECT name FROM singer ORDER BY name, age"),
    ("SELECT name FROM singer ORDER BY age LIMIT 1", "SELECT name FROM singer ORDER BY age"),
    ("SELECT name FROM singer WHERE age = 1 OR country = 'x'", "SELECT name FROM singer WHERE age = 1 AND country = 'x'"),
    ("SELECT name FROM singer WHERE name LIKE 'a%'", "SELECT name FROM singer WHERE name NOT LIKE 'a%'"),
    ("SELECT s.name FROM singer s JOIN concert c ON s.age = c.year", "SELECT s.name FROM singer s JOIN concert c ON s.singer_id = c.singer_id"),
    ("SELECT name FROM singer WHERE age < 20 EXCEPT SELECT name FROM singer WHERE age > 60",
     "SELECT name FROM singer WHERE age > 60 EXCEPT SELECT name FROM singer WHERE age < 20"),
    ("SELECT name FROM singer WHERE age < 20 UNION ALL SELECT name FROM singer WHERE age > 60",
     "SELECT name FROM singer WHERE age < 20 UNION SELECT name FROM singer WHERE age > 60"),
    ("SELECT name FROM singer s LEFT JOIN concert c ON s.singer_id = c.singer_id",
     "SELECT name FROM singer s JOIN concert c ON s.singer_id = c.singer_id"),
    ("SELECT count(*) FROM singer GROUP BY country", "SELECT count(*) FROM singer GROUP BY age"),
    ("SELECT count(*) FROM singer GROUP BY country HAVING count(*) > 1", "SELECT count(*) FROM singer GROUP BY country"),
]


@pytest.mark.parametrize("pred,gold", SAME)
def test_equal_after_normalisation(pred, gold):
    assert exact_set_match(pred, gold, SCHEMA)


@pytest.mark.parametrize("pred,gold", DIFFERENT)
def test_not_equal(pred, gold):
    assert not exact_set_match(pred, gold, SCHEMA)


def test_values_are_ignored_by_exact_match_and_kept_by_canonical():
    a, b = "SELECT name FROM singer WHERE age > 30", "SELECT name FROM singer WHERE age > 31"
    assert exact_set_match(a, b, SCHEMA) and canonical(a, SCHEMA) != canonical(b, SCHEMA)
    assert canonical("SELECT T1.name FROM singer T1 WHERE T1.country = \"France\" AND 30.0 < T1.age", SCHEMA) == \
        canonical("select name from SINGER where age > 30 and country = 'France';", SCHEMA)
    assert canonical("SELECT name FROM singer WHERE country = 'france'", SCHEMA) != \
        canonical("SELECT name FROM singer WHERE country = 'France'", SCHEMA)  # string values are exact
    assert canonical("SELECT name FROM singer LIMIT 3") != canonical("SELECT name FROM singer LIMIT 4")


def test_self_join_aliases_are_kept_apart():
    same_table = "SELECT a.name FROM singer a JOIN singer b ON a.age = b.age WHERE b.country = 'x'"
    assert exact_set_match(same_table.replace("a.", "p.").replace(" a ", " p "), same_table, SCHEMA)
    assert not exact_set_match("SELECT a.name FROM singer a JOIN singer b ON a.age = b.age WHERE a.country = 'x'",
                               same_table, SCHEMA)


def test_unparsable_prediction_does_not_match_and_bad_gold_is_an_error():
    assert not exact_set_match("SELEC name FRM singer", "SELECT name FROM singer", SCHEMA)
    assert not exact_set_match("DROP TABLE singer", "SELECT name FROM singer", SCHEMA)
    with pytest.raises(InputError, match="gold query does not parse"):
        exact_set_match("SELECT 1", "SELECT ((", SCHEMA)
    assert canonical("SELEC  name\n FRM singer") == "unparsed:SELEC name FRM singer"


def test_canonical_without_schema_qualifies_single_table_queries():
    assert canonical("SELECT name FROM singer AS s") == canonical("select s.NAME from singer s")


def test_dev_gold_queries_normalise_stably(spider_schemas, spider_dev):
    """Every dev gold query matches its own sqlglot re-rendering; canonical merges only true duplicates."""
    keys = defaultdict(set)
    for x in spider_dev:
        schema, query = spider_schemas[x["db_id"]], x["query"]
        rendered = sqlglot.parse_one(query, read="sqlite").sql(dialect="sqlite")
        assert exact_set_match(rendered, query, schema), query
        key = canonical(query, schema)
        assert key == canonical(rendered, schema)
        json.loads(key)
        keys[key].add(x["db_id"])
    distinct_texts = len({x["query"] for x in spider_dev})
    assert 540 <= len(keys) < distinct_texts  # 563 texts: case/alias variants merge, questions stay apart


@pytest.mark.timeout(120)
def test_agrees_with_the_official_exact_match(spider_dir, spider_schemas, spider_dev):
    """On gold-vs-gold, next-question and reordered pairs the official parser can read, our verdict
    equals evaluation.py's exact match at least 99% of the time. Measured on all 20 dev databases
    (2,237 pairs): 99.7%; every disagreement there is the official evaluator treating two columns
    that reference the same key as one (flight_2's SourceAirport / DestAirport), which we do not."""
    import spider_reference as ref

    evaluation, process_sql = ref.load_evaluation(), ref.load_process_sql()
    tables = {t["db_id"]: t for t in json.loads((spider_dir / "tables.json").read_text(encoding="utf-8"))}
    kmaps = evaluation.build_foreign_key_map_from_json(str(spider_dir / "tables.json"))
    by_db = defaultdict(list)
    for x in spider_dev:
        by_db[x["db_id"]].append(x["query"])
    agree = total = 0
    for db_id in ("concert_singer", "pets_1", "car_1", "dog_kennels", "world_1"):
        golds = list(dict.fromkeys(by_db[db_id]))[:20]
        for i, gold in enumerate(golds):
            tree = sqlglot.parse_one(gold, read="sqlite")
            reordered = tree.copy()
            if isinstance(reordered, sqlglot.exp.Select):
                reordered.set("expressions", list(reversed(reordered.expressions)))
            for pred in (gold, golds[(i + 1) % len(golds)], golds[(i + 2) % len(golds)], reordered.sql(dialect="sqlite")):
                if not ref.official_parses(process_sql, tables[db_id], pred):
                    continue  # sqlglot writes NOT x IN / JOIN ... ON TRUE, which Spider's parser cannot read
                official = ref.official_exact_match(evaluation, process_sql, tables[db_id], kmaps, pred, gold)
                total += 1
                agree += official == exact_set_match(pred, gold, spider_schemas[db_id])
    assert total >= 380 and agree / total >= 0.99
