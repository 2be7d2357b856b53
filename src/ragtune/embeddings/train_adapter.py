"""Train an adapter over a frozen embedder on its cached vectors (epochs cost milliseconds).

Target of each training query: with a teacher, the teacher's softmax over the training corpus
(temperature ~0.05; GPL-style pseudo-labels, robust to noisy synthetic questions), optionally mixed
with the labelled positive; without one, the labelled positives (a full-corpus contrastive loss).
The student's softmax over the same corpus is fitted by KL divergence. The best epoch is kept (epoch
0 = the identity = the base; chosen by validation KL to the teacher when there is one, else by
validation ndcg@10), and the adapter ships only if it beats the base on the deciding data.
"""

from __future__ import annotations

import logging
import shutil
import time
from typing import Any

import numpy as np

from ragtune.data.retrieval import RetrievalDataset, load_checked, save_split_record, train_val
from ragtune.embedders import Adapter, Embedder, adapted_embedder, load_embedder, save_adapter
from ragtune.embedders.adapter import CONFIG, WEIGHTS
from ragtune.embedders.st_export import export_sentence_transformer
from ragtune.embeddings.config import AdapterConfig
from ragtune.evaluation.metrics import per_query_metrics
from ragtune.evaluation.retrieval import difficulty, evaluate_retrieval
from ragtune.generate.pseudo import pseudo_queries
from ragtune.records import RunMetrics
from ragtune.runs import Run, card, decide_gain, deciding_data, deciding_report, job_config
from ragtune.runs.teacher import check_teacher

__all__ = ["train_adapter", "fit_adapter", "targets", "val_ndcg", "val_kl"]

log = logging.getLogger(__name__)


def targets(ds: RetrievalDataset, q_teacher: np.ndarray | None, d_teacher: np.ndarray | None, cfg: AdapterConfig) -> np.ndarray:
    """[n_queries, n_docs] target distribution: teacher softmax, labels, or their mix."""
    doc_pos = {d: i for i, d in enumerate(ds.corpus)}
    label = np.zeros((len(ds.queries), len(ds.corpus)), dtype=np.float32)
    for i, qid in enumerate(ds.queries):
        rel = [doc_pos[d] for d in ds.relevant_docs.get(qid, []) if d in doc_pos]
        label[i, rel] = 1.0 / max(1, len(rel))
    if q_teacher is None:
        return label
    t = _softmax(q_teacher @ d_teacher.T / cfg.temperature)
    return (1 - cfg.label_weight) * t + cfg.label_weight * label


def _softmax(x: np.ndarray) -> np.ndarray:
    x = x - x.max(axis=1, keepdims=True)
    e = np.exp(x)
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


def val_ndcg(adapter: Adapter, q: Any, d: Any, relevant: list[set[int]]) -> float:
    """ndcg@10 on the validation vectors (same metric definition as `ragtune eval retrieval`)."""
    import torch

    with torch.no_grad():
        qa, da = adapter.apply(q, "query"), adapter.apply(d, "document")
        top = (qa @ da.T).topk(min(10, len(d)), dim=1).indices.tolist()
    return float(per_query_metrics(top, relevant, [10])["ndcg@10"].mean())


def val_kl(adapter: Adapter, q: Any, d: Any, target: Any, temperature: float) -> float:
    """KL(teacher || student) over the validation corpus: how far the student still is from the teacher."""
    import torch
    import torch.nn.functional as F

    with torch.no_grad():
        logits = adapter.apply(q, "query") @ adapter.apply(d, "document").T / temperature
        return float(F.kl_div(F.log_softmax(logits, dim=1), target, reduction="batchmean"))


def fit_adapter(q: np.ndarray, d: np.ndarray, target: np.ndarray, val: tuple, cfg: AdapterConfig,
                on_epoch=None, keep_last: bool = False) -> tuple[Adapter, list[dict[str, float]]]:
    """Fit on vectors; returns the adapter at its best validation epoch and the training curve.

    `val` = (query vectors, doc vectors, relevant doc indices per query[, teacher target matrix]).
    Without a teacher target the best epoch has the highest validation ndcg@10 on the labels. With
    one it has the lowest validation KL to the teacher: synthetic validation labels are easy for the
    base and measured to disagree with real questions (distilling mpnet into minilm lowered
    synthetic-label ndcg@10 0.769 -> 0.746 while raising human-question ndcg@10 0.716 -> 0.76).
    `keep_last` keeps the final epoch instead (a refit whose epoch count was already chosen).
    """
    import torch

    adapter = Adapter(cfg.kind, cfg.side, q.shape[1], cfg.hidden, cfg.seed)
    opt = torch.optim.AdamW(adapter.parameters(), lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
    qt, dt, tt = (torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)) for x in (q, d, target))
    vq, vd = (torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)) for x in val[:2])
    vt = torch.from_numpy(np.ascontiguousarray(val[3], dtype=np.float32)) if len(val) > 3 and val[3] is not None else None
    gen = torch.Generator().manual_seed(cfg.seed)

    def measure(epoch: int, loss: float) -> dict[str, float]:
        row = {"epoch": epoch, "loss": loss, "val_ndcg@10": val_ndcg(adapter, vq, vd, val[2])}
        if vt is not None:
            row["val_kl_to_teacher"] = val_kl(adapter, vq, vd, vt, cfg.temperature)
        return row

    def score(row: dict[str, float]) -> float:
        return -row["val_kl_to_teacher"] if vt is not None else row["val_ndcg@10"]

    curve = [measure(0, float("nan"))]
    best = {"epoch": 0, "score": score(curve[0]), "state": adapter.state()}
    for epoch in range(1, cfg.epochs + 1):
        curve.append(measure(epoch, _epoch(adapter, opt, qt, dt, tt, cfg, gen)))
        if keep_last or score(curve[-1]) > best["score"]:
            best = {"epoch": epoch, "score": score(curve[-1]), "state": adapter.state()}
        if on_epoch:
            on_epoch(curve[-1])
    adapter.load_state(best["state"])
    adapter.best_epoch = best["epoch"]  # type: ignore[attr-defined]
    adapter.selected_by = ("fixed epoch count" if keep_last else  # type: ignore[attr-defined]
                           "validation KL to the teacher" if vt is not None else "validation ndcg@10")
    return adapter, curve


def _epoch(adapter: Adapter, opt, q, d, target, cfg: AdapterConfig, gen) -> float:
    import torch
    import torch.nn.functional as F

    perm = torch.randperm(len(q), generator=gen)
    total, n = 0.0, 0
    for i in range(0, len(q), cfg.batch_size):
        b = perm[i : i + cfg.batch_size]
        logits = adapter.apply(q[b], "query") @ adapter.apply(d, "document").T / cfg.temperature
        loss = F.kl_div(F.log_softmax(logits, dim=1), target[b], reduction="batchmean")
        opt.zero_grad()
        loss.backward()
        opt.step()
        total, n = total + float(loss.detach()) * len(b), n + len(b)
    return total / max(1, n)


def train_adapter(config: AdapterConfig | None = None, **fields: Any) -> RunMetrics:
    """Fit an adapter over a frozen embedder; write the run folder; return its metrics.

    Keyword fields update `config` (`train_adapter(dataset="train.json", model="minilm", teacher="mpnet",
    output="runs/a")`); the datasets, the embedder and the teacher may be ready objects. `model` may be a
    registry name, a local model folder, or `openai:MODEL` (with `base_url`); each distinct text is embedded
    once, ever (disk cache shared with evaluation). The adapter is written to RUN/model/ only if it beats the
    base on the deciding data: `eval_dataset` (real queries) when given, else the validation split. Rerunning
    a finished configuration returns its recorded result.
    """
    progress = fields.pop("progress", None)
    cfg, objects = job_config(AdapterConfig, config, fields)
    with Run(cfg.output, "adapter", cfg) as run:
        done = run.finished()
        if done is not None:
            return done
        return _train(run, cfg, objects, progress)


def _train(run: Run, cfg: AdapterConfig, objects: dict[str, Any], progress) -> RunMetrics:
    t0 = time.perf_counter()
    base = objects.get("model") or load_embedder(cfg.model, base_url=cfg.base_url, device=cfg.device)
    teach = objects.get("teacher") or (load_embedder(cfg.teacher, base_url=cfg.base_url, device=cfg.device) if cfg.teacher else None)
    val_given = objects.get("val_dataset") or cfg.val_dataset
    train, val = train_val(load_checked(objects.get("dataset") or cfg.dataset, "training dataset"),
                           load_checked(val_given, "validation dataset") if val_given else None, cfg.val_fraction, cfg.seed)
    evalset = load_checked(objects.get("eval_dataset") or cfg.eval_dataset, "eval dataset") if cfg.eval_dataset else None
    run.start()
    save_split_record(train, val, run.data)
    teach, teacher_check = check_teacher(base, teach, *deciding_data(val, evalset), cfg.teacher_check)
    log.info("adapter %s/%s over %s; teacher %s; %d train queries, %d val queries", cfg.kind, cfg.side, base.name,
             teach.name if teach else "none", len(train.queries), len(val.queries))
    q, d, tgt, n_pseudo = _training_arrays(train, base, teach, cfg)
    t_embed = time.perf_counter() - t0
    vq, vd = base.encode(list(val.queries.values()), "query"), base.encode(list(val.corpus.values()), "document")
    vpos = {x: i for i, x in enumerate(val.corpus)}
    vrel = [{vpos[x] for x in val.relevant_docs[qid] if x in vpos} for qid in val.queries]
    vt = targets(val, teach.encode(list(val.queries.values()), "query"), teach.encode(list(val.corpus.values()), "document"),
                 cfg.model_copy(update={"label_weight": 0.0})) if teach else None
    t1 = time.perf_counter()
    adapter, curve = fit_adapter(q, d, tgt, (vq, vd, vrel, vt), cfg, on_epoch=_epoch_logger(progress),
                                 keep_last=not _selects(cfg, teach))
    final = _refit(adapter, train, val, base, teach, cfg, (vq, vd, vrel, vt)) if cfg.refit_all and adapter.best_epoch else adapter
    t_train = time.perf_counter() - t1
    return _finish(run, cfg, base, teach, adapter, final, curve, train, val, evalset,
                   {"embed_s": round(t_embed, 3), "train_s": round(t_train, 3), "pseudo_queries": n_pseudo}, t0, teacher_check)


def _refit(held_out: Adapter, train: RetrievalDataset, val: RetrievalDataset, base, teach, cfg: AdapterConfig, val_arrays):
    """A fresh adapter trained on training + validation data for the epoch count chosen on validation."""
    both = RetrievalDataset(queries={**train.queries, **val.queries}, corpus={**train.corpus, **val.corpus},
                            relevant_docs={**train.relevant_docs, **val.relevant_docs}, name=f"{train.name}+val")
    q, d, tgt, _ = _training_arrays(both, base, teach, cfg)
    log.info("refit on training + validation data (%d queries) for %d epochs", len(q), held_out.best_epoch)
    final, _ = fit_adapter(q, d, tgt, val_arrays, cfg.model_copy(update={"epochs": held_out.best_epoch}), keep_last=True)
    final.selected_by = f"refit on training + validation data for {held_out.best_epoch} epochs"  # type: ignore[attr-defined]
    return final


def _selects(cfg: AdapterConfig, teach) -> bool:
    """Whether the best epoch is chosen on validation (default: only without a teacher; see AdapterConfig)."""
    return cfg.select_epoch if cfg.select_epoch is not None else teach is None


def _epoch_logger(progress):
    def on_epoch(row: dict[str, float]) -> None:
        log.info("epoch %d loss %.4f val ndcg@10 %.4f val KL to teacher %s", row["epoch"], row["loss"], row["val_ndcg@10"],
                 f"{row['val_kl_to_teacher']:.4f}" if "val_kl_to_teacher" in row else "-")
        if progress:
            progress(row)

    return on_epoch


def _training_arrays(train: RetrievalDataset, base: Embedder, teach: Embedder | None, cfg: AdapterConfig):
    """Cached base (and teacher) vectors of the training queries and corpus, and the targets."""
    queries, docs = list(train.queries.values()), list(train.corpus.values())
    q, d = base.encode(queries, "query"), base.encode(docs, "document")
    if teach is None:
        return q, d, targets(train, None, None, cfg), 0
    tq, td = teach.encode(queries, "query"), teach.encode(docs, "document")
    tgt = targets(train, tq, td, cfg)
    pseudo = pseudo_queries(docs, cfg.pseudo_spans, cfg.seed, exclude=set(queries)) if cfg.pseudo_queries else []
    if pseudo:
        q = np.concatenate([q, base.encode(pseudo, "query")])
        tgt = np.concatenate([tgt, _softmax(teach.encode(pseudo, "query") @ td.T / cfg.temperature)])
    return q, d, tgt, len(pseudo)


def _write_model(adapter_folder, folder, base: Embedder, device: str) -> None:
    """RUN/model/: the adapter (adapter.json + weights: ragtune, LlamaIndex's AdapterEmbedding) and, beside it, the same
    model as a plain sentence-transformers folder (a Router: query route = base + adapter, document route = base, or
    base + its own adapter for side 'both'), so `SentenceTransformer("RUN/model")` gives the same vectors. A base that
    is not a local sentence-transformers model (a remote API such as openai:MODEL) cannot be packed into the folder;
    then it holds the adapter alone, and the card says so."""
    path = getattr(base, "path", None)
    if path is None:
        log.info("the base %s is not a local sentence-transformers model: model/ holds the adapter only", base.name)
    else:
        export_sentence_transformer(adapter_folder, folder, base_path=path, overwrite=True, device=device)
    for name in (CONFIG, WEIGHTS):
        shutil.copy2(adapter_folder / name, folder / name)


def _finish(run: Run, cfg: AdapterConfig, base: Embedder, teach, adapter: Adapter, final: Adapter, curve, train, val, evalset,
            timing, t0, teacher_check: dict | None) -> RunMetrics:
    """Validation scores the held-out adapter (trained without the validation data); an eval dataset and
    RUN/model/ get the final one (the refit on training + validation data, when refit_all)."""
    name = f"{base.name}+{cfg.kind}-adapter"
    base_info = {"spec": base.name, "fingerprint": base.fingerprint, "base_url": cfg.base_url}
    save_adapter(adapter, run.checkpoints / "best", base_info)
    save_adapter(final, run.checkpoints / "final", base_info)
    reports = {"val": evaluate_retrieval(val, {"base": base, "adapter": adapted_embedder(base, adapter, name=name)})}
    if evalset is not None:
        reports[evalset.name] = evaluate_retrieval(evalset, {"base": base, "adapter": adapted_embedder(base, final, name=name)})
    for rep_name, rep in reports.items():
        run.write_eval(rep_name, rep)
    decision = decide_gain(*deciding_report(reports["val"], reports.get(evalset.name) if evalset else None), "adapter")
    run.ship(decision, lambda folder: _write_model(run.checkpoints / "final", folder, base, cfg.device))
    fields = {"teacher_check": teacher_check, "best_epoch": adapter.best_epoch, "best_epoch_by": adapter.selected_by,
              "shipped_adapter": final.selected_by if final is not adapter else "the held-out adapter scored on validation",
              "validation_difficulty": difficulty(reports["val"]), "curve": curve,
              "models": {n: rep.metric_table() for n, rep in reports.items()},
              "seconds": {**{k: v for k, v in timing.items() if k.endswith("_s")}, "total_s": round(time.perf_counter() - t0, 3)},
              "data": {"train_queries": len(train.queries), "pseudo_queries": timing["pseudo_queries"],
                       "train_docs": len(train.corpus), "val_queries": len(val.queries)}}
    about = [f"A {cfg.kind} adapter ({cfg.side} side) over the frozen embedder `{base.name}`"
             + (f", distilled from `{teach.name}`" if teach else "")
             + (f" (the teacher was dropped: {teacher_check['reason']})" if teacher_check and not teacher_check["used"] else "") + ".",
             f"Trained on {len(train.queries)} queries (+{timing['pseudo_queries']} pseudo-queries) from `{train.name}`; "
             f"best epoch {adapter.best_epoch} of {cfg.epochs} by {adapter.selected_by}."]
    load = (["sentence-transformers: `m = SentenceTransformer('RUN/model')`, then `m.encode_query(queries)` and "
            "`m.encode_document(passages)` (the routes differ: plain `encode` is the document route).",
            "ragtune: `ragtune.embedders.load_embedder('RUN/model')`; LlamaIndex: "
            "`ragtune.integrations.llamaindex.AdapterEmbedding('RUN/model')` (not `HuggingFaceEmbedding`: it encodes "
            "queries without choosing the query route, so they would skip the adapter); LangChain: "
            "`HuggingFaceEmbeddings(model_name='RUN/model', encode_kwargs={'task': 'document'}, "
            "query_encode_kwargs={'task': 'query'})`.",
            "The index needs no re-embedding for a query-side adapter: documents keep the base model's vectors."
            if cfg.side == "query" else "Side 'both': documents are adapted too, so re-embed the index with encode_document."]
            if getattr(base, "path", None) is not None else
            [f"ragtune: `ragtune.embedders.load_embedder('RUN/model')` (the adapter over `{base.name}`, which is not a local "
             "sentence-transformers model, so no sentence-transformers copy could be packed); LlamaIndex: "
             "`ragtune.integrations.llamaindex.AdapterEmbedding('RUN/model')`."])
    return run.finish(decision, fields, card(f"Adapter for {base.name}", about, list(reports.values()), decision, load))
