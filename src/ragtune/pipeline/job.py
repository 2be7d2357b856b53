"""`ragtune run`: documents in; synthetic data, a fine-tuned model, an adapter and one honest report out.

Stages: chunk -> generate queries (local LLM by default) -> split by source document -> evaluate the
base -> fine-tune (full, small step budget) -> fit an adapter (the fast path) -> evaluate all on the
validation split (and on real queries when given) -> report. With no documents it runs on the bundled
construction-faq: questions are generated from the 503 answers only, and the 503 human questions are
the held-out evaluation set (never used for training).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from ragtune.data.documents import Chunk
from ragtune.data.retrieval import construction_faq, faq_records, load_checked, save_split_record
from ragtune.embedders import adapted_embedder, load_embedder, sentence_transformer_embedder
from ragtune.embeddings.train import train_embedding
from ragtune.embeddings.train_adapter import train_adapter
from ragtune.errors import InputError
from ragtune.evaluation.retrieval import evaluate_retrieval
from ragtune.generate.config import QueryGenConfig
from ragtune.generate.inputs import nonempty, to_chunks
from ragtune.generate.queries import generate_queries
from ragtune.io import publish_copy
from ragtune.pipeline.config import RunConfig
from ragtune.records import EvalReport, RunMetrics, ShipDecision
from ragtune.runs import Run, card, job_config

__all__ = ["run", "faq_chunks", "Stages"]

FAQ = "construction-faq"


def faq_chunks() -> list[Chunk]:
    """The bundled FAQ's 503 answers as chunks, one source document each (ids = the FAQ ids)."""
    return [Chunk(id=str(r["id"]), text=r["a"], source=str(r["id"]), position=0, char_start=0, char_end=len(r["a"]))
            for r in faq_records()]


class Stages:
    """Times each stage into `seconds` and reports progress through `say`."""

    def __init__(self, say: Callable[[str], None]):
        self.say, self.seconds, self._t = say, {}, None

    def start(self, name: str, what: str) -> None:
        self._name, self._t = name, time.perf_counter()
        self.say(f"[{len(self.seconds) + 1}] {name}: {what}")

    def done(self, note: str = "") -> None:
        self.seconds[self._name] = round(time.perf_counter() - self._t, 2)
        self.say(f"    {self._name} done in {self.seconds[self._name]:.1f} s {note}")


def run(config: RunConfig | None = None, *, say: Callable[[str], None] = print, show_progress: bool = False,
        llm_object=None, **fields: Any) -> RunMetrics:
    """The whole retrieval job; returns the run's metrics. Rerunning resumes (journaled generation, trainer
    checkpoints, cached embeddings) or returns a finished run's result. `llm_object` replaces the question
    writer (tests pass a fake); `eval_dataset` may be a ready `RetrievalDataset`."""
    cfg, objects = job_config(RunConfig, config, fields)
    if cfg.teacher and cfg.teacher.lower() == "none":
        cfg = cfg.model_copy(update={"teacher": None})
    with Run(cfg.output, "run", cfg) as folder:
        done = folder.finished()
        if done is not None:
            return done
        evalset = _resolve_first(cfg, objects.get("eval_dataset"))
        folder.start()
        st, t0 = Stages(say), time.perf_counter()
        train, val, gen_summary = _data_stages(folder, cfg, st, show_progress, llm_object)
        results = _model_stages(folder, train, val, evalset, cfg, st, show_progress)
        return _report(folder, cfg, train, val, evalset, results, gen_summary, st, t0)


def _resolve_first(cfg: RunConfig, eval_object):
    """Every model spec and the eval dataset, checked before the first (possibly paid) LLM call: a hub id that is
    not cached, a missing folder or a broken eval dataset fails here, not after the generation stage. (The
    question writer itself is checked just before its first call.)"""
    for spec in (cfg.model, cfg.teacher):
        if spec:
            load_embedder(spec)  # resolves the spec; the weights load only when a text is not cached
    if eval_object is not None or cfg.eval_dataset:
        return load_checked(eval_object or cfg.eval_dataset, "eval dataset")
    return None if cfg.docs else construction_faq()


def _data_stages(folder: Run, cfg: RunConfig, st: Stages, show_progress: bool, llm):
    gen_cfg = QueryGenConfig(llm=cfg.llm, base_url=cfg.base_url, questions_per_chunk=cfg.questions_per_chunk,
                             val_fraction=cfg.val_fraction, seed=cfg.seed, val_style=cfg.val_style, val_llm=cfg.val_llm,
                             device=cfg.device)
    st.start("chunk", "reading and chunking documents" if cfg.docs else f"bundled {FAQ}: 503 answers (human questions held out)")
    chunks = nonempty(to_chunks(cfg.docs, gen_cfg)[0]) if cfg.docs else faq_chunks()
    chunks = chunks[: cfg.max_chunks] if cfg.max_chunks else chunks
    st.done(f"({len(chunks)} chunks)")
    st.start("generate", f"writing questions with {cfg.llm} (journaled: a rerun resumes)")
    gen = generate_queries(chunks, folder.data / "generated", gen_cfg, llm=llm,
                           embedder=load_embedder(gen_cfg.filter_model, device=cfg.device),
                           show_progress=show_progress)
    st.done(f"({gen.summary['questions_kept']} questions kept of {gen.summary['candidates']})")
    if gen.val is None:
        raise InputError("all chunks come from one source document, so no validation split by document is possible; "
                         "give at least two documents.")
    save_split_record(gen.train, gen.val, folder.data)
    return gen.train, gen.val, gen.summary


def _model_stages(folder: Run, train, val, evalset, cfg: RunConfig, st: Stages, show_progress: bool) -> dict[str, RunMetrics]:
    st.start("evaluate base", f"{cfg.model} on the validation split" + (f" and {evalset.name}" if evalset else ""))
    base = load_embedder(cfg.model, device=cfg.device)
    base_val = evaluate_retrieval(val, {"base": base})
    if evalset is not None:
        evaluate_retrieval(evalset, {"base": base})
    first = base_val.results[0].metrics
    st.done(f"(val ndcg@10 {first['ndcg@10']:.3f}, median rank {first['median_rank']:.0f})")
    out: dict[str, RunMetrics] = {}
    finetune = cfg.finetune if cfg.finetune is not None else evalset is not None
    if cfg.finetune is None and not finetune:
        st.say("skipping the full fine-tune: without --eval-dataset (real queries) its result could not ship, since "
               "synthetic validation alone never ships a model; --finetune runs it anyway.")
    if finetune:
        st.start("fine-tune", f"{cfg.model}" + (f" distilled from {cfg.teacher}" if cfg.teacher else " with MNRL")
                 + f", at most {cfg.finetune_max_steps} steps")
        out["finetuned"] = train_embedding(dataset=train, output=folder.folder / "finetune", model=cfg.model, teacher=cfg.teacher,
                                           val_dataset=val, eval_dataset=evalset, epochs=cfg.finetune_epochs,
                                           max_steps=cfg.finetune_max_steps, learning_rate=cfg.finetune_learning_rate,
                                           teacher_check=cfg.teacher_check, seed=cfg.seed, device=cfg.device,
                                           show_progress=show_progress)
        st.done(out["finetuned"].decision.reason)
    st.start("adapter", f"{cfg.adapter_kind} query adapter over cached {cfg.model} vectors"
             + (f", distilled from {cfg.teacher}" if cfg.teacher else ""))
    out["adapter"] = train_adapter(dataset=train, output=folder.folder / "adapter", model=cfg.model, teacher=cfg.teacher,
                                   kind=cfg.adapter_kind, val_dataset=val, eval_dataset=evalset, epochs=cfg.adapter_epochs,
                                   teacher_check=cfg.teacher_check, seed=cfg.seed, device=cfg.device)
    st.done(out["adapter"].decision.reason)
    return out


def _candidates(folder: Run, cfg: RunConfig, results: dict[str, RunMetrics], adapter: str = "best"):
    """Embedders of every trained model (shipped or not: the report shows them all). `adapter`: 'best' (trained
    without the validation data; for the validation report) or 'final' (refit on all generated data)."""
    models = {"base": load_embedder(cfg.model, device=cfg.device)}
    if "finetuned" in results:
        models["finetuned"] = sentence_transformer_embedder(folder.folder / "finetune" / "checkpoints" / "tuned",
                                                            name=f"{cfg.model}-finetuned", device=cfg.device)
    models["adapter"] = adapted_embedder(models["base"], folder.folder / "adapter" / "checkpoints" / adapter,
                                         name=f"{cfg.model}+adapter")
    return models


def _report(folder: Run, cfg: RunConfig, train, val, evalset, results: dict[str, RunMetrics], gen_summary, st: Stages,
            t0: float) -> RunMetrics:
    st.start("evaluate all", "base, finetuned and adapter on every evaluation set")
    reports = {"val": evaluate_retrieval(val, _candidates(folder, cfg, results, "best"))}
    if evalset is not None:
        reports[evalset.name] = evaluate_retrieval(evalset, _candidates(folder, cfg, results, "final"))
    for name, rep in reports.items():
        folder.write_eval(name, rep)
    st.done()
    decision = _choose(results)
    sub = {"finetuned": "finetune", "adapter": "adapter"}.get(decision.model)
    folder.ship(decision, lambda out: publish_copy(folder.folder / sub / "model", out))
    fields = {"result": {"model": decision.model if decision.shipped else "base", "why": decision.reason},
              "decisions": {k: v.decision.model_dump() for k, v in results.items()},
              "validation_difficulty": results["adapter"].validation_difficulty,
              "models": {name: rep.metric_table() for name, rep in reports.items()},
              "comparisons": {name: {r.model: r.vs_first.model_dump() for r in rep.results[1:]} for name, rep in reports.items()},
              "generation": gen_summary, "data": {"train_queries": len(train.queries), "val_queries": len(val.queries),
                                                  "eval_queries": len(evalset.queries) if evalset else 0},
              "seconds": {**st.seconds, "total": round(time.perf_counter() - t0, 2)}}
    return folder.finish(decision, fields, _card(cfg, decision, fields, list(reports.values()), _stage_load(folder, sub)))


def _stage_load(folder: Run, sub: str | None) -> list[str]:
    """The `## Load` lines of the shipped stage's own card (RUN/model/ is a copy of that stage's model)."""
    if not sub:
        return []
    try:
        text = (folder.folder / sub / "card.md").read_text(encoding="utf-8")
    except OSError:
        return []
    _, found, rest = text.partition("## Load\n")
    return [line for line in rest.split("\n## ", 1)[0].strip().splitlines()] if found else []


def _choose(results: dict[str, RunMetrics]) -> ShipDecision:
    """The shipped stage with the largest gain on the deciding data. When none shipped: 'cannot judge' if any stage
    could not be judged (the data could not tell), else the least bad refusal; the base stays the result."""
    decisions = [r.decision for r in results.values()]
    shipped = [d for d in decisions if d.shipped]
    if shipped:
        best = max(shipped, key=lambda d: d.delta)
        return best.model_copy(update={"reason": f"{best.model}: the largest ndcg@10 gain over base on the deciding data "
                                                 f"({best.delta:+.4f}); {best.reason}"})
    unjudged = [d for d in decisions if d.verdict == "cannot_judge"]
    pick = unjudged[0] if unjudged else max(decisions, key=lambda d: d.delta if d.delta is not None else float("-inf"))
    stages = "; ".join(f"{d.model}: {d.verdict.replace('_', ' ')} ({d.delta:+.4f})" for d in decisions)
    return pick.model_copy(update={"reason": f"no trained model shipped ({stages}); keep using the base model. {pick.reason}"})


def _card(cfg: RunConfig, decision: ShipDecision, fields: dict[str, Any], reports: list[EvalReport],
          stage_load: list[str] = ()) -> str:
    about = [f"Result: **{fields['result']['model']}** ({decision.reason}).",
             f"Ship decisions used: {decision.decided_by} ({decision.dataset}).",
             f"Data: {fields['generation'].get('questions_kept')} questions kept of {fields['generation'].get('candidates')} "
             f"generated by `{cfg.llm}` from {fields['generation'].get('chunks')} chunks; {fields['data']['train_queries']} train / "
             f"{fields['data']['val_queries']} validation queries (split by source document); "
             f"{fields['data']['eval_queries']} held-out evaluation queries.",
             f"Validation difficulty: median rank of the positive under the base = "
             f"{fields['validation_difficulty']['base_median_rank']:.0f}.",
             "Stage timings (s): " + json.dumps(fields["seconds"])]
    sub = {"finetuned": "finetune/", "adapter": "adapter/"}.get(decision.model, "")
    load = ["RUN/model/ is a copy of " + (f"the `{sub}` stage's model/ (see that stage's card.md)." if decision.shipped and sub
                                         else "nothing: no stage shipped, keep using the base model."), "", *stage_load]
    return card(f"ragtune run: {cfg.model}", about, reports, decision, load)
