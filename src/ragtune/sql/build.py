"""Build SQLite databases from a `Schema`, filled with seeded synthetic rows that gold queries can match.

No Spider `.sqlite` files ship, so gold and predicted queries are run on databases built here. As in
test-suite accuracy (Zhong, Yu and Klein 2020, "Semantic Evaluation for Text-to-SQL with Distilled
Test Suites") each schema gets several fills (default 3, different seeds); a prediction is correct
on the test suite only when it matches the gold query on every fill.

How a fill is made (`generate_rows`):
- columns that hold the same values are grouped: declared foreign keys and the column equalities the
  gold queries join on (`ragtune.sql.hints`). Each group has a root (a primary/unique key when there
  is one); the root gets fresh values and every other member draws from the root's rows, so a foreign
  key always points at an existing parent row and joins find partners. Draws are skewed (some parents
  have many children, many have none) so GROUP BY ... HAVING count(*) > n and NOT IN both find rows;
- values are type-aware (`number`, `text`, `time`, `boolean`, `others`): numbers in a range that
  straddles every literal the queries compare the column with (v-1, v, v+1 are included), dates and
  years in the format of the query's date literals, pseudo-words for text; the literals themselves
  (`country = 'France'`, `IN (...)`, `LIKE '%a%'` made concrete) are put into the column;
- primary keys (also composite ones) and UNIQUE columns stay unique; tables are filled parents first;
- then each gold query's seed is planted: one row per alias, linked along its joins (copying key
  values), with its AND-ed conditions made true, so `WHERE a = 'x' AND b > 3` across a join has a row;
- fills after the first leave 5% of plain cells NULL, to tell `count(col)` from `count(*)`.

Built files are cached under `ragtune_home()/sql/<key>/<db_id>/fill<k>.sqlite` (k = 0, 1, ...), where
`key` hashes the schema, the seeds and literals, the seed, the fill and row counts and the source of the
builder (build.py, hints.py, schema.py), so changed code never reuses old files; the
folder is built under a file lock in a temp folder renamed into place, and reused afterwards.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import sqlite3
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from ragtune.errors import InputError
from ragtune.sql.hints import Literal, Seed, query_hints
from ragtune.sql.schema import Column, Schema, Table, create_table_sql, quote_name

BUILDER_VERSION = 1
DEFAULT_FILLS = 3
DEFAULT_ROWS = 30
NULL_SHARE = 0.05
MAX_GROUP_ROWS = 120  # a table grows to fit HAVING count(*) > n up to this many rows

_Key = tuple[str, str]  # (lower table, lower column)
_SYLLABLES = [c + v for c in "bcdfghklmnprstvz" for v in "aeiou"]
_FLOAT_HINTS = ("price", "cost", "rate", "ratio", "percent", "weight", "height", "score", "amount",
                "gpa", "rating", "latitude", "longitude", "lat", "long", "avg", "average", "share", "money")


@dataclass
class FillCoverage:
    """How many gold queries return rows on at least one fill; failures and empty ones listed."""

    total: int
    non_empty: int  # non-empty on at least one fill
    empty: int  # runs, but empty on every fill
    failed: int  # fails to execute on every fill
    non_empty_first: int  # non-empty on fill 0 (the execution-accuracy database)
    non_empty_all: int  # non-empty on every fill
    fills: int
    rows: int
    build_s: float
    run_s: float
    failures: list[dict[str, str]] = field(default_factory=list)
    empty_queries: list[dict[str, str]] = field(default_factory=list)

    @property
    def share_non_empty(self) -> float:
        """non_empty / total (0 for no queries)."""
        return self.non_empty / self.total if self.total else 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, with the share."""
        return {**asdict(self), "share_non_empty": round(self.share_non_empty, 4)}


# ---------------------------------------------------------------------------------------------
# public entry points


def build_databases(schema: Schema, queries: Iterable[str] = (), *, fills: int = DEFAULT_FILLS,
                    rows: int = DEFAULT_ROWS, seed: int = 0, cache_root: str | Path | None = None) -> list[Path]:
    """Paths of `fills` SQLite files for `schema`, built once (cached) with rows planted for `queries`.

    `queries` are gold SQL strings over this schema (their literals and joins guide the fill). Same
    inputs, same files: the cache key hashes everything that changes the content.
    """
    from filelock import FileLock

    from ragtune.assets import ragtune_home
    from ragtune.io import atomic_dir

    if fills < 1 or rows < 1:
        raise InputError(f"build_databases: fills and rows must be at least 1 (got fills={fills}, rows={rows}).")
    seeds, literals = _hints(schema, queries)
    key = cache_key(schema, seeds, literals, fills=fills, rows=rows, seed=seed)
    folder = Path(cache_root or ragtune_home() / "sql") / key / _safe_name(schema.db_id)
    paths = [folder / f"fill{k}.sqlite" for k in range(fills)]
    if all(p.exists() for p in paths):
        return paths
    folder.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(folder) + ".lock"):
        if all(p.exists() for p in paths):
            return paths
        with atomic_dir(folder) as tmp:
            for k in range(fills):
                rng = random.Random(f"{seed}:{schema.db_id}:{k}")
                table_rows = generate_rows(schema, seeds, literals, rows=rows, rng=rng, null_share=NULL_SHARE if k else 0.0)
                write_sqlite(tmp / f"fill{k}.sqlite", schema, table_rows)
            (tmp / "schema.json").write_text(json.dumps(schema.to_dict(), indent=1), encoding="utf-8")
    return paths


def cache_key(schema: Schema, seeds: Sequence[Seed], literals: Sequence[Literal], *, fills: int, rows: int,
              seed: int) -> str:
    """The first 16 hex digits of the sha256 of everything a build depends on."""
    payload = json.dumps({"schema": schema.to_dict(), "seeds": [asdict(s) for s in seeds],
                          "literals": [asdict(x) for x in literals], "fills": fills, "rows": rows, "seed": seed,
                          "version": BUILDER_VERSION, "code": _builder_code_hash()},
                         sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]


def fill_coverage(pairs: Iterable[tuple[str, str]], schemas: Mapping[str, Schema], *, fills: int = DEFAULT_FILLS,
                  rows: int = DEFAULT_ROWS, seed: int = 0, timeout_s: float = 2.0,
                  cache_root: str | Path | None = None) -> FillCoverage:
    """Over (db_id, gold query) pairs: how many return a non-empty result on at least one fill, and how
    many fail to execute on every fill (with the error). Databases are built from all queries of a db."""
    from ragtune.sql.sandbox import SqlSandbox

    pairs = list(pairs)
    by_db: dict[str, list[str]] = defaultdict(list)
    for db_id, sql in pairs:
        if db_id not in schemas:
            raise InputError(f"fill_coverage: db_id '{db_id}' has no schema; known: {', '.join(sorted(schemas)[:10])}...")
        by_db[db_id].append(sql)
    t0 = time.perf_counter()
    paths = {db: build_databases(schemas[db], qs, fills=fills, rows=rows, seed=seed, cache_root=cache_root)
             for db, qs in by_db.items()}
    build_s = time.perf_counter() - t0
    non_empty = failed = first = every = 0
    failures, empties = [], []
    t1 = time.perf_counter()
    boxes = {db: [SqlSandbox(p, timeout_s=timeout_s) for p in ps] for db, ps in paths.items()}
    try:
        for db_id, sql in pairs:
            results = [box.run(sql) for box in boxes[db_id]]
            first += bool(results[0].ok and results[0].rows)
            every += all(r.ok and r.rows for r in results)
            if any(r.ok and r.rows for r in results):
                non_empty += 1
            elif all(not r.ok for r in results):
                failed += 1
                failures.append({"db_id": db_id, "query": sql, "error": results[0].error})
            else:
                empties.append({"db_id": db_id, "query": sql})
    finally:
        for bs in boxes.values():
            for b in bs:
                b.close()
    run_s = time.perf_counter() - t1
    return FillCoverage(len(pairs), non_empty, len(pairs) - non_empty - failed, failed, first, every, fills, rows,
                        round(build_s, 3), round(run_s, 3), failures, empties)


def write_sqlite(path: str | Path, schema: Schema, table_rows: Mapping[str, list[list[Any]]]) -> Path:
    """Create a SQLite file at `path` with the schema's tables (its rendered DDL) and the given rows."""
    path = Path(path)
    path.unlink(missing_ok=True)
    conn = sqlite3.connect(path)
    try:
        for table in schema.tables:
            conn.execute(create_table_sql(table))
            data = table_rows.get(table.name, [])
            if data:
                marks = ", ".join("?" * len(table.columns))
                conn.executemany(f"INSERT OR IGNORE INTO {quote_name(table.name)} VALUES ({marks})", data)
        conn.commit()
    except sqlite3.DatabaseError as e:
        raise InputError(f"cannot build database '{schema.db_id}' at {path}: {e}") from e
    finally:
        conn.close()
    return path


def _builder_code_hash() -> str:
    """sha256 of the source of this module, the hint extractor and the schema renderer (its DDL is
    what builds the tables): any change to how fills are made gives new cache folders instead of
    silently reusing files built by older code."""
    from ragtune.sql import hints, schema

    digest = hashlib.sha256()
    for module_file in (__file__, hints.__file__, schema.__file__):
        digest.update(Path(module_file).read_bytes())
    return digest.hexdigest()[:16]


def _hints(schema: Schema, queries: Iterable[str]) -> tuple[list[Seed], list[Literal]]:
    """All seeds and literals of the queries, duplicates removed, order kept."""
    seeds: dict[Seed, None] = {}
    literals: dict[Literal, None] = {}
    for sql in queries:
        h = query_hints(sql, schema)
        seeds.update(dict.fromkeys(h.seeds))
        literals.update(dict.fromkeys(h.literals))
    return list(seeds), list(literals)


def _safe_name(name: str) -> str:
    """A folder name for a db_id (path separators and odd characters replaced)."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name) or "db"


# ---------------------------------------------------------------------------------------------
# generation


def generate_rows(schema: Schema, seeds: Sequence[Seed] = (), literals: Sequence[Literal] = (), *, rows: int = DEFAULT_ROWS,
                  rng: random.Random | None = None, null_share: float = 0.0) -> dict[str, list[list[Any]]]:
    """Rows for every table of `schema` (table name -> rows in column order); see the module docstring."""
    rng = rng or random.Random(0)
    return _Filler(schema, seeds, literals, rows, rng, null_share).run()


class _Filler:
    """One fill of one schema: value groups, row counts, column values, planted seeds."""

    def __init__(self, schema: Schema, seeds: Sequence[Seed], literals: Sequence[Literal], rows: int,
                 rng: random.Random, null_share: float):
        self.schema, self.seeds, self.rng, self.null_share = schema, list(seeds), rng, null_share
        self.tables = {t.name.lower(): t for t in schema.tables}
        self.columns: dict[_Key, Column] = {(t.name.lower(), c.name.lower()): c for t in schema.tables for c in t.columns}
        self.literals: dict[_Key, list[Literal]] = defaultdict(list)
        for lit in literals:
            self.literals[(lit.table.lower(), lit.column.lower())].append(lit)
        self.fk_parents: dict[_Key, list[_Key]] = defaultdict(list)
        for t in schema.tables:
            for fk in t.foreign_keys:
                child, parent = (t.name.lower(), fk.column.lower()), (fk.ref_table.lower(), fk.ref_column.lower())
                if child in self.columns and parent in self.columns and child != parent:
                    self.fk_parents[child].append(parent)
        self.fk_parent = {child: parents[0] for child, parents in self.fk_parents.items()}
        self.referenced = {p for parents in self.fk_parents.values() for p in parents}
        self.group = self._groups()
        self.order = self._table_order()
        self.count = {t: max(3, round(rows * rng.uniform(0.8, 1.2))) for t in self.tables}
        for s in self.seeds:  # room for the largest group a HAVING count(*) asks for
            for _, table in s.aliases if s.min_group > 1 else ():
                t = table.lower()
                if t in self.count:
                    self.count[t] = max(self.count[t], min(s.min_group + 3, MAX_GROUP_ROWS))
        self.data: dict[str, list[list[Any]]] = {}
        self.root_values: dict[_Key, list[Any]] = {}
        self.planted: set[tuple[str, int]] = set()  # rows an earlier seed chose: later seeds avoid them

    # --- structure

    def _groups(self) -> dict[_Key, _Key]:
        """column -> its group's root column; groups join FK ends and query join links."""
        parent: dict[_Key, _Key] = {k: k for k in self.columns}

        def find(k: _Key) -> _Key:
            while parent[k] != k:
                parent[k] = parent[parent[k]]
                k = parent[k]
            return k

        for a, b in self._edges():
            ra, rb = find(a), find(b)
            if ra != rb:
                parent[ra] = rb
        members: dict[_Key, list[_Key]] = defaultdict(list)
        for k in self.columns:
            members[find(k)].append(k)
        root_of: dict[_Key, _Key] = {}
        for group in members.values():
            root = min(group, key=lambda k: (not self._unique(k), self._depth(k[0]), k))
            for k in group:
                root_of[k] = root
        return root_of

    def _edges(self) -> list[tuple[_Key, _Key]]:
        """Column pairs that must share values: declared foreign keys and the queries' join links."""
        edges = []
        for t in self.schema.tables:
            for fk in t.foreign_keys:
                a, b = (t.name.lower(), fk.column.lower()), (fk.ref_table.lower(), fk.ref_column.lower())
                if a in self.columns and b in self.columns:
                    edges.append((a, b))
        for s in self.seeds:
            tables = {alias: table.lower() for alias, table in s.aliases}
            for link in s.links:
                a, b = (tables[link.alias], link.column.lower()), (tables[link.other_alias], link.other_column.lower())
                if a in self.columns and b in self.columns:
                    edges.append((a, b))
        return edges

    def _unique(self, key: _Key) -> bool:
        """Whether values of this column must be unique (single-column primary key or UNIQUE)."""
        col = self.columns[key]
        return col.unique or (col.primary_key and len(self.tables[key[0]].primary_key) == 1)

    def _depth(self, table: str) -> int:
        """How many foreign-key hops lead up from `table` (0 for a table with no parents; cycles cut)."""
        seen, frontier, depth = {table}, [table], 0
        while frontier and depth < len(self.tables):
            nxt = [fk.ref_table.lower() for t in frontier for fk in self.tables[t].foreign_keys
                   if fk.ref_table.lower() in self.tables and fk.ref_table.lower() not in seen]
            if not nxt:
                break
            seen.update(nxt)
            frontier, depth = nxt, depth + 1
        return depth

    def _table_order(self) -> list[str]:
        """Tables parents first (foreign keys), cycles broken at the table with fewest open parents."""
        parents = {t: {fk.ref_table.lower() for fk in tab.foreign_keys if fk.ref_table.lower() in self.tables} - {t}
                   for t, tab in self.tables.items()}
        order: list[str] = []
        left = list(self.tables)
        while left:
            ready = [t for t in left if not parents[t] - set(order)]
            pick = ready[0] if ready else min(left, key=lambda t: len(parents[t] - set(order)))
            order.append(pick)
            left.remove(pick)
        return order

    # --- values

    def run(self) -> dict[str, list[list[Any]]]:
        """Fill every table, plant the seeds, blank a few cells; table name -> rows."""
        self._fit_counts()
        for t in self.order:
            self.data[t] = self._fill_table(self.tables[t])
        seeds = list(self.seeds)
        self.rng.shuffle(seeds)
        for s in seeds:
            self._plant(s)
        if self.null_share:
            self._blank_cells()
        return {self.tables[t].name: rows for t, rows in self.data.items()}

    def _fit_counts(self) -> None:
        """A table with a unique column drawn from another table's key gets fewer rows than that table
        (80%: it cannot have more, and some parents should have no child, for NOT IN / EXCEPT)."""
        for _ in range(len(self.tables)):
            changed = False
            for key in self.columns:
                root = self.group[key]
                limit = max(1, round(self.count[root[0]] * 0.8))
                if root != key and self._unique(key) and root[0] != key[0] and self.count[key[0]] > limit:
                    self.count[key[0]] = limit
                    changed = True
            if not changed:
                break

    def _fill_table(self, table: Table) -> list[list[Any]]:
        """Rows of one table, column by column; composite primary keys made unique afterwards."""
        t = table.name.lower()
        n = self.count[t]
        cols = [self._column_values((t, c.name.lower()), n) for c in table.columns]
        rows = [list(r) for r in zip(*cols)] if cols else [[] for _ in range(n)]
        self._joint_foreign_keys(t, rows)
        pk = [i for i, c in enumerate(table.columns) if c.primary_key]
        if len(pk) > 1:
            rows = self._unique_tuples(table, rows, pk)
        return rows

    def _joint_foreign_keys(self, t: str, rows: list[list[Any]]) -> None:
        """Columns referencing several columns of one parent table (a composite foreign key) are copied
        together from one parent row, so the pair exists in the parent."""
        by_parent: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for i, c in enumerate(self.tables[t].columns):
            parent = self.fk_parent.get((t, c.name.lower()))
            if parent and parent[0] != t and parent[0] in self.data and not self._unique((t, c.name.lower())):
                by_parent[parent[0]].append((i, self._col_index(parent[0], parent[1])))
        for parent_table, pairs in by_parent.items():
            if len({j for _, j in pairs}) < 2 or not self.data[parent_table]:
                continue
            for row in rows:
                source = self.rng.choice(self.data[parent_table])
                for i, j in pairs:
                    row[i] = source[j]

    def _column_values(self, key: _Key, n: int) -> list[Any]:
        """n values for one column: the root's fresh values, or draws from its parent's (or root's) values."""
        root = self.group[key]
        if root == key:
            return self._root(root)[:n]
        values = self._source_values(key)
        if self._unique(key):
            return self.rng.sample(values, min(n, len(values)))
        present = set(values)
        must = [v for v in (self._coerce(root, x) for x in self._required(key)) if v in present]
        return self._skewed_draw(values, n, must[: n // 2])

    def _source_values(self, key: _Key) -> list[Any]:
        """The values a non-root column draws from: its foreign-key parent's rows when that table is
        filled already (so chains of foreign keys hold), else its group root's values."""
        values: list[Any] | None = None
        for parent in self.fk_parents.get(key, ()):  # several parents: values all of them have
            if parent[0] in self.data:
                j = self._col_index(parent[0], parent[1])
                these = list(dict.fromkeys(r[j] for r in self.data[parent[0]] if r[j] is not None))
                kept = these if values is None else [v for v in values if v in set(these)]
                values = kept or values
        return values or self._root(self.group[key])

    def _root(self, root: _Key) -> list[Any]:
        """The values of a group's root column (made once): unique keys distinct, others from a small pool."""
        if root in self.root_values:
            return self.root_values[root]
        n = self.count[root[0]]
        required = self._required_group(root)
        if self._unique(root):
            values = list(dict.fromkeys(required))[:n]
            values += self._fresh(root, n - len(values), exclude=set(values))
            self.rng.shuffle(values)
        else:
            distinct = round(n * 0.8) if "name" in root[1] else n // 3  # names mostly differ, categories repeat
            pool = list(dict.fromkeys(required)) + self._fresh(root, max(3, distinct), exclude=set(required))
            values = self._skewed_draw(pool, n, list(dict.fromkeys(required))[: n // 2])
        self.root_values[root] = values
        return values

    def _required(self, key: _Key) -> list[Any]:
        """Values the queries need in this column (its literals made concrete)."""
        col = self.columns[key]
        out: list[Any] = []
        for lit in self.literals.get(key, ()):
            out.extend(_literal_values(lit, col, self.rng))
        return out

    def _required_group(self, root: _Key) -> list[Any]:
        """Values needed anywhere in the root's group (a literal on a foreign key must exist in the parent)."""
        out: list[Any] = []
        for key, r in self.group.items():
            if r == root:
                out.extend(self._coerce(root, v) for v in self._required(key))
        return [v for v in out if v is not None]

    def _coerce(self, key: _Key, value: Any) -> Any:
        """A value in the form the column stores (numbers for number columns when they parse)."""
        if self.columns[key].kind == "number" and isinstance(value, str):
            num = _to_number(value)
            return num if num is not None else value
        return value

    def _skewed_draw(self, pool: list[Any], n: int, must: list[Any]) -> list[Any]:
        """n draws from `pool`, every value of `must` at least once, the rest skewed (weights 1/rank^0.7)."""
        if not pool:
            return [None] * n
        order = list(pool)
        self.rng.shuffle(order)
        weights = [1.0 / (i + 1) ** 0.7 for i in range(len(order))]
        out = list(must[:n]) + self.rng.choices(order, weights=weights, k=max(0, n - len(must)))
        self.rng.shuffle(out)
        return out

    def _fresh(self, key: _Key, n: int, exclude: set) -> list[Any]:
        """n new distinct values of the column's kind, shaped by its literals and name, not in `exclude`."""
        col = self.columns[key]
        group_lits = [lit for k, r in self.group.items() if r == self.group[key] for lit in self.literals.get(k, ())]
        make = _value_maker(col, group_lits, self._unique(key), self.rng)
        out: list[Any] = []
        seen = set(exclude)
        tries = 0
        while len(out) < n and tries < n * 50:
            tries += 1
            v = make()
            if v not in seen:
                seen.add(v)
                out.append(v)
        i = 0
        while len(out) < n:  # the kind's space ran out (e.g. booleans): numbered fallbacks
            i += 1
            v = f"{col.name} {i}" if col.kind != "number" else 10_000 + i
            if v not in seen:
                seen.add(v)
                out.append(v)
        return out

    def _unique_tuples(self, table: Table, rows: list[list[Any]], pk: list[int]) -> list[list[Any]]:
        """Drop rows whose composite key repeats one already kept (after trying other draws for it)."""
        kept, seen = [], set()
        pools = [list(dict.fromkeys(r[i] for r in rows)) for i in pk]  # ordered: same seed, same rows
        for row in rows:
            for _ in range(20):
                key = tuple(row[i] for i in pk)
                if key not in seen:
                    break
                j = self.rng.randrange(len(pk))
                row[pk[j]] = self.rng.choice(pools[j])
            key = tuple(row[i] for i in pk)
            if key not in seen:
                seen.add(key)
                kept.append(row)
        return kept

    # --- planting seeds

    def _plant(self, seed: Seed) -> None:
        """Make one seed's rows exist; for HAVING count(*) > n, n more row tuples in the same group."""
        tables = {a: t.lower() for a, t in seed.aliases if t.lower() in self.data}
        if not tables or any(not self.data[t] for t in tables.values()):
            return
        used: dict[str, set[int]] = defaultdict(set)
        first = self._plant_once(seed, tables, {}, used)
        self.planted.update((tables[a], r) for a, r in first.items())
        pins: dict[str, list[Literal]] = defaultdict(list)
        for alias, column in seed.group_by:
            if alias in first:
                t = tables[alias]
                value = self.data[t][first[alias]][self._col_index(t, column)]
                pins[alias].append(Literal(self.tables[t].name, column, "=", value))
        if pins:
            for _ in range(seed.min_group - 1):
                more = self._plant_once(seed, tables, pins, used)
                self.planted.update((tables[a], r) for a, r in more.items())

    def _plant_once(self, seed: Seed, tables: dict[str, str], pins: dict[str, list[Literal]],
                    used: dict[str, set[int]]) -> dict[str, int]:
        """One row per alias, joined along the seed's links, conditions (and pins) true; alias -> row."""
        conds: dict[str, list] = defaultdict(list)
        for alias, lits in pins.items():
            conds[alias].extend(lits)
        for c in seed.conditions:
            if c.alias in tables:
                conds[c.alias].append(c.literal)
        row: dict[str, int] = {}
        for alias in tables:  # aliases pinned by a condition on a unique column
            for lit in conds[alias]:
                idx = self._row_with_unique(tables[alias], lit)
                if idx is not None:
                    row[alias] = idx
                    used[tables[alias]].add(idx)
                    break
        start = next(iter(row), None) or next((a for a in tables if conds[a]), next(iter(tables)))
        queue = [start]
        if start not in row:
            self._assign(start, tables, row, used, conds)
        queue += [a for a in row if a != start]
        links = [lk for lk in seed.links if lk.alias in tables and lk.other_alias in tables]
        while queue:
            a = queue.pop(0)
            for lk in links:
                for here, col, there, other in ((lk.alias, lk.column, lk.other_alias, lk.other_column),
                                                (lk.other_alias, lk.other_column, lk.alias, lk.column)):
                    if here != a:
                        continue
                    if there not in row:
                        self._follow(here, col, there, other, tables, row, used, conds)
                        queue.append(there)
                    else:  # both rows chosen already: copy the value over when the column allows it
                        self._copy(here, col, there, other, tables, row)
        for alias in tables:
            if alias not in row:
                self._assign(alias, tables, row, used, conds)
        return row

    def _row_with_unique(self, table: str, lit: Literal) -> int | None:
        """Index of the row holding the literal's value in a unique column (for = and IN), if any."""
        key = (table, lit.column.lower())
        if key not in self.columns or not self._unique(key) or lit.op not in ("=", "in"):
            return None
        i = self._col_index(table, lit.column)
        want = self._coerce(key, lit.value)
        return next((r for r, values in enumerate(self.data[table]) if values[i] == want), None)

    def _assign(self, alias: str, tables: dict[str, str], row: dict[str, int], used: dict[str, set[int]],
                conds: dict[str, list]) -> None:
        """Give an alias a row not yet used by this seed (if possible) and make its conditions true."""
        t = tables[alias]
        everything = range(len(self.data[t]))
        free = [i for i in everything if i not in used[t]] or list(everything)
        row[alias] = self.rng.choice([i for i in free if (t, i) not in self.planted] or free)
        used[t].add(row[alias])
        self._satisfy(t, row[alias], conds[alias])

    def _follow(self, here: str, col: str, there: str, other: str, tables: dict[str, str], row: dict[str, int],
                used: dict[str, set[int]], conds: dict[str, list]) -> None:
        """Choose the row for `there` so that there.other = here.col (the row holding it, or a copied value)."""
        value = self.data[tables[here]][row[here]][self._col_index(tables[here], col)]
        t = tables[there]
        key = (t, other.lower())
        j = self._col_index(t, other)
        if self._unique(key):
            match = next((r for r, vals in enumerate(self.data[t]) if vals[j] == value), None)
            if match is not None:
                row[there] = match
                used[t].add(match)
                self._satisfy(t, match, conds[there])
                return
        else:
            already = [r for r, vals in enumerate(self.data[t]) if vals[j] == value and r not in used[t]]
            if already:  # a row that already joins keeps the skewed spread of foreign keys
                row[there] = self.rng.choice([r for r in already if (t, r) not in self.planted] or already)
                used[t].add(row[there])
                self._satisfy(t, row[there], conds[there])
                return
        self._assign(there, tables, row, used, conds)
        if not self._unique(key) and value is not None:
            self._overwrite(t, row[there], other, value)

    def _copy(self, here: str, col: str, there: str, other: str, tables: dict[str, str], row: dict[str, int]) -> None:
        """Set there.other to here.col in the chosen rows, unless `other` must stay unique."""
        t = tables[there]
        if not self._unique((t, other.lower())):
            value = self.data[tables[here]][row[here]][self._col_index(tables[here], col)]
            self._overwrite(t, row[there], other, value)

    def _satisfy(self, table: str, r: int, lits: list[Literal]) -> None:
        """Set the row's non-unique columns so each literal condition holds."""
        for lit in lits:
            key = (table, lit.column.lower())
            if key not in self.columns or self._unique(key):
                continue
            value = _satisfying_value(lit, self.columns[key], self.rng)
            if value is None:
                continue
            value = self._coerce(key, value)
            if self.group[key] != key and value not in set(self._source_values(key)):
                continue  # a foreign key may only hold values its parent has
            self._overwrite(table, r, lit.column, value)

    def _overwrite(self, table: str, r: int, column: str, value: Any) -> None:
        """Set one cell, unless the column is referenced by a foreign key and the old value would vanish
        (a child row would lose its parent)."""
        j = self._col_index(table, column)
        old = self.data[table][r][j]
        if old == value:
            return
        if (table, column.lower()) in self.referenced and sum(1 for row in self.data[table] if row[j] == old) <= 1:
            return
        self.data[table][r][j] = value

    def _col_index(self, table: str, column: str) -> int:
        cols = self.tables[table].columns
        low = column.lower()
        return next(i for i, c in enumerate(cols) if c.name.lower() == low)

    def _blank_cells(self) -> None:
        """NULL a few cells of plain columns (not keys, not joined, no literal)."""
        for t, rows in self.data.items():
            for i, c in enumerate(self.tables[t].columns):
                key = (t, c.name.lower())
                if c.primary_key or c.unique or self.group[key] != key or key in self.literals:
                    continue
                if any(self.group[k] == key for k in self.columns if k != key):
                    continue
                for r in rows:
                    if self.rng.random() < self.null_share:
                        r[i] = None


# ---------------------------------------------------------------------------------------------
# values of each kind


def _value_maker(col: Column, lits: Sequence[Literal], unique: bool, rng: random.Random):
    """A function making one random value for `col`, shaped by its kind, name and literals."""
    name = col.name.lower()
    values = [v for lit in lits for v in (lit.value, lit.high) if v is not None]
    if col.kind == "number":
        return _number_maker(name, values, unique, rng)
    if col.kind == "boolean":
        strings = [v for v in values if isinstance(v, str)]
        return (lambda: rng.choice(strings)) if strings else (lambda: rng.randint(0, 1))
    if col.kind == "time" or _date_shape(values):
        return _date_maker(values, rng)
    if values and all(isinstance(v, (int, float)) or (isinstance(v, str) and v.isdigit()) for v in values):
        width = max(len(str(v)) for v in values)
        return lambda: str(rng.randint(10 ** (width - 1), 10**width - 1)) if width > 1 else str(rng.randint(0, 9))
    return lambda: _words(rng, 2 if any(w in name for w in ("name", "title", "address")) else rng.choice((1, 1, 2)))


def _number_maker(name: str, values: Sequence[Any], unique: bool, rng: random.Random):
    """Ints (or floats for price-like names or float literals) over a range straddling the literals."""
    nums = [n for n in (_to_number(v) if isinstance(v, str) else v for v in values) if isinstance(n, (int, float))]
    is_float = any(isinstance(n, float) and not float(n).is_integer() for n in nums) or \
        any(h in re.split(r"[^a-z]+", name) for h in _FLOAT_HINTS)
    if nums:
        lo, hi = min(nums), max(nums)
        span = max(hi - lo, abs(hi) * 0.5, 10)
        lo, hi = lo - span, hi + span
        if min(nums) >= 0:
            lo = max(lo, 0)
    elif "year" in name:
        lo, hi = 1950, 2020
    elif "age" in re.split(r"[^a-z]+", name):
        lo, hi = 18, 70
    elif unique:
        lo, hi = 1, 60
    else:
        lo, hi = 1, 100
    if is_float:
        return lambda: round(rng.uniform(lo, hi), 2)
    lo_i, hi_i = int(lo), int(hi) if int(hi) > int(lo) else int(lo) + 10
    return lambda: rng.randint(lo_i, hi_i)


def _date_shape(values: Sequence[Any]) -> bool:
    """Whether string literals look like dates or datetimes (YYYY-MM-DD...)."""
    strings = [v for v in values if isinstance(v, str)]
    return bool(strings) and all(re.match(r"\d{4}-\d{2}-\d{2}", v) for v in strings)


def _date_maker(values: Sequence[Any], rng: random.Random):
    """Dates/datetimes (or 4-digit years) in the format of the literals, spanning their years."""
    strings = [str(v) for v in values]
    years = [int(m.group(1)) for v in strings if (m := re.match(r"(\d{4})", v))]
    lo, hi = (min(years) - 5, max(years) + 5) if years else (1990, 2020)
    if strings and all(re.fullmatch(r"\d{4}", v) for v in strings):
        return lambda: str(rng.randint(lo, hi))
    with_time = not strings or any(re.match(r"\d{4}-\d{2}-\d{2}[ T]\d", v) for v in strings)
    fmt = "%Y-%m-%d %H:%M:%S" if with_time else "%Y-%m-%d"
    start = datetime(lo, 1, 1)
    days = (datetime(hi, 12, 31) - start).days

    def make() -> str:
        moment = start + timedelta(days=rng.randint(0, days), seconds=rng.randint(0, 86399) if with_time else 0)
        return moment.strftime(fmt)

    return make


def _words(rng: random.Random, n: int = 1) -> str:
    """n capitalised pseudo-words (2-3 syllables each)."""
    return " ".join("".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 3))).capitalize() for _ in range(n))


def _to_number(text: str) -> int | float | None:
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return None


def _literal_values(lit: Literal, col: Column, rng: random.Random) -> list[Any]:
    """Values a column should contain for a literal: the value, both sides of a comparison, a LIKE match."""
    v = lit.value
    if lit.op == "like":
        return [_like_instance(str(v), col, rng)]
    if lit.op == "between":
        return [v, lit.high] + ([_step(v, +1)] if isinstance(v, (int, float)) else [])
    if lit.op in (">", ">=", "<", "<=", "!="):
        return [x for x in (v, _step(v, -1), _step(v, +1)) if x is not None]
    return [v]


def _satisfying_value(lit: Literal, col: Column, rng: random.Random) -> Any:
    """A value that makes `column <op> literal` true (None when any value will do or none is known)."""
    v = lit.value
    if lit.op in ("=", "in"):
        return v
    if lit.op == "like":
        return _like_instance(str(v), col, rng)
    if lit.op == "between":
        if isinstance(v, (int, float)) and isinstance(lit.high, (int, float)):
            return v if isinstance(v, float) or isinstance(lit.high, float) else rng.randint(int(v), int(lit.high))
        return v
    if lit.op in (">=", "<="):
        return v
    if lit.op == ">":
        return _step(v, +1)
    if lit.op == "<":
        return _step(v, -1)
    return None


def _step(v: Any, direction: int) -> Any:
    """A value just above (+1) or below (-1) v: numbers +-1, dates and years by a year, text by a letter."""
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return v + direction
    if isinstance(v, float):
        return round(v + direction * max(0.5, abs(v) * 0.01), 4)
    if isinstance(v, str):
        num = _to_number(v)
        if num is not None:
            stepped = _step(num, direction)
            return str(stepped)
        m = re.match(r"(\d{4})(.*)", v)
        if m:
            return f"{int(m.group(1)) + direction:04d}{m.group(2)}"
        return v + "a" if direction > 0 else (v[:-1] if len(v) > 1 else " ")
    return None


def _like_instance(pattern: str, col: Column, rng: random.Random) -> str:
    """A string matching a LIKE pattern: % becomes a pseudo-word (date parts for a year prefix), _ a letter."""
    m = re.fullmatch(r"(\d{4})%", pattern)
    if m and col.kind == "time":
        return f"{m.group(1)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    digits = col.kind == "number" or pattern.strip("%_").isdigit()
    out = []
    for ch in pattern:
        if ch == "%":
            out.append(str(rng.randint(1, 9)) if digits else rng.choice(["", _words(rng).lower(), " " + _words(rng)]))
        elif ch == "_":
            out.append(str(rng.randint(0, 9)) if digits else rng.choice("abcdefghiklmnoprstu"))
        else:
            out.append(ch)
    return "".join(out)
