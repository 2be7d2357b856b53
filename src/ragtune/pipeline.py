"""`ragtune run`: documents in; synthetic data, a fine-tuned model, an adapter and one honest report out.

Stages: chunk -> generate queries (local LLM by default) -> split by source document -> evaluate the
base -> fine-tune (full, small step budget) -> fit an adapter (the fast path) -> evaluate all on the
validation split (and on real queries when given) -> report. With no documents it runs on the bundled
construction-faq: questions are generated from the 503 answers only, and the 503 human questions are
the held-out evaluation set (never used for training).
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from ragtune.data.retrieval import RetrievalDataset
from ragtune.embeddings.config import AdapterConfig
from ragtune.io import atomic_write_json, atomic_write_text, publish_copy


class RunConfig(BaseModel):
    """Settings of `ragtune run` (saved as RUN/config.json)."""

    model: str = Field("minilm", description="Embedding model to improve.")
    teacher: str | None = Field("mpnet", description="Stronger embedder used as teacher for both the fine-tune and the adapter "
                                                      "('none' to train on the synthetic labels only).")
    llm: str = Field("local", description="Question writer: 'local' (best installed local model), 'local:MODEL', 'openai:MODEL'.")
    base_url: str | None = Field(None, description="OpenAI-compatible server for an openai:MODEL question writer.")
    questions_per_chunk: int = Field(1, description="Questions asked for per chunk.")
    max_chunks: int = Field(0, description="Use at most this many chunks (0 = all); a quick look at a big corpus.")
    finetune: bool = Field(True, description="Run the full fine-tune stage (the adapter stage always runs).")
    finetune_epochs: float = Field(1.0, description="Epochs of the full fine-tune.")
    finetune_max_steps: int = Field(60, description="Step budget of the full fine-tune (-1 = no cap); keeps the run "
                                                    "within ~20 minutes on a 2-core CPU.")
    finetune_lr: float = Field(2e-5, description="Learning rate of the full fine-tune.")
    adapter_kind: str = Field("linear", description="Adapter kind: 'linear' or 'mlp'.")
    adapter_epochs: int = Field(AdapterConfig().epochs, description="Adapter epochs (milliseconds each on cached vectors).")
    val_fraction: float = Field(0.2, description="Share of source documents held out for validation.")
    seed: int = Field(42, description="Seed for generation sampling, split and training.")


def faq_chunks():
    """The bundled FAQ's 503 answers as chunks, one source document each (ids = the FAQ ids)."""
    from ragtune.data.documents import Chunk
    from ragtune.data.retrieval import faq_records

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


def run(docs: str | Path | None = None, output: str | Path = "runs/demo", eval_dataset: str | Path | RetrievalDataset | None = None,
        config: RunConfig | None = None, say: Callable[[str], None] = print, show_progress: bool = False,
        llm_object=None, **overrides: Any) -> dict[str, Any]:
    """The whole retrieval job; returns metrics.json's content. Rerunning resumes (journaled generation,
    trainer checkpoints, cached embeddings). `llm_object` replaces the question writer (tests pass a fake)."""
    cfg = RunConfig.model_validate({**(config or RunConfig()).model_dump(), **overrides})
    if cfg.teacher and cfg.teacher.lower() == "none":
        cfg.teacher = None
    run_dir, t0 = Path(output), time.perf_counter()
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_json(run_dir / "config.json", {"job": "run", "docs": str(docs) if docs else "construction-faq (bundled)",
                                                "eval_dataset": _name(eval_dataset) if eval_dataset is not None or docs else
                                                "construction-faq human questions", **cfg.model_dump()})
    st = Stages(say)
    train, val, evalset, gen_summary = _data_stages(docs, eval_dataset, run_dir, cfg, st, show_progress, llm_object)
    results = _model_stages(train, val, evalset, run_dir, cfg, st, show_progress)
    return _report(run_dir, cfg, train, val, evalset, results, gen_summary, st, t0, say)


def _name(ds) -> str:
    return ds.name if isinstance(ds, RetrievalDataset) else str(ds)


def _data_stages(docs, eval_dataset, run_dir: Path, cfg: RunConfig, st: Stages, show_progress: bool, llm):
    from ragtune.data.retrieval import construction_faq, load_dataset, save_split_record
    from ragtune.generate.config import QueryGenConfig
    from ragtune.generate.inputs import nonempty, to_chunks
    from ragtune.generate.queries import generate_queries

    gen_cfg = QueryGenConfig(llm=cfg.llm, base_url=cfg.base_url, questions_per_chunk=cfg.questions_per_chunk,
                             val_fraction=cfg.val_fraction, seed=cfg.seed)
    st.start("chunk", "reading and chunking documents" if docs else "bundled construction-faq: 503 answers (human questions held out)")
    chunks = nonempty(to_chunks(docs, gen_cfg)[0]) if docs else faq_chunks()
    chunks = chunks[: cfg.max_chunks] if cfg.max_chunks else chunks
    st.done(f"({len(chunks)} chunks)")
    st.start("generate", f"writing questions with {cfg.llm} (journaled: a rerun resumes)")
    gen = generate_queries(chunks, run_dir / "data" / "generated", gen_cfg, llm=llm, show_progress=show_progress)
    st.done(f"({gen.summary['questions_kept']} questions kept of {gen.summary['candidates']})")
    if gen.val is None:
        from ragtune.errors import InputError

        raise InputError("all chunks come from one source document, so no validation split by document is possible; "
                         "give at least two documents.")
    save_split_record(gen.train, gen.val, run_dir / "data")
    evalset = None
    if eval_dataset is not None:
        evalset = eval_dataset if isinstance(eval_dataset, RetrievalDataset) else load_dataset(eval_dataset)
    elif docs is None:
        evalset = construction_faq()
    return gen.train, gen.val, evalset, gen.summary


def _model_stages(train, val, evalset, run_dir: Path, cfg: RunConfig, st: Stages, show_progress: bool) -> dict[str, Any]:
    from ragtune.embeddings.encoder import load_embedder
    from ragtune.embeddings.train import train_embedding
    from ragtune.embeddings.train_adapter import train_adapter
    from ragtune.evaluation.retrieval import evaluate_retrieval

    st.start("evaluate base", f"{cfg.model} on the validation split" + (f" and {evalset.name}" if evalset else ""))
    base = load_embedder(cfg.model)
    base_val = evaluate_retrieval(val, {"base": base})
    if evalset is not None:
        evaluate_retrieval(evalset, {"base": base})
    st.done(f"(val ndcg@10 {base_val['results'][0]['metrics']['ndcg@10']:.3f}, median rank "
            f"{base_val['results'][0]['metrics']['median_rank']:.0f})")
    out: dict[str, Any] = {}
    if cfg.finetune:
        st.start("fine-tune", f"{cfg.model}" + (f" distilled from {cfg.teacher}" if cfg.teacher else " with MNRL")
                 + f", at most {cfg.finetune_max_steps} steps")
        out["finetuned"] = train_embedding(train, cfg.model, run_dir / "finetune", teacher=cfg.teacher, val_dataset=val,
                                           eval_dataset=evalset, epochs=cfg.finetune_epochs, max_steps=cfg.finetune_max_steps,
                                           lr=cfg.finetune_lr, seed=cfg.seed, show_progress=show_progress)
        st.done(out["finetuned"]["decision"]["reason"])
    st.start("adapter", f"{cfg.adapter_kind} query adapter over cached {cfg.model} vectors"
             + (f", distilled from {cfg.teacher}" if cfg.teacher else ""))
    out["adapter"] = train_adapter(train, cfg.model, run_dir / "adapter", teacher=cfg.teacher, kind=cfg.adapter_kind,
                                   val_dataset=val, eval_dataset=evalset, epochs=cfg.adapter_epochs, seed=cfg.seed)
    st.done(out["adapter"]["decision"]["reason"])
    return out


def _candidates(run_dir: Path, cfg: RunConfig, results: dict[str, Any], adapter: str = "best"):
    """Embedders of every trained model (shipped or not: the report shows them all). `adapter`: 'best' (trained
    without the validation data; for the validation report) or 'final' (refit on all generated data)."""
    from ragtune.embeddings.adapter import adapted_embedder
    from ragtune.embeddings.encoder import load_embedder, sentence_transformer_embedder

    models = {"base": load_embedder(cfg.model)}
    if "finetuned" in results:
        models["finetuned"] = sentence_transformer_embedder(run_dir / "finetune" / "checkpoints" / "tuned", name=f"{cfg.model}-finetuned")
    models["adapter"] = adapted_embedder(models["base"], run_dir / "adapter" / "checkpoints" / adapter, name=f"{cfg.model}+adapter")
    return models


def _report(run_dir: Path, cfg: RunConfig, train, val, evalset, results, gen_summary, st: Stages, t0: float, say) -> dict[str, Any]:
    from ragtune.evaluation.retrieval import evaluate_retrieval

    st.start("evaluate all", "base, finetuned and adapter on every evaluation set")
    reports = {"val": evaluate_retrieval(val, _candidates(run_dir, cfg, results, "best"))}
    if evalset is not None:
        reports[evalset.name] = evaluate_retrieval(evalset, _candidates(run_dir, cfg, results, "final"))
    for name, rep in reports.items():
        atomic_write_json(run_dir / "eval" / f"{name}.json", rep)
    st.done()
    chosen = _choose(results)
    _ship(run_dir, chosen)
    metrics = {"job": "run", "result": chosen, "decided_by": next(iter(results.values()))["decision"]["decided_by"],
               "decisions": {k: v["decision"] for k, v in results.items()},
               "validation_difficulty": results["adapter"]["validation_difficulty"],
               "models": {name: {r["model"]: r["metrics"] for r in rep["results"]} for name, rep in reports.items()},
               "comparisons": {name: {r["model"]: r["vs_first"] for r in rep["results"][1:]} for name, rep in reports.items()},
               "generation": gen_summary, "data": {"train_queries": len(train.queries), "val_queries": len(val.queries),
                                                   "eval_queries": len(evalset.queries) if evalset else 0},
               "seconds": {**st.seconds, "total": round(time.perf_counter() - t0, 2)}}
    atomic_write_json(run_dir / "metrics.json", metrics)
    atomic_write_text(run_dir / "card.md", _card(cfg, metrics, reports))
    return metrics


def _choose(results: dict[str, Any]) -> dict[str, Any]:
    """The shipped model with the largest gain on the deciding data; the base if none shipped."""
    shipped = [(v["decision"]["delta_ndcg@10"], k) for k, v in results.items() if v["decision"]["shipped"]]
    if not shipped:
        return {"model": "base", "why": "no trained model beat the base on the deciding data; keep using the base model"}
    delta, label = max(shipped)
    return {"model": label, "why": f"largest ndcg@10 gain over base on the deciding data ({delta:+.4f})"}


def _ship(run_dir: Path, chosen: dict[str, Any]) -> None:
    sub = {"finetuned": "finetune", "adapter": "adapter"}.get(chosen["model"])
    if sub:
        publish_copy(run_dir / sub / "model", run_dir / "model")
    else:
        shutil.rmtree(run_dir / "model", ignore_errors=True)


def _card(cfg: RunConfig, metrics: dict[str, Any], reports: dict[str, Any]) -> str:
    lines = [f"# ragtune run: {cfg.model}", "", f"Result: **{metrics['result']['model']}** ({metrics['result']['why']}).",
             f"Ship decisions used: {metrics['decided_by']}.", "",
             f"Validation difficulty: median rank of the positive under the base = "
             f"{metrics['validation_difficulty']['base_median_rank']:.0f}.", "", "| eval set | model | ndcg@10 | delta vs base [95% CI] | won/lost/tied |",
             "|---|---|---|---|---|"]
    for name, rep in reports.items():
        for r in rep["results"]:
            c = r.get("vs_first")
            delta = f"{c['delta']:+.4f} [{c['ci95'][0]:+.4f}, {c['ci95'][1]:+.4f}]" if c else "(baseline)"
            lines.append(f"| {name} | {r['model']} | {r['metrics']['ndcg@10']:.4f} | {delta} | "
                         + (f"{c['wins']}/{c['losses']}/{c['ties']} |" if c else "- |"))
    lines += ["", "Stage timings (s): " + json.dumps(metrics["seconds"]), ""]
    return "\n".join(lines)
