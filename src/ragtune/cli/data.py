"""`ragtune data ...`: chunk documents, and inspect, validate, convert and split retrieval datasets.

A DATASET argument is any of: the registry name `construction-faq`, a LlamaIndex JSON file
(`EmbeddingQAFinetuneDataset.save_json`), a BEIR folder (`corpus.jsonl`, `queries.jsonl`,
`qrels/<split>.tsv`) or a ragtune `.jsonl` file. Outputs are chosen by name: `.json` is LlamaIndex
JSON, `.jsonl` is ragtune JSONL, anything else is a BEIR folder.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal, Optional

import typer
from rich.text import Text

from ragtune.cli.common import CHAT_MODEL_HELP, above, console, err_console, fail, handle_errors, say

app = typer.Typer(help="Chunk documents; inspect, validate, convert and split retrieval datasets; validate chat data.",
                  no_args_is_help=True)



def dataset_kind(path: Path) -> str:
    """A dataset output is one file (.json, .jsonl) or a BEIR folder (any other name)."""
    return "file" if path.suffix in (".json", ".jsonl") else "folder"
_SPLIT_HELP = "BEIR input only: which qrels/<split>.tsv to read (default: test, else the first one)."


@app.command("chunk")
@handle_errors
def chunk(
    docs: list[Path] = typer.Argument(..., help="Folders (read recursively) and/or files: .txt .md .html .htm .pdf .jsonl."),
    output: Path = typer.Option(..., "-o", "--output", help="Where to write the chunks: OUT.json (LlamaIndex JSON, "
                                "recommended), OUT.jsonl (ragtune JSONL) or a folder (BEIR)."),
    text_field: str = typer.Option("text", "--text-field", help="JSONL inputs: the field that holds each row's text."),
    chunk_tokenizer: str = typer.Option("minilm", "--chunk-tokenizer", help="Model whose tokenizer measures chunks: an asset name "
                                  "(minilm, mpnet), a local model folder, or a cached hub id. Use your embedding model's."),
    chunk_size: int = typer.Option(256, "--chunk-size", min=16, help="Most tokens per chunk, counting the model's special "
                                   "tokens. 256 = all-MiniLM-L6-v2's max_seq_length; longer chunks would be truncated."),
    overlap: int = typer.Option(32, "--overlap", min=0, help="Tokens shared by consecutive chunks of one document (cuts fall "
                                "between words, so the real overlap can be a little smaller)."),
    name: str = typer.Option("", "--name", help="Dataset name used in reports (default: the output file's stem)."),
) -> None:
    """Cut your documents into token-sized chunks: the corpus for query generation and training.

    Reads .txt, .md, .html/.htm (scripts and styles dropped), .pdf (text layer, via pypdf) and .jsonl
    (every row is a document with id `path#line`). Bad files and rows are listed with the reason and
    skipped; the run fails only if nothing is usable. Chunks never cut a word; each gets a stable id
    `<source>::<hash of its text>` and records its source, position and character span.

    The output is a retrieval dataset with a corpus and no queries yet:

        ragtune data chunk docs/ -o chunks.json
        ragtune data info chunks.json
    """
    from ragtune.data.documents import chunk_documents, chunking_tokenizer, chunks_to_dataset, load_documents
    from ragtune.data.retrieval import save_dataset
    from ragtune.io import check_output

    check_output(output, dataset_kind(output))
    documents, report = load_documents(docs, text_field=text_field, exclude=[output])
    for line in report.lines():
        err_console.print(line, style="yellow", markup=False, highlight=False, soft_wrap=True)
    chunks = chunk_documents(documents, chunking_tokenizer(chunk_tokenizer), chunk_size=chunk_size, overlap=overlap)
    meta = {"chunking": {"tokenizer": chunk_tokenizer, "chunk_size": chunk_size, "overlap": overlap, "text_field": text_field,
                         "inputs": [str(p) for p in docs], "skipped": report.lines()}}
    ds = chunks_to_dataset(chunks, name=name or output.stem, meta=meta)
    save_dataset(ds, output)
    say(f"{report.summary()}\n{len(chunks)} chunks from {len(documents)} documents -> {output}")


@app.command("convert")
@handle_errors
def convert(
    source: str = typer.Argument(..., help="Input dataset: construction-faq, LlamaIndex .json, BEIR folder or ragtune .jsonl."),
    old_output: Optional[Path] = typer.Argument(None, help="Old place of --output (a second argument); use -o.",
                                                show_default=False, hidden=True),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="Output path: a .json file, a .jsonl file or a "
                                          "folder (BEIR).", show_default=False),
    to: Optional[Literal["llamaindex", "beir", "jsonl"]] = typer.Option(None, "--to", help="Output format (default: from "
                                                                        "the output's name: .json, .jsonl, else a folder)."),
    split: str = typer.Option("", "--split", help=_SPLIT_HELP),
) -> None:
    """Convert a retrieval dataset between LlamaIndex JSON, BEIR and ragtune JSONL.

    LlamaIndex JSON and ragtune JSONL keep everything (hard negatives, chunk sources, metadata); BEIR
    has no place for those, so they are dropped with a warning.

        ragtune data convert construction-faq -o faq.json
        ragtune data convert faq.json -o faq-beir --to beir
    """
    from ragtune.data.retrieval import check, load_dataset, save_dataset
    from ragtune.errors import InputError
    from ragtune.io import check_output

    if output is None and old_output is None:
        raise InputError("-o/--output is required: where to write the converted dataset (-o faq.json).")
    if output is not None and old_output is not None:
        raise InputError(f"give the output once: -o {output} or the old second argument {old_output}, not both.")
    if output is None:
        err_console.print("warning: ragtune data convert: the output as a second argument is the old form; use "
                          f"-o {old_output}. It will be removed in a later release.", style="yellow", markup=False,
                          highlight=False, soft_wrap=True)
        output = old_output
    fmt = to or ("jsonl" if output.suffix == ".jsonl" else "llamaindex" if output.suffix == ".json" else "beir")
    check_output(output, "folder" if fmt == "beir" else "file", option="--output")
    ds = check(load_dataset(source, split or None), source)
    lost = [k for k in ("hard_negatives", "doc_source", "meta") if getattr(ds, k)]
    if fmt == "beir" and lost:
        err_console.print(f"warning: BEIR cannot store {', '.join(lost)}; they are not in {output}. "
                          "Use .json or .jsonl to keep them.", style="yellow", markup=False, highlight=False, soft_wrap=True)
    save_dataset(ds, output, fmt)
    say(f"{ds.summary()}\nwritten as {fmt} -> {output}")


@app.command("split")
@handle_errors
def split(
    dataset: str = typer.Argument(..., help="Dataset to split: construction-faq, LlamaIndex .json, BEIR folder or .jsonl."),
    output: Path = typer.Option(..., "-o", "--output", help="Folder for train.json, val.json and split.json."),
    val_fraction: float = typer.Option(0.2, "--val-fraction", callback=above(0.0, 1.0), help="Share of source documents held out for validation (0-1)."),
    seed: int = typer.Option(42, "--seed", help="Random seed; the same seed gives the same split."),
    beir_split: str = typer.Option("", "--split", help=_SPLIT_HELP),
) -> None:
    """Split a dataset into train and validation by SOURCE DOCUMENT, so no document leaks across.

    Chunks of one document (their `doc_source`) all land on the same side; a query follows its first
    relevant chunk and keeps only the relevant chunks on its side (a query left with none is dropped,
    and counted).
    Writes FOLDER/train.json, FOLDER/val.json (LlamaIndex JSON) and FOLDER/split.json (seed, fraction
    and the sources on each side), so the split can be checked and repeated.

        ragtune data split construction-faq -o data/ --val-fraction 0.2 --seed 42
    """
    from ragtune.data.retrieval import check, load_dataset, save_split_record, split_by_source
    from ragtune.io import check_output

    check_output(output, "folder")
    ds = check(load_dataset(dataset, beir_split or None), dataset)
    train, val = split_by_source(ds, val_fraction=val_fraction, seed=seed)
    save_split_record(train, val, output)
    dropped = len(ds.queries) - len(train.queries) - len(val.queries)
    say(f"train: {train.summary()}\nval:   {val.summary()}")
    if dropped:
        say(f"{dropped} queries dropped: no relevant doc on their side of the split.")
    say(f"written -> {output / 'train.json'}, {output / 'val.json'}, {output / 'split.json'}")


@app.command("info")
@handle_errors
def info(
    dataset: str = typer.Argument(..., help="Dataset: construction-faq, LlamaIndex .json, BEIR folder or ragtune .jsonl."),
    beir_split: str = typer.Option("", "--split", help=_SPLIT_HELP),
) -> None:
    """Print a dataset's summary and every validation problem; exit 2 if there is any error.

    Checks: empty query or document texts, queries without a relevant doc, judgments or hard
    negatives naming unknown ids, hard negatives that are also relevant (errors); the same doc listed
    twice (warning).

        ragtune data info construction-faq
    """
    from ragtune.data.retrieval import load_dataset, validate

    ds = load_dataset(dataset, beir_split or None)
    say(ds.summary())
    say(_lengths(ds))
    split = ds.meta.get("split")
    if split:
        say(f"split: by {split.get('by')}, seed {split.get('seed')}, val fraction {split.get('val_fraction')}")
    problems = validate(ds, where=dataset)
    errors = [p for p in problems if p.severity == "error"]
    for p in problems[:100]:
        say(f"{p.severity}: {p}")
    if len(problems) > 100:
        say(f"... and {len(problems) - 100} more problems")
    say(f"{len(errors)} error(s), {len(problems) - len(errors)} warning(s)")
    if errors:
        raise typer.Exit(code=2)


def _lengths(ds) -> str:
    def mean(texts) -> float:
        texts = list(texts)
        return sum(len(t) for t in texts) / len(texts) if texts else 0.0

    return f"mean length: queries {mean(ds.queries.values()):.0f} chars, docs {mean(ds.corpus.values()):.0f} chars"


# ---------------------------------------------------------------------------------------------
# data validate


def _is_retrieval(path: Path) -> bool:
    """A BEIR folder, a LlamaIndex JSON object, or ragtune retrieval JSONL (rows with a 'type')."""
    if path.is_dir():
        return True
    try:
        with path.open(encoding="utf-8") as f:
            head = f.read(1 << 16).lstrip()
    except (OSError, UnicodeDecodeError):  # chat data reading reports it, with the line
        return False
    if path.suffix == ".json" and head.startswith("{"):
        return True
    first = head.splitlines()[0] if head else ""
    try:
        row = json.loads(first)
    except json.JSONDecodeError:
        return False
    return isinstance(row, dict) and row.get("type") in ("corpus", "query")


@app.command("validate")
@handle_errors
def validate(
    file: Path = typer.Argument(..., help="chat data (OpenAI chat JSONL, prompt/completion, sharegpt, alpaca) or a retrieval dataset (LlamaIndex JSON, BEIR folder)"),
    model: Optional[str] = typer.Option(None, "--model", "-m", help=f"check tokens, the loss mask and end-of-turn tokens with this model's tokenizer ({CHAT_MODEL_HELP}); without it token counts are estimated"),
    val_dataset: Optional[Path] = typer.Option(None, "--val-dataset", help="validation file to check for train/val overlap"),
    max_length: Optional[int] = typer.Option(None, "--max-length", min=8, help="context budget in tokens (default: the model's context)"),
    price: float = typer.Option(3.0, "--price-per-mtok", min=0.0, help="training price per million tokens for the cost estimate (USD; 3.0 is gpt-4o-mini's list price)"),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="also write the valid conversations as OpenAI chat JSONL here"),
    show: int = typer.Option(50, "--show", min=0, help="print at most this many problems of each severity"),
) -> None:
    """Check a dataset before training: every problem as `file:line: what is wrong`.

    For chat data: the OpenAI format checks (types, roles, unknown keys, missing content, no assistant
    message), token counts against the context with a truncation count, an empty assistant-token loss
    mask, assistant turns that do not end with the end-of-turn token, exact and near duplicates, and
    train/val overlap (--val-dataset). Errors make the exit code non-zero; warnings do not. A summary gives the
    token distribution, the default epoch count and a cost estimate. Example:

        ragtune data validate chats.jsonl --model smollm2-135m-instruct --val-dataset val.jsonl
    """
    from ragtune.errors import InputError
    from ragtune.io import check_output

    if output is not None:
        check_output(output, "file")
    if _is_retrieval(file):
        return _validate_retrieval(file, show)
    from ragtune.data.chat import validate_chat, write_chat
    from ragtune.sft.tokenize import token_check

    report = validate_chat(file, val=val_dataset, max_length=max_length, price_per_mtok=price,
                           token_check=token_check(model, max_length) if model else None)
    _print_problems(report.errors, "error", show)
    _print_problems(report.warnings, "warning", show)
    _print_summary(report.summary, len(report.errors), len(report.warnings))
    if not report.examples and not report.errors:
        raise InputError(f"{file}: no conversations found (the file is empty); give chat data, one JSON object per line.")
    if output is not None:
        write_chat(report.examples, output)
        console.print(f"wrote {len(report.examples)} conversations as OpenAI chat JSONL to {output}")
    if report.errors:
        fail(f"{file}: {len(report.errors)} error(s) (listed above); the first: {report.errors[0]}", code=1)


def _validate_retrieval(path: Path, show: int) -> None:
    from ragtune.data.retrieval import load_dataset, validate as validate_retrieval

    ds = load_dataset(path)
    problems = validate_retrieval(ds, where=str(path))
    errors = [p for p in problems if p.severity == "error"]
    _print_problems(errors, "error", show)
    _print_problems([p for p in problems if p.severity != "error"], "warning", show)
    console.print(f"retrieval dataset: {ds.summary()}; {len(errors)} error(s)")
    if errors:
        fail(f"{path}: {len(errors)} error(s) (listed above); the first: {errors[0]}", code=1)


def _print_problems(problems, label: str, show: int) -> None:
    style = "red" if label == "error" else "yellow"
    for p in problems[:show]:
        console.print(Text(label, style=style) + Text(f" {p}"), highlight=False, soft_wrap=True)
    if len(problems) > show:
        console.print(f"... and {len(problems) - show} more {label}s (use --show N)")


def _print_summary(s: dict, n_err: int, n_warn: int) -> None:
    if not s.get("examples"):
        console.print(f"no valid conversations; {n_err} error(s), {n_warn} warning(s)")
        return
    t = s["tokens"]
    approx = "" if s["tokens_exact"] else " (estimated as chars/4; give --model for exact counts)"
    console.print(
        f"{s['examples']} conversations; tokens per example{approx}: min {t['min']}, mean {t['mean']}, p50 {t['p50']}, "
        f"p95 {t['p95']}, max {t['max']}; total {t['total']}\n"
        f"{s['truncated']} example(s) longer than max_length {s['max_length']}\n"
        f"default epochs {s['epochs']}: about {s['billed_tokens']} billed training tokens, "
        f"~${s['estimated_cost']:.2f} at ${s['price_per_million_tokens']}/1M tokens\n"
        f"{n_err} error(s), {n_warn} warning(s)"
    )


from ragtune.cli.sql import faq_json  # noqa: E402

app.command("faq-json")(faq_json)
