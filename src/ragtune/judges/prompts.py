"""Judge prompts, the assistant turn a judgment becomes for SFT, and the answer-order swap.

The prompts are one user turn (no system message: some chat templates have none), short and literal,
so that a 135M-0.5B model can follow them: the task and a prose rubric first, then the question,
reference and answer(s), then the output format last, where a small model looks: the score (or
verdict) alone on the first line, a one-sentence reason on the second. `ragtune.judges.parse` reads
exactly that, and more (see its docstring). A rubric written as a list ("5 = correct ...") made
Qwen2.5-0.5B copy its first line as the reply for every item; the prose rubric does not.

The rubric matches the control bands of `ragtune.judges.items`: a reference scores 5, an answer to a
different question 1, a truncated reference 3 or 4.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence

from ragtune.judges.items import PairwiseItem
from ragtune.judges.parse import Verdict
from ragtune.llm import Messages

CORRECTNESS_TASK = (
    "Compare the answer with the reference answer and grade it from 1 to 5. Give 5 if the answer is correct "
    "and complete (it says what the reference says), 4 if it is correct but a minor detail is missing, 3 if it "
    "is correct as far as it goes but important parts are missing, 2 if it is on topic but mostly wrong or in "
    "conflict with the reference, and 1 if it is wrong or answers a different question."
)
CORRECTNESS_FORMAT = "Write the score (1 to 5) alone on the first line, then the reason in one short sentence."

PAIRWISE_TASK = (
    "Compare two answers, A and B, to the same question{reference_clause}. The better answer is the one that "
    "is more correct and more complete. An answer to a different question is wrong. Do not prefer an answer "
    "because it comes first or second, or because it is longer."
)
PAIRWISE_FORMAT = "Write A, B or tie alone on the first line, then the reason in one short sentence."
_REFERENCE_CLAUSE = ", using the reference answer"
EMPTY_ANSWER = "(no answer)"


def _text(answer: str) -> str:
    return answer.strip() or EMPTY_ANSWER


def correctness_messages(question: str, reference: str, answer: str) -> Messages:
    """The chat prompt (one user turn) that asks for a 1-5 score and a reason."""
    user = (f"{CORRECTNESS_TASK}\n\nQuestion: {question.strip()}\n\nReference answer: {reference.strip()}\n\n"
            f"Answer to grade: {_text(answer)}\n\n{CORRECTNESS_FORMAT}")
    return [{"role": "user", "content": user}]


def pairwise_messages(question: str, answer_a: str, answer_b: str, reference: str | None = None) -> Messages:
    """The chat prompt (one user turn) that asks for "A", "B" or "tie" and a reason; the reference is optional."""
    parts = [PAIRWISE_TASK.replace("{reference_clause}", _REFERENCE_CLAUSE if reference else ""),
             f"Question: {question.strip()}"]
    if reference:
        parts.append(f"Reference answer: {reference.strip()}")
    parts += [f"Answer A: {_text(answer_a)}", f"Answer B: {_text(answer_b)}", PAIRWISE_FORMAT]
    return [{"role": "user", "content": "\n\n".join(parts)}]


def item_messages(item, order: int = 0) -> Messages:
    """The prompt of a correctness item, or of a pairwise item in `order` 0 (A, B) or 1 (B shown as A)."""
    if item.kind == "correctness":
        return correctness_messages(item.question, item.reference, item.answer)
    if order not in (0, 1):
        raise ValueError(f"order must be 0 or 1; got {order}")
    a, b = (item.answer_a, item.answer_b) if order == 0 else (item.answer_b, item.answer_a)
    return pairwise_messages(item.question, a, b, item.reference)


# ---------------------------------------------------------------- SFT targets

def short_reason(text: str, max_words: int = 40) -> str:
    """The reason on one line: whole sentences up to `max_words` words (a longer first sentence is cut)."""
    words = text.split()
    if len(words) <= max_words:
        return " ".join(words)
    kept = words[:max_words]
    for i in range(len(kept) - 1, 0, -1):
        if kept[i].endswith((".", "!", "?")):
            return " ".join(kept[:i + 1])
    return " ".join(kept)


def render_correctness_reply(score: int, reason: str = "", max_words: int = 40) -> str:
    """The assistant turn for a correctness judgment: the score, then the short reason on its own line."""
    if not isinstance(score, int) or not 1 <= score <= 5:
        raise ValueError(f"a correctness score is an integer 1-5; got {score!r}")
    reason = short_reason(reason, max_words)
    return f"{score}\n{reason}" if reason else str(score)


def render_pairwise_reply(verdict: Verdict, reason: str = "", max_words: int = 40) -> str:
    """The assistant turn for a pairwise judgment: A, B or tie, then the short reason on its own line."""
    if verdict not in ("A", "B", "tie"):
        raise ValueError(f"a pairwise verdict is 'A', 'B' or 'tie'; got {verdict!r}")
    reason = short_reason(reason, max_words)
    return f"{verdict}\n{reason}" if reason else verdict


# ---------------------------------------------------------------- the swap augmentation

SWAPPED_SUFFIX = "~swapped"


def swap_verdict(verdict):
    """A <-> B; "tie", "inconclusive" and None stay as they are."""
    return {"A": "B", "B": "A"}.get(verdict, verdict)


def swap_reason(text: str) -> str:
    """Exchange the names of the two answers in a reason ("Answer A" <-> "Answer B", "A is" <-> "B is", ...)."""
    pattern = re.compile(r"\b((?:[Aa]nswer|[Aa]ssistant|[Rr]esponse|[Oo]ption)\s+)([AB])\b|(?<![\w'])([AB])(?=\s+(?:is|was|has|gives|says|"
                         r"states|mentions|misses|answers|does|wins|matches|contains|provides|lacks)\b|[.,;:)]|$)|\[\[([AB])\]\]")

    def flip(m):
        if m.group(2):
            return m.group(1) + swap_verdict(m.group(2))
        if m.group(3):
            return swap_verdict(m.group(3))
        return f"[[{swap_verdict(m.group(4))}]]"

    return pattern.sub(flip, text)


def swap_item(item: PairwiseItem) -> PairwiseItem:
    """The same pair with the answers (and sources, and the truth) on the other sides; id + "~swapped"."""
    return item.model_copy(update={
        "id": item.id + SWAPPED_SUFFIX, "answer_a": item.answer_b, "answer_b": item.answer_a,
        "source_a": item.source_b, "source_b": item.source_a, "truth": swap_verdict(item.truth)})


def swap_augment(items: Sequence[PairwiseItem], ratio: float = 0.5, seed: int = 0,
                 replace: bool = False) -> list[PairwiseItem]:
    """Order-swapped copies of a seeded `ratio` share of the items, for training.

    `replace=False` (default) returns the items plus the swapped copies (ratio 1.0: every pair in both
    orders); `replace=True` swaps those items in place, as JudgeLM's `swap_aug_ratio` (0.5) does,
    so the set keeps its size and half the pairs show their answers the other way round.
    """
    chosen = swap_selection([it.id for it in items], ratio, seed)
    if replace:
        return [swap_item(it) if it.id in chosen else it for it in items]
    return list(items) + [swap_item(it) for it in items if it.id in chosen]


def swap_selection(ids: Sequence[str], ratio: float, seed: int = 0) -> set[str]:
    """The seeded `ratio` share of `ids` to swap (independent of the order of `ids`)."""
    if not 0.0 <= ratio <= 1.0:
        raise ValueError(f"swap ratio must be between 0 and 1; got {ratio}")
    order = sorted(set(ids))
    random.Random(seed).shuffle(order)
    return set(order[:round(ratio * len(order))])


# ---------------------------------------------------------------- faithfulness (RAG evaluation)

FAITHFULNESS_TASK = (
    "Check whether the answer is supported by the context and grade it from 1 to 5. Give 5 if everything the "
    "answer states is in the context, 4 if nearly everything is, 3 if part of it is supported and part is not, "
    "2 if little of it is supported, and 1 if the answer is not supported by the context or contradicts it."
)


def faithfulness_messages(question: str, contexts: Sequence[str], answer: str) -> Messages:
    """The chat prompt (one user turn) that asks for a 1-5 faithfulness score (answer supported by the context)."""
    passages = "\n\n".join(f"[{i}] {c.strip()}" for i, c in enumerate(contexts, start=1))
    user = (f"{FAITHFULNESS_TASK}\n\nContext:\n{passages}\n\nQuestion: {question.strip()}\n\n"
            f"Answer to grade: {_text(answer)}\n\n{CORRECTNESS_FORMAT}")
    return [{"role": "user", "content": user}]
