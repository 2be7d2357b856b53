"""`ragtune generate ...`: synthetic training data from your documents (questions, hard negatives)."""

from __future__ import annotations

from pathlib import Path

import typer

from ragtune.cli.common import console, handle_errors

app = typer.Typer(help="Make retrieval training data from documents: synthetic questions per chunk, then hard negatives.",
                  no_args_is_help=True)


@app.command("queries")
@handle_errors
def queries(
    docs: list[Path] = typer.Argument(..., help="Files or folders (txt, md, html, pdf, jsonl) to write questions for."),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder: train.json, val.json (LlamaIndex JSON), all.json, "
                             "summary.json, dropped.jsonl and the resumable journal.jsonl."),
    llm: str = typer.Option("local", help="'local' (best installed local model, in process), 'local:MODEL' "
                            "(registry name or folder), or 'openai:MODEL' for any OpenAI-compatible server."),
    base_url: str | None = typer.Option(None, help="Server URL for openai:MODEL, e.g. http://127.0.0.1:8000/v1 "
                                        "(vLLM, llama.cpp server, Ollama). Default: api.openai.com."),
    api_key_env: str = typer.Option("OPENAI_API_KEY", help="Environment variable that holds the API key. "
                                    "The key is never printed, logged or written."),
    questions_per_chunk: int = typer.Option(1, "--questions-per-chunk", "-n", help="Questions asked for per chunk."),
    samples: int = typer.Option(1, help="Independent LLM calls per chunk (set --temperature > 0 for variety)."),
    concurrency: int | None = typer.Option(None, "--concurrency", "-c", help="Requests in flight to a server "
                                           "(default 8); prompts per batch for the local model (default 32)."),
    max_tokens: int | None = typer.Option(None, help="Token budget of one reply (default: 40 per question asked)."),
    temperature: float = typer.Option(0.0, help="0 = greedy (deterministic); 0.7 gives more varied questions."),
    seed: int = typer.Option(42, help="Seed for sampling and for the train/val split."),
    prompt_file: Path | None = typer.Option(None, help="Your prompt template; it must contain {passage} and may use "
                                            "{n} (questions wanted) and {examples}."),
    examples: Path | None = typer.Option(None, "--examples", help="A few real user questions, one per line, shown to "
                                         "the LLM as style examples (Promptagator-style)."),
    filter: bool = typer.Option(True, "--filter/--no-filter", help="Round-trip filter: keep a question only if its "
                                "chunk ranks in the top K of all chunks under --filter-model."),
    self_check: bool = typer.Option(False, "--self-check", help="Ask the same LLM whether the passage answers each "
                                    "kept question (one short extra call per question); keep only 'yes'."),
    filter_model: str = typer.Option("minilm", help="Reference embedder of the round-trip filter."),
    filter_top_k: int = typer.Option(20, help="K of the round-trip filter."),
    min_words: int = typer.Option(3, help="Shortest question kept, in words."),
    max_words: int = typer.Option(40, help="Longest question kept, in words."),
    chunk_size: int = typer.Option(256, help="Chunk size in tokens of --chunk-tokenizer."),
    overlap: int = typer.Option(32, help="Tokens shared by consecutive chunks."),
    chunk_tokenizer: str = typer.Option("minilm", help="Tokenizer that sizes chunks (use your embedding model's)."),
    val_fraction: float = typer.Option(0.2, help="Share of source documents held out as validation."),
    max_tries: int = typer.Option(5, help="Attempts per chunk (server) before the chunk is given up; a rerun retries it."),
    timeout: float = typer.Option(60.0, help="Seconds before one server request times out."),
    price_per_1k: float | None = typer.Option(None, help="Price per 1000 tokens (in + out), to print the run's cost."),
    text_field: str = typer.Option("text", help="Field that holds the text in JSONL documents."),
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
    from ragtune.generate import QueryGenConfig, generate_queries, summary_lines

    cfg = QueryGenConfig(
        llm=llm, base_url=base_url, api_key_env=api_key_env, questions_per_chunk=questions_per_chunk, samples=samples,
        concurrency=concurrency, max_tokens=max_tokens, temperature=temperature, seed=seed,
        prompt_file=str(prompt_file) if prompt_file else None, examples_file=str(examples) if examples else None,
        filter=filter, self_check=self_check, filter_model=filter_model, filter_top_k=filter_top_k, min_words=min_words, max_words=max_words,
        chunk_size=chunk_size, overlap=overlap, chunk_tokenizer=chunk_tokenizer, val_fraction=val_fraction,
        max_tries=max_tries, timeout=timeout, price_per_1k=price_per_1k, text_field=text_field)
    result = generate_queries([str(p) for p in docs], out, cfg, show_progress=console.is_terminal)
    for line in summary_lines(result.summary):
        console.print(line, markup=False)
    console.print(f"wrote {out}/train.json, val.json, all.json, summary.json", markup=False)


@app.command("negatives")
@handle_errors
def negatives(
    dataset: str = typer.Argument(..., help="Retrieval dataset: LlamaIndex JSON (e.g. gen/train.json), BEIR folder, "
                                  ".jsonl, or a registry name."),
    model: str = typer.Option("minilm", "--model", "-m", help="Retriever that ranks the candidates: registry name, "
                              "local folder, cached hub id, or openai:MODEL."),
    out: Path = typer.Option(..., "--out", "-o", help="Output dataset file (.json LlamaIndex with hard_negatives, or .jsonl)."),
    num_negatives: int = typer.Option(5, "--num-negatives", "-n", help="Hard negatives per query."),
    skip_top: int = typer.Option(0, help="Skip this many top-ranked non-positive candidates (often unlabelled positives)."),
    margin: float = typer.Option(0.95, help="Drop a candidate scoring above margin x the positive's score (a likely "
                                 "false negative); 0 turns the guard off."),
    depth: int = typer.Option(50, help="How deep in the ranking to look for candidates."),
    base_url: str | None = typer.Option(None, help="Base URL of an OpenAI-compatible embeddings server, for openai:MODEL."),
) -> None:
    """Mine hard negatives: for each query, top-ranked chunks that are not its positives.

    Candidates come from the retriever's ranking, positives excluded; --skip-top skips the very top,
    and --margin guards against false negatives (chunks that score nearly as well as the positive
    probably answer the query too). The result goes into the dataset's hard_negatives field, which
    the embedding and reranker trainers use.

    Example: ragtune generate negatives gen/train.json -m minilm -o gen/train-negs.json --skip-top 2
    """
    from ragtune.data.retrieval import load_dataset, save_dataset
    from ragtune.embeddings import load_embedder
    from ragtune.generate.negatives import mine_hard_negatives

    ds = load_dataset(dataset)
    mined, stats = mine_hard_negatives(ds, load_embedder(model, base_url=base_url), num_negatives, skip_top,
                                       margin or None, depth, show_progress=console.is_terminal)
    save_dataset(mined, out, "jsonl" if out.suffix == ".jsonl" else "llamaindex")
    dropped = ", ".join(f"{k} {v}" for k, v in stats["dropped"].items()) or "none"
    console.print(f"{stats['negatives']} hard negatives for {stats['with_negatives']} of {stats['queries']} queries "
                  f"({stats['short_of_target']} short of {num_negatives}); candidates dropped: {dropped}", markup=False)
    console.print(f"wrote {out}", markup=False)
