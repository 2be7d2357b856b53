"""Text-to-SQL core: schemas, synthetic test databases, a sandbox for model-written SQL, test-suite
execution match, Spider hardness, exact-set match, SQL extraction from replies and the chat format.

Modules: `schema` (Schema and its readers/renderer), `hints` (literals and joins of gold queries),
`build` (seeded fills cached under ragtune_home()/sql), `sandbox` (read-only, time/row/size-limited
execution), `compare` (result equivalence, per-fill verdicts), `hardness`, `normalize`, `extract`,
`prompt` (chat rows, readers, split by database). Nothing here imports torch or transformers.
"""

from ragtune.sql.build import DEFAULT_FILLS, DEFAULT_ROWS, FillCoverage, build_databases, fill_coverage, generate_rows
from ragtune.sql.compare import ExecutionMatch, clean_query, execution_match, gold_orders_rows, results_match
from ragtune.sql.extract import extract_sql
from ragtune.sql.hardness import LEVELS, HardnessCounts, hardness, hardness_counts
from ragtune.sql.hints import Literal, Seed, extract_literals, query_seeds
from ragtune.sql.normalize import canonical, exact_set_match
from ragtune.sql.prompt import (
    SYSTEM_PROMPT,
    DatabaseSplit,
    TextToSqlExample,
    example_to_chat,
    read_spider,
    read_sql_create_context,
    read_sqlite,
    split_by_database,
    to_chat,
    user_prompt,
)
from ragtune.sql.sandbox import SqlResult, SqlSandbox, run_sql, sandbox_overhead_ms
from ragtune.sql.schema import (
    Column,
    ForeignKey,
    Schema,
    Table,
    read_sample_rows,
    read_spider_tables,
    render_schema,
    schema_from_create_statements,
    schema_from_spider,
    schema_from_sqlite,
)

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
