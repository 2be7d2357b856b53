"""`ragtune run [DOCS] -o RUN`: the whole retrieval job in one command (what `make demo` runs)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Optional

import typer

from ragtune.cli.common import console, handle_errors, say, show_reports, write_page
from ragtune.cli.options import config_from, config_option, option
from ragtune.pipeline.config import RunConfig
from ragtune.records import ShipDecision

C = RunConfig


@handle_errors
def run(
    docs: Optional[list[Path]] = typer.Argument(None, help="Documents (files or folders: txt, md, html, pdf, jsonl). Omit for "
                                                "the bundled construction-faq demo.", show_default=False),
    output: Optional[Path] = option(C, "output", "-o"),
    model: Optional[str] = option(C, "model", "-m"),
    teacher: Optional[str] = option(C, "teacher", "-t"),
    teacher_check: Optional[Literal["drop", "stop", "off"]] = option(C, "teacher_check"),
    eval_dataset: Optional[str] = option(C, "eval_dataset"),
    llm: Optional[str] = option(C, "llm"),
    base_url: Optional[str] = option(C, "base_url"),
    questions_per_chunk: Optional[int] = option(C, "questions_per_chunk", "-n"),
    max_chunks: Optional[int] = option(C, "max_chunks"),
    finetune: Optional[bool] = option(C, "finetune", bool_flag=True),
    finetune_epochs: Optional[float] = option(C, "finetune_epochs"),
    finetune_max_steps: Optional[int] = option(C, "finetune_max_steps"),
    finetune_learning_rate: Optional[float] = option(C, "finetune_learning_rate"),
    adapter_kind: Optional[Literal["linear", "mlp"]] = option(C, "adapter_kind"),
    adapter_epochs: Optional[int] = option(C, "adapter_epochs"),
    val_fraction: Optional[float] = option(C, "val_fraction"),
    val_style: Optional[Literal["user", "same"]] = option(C, "val_style"),
    val_llm: Optional[str] = option(C, "val_llm"),
    seed: Optional[int] = option(C, "seed"),
    device: Optional[str] = option(C, "device"),
    config: Optional[Path] = config_option(),
) -> None:
    """Chunk -> generate queries -> split by document -> evaluate base -> fine-tune -> adapter -> evaluate all -> report.

    Everything runs offline. With no DOCS it uses the bundled construction-faq: questions are generated from the 503 answers only and every model is judged on the 503 human-written questions, which are never used for training.

    RUN/model/ holds the winner (a model folder or an adapter folder), or is absent when nothing beat the base; metrics.json has the numbers and the time of every stage. Rerunning the same command resumes.

    Example: ragtune run -o runs/demo   (the demo that `make demo` runs)
    """
    from ragtune.pipeline import run as run_pipeline

    cfg = config_from(RunConfig, locals(), config, arguments=("docs",))
    metrics = run_pipeline(cfg, say=say, show_progress=console.is_terminal)
    out = Path(cfg.output)
    show_reports(out, metrics.models)
    console.print(f"validation difficulty: median rank of the positive under the base = "
                  f"{metrics.validation_difficulty['base_median_rank']:.0f}; ship decisions used: {metrics.decision.decided_by}")
    for label, stage in metrics.decisions.items():
        d = ShipDecision.model_validate(stage)
        console.print(("[green]" if d.shipped else "[bold red]") + f"{_escape(label)}: " + _escape(d.reason) + "[/]", markup=True)
    say(f"result: {metrics.result['model']} ({metrics.decision.reason}); stage times (s): {metrics.seconds}; run folder: {out}")
    write_page(out)


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)
