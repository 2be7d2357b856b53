"""Literal/join extraction from gold queries and the synthetic database builder (fills, keys, cache,
coverage)."""

from __future__ import annotations

import random
import sqlite3
from collections import Counter

import pytest

from ragtune.errors import InputError
from ragtune.sql.build import build_databases, fill_coverage, generate_rows
from ragtune.sql.hints import Literal, extract_literals, query_seeds
from ragtune.sql.schema import quote_name as q


def test_literals_resolve_aliases_and_all_comparison_forms(shop_schema):
    sql = ("SELECT T1.name FROM shop AS T1 JOIN country AS T2 ON T1.country_code = T2.code "
           "WHERE T2.name = 'France' AND rating > 3.5 AND 10 < T2.population AND T1.name LIKE '%a%' "
           "AND T2.code IN ('FR', 'SE') AND opened BETWEEN '2001-01-01' AND '2002-01-01' AND T1.shop_id != -4 "
           "AND T2.name = \"Sweden\"")
    assert extract_literals(sql, shop_schema) == [
        Literal("country", "name", "=", "France"),
        Literal("shop", "rating", ">", 3.5),
        Literal("country", "population", ">", 10),  # 10 < population, turned around
        Literal("shop", "name", "like", "%a%"),
        Literal("country", "code", "in", "FR"),
        Literal("country", "code", "in", "SE"),
        Literal("shop", "opened", "between", "2001-01-01", "2002-01-01"),
        Literal("shop", "shop_id", "!=", -4),
        Literal("country", "name", "=", "Sweden"),  # Spider's double-quoted string
    ]


def test_literals_ignore_unknown_columns_and_unparsable_queries(shop_schema):
    assert extract_literals("SELECT * FROM shop WHERE nosuch = 3", shop_schema) == []
    assert extract_literals("SELEC nothing (", shop_schema) == []
    assert query_seeds("SELEC nothing (", shop_schema) == []


def test_seeds_link_joins_and_split_or_branches(shop_schema):
    seeds = query_seeds("SELECT s.name FROM shop s JOIN sale ON s.shop_id = sale.shop_id "
                        "WHERE sale.amount > 5 AND (s.rating = 1 OR s.rating = 2)", shop_schema)
    assert len(seeds) == 2  # one per OR branch
    assert all(len(s.links) == 1 and s.links[0].column == "shop_id" for s in seeds)
    assert [sorted(c.literal.value for c in s.conditions) for s in seeds] == [[1, 5], [2, 5]]
    negated = query_seeds("SELECT * FROM shop WHERE NOT rating = 3 AND name NOT LIKE 'x%'", shop_schema)
    assert negated[0].conditions == ()  # negations require nothing


def test_intersect_and_in_subquery_become_one_seed(shop_schema):
    (seed,) = query_seeds("SELECT country_code FROM shop WHERE rating > 4 INTERSECT "
                          "SELECT country_code FROM shop WHERE rating < 2", shop_schema)
    assert len(seed.aliases) == 2 and seed.links[0].column == "country_code"
    (seed,) = query_seeds("SELECT name FROM country WHERE code IN (SELECT country_code FROM shop WHERE rating = 5)",
                          shop_schema)
    assert {t for _, t in seed.aliases} == {"country", "shop"}
    assert (seed.links[0].column, seed.links[0].other_column) == ("code", "country_code")
    (grouped,) = query_seeds("SELECT shop_id FROM sale GROUP BY shop_id HAVING count(*) >= 4", shop_schema)
    assert grouped.min_group == 4 and grouped.group_by[0][1] == "shop_id"


def _db_rows(path, table):
    conn = sqlite3.connect(path)
    try:
        return conn.execute(f"SELECT * FROM {q(table)}").fetchall()
    finally:
        conn.close()


def test_generated_rows_keep_keys_unique_and_foreign_keys_valid(shop_schema):
    data = generate_rows(shop_schema, rows=30, rng=random.Random(1))
    countries = {r[0] for r in data["country"]}
    shops = data["shop"]
    assert len({r[0] for r in shops}) == len(shops)  # primary key
    assert len(countries) == len(data["country"])
    assert {r[2] for r in shops} <= countries  # every foreign key has a parent row
    sale_keys = [(r[0], r[1]) for r in data["sale"]]
    assert len(set(sale_keys)) == len(sale_keys)  # composite primary key
    assert {r[0] for r in data["sale"]} <= {r[0] for r in shops}
    spread = Counter(r[2] for r in shops)
    assert max(spread.values()) >= 3 and len(spread) < len(countries)  # skewed: big groups and childless parents
    opened = [r[3] for r in shops]
    assert all(isinstance(v, str) and v[4] == "-" for v in opened)  # dates for a DATE column
    assert all(isinstance(r[4], float) for r in shops)  # REAL rating, price-like name -> floats


def test_generation_is_seeded(shop_schema):
    a = generate_rows(shop_schema, rng=random.Random(7))
    assert a == generate_rows(shop_schema, rng=random.Random(7))
    assert a != generate_rows(shop_schema, rng=random.Random(8))


def test_literals_are_planted_so_where_clauses_match(tmp_path, shop_schema):
    queries = [
        "SELECT T1.name FROM shop T1 JOIN country T2 ON T1.country_code = T2.code WHERE T2.name = 'Atlantis' AND T1.rating > 4.5",
        "SELECT name FROM country WHERE population > 1000000 AND name LIKE '%zq%'",
        "SELECT count(*) FROM sale WHERE item = 'umbrella' AND amount BETWEEN 7 AND 9",
        "SELECT country_code FROM shop GROUP BY country_code HAVING count(*) > 12",
        "SELECT name FROM shop WHERE opened > '2031-05-01'",
    ]
    paths = build_databases(shop_schema, queries, cache_root=tmp_path)
    assert [p.name for p in paths] == ["fill0.sqlite", "fill1.sqlite", "fill2.sqlite"]
    for path in paths:
        conn = sqlite3.connect(path)
        for sql in queries:
            assert conn.execute(sql).fetchall() not in ([], [(0,)]), (path.name, sql)
        conn.close()


def test_fills_differ_and_are_cached(tmp_path, shop_schema):
    paths = build_databases(shop_schema, ["SELECT * FROM shop"], cache_root=tmp_path)
    assert paths[0].parent.parent.parent == tmp_path and paths[0].parent.name == "shop"
    assert len({p.read_bytes() for p in paths}) == 3
    stamps = [p.stat().st_mtime_ns for p in paths]
    assert build_databases(shop_schema, ["SELECT * FROM shop"], cache_root=tmp_path) == paths
    assert [p.stat().st_mtime_ns for p in paths] == stamps  # reused, not rebuilt
    other = build_databases(shop_schema, ["SELECT * FROM shop WHERE name = 'x'"], cache_root=tmp_path)
    assert other[0].parent != paths[0].parent  # different literals, different cache key
    assert not [p for p in tmp_path.rglob("*") if p.name.startswith(".tmp-")]  # no temp folder left
    assert build_databases(shop_schema, fills=1, seed=3, cache_root=tmp_path)[0].name == "fill0.sqlite"
    with pytest.raises(InputError, match="at least 1"):
        build_databases(shop_schema, fills=0, cache_root=tmp_path)


def test_later_fills_have_some_nulls_in_plain_columns(tmp_path, shop_schema):
    paths = build_databases(shop_schema, fills=3, rows=40, cache_root=tmp_path)
    nulls = [sum(v is None for row in _db_rows(p, "shop") for v in row) for p in paths]
    assert nulls[0] == 0 and nulls[1] + nulls[2] > 0


def test_spider_dev_databases_keep_foreign_keys_with_planted_seeds(tmp_path, spider_schemas, spider_dev):
    for db_id in ("car_1", "student_transcripts_tracking", "network_1"):
        schema = spider_schemas[db_id]
        queries = [x["query"] for x in spider_dev if x["db_id"] == db_id]
        conn = sqlite3.connect(build_databases(schema, queries, cache_root=tmp_path)[0])
        for table in schema.tables:
            for fk in table.foreign_keys:
                dangling = conn.execute(
                    f"SELECT count(*) FROM {q(table.name)} WHERE {q(fk.column)} IS NOT NULL AND {q(fk.column)} "
                    f"NOT IN (SELECT {q(fk.ref_column)} FROM {q(fk.ref_table)})").fetchone()[0]
                assert dangling == 0, (db_id, table.name, fk)
        conn.close()


def test_fill_coverage_on_three_dev_databases(tmp_path, spider_schemas, spider_dev):
    pairs = [(x["db_id"], x["query"]) for x in spider_dev if x["db_id"] in ("concert_singer", "pets_1", "world_1")]
    cov = fill_coverage(pairs, spider_schemas, cache_root=tmp_path)
    assert cov.total == 207 and cov.failed == 0
    assert cov.share_non_empty >= 0.97
    assert cov.non_empty_all <= cov.non_empty_first <= cov.non_empty
    assert cov.empty == len(cov.empty_queries)
    with pytest.raises(InputError, match="no schema"):
        fill_coverage([("nosuch", "SELECT 1")], spider_schemas, cache_root=tmp_path)


def test_builds_are_identical_across_processes(tmp_path):
    """Same inputs give byte-identical files even with different string-hash seeds (no set-order leaks)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    script = ("import sys; sys.path.insert(0, sys.argv[2]); from conftest import SHOP_DDL; "
              "from ragtune.sql.schema import schema_from_create_statements as s; "
              "from ragtune.sql.build import build_databases as b; "
              "p = b(s(SHOP_DDL, db_id='shop'), ['SELECT * FROM sale WHERE amount > 3 GROUP BY item HAVING count(*) > 2'], "
              "cache_root=sys.argv[1]); import hashlib; print(*[hashlib.sha256(x.read_bytes()).hexdigest() for x in p])")
    digests = []
    for hash_seed, folder in (("1", "a"), ("2", "b")):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        out = subprocess.run([sys.executable, "-c", script, str(tmp_path / folder), str(Path(__file__).parent)],
                             env=env, capture_output=True, text=True, check=True)
        digests.append(out.stdout.split())
    assert len(digests[0]) == 3 and digests[0] == digests[1]
