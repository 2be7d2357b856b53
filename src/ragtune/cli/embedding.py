"""`ragtune train embedding` (full fine-tune) and `ragtune train adapter` (adapter over a frozen embedder)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Optional

import typer

from ragtune.cli.common import console, handle_errors, show_decision, show_reports
from ragtune.cli.options import config_from, config_option, option
from ragtune.embeddings.config import DATASET_HELP, AdapterConfig, EmbeddingConfig

A, E = AdapterConfig, EmbeddingConfig


def _dims(text: str | None) -> list[int] | None:
    from ragtune.errors import InputError

    if text is None:
        return None
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise InputError(f"--matryoshka-dims must be comma-separated integers like 384,256,128; got {text!r}") from None


def _show(run: Path, metrics) -> None:
    show_reports(run, metrics.models)
    diff = metrics.validation_difficulty
    console.print(f"validation difficulty: median rank of the positive under the base = {diff['base_median_rank']:.0f} "
                  f"(1 = easy; real questions are usually harder)")
    show_decision(metrics.decision, run)


@handle_errors
def train_adapter(
    dataset: Optional[str] = typer.Argument(None, help=DATASET_HELP, show_default=False),
    output: Optional[Path] = option(A, "output", "-o"),
    model: Optional[str] = option(A, "model", "-m"),
    teacher: Optional[str] = option(A, "teacher", "-t"),
    teacher_check: Optional[Literal["drop", "stop", "off"]] = option(A, "teacher_check"),
    kind: Optional[Literal["linear", "mlp"]] = option(A, "kind"),
    side: Optional[Literal["query", "both"]] = option(A, "side"),
    hidden: Optional[int] = option(A, "hidden"),
    epochs: Optional[int] = option(A, "epochs"),
    learning_rate: Optional[float] = option(A, "learning_rate", "--lr"),
    weight_decay: Optional[float] = option(A, "weight_decay"),
    batch_size: Optional[int] = option(A, "batch_size"),
    temperature: Optional[float] = option(A, "temperature"),
    label_weight: Optional[float] = option(A, "label_weight"),
    pseudo_queries: Optional[bool] = option(A, "pseudo_queries", bool_flag=True),
    pseudo_spans: Optional[int] = option(A, "pseudo_spans"),
    select_epoch: Optional[bool] = typer.Option(None, "--select-epoch/--fixed-epochs",
                                                help=A.model_fields["select_epoch"].description),
    refit_all: Optional[bool] = option(A, "refit_all", bool_flag=True),
    val_dataset: Optional[str] = option(A, "val_dataset"),
    eval_dataset: Optional[str] = option(A, "eval_dataset"),
    base_url: Optional[str] = option(A, "base_url"),
    seed: Optional[int] = option(A, "seed"),
    device: Optional[str] = option(A, "device"),
    val_fraction: Optional[float] = option(A, "val_fraction"),
    config: Optional[Path] = config_option(),
) -> None:
    """Fit a small adapter over a frozen (even black-box) embedder, on its cached vectors.

    Every distinct text is embedded once, ever (the cache is shared with `ragtune eval`), so epochs
    cost milliseconds. With --teacher, the teacher's scores over the corpus are the targets, the
    documents' sentences and short spans of them serve as extra unlabelled queries, and the adapter
    trains a fixed --epochs; without one, the best epoch by validation ndcg@10 is kept. RUN/model/ is
    written only if the adapter beats the base (on --eval-dataset when given). Use it from Python with
    `ragtune.embedders.load_embedder("RUN/model")`, or in LlamaIndex with
    `ragtune.integrations.llamaindex.AdapterEmbedding`.

    Example: ragtune train adapter data/train.json -m minilm --teacher mpnet -o runs/adapter
    """
    from ragtune.embeddings.train_adapter import train_adapter as fit

    cfg = config_from(AdapterConfig, locals(), config)
    _show(Path(cfg.output), fit(cfg))


@handle_errors
def train_embedding(
    dataset: Optional[str] = typer.Argument(None, help=DATASET_HELP, show_default=False),
    output: Optional[Path] = option(E, "output", "-o"),
    model: Optional[str] = option(E, "model", "-m"),
    teacher: Optional[str] = option(E, "teacher", "-t"),
    teacher_check: Optional[Literal["drop", "stop", "off"]] = option(E, "teacher_check"),
    distill_loss: Optional[Literal["kl", "margin_mse"]] = option(E, "distill_loss"),
    teacher_top_n: Optional[int] = option(E, "teacher_top_n"),
    distill_temperature: Optional[float] = option(E, "distill_temperature"),
    loss: Optional[Literal["mnrl", "cached_mnrl"]] = option(E, "loss"),
    mini_batch_size: Optional[int] = option(E, "mini_batch_size"),
    matryoshka_dims: Optional[str] = option(E, "matryoshka_dims", "--matryoshka"),
    epochs: Optional[float] = option(E, "epochs"),
    learning_rate: Optional[float] = option(E, "learning_rate", "--lr"),
    warmup_ratio: Optional[float] = option(E, "warmup_ratio"),
    batch_size: Optional[int] = option(E, "batch_size"),
    max_steps: Optional[int] = option(E, "max_steps"),
    max_seq_length: Optional[int] = option(E, "max_seq_length"),
    eval_steps: Optional[int] = option(E, "eval_steps"),
    merge_with_base: Optional[float] = option(E, "merge_with_base"),
    val_dataset: Optional[str] = option(E, "val_dataset"),
    eval_dataset: Optional[str] = option(E, "eval_dataset"),
    seed: Optional[int] = option(E, "seed"),
    device: Optional[str] = option(E, "device"),
    report_to: Optional[Literal["none", "tensorboard", "trackio", "wandb"]] = option(E, "report_to"),
    val_fraction: Optional[float] = option(E, "val_fraction"),
    config: Optional[Path] = config_option(),
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

    cfg = config_from(EmbeddingConfig, {**locals(), "matryoshka_dims": _dims(matryoshka_dims)}, config)
    _show(Path(cfg.output), fit(cfg, show_progress=console.is_terminal))
