"""Query normalisation with sqlglot: Spider-style exact-set match and a dedup key for generated SQL.

Both compare a normalised form of the query, built per SELECT:
- identifiers lower-cased; table aliases replaced by the table's name (a table used twice becomes
  `name`, `name#2`, ... in FROM order); unqualified columns qualified with the one table in scope
  that has them (needs the schema; correlated subqueries see the outer tables); column aliases
  dropped, and ORDER BY / HAVING / GROUP BY references to them (and `ORDER BY 1`) replaced by the
  selected expression; Spider's double-quoted strings ("France") read as string literals;
- DISTINCT ignored everywhere (SELECT DISTINCT and count(DISTINCT x)), as Spider's evaluator does
  with DISABLE_DISTINCT;
- SELECT items compared as a multiset (order ignored); the tables of FROM as a multiset; the
  conditions of WHERE and of inner-join ON clauses as ONE set of AND-ed conjuncts (so `a JOIN b ON
  x = y WHERE z` equals `a, b WHERE x = y AND z`); OR / AND inside a conjunct as sets too; `a = b`,
  `a != b` with sides in a fixed order, `3 < x` turned to `x > 3`; outer joins keep their ON
  conditions with their table; GROUP BY keys and HAVING conjuncts as sets; ORDER BY as a list with
  directions (order matters); LIMIT present or not; UNION / INTERSECT sides as a set (EXCEPT ordered);
  subqueries normalised the same way, recursively;
- literal values replaced by a placeholder in `exact_set_match` (value-agnostic, as Spider's
  DISABLE_VALUE: also the LIMIT count) and kept in `canonical` (strings exact, numbers as numbers).

Not compared as equal (stricter than or different from Spider's exact match): expressions that
differ in form but not meaning (`a + 1` vs `1 + a`, `x BETWEEN 1 AND 2` vs `x >= 1 AND x <= 2`,
`count(*)` vs `count(id)`), self-joins listed in another order, and JOIN ... ON conditions (which
Spider's evaluator ignores: here they count). Spider compares INTERSECT / UNION as ordered; here
their two sides may be swapped.
"""

from __future__ import annotations

import json

import sqlglot
from sqlglot import exp

from ragtune.errors import InputError
from ragtune.sql.schema import Schema
from ragtune.sql.parsing import PARSE_ERRORS

PLACEHOLDER = "?"
_MIRROR = {exp.GT: exp.LT, exp.LT: exp.GT, exp.GTE: exp.LTE, exp.LTE: exp.GTE}
_SYMMETRIC = (exp.EQ, exp.NEQ)


def exact_set_match(pred: str, gold: str, schema: Schema | None = None) -> bool:
    """Whether two queries are the same after normalisation with values ignored (see module doc).
    A prediction that does not parse does not match; a gold query that does not parse is InputError."""
    gold_key = _key_or_error(gold, schema, keep_values=False)
    try:
        return _query_key_of(pred, schema, keep_values=False) == gold_key
    except _Unparsable:
        return False


def canonical(sql: str, schema: Schema | None = None) -> str:
    """A dedup key for a query: the normalised form with values kept, as a compact JSON string.
    Queries equal up to aliases, letter case, spacing, item/conjunct order and DISTINCT share it.
    A query that does not parse keys as its whitespace-collapsed text."""
    try:
        return json.dumps(_query_key_of(sql, schema, keep_values=True), ensure_ascii=False, separators=(",", ":"))
    except _Unparsable:
        return "unparsed:" + " ".join(sql.split())


class _Unparsable(Exception):
    """The text is not one SQL query sqlglot can read."""


def _key_or_error(sql: str, schema: Schema | None, keep_values: bool):
    try:
        return _query_key_of(sql, schema, keep_values)
    except _Unparsable as e:
        raise InputError(f"exact_set_match: the gold query does not parse: {sql[:120]!r} ({e})") from e


def _query_key_of(sql: str, schema: Schema | None, keep_values: bool):
    try:
        tree = sqlglot.parse_one(sql.strip().rstrip(";"), read="sqlite")
    except PARSE_ERRORS as e:
        raise _Unparsable(str(e).splitlines()[0] if str(e) else "parse error") from e
    if not isinstance(tree, (exp.Select, exp.SetOperation, exp.Subquery)):
        raise _Unparsable(f"not a query ({type(tree).__name__})")
    try:
        return _Normalizer(schema, keep_values).query(tree, [])
    except RecursionError as e:  # a tree too deep to walk (model-written SQL)
        raise _Unparsable("nested too deeply") from e


class _Normalizer:
    """Turns a parsed query into nested lists of sorted strings (hashable as JSON text)."""

    def __init__(self, schema: Schema | None, keep_values: bool):
        self.schema = schema
        self.keep_values = keep_values

    # --- queries

    def query(self, node: exp.Expression, outer: list[dict[str, str]]) -> list:
        """Key of a SELECT, a set operation or a parenthesised query."""
        while isinstance(node, exp.Subquery):
            node = node.this
        if isinstance(node, exp.SetOperation):
            return self._set_operation(node, outer)
        if isinstance(node, exp.Select):
            return self._select(node, outer)
        raise _Unparsable(f"unsupported query part {type(node).__name__}")

    def _set_operation(self, node: exp.SetOperation, outer: list[dict[str, str]]) -> list:
        kind = type(node).__name__.lower() + ("" if node.args.get("distinct", True) else " all")
        sides = []
        for side in (node.left, node.right):  # flatten a chain of the same operation
            if type(side) is type(node) and side.args.get("distinct", True) == node.args.get("distinct", True) \
                    and not side.args.get("order") and not side.args.get("limit"):
                sides.extend(self._set_operation(side, outer)[1])
            else:
                sides.append(self.query(side, outer))
        if not isinstance(node, exp.Except):
            sides = sorted(sides, key=_sort_key)
        return [kind, sides, self._order(node, {}, outer), self._limit(node)]

    def _select(self, select: exp.Select, outer: list[dict[str, str]]) -> list:
        scope, tables, outer_joins = self._sources(select, outer)
        scopes = [scope, *outer]
        aliases = {}
        for item in select.expressions:
            if isinstance(item, exp.Alias):
                aliases[item.alias.lower()] = item.this
        items = sorted(self.expr(i.this if isinstance(i, exp.Alias) else i, scopes) for i in select.expressions)
        conjuncts: list[exp.Expression] = []
        for join in select.args.get("joins") or ():
            if not join.args.get("side") and join.args.get("on") is not None:
                conjuncts.extend(_conjuncts(join.args["on"]))
        where = select.args.get("where")
        if where is not None:
            conjuncts.extend(_conjuncts(where.this))
        conditions = sorted({self.condition(c, scopes) for c in conjuncts})
        joins = sorted([side, table, sorted({self.condition(c, scopes) for c in _conjuncts(on)})]
                       for side, table, on in outer_joins)
        group = select.args.get("group")
        keys = sorted({self.expr(self._dealias(g, aliases, select), scopes) for g in (group.expressions if group else ())})
        having = select.args.get("having")
        having_key = sorted({self.condition(self._dealias(c, aliases, select), scopes)
                             for c in (_conjuncts(having.this) if having else ())})
        return ["select", items, tables, conditions, joins, keys, having_key,
                self._order(select, aliases, scopes), self._limit(select)]

    def _sources(self, select: exp.Select, outer: list[dict[str, str]]):
        """(alias -> canonical table name, sorted FROM entries, outer joins as (side, table, on))."""
        scope: dict[str, str] = {}
        entries: list = []
        outer_joins = []
        seen: dict[str, int] = {}
        from_ = select.args.get("from_")
        items = [(from_.this, None)] if from_ is not None else []
        items += [(j.this, j) for j in select.args.get("joins") or ()]
        for source, join in items:
            if isinstance(source, exp.Table):
                name = source.name.lower()
                seen[name] = seen.get(name, 0) + 1
                ref = name if seen[name] == 1 else f"{name}#{seen[name]}"
                scope[source.alias_or_name.lower()] = ref
                entry: object = name
            else:
                sub = self.query(source, [scope, *outer])
                ref = f"subquery#{len(entries) + 1}"
                if source.alias:
                    scope[source.alias.lower()] = ref
                entry = sub
            entries.append(entry)
            if join is not None and join.args.get("side") and join.args.get("on") is not None:
                outer_joins.append((join.args["side"].lower(), ref, join.args["on"]))
        return scope, sorted(entries, key=_sort_key), outer_joins

    def _order(self, node: exp.Expression, aliases: dict, scopes) -> list:
        order = node.args.get("order")
        if order is None:
            return []
        return [[self.expr(self._dealias(o.this, aliases, node), scopes),
                 bool(o.args.get("desc"))] for o in order.expressions]

    def _limit(self, node: exp.Expression) -> object:
        limit = node.args.get("limit")
        if limit is None:
            return None
        value = limit.args.get("expression")
        return value.sql() if self.keep_values and value is not None else True

    def _dealias(self, node: exp.Expression, aliases: dict, select: exp.Expression) -> exp.Expression:
        """A select alias or ordinal (`ORDER BY cnt`, `ORDER BY 2`) replaced by the selected expression."""
        if isinstance(node, exp.Literal) and not node.is_string and node.this.isdigit() and isinstance(select, exp.Select):
            i = int(node.this) - 1
            if 0 <= i < len(select.expressions):
                item = select.expressions[i]
                return item.this if isinstance(item, exp.Alias) else item
        if not aliases:
            return node
        node = node.copy()

        def swap(n: exp.Expression) -> exp.Expression:
            if isinstance(n, exp.Column) and not n.table and n.name.lower() in aliases:
                return aliases[n.name.lower()].copy()
            return n

        return node.transform(swap)

    # --- expressions

    def condition(self, node: exp.Expression, scopes: list[dict[str, str]]) -> str:
        """A condition as text with AND/OR operands sorted and comparisons in a fixed orientation."""
        while isinstance(node, exp.Paren):
            node = node.this
        if isinstance(node, (exp.And, exp.Or)):
            parts = sorted({self.condition(c, scopes) for c in _flatten(node, type(node))})
            word = " AND " if isinstance(node, exp.And) else " OR "
            return "(" + word.join(parts) + ")"
        if isinstance(node, exp.Not):
            return "NOT " + self.condition(node.this, scopes)
        if isinstance(node, (exp.Like, exp.ILike)) and node.args.get("negate"):
            plain = node.copy()
            plain.set("negate", None)
            return "NOT " + self.condition(plain, scopes)
        if type(node) in _MIRROR or isinstance(node, _SYMMETRIC):
            left, right = self.expr(node.this, scopes), self.expr(node.expression, scopes)
            op = type(node)
            if isinstance(node, _SYMMETRIC):
                left, right = sorted((left, right))
            elif _is_value(node.this) and not _is_value(node.expression) or \
                    (_is_value(node.this) == _is_value(node.expression) and left > right):
                left, right, op = right, left, _MIRROR[op]
            return f"{left} {_OP_TEXT[op]} {right}"
        return self.expr(node, scopes)

    def expr(self, node: exp.Expression, scopes: list[dict[str, str]]) -> str:
        """An expression as text: columns qualified by table name, values kept or replaced, no DISTINCT."""
        node = node.copy()
        subqueries: dict[str, list] = {}

        def rewrite(n: exp.Expression) -> exp.Expression:
            if isinstance(n, exp.Subquery) or (isinstance(n, (exp.Select, exp.SetOperation)) and n is not node):
                marker = f"__subquery_{len(subqueries)}__"
                subqueries[marker] = self.query(n, scopes)
                return exp.column(marker)
            if isinstance(n, exp.Distinct):  # a replacement's children are not visited again: rewrite them here
                inner = n.expressions[0] if len(n.expressions) == 1 else exp.Tuple(expressions=n.expressions)
                return inner.transform(rewrite)
            if isinstance(n, exp.Paren) and not isinstance(n.this, (exp.Subquery, exp.Select)):
                return n.this.transform(rewrite)
            if isinstance(n, exp.Column):
                return self._column(n, scopes)
            if isinstance(n, exp.Literal):
                return self._value(n)
            if isinstance(n, exp.Neg) and isinstance(n.this, exp.Literal) and not self.keep_values:
                return exp.Literal.string(PLACEHOLDER)
            return n

        rewritten = node.transform(rewrite)
        text = rewritten.sql(dialect="sqlite")
        for marker, key in subqueries.items():
            text = text.replace(marker, "(" + json.dumps(key, ensure_ascii=False, separators=(",", ":")) + ")")
        return text

    def _column(self, col: exp.Column, scopes: list[dict[str, str]]) -> exp.Expression:
        """A column qualified by its canonical table, or a string literal for Spider's "double quotes"."""
        name = col.name.lower()
        qualifier = col.table.lower()
        if isinstance(col.this, exp.Star):
            table = next((s[qualifier] for s in scopes if qualifier in s), qualifier)
            return exp.Column(this=exp.Star(), table=exp.to_identifier(table)) if table else col
        if qualifier:
            table = next((s[qualifier] for s in scopes if qualifier in s), qualifier)
            return exp.column(name, table=table)
        table = self._owner(name, scopes)
        if table is not None:
            return exp.column(name, table=table)
        if col.this.quoted:
            return self._value(exp.Literal.string(col.name))
        return exp.column(name)

    def _owner(self, name: str, scopes: list[dict[str, str]]) -> str | None:
        """The canonical table of the innermost scope that has an unqualified column."""
        for scope in scopes:
            refs = list(dict.fromkeys(scope.values()))
            if self.schema is None:
                if len(refs) == 1:
                    return refs[0]
                continue
            owners = [r for r in refs if self._has_column(r, name)]
            if owners:
                return owners[0]
        return None

    def _has_column(self, ref: str, column: str) -> bool:
        table = self.schema.table(ref.split("#")[0]) if self.schema else None
        return table is not None and table.column(column) is not None

    def _value(self, lit: exp.Literal) -> exp.Expression:
        if not self.keep_values:
            return exp.Literal.string(PLACEHOLDER)
        if lit.is_string:
            return exp.Literal.string(lit.this)
        try:
            number = float(lit.this)
        except ValueError:
            return lit
        return exp.Literal.number(int(number) if number.is_integer() else number)


_OP_TEXT = {exp.EQ: "=", exp.NEQ: "!=", exp.GT: ">", exp.LT: "<", exp.GTE: ">=", exp.LTE: "<="}


def _conjuncts(node: exp.Expression) -> list[exp.Expression]:
    """The AND-ed parts of a condition (parentheses around an AND opened)."""
    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.And):
        return _conjuncts(node.left) + _conjuncts(node.right)
    return [node]


def _flatten(node: exp.Expression, kind: type) -> list[exp.Expression]:
    """Operands of a chain of the same connector (AND or OR)."""
    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, kind):
        return _flatten(node.left, kind) + _flatten(node.right, kind)
    return [node]


def _is_value(node: exp.Expression) -> bool:
    """Whether an operand is a literal (so `3 < x` is turned into `x > 3`)."""
    return isinstance(node, (exp.Literal, exp.Neg, exp.Null)) or (
        isinstance(node, exp.Column) and not node.table and node.this.quoted)


def _sort_key(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)

