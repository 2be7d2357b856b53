"""SFT records from a teacher's judgments: the student learns to answer the judge prompt as the teacher did.

Each record is one OpenAI chat conversation `{"id", "messages": [user, assistant], "metadata"}`
(the format `ragtune.data.chat` reads), the assistant turn rendered by `render_correctness_reply` /
`render_pairwise_reply`: the score or verdict, then the teacher's reason cut to a short one. The score is
the judgment's `discrete` one: the teacher's expected score rounded where it gave log-probabilities.

Pairwise records carry the teacher's *final* verdict (both orders combined); inconclusive or missing
ones are skipped, so the student never learns a verdict that flips with the order. The swap
augmentation adds (or, `replace=True`, substitutes) the prompt in the other order for a seeded
`swap_ratio` share of the pairs, with the verdict swapped and the teacher's reason from that order
when it agrees (otherwise the other order's reason with A and B exchanged).

`skip_failed_controls` (default on) drops control items the teacher got wrong (`items.score_band`),
so a known-wrong label is never taught. Split by question first (`items.split_question_ids`): records
are made from training questions only.
"""

from __future__ import annotations

from collections.abc import Sequence

from ragtune.judges.items import CorrectnessItem, PairwiseItem, in_band
from ragtune.judges.judge import JudgeRun, PairwiseJudgment
from ragtune.judges.prompts import (
    SWAPPED_SUFFIX,
    item_messages,
    render_correctness_reply,
    render_pairwise_reply,
    swap_reason,
    swap_selection,
    swap_verdict,
)


def _meta(item, **extra) -> dict:
    return {"question_id": item.question_id, "kind": item.kind, "control": item.control, **extra}


def correctness_records(items: Sequence[CorrectnessItem | PairwiseItem], teacher: JudgeRun, *, max_reason_words: int = 40,
                        skip_failed_controls: bool = True) -> list[dict]:
    """One record per correctness item the teacher scored."""
    out = []
    for item in items:
        if item.kind != "correctness":
            continue
        j = teacher.correctness.get(item.id)
        if j is None or j.discrete is None:
            continue
        if skip_failed_controls and item.truth is not None and not in_band(j.discrete, item.truth):
            continue
        reply = render_correctness_reply(j.discrete, j.reason, max_reason_words)
        out.append({"id": item.id, "messages": [*item_messages(item), {"role": "assistant", "content": reply}],
                    "metadata": _meta(item, source=item.source, score=j.discrete, expected_score=j.expected_score)})
    return out


def _reason_for(j: PairwiseJudgment, order: int) -> str:
    """The teacher's reason for the final verdict, as worded for the prompt in `order`."""
    mine, other = (j.first, j.second) if order == 0 else (j.second, j.first)
    final_here = j.verdict if order == 0 else swap_verdict(j.verdict)
    if mine.verdict == final_here:
        return mine.reason
    if swap_verdict(other.verdict) == final_here:
        return swap_reason(other.reason)
    return ""


def pairwise_records(items: Sequence[CorrectnessItem | PairwiseItem], teacher: JudgeRun, *, swap_ratio: float = 0.5,
                     seed: int = 0, replace: bool = False, max_reason_words: int = 40,
                     skip_failed_controls: bool = True) -> list[dict]:
    """Records for the pairwise items the teacher decided (A, B or tie), with the swap augmentation."""
    usable = []
    for item in items:
        if item.kind != "pairwise":
            continue
        j = teacher.pairwise.get(item.id)
        if j is None or j.verdict not in ("A", "B", "tie"):
            continue
        if skip_failed_controls and item.truth is not None and j.verdict != item.truth:
            continue
        usable.append((item, j))
    swapped = swap_selection([i.id for i, _ in usable], swap_ratio, seed)
    out = []
    for item, j in usable:
        orders = [1] if (replace and item.id in swapped) else ([0, 1] if item.id in swapped else [0])
        for order in orders:
            verdict = j.verdict if order == 0 else swap_verdict(j.verdict)
            reply = render_pairwise_reply(verdict, _reason_for(j, order), max_reason_words)
            sources = (item.source_a, item.source_b) if order == 0 else (item.source_b, item.source_a)
            out.append({"id": item.id + (SWAPPED_SUFFIX if order else ""),
                        "messages": [*item_messages(item, order), {"role": "assistant", "content": reply}],
                        "metadata": _meta(item, order=order, source_a=sources[0], source_b=sources[1], verdict=verdict)})
    return out
