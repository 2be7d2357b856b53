"""`ragtune generate judge-data`: items with controls, the teacher's judgments, and SFT chats for the student.

    summary = generate_judge_data(JudgeDataConfig(qa="construction-faq", output="judge-data/", answers=["v1=v1.jsonl"],
                                                  answer_with=["smollm2-135m-instruct"], teacher="openai:gpt-4o"))
    summary = generate_judge_data(qa=faq_qa(), output="judge-data/", sources={"v1": read_answers("v1.jsonl")},
                                  teacher=load_llm("openai:gpt-4o", base_url=...))    # ready rows, answers, LLMs

The QA set is split by question first (`test_fraction`), and the items of each side are built from
that side's questions only, so no question, and no donor of a wrong control, is on both sides.
The folder then holds:

```
OUT/
  items.jsonl            every item (train and test), `ragtune.judges.read_items`
  split.json             {"train": [question ids], "test": [question ids], "seed": ...}
  answers/LABEL.jsonl    answers written by --answer-with models ({"id", "answer"}; usable as --answers)
  journal/*.jsonl        every LLM call's raw reply (answers, teacher), keyed by prompt hash: resume
  teacher.jsonl          the teacher's judgments (`ragtune.judges.read_judgments`)
  train.jsonl            SFT chats from the training questions (teacher labels, or control truth)
  test.jsonl             the same for the test questions (held-out loss; never train on it)
  summary.json           counts, the teacher's control accuracy, unparsed replies, call statistics
```

Every call is journaled before it counts (`ragtune.judges.judge`), so a killed run resumes and
repeats no finished call; no API key is written (replies are scrubbed, prompts stored as hashes).
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ragtune.errors import InputError
from ragtune.io import atomic_write_json, atomic_write_jsonl, check_output
from ragtune.judges.config import JudgeDataConfig
from ragtune.judges.items import (
    CorrectnessItem,
    PairwiseItem,
    QARow,
    check_sources,
    correctness_items,
    faq_qa,
    pairwise_items,
    qa_rows,
    read_answers,
    split_question_ids,
    write_items,
)
from ragtune.judges.judge import JudgeRun, complete_journaled, judge_items, write_judgments
from ragtune.judges.metrics import control_accuracy, swap_consistency
from ragtune.judges.prompts import SWAPPED_SUFFIX, item_messages, render_correctness_reply, render_pairwise_reply, swap_selection
from ragtune.judges.training import correctness_records, pairwise_records
from ragtune.llm import LLM, Messages, check_llm, load_llm
from ragtune.runs.inputs import job_config

ANSWER_PROMPT = "Answer the question in two or three sentences.\n\nQuestion: {question}"
TRUTH_REASONS = {"reference": "It says what the reference says.",
                 "same_category": "It answers a different question.",
                 "other_category": "It answers a different question.",
                 "truncated": "It is correct as far as it goes, but part of the reference is missing."}


def load_qa(spec: str | Path) -> list[QARow]:
    """`construction-faq` (the bundled FAQ), or a JSONL / JSON list file of `{id, question, reference, category?}` rows."""
    text = str(spec)
    if text == "construction-faq":
        return faq_qa()
    path = Path(text)
    if not path.is_file():
        raise InputError(f"QA set {text!r}: not found; give construction-faq or a JSONL file of "
                         "{\"id\", \"question\", \"reference\", \"category\"} rows.")
    try:
        raw = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise InputError(f"QA set {path}: not UTF-8 text ({e.reason} at byte {e.start}); save it as UTF-8.") from None
    rows: list = []
    if path.suffix == ".json":
        try:
            rows = json.loads(raw)
        except json.JSONDecodeError as e:
            raise InputError(f"QA set {path}: not valid JSON (line {e.lineno}: {e.msg}).") from None
        if not isinstance(rows, list):
            raise InputError(f"QA set {path}: expected a JSON list of rows, got {type(rows).__name__}.")
    else:
        for n, line in enumerate(raw.splitlines(), 1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise InputError(f"QA set {path}, line {n}: not valid JSON ({e.msg}).") from None
    return qa_rows(rows, f"QA set {path}")


def subsample(qa: Sequence[QARow], limit: int | None, seed: int = 0) -> list[QARow]:
    """A seeded sample of `limit` questions, kept in QA-set order; all when None.

    The ids are sorted, shuffled by the seed, and the first `limit` taken, so a larger limit keeps every
    question of a smaller one (a sized-up run reuses the journaled calls of a trial slice).
    """
    if limit is None or limit >= len(qa):
        return list(qa)
    ids = sorted(r.id for r in qa)
    random.Random(seed).shuffle(ids)
    keep = set(ids[:limit])
    return [r for r in qa if r.id in keep]


def answer_messages(question: str) -> Messages:
    """The closed-book prompt an `--answer-with` model answers."""
    return [{"role": "user", "content": ANSWER_PROMPT.format(question=question.strip())}]


def source_label(spec: str) -> tuple[str, str]:
    """`LABEL=VALUE` -> (LABEL, VALUE); a bare VALUE gets its file stem (or last path part) as label."""
    if "=" in spec and not spec.startswith(("openai:", "local:")):
        label, _, value = spec.partition("=")
        if label and value:
            return label, value
    value = spec
    name = Path(value.split(":", 1)[-1]).name
    return (Path(name).stem if name.endswith((".jsonl", ".json")) else name) or value, value


def truth_records(items: Sequence[CorrectnessItem | PairwiseItem], *, swap_ratio: float = 0.5, seed: int = 0) -> list[dict]:
    """SFT records from the control labels alone (known by construction; no teacher needed)."""
    out = []
    pairs = [i for i in items if i.kind == "pairwise" and i.truth is not None]
    swapped = swap_selection([i.id for i in pairs], swap_ratio, seed)
    for item in items:
        if item.truth is None:
            continue
        meta = {"question_id": item.question_id, "kind": item.kind, "control": item.control, "label": "truth"}
        if item.kind == "correctness":
            reply = render_correctness_reply(int(round(item.truth)), TRUTH_REASONS.get(item.control or "", ""))
            out.append({"id": item.id, "messages": [*item_messages(item), {"role": "assistant", "content": reply}],
                        "metadata": {**meta, "score": int(round(item.truth))}})
            continue
        for order in ([0, 1] if item.id in swapped else [0]):
            verdict = item.truth if order == 0 else {"A": "B", "B": "A"}[item.truth]
            reply = render_pairwise_reply(verdict, f"Answer {verdict} matches the reference.")
            out.append({"id": item.id + (SWAPPED_SUFFIX if order else ""),
                        "messages": [*item_messages(item, order), {"role": "assistant", "content": reply}],
                        "metadata": {**meta, "order": order, "verdict": verdict}})
    return out


def teacher_records(items: Sequence[CorrectnessItem | PairwiseItem], teacher: JudgeRun, *, swap_ratio: float = 0.5,
                    seed: int = 0) -> list[dict]:
    """SFT records from the teacher's judgments: correctness, then pairwise with order-swapped copies."""
    return correctness_records(items, teacher) + pairwise_records(items, teacher, swap_ratio=swap_ratio, seed=seed)


def build_items(qa: Sequence[QARow], sources: Mapping[str, Mapping[str, str]], *, seed: int = 0,
                pairwise: bool = True) -> list[CorrectnessItem | PairwiseItem]:
    """Correctness items (+ controls) and, with `pairwise`, pairwise items (+ controls) of these questions."""
    ids = {r.id for r in qa}
    mine = {label: {q: a for q, a in answers.items() if q in ids} for label, answers in sources.items()}
    items: list[CorrectnessItem | PairwiseItem] = list(correctness_items(qa, mine, seed=seed))
    if pairwise:
        items += pairwise_items(qa, mine, seed=seed)
    return items


def chat_llm(spec: str, *, base_url: str | None = None, api_key_env: str = "OPENAI_API_KEY", concurrency: int = 8,
             timeout: float = 60.0) -> LLM:
    """An LLM from a spec; a bare name is a local model (registry name, folder or run folder)."""
    if spec != "local" and not spec.startswith(("local:", "openai:")):
        spec = "local:" + spec
    return load_llm(spec, base_url=base_url, api_key_env=api_key_env, concurrency=concurrency, timeout=timeout)


def generate_judge_data(config: JudgeDataConfig | None = None, /, *, sources: Mapping[str, Mapping[str, str]] | None = None,
                        answer_llms: Mapping[str, LLM] | None = None,
                        on_progress: Callable[[str, int, int], None] | None = None, **fields: Any) -> dict:
    """Build the judge data folder (see the module docstring); returns the summary (also in OUT/summary.json).

    One config (`JudgeDataConfig`); keyword fields update it. `qa` may be the rows themselves (`qa_rows`, `faq_qa`)
    and `teacher` a ready LLM: used as is (recorded by their size / model name). Answer sources are the config's
    `answers` files (LABEL=FILE) plus `sources` (already read: {label: {question id: answer}}); `answer_with`
    specs and `answer_llms` (ready LLMs) write more answers (closed book). Without a teacher, only the items and
    (`labels="truth"`) the control-label chats are written. Checks come first, in the CLI's order: settings,
    the output folder, the QA set and answer files, then every model (`check_llm`) before its first call.
    """
    cfg, objects = job_config(JudgeDataConfig, config, fields, what="judge-data")
    rows_given = objects.get("qa")
    teacher_given = objects.get("teacher", cfg.teacher)
    out = check_output(cfg.output, "folder")
    every = rows_given if rows_given is not None else load_qa(cfg.qa)
    sources = dict(sources or {})
    for spec in cfg.answers:
        label, path = source_label(spec)
        if label in sources:
            raise InputError(f"--answers: the label {label!r} is given twice; use LABEL=FILE to tell them apart.")
        sources[label] = read_answers(path)
    check_sources(every, sources)
    qa = subsample(every, cfg.limit, cfg.seed)
    kept = {r.id for r in qa}
    sources = {label: {q: a for q, a in ans.items() if q in kept} for label, ans in sources.items()}
    llm_kw = dict(base_url=cfg.base_url, api_key_env=cfg.api_key_env, concurrency=cfg.concurrency, timeout=cfg.timeout)
    answer_llms = dict(answer_llms or {})
    for spec in cfg.answer_with:
        label, target = source_label(spec)
        answer_llms[label] = chat_llm(target, **llm_kw)
    for label in answer_llms:
        if label in sources:
            raise InputError(f"answer source {label!r} is given twice; label them apart with LABEL=SPEC.")
    teacher = (teacher_given if teacher_given is not None and not isinstance(teacher_given, str)
               else chat_llm(cfg.teacher, **llm_kw) if cfg.teacher else None)
    for llm in [*answer_llms.values(), *([teacher] if teacher is not None else [])]:
        check_llm(llm)
    test_fraction, seed, labels, swap_ratio, pairwise = cfg.test_fraction, cfg.seed, cfg.labels, cfg.swap_ratio, cfg.pairwise
    concurrency, max_tokens, answer_max_tokens = cfg.concurrency, cfg.max_tokens, cfg.answer_max_tokens
    (out / "journal").mkdir(parents=True, exist_ok=True)
    summary: dict = {"questions": len(qa), "sources": {}, "labels": labels}
    for label, llm in answer_llms.items():
        prompts = {r.id: answer_messages(r.question) for r in qa}
        progress = (lambda d, t, lab=label: on_progress(f"answers {lab}", d, t)) if on_progress else None
        replies, stats = complete_journaled(llm, prompts, out / "journal" / f"answers-{_safe(label)}.jsonl",
                                            concurrency=concurrency, max_tokens=answer_max_tokens, kind="answer",
                                            on_progress=progress)
        answers = {qid: text.strip() for qid, text in replies.items() if text is not None}
        atomic_write_jsonl(out / "answers" / f"{_safe(label)}.jsonl", [{"id": q, "answer": a} for q, a in answers.items()])
        sources[label] = answers
        summary["sources"][label] = {"model": llm.model, "answers": len(answers), "failed": stats.calls_failed}
    for label, answers in sources.items():
        summary["sources"].setdefault(label, {"answers": len(answers)})

    if test_fraction > 0 and len(qa) >= 2:
        train_ids, test_ids = split_question_ids([r.id for r in qa], test_fraction, seed)
    else:
        train_ids, test_ids = sorted(r.id for r in qa), []
    test_set = set(test_ids)
    train_qa = [r for r in qa if r.id not in test_set]
    test_qa = [r for r in qa if r.id in test_set]
    train_items = build_items(train_qa, sources, seed=seed, pairwise=pairwise)
    test_items = build_items(test_qa, sources, seed=seed, pairwise=pairwise) if test_qa else []
    items = train_items + test_items
    write_items(out / "items.jsonl", items)
    atomic_write_json(out / "split.json", {"train": train_ids, "test": test_ids, "seed": seed, "test_fraction": test_fraction})
    summary["items"] = {"train": len(train_items), "test": len(test_items),
                        "correctness": sum(i.kind == "correctness" for i in items),
                        "pairwise": sum(i.kind == "pairwise" for i in items),
                        "controls": sum(i.truth is not None for i in items)}

    run = None
    if teacher is not None:
        progress = (lambda d, t: on_progress("teacher", d, t)) if on_progress else None
        run = judge_items(teacher, items, out / "journal" / "teacher.jsonl", concurrency=concurrency,
                          max_tokens=max_tokens, on_progress=progress, score_logprobs=cfg.score_logprobs or None)
        write_judgments(out / "teacher.jsonl", run)
        ctl = control_accuracy(items, run)
        summary["teacher"] = {"model": teacher.model, "control_accuracy": ctl["accuracy"], "control_accuracy_ci95": ctl["ci95"],
                              "swap_consistency": swap_consistency(run, items)["swap_consistency"],
                              "unparsed": run.unparsed, "calls": asdict(run.stats),
                              "items_per_s": (len(items) / run.stats.seconds) if run.stats.calls_made and run.stats.seconds else None}
    for name, side in (("train", train_items), ("test", test_items)):
        records = (truth_records(side, swap_ratio=swap_ratio, seed=seed) if labels == "truth"
                   else teacher_records(side, run, swap_ratio=swap_ratio, seed=seed))
        atomic_write_jsonl(out / f"{name}.jsonl", records)
        summary[f"{name}_chats"] = len(records)
    summary["complete"] = run is None or (run.stats.calls_failed == 0)
    atomic_write_json(out / "summary.json", summary)
    return summary


def _safe(label: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in label) or "source"
