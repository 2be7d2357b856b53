"""Fine-tune a cross-encoder reranker from a retrieval dataset with sentence-transformers' CrossEncoderTrainer.

    from ragtune.rerankers.train import train_reranker
    metrics = train_reranker(dataset="data/train.json", output="runs/rr", retriever="minilm", teacher="mpnet")

Steps: validate the dataset (stop before any training on an error), split queries by source
document, mine hard negatives with the retriever (false-negative guard), add random negatives,
optionally relabel with an LLM or a teacher, train with validation (realistic rerank ndcg@10 of
the retriever's top K) and keep the best checkpoint, then ship `RUN/model/` only if reranking clearly
beats the retriever alone (paired 95% CI above zero) on the deciding data: `eval_dataset` real
queries when given, else the validation split. Rerunning the same command resumes from the last checkpoint.
"""

from __future__ import annotations

import logging
import random
import time
from pathlib import Path
from typing import Any

from ragtune.assets import resolve_model
from ragtune.device import bf16_supported, resolve_device
from ragtune.data.retrieval import RetrievalDataset, load_checked, save_split_record, split_by_source
from ragtune.embedders import Embedder, load_embedder
from ragtune.errors import InputError
from ragtune.evaluation.rerank import choose_fusion_weight, evaluate_rerank, retrieve, retrieve_scored
from ragtune.generate.negatives import mine_hard_negatives
from ragtune.io import atomic_write_json, atomic_write_jsonl
from ragtune.llm import check_llm, load_llm
from ragtune.records import EvalReport, RunMetrics, ShipDecision
from ragtune.rerankers import data as rdata
from ragtune.rerankers.config import RerankerConfig
from ragtune.runs import Run, card, decide_gain, job_config, training_curve
from ragtune.runs.decision import EVAL_DATASET, VALIDATION
from ragtune.runs.progress import progress_callback
from ragtune.runs.tracking import report_to

__all__ = ["train_reranker", "load_base", "make_loss"]

log = logging.getLogger(__name__)
VAL_METRIC = "eval_val_ndcg@10"
LOGGERS = ("ragtune", "sentence_transformers", "transformers.trainer")


def train_reranker(config: RerankerConfig | None = None, **fields: Any) -> RunMetrics:
    """Train a reranker into the run folder `config.output`; returns the run's metrics (also RUN/metrics.json).

    Keyword fields update `config` (`train_reranker(dataset="train.json", output="runs/rr", teacher="mpnet")`);
    `dataset`, `retriever` and `teacher` may be ready objects (a `RetrievalDataset`, `Embedder`s).
    """
    cfg, objects = job_config(RerankerConfig, config, fields)
    cfg = cfg.model_copy(update={"loss": cfg.resolved_loss()})
    rdata.check_loss_and_teacher(cfg.resolved_loss(), cfg.teacher, cfg.pseudo_queries)
    models = {"retriever": objects.get("retriever") or load_embedder(cfg.retriever, device=cfg.device),
              "teacher": objects.get("teacher") or (load_embedder(cfg.teacher, device=cfg.device) if cfg.teacher else None)}
    ds = load_checked(objects.get("dataset") or cfg.dataset, "training dataset")
    # a bad evaluation set stops us before training
    evalset = load_checked(objects.get("eval_dataset") or cfg.eval_dataset, "eval dataset") if cfg.eval_dataset else None
    resolve_model(cfg.model)  # every model resolves before any mining or training
    if cfg.label_with:
        check_llm(load_llm(cfg.label_with))
    with Run(cfg.output, "reranker", cfg, loggers=LOGGERS) as run:
        done = run.finished()
        if done is not None:
            return done
        return _run(run, ds, cfg, models, evalset)


def _run(run: Run, ds: RetrievalDataset, cfg: RerankerConfig, models: dict[str, Embedder | None],
         evalset: RetrievalDataset | None = None) -> RunMetrics:
    t0 = time.perf_counter()
    run.start()
    train_ds, val_ds = _split(ds, cfg)
    save_split_record(train_ds, val_ds, run.data)
    retr = models["retriever"]
    held_out = set(ds.queries.values()) | (set(evalset.queries.values()) if evalset is not None else set())
    groups, data_stats = _training_groups(train_ds, cfg, retr, models["teacher"], run, held_out)
    val_candidates = retrieve(val_ds, retr, cfg.top_k)
    model, trainer = _trainer(cfg, groups, train_ds.corpus, rdata.rerank_samples(val_ds, val_candidates), run)
    log.info("training %s on %d queries (%d pairs), loss %s", cfg.model, len(groups), data_stats["pairs"], cfg.resolved_loss())
    trainer.train(resume_from_checkpoint=run.last_checkpoint())
    curve = training_curve(trainer.state.log_history, (VAL_METRIC, "eval_val_mrr@10"))
    atomic_write_json(run.folder / "curve.json", curve)
    return _finish(run, cfg, val_ds, retr, trainer.model, data_stats, curve, time.perf_counter() - t0, evalset)


def _split(ds: RetrievalDataset, cfg: RerankerConfig) -> tuple[RetrievalDataset, RetrievalDataset]:
    train_ds, val_side = split_by_source(ds, cfg.val_fraction, cfg.seed)
    # validation queries rank against the whole corpus (as in use); their source documents never enter training
    val_ds = ds.subset(list(val_side.queries), name=f"{ds.name}-val")
    if cfg.max_queries and len(train_ds.queries) > cfg.max_queries:
        keep = random.Random(cfg.seed).sample(list(train_ds.queries), cfg.max_queries)
        train_ds = train_ds.subset(sorted(keep, key=list(train_ds.queries).index), name=train_ds.name)
    if not train_ds.queries or not val_ds.queries:
        raise InputError(f"after splitting by source document, train has {len(train_ds.queries)} and validation "
                         f"{len(val_ds.queries)} queries; both need at least one (more source documents, or another --val-fraction).")
    return train_ds, val_ds


def _training_groups(train_ds: RetrievalDataset, cfg: RerankerConfig, retr: Embedder, teacher: Embedder | None, run: Run,
                     exclude: set[str] = frozenset()) -> tuple[list[rdata.Group], dict[str, Any]]:
    """Real queries' groups (positives, mined and random negatives), then any pseudo-queries; `exclude` = texts of every
    query the run validates or evaluates on, which a pseudo-query may never be."""
    mined, mine_stats = mine_hard_negatives(train_ds, retr, num_negatives=max(1, cfg.num_negatives), skip_top=cfg.skip_top,
                                            margin=cfg.margin, depth=max(cfg.mine_depth, cfg.num_negatives))
    if cfg.num_negatives == 0:
        mined.hard_negatives = {}
    groups = rdata.build_groups(mined, cfg.random_negatives, cfg.seed)
    stats = {"mining": mine_stats}
    if cfg.label_with:
        stats["llm_labels"] = rdata.label_with_llm(groups, train_ds.corpus, load_llm(cfg.label_with), run.data / "llm_labels.jsonl")
    if cfg.pseudo_queries:  # teacher-labelled only (the LLM judge above sees real queries alone)
        pseudo = rdata.pseudo_groups(train_ds, retr, cfg.pseudo_queries, cfg.num_negatives + 1, cfg.random_negatives,
                                     seed=cfg.seed, exclude=exclude)
        stats["pseudo_queries"] = len(pseudo)
        groups += pseudo
    if teacher is not None:
        rdata.add_teacher_scores(groups, train_ds.corpus, teacher)
    atomic_write_jsonl(run.data / "groups.jsonl", [g.to_json() for g in groups])
    stats.update(rdata.group_stats(groups))
    return groups, stats


def load_base(cfg: RerankerConfig):
    """The base CrossEncoder: an existing cross-encoder, or a plain encoder that gets a new 1-logit head."""
    from sentence_transformers.cross_encoder import CrossEncoder

    path = resolve_model(cfg.model)
    return CrossEncoder(str(path), num_labels=1, max_length=cfg.max_length, device=resolve_device(cfg.device), local_files_only=True)


def make_loss(model, loss: str, listwise_batch: int):
    """The sentence-transformers loss named by `loss` (bce, listnet, lambda, mse)."""
    from sentence_transformers.cross_encoder import losses

    if loss == "bce":
        return losses.BinaryCrossEntropyLoss(model)
    if loss == "listnet":
        return losses.ListNetLoss(model, mini_batch_size=listwise_batch)
    if loss == "lambda":
        return losses.LambdaLoss(model, mini_batch_size=listwise_batch)
    return losses.MSELoss(model)


def _trainer(cfg: RerankerConfig, groups: list[rdata.Group], corpus: dict[str, str], val_samples: list[dict], run: Run):
    from sentence_transformers.cross_encoder import CrossEncoderTrainer, CrossEncoderTrainingArguments
    from sentence_transformers.cross_encoder.evaluation import CrossEncoderRerankingEvaluator

    loss = cfg.resolved_loss()
    model = load_base(cfg)
    train = rdata.to_training_dataset(groups, corpus, loss, cfg.teacher_temperature)
    per_query = max(1, round(rdata.group_stats(groups)["candidates_per_query"]))
    batch = max(1, cfg.batch_size // per_query) if cfg.is_listwise() else cfg.batch_size
    args = CrossEncoderTrainingArguments(
        output_dir=str(run.checkpoints), num_train_epochs=cfg.epochs, per_device_train_batch_size=batch, learning_rate=cfg.learning_rate,
        warmup_ratio=cfg.warmup_ratio, seed=cfg.seed, eval_strategy="steps", eval_steps=cfg.eval_steps, save_strategy="steps",
        save_steps=cfg.eval_steps, save_total_limit=2, load_best_model_at_end=True, metric_for_best_model=VAL_METRIC,
        greater_is_better=True, logging_steps=cfg.logging_steps, report_to=report_to(cfg.report_to),
        use_cpu=resolve_device(cfg.device) == "cpu", bf16=bf16_supported(resolve_device(cfg.device)), dataloader_num_workers=0,
        disable_tqdm=True)
    evaluator = CrossEncoderRerankingEvaluator(val_samples, at_k=10, always_rerank_positives=False, name="val", batch_size=64,
                                               write_csv=False)
    trainer = CrossEncoderTrainer(model=model, args=args, train_dataset=train, loss=make_loss(model, loss, cfg.batch_size),
                                  evaluator=evaluator, callbacks=[_log_callback(), progress_callback("reranker steps")])
    return model, trainer


def _log_callback():
    """Training loss and validation metrics go to RUN/log.txt as they happen."""
    from transformers import TrainerCallback

    class LogToFile(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            log.info("step %d/%d %s", state.global_step, state.max_steps,
                     {k: round(v, 5) if isinstance(v, float) else v for k, v in (logs or {}).items()})

    return LogToFile()


def _finish(run: Run, cfg: RerankerConfig, val_ds: RetrievalDataset, retr, model, data_stats: dict, curve: list, seconds: float,
            evalset: RetrievalDataset | None = None) -> RunMetrics:
    cache: dict = {}
    report = evaluate_rerank(val_ds, retr, model, top_k=cfg.top_k, latency_queries=cfg.latency_queries,
                             reranker_name="reranker (val)", cache=cache)
    run.write_eval("val", report)
    fusion = choose_fusion_weight(val_ds, *retrieve_scored(val_ds, retr, cfg.top_k), model, cache=cache)
    deciding, decided_by, eval_report = report, VALIDATION, None
    if evalset is not None:
        log.info("evaluating on %s (%d real queries): they decide what ships", evalset.name, len(evalset.queries))
        eval_report = evaluate_rerank(evalset, retr, model, top_k=cfg.top_k, latency_queries=0, reranker_name="reranker")
        run.write_eval(_file_name(evalset.name), eval_report)  # never eval/val.json
        deciding, decided_by = eval_report, EVAL_DATASET
    decision = decide_gain(deciding, decided_by, "reranked", allow_regression=cfg.allow_regression, versus="the retriever alone")
    run.ship(decision, lambda folder: model.save_pretrained(str(folder)))
    fields = {"val": report.metric_table(), "val_vs_retriever": report.comparison("reranked").model_dump(),
              "latency": report.latency, "data": data_stats, "curve": curve, "seconds": round(seconds, 1),
              "best_checkpoint_metric": VAL_METRIC, "loss": cfg.resolved_loss(), "fusion": fusion}
    if eval_report is not None:
        fields["eval"] = {"dataset": eval_report.dataset, "metrics": eval_report.metric_table(),
                          "vs_retriever": eval_report.comparison("reranked").model_dump()}
    reports = [r for r in (report, eval_report) if r is not None]
    metrics = run.finish(decision, fields, model_card(cfg, decision, fields, reports))
    log.info("done: %s", decision.reason)
    return metrics


def _file_name(name: str) -> str:
    stem = "".join(c if c.isalnum() or c in "-_." else "_" for c in Path(name).stem) or "eval"
    return f"{stem}-eval" if stem == "val" else stem


def model_card(cfg: RerankerConfig, decision: ShipDecision, fields: dict[str, Any], reports: list[EvalReport]) -> str:
    """What it is, from what data, how it scored against the retriever alone."""
    d, fusion, latency = fields["data"], fields["fusion"], fields["latency"]
    about = [f"A cross-encoder reranker from `{cfg.model}`; loss `{fields['loss']}`; teacher `{cfg.teacher}`; "
             f"LLM labels `{cfg.label_with}`.",
             f"Training data: `{cfg.dataset}`, {d['queries']} queries, {d['pairs']} pairs (positives + {cfg.num_negatives} hard "
             f"negatives mined with `{cfg.retriever}` + {cfg.random_negatives} random)"
             + (f", of which {d['pseudo_queries']} are unlabelled pseudo-queries cut from the training documents (candidates: "
                f"`{cfg.retriever}`'s top {cfg.num_negatives + 1} + {cfg.random_negatives} random, scored by `{cfg.teacher}`)"
                if d.get("pseudo_queries") else "") + ".",
             f"Validation: realistic rerank of `{cfg.retriever}`'s top {cfg.top_k} on held-out source documents.",
             f"Score fusion chosen on validation: w = {fusion['weight']:g} x reranker + (1 - w) x retriever "
             f"(min-max scaled per query) gives ndcg@10 {fusion['ndcg@10']:.4f} "
             f"(`ragtune eval rerank ... --fuse {fusion['weight']:g}`).",
             f"Latency: {latency.get('ms_median', 'n/a')} ms median per query at K={latency.get('k', 'n/a')} on CPU."]
    if "eval" in fields:
        ev = fields["eval"]["vs_retriever"]
        about.append(f"On {fields['eval']['dataset']} (real held-out queries): reranked vs retriever alone {ev['delta']:+.4f} "
                     f"ndcg@10 (95% CI {ev['ci95'][0]:+.4f}..{ev['ci95'][1]:+.4f}).")
    load = ["`CrossEncoder('RUN/model')`, or LlamaIndex `SentenceTransformerRerank(model='RUN/model', top_n=5)`."]
    return card("ragtune reranker (cross-encoder)", about, reports, decision, load)
