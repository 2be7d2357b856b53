"""`generate_queries`: documents in, a filtered synthetic retrieval dataset out, split by source document.

The run is resumable: each finished LLM call is journaled (OUT/journal.jsonl) before it counts, and a
rerun of the same command only makes the calls that are missing. Cleaning, deduplication and the
round-trip filter are re-applied to the journaled raw replies on every run, and the dataset files are
written atomically at the end.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ragtune.data.documents import Chunk
from ragtune.data.retrieval import RetrievalDataset, held_out_sources, save_split_record, split_by_source, write_llamaindex
from ragtune.errors import InputError, LLMError, NoUsableDataError
from ragtune.evaluation.protocols import Encoder
from ragtune.evaluation.search import encode_pair, positive_ranks
from ragtune.generate.config import QueryGenConfig, reply_tokens, resolve_config
from ragtune.generate.inputs import nonempty, to_chunks
from ragtune.generate.journal import Journal, call_key
from ragtune.generate.parsing import Limits, content_words, dedup_across, parse_reply
from ragtune.generate.prompts import load_examples, load_template, prompt_hash, render, validation_template
from ragtune.io import atomic_write_json, atomic_write_jsonl, hold_folder
from ragtune.llm import LLM, Outcome, RetryPolicy, check_llm, complete_many, installed_local_models, load_llm, user_message


@dataclass(frozen=True)
class Job:
    """One LLM call: a chunk, a sample index, its prompt and its journal key."""

    key: str
    chunk: Chunk
    sample: int
    messages: list[dict[str, str]]


@dataclass
class RunStats:
    """What the calls of this run did (resumed calls are counted separately)."""

    calls_total: int = 0
    calls_resumed: int = 0
    calls_made: int = 0
    calls_failed: int = 0
    errors: list[str] = field(default_factory=list)
    tokens_in: int = 0
    tokens_out: int = 0
    seconds: float = 0.0


@dataclass
class GenerationResult:
    """The dataset (all chunks as corpus), its train/val parts, and the run summary."""

    dataset: RetrievalDataset
    train: RetrievalDataset
    val: RetrievalDataset | None
    summary: dict[str, Any]
    out: Path


@dataclass
class Part:
    """The questions of one side (training or validation) and how they were made."""

    questions: list[tuple[str, str]]
    drops: Counter
    rows: list[dict]
    stats: RunStats
    jobs: list[Job]
    model: str


def generate_queries(docs: Any, out: str | Path, config: QueryGenConfig | None = None, *, llm: LLM | None = None,
                     val_llm: LLM | None = None, embedder: Encoder | None = None, show_progress: bool = False,
                     **options: Any) -> GenerationResult:
    """Write synthetic questions for every chunk of `docs` into the folder `out`.

    `docs`: file/folder paths, ragtune Documents or Chunks, or LlamaIndex Documents/TextNodes.
    Options are the fields of `QueryGenConfig` (the CLI flags); `llm` and `val_llm` override `config.llm` and
    `config.val_llm` with ready objects (tests pass fakes here). `embedder` is the round-trip filter's reference
    encoder (the caller loads `config.filter_model`, e.g. `ragtune.embedders.load_embedder`); it is needed when
    the filter is on. With `val_style='user'` (the default) the source documents held out for validation get
    their own questions, asked in a user's words (see `QueryGenConfig.val_style`).
    Output: OUT/train.json, val.json, split.json (LlamaIndex JSON), all.json, summary.json,
    config.json, dropped.jsonl, and the resumable journal.jsonl. One process at a time works in `out` (OUT/.lock):
    a second is refused at once, naming the first one's pid.
    """
    cfg = resolve_config(config, options)
    if cfg.filter and embedder is None:
        raise InputError("the round-trip filter needs its reference embedder: pass embedder=load_embedder(config.filter_model) "
                         "(ragtune.embedders), or filter=False.")
    with hold_folder(out):
        return _generate(docs, Path(out), cfg, llm, val_llm, embedder, show_progress)


def _generate(docs: Any, out: Path, cfg: QueryGenConfig, llm: LLM | None, val_llm: LLM | None, embedder: Encoder | None,
              show_progress: bool) -> GenerationResult:
    t0 = time.perf_counter()
    chunks, read_note = to_chunks(docs, cfg)
    chunks = nonempty(chunks)
    given = llm is not None
    llm = llm or _load(cfg.llm, cfg)
    journal = Journal(out / "journal.jsonl")
    train_chunks, val_chunks = _sides(chunks, cfg)
    train, warning = _training_questions(train_chunks, llm, journal, embedder, cfg, show_progress)
    parts = {"train": train}
    if val_chunks:
        writer = val_llm or (llm if given and not cfg.val_llm else _validation_llm(cfg, llm))
        parts["val"] = _validation_questions(val_chunks, chunks, writer, journal, cfg, show_progress)
    questions = [q for part in parts.values() for q in part.questions]
    summary = make_summary(chunks, parts, journal, cfg, time.perf_counter() - t0, read_note)
    if warning:
        summary["warnings"] = [warning]
    atomic_write_jsonl(out / "dropped.jsonl", [row for part in parts.values() for row in part.rows])
    atomic_write_json(out / "summary.json", summary)  # rewritten below with the split sizes
    try:
        dataset = build_dataset(chunks, questions, out.name, cfg, llm.model)
    except NoUsableDataError as e:
        raise NoUsableDataError(f"{e}; {warning}" if warning else str(e)) from None
    return write_outputs(dataset, summary, cfg, out)


def _load(spec: str, cfg: QueryGenConfig) -> LLM:
    return load_llm(spec, base_url=cfg.base_url, api_key_env=cfg.api_key_env, concurrency=cfg.concurrency,
                    timeout=cfg.timeout, retry=RetryPolicy(max_tries=cfg.max_tries), batch_size=cfg.concurrency,
                    device=cfg.device)


def _sides(chunks: list[Chunk], cfg: QueryGenConfig) -> tuple[list[Chunk], list[Chunk]]:
    """(chunks that get training questions, chunks that get validation questions of their own). With style 'same'
    or one source document, every chunk gets training questions and the split comes after (as `write_outputs` does)."""
    sources = sorted({c.source for c in chunks})
    if cfg.val_style == "same" or len(sources) < 2:
        return chunks, []
    held = held_out_sources(sources, cfg.val_fraction, cfg.seed)
    return [c for c in chunks if c.source not in held], [c for c in chunks if c.source in held]


def _training_questions(chunks: list[Chunk], llm: LLM, journal: Journal, embedder, cfg: QueryGenConfig,
                        show_progress: bool) -> tuple[Part, str | None]:
    """The training questions: the main prompt, cleaning, the optional self-check and the round-trip filter."""
    template = load_template(cfg.prompt_file)
    jobs = make_jobs(chunks, template, cfg, llm.model)
    stats = run_jobs(llm, jobs, journal, cfg, show_progress)
    if stats.calls_failed and not any(j.key in journal.done for j in jobs):
        raise LLMError(f"every LLM call failed ({stats.calls_failed} given up, nothing generated); the first error: "
                       f"{stats.errors[0] if stats.errors else '?'}. Fix the cause and rerun the same command.")
    questions, drops, dropped_rows = collect(jobs, journal, cfg, template)
    warning = None
    if cfg.self_check and questions:
        questions, sc_rows = self_check(llm, questions, chunks, journal, cfg, stats, show_progress)
        drops["self_check"] = len(sc_rows)
        warning = self_check_warning(len(sc_rows), len(sc_rows) + len(questions), llm.model)
        dropped_rows += sc_rows
    if cfg.filter and questions:
        questions, rt_rows = round_trip_filter(questions, chunks, embedder, cfg)
        drops["round_trip"] = len(rt_rows)
        dropped_rows += rt_rows
    return Part(questions, drops, dropped_rows, stats, jobs, llm.model), warning


def _validation_questions(chunks: list[Chunk], corpus: list[Chunk], llm: LLM, journal: Journal, cfg: QueryGenConfig,
                          show_progress: bool) -> Part:
    """Validation questions in a user's words: their own prompt and LLM, cleaning, and the overlap limit; never an
    embedding filter (the base model would choose the questions it already answers)."""
    template = load_template(cfg.val_prompt_file) if cfg.val_prompt_file else validation_template()
    vcfg = cfg.model_copy(update={"questions_per_chunk": cfg.val_questions_per_chunk})
    jobs = make_jobs(chunks, template, vcfg, llm.model, examples=[])
    stats = run_jobs(llm, jobs, journal, vcfg, show_progress)
    questions, drops, rows = collect(jobs, journal, vcfg, template)
    kept, over = overlap_filter(questions, {c.id: c.text for c in chunks}, [c.text for c in corpus], cfg.val_max_overlap)
    drops["overlap"] = len(over)
    rows += over
    return Part(kept, drops, [{**r, "side": "val"} for r in rows], stats, jobs, llm.model)


def _validation_llm(cfg: QueryGenConfig, llm: LLM) -> LLM:
    """`val_llm` when given; else, for a local LLM, the other installed local model (validation and training
    questions then come from different writers); else the training LLM itself."""
    if cfg.val_llm:
        return _load(cfg.val_llm, cfg)
    kind, _, name = cfg.llm.partition(":")
    if kind != "local":
        return llm
    other = [m for m in installed_local_models() if m != (name or llm.model)]
    return _load(f"local:{other[0]}", cfg) if other else llm


def overlap(question: str, passage: str, idf: dict[str, float]) -> float:
    """Share of the question's content words that occur in the passage, each weighted by its rarity (idf)."""
    q, p = content_words(question), content_words(passage)
    total = sum(idf.get(w, 0.0) for w in q)
    return sum(idf.get(w, 0.0) for w in q if w in p) / total if total > 0 else 0.0


def overlap_filter(questions: list[tuple[str, str]], text_of: dict[str, str], corpus: list[str], limit: float):
    """Drop questions that reuse more than `limit` of their passage's distinctive words (idf over `corpus`)."""
    df = Counter(w for t in corpus for w in content_words(t))
    idf = {w: math.log(len(corpus) / (1 + n)) for w, n in df.items()}
    kept, rows = [], []
    for cid, text in questions:
        share = overlap(text, text_of[cid], idf)
        if share > limit:
            rows.append({"reason": "overlap", "chunk_id": cid, "text": text, "overlap": round(share, 3)})
        else:
            kept.append((cid, text))
    return kept, rows


def make_jobs(chunks: list[Chunk], template: str, cfg: QueryGenConfig, model: str, examples: list[str] | None = None) -> list[Job]:
    examples = load_examples(cfg.examples_file) if examples is None else examples
    phash = prompt_hash(template, cfg.questions_per_chunk, examples, f"t={cfg.temperature};max={reply_tokens(cfg)}")
    jobs = []
    for c in chunks:
        messages = user_message(render(template, c.text, cfg.questions_per_chunk, examples))
        jobs += [Job(call_key(c.text, phash, model, s), c, s, messages) for s in range(cfg.samples)]
    unique = {j.key: j for j in jobs}  # identical chunk texts share one call
    return list(unique.values())


def run_jobs(llm: LLM, jobs: list[Job], journal: Journal, cfg: QueryGenConfig, show_progress: bool) -> RunStats:
    """Make every call the journal does not have yet; each finished call is journaled at once."""
    todo = sorted((j for j in jobs if j.key not in journal.done), key=lambda j: len(j.messages[-1]["content"]))
    stats = RunStats(calls_total=len(jobs), calls_resumed=len(jobs) - len(todo))
    if not todo:
        return stats
    check_llm(llm)  # a model that does not resolve, a server that does not answer: fail before the first call
    t0 = time.perf_counter()
    with ProgressBar(show_progress, len(jobs), stats.calls_resumed) as bar:
        async def on_done(o: Outcome) -> None:
            await _record(o, todo[o.index], journal, stats, llm.model)
            bar(stats, time.perf_counter() - t0)

        seeds = [cfg.seed + j.sample if cfg.temperature > 0 else None for j in todo]
        asyncio.run(complete_many(llm, [j.messages for j in todo], concurrency=cfg.concurrency, max_tokens=reply_tokens(cfg),
                                  temperature=cfg.temperature, seeds=seeds, on_done=on_done))
    stats.seconds = time.perf_counter() - t0
    return stats


async def _record(o: Outcome, job: Job, journal: Journal, stats: RunStats, model: str) -> None:
    if o.completion is None:
        stats.calls_failed += 1
        if len(stats.errors) < 5:
            stats.errors.append(f"chunk {job.chunk.id}: {o.error}")
        return
    c = o.completion
    await journal.add_async({"key": job.key, "chunk_id": job.chunk.id, "sample": job.sample, "model": model, "reply": c.text,
                 "prompt_tokens": c.prompt_tokens, "completion_tokens": c.completion_tokens,
                 "finish_reason": c.finish_reason})
    stats.calls_made += 1
    stats.tokens_in += c.prompt_tokens
    stats.tokens_out += c.completion_tokens


class ProgressBar:
    """A rich progress bar (chunks done, tokens/s, ETA) or nothing."""

    def __init__(self, show: bool, total: int, done: int):
        self.show, self.total, self.done = show, total, done

    def __enter__(self):
        if not self.show:  # not a terminal: a plain line at least every 30 s (done/total, ETA), silent when quick
            from ragtune.io import ProgressLines

            lines = ProgressLines("generating (LLM calls)", self.total, done=self.done)
            return lambda stats, elapsed: lines.update(self.done + stats.calls_made + stats.calls_failed)
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.bar = Progress(TextColumn("generating"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[rate]}"),
                            TextColumn("ETA"), TimeRemainingColumn(), transient=False)
        self.bar.start()
        self.task = self.bar.add_task("gen", total=self.total, completed=self.done, rate="")

        def update(stats: RunStats, elapsed: float) -> None:
            rate = f"{stats.tokens_out / max(elapsed, 1e-9):.1f} tok/s"
            self.bar.update(self.task, completed=self.done + stats.calls_made + stats.calls_failed, rate=rate)

        return update

    def __exit__(self, *exc) -> None:
        if self.show:
            self.bar.stop()


def collect(jobs: list[Job], journal: Journal, cfg: QueryGenConfig, template: str):
    """Parse every journaled reply of these jobs; returns questions, drop counts, dropped rows."""
    limits = Limits(min_words=cfg.min_words, max_words=cfg.max_words)
    instructions = render(template, "", cfg.questions_per_chunk, [])
    drops: Counter = Counter()
    dropped_rows: list[dict] = []
    items: list[tuple[str, str]] = []
    for job in jobs:
        rec = journal.done.get(job.key)
        if rec is None:
            continue
        parsed = parse_reply(rec["reply"], job.chunk.text, cfg.questions_per_chunk, limits,
                             truncated=rec.get("finish_reason") == "length", instructions=instructions)
        items += [(job.chunk.id, q) for q in parsed.kept]
        drops.update(parsed.drop_counts())
        dropped_rows += [{"reason": r, "chunk_id": job.chunk.id, "text": t} for r, t in parsed.dropped]
    kept, across = dedup_across(items)
    drops["duplicate_across_set"] = len(across)
    dropped_rows += [{"reason": r, "chunk_id": c, "text": t} for r, c, t in across]
    return kept, drops, dropped_rows


SELF_CHECK_PROMPT = ('Passage:\n"""\n{passage}\n"""\n\nQuestion: {question}\n\n'
                     "Does the passage answer this question? Reply with one word: yes or no.")


def self_check(llm: LLM, questions: list[tuple[str, str]], chunks: list[Chunk], journal: Journal,
               cfg: QueryGenConfig, stats: RunStats, show_progress: bool):
    """Answerability check by the same LLM: keep a question only when the reply starts with 'yes'.

    Its calls are journaled like generation calls (keyed by chunk, question and model), so they resume too.
    """
    by_id = {c.id: c for c in chunks}
    phash = "check-" + prompt_hash(SELF_CHECK_PROMPT, 1, [])
    jobs = []
    for cid, q in questions:
        messages = user_message(SELF_CHECK_PROMPT.replace("{question}", q).replace("{passage}", by_id[cid].text.strip()))
        jobs.append(Job(call_key(by_id[cid].text + "\x1f" + q, phash, llm.model, 0), by_id[cid], 0, messages))
    check_cfg = cfg.model_copy(update={"max_tokens": 4, "temperature": 0.0})
    more = run_jobs(llm, jobs, journal, check_cfg, show_progress)
    for name in ("calls_total", "calls_resumed", "calls_made", "calls_failed", "tokens_in", "tokens_out", "seconds"):
        setattr(stats, name, getattr(stats, name) + getattr(more, name))
    stats.errors += more.errors
    kept, rows = [], []
    for (cid, q), job in zip(questions, jobs):
        rec = journal.done.get(job.key)
        if rec is not None and rec["reply"].strip().lower().startswith("yes"):
            kept.append((cid, q))
        else:
            rows.append({"reason": "self_check", "chunk_id": cid, "text": q,
                         "reply": rec["reply"][:40] if rec else "(call failed)"})
    return kept, rows


def self_check_warning(rejected: int, checked: int, model: str) -> str | None:
    """A loud note when the self-check rejects (nearly) everything: the judge, not the data, is the likely problem."""
    if checked and rejected >= 0.9 * checked:
        return (f"the self-check rejected {rejected} of {checked} questions: {model} may be too small to judge "
                "answerability (SmolLM2-135M answers 'no' to nearly everything); rerun without --self-check or with "
                "a stronger --llm")
    return None


def round_trip_filter(questions: list[tuple[str, str]], chunks: list[Chunk], embedder: Encoder, cfg: QueryGenConfig):
    """Keep a question only if its own chunk ranks in the top K of all chunks under the reference embedder."""
    index = {c.id: i for i, c in enumerate(chunks)}
    q, d = encode_pair(embedder, [t for _, t in questions], [c.text for c in chunks])
    ranks = positive_ranks(q, d, [[index[cid]] for cid, _ in questions])
    kept = [qt for qt, r in zip(questions, ranks) if r <= cfg.filter_top_k]
    rows = [{"reason": "round_trip", "chunk_id": cid, "text": t, "rank": int(r)}
            for (cid, t), r in zip(questions, ranks) if r > cfg.filter_top_k]
    return kept, rows


def query_id(chunk_id: str, text: str) -> str:
    return "q-" + hashlib.sha256(f"{chunk_id}\x1f{text}".encode()).hexdigest()[:12]


def build_dataset(chunks: list[Chunk], questions: list[tuple[str, str]], name: str, cfg: QueryGenConfig,
                  model: str) -> RetrievalDataset:
    """Corpus = every chunk (those without questions are distractors); one relevant chunk per question."""
    if not questions:
        raise NoUsableDataError("no question survived cleaning and filtering; see dropped.jsonl and summary.json "
                                "in the output folder (try another --llm, --prompt-file, or --no-filter).")
    qs = {query_id(cid, t): (cid, t) for cid, t in questions}
    return RetrievalDataset(
        queries={qid: t for qid, (_, t) in qs.items()}, corpus={c.id: c.text for c in chunks},
        relevant_docs={qid: [cid] for qid, (cid, _) in qs.items()}, doc_source={c.id: c.source for c in chunks},
        name=name, meta={"generator": {"model": model, **public_config(cfg)}},
    )


def public_config(cfg: QueryGenConfig) -> dict[str, Any]:
    """The config as saved: names of secrets' variables only, never their values."""
    return cfg.model_dump()


def make_summary(chunks, parts: dict[str, Part], journal: Journal, cfg: QueryGenConfig, wall: float, read_note: str) -> dict[str, Any]:
    """The run's summary: totals over both sides, the validation side's own figures under "validation"."""
    summary = _side_summary(chunks, list(parts.values()), journal, cfg, wall, read_note)
    if "val" in parts:
        val = parts["val"]
        summary["validation"] = {"style": cfg.val_style, "llm": val.model, "chunks": len({j.chunk.id for j in val.jobs}),
                                 "questions_kept": len(val.questions), "dropped": dict(sorted(val.drops.items())),
                                 "max_overlap": cfg.val_max_overlap}
    return summary


def _side_summary(chunks, parts: list[Part], journal: Journal, cfg: QueryGenConfig, wall: float, read_note: str) -> dict[str, Any]:
    questions = [q for p in parts for q in p.questions]
    drops: Counter = Counter()
    for p in parts:
        for reason, n in p.drops.items():
            drops[reason] += n  # update, not +: a reason counted 0 times is still reported
    stats = RunStats(**{k: sum(getattr(p.stats, k) for p in parts) for k in
                        ("calls_total", "calls_resumed", "calls_made", "calls_failed", "tokens_in", "tokens_out", "seconds")},
                     errors=[e for p in parts for e in p.stats.errors][:5])
    recs = [journal.done[j.key] for p in parts for j in p.jobs if j.key in journal.done]
    tok_in = sum(r.get("prompt_tokens", 0) for r in recs)
    tok_out = sum(r.get("completion_tokens", 0) for r in recs)
    summary = {
        "input": read_note, "chunks": len(chunks), "chunks_with_questions": len({c for c, _ in questions}),
        "calls": {"total": stats.calls_total, "resumed_from_journal": stats.calls_resumed, "made": stats.calls_made,
                  "given_up": stats.calls_failed},
        "errors": stats.errors, "questions_kept": len(questions),
        "candidates": len(questions) + sum(v for k, v in drops.items() if k not in ("empty_reply",)),
        "dropped": dict(sorted(drops.items())),
        "tokens": {"in": tok_in, "out": tok_out, "in_this_run": stats.tokens_in, "out_this_run": stats.tokens_out},
        "tokens_per_s_this_run": round(stats.tokens_out / stats.seconds, 2) if stats.seconds else None,
        "generation_seconds_this_run": round(stats.seconds, 2), "wall_seconds": round(wall, 2),
    }
    if cfg.price_per_1k is not None:
        summary["cost"] = round((tok_in + tok_out) / 1000 * cfg.price_per_1k, 6)
    return summary


def write_outputs(ds: RetrievalDataset, summary: dict, cfg: QueryGenConfig, out: Path) -> GenerationResult:
    """Each file atomically; train/val split by source document (all in train when there is one source)."""
    sources = {ds.source_of(d) for d in ds.corpus}
    if len(sources) >= 2:
        train, val = split_by_source(ds, cfg.val_fraction, cfg.seed)
        save_split_record(train, val, out)
    else:
        train, val = ds, None
        summary.setdefault("warnings", []).append("one source document only: no validation split was made (train.json = all.json)")
        write_llamaindex(train, out / "train.json")
    summary["train_queries"], summary["val_queries"] = len(train.queries), len(val.queries) if val else 0
    ds.meta["summary"] = summary
    write_llamaindex(ds, out / "all.json")
    atomic_write_json(out / "config.json", public_config(cfg))
    atomic_write_json(out / "summary.json", summary)
    return GenerationResult(ds, train, val, summary, out)


def summary_lines(summary: dict[str, Any]) -> list[str]:
    """Human-readable lines of a run summary (the CLI prints these)."""
    calls = summary["calls"]
    lines = [
        f"chunks: {summary['chunks']} ({summary['chunks_with_questions']} got at least one question)",
        f"calls: {calls['made']} made, {calls['resumed_from_journal']} resumed from the journal, "
        f"{calls['given_up']} given up",
        f"questions kept: {summary['questions_kept']} of {summary['candidates']} candidates "
        f"(train {summary['train_queries']}, val {summary['val_queries']})",
    ]
    dropped = {k: v for k, v in summary["dropped"].items() if v}
    lines.append("dropped: " + (", ".join(f"{k} {v}" for k, v in dropped.items()) or "none"))
    tok = summary["tokens"]
    rate = summary["tokens_per_s_this_run"]
    lines.append(f"tokens: {tok['in']} in, {tok['out']} out" + (f"; {rate} tokens/s this run" if rate else ""))
    lines.append(f"wall time: {summary['wall_seconds']} s")
    if "cost" in summary:
        lines.append(f"cost: {summary['cost']}")
    lines += [f"error: {e}" for e in summary["errors"]]
    lines += [f"warning: {w}" for w in summary.get("warnings", [])]
    return lines
