"""Fill coverage: on how many Spider dev gold queries do the synthetic databases return rows?

For each row count in --rows, builds 3 fills of each of the 20 dev databases (cold, in a temp cache),
runs the 1,034 gold queries in the sandbox and reports:
- non-empty: the gold query returns at least one row on at least one fill (goal >= 90%),
- failed: it fails to execute on every fill (with the errors),
- empty: it runs but returns nothing on every fill (listed for the default row count),
- non-empty on fill 0 (the execution-accuracy database) and on every fill,
- build and run seconds, and a second, cached build's seconds.
Then, on the default row count, how often the fills catch a near miss: each gold query is mutated
(WHERE dropped, first ORDER BY flipped, first < > <= >= made strict/loose, first number +1, LIMIT
dropped) and scored with `execution_match`; the share judged wrong on fill 0 (execution accuracy)
and on any fill (test-suite accuracy). Some mutations mean the same on every database (x > 30 and
x >= 31 over integers), so 100% is not the ceiling.
Also the sandbox's overhead per simple query (median ms, sandbox vs a bare read-only connection).

Run: .venv/bin/python bench/sql_fill_coverage.py [--rows 10 20 30 40] [--default 30]
Writes bench/results/sql_fill_coverage.json.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import sqlglot
from sqlglot import exp


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, nargs="+", default=[10, 20, 30, 40], help="rows per table to compare")
    ap.add_argument("--default", type=int, default=None, help="the row count whose empty queries are listed "
                                                             "(default: ragtune.sql.build.DEFAULT_ROWS)")
    ap.add_argument("--fills", type=int, default=3)
    ap.add_argument("--out", default="bench/results/sql_fill_coverage.json")
    args = ap.parse_args()

    from ragtune.assets import asset_path
    from ragtune.sql.build import DEFAULT_ROWS, build_databases, fill_coverage
    from ragtune.sql.sandbox import sandbox_overhead_ms
    from ragtune.sql.schema import read_spider_tables

    default = args.default or DEFAULT_ROWS
    rows_list = sorted(set(args.rows) | {default})
    data = asset_path("spider-dev")
    schemas = read_spider_tables(data / "tables.json")
    dev = json.loads((data / "dev.json").read_text(encoding="utf-8"))
    pairs = [(q["db_id"], q["query"]) for q in dev]
    runs = {}
    print(f"{len(pairs)} gold queries over {len({d for d, _ in pairs})} databases, {args.fills} fills each")
    print(f"{'rows':>5} {'non-empty':>10} {'fill0':>7} {'all':>7} {'failed':>7} {'empty':>6} {'build s':>8} "
          f"{'run s':>6} {'cached s':>9}")
    for rows in rows_list:
        with tempfile.TemporaryDirectory() as cache:
            cov = fill_coverage(pairs, schemas, fills=args.fills, rows=rows, cache_root=cache)
            t = time.perf_counter()
            by_db: dict[str, list[str]] = {}
            for db_id, sql in pairs:
                by_db.setdefault(db_id, []).append(sql)
            for db_id, queries in by_db.items():
                build_databases(schemas[db_id], queries, fills=args.fills, rows=rows, cache_root=cache)
            cached_s = time.perf_counter() - t
            if rows == default:
                sample_db = build_databases(schemas["concert_singer"], by_db["concert_singer"], fills=args.fills,
                                            rows=rows, cache_root=cache)[0]
                overhead = sandbox_overhead_ms(sample_db, "SELECT count(*) FROM singer", repeats=500)
                fills_of = {db: build_databases(schemas[db], qs, fills=args.fills, rows=rows, cache_root=cache)
                            for db, qs in by_db.items()}
                kills = mutation_kill_rates(pairs, fills_of)
        row = cov.to_dict()
        row["cached_build_s"] = round(cached_s, 3)
        if rows != default:
            row.pop("empty_queries")
        runs[str(rows)] = row
        print(f"{rows:>5} {cov.share_non_empty:>9.2%} {cov.non_empty_first / cov.total:>7.2%} "
              f"{cov.non_empty_all / cov.total:>7.2%} {cov.failed:>7} {cov.empty:>6} {cov.build_s:>8.2f} "
              f"{cov.run_s:>6.2f} {cached_s:>9.3f}")
    best = runs[str(default)]
    print(f"\ndefault rows={default}: {best['share_non_empty']:.2%} non-empty "
          f"({best['non_empty']}/{best['total']}), {best['failed']} fail to execute")
    for e in best["empty_queries"]:
        print(f"  empty: [{e['db_id']}] {e['query']}")
    for f in best["failures"]:
        print(f"  failed: [{f['db_id']}] {f['query']} -> {f['error']}")
    print(f"\nnear misses caught (rows={default}):  {'mutation':<14} {'n':>5} {'fill 0':>7} {'any fill':>9}")
    for name, row in kills.items():
        print(f"{'':36}{name:<14} {row['n']:>5} {row['caught_fill0']:>7.1%} {row['caught_any_fill']:>9.1%}")
    print(f"sandbox overhead: {overhead}")
    result = {"questions": len(pairs), "fills": args.fills, "default_rows": default, "runs": runs,
              "near_misses_caught": kills, "sandbox_overhead_ms": overhead,
              "when": time.strftime("%Y-%m-%d %H:%M:%S")}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


def mutations(gold: str) -> dict[str, str]:
    """Near misses of a gold query, by kind (only the kinds that apply to it)."""
    tree = sqlglot.parse_one(gold, read="sqlite")
    out = {}
    if isinstance(tree, exp.Select) and tree.args.get("where"):
        t = tree.copy()
        t.set("where", None)
        out["no WHERE"] = t
    if tree.args.get("order"):
        t = tree.copy()
        first = t.args["order"].expressions[0]
        first.set("desc", not first.args.get("desc"))
        out["ORDER flipped"] = t
    swap = {exp.GT: exp.GTE, exp.GTE: exp.GT, exp.LT: exp.LTE, exp.LTE: exp.LT}
    t = tree.copy()
    cmp = next((n for n in t.find_all(*swap) if isinstance(n.expression, exp.Literal)), None)
    if cmp is not None:
        cmp.replace(swap[type(cmp)](this=cmp.this.copy(), expression=cmp.expression.copy()))
        out["< vs <="] = t
    t = tree.copy()
    num = next((n for n in t.find_all(exp.Literal) if not n.is_string and n.this.isdigit()
                and not isinstance(n.parent, exp.Limit)), None)
    if num is not None:
        num.replace(exp.Literal.number(int(num.this) + 1))
        out["number +1"] = t
    if tree.args.get("limit"):
        t = tree.copy()
        t.set("limit", None)
        out["no LIMIT"] = t
    return {k: v.sql(dialect="sqlite") for k, v in out.items()}


def mutation_kill_rates(pairs: list[tuple[str, str]], fills_of: dict) -> dict[str, dict]:
    """Per mutation kind: how many, and the share judged wrong on fill 0 and on any fill."""
    from ragtune.sql.compare import execution_match

    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for db_id, gold in dict.fromkeys(pairs):
        for kind, pred in mutations(gold).items():
            m = execution_match(pred, gold, fills_of[db_id])
            c = counts[kind]
            c[0] += 1
            c[1] += not m.execution
            c[2] += not m.test_suite
    return {k: {"n": n, "caught_fill0": round(a / n, 4), "caught_any_fill": round(b / n, 4)}
            for k, (n, a, b) in counts.items()}


if __name__ == "__main__":
    main()
