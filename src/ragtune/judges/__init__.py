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
"""

from ragtune.judges.items import (
    CONTROL_TRUTH,
    CORRECT,
    CORRECTNESS_CONTROLS,
    INCOMPLETE,
    PAIRWISE_CONTROLS,
    WRONG,
    CorrectnessItem,
    PairwiseItem,
    QARow,
    correctness_items,
    faq_qa,
    in_band,
    pairwise_items,
    qa_rows,
    read_answers,
    read_items,
    score_band,
    split_items,
    split_question_ids,
    truncate_reference,
    write_items,
)
from ragtune.judges.judge import (
    CorrectnessJudgment,
    JudgeRun,
    JudgeStats,
    OrderJudgment,
    PairwiseJudgment,
    ajudge_items,
    call_key,
    combine_orders,
    judge_items,
    load_judgments,
    read_judgments,
    write_judgments,
)
from ragtune.judges.metrics import (
    compare_judges,
    control_accuracy,
    correlations,
    exact_agreement,
    pairwise_agreement,
    per_item,
    quadratic_weighted_kappa,
    score_agreement,
    swap_consistency,
    within_one_agreement,
)
from ragtune.judges.parse import parse_correctness, parse_pairwise, parse_score, parse_verdict
from ragtune.judges.prompts import (
    correctness_messages,
    item_messages,
    pairwise_messages,
    render_correctness_reply,
    render_pairwise_reply,
    swap_augment,
    swap_item,
    swap_reason,
)
from ragtune.judges.report import judge_report, judges_report
from ragtune.judges.training import correctness_records, pairwise_records
from ragtune.judges.data import generate_judge_data, load_qa, subsample, truth_records
from ragtune.judges.evaluate import evaluate_judges, judge_eval_report, read_data, run_judges
from ragtune.judges.judge import complete_journaled
from ragtune.judges.rag import Pipeline, evaluate_rag

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
