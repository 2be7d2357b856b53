"""`ragtune train reranker`, `ragtune eval rerank` and `ragtune export cohere-rerank`.

Thin: parse, call `ragtune.rerankers`, print. Heavy imports happen inside the commands.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Optional

import typer
from rich.markup import escape

from ragtune.cli.common import console, handle_errors, parse_ks, show_decision, write_page
from ragtune.cli.options import config_from, config_option, option
from ragtune.device import DEVICE_HELP
from ragtune.rerankers.config import RerankerConfig

R = RerankerConfig

export_app = typer.Typer(help="Write datasets in other tools' fine-tuning formats.", no_args_is_help=True)


@handle_errors
def train_reranker(
    dataset: Optional[str] = typer.Argument(None, help="Training retrieval dataset: LlamaIndex JSON, BEIR folder or ragtune "
                                            ".jsonl (e.g. from `ragtune generate queries`). Never your test set.", show_default=False),
    output: Optional[Path] = option(R, "output", "-o"),
    retriever: Optional[str] = option(R, "retriever", "-r"),
    model: Optional[str] = option(R, "model", "-m"),
    teacher: Optional[str] = option(R, "teacher", "-t"),
    label_with: Optional[str] = option(R, "label_with"),
    loss: Optional[Literal["bce", "listnet", "lambda", "mse"]] = option(R, "loss"),
    num_negatives: Optional[int] = option(R, "num_negatives"),
    random_negatives: Optional[int] = option(R, "random_negatives"),
    skip_top: Optional[int] = option(R, "skip_top"),
    margin: Optional[float] = option(R, "margin"),
    mine_depth: Optional[int] = option(R, "mine_depth"),
    epochs: Optional[float] = option(R, "epochs"),
    batch_size: Optional[int] = option(R, "batch_size"),
    learning_rate: Optional[float] = option(R, "learning_rate", "--lr"),
    warmup_ratio: Optional[float] = option(R, "warmup_ratio"),
    teacher_temperature: Optional[float] = option(R, "teacher_temperature"),
    logging_steps: Optional[int] = option(R, "logging_steps"),
    max_length: Optional[int] = option(R, "max_length"),
    top_k: Optional[int] = option(R, "top_k"),
    val_fraction: Optional[float] = option(R, "val_fraction"),
    eval_steps: Optional[int] = option(R, "eval_steps"),
    max_queries: Optional[int] = option(R, "max_queries"),
    pseudo_queries: Optional[int] = option(R, "pseudo_queries"),
    latency_queries: Optional[int] = option(R, "latency_queries"),
    seed: Optional[int] = option(R, "seed"),
    device: Optional[str] = option(R, "device"),
    report_to: Optional[Literal["none", "tensorboard", "trackio", "wandb"]] = option(R, "report_to"),
    eval_dataset: Optional[str] = option(R, "eval_dataset"),
    allow_regression: Optional[bool] = option(R, "allow_regression", bool_flag=True),
    config: Optional[Path] = config_option(),
) -> None:
    """Fine-tune a cross-encoder reranker from a retrieval dataset (CrossEncoderTrainer).

    Each training query gets its positives, hard negatives mined from the retriever's ranking
    (minus positives, with the false-negative guard of `ragtune generate negatives`) and a few random
    negatives. Validation reranks the retriever's top K for held-out queries, as in use; the best
    checkpoint is kept, and model/ is written only if reranking clearly beats the retriever alone
    (paired 95% CI of the ndcg@10 gain above zero) on the deciding data: --eval-dataset real queries
    when given, else the synthetic validation split; otherwise metrics.json says why. Rerun the same command to resume after an interruption.

    Example: ragtune train reranker data/train.json --retriever minilm --teacher mpnet -o runs/rr
    Then: ragtune eval rerank data/test.json --retriever minilm --reranker runs/rr
    """
    from ragtune.rerankers.train import train_reranker as run_training

    cfg = config_from(RerankerConfig, locals(), config)
    m = run_training(cfg)
    vs = m.val_vs_retriever
    console.print(f"validation ndcg@10: retriever {m.val['retriever']['ndcg@10']:.4f} -> reranked "
                  f"{m.val['reranked']['ndcg@10']:.4f} ({vs['delta']:+.4f}, 95% CI {vs['ci95'][0]:+.4f}..{vs['ci95'][1]:+.4f})")
    if "eval" in m.model_extra:
        ev = m.eval["vs_retriever"]
        console.print(f"{m.eval['dataset']} ndcg@10: retriever {m.eval['metrics']['retriever']['ndcg@10']:.4f} -> reranked "
                      f"{m.eval['metrics']['reranked']['ndcg@10']:.4f} ({ev['delta']:+.4f}, 95% CI {ev['ci95'][0]:+.4f}..{ev['ci95'][1]:+.4f})")
    console.print(f"score fusion chosen on validation: --fuse {m.fusion['weight']:g} (ndcg@10 {m.fusion['ndcg@10']:.4f})")
    show_decision(m.decision, Path(cfg.output))


@handle_errors
def eval_rerank(
    dataset: str = typer.Argument(..., help="Registry name (construction-faq), LlamaIndex JSON file, BEIR folder or ragtune .jsonl."),
    retriever: str = typer.Option(..., "--retriever", "-r", help="First-stage embedding model: registry name, folder, adapter run "
                                                           "folder, cached hub id."),
    reranker: str = typer.Option(..., "--reranker", help="CrossEncoder folder, or a `ragtune train reranker` run folder."),
    top_k: int = typer.Option(30, "--top-k", min=1, help="Candidates retrieved and reranked per query."),
    k: str = typer.Option("1,3,5,10", "--k", help="Cut-offs for the metrics (10 and --top-k are always added)."),
    oracle: bool = typer.Option(True, help="Also report the oracle variant (missing positives injected), labelled as such."),
    latency_queries: int = typer.Option(50, min=0, help="Queries timed one by one for the per-query latency (0 = skip)."),
    json_out: Path | None = typer.Option(None, "--json", help="Write the evaluation report (the shared JSON shape, task 'rerank')."),
    batch_size: int = typer.Option(64, min=1, help="Scoring batch size."),
    bootstrap: int = typer.Option(1000, min=1, help="Bootstrap resamples for the 95% confidence intervals."),
    max_length: int | None = typer.Option(None, min=16, help="Truncate query + passage to N tokens (default: the model's)."),
    fuse: float | None = typer.Option(None, min=0.0, max=1.0, help="Also report w x reranker + (1 - w) x retriever scores "
                                      "(min-max scaled per query); take w from the training run's validation (metrics.json "
                                      "'fusion'), never tune it on the test set."),
    device: str = typer.Option("auto", "--device", help=DEVICE_HELP),
) -> None:
    """Score a reranker the way it is used: retrieve top K, rerank them, compare with the retriever alone.

    Realistic: a positive the retriever missed stays missed (hit@K cannot change; only the order
    inside the K can). The oracle row injects missing positives and measures the reranker alone;
    never quote it as the pipeline's quality. Paired bootstrap CIs and wins/losses are against the
    retriever alone, with the same metrics as `ragtune eval retrieval`. Latency is the wall-clock time
    to rerank one query's K candidates on this machine.

    Example: ragtune eval rerank construction-faq --retriever minilm --reranker runs/rr --json rerank.json
    """
    from ragtune.data.retrieval import load_checked
    from ragtune.embedders import load_embedder
    from ragtune.evaluation.rerank import evaluate_rerank
    from ragtune.io import check_output
    from ragtune.records import write_report
    from ragtune.report.tables import eval_table
    from ragtune.rerankers.models import load_reranker

    if json_out:
        check_output(json_out, "file", option="--json")
    ds = load_checked(dataset, "dataset")
    embedder = load_embedder(retriever, device=device)
    scorer = load_reranker(reranker, max_length=max_length, device=device)
    report = evaluate_rerank(ds, embedder, scorer, top_k=top_k, ks=parse_ks(k), bootstrap=bootstrap, oracle=oracle,
                             latency_queries=latency_queries, batch_size=batch_size, reranker_name=str(reranker),
                             show_progress=console.is_terminal, fuse=fuse)
    console.print(eval_table(report))
    lat = report.latency
    if lat:
        console.print(f"rerank latency at K={lat['k']}: {lat['ms_median']} ms median, {lat['ms_p95']} ms p95 per query "
                      f"({lat['queries_timed']} queries timed on this machine)")
    if json_out:
        write_report(json_out, report)
        console.print(f"wrote {json_out}")
        write_page(json_out)


@export_app.command("cohere-rerank")
@handle_errors
def export_cohere_rerank(
    dataset: str = typer.Argument(..., help="Retrieval dataset (LlamaIndex JSON, BEIR folder, ragtune .jsonl)."),
    output: Path = typer.Option(..., "--output", "-o", help="JSONL file to write."),
    retriever: str | None = typer.Option(None, "--retriever", "-r", help="Mine hard negatives with this embedding model "
                                                                   "(replaces the dataset's own)."),
    num_negatives: int = typer.Option(5, min=1, help="Hard negatives per query when mining (Cohere suggests about five)."),
    margin: float = typer.Option(0.95, min=0.0, help="False-negative guard when mining (0 = off)."),
) -> None:
    """Write Cohere's rerank fine-tuning JSONL: query, relevant_passages, hard_negatives.

    Rules are checked before writing: every query has at least one relevant passage and no passage is
    both relevant and a hard negative (compared by text); every violation is listed. Without a
    --retriever, the dataset's own hard negatives are used. (Cohere deprecated hosted fine-tuning in
    September 2025; the format remains a common interchange for rerank training data.)

    Example: ragtune export cohere-rerank data/train.json --retriever minilm -o cohere.jsonl
    """
    from ragtune.data.retrieval import check, load_dataset
    from ragtune.io import check_output
    from ragtune.rerankers.export import export_cohere_rerank as export

    check_output(output, "file")
    ds = check(load_dataset(dataset), dataset)
    if retriever:
        from ragtune.embedders import load_embedder
        from ragtune.generate.negatives import mine_hard_negatives

        ds, _ = mine_hard_negatives(ds, load_embedder(retriever), num_negatives=num_negatives, margin=margin or None)
    stats = export(ds, output)
    console.print(f"wrote {stats['queries']} queries, {stats['relevant_passages']} relevant passages, "
                  f"{stats['hard_negatives']} hard negatives to {output}")
    for w in stats["warnings"]:
        console.print(f"[yellow]warning[/]: {escape(w)}", markup=True)
