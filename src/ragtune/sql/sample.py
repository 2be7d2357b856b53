"""SQL sampled from a schema and its rows: the first half of `generate sql --mode describe`.

Back-translation for text-to-SQL: a program writes the SQL, so every query names real tables and columns,
joins along declared foreign keys and compares columns with values that are in the database; an LLM then
only has to say in words what one given query asks (SQL-to-question is much easier for a small model than
question-to-SQL). `sample_queries(schema, values, n, seed)` draws `n` distinct queries from a fixed set of
Spider-style shapes (counts, filters, aggregates, ORDER BY ... LIMIT, GROUP BY / HAVING, joins with T1 / T2
aliases, NOT IN subqueries); `column_values(db, schema)` reads the values the filters draw from. The queries
are not run here: `generate_sql` runs each one in the sandbox and keeps it only when it returns rows.
"""

from __future__ import annotations

import random
import re
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ragtune.errors import InputError
from ragtune.sql.schema import Column, ForeignKey, Schema, Table, connect_read_only, quote_name

__all__ = ["SHAPES", "column_values", "sample_queries", "words"]

Values = Mapping[str, Mapping[str, Sequence[Any]]]  # table -> column -> distinct non-null values


def column_values(db_path: str | Path, schema: Schema, limit: int = 50) -> dict[str, dict[str, list[Any]]]:
    """Up to `limit` distinct non-null values of every column (read-only), the pool that filters draw from."""
    conn = connect_read_only(db_path)
    try:
        out: dict[str, dict[str, list[Any]]] = {}
        for table in schema.tables:
            out[table.name] = {}
            for col in table.columns:
                q = (f"SELECT DISTINCT {quote_name(col.name)} FROM {quote_name(table.name)} "
                     f"WHERE {quote_name(col.name)} IS NOT NULL LIMIT ?")
                try:
                    out[table.name][col.name] = [r[0] for r in conn.execute(q, (limit,)).fetchall()]
                except sqlite3.DatabaseError as e:
                    raise InputError(f"{db_path}: cannot read column '{table.name}.{col.name}' ({e}); "
                                     "does the database match the schema?") from e
        return out
    finally:
        conn.close()


def _literal(value: Any) -> str | None:
    if isinstance(value, bool) or value is None or isinstance(value, bytes):
        return None
    if isinstance(value, (int, float)):
        return repr(value)
    text = str(value)
    if not text.strip() or "\n" in text or len(text) > 60:
        return None
    return "'" + text.replace("'", "''") + "'"


class _Draw:
    """Random choices over one schema and its values."""

    def __init__(self, schema: Schema, values: Values, rng: random.Random):
        self.schema, self.values, self.rng = schema, values, rng
        self._tables = [t for t in schema.tables if any(values.get(t.name, {}).values())]
        self._joins = self._find_joins()

    def tables(self) -> list[Table]:
        """The tables that hold rows."""
        return self._tables

    def cols(self, table: Table, kind: str | None = None, *, keys: bool = True) -> list[Column]:
        """Columns that hold values; `kind` 'number' or 'text'; keys=False leaves out keys and *_id columns."""
        fk = {f.column.lower() for f in table.foreign_keys}
        out = []
        for c in table.columns:
            if not self.values.get(table.name, {}).get(c.name):
                continue
            if kind == "number" and c.kind != "number":
                continue
            if kind == "text" and c.kind != "text":
                continue
            is_key = c.primary_key or c.name.lower() in fk or c.name.lower().endswith("id")
            if not keys and is_key:
                continue
            out.append(c)
        return out

    def pick(self, items: Sequence[Any]) -> Any:
        return self.rng.choice(list(items)) if items else None

    def value(self, table: Table, col: Column) -> str | None:
        pool = [v for v in self.values.get(table.name, {}).get(col.name, ()) if _literal(v) is not None]
        return _literal(self.rng.choice(pool)) if pool else None

    def middle(self, table: Table, col: Column) -> str | None:
        """A value near the median of a numeric column (so `>` keeps about half the rows)."""
        pool = sorted(v for v in self.values.get(table.name, {}).get(col.name, ())
                      if isinstance(v, (int, float)) and not isinstance(v, bool))
        return repr(pool[len(pool) // 2]) if pool else None

    def joins(self) -> list[tuple[Table, ForeignKey, Table]]:
        """(child, foreign key, parent) for every declared foreign key whose tables both hold rows."""
        return self._joins

    def _find_joins(self) -> list[tuple[Table, ForeignKey, Table]]:
        have = {t.name.lower() for t in self._tables}
        out = []
        for t in self._tables:
            for fk in t.foreign_keys:
                parent = self.schema.table(fk.ref_table)
                if parent is not None and parent.name.lower() in have and parent.column(fk.ref_column) is not None:
                    out.append((t, fk, parent))
        return out


q = quote_name  # short, for the SQL templates below


def words(name: str) -> str:
    """A table or column name as words: `HeadOfState` -> 'head of state', `Song_release_year` -> 'song release year'."""
    text = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name).replace("_", " ")
    return " ".join(text.lower().split())


Shape = tuple[str, str]  # (SQL, the question in the sampler's plain wording)


# Each shape returns (SQL, question) or None when the schema has nothing it needs.

def _count(d: _Draw) -> Shape | None:
    t = d.pick(d.tables())
    return (f"SELECT count(*) FROM {q(t.name)}", f"How many {words(t.name)} records are there?") if t else None


def _select_where(d: _Draw) -> Shape | None:
    t = d.pick(d.tables())
    if t is None:
        return None
    a, b = d.pick(d.cols(t, keys=False) or d.cols(t)), d.pick(d.cols(t))
    v = d.value(t, b) if b else None
    if a is None or v is None or a == b:
        return None
    return (f"SELECT {q(a.name)} FROM {q(t.name)} WHERE {q(b.name)} = {v}",
            f"What is the {words(a.name)} of the {words(t.name)} whose {words(b.name)} is {v}?")


def _count_where(d: _Draw) -> Shape | None:
    t = d.pick(d.tables())
    b = d.pick(d.cols(t, "text", keys=False)) if t else None
    v = d.value(t, b) if b else None
    if v is None:
        return None
    return (f"SELECT count(*) FROM {q(t.name)} WHERE {q(b.name)} = {v}",
            f"How many {words(t.name)} records have the {words(b.name)} {v}?")


def _two_columns(d: _Draw) -> Shape | None:
    t = d.pick(d.tables())
    cols = d.cols(t, keys=False) if t else []
    if len(cols) < 2:
        return None
    a, b = d.rng.sample(cols, 2)
    return (f"SELECT {q(a.name)}, {q(b.name)} FROM {q(t.name)}",
            f"List the {words(a.name)} and the {words(b.name)} of every {words(t.name)}.")


def _order_limit(d: _Draw) -> Shape | None:
    t = d.pick(d.tables())
    n = d.pick(d.cols(t, "number", keys=False)) if t else None
    a = d.pick([c for c in d.cols(t, keys=False) if c != n]) if n else None
    if a is None:
        return None
    order = d.pick(["DESC", "ASC"])
    most = "highest" if order == "DESC" else "lowest"
    return (f"SELECT {q(a.name)} FROM {q(t.name)} ORDER BY {q(n.name)} {order} LIMIT 1",
            f"What is the {words(a.name)} of the {words(t.name)} with the {most} {words(n.name)}?")


def _order_all(d: _Draw) -> Shape | None:
    t = d.pick(d.tables())
    n = d.pick(d.cols(t, keys=False)) if t else None
    a = d.pick([c for c in d.cols(t, keys=False) if c != n]) if n else None
    if a is None:
        return None
    order = d.pick(["ASC", "DESC"])
    return (f"SELECT {q(a.name)} FROM {q(t.name)} ORDER BY {q(n.name)} {order}",
            f"List the {words(a.name)} of all {words(t.name)} records, sorted by {words(n.name)} "
            f"{'in ascending order' if order == 'ASC' else 'in descending order'}.")


_FN_WORDS = {"avg": "average", "max": "maximum", "min": "minimum", "sum": "total"}


def _aggregate(d: _Draw) -> Shape | None:
    t = d.pick(d.tables())
    n = d.pick(d.cols(t, "number", keys=False)) if t else None
    if n is None:
        return None
    fns = d.rng.sample(["avg", "max", "min", "sum"], d.pick([1, 2]))
    return (f"SELECT {', '.join(f'{f}({q(n.name)})' for f in fns)} FROM {q(t.name)}",
            f"What {'is' if len(fns) == 1 else 'are'} the {' and the '.join(_FN_WORDS[f] for f in fns)} "
            f"{words(n.name)} over all {words(t.name)} records?")


_CMP_WORDS = {">": "greater than", "<": "less than", ">=": "at least"}


def _greater(d: _Draw) -> Shape | None:
    t = d.pick(d.tables())
    n = d.pick(d.cols(t, "number", keys=False)) if t else None
    a = d.pick([c for c in d.cols(t, keys=False) if c != n]) if n else None
    v = d.middle(t, n) if a else None
    if v is None:
        return None
    op = d.pick(list(_CMP_WORDS))
    return (f"SELECT {q(a.name)} FROM {q(t.name)} WHERE {q(n.name)} {op} {v}",
            f"What is the {words(a.name)} of each {words(t.name)} whose {words(n.name)} is {_CMP_WORDS[op]} {v}?")


def _one_text_column(*forms: tuple[str, str]) -> Callable[[_Draw], Shape | None]:
    """A shape over one text column `b` of one table `t`: one of `forms` ((SQL, question) templates with {t}, {b}
    as SQL names and {tw}, {bw} as words), drawn at random when there are several."""
    def shape(d: _Draw) -> Shape | None:
        t = d.pick(d.tables())
        b = d.pick(d.cols(t, "text", keys=False)) if t else None
        if b is None:
            return None
        sql, question = forms[0] if len(forms) == 1 else d.pick(forms)
        names = {"t": q(t.name), "b": q(b.name), "tw": words(t.name), "bw": words(b.name)}
        return sql.format(**names), question.format(**names)
    return shape


_group_count = _one_text_column(("SELECT {b}, count(*) FROM {t} GROUP BY {b}", "For each {bw}, how many {tw} records are there?"))
_group_top = _one_text_column(("SELECT {b} FROM {t} GROUP BY {b} ORDER BY count(*) DESC LIMIT 1",
                               "Which {bw} do the most {tw} records have?"))
_having = _one_text_column(("SELECT {b} FROM {t} GROUP BY {b} HAVING count(*) >= 2",
                            "Which {bw} values are shared by at least two {tw} records?"))
_distinct = _one_text_column(("SELECT DISTINCT {b} FROM {t}", "List the different {bw} values of {tw}."),
                             ("SELECT count(DISTINCT {b}) FROM {t}", "How many different {bw} values do the {tw} records have?"))


def _group_avg(d: _Draw) -> Shape | None:
    t = d.pick(d.tables())
    b = d.pick(d.cols(t, "text", keys=False)) if t else None
    n = d.pick(d.cols(t, "number", keys=False)) if b else None
    if n is None:
        return None
    fn = d.pick(["avg", "max", "min"])
    return (f"SELECT {q(b.name)}, {fn}({q(n.name)}) FROM {q(t.name)} GROUP BY {q(b.name)}",
            f"For each {words(b.name)}, what is the {_FN_WORDS[fn]} {words(n.name)} of the {words(t.name)} records?")


def _and_filter(d: _Draw) -> Shape | None:
    t = d.pick(d.tables())
    if t is None:
        return None
    b, n = d.pick(d.cols(t, "text", keys=False)), d.pick(d.cols(t, "number", keys=False))
    a = d.pick([c for c in d.cols(t, keys=False) if c not in (b, n)])
    vb = d.value(t, b) if b else None
    vn = d.middle(t, n) if n else None
    if a is None or vb is None or vn is None:
        return None
    return (f"SELECT {q(a.name)} FROM {q(t.name)} WHERE {q(b.name)} = {vb} AND {q(n.name)} > {vn}",
            f"What is the {words(a.name)} of each {words(t.name)} whose {words(b.name)} is {vb} "
            f"and whose {words(n.name)} is greater than {vn}?")


def _join_on(child: Table, fk: ForeignKey, parent: Table) -> str:
    return (f"FROM {q(child.name)} AS T1 JOIN {q(parent.name)} AS T2 "
            f"ON T1.{q(fk.column)} = T2.{q(fk.ref_column)}")


def _join_where(d: _Draw) -> Shape | None:
    link = d.pick(d.joins())
    if link is None:
        return None
    child, fk, parent = link
    child_side = d.rng.random() < 0.5  # select from the child, filter on the parent, or the other way round
    sel, flt, a, b = (child, parent, "T1", "T2") if child_side else (parent, child, "T2", "T1")
    col = d.pick(d.cols(sel, keys=False) or d.cols(sel))
    by = d.pick(d.cols(flt, keys=False))
    v = d.value(flt, by) if by else None
    if col is None or v is None:
        return None
    sql = f"SELECT {a}.{q(col.name)} {_join_on(child, fk, parent)} WHERE {b}.{q(by.name)} = {v}"
    if child_side:
        return sql, (f"What is the {words(col.name)} of each {words(child.name)} whose {words(parent.name)} "
                     f"has the {words(by.name)} {v}?")
    return sql, f"What is the {words(col.name)} of each {words(parent.name)} with a {words(child.name)} whose {words(by.name)} is {v}?"


def _join_columns(d: _Draw) -> Shape | None:
    link = d.pick(d.joins())
    if link is None:
        return None
    child, fk, parent = link
    a, b = d.pick(d.cols(child, keys=False)), d.pick(d.cols(parent, keys=False))
    if a is None or b is None:
        return None
    return (f"SELECT T1.{q(a.name)}, T2.{q(b.name)} {_join_on(child, fk, parent)}",
            f"For every {words(child.name)}, list its {words(a.name)} and the {words(b.name)} of its {words(parent.name)}.")


def _parent_column(d: _Draw) -> tuple[Table, ForeignKey, Table, Column] | None:
    """A foreign key (child, fk, parent) and a non-key column of the parent, or None."""
    link = d.pick(d.joins())
    if link is None:
        return None
    child, fk, parent = link
    b = d.pick(d.cols(parent, keys=False))
    return (child, fk, parent, b) if b is not None else None


def _join_group(d: _Draw) -> Shape | None:
    drawn = _parent_column(d)
    if drawn is None:
        return None
    child, fk, parent, b = drawn
    on, key, c, p, bw = _join_on(child, fk, parent), f"T1.{q(fk.column)}", words(child.name), words(parent.name), words(b.name)
    return d.pick([
        (f"SELECT T2.{q(b.name)}, count(*) {on} GROUP BY {key}", f"For each {p}, what is its {bw} and how many {c} records does it have?"),
        (f"SELECT T2.{q(b.name)} {on} GROUP BY {key} ORDER BY count(*) DESC LIMIT 1",
         f"What is the {bw} of the {p} with the most {c} records?"),
        (f"SELECT T2.{q(b.name)} {on} GROUP BY {key} HAVING count(*) >= 2",
         f"What is the {bw} of each {p} that has at least two {c} records?"),
    ])


def _join_order(d: _Draw) -> Shape | None:
    link = d.pick(d.joins())
    if link is None:
        return None
    child, fk, parent = link
    n = d.pick(d.cols(child, "number", keys=False))
    b = d.pick(d.cols(parent, keys=False))
    if n is None or b is None:
        return None
    order = d.pick(["DESC", "ASC"])
    return (f"SELECT T2.{q(b.name)} {_join_on(child, fk, parent)} ORDER BY T1.{q(n.name)} {order} LIMIT 1",
            f"What is the {words(b.name)} of the {words(parent.name)} of the {words(child.name)} with the "
            f"{'highest' if order == 'DESC' else 'lowest'} {words(n.name)}?")


def _not_in(d: _Draw) -> Shape | None:
    drawn = _parent_column(d)
    if drawn is None:
        return None
    child, fk, parent, b = drawn
    return (f"SELECT {q(b.name)} FROM {q(parent.name)} WHERE {q(fk.ref_column)} NOT IN "
            f"(SELECT {q(fk.column)} FROM {q(child.name)})",
            f"What is the {words(b.name)} of each {words(parent.name)} that has no {words(child.name)} records?")


SHAPES: dict[str, Callable[[_Draw], Shape | None]] = {
    "count": _count, "select where": _select_where, "count where": _count_where, "two columns": _two_columns,
    "order limit": _order_limit, "order": _order_all, "aggregate": _aggregate, "compare": _greater,
    "group count": _group_count, "group top": _group_top, "group aggregate": _group_avg, "having": _having,
    "distinct": _distinct, "and filter": _and_filter, "join where": _join_where, "join columns": _join_columns,
    "join group": _join_group, "join order": _join_order, "not in": _not_in,
}


def sample_queries(schema: Schema, values: Values, n: int, seed: int = 0, *, tries: int = 20) -> list[tuple[str, str, str]]:
    """`n` distinct (shape, SQL, plain question) triples, shapes taken in turn from a seeded shuffle (fewer when
    the schema runs out). The question is the sampler's literal wording of the SQL (values quoted as in the SQL);
    `generate sql --mode describe` asks the LLM to say it as a user would."""
    rng = random.Random(seed)
    draw = _Draw(schema, values, rng)
    names = list(SHAPES)
    out: list[tuple[str, str, str]] = []
    seen: set[str] = set()
    misses = 0
    while len(out) < n and misses < tries * len(names):
        rng.shuffle(names)
        added = 0
        for name in names:
            if len(out) >= n:
                break
            drawn = SHAPES[name](draw)
            if drawn is None or drawn[0] in seen:
                misses += 1
                continue
            seen.add(drawn[0])
            out.append((name, *drawn))
            added += 1
        if not added:
            misses += len(names)
    return out
