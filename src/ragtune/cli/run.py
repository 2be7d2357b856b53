"""`ragtune run [DOCS] -o RUN`: the whole retrieval job in one command (what `make demo` runs)."""

from __future__ import annotations

from pathlib import Path

import typer

from ragtune.cli.common import console, handle_errors


@handle_errors
def run(
    docs: str | None = typer.Argument(None, help="Documents (file or folder: txt, md, html, pdf, jsonl). Omit for the "
                                      "bundled construction-faq demo."),
    output: Path = typer.Option(..., "--output", "-o", help="Run folder (rerun the same command to resume)."),
    model: str = typer.Option("minilm", "--model", "-m", help="Embedding model to improve."),
    teacher: str = typer.Option("mpnet", help="Stronger embedder used as teacher ('none' = synthetic labels only)."),
    eval_dataset: str | None = typer.Option(None, help="Held-out REAL queries over the same corpus; they decide what ships. "
                                            "Default with no DOCS: the 503 human FAQ questions."),
    llm: str = typer.Option("local", help="Question writer: 'local', 'local:MODEL' or 'openai:MODEL' (with --base-url)."),
    base_url: str | None = typer.Option(None, help="OpenAI-compatible server for --llm openai:MODEL."),
    max_chunks: int = typer.Option(0, help="Use at most this many chunks (0 = all)."),
    finetune: bool = typer.Option(True, help="Run the full fine-tune stage (the adapter stage always runs)."),
    finetune_max_steps: int = typer.Option(60, help="Step budget of the full fine-tune (-1 = no cap)."),
    adapter_epochs: int = typer.Option(30, help="Adapter epochs (cheap: they train on cached vectors, no model calls)."),
    seed: int = typer.Option(42, help="Seed for sampling, split and training."),
) -> None:
    """Chunk -> generate queries -> split by document -> evaluate base -> fine-tune -> adapter -> evaluate all -> report.

    Everything runs offline. With no DOCS it uses the bundled construction-faq: questions are generated from the 503 answers only and every model is judged on the 503 human-written questions, which are never used for training.

    RUN/model/ holds the winner (a model folder or an adapter folder), or is absent when nothing beat the base; metrics.json has the numbers and the time of every stage. Rerunning the same command resumes.

    Example: ragtune run -o runs/demo   (the demo that `make demo` runs)
    """
    from ragtune.pipeline import run as run_pipeline
    from ragtune.report.tables import eval_table

    metrics = run_pipeline(docs, output, eval_dataset=eval_dataset, say=console.print, show_progress=console.is_terminal,
                           model=model, teacher=teacher, llm=llm, base_url=base_url, max_chunks=max_chunks,
                           finetune=finetune, finetune_max_steps=finetune_max_steps, adapter_epochs=adapter_epochs, seed=seed)
    import json

    for name in metrics["models"]:
        console.print(eval_table(json.loads((output / "eval" / f"{name}.json").read_text(encoding="utf-8"))))
    console.print(f"validation difficulty: median rank of the positive under the base = "
                  f"{metrics['validation_difficulty']['base_median_rank']:.0f}; ship decisions used: {metrics['decided_by']}")
    for label, d in metrics["decisions"].items():
        console.print(("[green]" if d["shipped"] else "[bold red]") + f"{label}: {d['reason']}[/]")
    console.print(f"result: [bold]{metrics['result']['model']}[/] ({metrics['result']['why']}); "
                  f"stage times (s): {metrics['seconds']}; run folder: {output}")
