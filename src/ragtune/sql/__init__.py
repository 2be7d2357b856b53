"""Text-to-SQL core: schemas, synthetic test databases, a sandbox for model-written SQL, test-suite
execution match, Spider hardness, exact-set match, SQL extraction from replies and the chat format.

Modules: `schema` (Schema and its readers/renderer), `hints` (literals and joins of gold queries),
`build` (seeded fills cached under ragtune_home()/sql), `sandbox` (read-only, time/row/size-limited
execution), `compare` (result equivalence, per-fill verdicts), `hardness`, `normalize`, `extract`,
`prompt` (chat rows, readers, split by database). Nothing here imports torch or transformers.

Submodules load on first use, so importing a config (as the CLI does for `--help`) stays light.
"""

from __future__ import annotations

import importlib

__all__ = [
    "DEFAULT_FILLS",
    "DEFAULT_ROWS",
    "LEVELS",
    "SYSTEM_PROMPT",
    "Column",
    "DatabaseSplit",
    "ExecutionMatch",
    "FillCoverage",
    "ForeignKey",
    "HardnessCounts",
    "Literal",
    "Schema",
    "Seed",
    "SqlResult",
    "SqlSandbox",
    "Table",
    "TextToSqlExample",
    "build_databases",
    "canonical",
    "clean_query",
    "exact_set_match",
    "example_to_chat",
    "execution_match",
    "extract_literals",
    "extract_sql",
    "fill_coverage",
    "generate_rows",
    "gold_orders_rows",
    "hardness",
    "hardness_counts",
    "query_seeds",
    "read_sample_rows",
    "read_spider",
    "read_spider_tables",
    "read_sql_create_context",
    "read_sqlite",
    "render_schema",
    "results_match",
    "run_sql",
    "sandbox_overhead_ms",
    "schema_from_create_statements",
    "schema_from_spider",
    "schema_from_sqlite",
    "split_by_database",
    "to_chat",
    "user_prompt",
]

_WHERE = {
    "DEFAULT_FILLS": "build",
    "DEFAULT_ROWS": "build",
    "FillCoverage": "build",
    "build_databases": "build",
    "fill_coverage": "build",
    "generate_rows": "build",
    "ExecutionMatch": "compare",
    "clean_query": "compare",
    "execution_match": "compare",
    "gold_orders_rows": "compare",
    "results_match": "compare",
    "extract_sql": "extract",
    "LEVELS": "hardness",
    "HardnessCounts": "hardness",
    "hardness": "hardness",
    "hardness_counts": "hardness",
    "Literal": "hints",
    "Seed": "hints",
    "extract_literals": "hints",
    "query_seeds": "hints",
    "canonical": "normalize",
    "exact_set_match": "normalize",
    "SYSTEM_PROMPT": "prompt",
    "DatabaseSplit": "prompt",
    "TextToSqlExample": "prompt",
    "example_to_chat": "prompt",
    "read_spider": "prompt",
    "read_sql_create_context": "prompt",
    "read_sqlite": "prompt",
    "split_by_database": "prompt",
    "to_chat": "prompt",
    "user_prompt": "prompt",
    "SqlResult": "sandbox",
    "SqlSandbox": "sandbox",
    "run_sql": "sandbox",
    "sandbox_overhead_ms": "sandbox",
    "Column": "schema",
    "ForeignKey": "schema",
    "Schema": "schema",
    "Table": "schema",
    "read_sample_rows": "schema",
    "read_spider_tables": "schema",
    "render_schema": "schema",
    "schema_from_create_statements": "schema",
    "schema_from_spider": "schema",
    "schema_from_sqlite": "schema",
}


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(importlib.import_module(f"ragtune.sql.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'ragtune.sql' has no attribute {name!r}")
