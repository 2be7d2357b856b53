"""Fine-tune a cross-encoder reranker from a retrieval dataset with sentence-transformers' CrossEncoderTrainer.

    from ragtune.rerankers.train import train_reranker
    metrics = train_reranker("data/train.json", "runs/rr", retriever="minilm", model="minilm", teacher="mpnet")

Steps: validate the dataset (stop before any training on an error), split queries by source
document, mine hard negatives with the retriever (false-negative guard), add random negatives,
optionally relabel with an LLM or a teacher, train with validation (realistic rerank ndcg@10 of
the retriever's top K) and keep the best checkpoint, then ship `RUN/model/` only if reranking clearly
beats the retriever alone (paired 95% CI above zero) on the deciding data: `eval_dataset` real
queries when given, else the validation split. Rerunning the same command resumes from the last checkpoint.
"""

from __future__ import annotations

import json
import logging
import random
import time
from pathlib import Path
from typing import Any

from ragtune.data.retrieval import RetrievalDataset, check, load_dataset, save_split_record, split_by_source
from ragtune.embeddings.encoder import Embedder, load_embedder
from ragtune.errors import InputError
from ragtune.io import atomic_dir, atomic_write_json, atomic_write_jsonl, atomic_write_text
from ragtune.rerankers.config import RerankerConfig
from ragtune.rerankers import data as rdata

log = logging.getLogger("ragtune.rerankers")
VAL_METRIC = "eval_val_ndcg@10"
LOGGERS = ("ragtune", "sentence_transformers", "transformers.trainer")


def train_reranker(dataset: str | Path | RetrievalDataset, output: str | Path, *, retriever: str | Embedder = "minilm",
                   model: str = "minilm", teacher: str | Embedder | None = None, label_with: str | None = None,
                   loss: str | None = None, config: RerankerConfig | None = None, **overrides: Any) -> dict[str, Any]:
    """Train a reranker into the run folder `output`; returns the run's metrics (also RUN/metrics.json).

    `retriever` and `teacher` are model specs or ready `Embedder` objects (the config records their names).
    """
    name = dataset.name if isinstance(dataset, RetrievalDataset) else str(dataset)
    cfg = config or RerankerConfig(dataset=name, output=str(output), retriever=_spec_name(retriever), model=model,
                                   teacher=_spec_name(teacher) if teacher else None, label_with=label_with, loss=loss, **overrides)
    models = {"retriever": retriever if isinstance(retriever, Embedder) else load_embedder(cfg.retriever),
              "teacher": teacher if isinstance(teacher, Embedder) else load_embedder(cfg.teacher) if cfg.teacher else None}
    rdata.check_loss_and_teacher(cfg.resolved_loss(), cfg.teacher, cfg.pseudo_queries)
    ds = dataset if isinstance(dataset, RetrievalDataset) else load_dataset(dataset)
    check(ds, name)
    evalset = load_dataset(cfg.eval_dataset) if cfg.eval_dataset else None  # a bad one stops us before training
    if evalset is not None:
        check(evalset, cfg.eval_dataset)
    run = Path(cfg.output)
    done = _finished(run, cfg)
    if done is not None:
        return done
    run.mkdir(parents=True, exist_ok=True)
    handler = _log_to(run / "log.txt")
    try:
        return _run(ds, cfg, run, models, evalset)
    finally:
        for name in LOGGERS:
            logging.getLogger(name).removeHandler(handler)
        handler.close()


def _spec_name(spec: str | Embedder) -> str:
    return spec.name if isinstance(spec, Embedder) else str(spec)


def _run(ds: RetrievalDataset, cfg: RerankerConfig, run: Path, models: dict[str, Embedder | None],
         evalset: RetrievalDataset | None = None) -> dict[str, Any]:
    t0 = time.perf_counter()
    atomic_write_json(run / "config.json", {**cfg.model_dump(), "loss": cfg.resolved_loss()})
    train_ds, val_ds = _split(ds, cfg)
    save_split_record(train_ds, val_ds, run / "data")
    retr = models["retriever"]
    held_out = set(ds.queries.values()) | (set(evalset.queries.values()) if evalset is not None else set())
    groups, data_stats = _training_groups(train_ds, cfg, retr, models["teacher"], run, held_out)
    val_candidates = _val_candidates(val_ds, retr, cfg.top_k)
    model, trainer = _trainer(cfg, groups, train_ds.corpus, rdata.rerank_samples(val_ds, val_candidates), run / "checkpoints")
    log.info("training %s on %d queries (%d pairs), loss %s", cfg.model, len(groups), data_stats["pairs"], cfg.resolved_loss())
    trainer.train(resume_from_checkpoint=_last_checkpoint(run / "checkpoints"))
    curve = _curve(trainer.state.log_history)
    atomic_write_json(run / "curve.json", curve)
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


def _training_groups(train_ds: RetrievalDataset, cfg: RerankerConfig, retr: Embedder, teacher: Embedder | None, run: Path,
                     exclude: set[str] = frozenset()) -> tuple[list[rdata.Group], dict[str, Any]]:
    """Real queries' groups (positives, mined and random negatives), then any pseudo-queries; `exclude` = texts of every
    query the run validates or evaluates on, which a pseudo-query may never be."""
    from ragtune.generate.negatives import mine_hard_negatives

    mined, mine_stats = mine_hard_negatives(train_ds, retr, num_negatives=max(1, cfg.num_negatives), skip_top=cfg.skip_top,
                                            margin=cfg.margin, depth=max(cfg.mine_depth, cfg.num_negatives))
    if cfg.num_negatives == 0:
        mined.hard_negatives = {}
    groups = rdata.build_groups(mined, cfg.random_negatives, cfg.seed)
    stats = {"mining": mine_stats}
    if cfg.label_with:
        from ragtune.llm import load_llm

        stats["llm_labels"] = rdata.label_with_llm(groups, train_ds.corpus, load_llm(cfg.label_with), run / "data" / "llm_labels.jsonl")
    if cfg.pseudo_queries:  # teacher-labelled only (the LLM judge above sees real queries alone)
        pseudo = rdata.pseudo_groups(train_ds, retr, cfg.pseudo_queries, cfg.num_negatives + 1, cfg.random_negatives,
                                     seed=cfg.seed, exclude=exclude)
        stats["pseudo_queries"] = len(pseudo)
        groups += pseudo
    if teacher is not None:
        rdata.add_teacher_scores(groups, train_ds.corpus, teacher)
    atomic_write_jsonl(run / "data" / "groups.jsonl", [g.to_json() for g in groups])
    stats.update(rdata.group_stats(groups))
    return groups, stats


def _val_candidates(val_ds: RetrievalDataset, retr, top_k: int) -> list[list[str]]:
    from ragtune.rerankers.evaluate import retrieve

    return retrieve(val_ds, retr, top_k)


def load_base(cfg: RerankerConfig):
    """The base CrossEncoder: an existing cross-encoder, or a plain encoder that gets a new 1-logit head."""
    from sentence_transformers.cross_encoder import CrossEncoder

    from ragtune.assets import resolve_model

    path = resolve_model(cfg.model)
    return CrossEncoder(str(path), num_labels=1, max_length=cfg.max_length, device="cpu", local_files_only=True)


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


def _trainer(cfg: RerankerConfig, groups: list[rdata.Group], corpus: dict[str, str], val_samples: list[dict], ckpt: Path):
    from sentence_transformers.cross_encoder import CrossEncoderTrainer, CrossEncoderTrainingArguments
    from sentence_transformers.cross_encoder.evaluation import CrossEncoderRerankingEvaluator

    loss = cfg.resolved_loss()
    model = load_base(cfg)
    train = rdata.to_training_dataset(groups, corpus, loss, cfg.teacher_temperature)
    per_query = max(1, round(rdata.group_stats(groups)["candidates_per_query"]))
    batch = max(1, cfg.batch_size // per_query) if cfg.is_listwise() else cfg.batch_size
    args = CrossEncoderTrainingArguments(
        output_dir=str(ckpt), num_train_epochs=cfg.epochs, per_device_train_batch_size=batch, learning_rate=cfg.learning_rate,
        warmup_ratio=cfg.warmup_ratio, seed=cfg.seed, eval_strategy="steps", eval_steps=cfg.eval_steps, save_strategy="steps",
        save_steps=cfg.eval_steps, save_total_limit=2, load_best_model_at_end=True, metric_for_best_model=VAL_METRIC,
        greater_is_better=True, logging_steps=cfg.logging_steps, report_to="none", use_cpu=True, dataloader_num_workers=0,
        disable_tqdm=True)
    evaluator = CrossEncoderRerankingEvaluator(val_samples, at_k=10, always_rerank_positives=False, name="val", batch_size=64,
                                               write_csv=False)
    trainer = CrossEncoderTrainer(model=model, args=args, train_dataset=train, loss=make_loss(model, loss, cfg.batch_size),
                                  evaluator=evaluator, callbacks=[_log_callback()])
    return model, trainer


def _log_callback():
    """Training loss and validation metrics go to RUN/log.txt as they happen."""
    from transformers import TrainerCallback

    class LogToFile(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            log.info("step %d/%d %s", state.global_step, state.max_steps,
                     {k: round(v, 5) if isinstance(v, float) else v for k, v in (logs or {}).items()})

    return LogToFile()


def _last_checkpoint(folder: Path) -> str | None:
    ckpts = sorted(folder.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[-1])) if folder.exists() else []
    return str(ckpts[-1]) if ckpts else None


def _curve(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    keep = ("loss", VAL_METRIC, "eval_val_mrr@10", "learning_rate")
    return [{"step": h.get("step"), "epoch": h.get("epoch"), **{k: h[k] for k in keep if k in h}}
            for h in history if any(k in h for k in keep)]


def _finish(run: Path, cfg: RerankerConfig, val_ds: RetrievalDataset, retr, model, data_stats: dict, curve: list, seconds: float,
            evalset: RetrievalDataset | None = None) -> dict[str, Any]:
    from ragtune.rerankers.evaluate import choose_fusion_weight, evaluate_rerank, retrieve_scored

    cache: dict = {}
    report = evaluate_rerank(val_ds, retr, model, top_k=cfg.top_k, latency_queries=cfg.latency_queries,
                             reranker_name="reranker (val)", cache=cache)
    atomic_write_json(run / "eval" / "val.json", report)
    fusion = choose_fusion_weight(val_ds, *retrieve_scored(val_ds, retr, cfg.top_k), model, cache=cache)
    vs = _vs_retriever(report)
    deciding, source, eval_report = report, "validation split", None
    if evalset is not None:
        log.info("evaluating on %s (%d real queries): they decide what ships", evalset.name, len(evalset.queries))
        eval_report = evaluate_rerank(evalset, retr, model, top_k=cfg.top_k, latency_queries=0, reranker_name="reranker")
        atomic_write_json(run / "eval" / f"{_file_name(evalset.name)}.json", eval_report)  # never eval/val.json
        deciding, source = eval_report, f"eval dataset {evalset.name}"
    shipped = _ship_decision(_vs_retriever(deciding), cfg.allow_regression, source)
    if shipped["ok"]:
        with atomic_dir(run / "model") as tmp:
            model.save_pretrained(str(tmp))
    metrics = {"shipped": shipped, "val": {r["model"]: r["metrics"] for r in report["results"]}, "val_vs_retriever": vs,
               "latency": report["latency"], "data": data_stats, "curve": curve, "seconds": round(seconds, 1),
               "best_checkpoint_metric": VAL_METRIC, "loss": cfg.resolved_loss(), "fusion": fusion}
    if eval_report is not None:
        metrics["eval"] = {"dataset": eval_report["dataset"], "metrics": {r["model"]: r["metrics"] for r in eval_report["results"]},
                           "vs_retriever": _vs_retriever(eval_report)}
    atomic_write_json(run / "metrics.json", metrics)
    atomic_write_text(run / "card.md", model_card(cfg, metrics))
    log.info("done: %s", shipped["reason"])
    return metrics


def _vs_retriever(report: dict[str, Any]) -> dict[str, Any]:
    return next(r for r in report["results"] if r["model"] == "reranked")["vs_first"]


def _file_name(name: str) -> str:
    stem = "".join(c if c.isalnum() or c in "-_." else "_" for c in Path(name).stem) or "eval"
    return f"{stem}-eval" if stem == "val" else stem


def _ship_decision(vs: dict[str, Any], allow_regression: bool, source: str = "validation split") -> dict[str, Any]:
    """Ship only a clear gain: a reranker costs latency on every query, so a gain whose paired 95% CI
    reaches zero (synthetic validation can look fine while real queries lose) is not worth shipping."""
    delta, (lo, hi) = vs["delta"], vs["ci95"]
    measured = f"ndcg@10 {delta:+.4f} versus the retriever alone on the {source} (95% CI {lo:+.4f}..{hi:+.4f})"
    if lo > 0:
        return {"ok": True, "decided_by": source, "reason": f"reranking improves {measured}"}
    if allow_regression:
        return {"ok": True, "decided_by": source, "reason": f"shipped without a clear gain, {measured} (allow_regression)"}
    worse = "worse than no reranking" if delta < 0 else "not clearly better than no reranking"
    return {"ok": False, "decided_by": source,
            "reason": f"REFUSED TO SHIP: {measured}: {worse}, so no model/ was written; try more or cleaner data, "
                      "--teacher, more epochs, or --allow-regression to inspect it anyway"}


def model_card(cfg: RerankerConfig, metrics: dict[str, Any]) -> str:
    """A short model card: what, from what data, how it scored against the retriever alone."""
    val = metrics["val"]
    vs = metrics["val_vs_retriever"]
    lines = [
        "# ragtune reranker (cross-encoder)", "",
        f"- base: `{cfg.model}`; loss: `{metrics['loss']}`; teacher: `{cfg.teacher}`; LLM labels: `{cfg.label_with}`",
        f"- training data: `{cfg.dataset}`, {metrics['data']['queries']} queries, {metrics['data']['pairs']} pairs "
        f"(positives + {cfg.num_negatives} hard negatives mined with `{cfg.retriever}` + {cfg.random_negatives} random)"
        + (f", of which {metrics['data']['pseudo_queries']} are unlabelled pseudo-queries cut from the training documents "
           f"(candidates: `{cfg.retriever}`'s top {cfg.num_negatives + 1} + {cfg.random_negatives} random, scored by `{cfg.teacher}`)"
           if metrics["data"].get("pseudo_queries") else ""),
        f"- validation: realistic rerank of `{cfg.retriever}`'s top {cfg.top_k} on held-out source documents",
        "", "| | ndcg@10 | mrr@10 |", "|---|---|---|",
    ]
    for label, m in val.items():
        lines.append(f"| {label} | {m['ndcg@10']:.4f} | {m['mrr@10']:.4f} |")
    lines += ["", f"Reranked vs retriever alone: {vs['delta']:+.4f} ndcg@10 (95% CI {vs['ci95'][0]:+.4f}..{vs['ci95'][1]:+.4f}; "
                  f"won/lost/tied {vs['wins']}/{vs['losses']}/{vs['ties']}).",
              f"Score fusion chosen on validation: w = {metrics['fusion']['weight']:g} x reranker + (1 - w) x retriever "
              f"(min-max scaled per query) gives ndcg@10 {metrics['fusion']['ndcg@10']:.4f} "
              f"(`ragtune eval rerank ... --fuse {metrics['fusion']['weight']:g}`).",
              f"Latency: {metrics['latency'].get('ms_median', 'n/a')} ms median per query at K={metrics['latency'].get('k', 'n/a')} on CPU.",
              *([f"On {metrics['eval']['dataset']} (real held-out queries): reranked vs retriever alone "
                 f"{metrics['eval']['vs_retriever']['delta']:+.4f} ndcg@10 (95% CI {metrics['eval']['vs_retriever']['ci95'][0]:+.4f}.."
                 f"{metrics['eval']['vs_retriever']['ci95'][1]:+.4f})."] if "eval" in metrics else []),
              f"Shipped: {metrics['shipped']['ok']} — {metrics['shipped']['reason']}.", "",
              "Load: `CrossEncoder('RUN/model')` or LlamaIndex `SentenceTransformerRerank(model='RUN/model', top_n=5)`.", ""]
    return "\n".join(lines)


def _finished(run: Path, cfg: RerankerConfig) -> dict[str, Any] | None:
    """A finished run with the same configuration returns its metrics; a different one is refused."""
    try:
        old_cfg = json.loads((run / "config.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    if _resolved(old_cfg) != _resolved(cfg.model_dump()):
        raise InputError(f"{run} already holds a run with a different configuration; choose another -o folder "
                         "(or delete it), or rerun with the same options to resume.")
    try:
        metrics = json.loads((run / "metrics.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    log.info("%s is already finished; delete it to train again", run)
    return metrics


def _resolved(raw: dict[str, Any]) -> dict[str, Any] | None:
    """A stored config with defaults filled in (fields added in later versions compare equal to their defaults)."""
    from pydantic import ValidationError

    try:
        cfg = RerankerConfig(**{k: v for k, v in raw.items() if k != "loss"}, loss=raw.get("loss"))
    except ValidationError:
        return None
    return {**cfg.model_dump(), "loss": cfg.resolved_loss()}


def _log_to(path: Path) -> logging.Handler:
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    for name in LOGGERS:
        logging.getLogger(name).addHandler(handler)
        logging.getLogger(name).setLevel(logging.INFO)
    return handler
