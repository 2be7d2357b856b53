"""Judge distillation core: items with controls, judge prompts, robust parsing, journaled judging, metrics.

    from ragtune.judges import faq_qa, correctness_items, pairwise_items, judge_items, judges_report

    qa = faq_qa()                                               # or qa_rows([...{id, question, reference, category}])
    sources = {"rag_v1": read_answers("v1.jsonl"), "rag_v2": read_answers("v2.jsonl")}
    items = correctness_items(qa, sources) + pairwise_items(qa, sources)    # + seeded controls
    teacher = judge_items(load_llm("openai:gpt-4o"), items, "out/teacher.journal.jsonl")
    student = judge_items(load_llm("local"), items, "out/student.journal.jsonl")
    report = judges_report(items, {"teacher": teacher, "student_base": student})

The commands' entry points: `generate_judge_data` (`ragtune generate judge-data`), `evaluate_judges`
(`ragtune eval judge`), `evaluate_rag` (`ragtune eval rag`).

Judging is resumable (a journal of raw replies keyed by prompt hash, model and settings); pairwise
items are judged in both answer orders, and a flip is "inconclusive".

Submodules load on first use, so importing a config (as the CLI does for `--help`) stays light.
"""

from __future__ import annotations

import importlib

__all__ = [
    # items
    "QARow", "CorrectnessItem", "PairwiseItem", "qa_rows", "faq_qa", "read_answers", "correctness_items", "pairwise_items",
    "CORRECT", "INCOMPLETE", "WRONG", "CONTROL_TRUTH", "CORRECTNESS_CONTROLS", "PAIRWISE_CONTROLS",
    "score_band", "in_band", "truncate_reference", "split_question_ids", "split_items", "write_items", "read_items",
    # prompts
    "correctness_messages", "pairwise_messages", "item_messages", "render_correctness_reply", "render_pairwise_reply",
    "swap_item", "swap_augment", "swap_reason",
    # parsing
    "parse_score", "parse_correctness", "parse_verdict", "parse_pairwise",
    # judging
    "judge_items", "ajudge_items", "JudgeRun", "JudgeStats", "CorrectnessJudgment", "PairwiseJudgment", "OrderJudgment",
    "combine_orders", "call_key", "load_judgments", "write_judgments", "read_judgments",
    # metrics and reports
    "correlations", "exact_agreement", "within_one_agreement", "quadratic_weighted_kappa", "score_agreement",
    "pairwise_agreement", "swap_consistency", "control_accuracy", "per_item", "compare_judges",
    "judge_report", "judges_report",
    # training data
    "correctness_records", "pairwise_records",
    # the commands: generate judge-data, eval judge, eval rag
    "generate_judge_data", "load_qa", "subsample", "truth_records", "evaluate_judges", "judge_eval_report", "read_data",
    "run_judges", "complete_journaled", "Pipeline", "evaluate_rag",
]

_WHERE = {
    "CONTROL_TRUTH": "items",
    "CORRECT": "items",
    "CORRECTNESS_CONTROLS": "items",
    "INCOMPLETE": "items",
    "PAIRWISE_CONTROLS": "items",
    "WRONG": "items",
    "CorrectnessItem": "items",
    "PairwiseItem": "items",
    "QARow": "items",
    "correctness_items": "items",
    "faq_qa": "items",
    "in_band": "items",
    "pairwise_items": "items",
    "qa_rows": "items",
    "read_answers": "items",
    "read_items": "items",
    "score_band": "items",
    "split_items": "items",
    "split_question_ids": "items",
    "truncate_reference": "items",
    "write_items": "items",
    "CorrectnessJudgment": "judge",
    "JudgeRun": "judge",
    "JudgeStats": "judge",
    "OrderJudgment": "judge",
    "PairwiseJudgment": "judge",
    "ajudge_items": "judge",
    "call_key": "judge",
    "combine_orders": "judge",
    "judge_items": "judge",
    "load_judgments": "judge",
    "read_judgments": "judge",
    "write_judgments": "judge",
    "compare_judges": "metrics",
    "control_accuracy": "metrics",
    "correlations": "metrics",
    "exact_agreement": "metrics",
    "pairwise_agreement": "metrics",
    "per_item": "metrics",
    "quadratic_weighted_kappa": "metrics",
    "score_agreement": "metrics",
    "swap_consistency": "metrics",
    "within_one_agreement": "metrics",
    "parse_correctness": "parse",
    "parse_pairwise": "parse",
    "parse_score": "parse",
    "parse_verdict": "parse",
    "correctness_messages": "prompts",
    "item_messages": "prompts",
    "pairwise_messages": "prompts",
    "render_correctness_reply": "prompts",
    "render_pairwise_reply": "prompts",
    "swap_augment": "prompts",
    "swap_item": "prompts",
    "swap_reason": "prompts",
    "judge_report": "report",
    "judges_report": "report",
    "correctness_records": "training",
    "pairwise_records": "training",
    "generate_judge_data": "data",
    "load_qa": "data",
    "subsample": "data",
    "truth_records": "data",
    "evaluate_judges": "evaluate",
    "judge_eval_report": "evaluate",
    "read_data": "evaluate",
    "run_judges": "evaluate",
    "complete_journaled": "judge",
    "Pipeline": "rag",
    "evaluate_rag": "rag",
}


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(importlib.import_module(f"ragtune.judges.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'ragtune.judges' has no attribute {name!r}")
