"""`ragtune train embedding` (full fine-tune) and `ragtune train adapter` (adapter over a frozen embedder)."""

from __future__ import annotations

from pathlib import Path

import typer

from ragtune.cli.common import console, handle_errors


def _dims(text: str) -> list[int]:
    from ragtune.errors import InputError

    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise InputError(f"--matryoshka must be comma-separated integers like 384,256,128; got {text!r}") from None


def _show(run: Path, metrics: dict) -> None:
    from ragtune.report.tables import eval_table

    for name in metrics["models"]:
        path = run / "eval" / f"{name}.json"
        if path.exists():
            import json

            console.print(eval_table(json.loads(path.read_text(encoding="utf-8"))))
    d = metrics["decision"]
    diff = metrics["validation_difficulty"]
    console.print(f"validation difficulty: median rank of the positive under the base = {diff['base_median_rank']:.0f} "
                  f"(1 = easy; real questions are usually harder)")
    console.print(("[green]" if d["shipped"] else "[bold red]") + d["reason"] + "[/]")
    console.print(f"decided by: {d['decided_by']} ({d['decision_dataset']}); run folder: {run}")


@handle_errors
def train_adapter(
    dataset: str = typer.Argument(..., help="Training data: LlamaIndex JSON, BEIR folder, ragtune .jsonl or a registry name."),
    embedder: str = typer.Option("minilm", "--embedder", "-e", help="The frozen embedder: registry name, local folder, or "
                                 "openai:MODEL (remote OpenAI-compatible endpoint, see --base-url)."),
    output: Path = typer.Option(..., "--output", "-o", help="Run folder (created)."),
    teacher: str | None = typer.Option(None, "--teacher", "-t", help="A stronger embedder whose softmax over the corpus is the "
                                       "target (recommended: it is what makes adapters help)."),
    kind: str = typer.Option("linear", help="'linear' (identity-initialised matrix) or 'mlp' (residual MLP)."),
    side: str = typer.Option("query", help="'query' (no re-indexing) or 'both' (documents adapted too: re-embed the index)."),
    epochs: int = typer.Option(30, help="Epochs over the cached vectors (milliseconds each)."),
    lr: float = typer.Option(3e-4, help="AdamW learning rate."),
    temperature: float = typer.Option(0.05, help="Softmax temperature of the teacher's and student's scores."),
    pseudo_queries: bool = typer.Option(True, help="With a teacher: also use document sentences as unlabelled queries."),
    pseudo_spans: int = typer.Option(3, help="With pseudo-queries: also this many random 3-8 word spans per sentence "
                                     "(0 = off; each is embedded once by the embedder and the teacher)."),
    select_epoch: bool | None = typer.Option(None, "--select-epoch/--fixed-epochs", help="Pick the best epoch on validation, "
                                             "or train exactly --epochs (default: fixed with a teacher, selected without)."),
    val_dataset: str | None = typer.Option(None, help="Validation set (default: split the data by source document)."),
    eval_dataset: str | None = typer.Option(None, help="Held-out REAL queries; when given they decide whether the adapter ships."),
    base_url: str | None = typer.Option(None, help="Base URL of an OpenAI-compatible embeddings server, for openai:MODEL."),
    seed: int = typer.Option(42, help="Seed for the split, initialisation and shuffling."),
) -> None:
    """Fit a small adapter over a frozen (even black-box) embedder, on its cached vectors.

    Every distinct text is embedded once, ever (the cache is shared with `ragtune eval`), so epochs
    cost milliseconds. With --teacher, the teacher's scores over the corpus are the targets, the
    documents' sentences and short spans of them serve as extra unlabelled queries, and the adapter
    trains a fixed --epochs; without one, the best epoch by validation ndcg@10 is kept. RUN/model/ is
    written only if the adapter beats the base (on --eval-dataset when given). Use it from Python with
    `ragtune.embeddings.adapter.load_adapted("RUN/model")`, or in LlamaIndex with
    `ragtune.integrations.llamaindex.AdapterEmbedding`.

    Example: ragtune train adapter data/train.json -e minilm --teacher mpnet -o runs/adapter
    """
    from ragtune.embeddings.train_adapter import train_adapter as fit

    metrics = fit(dataset, embedder, output, teacher=teacher, kind=kind, side=side, val_dataset=val_dataset,
                  eval_dataset=eval_dataset, base_url=base_url, epochs=epochs, lr=lr, temperature=temperature,
                  pseudo_queries=pseudo_queries, pseudo_spans=pseudo_spans, select_epoch=select_epoch,
                  seed=seed)
    _show(output, metrics)


@handle_errors
def train_embedding(
    dataset: str = typer.Argument(..., help="Training data: LlamaIndex JSON, BEIR folder, ragtune .jsonl or a registry name."),
    model: str = typer.Option("minilm", "--model", "-m", help="Base model: registry name (minilm, mpnet), local folder or cached hub id."),
    output: Path = typer.Option(..., "--output", "-o", help="Run folder (created; rerun the same command to resume)."),
    teacher: str | None = typer.Option(None, "--teacher", "-t", help="Distil from a stronger embedder: it scores each query's "
                                       "top candidates once (cached) and the student fits those scores."),
    distill_loss: str = typer.Option("kl", help="With --teacher: 'kl' (DistillKLDivLoss) or 'margin_mse' (MarginMSELoss)."),
    teacher_top_n: int = typer.Option(5, help="With --teacher: candidates per query (positive + base model's top negatives)."),
    loss: str = typer.Option("mnrl", help="Without --teacher: 'mnrl' or 'cached_mnrl' (large effective batches in small memory)."),
    matryoshka: str = typer.Option("", help="Matryoshka dimensions, e.g. 384,256,128,64 (empty = off)."),
    epochs: float = typer.Option(1.0, help="Training epochs."),
    lr: float = typer.Option(2e-5, help="Peak learning rate."),
    batch_size: int = typer.Option(16, help="Batch size (in-batch negatives come from the batch)."),
    max_steps: int = typer.Option(-1, help="Stop after this many steps (-1 = use --epochs)."),
    merge_with_base: float = typer.Option(0.0, help="Average the tuned weights with the base: (1-a)*tuned + a*base."),
    val_dataset: str | None = typer.Option(None, help="Validation set (default: split the data by source document)."),
    eval_dataset: str | None = typer.Option(None, help="Held-out REAL queries; when given they decide whether the model ships."),
    seed: int = typer.Option(42, help="Seed for everything."),
) -> None:
    """Fine-tune an embedding model with sentence-transformers (MultipleNegativesRankingLoss by default).

    Batches never contain the same chunk twice (no-duplicates sampler); hard negatives in the data are
    used. Validation uses the same metrics as `ragtune eval retrieval`; the best checkpoint is kept;
    rerunning resumes. RUN/model/ is written only if the tuned model beats the base on the deciding
    data (--eval-dataset when given, else the validation split) and loads with SentenceTransformer(path).

    Synthetic validation questions are often easy (see the printed median rank); real queries given
    with --eval-dataset are the honest judge.

    Example: ragtune train embedding data/train.json -m minilm --teacher mpnet -o runs/emb
    """
    from ragtune.embeddings.train import train_embedding as fit

    metrics = fit(dataset, model, output, teacher=teacher, val_dataset=val_dataset, eval_dataset=eval_dataset,
                  distill_loss=distill_loss, teacher_top_n=teacher_top_n, loss=loss, matryoshka_dims=_dims(matryoshka),
                  epochs=epochs, lr=lr, batch_size=batch_size, max_steps=max_steps, merge_with_base=merge_with_base, seed=seed)
    _show(output, metrics)
