"""What a gold query tells the database builder: the literals it compares columns with, and its joins.

`extract_literals(sql, schema)` lists every `column <op> literal` of a query (`WHERE country = 'France'`,
`age > 30`, `name LIKE '%a%'`, `x IN (1, 2)`, `y BETWEEN 1 AND 5`, also reversed as `30 < age`) with the
real table and column the column resolves to (aliases and unqualified names resolved against the
schema, per SELECT). Spider's double-quoted strings (`name = "France"`, which SQLite reads as a string
when no such column exists) count as string literals.

`query_seeds(sql, schema)` groups them into `Seed`s: the row tuple one query needs to return something.
A seed has the (alias, table) pairs of the SELECTs involved, the column equalities that join them
(JOIN ... ON, WHERE a.x = b.y, `x IN (SELECT y ...)`, the two sides of an INTERSECT) and the conditions
that must hold together (the AND-branches of WHERE/ON; each OR branch becomes its own seed). The
builder plants each seed as linked rows, so WHERE clauses and joins can match on synthetic data.
Negated conditions (NOT, NOT IN, NOT LIKE, !=) constrain nothing and are left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import product

import sqlglot
from sqlglot import exp

from ragtune.sql.schema import Schema
from ragtune.sql.parsing import PARSE_ERRORS

MAX_BRANCHES = 4  # OR branches planted per query (the first ones)

_OPS = {exp.EQ: "=", exp.GT: ">", exp.GTE: ">=", exp.LT: "<", exp.LTE: "<=", exp.NEQ: "!="}
_FLIPPED = {"=": "=", ">": "<", ">=": "<=", "<": ">", "<=": ">=", "!=": "!="}

Value = str | int | float


@dataclass(frozen=True)
class Literal:
    """`table.column <op> value` as a query uses it; op is =, !=, <, <=, >, >=, like, in or between
    (for between, `value` is the low end and `high` the high end)."""

    table: str
    column: str
    op: str
    value: Value
    high: Value | None = None


@dataclass(frozen=True)
class Condition:
    """A literal condition on one alias of a seed."""

    alias: str
    literal: Literal


@dataclass(frozen=True)
class Link:
    """`alias.column = other_alias.other_column` inside a seed."""

    alias: str
    column: str
    other_alias: str
    other_column: str


@dataclass(frozen=True)
class Seed:
    """Rows one query needs: aliases (alias -> table), the equalities joining them, the conditions."""

    aliases: tuple[tuple[str, str], ...]
    links: tuple[Link, ...] = ()
    conditions: tuple[Condition, ...] = ()
    group_by: tuple[tuple[str, str], ...] = ()  # (alias, column) of the GROUP BY, when min_group > 1
    min_group: int = 1  # rows one group needs, from HAVING count(...) > / >= / = n


@dataclass(frozen=True)
class QueryHints:
    """Everything `query_seeds` and `extract_literals` read from one query."""

    seeds: tuple[Seed, ...]
    literals: tuple[Literal, ...]


def parse_sql(sql: str) -> exp.Expression | None:
    """sqlglot's tree of one SQLite query, or None when it does not parse."""
    try:
        tree = sqlglot.parse_one(sql, read="sqlite")
    except PARSE_ERRORS:
        return None
    return tree


def extract_literals(sql: str, schema: Schema) -> list[Literal]:
    """Every literal the query compares a schema column with (negated comparisons included)."""
    return list(query_hints(sql, schema).literals)


def query_seeds(sql: str, schema: Schema) -> list[Seed]:
    """The seeds (linked row tuples with conditions) that make the query return rows."""
    return list(query_hints(sql, schema).seeds)


def query_hints(sql: str, schema: Schema) -> QueryHints:
    """Seeds and literals of one query; a query that does not parse gives none (it is not an error here)."""
    tree = parse_sql(sql)
    if tree is None:
        return QueryHints((), ())
    selects = list(tree.find_all(exp.Select))
    scopes = {id(s): _Scope(s, f"s{i}", schema) for i, s in enumerate(selects)}
    literals: list[Literal] = []
    for scope in scopes.values():
        literals.extend(scope.all_literals)
    groups = _connected_selects(tree, scopes)
    seeds: list[Seed] = []
    for group in groups:
        seeds.extend(_seeds_of_group([scopes[i] for i in group], _cross_links(tree, scopes, group)))
    return QueryHints(tuple(dict.fromkeys(seeds)), tuple(dict.fromkeys(literals)))


# ---------------------------------------------------------------------------------------------
# one SELECT: its sources, literals, links and condition branches


class _Scope:
    """One SELECT: aliases of its FROM/JOIN tables, its literal conditions in DNF, its join links."""

    def __init__(self, select: exp.Select, prefix: str, schema: Schema):
        self.select = select
        self.prefix = prefix
        self.schema = schema
        self.aliases: dict[str, str] = {}  # lower alias -> table name (schema spelling)
        for source in _sources(select):
            table = schema.table(source.name)
            if table is not None:
                self.aliases[source.alias_or_name.lower()] = table.name
        self.all_literals: list[Literal] = []
        conditions = [j.args.get("on") for j in select.args.get("joins") or ()]
        where = select.args.get("where")
        conditions.append(where.this if where is not None else None)
        self.branches: list[tuple[list[Condition], list[Link]]] = [([], [])]
        for cond in conditions:
            if cond is not None:
                self.branches = _and(self.branches, self._dnf(cond))
        having = select.args.get("having")
        self.min_group = 1
        self.group_by: list[tuple[str, str]] = []
        if having is not None:
            self._dnf(having.this)  # literals only
            self.min_group = _min_group(having.this)
            group = select.args.get("group")
            keys = [self.resolve(e) for e in (group.expressions if group is not None else ())]
            self.group_by = [(self.name(k[0]), k[1]) for k in keys if k]

    def resolve(self, node: exp.Expression) -> tuple[str, str] | None:
        """(alias, column name) of a column node in this scope, or None (unknown or not a column)."""
        if not isinstance(node, exp.Column):
            return None
        qualifier = node.table.lower()
        if qualifier:
            table = self.aliases.get(qualifier)
            col = self.schema.table(table).column(node.name) if table else None
            return (qualifier, col.name) if col else None
        for alias, table in self.aliases.items():
            col = self.schema.table(table).column(node.name)
            if col is not None:
                return alias, col.name
        return None

    def name(self, alias: str) -> str:
        """The seed-wide alias name (prefixed by the SELECT's number, so two SELECTs never clash)."""
        return f"{self.prefix}.{alias}"

    def projections(self) -> list[tuple[str, str] | None]:
        """(alias, column) of each selected expression that is a plain column, None for the others."""
        return [self.resolve(s.unalias() if isinstance(s, exp.Alias) else s) for s in self.select.selects]

    def _dnf(self, node: exp.Expression) -> list[tuple[list[Condition], list[Link]]]:
        """The condition as OR-branches of AND-ed literal conditions and links (negations dropped)."""
        if isinstance(node, exp.Paren):
            return self._dnf(node.this)
        if isinstance(node, exp.And):
            return _and(self._dnf(node.left), self._dnf(node.right))
        if isinstance(node, exp.Or):
            return (self._dnf(node.left) + self._dnf(node.right))[:MAX_BRANCHES]
        if isinstance(node, exp.Not) or node.args.get("negate"):  # sqlglot writes NOT LIKE as Like(negate=True)
            self._leaf(node.this if isinstance(node, exp.Not) else node)  # record its literals, require nothing
            return [([], [])]
        conds, links = self._leaf(node)
        if any(c.literal.op == "!=" for c in conds):
            return [([], links)]
        return [(conds, links)]

    def _leaf(self, node: exp.Expression) -> tuple[list[Condition], list[Link]]:
        """Conditions and links of one comparison; records its literals."""
        found: list[tuple[tuple[str, str], str, Value, Value | None]] = []
        links: list[Link] = []
        if type(node) in _OPS:
            op = _OPS[type(node)]
            left, right = node.this, node.expression
            lcol, rcol = self.resolve(left), self.resolve(right)
            if lcol and rcol:
                if op == "=" and lcol != rcol:
                    links.append(Link(self.name(lcol[0]), lcol[1], self.name(rcol[0]), rcol[1]))
            elif lcol and (v := self._value(right)) is not None:
                found.append((lcol, op, v, None))
            elif rcol and (v := self._value(left)) is not None:
                found.append((rcol, _FLIPPED[op], v, None))
        elif isinstance(node, (exp.Like, exp.ILike)):
            col, v = self.resolve(node.this), self._value(node.expression)
            if col and isinstance(v, str):
                found.append((col, "like", v, None))
        elif isinstance(node, exp.In) and not node.args.get("query"):
            col = self.resolve(node.this)
            values = [v for v in map(self._value, node.expressions) if v is not None]
            if col:
                found.extend((col, "in", v, None) for v in values)
        elif isinstance(node, exp.Between):
            col = self.resolve(node.this)
            low, high = self._value(node.args.get("low")), self._value(node.args.get("high"))
            if col and low is not None and high is not None:
                found.append((col, "between", low, high))
        conds = []
        for (alias, column), op, value, high in found:
            lit = Literal(self.aliases[alias], column, op, value, high)
            self.all_literals.append(lit)
            conds.append(Condition(self.name(alias), lit))
        if conds and conds[0].literal.op == "in":
            conds = conds[:1]  # one row needs only one of the IN values; all are recorded as literals
        return conds, links

    def _value(self, node: exp.Expression | None) -> Value | None:
        """A literal's Python value: strings, numbers, negative numbers, Spider's "double-quoted" strings."""
        if isinstance(node, exp.Paren):
            node = node.this
        if isinstance(node, exp.Neg) and isinstance(node.this, exp.Literal) and not node.this.is_string:
            v = _number(node.this.this)
            return -v if v is not None else None
        if isinstance(node, exp.Literal):
            return node.this if node.is_string else _number(node.this)
        if isinstance(node, exp.Column) and not node.table and node.this.quoted and self.resolve(node) is None:
            return node.name
        return None


def _sources(select: exp.Select) -> list[exp.Table]:
    """The tables named in a SELECT's FROM and JOINs (subqueries are their own scopes)."""
    out = []
    from_ = select.args.get("from_")
    items = [from_.this] if from_ is not None else []
    items += [j.this for j in select.args.get("joins") or ()]
    for item in items:
        if isinstance(item, exp.Table):
            out.append(item)
    return out


def _and(left: list, right: list) -> list:
    """AND of two DNFs: every pair of branches, joined (capped at MAX_BRANCHES)."""
    return [(a + c, b + d) for (a, b), (c, d) in product(left, right)][:MAX_BRANCHES]


def _number(text: str) -> int | float | None:
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return None


# ---------------------------------------------------------------------------------------------
# SELECTs that must hold together: INTERSECT sides, `x IN (SELECT y ...)`


def _positive_pairs(tree: exp.Expression, scopes: dict[int, _Scope]) -> list[tuple[_Scope, _Scope, Link | None]]:
    """(outer, inner, link) for SELECT pairs whose rows must match: INTERSECT sides and IN-subqueries."""
    pairs = []
    for node in tree.find_all(exp.Intersect):
        left, right = node.left, node.right
        if isinstance(left, exp.Select) and isinstance(right, exp.Select):
            a, b = scopes[id(left)], scopes[id(right)]
            pairs_found = [(pa, pb) for pa, pb in zip(a.projections(), b.projections()) if pa and pb]
            for pa, pb in pairs_found:
                pairs.append((a, b, Link(a.name(pa[0]), pa[1], b.name(pb[0]), pb[1])))
            if not pairs_found:
                pairs.append((a, b, None))
    for node in tree.find_all(exp.In):
        query = node.args.get("query")
        if query is None or isinstance(node.parent, exp.Not):
            continue
        inner = query.this if isinstance(query, exp.Subquery) else query
        outer_select = node.find_ancestor(exp.Select)
        if not isinstance(inner, exp.Select) or outer_select is None or id(outer_select) not in scopes:
            continue
        a, b = scopes[id(outer_select)], scopes[id(inner)]
        projections = b.projections()
        ca, pb = a.resolve(node.this), projections[0] if projections else None
        link = Link(a.name(ca[0]), ca[1], b.name(pb[0]), pb[1]) if ca and pb else None
        pairs.append((a, b, link))
    return pairs


def _connected_selects(tree: exp.Expression, scopes: dict[int, _Scope]) -> list[list[int]]:
    """Groups of SELECTs (by id) joined by positive pairs; every other SELECT is a group of its own."""
    parent = {k: k for k in scopes}

    def find(k: int) -> int:
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    for a, b, _ in _positive_pairs(tree, scopes):
        parent[find(id(a.select))] = find(id(b.select))
    groups: dict[int, list[int]] = {}
    for k in scopes:
        groups.setdefault(find(k), []).append(k)
    return list(groups.values())


def _cross_links(tree: exp.Expression, scopes: dict[int, _Scope], group: list[int]) -> list[Link]:
    """Links between the SELECTs of one group."""
    members = set(group)
    return [link for a, b, link in _positive_pairs(tree, scopes)
            if link is not None and id(a.select) in members and id(b.select) in members]


def _seeds_of_group(group: list[_Scope], cross: list[Link]) -> list[Seed]:
    """One seed per combined OR-branch of the group's SELECTs."""
    aliases = tuple((s.name(a), t) for s in group for a, t in s.aliases.items())
    if not aliases:
        return []
    branches: list[tuple[list[Condition], list[Link]]] = [([], list(cross))]
    for scope in group:
        branches = _and(branches, scope.branches)
    grouped = max(group, key=lambda s: s.min_group)
    group_by = tuple(grouped.group_by) if grouped.min_group > 1 else ()
    min_group = grouped.min_group if group_by else 1
    return [Seed(aliases, tuple(dict.fromkeys(links)), tuple(dict.fromkeys(conds)), group_by, min_group)
            for conds, links in branches]


def _min_group(node: exp.Expression) -> int:
    """Rows a group needs for `count(...) > n` (n+1), `>= n` or `= n` (n) anywhere in a HAVING; else 1."""
    need = 1
    for cmp in node.find_all(exp.GT, exp.GTE, exp.EQ):
        left, right = cmp.this, cmp.expression
        if isinstance(left, exp.Count) and isinstance(right, exp.Literal) and not right.is_string:
            n = _number(right.this)
            if isinstance(n, int):
                need = max(need, n + 1 if isinstance(cmp, exp.GT) else n)
    return need
