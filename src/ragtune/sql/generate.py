"""`generate_sql`: question + SQL pairs from a user's own SQLite file, each checked by running it.

The same thesis as `generate queries`: users have a database, not labelled questions. An LLM reads the
schema (CREATE TABLE statements) with a few sample rows and writes `pairs_per_call` pairs per call;
call k is asked to centre its questions on table k (mod the table count), so greedy calls differ too.
Every candidate is run in the sandbox (read-only, time and row limits) and kept only when it parses
out of the reply, runs, returns rows, and is not a duplicate (same sqlglot normal form, or the same
question). Dropped candidates are counted by reason and written to OUT/dropped.jsonl.

The calls go through `generate queries`' runner (`ragtune.generate.queries.run_jobs`): the same
crash-safe journal (OUT/journal.jsonl, one fsynced line per finished call; a rerun makes only the
missing calls), concurrency, progress bar and call statistics. Parsing and checks are re-applied to
the journaled raw replies on every run. Output: OUT/pairs.jsonl (Spider-format rows {db_id, question,
query, db_path}: `ragtune sql prepare OUT` and `ragtune eval sql OUT/pairs.jsonl` read them),
dropped.jsonl, summary.json, config.json.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ragtune.data.documents import Chunk
from ragtune.errors import InputError, NoUsableDataError
from ragtune.generate.config import QueryGenConfig
from ragtune.generate.journal import Journal, call_key
from ragtune.generate.prompts import prompt_hash
from ragtune.generate.queries import Job, run_jobs
from ragtune.io import atomic_write_json, atomic_write_jsonl, check_output, hold_folder
from ragtune.llm import LLM, load_llm
from ragtune.runs.inputs import job_config
from ragtune.sql.extract import extract_sql
from ragtune.sql.hints import extract_literals
from ragtune.sql.normalize import canonical
from ragtune.sql.config import SqlGenConfig
from ragtune.sql.sample import column_values, sample_queries
from ragtune.sql.sandbox import SqlSandbox
from ragtune.sql.schema import read_sample_rows, render_schema, schema_from_sqlite

__all__ = ["DESCRIBE_PROMPT", "SQL_GEN_PROMPT", "SqlGenConfig", "SqlGenResult", "generate_sql", "parse_pairs",
           "parse_question"]

SQL_GEN_PROMPT = """Database schema:
{schema}

Write {n} different questions a user could ask about this database, each with one SQLite query that answers it.
Focus on the table {table} (joins with other tables are welcome). Use only the tables and columns above, and values
that appear in the sample rows. Reply with all {n} pairs in exactly this format, nothing else:

{slots}
"""


DESCRIBE_PROMPT = """Database schema:
{schema}

SQLite query:
{sql}

A program worded this query as: {plain}
Rewrite that as the question a user of this database would ask, in natural words, with the same meaning. Keep every
value exactly as written. Reply with the question only, on one line.
"""


DESCRIBE_PER_TABLE = 10  # --mode describe: default queries (one call each) per table


def _slots(n: int) -> str:
    """The numbered reply template: small models copy a one-pair template once, a numbered one n times."""
    return "\n".join(f"Question {i}: <question {i}>\nSQL {i}: <SQLite query {i}, on one line>" for i in range(1, n + 1))

_PAIR = re.compile(r"(?:^|\n)\s*(?:\d+[.)]\s*)?\**Question\**\s*\d*\s*:\s*(.+?)\n\s*\**SQL\**\s*\d*\s*:\s*(.+?)(?=\n\s*(?:\d+[.)]\s*)?\**Question|\Z)",
                   re.IGNORECASE | re.DOTALL)


@dataclass
class SqlGenResult:
    """The kept pairs, the drop counts and the run summary."""

    pairs: list[dict[str, Any]]
    drops: Counter
    summary: dict[str, Any]
    out: Path


def parse_pairs(reply: str) -> list[tuple[str, str]]:
    """(question, sql) pairs from a reply: `Question: ... / SQL: ...` blocks, or JSON lines with question and sql."""
    pairs = []
    for line in reply.splitlines():
        line = line.strip().rstrip(",")
        if line.startswith("{"):
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(row, dict) and isinstance(row.get("question"), str) and isinstance(row.get("sql"), str):
                pairs.append((row["question"].strip(), row["sql"].strip()))
    if pairs:
        return pairs
    for q, sql in _PAIR.findall(reply):
        sql = sql.strip()
        pairs.append((q.strip().strip("*").strip(), extract_sql(sql) or sql.strip("`").strip().rstrip(";")))
    return pairs


def parse_question(reply: str) -> str | None:
    """The question of a `--mode describe` reply: its first line, without a `Question:` label or quotes;
    None when that line is empty, too short or long, or is SQL itself."""
    for line in reply.strip().splitlines():
        line = line.strip().strip("*").strip()
        if line:
            break
    else:
        return None
    line = re.sub(r"^(?:question|q)\s*\d*\s*[:.)-]\s*", "", line, flags=re.IGNORECASE).strip().strip("\"'`").strip()
    if not 8 <= len(line) <= 300 or re.match(r"(?i)\s*(select|with)\s", line) or re.search(r"(?i)\bselect\b.+\bfrom\b", line):
        return None
    return line


def _lost_values(question: str, sql: str, schema) -> list[str]:
    """The literals of `sql` (its WHERE values) that `question` does not contain, case-insensitively."""
    text = question.lower()
    values = dict.fromkeys(str(lit.value) for lit in extract_literals(sql, schema))
    return [v for v in values if v.lower() not in text]


def generate_sql(config: SqlGenConfig | None = None, /, *, show_progress: bool = False, **fields: Any) -> SqlGenResult:
    """Write checked question + SQL pairs for the SQLite file `db` into the folder `output` (see the module docstring).

    One config (`SqlGenConfig`); keyword fields update it (`generate_sql(db="shop.sqlite", output="gen/", calls=4)`).
    `llm` is a spec ('local', 'local:MODEL', 'openai:MODEL') or a ready object (tests pass a FakeLLM), used as is
    and recorded by its model name; `calls` defaults to two per table; `max_pairs` caps the kept pairs (first come,
    in call order)."""
    cfg, objects = job_config(SqlGenConfig, config, fields, what="generate-sql")
    llm: LLM | str = objects.get("llm", cfg.llm)
    out = check_output(cfg.output, "folder", option="--output")
    db = Path(cfg.db).expanduser()
    schema = schema_from_sqlite(db)
    if not schema.tables:
        raise InputError(f"{db}: the database has no tables to ask about.")
    pairs_per_call, rows, max_pairs, describe = cfg.pairs_per_call, cfg.rows, cfg.max_pairs, cfg.mode == "describe"
    n_calls = cfg.calls or (DESCRIBE_PER_TABLE if describe else 2) * len(schema.tables)
    per_call = 1 if describe else pairs_per_call
    gen = QueryGenConfig(llm=llm if isinstance(llm, str) else "local", concurrency=cfg.concurrency,
                         temperature=cfg.temperature, seed=cfg.seed,
                         max_tokens=cfg.max_tokens or (48 if describe else min(2048, max(64, 60 * per_call))),
                         questions_per_chunk=per_call, samples=1, filter=False, self_check=False)
    with hold_folder(out):
        t0 = time.perf_counter()
        if isinstance(llm, str):
            llm = load_llm(llm, base_url=cfg.base_url, concurrency=gen.concurrency, batch_size=gen.concurrency)
        schema_text = render_schema(schema, read_sample_rows(db, schema, rows) if rows else None)
        template = DESCRIBE_PROMPT if describe else SQL_GEN_PROMPT
        phash = prompt_hash(template, per_call, [], f"rows={rows}")
        chunk = Chunk(id=schema.db_id, text=schema_text, source=str(db), position=0, char_start=0, char_end=len(schema_text))
        jobs, given_sql = [], {}
        if describe:
            for k, (_shape, sql, plain) in enumerate(sample_queries(schema, column_values(db, schema), n_calls, cfg.seed)):
                text = template.format(schema=schema_text, sql=sql, plain=plain)
                key = call_key(schema_text + "\n" + sql, phash, llm.model, k)
                jobs.append(Job(key, chunk, k, [{"role": "user", "content": text}]))
                given_sql[key] = sql
        else:
            for k in range(n_calls):
                table = schema.tables[k % len(schema.tables)].name
                text = template.format(schema=schema_text, n=pairs_per_call, table=table, slots=_slots(pairs_per_call))
                jobs.append(Job(call_key(schema_text, phash, llm.model, k), chunk, k, [{"role": "user", "content": text}]))
        journal = Journal(out / "journal.jsonl")
        stats = run_jobs(llm, jobs, journal, gen, show_progress)
        pairs, dropped, drops = _check(jobs, journal, db, schema, cfg.timeout, max_pairs, given_sql)
        if not pairs:
            atomic_write_jsonl(out / "dropped.jsonl", dropped)
            raise NoUsableDataError(f"no usable pair from {stats.calls_total} call(s): drops {dict(drops)}; "
                                    f"first errors: {stats.errors[:2]}. See {out / 'dropped.jsonl'}.")
        summary = {"db": str(db), "db_id": schema.db_id, "tables": len(schema.tables), "model": llm.model,
                   "calls": {"total": stats.calls_total, "resumed": stats.calls_resumed, "made": stats.calls_made,
                             "failed": stats.calls_failed, "errors": stats.errors},
                   "candidates": len(pairs) + sum(drops.values()), "kept": len(pairs), "dropped": dict(drops),
                   "tokens": {"in": stats.tokens_in, "out": stats.tokens_out},
                   "seconds": {"calls": round(stats.seconds, 2), "total": round(time.perf_counter() - t0, 2)}}
        atomic_write_jsonl(out / "pairs.jsonl", pairs)
        atomic_write_jsonl(out / "dropped.jsonl", dropped)
        atomic_write_json(out / "summary.json", summary)
        # a valid --config: the settings as given, with the calls and the reply budget as resolved
        atomic_write_json(out / "config.json", {"job": "generate sql", **cfg.model_dump(), "calls": n_calls,
                                                "max_tokens": gen.max_tokens})
        return SqlGenResult(pairs, drops, summary, out)


def _check(jobs: list[Job], journal: Journal, db: Path, schema, timeout_s: float, max_pairs: int | None,
           given_sql: dict[str, str]):
    """Kept pairs, dropped rows and drop counts; `given_sql` (job key -> SQL) marks `--mode describe` jobs,
    whose reply is only the question of that SQL."""
    kept, dropped = [], []
    drops: Counter = Counter()
    seen_sql: set[str] = set()
    seen_q: set[str] = set()

    def drop(reason: str, **row: Any) -> None:
        drops[reason] += 1
        dropped.append({"reason": reason, **row})

    with SqlSandbox(db, timeout_s=timeout_s) as box:
        for job in jobs:
            record = journal.done.get(job.key)
            if record is None:
                continue
            if job.key in given_sql:
                question, sql = parse_question(record["reply"]), given_sql[job.key]
                found = []
                if not question:
                    drop("no question in the reply", call=job.sample, sql=sql, reply=record["reply"][:500])
                elif lost := _lost_values(question, sql, schema):
                    drop("question lost a value", call=job.sample, question=question, sql=sql, values=lost)
                else:
                    found = [(question, sql)]
            else:
                found = parse_pairs(record["reply"])
                if not found:
                    drop("no pair in the reply", call=job.sample, reply=record["reply"][:500])
            for question, sql in found:
                if not question or not sql:
                    drop("empty question or SQL", call=job.sample, question=question, sql=sql)
                    continue
                res = box.run(sql)
                if not res.ok:
                    drop("does not run", call=job.sample, question=question, sql=sql, error=res.error)
                    continue
                if not res.rows:
                    drop("returns no rows", call=job.sample, question=question, sql=sql)
                    continue
                key = canonical(sql, schema) or " ".join(sql.lower().split())
                if key in seen_sql or question.lower() in seen_q:
                    drop("duplicate", call=job.sample, question=question, sql=sql)
                    continue
                if max_pairs is not None and len(kept) >= max_pairs:
                    drop("over --max-pairs", call=job.sample, question=question, sql=sql)
                    continue
                seen_sql.add(key)
                seen_q.add(question.lower())
                kept.append({"db_id": schema.db_id, "question": question, "query": sql, "db_path": str(db.resolve())})
    return kept, dropped, drops
