"""`ragtune sql ...` (prepare, ask) and `ragtune eval sql`: text-to-SQL judged by running what the model writes."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ragtune.cli.common import CHAT_MODEL_HELP, console, handle_errors, say
from ragtune.cli.options import config_from, config_option, option
from ragtune.device import DEVICE_HELP
from ragtune.sql.config import SqlGenConfig

G = SqlGenConfig

app = typer.Typer(help="Text-to-SQL: chat training data from Spider / sql-create-context / generated pairs, and asking a "
                       "model questions over a SQLite file.", no_args_is_help=True)


def _llm(spec: str, base_url: str | None, concurrency: int, device: str, json_schema: dict | None = None):
    from ragtune.llm import LocalLLM, check_llm, load_llm

    llm = load_llm(spec, base_url=base_url, concurrency=concurrency, json_schema=json_schema) if spec.startswith("openai:") \
        else LocalLLM(spec, batch_size=concurrency, device=device, json_schema=json_schema)
    check_llm(llm)
    return llm


def _labelled(spec: str) -> tuple[str, str]:
    if "=" in spec and not spec.startswith("openai:"):
        label, _, target = spec.partition("=")
        return label, target
    return spec, spec


@handle_errors
def eval_sql(
    data: str = typer.Argument(..., help="'spider-dev' or a Spider-format JSON/JSONL list of {db_id, question, query}."),
    model: Optional[list[str]] = typer.Option(None, "--model", "-m", help=f"a chat model to evaluate (repeat to compare; the "
                                              f"first is the baseline; LABEL=SPEC sets a label): {CHAT_MODEL_HELP}, or openai:MODEL"),
    predictions: Optional[Path] = typer.Option(None, "--predictions", help="score SQL written elsewhere: one query per line, in "
                                               "DATA's order (test-suite-sql-eval's convention); no model needed"),
    tables: Optional[Path] = typer.Option(None, "--tables", help="Spider tables.json with DATA's schemas (default: Spider's)"),
    db: Optional[Path] = typer.Option(None, "--db", help="a SQLite file to run every question on (instead of synthetic fills)"),
    json_out: Optional[Path] = typer.Option(None, "--json", help="write the evaluation report (task sql) here"),
    sql_out: Optional[Path] = typer.Option(None, "--sql-out", help="write each model's extracted SQL (JSONL) here"),
    limit: Optional[int] = typer.Option(None, "--limit", min=1, help="evaluate a seeded sample of N questions"),
    fills: int = typer.Option(3, "--fills", min=1, help="synthetic databases per schema (test-suite accuracy needs all to match)"),
    rows: int = typer.Option(0, "--rows", min=0, help="sample rows per table shown in the prompt"),
    max_tokens: int = typer.Option(128, "--max-new-tokens", min=1, help="longest generated reply"),
    batch_size: int = typer.Option(32, "--batch-size", min=1, help="prompts per generation batch (requests in flight for a server)"),
    seed: int = typer.Option(0, "--seed", help="seed of the fills, the --limit sample and the bootstrap"),
    bootstrap: int = typer.Option(1000, "--bootstrap", min=1, help="bootstrap resamples for the 95% CIs"),
    timeout: float = typer.Option(2.0, "--timeout", min=0.01, help="seconds one query may run in the sandbox"),
    base_url: Optional[str] = typer.Option(None, "--base-url", help="OpenAI-compatible server, for openai:MODEL"),
    device: str = typer.Option("auto", "--device", help=DEVICE_HELP),
) -> None:
    """Execution accuracy, test-suite accuracy, exact-set match and valid-SQL rate, by Spider hardness.

    Each model answers greedily in batches, one database at a time; its SQL is run in the sandbox on every
    synthetic fill of the database and compared with the gold result.

        ragtune eval sql spider-dev -m qwen2.5-coder-0.5b-instruct -m tuned=runs/sql --json sql.json
        ragtune eval sql dev.json --predictions pred.sql --tables tables.json
    """
    from ragtune.errors import InputError
    from ragtune.io import atomic_write_jsonl, check_output
    from ragtune.records import write_report
    from ragtune.sql.evaluate import evaluate_sql, load_spider_data, prepare_items, read_predictions, subsample

    if not model and predictions is None:
        raise InputError("give at least one --model to evaluate, or --predictions FILE.")
    for path, option in ((json_out, "--json"), (sql_out, "--sql-out")):
        if path is not None:
            check_output(path, "file", option=option)
    preds = read_predictions(predictions) if predictions is not None else None
    examples, name = load_spider_data(data, tables)
    if preds is not None and len(preds) != len(examples):
        raise InputError(f"{predictions}: {len(preds)} predictions for {len(examples)} questions in {data}; give one query "
                         "per line, in the data's order.")
    if limit is not None:
        keep = subsample(list(range(len(examples))), limit, seed)
        examples = [examples[i] for i in keep]
        preds = [preds[i] for i in keep] if preds is not None else None
    db_files = None
    if db is not None:
        from ragtune.sql.schema import schema_from_sqlite

        schema_from_sqlite(db)  # a readable SQLite file, or InputError
        db_files = {e.db_id: db for e in examples}
    models: dict = {}
    for spec in model or []:
        label, target = _labelled(spec)
        models[label] = _llm(target, base_url, batch_size, device)
    if preds is not None:
        models[predictions.stem] = preds
    items = prepare_items(examples, fills=fills, seed=seed, db_files=db_files)
    report, scores = evaluate_sql(items, models, dataset=name, max_tokens=max_tokens, concurrency=batch_size, rows=rows,
                                  bootstrap=bootstrap, seed=seed, timeout_s=timeout,
                                  on_model=lambda label: say(f"evaluating {label} on {len(items)} questions"))
    from ragtune.report.tables import eval_table

    console.print(eval_table(report, ["test_suite_accuracy", "execution_accuracy", "exact_match", "valid_rate"]))
    if json_out:
        write_report(json_out, report)
        say(f"wrote {json_out}")
    if sql_out:
        judged = [it for it in items if it.gold_ok]
        atomic_write_jsonl(sql_out, [{"model": label, "db_id": it.example.db_id, "question": it.example.question,
                                      "gold": it.example.sql, "sql": sql, "error": err}
                                     for label, s in scores.items() for it, sql, err in zip(judged, s.sql, s.errors)])
        say(f"wrote {sql_out}")


@app.command("prepare")
@handle_errors
def prepare(
    data: str = typer.Argument(..., help="'spider-dev', a Spider-format JSON/JSONL list ({db_id, question, query}; generated "
                               "pairs are this format), or sql-create-context rows ({question, context, answer})"),
    output: Path = typer.Option(..., "--output", "-o", help="folder: train.jsonl, test.jsonl (chat), test.json (Spider-format "
                                "held-out questions for `eval sql`), split.json"),
    input_format: str = typer.Option("auto", "--format", help="'spider', 'create-context' or 'auto' (from the first row's fields)"),
    tables: Optional[Path] = typer.Option(None, "--tables", help="Spider tables.json for a Spider-format file (default: Spider's)"),
    test_share: float = typer.Option(0.2, "--test-share", min=0.0, max=0.95, help="share of databases held out (0 = no split)"),
    seed: int = typer.Option(0, "--seed", help="seed of the split by database"),
    rows: int = typer.Option(0, "--rows", min=0, help="sample rows per table in each prompt"),
) -> None:
    """Chat JSONL for `ragtune train sft`: the schema as CREATE TABLE statements, the question, the SQL as the answer.

    Split by database (seeded, recorded in split.json): no database is on both sides.

        ragtune sql prepare spider-dev -o data/sql --test-share 0.5 --seed 0
        ragtune train sft data/sql/train.jsonl --model qwen2.5-coder-0.5b-instruct -o runs/sql
    """
    from ragtune.io import check_output
    from ragtune.sql.preparation import prepare_sql_data

    check_output(output, "folder", option="--output")
    summary = prepare_sql_data(data, output, input_format=input_format, tables=tables, test_share=test_share, seed=seed,
                               rows=rows)
    say(f"{summary['train_examples']} training / {summary['test_examples']} held-out examples over "
        f"{len(summary['train_dbs'])} / {len(summary['test_dbs'])} databases -> {output}")


@app.command("ask")
@handle_errors
def ask(
    question: str = typer.Argument(..., help="the question, in words"),
    db: Path = typer.Option(..., "--db", help="the SQLite file to ask about (opened read-only)"),
    model: str = typer.Option(..., "--model", "-m", help=f"the chat model: {CHAT_MODEL_HELP}, or openai:MODEL"),
    rows: int = typer.Option(0, "--rows", min=0, help="sample rows per table shown to the model"),
    max_tokens: int = typer.Option(128, "--max-new-tokens", min=1, help="longest generated reply"),
    limit: int = typer.Option(20, "--limit", min=1, help="rows of the result to print"),
    base_url: Optional[str] = typer.Option(None, "--base-url", help="OpenAI-compatible server, for openai:MODEL"),
    device: str = typer.Option("auto", "--device", help=DEVICE_HELP),
) -> None:
    """Ask a question over a SQLite file: prints the model's SQL and the result table (run in the sandbox)."""
    from rich.table import Table

    from ragtune.errors import InputError
    from ragtune.sql.ask import ask_sql

    if not question.strip():
        raise InputError("the question is empty.")
    answer = ask_sql(_llm(model, base_url, 1, device), db, question, rows=rows, max_tokens=max_tokens)
    console.print(f"SQL: {answer.sql or '(no SQL in the reply)'}", markup=False)
    if not answer.result.ok:
        console.print(f"not run: {answer.result.error}", markup=False)
        raise typer.Exit(code=3)
    table = Table(*answer.result.columns)
    for row in answer.result.rows[:limit]:
        table.add_row(*[("NULL" if v is None else str(v)) for v in row])
    console.print(table)
    say(f"{len(answer.result.rows)} row(s)")


@handle_errors
def generate_sql_cmd(
    db: Optional[Path] = option(G, "db"),
    output: Optional[Path] = option(G, "output", "-o"),
    mode: Optional[str] = option(G, "mode"),
    llm: Optional[str] = option(G, "llm"),
    base_url: Optional[str] = option(G, "base_url"),
    calls: Optional[int] = option(G, "calls"),
    pairs_per_call: Optional[int] = option(G, "pairs_per_call"),
    max_pairs: Optional[int] = option(G, "max_pairs"),
    rows: Optional[int] = option(G, "rows"),
    concurrency: Optional[int] = option(G, "concurrency", "-c"),
    max_tokens: Optional[int] = option(G, "max_tokens"),
    temperature: Optional[float] = option(G, "temperature"),
    seed: Optional[int] = option(G, "seed"),
    timeout: Optional[float] = option(G, "timeout"),
    config: Optional[Path] = config_option(),
) -> None:
    """Question + SQL pairs from your own database: an LLM reads the schema and sample rows, every candidate is run.

    --mode pairs (default): the LLM writes questions with their SQL. --mode describe: ragtune samples the SQL
    (real columns, joins along foreign keys, values from your rows) and the LLM only writes the question each
    query answers, which small local models do far more reliably. A pair is kept only when its SQL runs,
    returns rows and is not a duplicate (sqlglot normal form); drops are counted by reason. Every finished
    call is journaled: rerun the same command to resume. OUT/config.json is a valid --config.

        ragtune generate sql --db shop.sqlite -o gen-sql/
        ragtune generate sql --db shop.sqlite -o gen-sql/ --mode describe
        ragtune sql prepare gen-sql/ -o data/sql --test-share 0
    """
    from ragtune.sql.generate import generate_sql

    cfg = config_from(SqlGenConfig, locals(), config, arguments=())
    result = generate_sql(cfg, show_progress=console.is_terminal)
    s = result.summary
    say(f"calls: {s['calls']['made']} made, {s['calls']['resumed']} resumed, {s['calls']['failed']} failed")
    dropped = ", ".join(f"{k} {v}" for k, v in s["dropped"].items()) or "none"
    say(f"{s['kept']} of {s['candidates']} candidate pairs kept; dropped: {dropped}")
    say(f"wrote {cfg.output}/pairs.jsonl")


@handle_errors
def eval_json(
    data: Path = typer.Argument(..., help="chat JSONL whose last assistant turn is the reference JSON object"),
    schema: Path = typer.Option(..., "--schema", help="the JSON Schema every reply must validate against"),
    model: list[str] = typer.Option(..., "--model", "-m", help=f"a chat model (repeat to compare; the first is the baseline; "
                                    f"LABEL=SPEC sets a label): {CHAT_MODEL_HELP}, or openai:MODEL"),
    json_out: Optional[Path] = typer.Option(None, "--json", help="write the evaluation report (task json) here"),
    max_tokens: int = typer.Option(64, "--max-new-tokens", min=1, help="longest generated reply"),
    batch_size: int = typer.Option(32, "--batch-size", min=1, help="prompts per generation batch"),
    seed: int = typer.Option(0, "--seed", help="bootstrap seed"),
    bootstrap: int = typer.Option(1000, "--bootstrap", min=1, help="bootstrap resamples for the 95% CIs"),
    base_url: Optional[str] = typer.Option(None, "--base-url", help="OpenAI-compatible server, for openai:MODEL"),
    device: str = typer.Option("auto", "--device", help=DEVICE_HELP),
    constrained: bool = typer.Option(False, "--constrained", help="decode inside --schema: a local model's tokens are "
                                     "masked step by step, a server is asked for structured outputs; every finished reply "
                                     "then validates, and field accuracy says what the model put in the fields"),
) -> None:
    """Valid-JSON rate (parses and validates against --schema) and field accuracy, with 95% CIs and paired comparisons.

        ragtune data faq-json -o data/faq-json
        ragtune eval json data/faq-json/test.jsonl --schema data/faq-json/schema.json -m smollm2-135m-instruct -m tuned=runs/faq-json
        ragtune eval json data/faq-json/test.jsonl --schema data/faq-json/schema.json -m tuned=runs/faq-json --constrained

    With --constrained the valid rate is that of decoding, not of the model (only a reply cut by
    --max-new-tokens can fail); compare models under the same setting.
    """
    from ragtune.data.chat import load_chat
    from ragtune.evaluation.json_output import evaluate_json, json_references, read_schema
    from ragtune.io import check_output
    from ragtune.records import write_report
    from ragtune.report.tables import eval_table

    if json_out is not None:
        check_output(json_out, "file", option="--json")
    schema_obj = read_schema(schema)
    examples = load_chat(data)
    json_references(examples)
    models = {}
    for spec in model:
        label, target = _labelled(spec)
        models[label] = _llm(target, base_url, batch_size, device, schema_obj if constrained else None)
    report = evaluate_json(examples, models, schema_obj, dataset=data.stem, max_tokens=max_tokens, concurrency=batch_size,
                           bootstrap=bootstrap, seed=seed)
    fields = [m for m in report.results[0].metrics if m.startswith("field_accuracy.")]
    console.print(eval_table(report, ["field_accuracy", "valid_rate", "exact_match", *fields]))
    if json_out:
        write_report(json_out, report)
        say(f"wrote {json_out}")


@handle_errors
def faq_json(
    output: Path = typer.Option(..., "--output", "-o", help="folder: train.jsonl, test.jsonl, schema.json, split.json"),
    test_share: float = typer.Option(0.3, "--test-share", min=0.01, max=0.99, help="share of each category held out"),
    seed: int = typer.Option(0, "--seed", help="seed of the stratified split"),
) -> None:
    """The bundled structured-output example: construction-faq questions -> {"category", "related_service"} JSON."""
    from ragtune.data.faq_json import write_faq_json
    from ragtune.io import check_output

    check_output(output, "folder", option="--output")
    rec = write_faq_json(output, test_share=test_share, seed=seed)
    say(f"{rec['train_examples']} training / {rec['test_examples']} test examples over {rec['categories']} categories "
        f"(stratified, seed {seed}) -> {output}")
