"""Spider's hardness level (easy / medium / hard / extra) of a gold query, computed with sqlglot.

The rules are those of Spider's official `evaluation.py` (Yu et al. 2018; `count_component1`,
`count_component2`, `count_others`, `Evaluator.eval_hardness`), applied to the query's first SELECT
(the left-most one of a UNION / INTERSECT / EXCEPT chain, as Spider's parser nests the rest):

- component1 = [WHERE] + [GROUP BY] + [ORDER BY] + [LIMIT] + (tables and subqueries in FROM - 1)
  + number of ORs and of LIKEs (NOT LIKE too) in the ON, WHERE and HAVING conditions;
- component2 = subqueries used as condition values in ON / WHERE / HAVING + [a set operation];
- others = [aggregations > 1] + [more than one SELECT item] + [more than one WHERE condition]
  + [more than one GROUP BY key].

"Aggregations" is counted as the reference counts it, quirks included: aggregate SELECT items,
aggregates in ORDER BY items, plus (because the reference tests the first field of each condition,
which is its NOT flag) every negated WHERE condition (NOT IN, NOT LIKE, NOT BETWEEN), every
negated HAVING condition and every AND/OR joining HAVING conditions; a plain aggregate in HAVING
does not count. Nothing inside a subquery counts towards the outer query, except as component2.

Levels: easy if c1 <= 1, others = 0, c2 = 0; medium if (others <= 2, c1 <= 1, c2 = 0) or
(c1 <= 2, others < 2, c2 = 0); hard if (others > 2, c1 <= 2, c2 = 0) or (2 < c1 <= 3, others <= 2,
c2 = 0) or (c1 <= 1, others = 0, c2 <= 1); extra otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlglot
from sqlglot import exp

from ragtune.errors import InputError
from ragtune.sql.parsing import PARSE_ERRORS

LEVELS = ("easy", "medium", "hard", "extra")
_AGGREGATES = (exp.Count, exp.Sum, exp.Avg, exp.Max, exp.Min)


@dataclass(frozen=True)
class HardnessCounts:
    """The three counts Spider's hardness is decided from."""

    component1: int
    component2: int
    others: int

    @property
    def level(self) -> str:
        """The hardness level these counts give."""
        return level_of(self.component1, self.component2, self.others)


def hardness(sql: str) -> str:
    """Spider hardness level of a SQL query: "easy", "medium", "hard" or "extra"."""
    return hardness_counts(sql).level


def level_of(component1: int, component2: int, others: int) -> str:
    """Spider's `eval_hardness` decision from the three counts."""
    c1, c2, ot = component1, component2, others
    if c1 <= 1 and ot == 0 and c2 == 0:
        return "easy"
    if (ot <= 2 and c1 <= 1 and c2 == 0) or (c1 <= 2 and ot < 2 and c2 == 0):
        return "medium"
    if (ot > 2 and c1 <= 2 and c2 == 0) or (2 < c1 <= 3 and ot <= 2 and c2 == 0) or (c1 <= 1 and ot == 0 and c2 <= 1):
        return "hard"
    return "extra"


def hardness_counts(sql: str) -> HardnessCounts:
    """component1, component2 and others of a query (see the module docstring); InputError if it is
    not one parsable SELECT query."""
    try:
        tree = sqlglot.parse_one(sql, read="sqlite")
    except PARSE_ERRORS as e:
        raise InputError(f"hardness: cannot parse {sql[:120]!r}: {str(e).splitlines()[0]}") from e
    has_set_op = isinstance(tree, exp.SetOperation)
    while isinstance(tree, (exp.SetOperation, exp.Subquery)):
        tree = tree.this  # the left-most SELECT: Spider nests the other parts inside it
    if not isinstance(tree, exp.Select):
        raise InputError(f"hardness: {sql[:120]!r} is not a SELECT query")
    return HardnessCounts(_component1(tree), _component2(tree) + has_set_op, _others(tree))


def _conditions(select: exp.Select) -> list[exp.Expression]:
    """The condition trees of one SELECT: every JOIN ... ON, WHERE, HAVING."""
    out = [j.args["on"] for j in select.args.get("joins") or () if j.args.get("on") is not None]
    for part in ("where", "having"):
        node = select.args.get(part)
        if node is not None:
            out.append(node.this)
    return out


def _own(node: exp.Expression, kinds) -> list[exp.Expression]:
    """Nodes of the given kinds under `node`, not looking inside subqueries."""
    found = []
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, kinds):
            found.append(n)
        if isinstance(n, (exp.Subquery, exp.Select)) and n is not node:
            continue
        stack.extend(n.iter_expressions())
    return found


def _leaves(cond: exp.Expression) -> list[exp.Expression]:
    """The condition units of an AND/OR tree (a NOT x counts as one unit)."""
    if isinstance(cond, exp.Paren):
        return _leaves(cond.this)
    if isinstance(cond, exp.Connector):
        return _leaves(cond.left) + _leaves(cond.right)
    return [cond]


def _negated(unit: exp.Expression) -> bool:
    """Whether a condition unit carries Spider's NOT flag (NOT IN, NOT LIKE, NOT BETWEEN)."""
    return isinstance(unit, exp.Not) or bool(unit.args.get("negate"))


def _component1(select: exp.Select) -> int:
    count = sum(select.args.get(part) is not None for part in ("where", "group", "order", "limit"))
    count += len(select.args.get("joins") or ())
    for cond in _conditions(select):
        count += len(_own(cond, exp.Or)) + len(_own(cond, (exp.Like, exp.ILike)))
    return count


def _component2(select: exp.Select) -> int:
    return sum(len(_own(cond, exp.Subquery)) for cond in _conditions(select))


def _is_aggregate(node: exp.Expression) -> bool:
    node = node.unalias() if isinstance(node, exp.Alias) else node
    return isinstance(node, _AGGREGATES)


def _others(select: exp.Select) -> int:
    aggregations = sum(_is_aggregate(e) for e in select.expressions)
    order = select.args.get("order")
    for item in order.expressions if order is not None else ():
        value = item.this
        if isinstance(value, exp.Binary) and not isinstance(value, exp.Connector):
            aggregations += _is_aggregate(value.left) + _is_aggregate(value.right)
        else:
            aggregations += _is_aggregate(value)
    where = select.args.get("where")
    where_units = _leaves(where.this) if where is not None else []
    aggregations += sum(_negated(u) for u in where_units)
    having = select.args.get("having")
    if having is not None:
        aggregations += sum(_negated(u) for u in _leaves(having.this))
        aggregations += len(_own(having.this, exp.Connector))
    group = select.args.get("group")
    group_keys = len(group.expressions) if group is not None else 0
    return (aggregations > 1) + (len(select.expressions) > 1) + (len(where_units) > 1) + (group_keys > 1)
