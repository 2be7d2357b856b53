"""`ragtune eval ...`: measure models on held-out data; every command can write the shared JSON shape."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import typer

from ragtune.cli.common import console, handle_errors, parse_ks, say, write_page
from ragtune.device import DEVICE_HELP

app = typer.Typer(help="Evaluate models with real metrics, 95% confidence intervals and paired comparisons.", no_args_is_help=True)


@app.command("retrieval")
@handle_errors
def eval_retrieval(
    dataset: str = typer.Argument(..., help="Registry name (construction-faq), LlamaIndex JSON file, BEIR folder or ragtune .jsonl."),
    model: list[str] = typer.Option(..., "--model", "-m", help="Embedding model: registry name (minilm, mpnet), local folder, "
                                    "adapter run folder, cached hub id, or openai:MODEL. Repeat to compare; the first is the baseline. "
                                    "LABEL=SPEC sets a label."),
    k: str = typer.Option("1,3,5,10", "--k", help="Cut-offs for hit@k, recall@k, mrr@k, ndcg@k, map@k (10 is always added)."),
    json_out: Path | None = typer.Option(None, "--json", help="Write the evaluation report (the shared JSON shape, docs/architecture.md) to this file."),
    batch_size: int = typer.Option(64, min=1, help="Embedding batch size."),
    bootstrap: int = typer.Option(1000, min=1, help="Bootstrap resamples for the 95% confidence intervals."),
    index: Literal["exact", "faiss"] = typer.Option("exact", help="'exact' (batched matrix products, bounded memory) or 'faiss' (needs ragtune[faiss])."),
    split: str | None = typer.Option(None, help="BEIR qrels split to use (default: test, else the first)."),
    base_url: str | None = typer.Option(None, help="Base URL of an OpenAI-compatible embeddings server, for openai:MODEL."),
    device: str = typer.Option("auto", "--device", help=DEVICE_HELP),
) -> None:
    """Score embedding models on a retrieval dataset: hit/recall/mrr/ndcg/map@k with 95% CIs.

    With two or more models, each is compared with the first by a paired bootstrap on ndcg@10 and
    per-query wins/losses/ties. Embeddings are cached on disk (keyed by model weights and text), so
    evaluating the same model again re-embeds nothing.

    Example: ragtune eval retrieval construction-faq -m minilm -m mpnet --json eval.json
    """
    from ragtune.data.retrieval import check, load_dataset
    from ragtune.embedders import load_embedder
    from ragtune.evaluation.retrieval import evaluate_retrieval
    from ragtune.io import check_output
    from ragtune.records import write_report
    from ragtune.report.tables import eval_table

    ks = parse_ks(k)
    if json_out:
        check_output(json_out, "file", option="--json")
    ds = check(load_dataset(dataset, split=split), dataset)
    models = {}
    for spec in model:
        label, _, target = spec.partition("=") if "=" in spec and not spec.startswith("openai:") else (spec, "", spec)
        models[label] = load_embedder(target, base_url=base_url, device=device)
    report = evaluate_retrieval(ds, models, ks=ks, batch_size=batch_size, bootstrap=bootstrap, index=index,
                                show_progress=console.is_terminal)
    console.print(eval_table(report))
    if json_out:
        write_report(json_out, report)
        say(f"wrote {json_out}")
        write_page(json_out)

from ragtune.cli.sft import eval_sft  # noqa: E402

app.command("sft")(eval_sft)

from ragtune.cli.reranker import eval_rerank  # noqa: E402

app.command("rerank")(eval_rerank)

from ragtune.cli.judges import eval_judge, eval_rag  # noqa: E402

app.command("judge")(eval_judge)
app.command("rag")(eval_rag)

from ragtune.cli.sql import eval_sql  # noqa: E402

app.command("sql")(eval_sql)

from ragtune.cli.sql import eval_json  # noqa: E402

app.command("json")(eval_json)
