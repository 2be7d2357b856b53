"""Judge distillation core: items with controls whose truth is known by construction, judge prompts, reply parsing,
and journaled (resumable) judging with pairwise items asked in both orders."""

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
    read_judgments,
    write_judgments,
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

__all__ = [
    "QARow", "CorrectnessItem", "PairwiseItem", "qa_rows", "faq_qa", "read_answers", "correctness_items", "pairwise_items",
    "CORRECT", "INCOMPLETE", "WRONG", "CONTROL_TRUTH", "CORRECTNESS_CONTROLS", "PAIRWISE_CONTROLS",
    "score_band", "in_band", "truncate_reference", "split_question_ids", "split_items", "write_items", "read_items",
    "parse_score", "parse_correctness", "parse_verdict", "parse_pairwise",
    "correctness_messages", "pairwise_messages", "item_messages", "render_correctness_reply", "render_pairwise_reply",
    "swap_item", "swap_augment", "swap_reason",
    "judge_items", "ajudge_items", "JudgeRun", "JudgeStats", "CorrectnessJudgment", "PairwiseJudgment", "OrderJudgment",
    "combine_orders", "call_key", "write_judgments", "read_judgments",
]
