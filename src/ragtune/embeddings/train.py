"""Full fine-tune of a sentence-transformers model with `SentenceTransformerTrainer`.

Without a teacher: MultipleNegativesRankingLoss (or its cached variant) with a no-duplicates batch
sampler, hard negatives from the dataset when every query has one. With `teacher`: each training
query's candidates (its positive + the base model's top non-positive docs) are scored once by the
teacher (vectors come from the shared disk cache) and the student fits those scores
(DistillKLDivLoss or MarginMSELoss). Validation uses ragtune's own metrics, the best checkpoint is
kept, a rerun resumes from the last checkpoint, and RUN/model/ is written only if the tuned model
beats the base on the deciding data (`eval_dataset` when given, else the validation split).
"""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path
from typing import Any

from ragtune.assets import resolve_model
from ragtune.device import bf16_supported, resolve_device
from ragtune.data.retrieval import RetrievalDataset, load_checked, save_split_record, train_val
from ragtune.embedders import Embedder, load_embedder, sentence_transformer_embedder
from ragtune.embeddings.config import EmbeddingConfig
from ragtune.evaluation.metrics import per_query_metrics
from ragtune.evaluation.retrieval import HEADLINE, difficulty, evaluate_retrieval
from ragtune.evaluation.search import top_k
from ragtune.generate.negatives import mine_hard_negatives
from ragtune.io import publish_copy
from ragtune.records import RunMetrics
from ragtune.runs import Run, card, decide_gain, deciding_data, deciding_report, job_config, training_curve
from ragtune.runs.teacher import check_teacher
from ragtune.runs.progress import progress_callback
from ragtune.runs.tracking import report_to

__all__ = ["train_embedding", "validation_evaluator", "candidates", "training_rows", "make_loss", "training_args",
           "merge_with_base"]

log = logging.getLogger(__name__)
HEADLINE_KEY = "val_ndcg@10"


def validation_evaluator(val: RetrievalDataset, batch_size: int = 64):
    """A sentence-transformers evaluator computing ragtune's own retrieval metrics on the validation split."""
    from sentence_transformers.sentence_transformer.evaluation import SentenceEvaluator

    queries, docs = list(val.queries.values()), list(val.corpus.values())
    pos = {d: i for i, d in enumerate(val.corpus)}
    relevant = [{pos[d] for d in val.relevant_docs[q] if d in pos} for q in val.queries]

    class RagtuneRetrievalEvaluator(SentenceEvaluator):
        def __init__(self):
            super().__init__()
            self.name = "val"
            self.primary_metric = "ndcg@10"

        def __call__(self, model, output_path=None, epoch: float = -1, steps: int = -1) -> dict[str, float]:
            q = model.encode_query(queries, batch_size=batch_size, convert_to_tensor=True, normalize_embeddings=True)
            d = model.encode_document(docs, batch_size=batch_size, convert_to_tensor=True, normalize_embeddings=True)
            top = (q @ d.T).topk(min(10, len(docs)), dim=1).indices.tolist()
            per_query = per_query_metrics(top, relevant, [1, 10])
            metrics = {k: float(per_query[k].mean()) for k in ("ndcg@10", "mrr@10", "hit@1", "hit@10")}
            log.info("validation (epoch %s, step %s): %s", round(epoch, 3) if epoch != -1 else "-", steps,
                     ", ".join(f"{k} {v:.4f}" for k, v in metrics.items()))
            return self.prefix_name_to_metrics(metrics, self.name)

    return RagtuneRetrievalEvaluator()


def candidates(ds: RetrievalDataset, emb: Embedder, n: int) -> list[list[int]]:
    """Per query: [positive, then the embedder's top non-positive docs] as corpus indices (n in all)."""
    doc_ids = list(ds.corpus)
    pos = {d: i for i, d in enumerate(doc_ids)}
    found = top_k(emb, list(ds.queries.values()), list(ds.corpus.values()), min(len(doc_ids), n + 8))
    out = []
    for row, qid in zip(found.indices, ds.queries):
        positive = [pos[x] for x in ds.relevant_docs[qid] if x in pos]
        negatives = [int(j) for j in row if int(j) not in positive]
        out.append([positive[0]] + negatives[: n - 1])
    return out


def training_rows(ds: RetrievalDataset, cfg: EmbeddingConfig, base: Embedder, teacher: Embedder | None) -> dict[str, list]:
    """Columns of the training set for the chosen loss (query first, then documents, then `label`)."""
    queries, docs = list(ds.queries.values()), list(ds.corpus.values())
    if teacher is not None:
        return _distill_rows(ds, cfg, base, teacher, queries, docs)
    doc_ids = list(ds.corpus)
    rows: dict[str, list] = {"anchor": [], "positive": []}
    for qid, text in ds.queries.items():
        rows["anchor"].append(text)
        rows["positive"].append(ds.corpus[ds.relevant_docs[qid][0]])
    if ds.hard_negatives:
        # fill any query without a hard negative by mining with the base model (false-negative guard on);
        # only where the guard leaves nothing does the base model's hardest non-positive serve
        mined, _ = mine_hard_negatives(ds, base, num_negatives=1)
        cand = candidates(ds, base, 2)
        rows["negative"] = [ds.corpus[(ds.hard_negatives.get(qid) or mined.hard_negatives.get(qid) or [doc_ids[c[1]]])[0]]
                            for qid, c in zip(ds.queries, cand)]
    return rows


def _distill_rows(ds, cfg: EmbeddingConfig, base: Embedder, teacher: Embedder, queries, docs) -> dict[str, list]:
    cand = candidates(ds, base, cfg.teacher_top_n)
    tq, td = teacher.encode(queries, "query"), teacher.encode(docs, "document")
    scores = [[float(tq[i] @ td[j]) for j in c] for i, c in enumerate(cand)]
    if cfg.distill_loss == "margin_mse":
        rows = {"query": queries, "positive": [docs[c[0]] for c in cand], "negative": [docs[c[1]] for c in cand]}
        rows["label"] = [s[0] - s[1] for s in scores]
        return rows
    rows = {"query": queries}
    for k in range(len(cand[0])):
        rows[f"doc{k}"] = [docs[c[k]] for c in cand]
    rows["label"] = scores
    return rows


def make_loss(model, cfg: EmbeddingConfig, distill: bool):
    from sentence_transformers.sentence_transformer import losses

    if distill:
        loss = (losses.MarginMSELoss(model) if cfg.distill_loss == "margin_mse"
                else losses.DistillKLDivLoss(model, temperature=cfg.distill_temperature))
    elif cfg.loss == "cached_mnrl":
        loss = losses.CachedMultipleNegativesRankingLoss(model, mini_batch_size=cfg.mini_batch_size)
    else:
        loss = losses.MultipleNegativesRankingLoss(model)
    if cfg.matryoshka_dims:
        loss = losses.MatryoshkaLoss(model, loss, matryoshka_dims=cfg.matryoshka_dims)
    return loss


def training_args(cfg: EmbeddingConfig, run: Path, steps_per_epoch: int, eval_on: bool = True, show_progress: bool = False):
    from sentence_transformers.base.sampler import BatchSamplers
    from sentence_transformers.sentence_transformer.training_args import SentenceTransformerTrainingArguments

    strategy = "steps" if cfg.eval_steps else "epoch"
    device = resolve_device(cfg.device)
    return SentenceTransformerTrainingArguments(
        use_cpu=device == "cpu" or _multi_process_cpu(), bf16=bf16_supported(device),
        output_dir=str(run / "checkpoints"), num_train_epochs=cfg.epochs, max_steps=cfg.max_steps,
        per_device_train_batch_size=cfg.batch_size, learning_rate=cfg.learning_rate, warmup_steps=cfg.warmup_ratio,
        batch_sampler=BatchSamplers.NO_DUPLICATES, seed=cfg.seed, data_seed=cfg.seed,
        eval_strategy=strategy if eval_on else "no", save_strategy=strategy, eval_steps=cfg.eval_steps or None,
        save_steps=cfg.eval_steps or None, load_best_model_at_end=eval_on,
        metric_for_best_model=f"eval_{HEADLINE_KEY}" if eval_on else None, greater_is_better=True,
        save_total_limit=2, logging_steps=max(1, min(50, steps_per_epoch // 4)), report_to=report_to(cfg.report_to),
        dataloader_drop_last=False, dataloader_pin_memory=False, disable_tqdm=not show_progress)


def _multi_process_cpu() -> bool:
    """True under `accelerate launch`/torchrun with several processes and no GPU: DDP then runs on CPU over gloo."""
    import os

    import torch

    return int(os.environ.get("WORLD_SIZE", "1")) > 1 and not torch.cuda.is_available()


def merge_with_base(model, base_path: Path, alpha: float) -> None:
    """In place: weights <- (1 - alpha) * tuned + alpha * base (a simple weight average)."""
    import torch
    from sentence_transformers import SentenceTransformer

    base_state = SentenceTransformer(str(base_path), device=str(next(model.parameters()).device), local_files_only=True).state_dict()
    with torch.no_grad():
        for k, v in model.state_dict().items():
            if v.is_floating_point() and k in base_state:
                v.mul_(1 - alpha).add_(base_state[k].to(v.device), alpha=alpha)


def train_embedding(config: EmbeddingConfig | None = None, *, show_progress: bool = False, **fields: Any) -> RunMetrics:
    """Fine-tune `config.model` on `config.dataset`; write the run folder; return its metrics.

    Keyword fields update `config` (`train_embedding(dataset="train.json", output="runs/e", teacher="mpnet")`);
    the datasets and the teacher may be given as ready objects (a `RetrievalDataset`, an `Embedder`).
    Rerunning the same configuration resumes from the last checkpoint, or returns the finished result.
    """
    cfg, objects = job_config(EmbeddingConfig, config, fields)
    with Run(cfg.output, "embedding", cfg) as run:
        done = run.finished()
        if done is not None:
            return done
        return _train(run, cfg, objects, show_progress)


def _train(run: Run, cfg: EmbeddingConfig, objects: dict[str, Any], show_progress: bool) -> RunMetrics:
    t0 = time.perf_counter()
    val_given = objects.get("val_dataset") or cfg.val_dataset
    train, val = train_val(load_checked(objects.get("dataset") or cfg.dataset, "training dataset"),
                           load_checked(val_given, "validation dataset") if val_given else None, cfg.val_fraction, cfg.seed)
    evalset = load_checked(objects.get("eval_dataset") or cfg.eval_dataset, "eval dataset") if cfg.eval_dataset else None
    base_path = resolve_model(cfg.model)
    base = sentence_transformer_embedder(base_path, name=cfg.model, device=cfg.device)
    teacher = objects.get("teacher") or (load_embedder(cfg.teacher, device=cfg.device) if cfg.teacher else None)
    run.start()
    save_split_record(train, val, run.data)
    teacher, teacher_check = check_teacher(base, teacher, *deciding_data(val, evalset), cfg.teacher_check)
    rows = training_rows(train, cfg, base, teacher)
    t_data = time.perf_counter() - t0
    log.info("training %s on %d queries (%s), validating on %d queries; columns %s", cfg.model, len(train.queries),
             "distilled from " + cfg.teacher if teacher else cfg.loss, len(val.queries), list(rows))
    cfg_used = cfg.model_copy(update={"teacher": cfg.teacher if teacher else None})
    trainer, t_train = _fit(cfg_used, run, base_path, rows, val, show_progress)
    if not trainer.is_world_process_zero():  # under `accelerate launch` (DDP) rank 0 alone evaluates and writes
        return RunMetrics.model_construct(job="embedding", decision=None, rank=trainer.args.process_index,
                                          world_size=trainer.args.world_size)
    tuned_path = run.checkpoints / "tuned"
    if cfg.merge_with_base:
        merge_with_base(trainer.model, base_path, cfg.merge_with_base)
    shutil.rmtree(tuned_path, ignore_errors=True)
    trainer.model.save_pretrained(str(tuned_path))
    return _finish(run, cfg_used, base, tuned_path, trainer, train, val, evalset,
                   {"data_s": round(t_data, 3), "train_s": round(t_train, 3)}, t0, teacher_check)


def _fit(cfg: EmbeddingConfig, run: Run, base_path: Path, rows: dict[str, list], val: RetrievalDataset, show_progress: bool = False):
    import datasets
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.trainer import SentenceTransformerTrainer
    from transformers import set_seed

    set_seed(cfg.seed)
    model = SentenceTransformer(str(base_path), device=resolve_device(cfg.device), local_files_only=True)
    model.max_seq_length = min(cfg.max_seq_length, model.max_seq_length or cfg.max_seq_length)
    train_ds = datasets.Dataset.from_dict(rows)
    steps = max(1, -(-len(train_ds) // cfg.batch_size))
    trainer = SentenceTransformerTrainer(model=model, args=training_args(cfg, run.folder, steps, show_progress=show_progress),
                                         train_dataset=train_ds, loss=make_loss(model, cfg, "label" in rows),
                                         evaluator=validation_evaluator(val),
                                         callbacks=[] if show_progress else [progress_callback("fine-tune steps")])
    t1 = time.perf_counter()
    resume = run.last_checkpoint()
    if resume:
        log.info("resuming from %s", resume)
    out = trainer.train(resume_from_checkpoint=resume)
    log.info("trained: %s", dict(out.metrics))
    trainer.train_metrics = out.metrics  # type: ignore[attr-defined]
    return trainer, time.perf_counter() - t1


def _finish(run: Run, cfg: EmbeddingConfig, base: Embedder, tuned_path: Path, trainer, train, val, evalset,
            timing: dict[str, float], t0: float, teacher_check: dict | None) -> RunMetrics:
    """`cfg` says the teacher actually used (None when the check dropped it)."""
    tuned = sentence_transformer_embedder(tuned_path, name=f"{cfg.model}-finetuned", device=cfg.device)
    reports = {"val": evaluate_retrieval(val, {"base": base, "finetuned": tuned})}
    if evalset is not None:
        reports[evalset.name] = evaluate_retrieval(evalset, {"base": base, "finetuned": tuned})
    for name, rep in reports.items():
        run.write_eval(name, rep)
    decision = decide_gain(*deciding_report(reports["val"], reports.get(evalset.name) if evalset else None), "finetuned")
    run.ship(decision, lambda folder: publish_copy(tuned_path, folder))
    tm = getattr(trainer, "train_metrics", {})
    fields = {"validation_difficulty": difficulty(reports["val"]), "teacher_check": teacher_check,
              "best_checkpoint": trainer.state.best_model_checkpoint,
              "curve": training_curve(trainer.state.log_history, (f"eval_{HEADLINE_KEY}", "eval_val_mrr@10", "eval_val_hit@1")),
              "models": {name: rep.metric_table() for name, rep in reports.items()},
              "epochs_trained": round(float(trainer.state.epoch or 0.0), 3), "steps_trained": trainer.state.global_step,
              "train_samples_per_second": tm.get("train_samples_per_second"),
              "validation_seconds_during_training": round(sum(r.get("eval_runtime", 0.0) for r in trainer.state.log_history), 3),
              "seconds": {**timing, "total_s": round(time.perf_counter() - t0, 3)},
              "data": {"train_queries": len(train.queries), "train_docs": len(train.corpus), "val_queries": len(val.queries)}}
    about = [f"`{cfg.model}` fine-tuned with sentence-transformers on {len(train.queries)} queries from `{train.name}` "
             + (f"distilled from `{cfg.teacher}` ({cfg.distill_loss}, top {cfg.teacher_top_n} candidates)" if cfg.teacher
                else f"with {cfg.loss} and no-duplicates batches"
                + (f" (the teacher was dropped: {teacher_check['reason']})" if teacher_check and not teacher_check["used"] else ""))
             + f"; {trainer.state.global_step} steps = {float(trainer.state.epoch or 0):.2f} epochs"
             + (f" (max_steps {cfg.max_steps} overrides epochs {cfg.epochs:g})" if cfg.max_steps > 0 else "")
             + f", lr {cfg.learning_rate:g}, batch {cfg.batch_size}."]
    load = ["`SentenceTransformer('RUN/model')`; LlamaIndex `HuggingFaceEmbedding(model_name='RUN/model')` "
            "(llama-index-embeddings-huggingface); LangChain `HuggingFaceEmbeddings(model_name='RUN/model')` "
            "(langchain-huggingface)."]
    return run.finish(decision, fields, card(f"Fine-tuned {cfg.model}", about, list(reports.values()), decision, load))
