"""`ragtune generate ...`: synthetic training data from your documents (questions, hard negatives)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Optional

import typer

from ragtune.cli.common import console, handle_errors, say
from ragtune.cli.options import config_from, config_option, option
from ragtune.generate.config import QueryGenConfig

Q = QueryGenConfig

app = typer.Typer(help="Make retrieval training data from documents: synthetic questions per chunk, then hard negatives.",
                  no_args_is_help=True)


@app.command("queries")
@handle_errors
def queries(
    docs: list[Path] = typer.Argument(..., help="Files or folders (txt, md, html, pdf, jsonl) to write questions for."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Output folder: train.json, val.json (LlamaIndex JSON), "
                                          "all.json, summary.json, dropped.jsonl and the resumable journal.jsonl.", show_default=False),
    llm: Optional[str] = option(Q, "llm"),
    base_url: Optional[str] = option(Q, "base_url"),
    api_key_env: Optional[str] = option(Q, "api_key_env"),
    questions_per_chunk: Optional[int] = option(Q, "questions_per_chunk", "-n"),
    samples: Optional[int] = option(Q, "samples"),
    concurrency: Optional[int] = option(Q, "concurrency", "-c"),
    max_tokens: Optional[int] = option(Q, "max_tokens"),
    temperature: Optional[float] = option(Q, "temperature"),
    seed: Optional[int] = option(Q, "seed"),
    prompt_file: Optional[Path] = option(Q, "prompt_file"),
    examples_file: Optional[Path] = option(Q, "examples_file", "--examples"),
    filter: Optional[bool] = option(Q, "filter", bool_flag=True),
    self_check: Optional[bool] = option(Q, "self_check", bool_flag=True),
    filter_model: Optional[str] = option(Q, "filter_model"),
    filter_top_k: Optional[int] = option(Q, "filter_top_k"),
    min_words: Optional[int] = option(Q, "min_words"),
    max_words: Optional[int] = option(Q, "max_words"),
    chunk_size: Optional[int] = option(Q, "chunk_size"),
    overlap: Optional[int] = option(Q, "overlap"),
    chunk_tokenizer: Optional[str] = option(Q, "chunk_tokenizer"),
    val_fraction: Optional[float] = option(Q, "val_fraction"),
    val_style: Optional[Literal["user", "same"]] = option(Q, "val_style"),
    val_llm: Optional[str] = option(Q, "val_llm"),
    val_questions_per_chunk: Optional[int] = option(Q, "val_questions_per_chunk"),
    val_prompt_file: Optional[Path] = option(Q, "val_prompt_file"),
    val_max_overlap: Optional[float] = option(Q, "val_max_overlap"),
    max_tries: Optional[int] = option(Q, "max_tries"),
    timeout: Optional[float] = option(Q, "timeout"),
    price_per_1k: Optional[float] = option(Q, "price_per_1k"),
    text_field: Optional[str] = option(Q, "text_field"),
    device: Optional[str] = option(Q, "device"),
    config: Optional[Path] = config_option(),
) -> None:
    """Write synthetic questions for every chunk of your documents: a retrieval training set.

    Each chunk gets up to N questions from the LLM. Replies are cleaned (numbering, bullets, quotes and
    preambles stripped; non-questions, copies of the passage, near-duplicates and out-of-bounds lengths
    dropped, each counted by reason), then the round-trip filter keeps a question only if a reference
    embedder ranks its chunk in the top K. All chunks stay in the corpus (chunks without questions are
    distractors); train/val are split by source document.

    Every finished call is journaled in OUT/journal.jsonl: if the run stops (Ctrl-C, crash, kill -9),
    rerun the same command and it resumes, generating nothing twice.

    Examples:
      ragtune generate queries docs/ -o gen/
      ragtune generate queries docs/ -o gen/ --llm openai:Qwen2.5-7B-Instruct --base-url http://127.0.0.1:8000/v1 -c 32
    """
    from ragtune.embedders import load_embedder
    from ragtune.errors import InputError
    from ragtune.generate import generate_queries, summary_lines
    from ragtune.io import check_output

    folder = output
    if folder is None:
        raise InputError("--output is required: the folder to write the questions into (-o gen/).")
    cfg = config_from(QueryGenConfig, locals(), config, arguments=())
    check_output(folder, "folder")
    result = generate_queries([str(p) for p in docs], folder, cfg, embedder=load_embedder(cfg.filter_model) if cfg.filter else None,
                              show_progress=console.is_terminal)
    for line in summary_lines(result.summary):
        say(line)
    say(f"wrote {folder}/train.json, val.json, all.json, summary.json")


@app.command("negatives")
@handle_errors
def negatives(
    dataset: str = typer.Argument(..., help="Retrieval dataset: LlamaIndex JSON (e.g. gen/train.json), BEIR folder, "
                                  ".jsonl, or a registry name."),
    retriever: str = typer.Option("minilm", "--retriever", "-r", help="Retriever that ranks the candidates: registry name, "
                              "local folder, cached hub id, or openai:MODEL."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Output dataset file (.json LlamaIndex with "
                                          "hard_negatives, or .jsonl).", show_default=False),
    num_negatives: int = typer.Option(5, "--num-negatives", min=1, help="Hard negatives per query."),
    skip_top: int = typer.Option(0, min=0, help="Skip this many top-ranked non-positive candidates (often unlabelled positives)."),
    margin: float = typer.Option(0.95, min=0.0, help="Drop a candidate scoring above margin x the positive's score (a likely "
                                 "false negative); 0 turns the guard off."),
    depth: int = typer.Option(50, min=1, help="How deep in the ranking to look for candidates."),
    base_url: str | None = typer.Option(None, help="Base URL of an OpenAI-compatible embeddings server, for openai:MODEL."),
) -> None:
    """Mine hard negatives: for each query, top-ranked chunks that are not its positives.

    Candidates come from the retriever's ranking, positives excluded; --skip-top skips the very top,
    and --margin guards against false negatives (chunks that score nearly as well as the positive
    probably answer the query too). The result goes into the dataset's hard_negatives field, which
    the embedding and reranker trainers use.

    Example: ragtune generate negatives gen/train.json -r minilm -o gen/train-negs.json --skip-top 2
    """
    from ragtune.data.retrieval import load_checked, save_dataset
    from ragtune.embedders import load_embedder
    from ragtune.errors import InputError
    from ragtune.generate.negatives import mine_hard_negatives
    from ragtune.io import check_output

    out = output
    if out is None:
        raise InputError("--output is required: the dataset file to write (-o train-negs.json).")
    check_output(out, "file")
    ds = load_checked(dataset, "dataset")
    mined, stats = mine_hard_negatives(ds, load_embedder(retriever, base_url=base_url), num_negatives, skip_top,
                                       margin or None, depth, show_progress=console.is_terminal)
    save_dataset(mined, out, "jsonl" if out.suffix == ".jsonl" else "llamaindex")
    dropped = ", ".join(f"{k} {v}" for k, v in stats["dropped"].items()) or "none"
    console.print(f"{stats['negatives']} hard negatives for {stats['with_negatives']} of {stats['queries']} queries "
                  f"({stats['short_of_target']} short of {num_negatives}); candidates dropped: {dropped}", markup=False)
    console.print(f"wrote {out}", markup=False)


from ragtune.cli.judges import judge_data  # noqa: E402

app.command("judge-data")(judge_data)

from ragtune.cli.sql import generate_sql_cmd  # noqa: E402

app.command("sql")(generate_sql_cmd)
