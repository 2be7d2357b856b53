"""`ragtune train reranker`, `ragtune eval rerank` and `ragtune export cohere-rerank`.

Thin: parse, call `ragtune.rerankers`, print. Heavy imports happen inside the commands.
"""

from __future__ import annotations

from pathlib import Path

import typer

from ragtune.cli.common import console, handle_errors, parse_ks

export_app = typer.Typer(help="Write datasets in other tools' fine-tuning formats.", no_args_is_help=True)


@handle_errors
def train_reranker(
    dataset: str = typer.Argument(..., help="Training retrieval dataset: LlamaIndex JSON, BEIR folder or ragtune .jsonl "
                                            "(e.g. from `ragtune generate queries`). Never your test set."),
    output: Path = typer.Option(..., "--output", "-o", help="Run folder: config.json, metrics.json, model/, checkpoints/, "
                                                             "data/, eval/val.json, card.md, log.txt."),
    retriever: str = typer.Option("minilm", "--retriever", help="Embedding model that mines hard negatives (the first-stage "
                                                                "retriever the reranker will sit behind)."),
    model: str = typer.Option("minilm", "--model", help="Base: an existing CrossEncoder folder, or a plain encoder such as "
                                                        "minilm (a new scoring head is trained)."),
    teacher: str | None = typer.Option(None, "--teacher", help="Stronger embedding model (e.g. mpnet) whose scores become "
                                                               "soft labels; implies --loss listnet."),
    label_with: str | None = typer.Option(None, "--label-with", help="LLM (local, local:MODEL, openai:MODEL) that judges each "
                                                                      "mined negative; a 'yes' makes it a positive."),
    loss: str | None = typer.Option(None, "--loss", help="bce (default), listnet (default with --teacher), lambda, or mse "
                                                         "(regress the teacher's scores)."),
    num_negatives: int = typer.Option(7, help="Hard negatives mined per query."),
    random_negatives: int = typer.Option(1, help="Random passages added per query as easy negatives."),
    skip_top: int = typer.Option(0, help="Skip the retriever's top N non-positive hits when mining."),
    margin: float = typer.Option(0.95, help="False-negative guard: drop a candidate scoring above margin x the positive."),
    epochs: float = typer.Option(1.0, help="Passes over the training queries."),
    batch_size: int = typer.Option(32, help="Pairs per optimizer step (listwise: queries x candidates)."),
    learning_rate: float = typer.Option(4e-5, "--lr", help="Peak learning rate."),
    max_length: int = typer.Option(256, help="Longest query + passage in tokens."),
    top_k: int = typer.Option(30, "--top-k", help="Candidates reranked in validation (retriever's top K, positives not injected)."),
    val_fraction: float = typer.Option(0.1, help="Share of source documents whose queries are held out for validation."),
    eval_steps: int = typer.Option(100, help="Validate and checkpoint every N steps; the best checkpoint is kept."),
    max_queries: int | None = typer.Option(None, help="Train on at most N queries (a quick trial)."),
    pseudo_queries: int = typer.Option(0, help="Requires --teacher: add up to N unlabelled pseudo-queries (the training "
                                               "documents' sentences plus 3 spans of 3-8 words of each); candidates are the "
                                               "retriever's top --num-negatives+1 plus --random-negatives random passages, "
                                               "scored by the teacher. 0 = none."),
    seed: int = typer.Option(42, help="Seed for split, negatives, initialisation and order."),
    eval_dataset: str | None = typer.Option(None, "--eval-dataset", help="Real held-out queries (registry name such as "
                                            "construction-faq, or a dataset file): evaluated after training, and they decide "
                                            "whether model/ ships."),
    allow_regression: bool = typer.Option(False, help="Write model/ even without a clear gain over the retriever alone."),
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

    m = run_training(dataset, output, retriever=retriever, model=model, teacher=teacher, label_with=label_with, loss=loss,
                     num_negatives=num_negatives, random_negatives=random_negatives, skip_top=skip_top, margin=margin,
                     epochs=epochs, batch_size=batch_size, learning_rate=learning_rate, max_length=max_length, top_k=top_k,
                     val_fraction=val_fraction, eval_steps=eval_steps, max_queries=max_queries, pseudo_queries=pseudo_queries, seed=seed,
                     eval_dataset=eval_dataset, allow_regression=allow_regression)
    vs = m["val_vs_retriever"]
    console.print(f"validation ndcg@10: retriever {m['val']['retriever']['ndcg@10']:.4f} -> reranked "
                  f"{m['val']['reranked']['ndcg@10']:.4f} ({vs['delta']:+.4f}, 95% CI {vs['ci95'][0]:+.4f}..{vs['ci95'][1]:+.4f})")
    if "eval" in m:
        ev = m["eval"]["vs_retriever"]
        console.print(f"{m['eval']['dataset']} ndcg@10: retriever {m['eval']['metrics']['retriever']['ndcg@10']:.4f} -> reranked "
                      f"{m['eval']['metrics']['reranked']['ndcg@10']:.4f} ({ev['delta']:+.4f}, 95% CI {ev['ci95'][0]:+.4f}..{ev['ci95'][1]:+.4f})")
    console.print(f"score fusion chosen on validation: --fuse {m['fusion']['weight']:g} (ndcg@10 {m['fusion']['ndcg@10']:.4f})")
    console.print(("model: " + str(output / "model")) if m["shipped"]["ok"] else f"[red]no model shipped[/]: {m['shipped']['reason']}")


@handle_errors
def eval_rerank(
    dataset: str = typer.Argument(..., help="Registry name (construction-faq), LlamaIndex JSON file, BEIR folder or ragtune .jsonl."),
    retriever: str = typer.Option(..., "--retriever", help="First-stage embedding model: registry name, folder, adapter run "
                                                           "folder, cached hub id."),
    reranker: str = typer.Option(..., "--reranker", help="CrossEncoder folder, or a `ragtune train reranker` run folder."),
    top_k: int = typer.Option(30, "--top-k", help="Candidates retrieved and reranked per query."),
    k: str = typer.Option("1,3,5,10", "--k", help="Cut-offs for the metrics (10 and --top-k are always added)."),
    oracle: bool = typer.Option(True, help="Also report the oracle variant (missing positives injected), labelled as such."),
    latency_queries: int = typer.Option(50, help="Queries timed one by one for the per-query latency (0 = skip)."),
    json_out: Path | None = typer.Option(None, "--json", help="Write the evaluation report (DESIGN.md shape, task 'rerank')."),
    batch_size: int = typer.Option(64, help="Scoring batch size."),
    bootstrap: int = typer.Option(1000, help="Bootstrap resamples for the 95% confidence intervals."),
    max_length: int | None = typer.Option(None, help="Truncate query + passage to N tokens (default: the model's)."),
    fuse: float | None = typer.Option(None, min=0.0, max=1.0, help="Also report w x reranker + (1 - w) x retriever scores "
                                      "(min-max scaled per query); take w from the training run's validation (metrics.json "
                                      "'fusion'), never tune it on the test set."),
) -> None:
    """Score a reranker the way it is used: retrieve top K, rerank them, compare with the retriever alone.

    Realistic: a positive the retriever missed stays missed (hit@K cannot change; only the order
    inside the K can). The oracle row injects missing positives and measures the reranker alone;
    never quote it as the pipeline's quality. Paired bootstrap CIs and wins/losses are against the
    retriever alone, with the same metrics as `ragtune eval retrieval`. Latency is the wall-clock time
    to rerank one query's K candidates on this machine.

    Example: ragtune eval rerank construction-faq --retriever minilm --reranker runs/rr --json rerank.json
    """
    from ragtune.data.retrieval import load_dataset
    from ragtune.io import atomic_write_json
    from ragtune.report.tables import eval_table
    from ragtune.rerankers.evaluate import evaluate_rerank, load_reranker

    ds = load_dataset(dataset)
    scorer = load_reranker(reranker, max_length=max_length)
    report = evaluate_rerank(ds, retriever, scorer, top_k=top_k, ks=parse_ks(k), bootstrap=bootstrap, oracle=oracle,
                             latency_queries=latency_queries, batch_size=batch_size, reranker_name=str(reranker),
                             show_progress=console.is_terminal, fuse=fuse)
    console.print(eval_table(report))
    lat = report["latency"]
    if lat:
        console.print(f"rerank latency at K={lat['k']}: {lat['ms_median']} ms median, {lat['ms_p95']} ms p95 per query "
                      f"({lat['queries_timed']} queries timed on this machine)")
    if json_out:
        atomic_write_json(json_out, report)
        console.print(f"wrote {json_out}")


@export_app.command("cohere-rerank")
@handle_errors
def export_cohere_rerank(
    dataset: str = typer.Argument(..., help="Retrieval dataset (LlamaIndex JSON, BEIR folder, ragtune .jsonl)."),
    output: Path = typer.Option(..., "--output", "-o", help="JSONL file to write."),
    retriever: str | None = typer.Option(None, "--retriever", help="Mine hard negatives with this embedding model "
                                                                   "(replaces the dataset's own)."),
    num_negatives: int = typer.Option(5, help="Hard negatives per query when mining (Cohere suggests about five)."),
    margin: float = typer.Option(0.95, help="False-negative guard when mining."),
) -> None:
    """Write Cohere's rerank fine-tuning JSONL: query, relevant_passages, hard_negatives.

    Rules are checked before writing: every query has at least one relevant passage and no passage is
    both relevant and a hard negative (compared by text); every violation is listed. Without a
    --retriever, the dataset's own hard negatives are used. (Cohere deprecated hosted fine-tuning in
    September 2025; the format remains a common interchange for rerank training data.)

    Example: ragtune export cohere-rerank data/train.json --retriever minilm -o cohere.jsonl
    """
    from ragtune.data.retrieval import check, load_dataset
    from ragtune.rerankers.export import export_cohere_rerank as export

    ds = check(load_dataset(dataset), dataset)
    if retriever:
        from ragtune.embeddings.encoder import load_embedder
        from ragtune.generate.negatives import mine_hard_negatives

        ds, _ = mine_hard_negatives(ds, load_embedder(retriever), num_negatives=num_negatives, margin=margin)
    stats = export(ds, output)
    console.print(f"wrote {stats['queries']} queries, {stats['relevant_passages']} relevant passages, "
                  f"{stats['hard_negatives']} hard negatives to {output}")
    for w in stats["warnings"]:
        console.print(f"[yellow]warning[/]: {w}")
