"""`evaluate_sql`: text-to-SQL models (or SQL written elsewhere) judged by running what they write.

For every question: the model's reply (greedy, batched, questions grouped by database so the schema
prompt is a shared prefix for LocalLLM's prefix cache) -> `extract_sql` -> `execution_match` against
the gold query on every synthetic fill of that database (`build_databases`). Metrics per model:

- `execution_accuracy`: the results match on the first fill;
- `test_suite_accuracy`: they match on every fill (the headline);
- `exact_match`: exact-set match after sqlglot normalisation (`normalize.exact_set_match`);
- `valid_rate`: the prediction parses and executes (on the first fill) in the sandbox;
- each again per Spider hardness level, as `METRIC.easy` ... `METRIC.extra` (and `n.LEVEL`, the count).

Each model after the first is compared with the first by a paired bootstrap on test-suite accuracy
(wins, losses, ties); the other metrics' paired intervals are in `ci95` as `METRIC.delta`. Questions
whose gold query fails to execute on the first fill cannot be judged: they are left out of every
model's score and counted (`gold_failed`). The report is an `EvalReport` with task `sql`.

Predictions written elsewhere (`predictions=`: one SQL per question in the data's order, the
test-suite-sql-eval convention) are scored the same way without a model.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ragtune.errors import InputError
from ragtune.evaluation.metrics import bootstrap_ci, paired_comparison
from ragtune.llm import LLM, complete_many
from ragtune.records import Comparison, EvalReport, ModelResult, PerQuery
from ragtune.sql.build import DEFAULT_FILLS, DEFAULT_ROWS, build_databases
from ragtune.sql.compare import execution_match
from ragtune.sql.extract import extract_sql
from ragtune.sql.hardness import LEVELS, hardness
from ragtune.sql.normalize import exact_set_match
from ragtune.sql.prompt import TextToSqlExample, to_chat
from ragtune.sql.sandbox import DEFAULT_TIMEOUT_S, SqlSandbox

__all__ = ["METRICS", "SqlItem", "prepare_items", "predict", "score_predictions", "evaluate_sql", "read_predictions"]

METRICS = ("execution_accuracy", "test_suite_accuracy", "exact_match", "valid_rate")
HEADLINE = "test_suite_accuracy"


@dataclass
class SqlItem:
    """One question to judge: the example, its fills, its hardness and whether the gold runs."""

    qid: str
    example: TextToSqlExample
    fills: list[Path]
    level: str
    gold_ok: bool = True
    gold_error: str = ""


@dataclass
class Scores:
    """Per-question 0/1 values of every metric, and the extracted SQL with its first error."""

    values: dict[str, list[float]] = field(default_factory=lambda: {m: [] for m in METRICS})
    sql: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0


def prepare_items(examples: Sequence[TextToSqlExample], *, fills: int = DEFAULT_FILLS, rows: int = DEFAULT_ROWS,
                  seed: int = 0, cache_root: str | Path | None = None,
                  db_files: Mapping[str, Path] | None = None) -> list[SqlItem]:
    """Items for `examples`: each database's fills built once from its gold queries (or, for a database in
    `db_files` / an example with its own `db_path`, that file alone), and each gold query checked on fill 0."""
    if not examples:
        raise InputError("no text-to-SQL questions to evaluate.")
    by_db: dict[str, list[TextToSqlExample]] = defaultdict(list)
    for ex in examples:
        if not ex.sql:
            raise InputError(f"question {ex.question!r} (database '{ex.db_id}') has no gold SQL to compare with.")
        by_db[ex.db_id].append(ex)
    paths: dict[str, list[Path]] = {}
    for db_id, group in by_db.items():
        own = (db_files or {}).get(db_id) or group[0].db_path
        paths[db_id] = [Path(own)] if own else build_databases(group[0].schema, [e.sql for e in group], fills=fills,
                                                               rows=rows, seed=seed, cache_root=cache_root)
    items = []
    for i, ex in enumerate(examples):
        with SqlSandbox(paths[ex.db_id][0]) as box:
            gold = box.run(ex.sql)
        items.append(SqlItem(str(i), ex, paths[ex.db_id], hardness(ex.sql), gold.ok, gold.error))
    return items


def prompt_of(ex: TextToSqlExample, rows: int = 0) -> list[dict[str, str]]:
    """The chat prompt of one question: exactly the training format without the assistant turn."""
    return to_chat(ex.schema, ex.question or "", None, rows=rows, db=ex.db_path)["messages"]


def predict(llm: LLM, examples: Sequence[TextToSqlExample], *, max_tokens: int = 128, concurrency: int = 32,
            rows: int = 0, on_progress: Callable[[int], None] | None = None) -> tuple[list[str], float]:
    """Greedy replies to every question, one database at a time (so every batch shares its schema prefix);
    returns the replies in input order and the generation seconds."""
    by_db: dict[str, list[int]] = defaultdict(list)
    for i, ex in enumerate(examples):
        by_db[ex.db_id].append(i)
    replies = [""] * len(examples)
    t0 = time.perf_counter()
    done = 0
    for db_id in sorted(by_db):
        idx = by_db[db_id]
        outcomes = asyncio.run(complete_many(llm, [prompt_of(examples[i], rows) for i in idx], concurrency=concurrency,
                                             max_tokens=max_tokens, temperature=0.0))
        for o in outcomes:
            replies[idx[o.index]] = o.completion.text if o.completion is not None else ""
        done += len(idx)
        if on_progress:
            on_progress(done)
    return replies, time.perf_counter() - t0


def score_predictions(items: Sequence[SqlItem], predictions: Sequence[str], *, extract: bool = True,
                      timeout_s: float = DEFAULT_TIMEOUT_S, keep_distinct: bool = False) -> Scores:
    """Score one prediction per item (replies when `extract`, else SQL as is); gold-failed items skipped."""
    if len(predictions) != len(items):
        raise InputError(f"{len(predictions)} predictions for {len(items)} questions: give exactly one per question, "
                         "in the data's order.")
    t0 = time.perf_counter()
    out = Scores()
    for item, pred in zip(items, predictions):
        if not item.gold_ok:
            continue
        sql = extract_sql(pred) if extract else pred.strip()
        out.sql.append(sql)
        if not sql:
            match = None
            out.errors.append("no SQL in the reply")
        else:
            match = execution_match(sql, item.example.sql, item.fills, keep_distinct=keep_distinct, timeout_s=timeout_s)
            out.errors.append(match.pred_error)
        valid = match is not None and bool(match.per_fill) and not match.pred_error
        out.values["execution_accuracy"].append(float(match is not None and match.execution))
        out.values["test_suite_accuracy"].append(float(match is not None and match.test_suite))
        out.values["valid_rate"].append(float(valid))
        out.values["exact_match"].append(float(bool(sql) and _exact(sql, item.example)))
    out.seconds = time.perf_counter() - t0
    return out


def _exact(sql: str, example: TextToSqlExample) -> bool:
    try:
        return exact_set_match(sql, example.sql or "", example.schema)
    except InputError:  # a gold query sqlglot cannot parse: no exact-set verdict, counted as no match
        return False


def read_predictions(path: str | Path) -> list[str]:
    """One SQL query per line (test-suite-sql-eval's convention); an empty line is an empty prediction."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise InputError(f"{path}: predictions must be UTF-8 text ({e}).") from None
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines = lines[:-1]
    return [line.rstrip("\r") for line in lines]


def _result(label: str, name: str | None, scores: Scores, levels: list[str], bootstrap: int, seed: int,
            generate_s: float | None) -> ModelResult:
    metrics: dict[str, float] = {}
    ci95: dict[str, list[float]] = {}
    for m in METRICS:
        v = np.asarray(scores.values[m])
        metrics[m] = float(v.mean()) if len(v) else float("nan")
        ci95[m] = list(bootstrap_ci(v, bootstrap, seed))
        for level in LEVELS:
            sel = v[[lv == level for lv in levels]] if len(v) else v
            if len(sel):
                metrics[f"{m}.{level}"] = float(sel.mean())
    for level in LEVELS:
        metrics[f"n.{level}"] = float(sum(lv == level for lv in levels))
    seconds = {"score": round(scores.seconds, 3)}
    n = len(levels)
    if generate_s is not None:
        seconds["generate"] = round(generate_s, 3)
        seconds["questions_per_s"] = round(n / generate_s, 4) if generate_s > 0 else float("inf")
    return ModelResult(model=label, model_name=name, metrics=metrics, ci95=ci95, seconds=seconds)


def evaluate_sql(items: Sequence[SqlItem], models: Mapping[str, LLM | Sequence[str]], *, dataset: str = "sql",
                 max_tokens: int = 128, concurrency: int = 32, rows: int = 0, bootstrap: int = 1000, seed: int = 0,
                 timeout_s: float = DEFAULT_TIMEOUT_S, on_model: Callable[[str], None] | None = None
                 ) -> tuple[EvalReport, dict[str, Scores]]:
    """Evaluate each model (an LLM, or a list of predicted SQL, one per item) on `items` (task "sql").

    The first model is the baseline of the paired comparisons. Returns the report and each model's
    per-question scores (with the extracted SQL)."""
    if not models:
        raise InputError("give at least one --model or --predictions to evaluate.")
    judged = [it for it in items if it.gold_ok]
    if not judged:
        raise InputError(f"no question can be judged: every gold query fails to execute (first: {items[0].gold_error}).")
    levels = [it.level for it in judged]
    examples = [it.example for it in items]
    results, all_scores = [], {}
    for label, model in models.items():
        if on_model:
            on_model(label)
        if isinstance(model, (list, tuple)):
            scores = score_predictions(items, model, extract=False, timeout_s=timeout_s)
            result = _result(label, "predictions", scores, levels, bootstrap, seed, None)
        else:
            replies, gen_s = predict(model, examples, max_tokens=max_tokens, concurrency=concurrency, rows=rows)
            scores = score_predictions(items, replies, timeout_s=timeout_s)
            result = _result(label, getattr(model, "model", label), scores, levels, bootstrap, seed, gen_s)
        all_scores[label] = scores
        results.append(result)
    base = results[0].model
    for result in results[1:]:
        a, b = all_scores[base].values, all_scores[result.model].values
        cmp = paired_comparison(np.asarray(a[HEADLINE]), np.asarray(b[HEADLINE]), bootstrap, seed)
        result.vs_first = Comparison(baseline=base, metric=HEADLINE, **cmp)
        for m in METRICS:
            if m != HEADLINE:
                result.ci95[f"{m}.delta"] = paired_comparison(np.asarray(a[m]), np.asarray(b[m]), bootstrap, seed)["ci95"]
    ids = [it.qid for it in judged]
    per_query = PerQuery(query_ids=ids, **{m: {lab: s.values[m] for lab, s in all_scores.items()} for m in METRICS})
    report = EvalReport(task="sql", dataset=dataset, num_queries=len(judged), headline=HEADLINE, results=results,
                        per_query=per_query)
    for r in report.results:
        r.metrics["gold_failed"] = float(len(items) - len(judged))
    return report, all_scores


def shuffled_within_database(items: Sequence[SqlItem], seed: int = 0) -> list[str]:
    """Each question's gold SQL replaced by another gold query of the same database (a seeded
    derangement where the database has two or more questions): a sanity baseline near 0."""
    by_db: dict[str, list[int]] = defaultdict(list)
    for i, it in enumerate(items):
        by_db[it.example.db_id].append(i)
    out = [it.example.sql or "" for it in items]
    rng = random.Random(seed)
    for idx in by_db.values():
        if len(idx) < 2:
            continue
        order = idx[:]
        rng.shuffle(order)
        for a, b in zip(order, order[1:] + order[:1]):
            out[a] = items[b].example.sql or ""
    return out


def subsample(examples: Sequence[TextToSqlExample], limit: int | None, seed: int = 0) -> list[TextToSqlExample]:
    """At most `limit` examples, a seeded sample kept in input order (all of them when limit is None)."""
    if limit is None or limit >= len(examples):
        return list(examples)
    keep = sorted(random.Random(seed).sample(range(len(examples)), limit))
    return [examples[i] for i in keep]


def rows_table(result: Any, limit: int = 20) -> tuple[list[str], list[list[str]]]:
    """Columns and up to `limit` stringified rows of a SqlResult (for printing)."""
    return list(result.columns), [[("NULL" if v is None else str(v)) for v in r] for r in result.rows[:limit]]


def split_record(train_dbs: Sequence[str], test_dbs: Sequence[str], seed: int, share: float) -> dict[str, Any]:
    return {"seed": seed, "test_share": share, "train_dbs": list(train_dbs), "test_dbs": list(test_dbs)}


def load_spider_data(data: str, tables: str | Path | None = None) -> tuple[list[TextToSqlExample], str]:
    """`spider-dev`, a Spider-format JSON/JSONL list of {db_id, question, query} (schemas from `tables`, else
    Spider's tables.json) or generated pairs with `db_path` (run on that file). Returns examples and a name."""
    from ragtune.sql.preparation import read_sql_data

    examples, name = read_sql_data(data, input_format="spider", tables=tables)
    return examples, name
