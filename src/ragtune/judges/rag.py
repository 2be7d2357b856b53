"""`ragtune eval rag`: judge whole RAG pipelines (retriever + generator) side by side.

    report = evaluate_rag(faq_qa(), corpus, relevant, [Pipeline("naive", minilm, smollm2),
                                                        Pipeline("tuned", adapted, sft_model)],
                          judge=load_llm("local:qwen2.5-coder-0.5b-instruct"), output="rag-eval/")

For every pipeline and question: retrieve the top k (`ragtune.evaluation.rag.retrieve`), answer from
the passages, then score: `hit@k` (a relevant document retrieved), `correctness` (the judge's 1-5 score
against the reference, the same prompt as `generate judge-data`, so a distilled judge applies),
`correct` (share scored 4 or 5), `faithfulness` (the judge's 1-5 score of how far the retrieved context
supports the answer) and `rouge_l` against the reference. Both judge scores are the expected score E[s]
over the first reply token's probabilities where the judge's provider gives them (the stated score otherwise,
or with `score_logprobs=0`; `ragtune.judges.judge`): a small judge's greedy digit is the same for nearly every answer. Every LLM call is journaled under
OUT/journal/ (a rerun resumes); the answers go to OUT/answers/LABEL.jsonl (`{"id", "answer", "doc_ids"}`,
usable as `generate judge-data --answers`), the report to OUT/report.json. An unparsed or failed
judgment is left out of that metric's mean and counted (`n_METRIC`, `unparsed` in OUT/summary.json).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ragtune.evaluation.protocols import Encoder
from ragtune.evaluation.rag import rag_messages, rag_report, retrieve, rouge_l
from ragtune.io import atomic_write_json, atomic_write_jsonl
from ragtune.judges.items import CorrectnessItem, QARow
from ragtune.judges.judge import SCORE_LOGPROBS, complete_journaled, judge_items, score_journaled
from ragtune.judges.prompts import faithfulness_messages
from ragtune.llm import LLM
from ragtune.records import EvalReport, write_report


@dataclass
class Pipeline:
    """One RAG pipeline: a label, a retriever (any `Encoder`) and a generator (any LLM)."""

    label: str
    retriever: Encoder
    generator: LLM


def _safe(label: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in label) or "pipeline"


def evaluate_rag(qa: Sequence[QARow], corpus: Mapping[str, str], relevant: Mapping[str, Sequence[str]] | None,
                 pipelines: Sequence[Pipeline], judge: LLM | None, output: str | Path, *, k: int = 3,
                 concurrency: int = 8, answer_max_tokens: int = 160, judge_max_tokens: int = 128,
                 faithfulness: bool = True, n_resamples: int = 1000, seed: int = 0, dataset: str = "qa",
                 on_progress: Callable[[str, int, int], None] | None = None,
                 score_logprobs: int | None = SCORE_LOGPROBS) -> tuple[EvalReport, dict]:
    """Answer and score every question with every pipeline; returns the report and a summary (see the module docstring).
    `score_logprobs` first-token log-probabilities are asked with each judge call; 0 or None asks for none (the
    judgments are then the stated scores: for servers that refuse logprobs)."""
    out = Path(output)
    (out / "journal").mkdir(parents=True, exist_ok=True)
    labels = [p.label for p in pipelines]
    if len(set(labels)) != len(labels):
        from ragtune.errors import InputError

        raise InputError(f"pipeline labels must differ; got {labels} (label them with --retriever LABEL=SPEC).")
    questions = [r.question for r in qa]
    ids = [r.id for r in qa]
    rel = [list(relevant.get(r.id, [])) if relevant else None for r in qa]
    values: dict[str, dict[str, list]] = {}
    summary: dict = {"questions": len(qa), "k": k, "pipelines": {}}
    seconds: dict[str, float] = {}
    for p in pipelines:
        got = retrieve(p.retriever, questions, corpus, k, rel)
        prompts = {qid: rag_messages(q, texts) for qid, q, texts in zip(ids, questions, got.texts)}
        progress = (lambda d, t, lab=p.label: on_progress(f"answers {lab}", d, t)) if on_progress else None
        replies, stats = complete_journaled(p.generator, prompts, out / "journal" / f"answers-{_safe(p.label)}.jsonl",
                                            concurrency=concurrency, max_tokens=answer_max_tokens, kind="rag-answer",
                                            on_progress=progress)
        seconds[p.label] = stats.seconds
        answers = {qid: (replies[qid] or "").strip() if replies[qid] is not None else None for qid in ids}
        atomic_write_jsonl(out / "answers" / f"{_safe(p.label)}.jsonl",
                           [{"id": qid, "answer": answers[qid], "doc_ids": d} for qid, d in zip(ids, got.doc_ids)
                            if answers[qid] is not None])
        v: dict[str, list] = {}
        if any(h is not None for h in got.hits):
            v[f"hit@{k}"] = got.hits
        v["rouge_l"] = [None if answers[r.id] is None else rouge_l(answers[r.id], r.reference) for r in qa]
        info = {"retriever": getattr(p.retriever, "name", str(p.retriever)), "generator": p.generator.model,
                "answers": sum(a is not None for a in answers.values()), "failed_answers": stats.calls_failed}
        if judge is not None:
            items = [CorrectnessItem(id=f"{r.id}|rag:{p.label}", question_id=r.id, category=r.category, question=r.question,
                                     reference=r.reference, answer=answers[r.id], source=p.label)
                     for r in qa if answers[r.id] is not None]
            progress = (lambda d, t, lab=p.label: on_progress(f"correctness {lab}", d, t)) if on_progress else None
            run = judge_items(judge, items, out / "journal" / "correctness.jsonl", concurrency=concurrency,
                              max_tokens=judge_max_tokens, on_progress=progress,
                              score_logprobs=score_logprobs or None)
            scores = {i.question_id: run.correctness[i.id] for i in items}  # E[s] where the judge gave log-probabilities
            v["correctness"] = [None if qid not in scores else scores[qid].value for qid in ids]
            v["correct"] = [None if qid not in scores or scores[qid].discrete is None else float(scores[qid].discrete >= 4)
                            for qid in ids]
            info["unparsed_correctness"] = run.unparsed["correctness"]
            info["failed_correctness"] = run.stats.calls_failed
            if faithfulness:
                fprompts = {qid: faithfulness_messages(q, texts, answers[qid])
                            for qid, q, texts in zip(ids, questions, got.texts) if answers[qid] is not None}
                progress = (lambda d, t, lab=p.label: on_progress(f"faithfulness {lab}", d, t)) if on_progress else None
                fscores, freplies, fstats = score_journaled(judge, fprompts, out / "journal" / "faithfulness.jsonl",
                                                            concurrency=concurrency, max_tokens=judge_max_tokens,
                                                            kind="faithfulness", on_progress=progress,
                                                            score_logprobs=score_logprobs or None)  # E[s], as correctness
                v["faithfulness"] = [fscores.get(qid) for qid in ids]
                info["unparsed_faithfulness"] = sum(freplies[q] is not None and fscores[q] is None for q in freplies)
                info["failed_faithfulness"] = fstats.calls_failed
        values[p.label] = {m: [None if x is None else float(x) for x in xs] for m, xs in v.items()}
        summary["pipelines"][p.label] = info
    headline = "correctness" if judge is not None else "rouge_l"
    report = rag_report(dataset, ids, values, names={p.label: f"{summary['pipelines'][p.label]['retriever']} + "
                                                              f"{p.generator.model}" for p in pipelines},
                        k=k, num_docs=len(corpus), headline=headline, n_resamples=n_resamples, seed=seed, seconds=seconds)
    summary["judge"] = judge.model if judge is not None else None
    write_report(out / "report.json", report)
    atomic_write_json(out / "summary.json", summary)
    return report, summary
