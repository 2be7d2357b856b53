"""`distill`: documents -> questions -> RAG answers from a teacher (recorded) -> validated chats -> SFT student.

1. Questions over the documents' chunks come from `ragtune.generate.generate_queries` (resumable,
   filtered, split by source document) written under RUN/data/questions/.
2. Each question retrieves its top-k chunks with an embedding model (a real RAG retrieval, not the
   chunk the question was written from), and the teacher answers from that context. Every teacher
   call goes through `ragtune.llm.Recorder` into RUN/data/teacher.jsonl (OpenAI chat JSONL, secrets
   scrubbed); a rerun only asks the questions that have no recorded answer yet.
3. The recorded chats are validated with the student's tokenizer (rows with errors are dropped and
   counted), split like the questions, and the student is fine-tuned with `train_sft` into RUN/.

Everything runs offline with local models (`--teacher local:qwen2.5-coder-0.5b-instruct`).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from ragtune.data.chat import ChatExample, write_chat
from ragtune.embedders import load_embedder
from ragtune.errors import NoUsableDataError
from ragtune.evaluation.protocols import Encoder
from ragtune.evaluation.search import top_k
from ragtune.generate.queries import generate_queries
from ragtune.io import atomic_write_json, hold_folder, read_jsonl_tolerant
from ragtune.llm import Recorder, complete_many, load_llm
from ragtune.records import RunMetrics
from ragtune.sft.config import DistillConfig, SFTConfig
from ragtune.sft.tokenize import chat_tokenizer, check_tokens
from ragtune.sft.train import train_sft

__all__ = ["distill", "rag_prompt", "retrieve", "recorded", "ask_teacher", "build_chats", "load_summary"]


def rag_prompt(question: str, contexts: list[str], system: str) -> list[dict[str, str]]:
    """The chat the teacher answers and the student learns: retrieved passages, then the question."""
    passages = "\n\n".join(f"[{i}] {text}" for i, text in enumerate(contexts, start=1))
    user = f"Answer the question using the context.\n\nContext:\n{passages}\n\nQuestion: {question}"
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def retrieve(questions: list[str], corpus: dict[str, str], embedder: Encoder, k: int) -> list[list[str]]:
    """The texts of the top-k chunks for each question, best first."""
    ids = list(corpus)
    found = top_k(embedder, questions, [corpus[i] for i in ids], k)
    return [[corpus[ids[j]] for j in row] for row in found.indices]


def recorded(path: Path) -> dict[str, str]:
    """user prompt -> answer, for every teacher call already recorded (torn last lines skipped)."""
    out = {}
    for row in read_jsonl_tolerant(path):
        msgs = row.get("messages") or []
        if len(msgs) >= 2 and msgs[-1].get("role") == "assistant":
            out[msgs[-2]["content"]] = msgs[-1]["content"]
    return out


def ask_teacher(teacher, prompts: list[list[dict[str, str]]], path: Path, config: DistillConfig) -> dict[str, Any]:
    """Answer every prompt not yet recorded; the Recorder appends each answer as it arrives."""
    done = recorded(path)
    todo = [p for p in prompts if p[-1]["content"] not in done]
    outcomes = []
    if todo:
        recorder = Recorder(teacher, path)
        outcomes = asyncio.run(complete_many(recorder, todo, concurrency=config.concurrency,
                                             max_tokens=config.max_tokens, temperature=0.0))
    failed = [str(o.error) for o in outcomes if o.completion is None]
    return {"prompts": len(prompts), "resumed": len(prompts) - len(todo), "asked": len(todo),
            "failed": len(failed), "errors": failed[:5]}


def build_chats(prompts: list[list[dict[str, str]]], answers: dict[str, str], tokenizer, max_length: int) -> tuple[list[ChatExample], int]:
    """Recorded answers as chats; rows the student cannot train on (validation errors) are dropped."""
    chats = [ChatExample(p + [{"role": "assistant", "content": answers[p[-1]["content"]]}], location=f"prompt {i + 1}")
             for i, p in enumerate(prompts) if answers.get(p[-1]["content"], "").strip()]
    problems, _, _ = check_tokens(chats, tokenizer, max_length)
    bad = {p.location for p in problems if p.severity == "error"}
    return [c for c in chats if c.location not in bad], len(bad)


def distill(config: DistillConfig, teacher=None, question_llm=None, embedder=None) -> RunMetrics:
    """Run the whole pipeline; returns the student's SFT run metrics with a `distill` summary (also RUN/distill.json).

    `teacher`, `question_llm` and `embedder` override the specs in `config` with ready objects. Every model is
    resolved before the first teacher call, and one process at a time works in the run folder (RUN/.lock).
    """
    run = Path(config.output)
    with hold_folder(run):
        return _distill(config, run, teacher, question_llm, embedder)


def _distill(config: DistillConfig, run: Path, teacher, question_llm, embedder) -> RunMetrics:
    teacher = teacher or load_llm(config.teacher, base_url=config.base_url, api_key_env=config.api_key_env,
                                  concurrency=config.concurrency, batch_size=config.concurrency, device=config.device)
    embedder = embedder or load_embedder(config.retriever, device=config.device)
    tok = chat_tokenizer(config.student)  # the student resolves before any teacher call
    gen = generate_queries([Path(d) for d in config.docs], run / "data" / "questions", llm=question_llm or teacher,
                           embedder=embedder, filter=config.filter, questions_per_chunk=config.questions_per_chunk,
                           concurrency=config.concurrency, seed=config.seed, text_field=config.text_field,
                           val_style="same", device=config.device)  # the split holds out chats for the student's validation loss
    splits = {"train": gen.train, "val": gen.val}
    summary: dict[str, Any] = {"questions": gen.summary.get("questions_kept")}
    paths = {}
    for name, ds in splits.items():
        if ds is None or not ds.queries:
            continue
        questions = list(ds.queries.values())
        prompts = [rag_prompt(q, ctx, config.system) for q, ctx in
                   zip(questions, retrieve(questions, gen.dataset.corpus, embedder, config.top_k))]
        summary[f"teacher_{name}"] = ask_teacher(teacher, prompts, run / "data" / "teacher.jsonl", config)
        chats, dropped = build_chats(prompts, recorded(run / "data" / "teacher.jsonl"), tok, config.max_length)
        summary[f"{name}_chats"], summary[f"{name}_dropped"] = len(chats), dropped
        if chats:
            paths[name] = write_chat(chats, run / "data" / f"distilled_{name}.jsonl")
    if "train" not in paths:
        raise NoUsableDataError(f"the teacher produced no usable training chats; see {run / 'data' / 'teacher.jsonl'}.")
    atomic_write_json(run / "distill.json", {"config": config.model_dump(), "summary": summary})
    sft = SFTConfig(dataset=str(paths["train"]), val_dataset=str(paths["val"]) if "val" in paths else None,
                    val_fraction=0.0 if "val" in paths else 0.1, model=config.student, output=str(run),
                    epochs=config.epochs, learning_rate=config.learning_rate, lora_r=config.lora_r,
                    batch_size=config.batch_size, max_length=config.max_length, seed=config.seed,
                    allow_regression=config.allow_regression, device=config.device)
    metrics = train_sft(sft)
    return metrics.model_copy(update={"distill": summary})


def load_summary(run: str | Path) -> dict[str, Any]:
    return json.loads((Path(run) / "distill.json").read_text(encoding="utf-8"))
