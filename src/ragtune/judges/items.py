"""What a judge is asked to judge: typed items, controls whose truth is known by construction, splits.

A QA set is a list of rows `{id, question, reference, category}` (the bundled FAQ's `{id, q, a,
category}` is accepted too). Answer *sources* are named maps `question id -> answer text`, e.g.
the answers of two RAG systems read with `read_answers("sys.jsonl")` (lines `{"id": qid, "answer": text}`).

Controls are answers whose truth is known without asking anyone. For each question:

- `reference`: the reference answer itself. Truth 5 (correct and complete).
- `same_category`: the reference answer of another question of the same category. Truth 1 (wrong):
  fluent, on the topic, but an answer to a different question (the hard negative).
- `other_category`: the reference answer of a question of another category. Truth 1 (wrong, easy).
- `truncated`: the first sentence of a reference of at least two sentences, when that sentence has
  at least `TRUNCATED_MIN_WORDS` words and at most `TRUNCATED_MAX_SHARE` of the reference's words
  (so a third or more is missing). Truth 3 (incomplete): nothing in it is wrong, something is missing.

`score_band(truth)` says which 1-5 scores count as judging a control right: truth 5 -> 4-5, truth 1
-> 1-2, truth 3 -> 3-4 (the rubric's "correct as far as it goes" and "misses a minor detail"; a 2
would call correct statements wrong, a 5 would call a third of the answer missing complete). Any
other truth (e.g. a human label) counts as right within one point.

Pairwise controls put the reference against a worse answer, on a seeded side (A or B), and the
reference must win: `reference_vs_same_category`, `reference_vs_other_category`, `reference_vs_truncated`.

Every choice (which donor question, which side) is seeded per question and made on id-sorted rows, so
it does not depend on the order of the QA set (a donor is drawn from the questions present, so adding
or removing questions can change it). `split_question_ids` splits by question id, so no question is on
both sides of a train/test split. A wrong control's answer text is a donor question's reference; to
keep donors on the same side too, split the QA set first and build the items of each side separately.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import random
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from ragtune.errors import DataValidationError, InputError, Problem
from ragtune.io import atomic_write_jsonl

CORRECT, INCOMPLETE, WRONG = 5.0, 3.0, 1.0
CORRECTNESS_CONTROLS = ("reference", "same_category", "other_category", "truncated")
PAIRWISE_CONTROLS = ("reference_vs_same_category", "reference_vs_other_category", "reference_vs_truncated")
CONTROL_TRUTH = {"reference": CORRECT, "same_category": WRONG, "other_category": WRONG, "truncated": INCOMPLETE}
CONTROL_SOURCE = "control:"  # prefix of the source label of a control answer, e.g. "control:same_category"
TRUNCATED_MIN_WORDS = 3
TRUNCATED_MAX_SHARE = 2 / 3
_BANDS = {CORRECT: (4, 5), INCOMPLETE: (3, 4), WRONG: (1, 2)}


class QARow(BaseModel):
    """One question of the QA set with its reference answer."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    id: str = Field(min_length=1)
    question: str = Field(min_length=1)
    reference: str = Field(min_length=1)
    category: str | None = None


class CorrectnessItem(BaseModel):
    """Grade one answer to a question against the reference, 1-5.

    `truth` is known only for controls (5 correct, 3 incomplete, 1 wrong); `control` names the kind.
    `donor_id` is the question whose reference a wrong control borrowed.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["correctness"] = "correctness"
    id: str
    question_id: str
    category: str | None = None
    question: str
    reference: str
    answer: str
    source: str
    truth: float | None = None
    control: str | None = None
    donor_id: str | None = None


class PairwiseItem(BaseModel):
    """Which of two answers to a question is better ("A", "B" or a tie); `truth` only for controls."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["pairwise"] = "pairwise"
    id: str
    question_id: str
    category: str | None = None
    question: str
    answer_a: str
    answer_b: str
    reference: str | None = None
    source_a: str
    source_b: str
    truth: Literal["A", "B"] | None = None
    control: str | None = None
    donor_id: str | None = None


Item = Annotated[Union[CorrectnessItem, PairwiseItem], Field(discriminator="kind")]
_ITEM = TypeAdapter(Item)


def score_band(truth: float) -> tuple[float, float]:
    """The closed range of 1-5 scores that counts as judging an item of this truth right."""
    if truth in _BANDS:
        return _BANDS[truth]
    return (truth - 1.0, truth + 1.0)


def in_band(score: float | None, truth: float) -> bool:
    """True when `score` lies in `score_band(truth)`; an unparsed score (None) is never right."""
    if score is None:
        return False
    lo, hi = score_band(truth)
    return lo <= score <= hi


# ---------------------------------------------------------------- QA set and answer sources

def qa_rows(records: Iterable[Mapping[str, Any]], where: str = "QA set") -> list[QARow]:
    """Validate QA rows `{id, question, reference, category?}` (or the FAQ's `{id, q, a, category}`)."""
    rows, problems, seen = [], [], set()
    for i, rec in enumerate(records):
        loc = f"{where}: row {i + 1}"
        if not isinstance(rec, Mapping):
            problems.append(Problem(loc, f"expected an object, got {type(rec).__name__}"))
            continue
        data = dict(rec)
        if "question" not in data and "q" in data:
            data["question"] = data["q"]
        if "reference" not in data and "a" in data:
            data["reference"] = data["a"]
        if data.get("id") is not None and not isinstance(data["id"], str):
            data["id"] = str(data["id"])
        try:
            row = QARow.model_validate(data)
        except ValidationError as e:
            first = e.errors()[0]
            problems.append(Problem(loc, f"{'.'.join(map(str, first['loc'])) or 'row'}: {first['msg']} "
                                         "(a row needs non-empty 'id', 'question' and 'reference'; 'category' is optional)"))
            continue
        if row.id in seen:
            problems.append(Problem(loc, f"duplicate id {row.id!r}; every question needs its own id"))
            continue
        seen.add(row.id)
        rows.append(row)
    if problems:
        raise DataValidationError(where, problems)
    if not rows:
        raise InputError(f"{where} is empty: give at least one row {{id, question, reference, category}}.")
    return rows


def faq_qa() -> list[QARow]:
    """The bundled construction FAQ (503 human Q/A pairs, 39 categories) as a QA set."""
    from ragtune.data.retrieval import faq_records

    return qa_rows(faq_records(), "construction FAQ")


def read_answers(path: str | Path) -> dict[str, str]:
    """Answers from a JSONL file of `{"id": question_id, "answer": text}` lines."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"answers file {path}: not found (one JSON object a line: {{\"id\": question_id, \"answer\": text}}).")
    answers: dict[str, str] = {}
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise InputError(f"answers file {path}, line {n}: not valid JSON ({e.msg}).") from None
            if not isinstance(row, dict) or not isinstance(row.get("id"), (str, int)) or not isinstance(row.get("answer"), str):
                raise InputError(f"answers file {path}, line {n}: expected {{\"id\": question_id, \"answer\": text}}, "
                                 f"got {str(row)[:120]}.")
            qid = str(row["id"])
            if qid in answers:
                raise InputError(f"answers file {path}, line {n}: a second answer for question {qid!r}; keep one per question.")
            answers[qid] = row["answer"]
    return answers


def check_sources(qa: Sequence[QARow], sources: Mapping[str, Mapping[str, str]]) -> None:
    """Source labels must be plain names and every answered id must be a question of the QA set."""
    ids = {r.id for r in qa}
    for label, answers in sources.items():
        if not label or not isinstance(label, str) or label.startswith(CONTROL_SOURCE) or "|" in label:
            raise InputError(f"answer source {label!r}: a label must be a non-empty name without '|' that does not "
                             f"start with {CONTROL_SOURCE!r} (reserved for controls).")
        unknown = sorted(set(answers) - ids)
        if unknown:
            shown = ", ".join(map(repr, unknown[:5])) + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else "")
            raise InputError(f"answer source {label!r}: {len(unknown)} answer id(s) are not questions of the QA set: "
                             f"{shown}. Use the QA set's question ids (e.g. {sorted(ids)[0]!r}).")
        bad = [q for q, a in answers.items() if not isinstance(a, str)]
        if bad:
            raise InputError(f"answer source {label!r}: the answer to {bad[0]!r} is not text.")


# ---------------------------------------------------------------- controls

_ABBREVIATIONS = {"e.g", "i.e", "approx", "ca", "cf", "vs", "no", "nr", "kap", "mr", "mrs", "dr", "st", "etc"}
_BOUNDARY = re.compile(r"[.!?][\"')\]]*\s+")


def sentences(text: str) -> list[str]:
    """Split at . ! ? followed by space and a capital letter (not after e.g., approx., ...)."""
    text = " ".join(text.split())
    out, start = [], 0
    for m in _BOUNDARY.finditer(text):
        nxt = text[m.end():m.end() + 2].lstrip("\"'([")
        if not nxt or not nxt[0].isupper():
            continue
        word = text[start:m.start()].rsplit(" ", 1)[-1].lower()
        if text[m.start()] == "." and word in _ABBREVIATIONS:
            continue
        out.append(text[start:m.end()].strip())
        start = m.end()
    if text[start:].strip():
        out.append(text[start:].strip())
    return out


def truncate_reference(reference: str) -> str | None:
    """The first sentence of the reference when it is a real truncation (see the module docstring), else None."""
    parts = sentences(reference)
    if len(parts) < 2:
        return None
    first_words, all_words = len(parts[0].split()), len(reference.split())
    if first_words < TRUNCATED_MIN_WORDS or first_words > TRUNCATED_MAX_SHARE * all_words:
        return None
    return parts[0]


def _rng(seed: int, *parts: str) -> random.Random:
    """A random generator fixed by the seed and the parts (stable across runs, unlike hash())."""
    digest = hashlib.sha256("\x1f".join([str(seed), *parts]).encode("utf-8")).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


def control_answers(qa: Sequence[QARow], seed: int = 0) -> dict[str, dict[str, tuple[str, str | None]]]:
    """For each question id: control kind -> (answer text, donor question id); kinds that cannot be built are left out.

    A wrong control never borrows an answer whose text equals this question's reference.
    """
    by_id = sorted(qa, key=lambda r: r.id)
    out: dict[str, dict[str, tuple[str, str | None]]] = {}
    for row in by_id:
        ctl: dict[str, tuple[str, str | None]] = {"reference": (row.reference, None)}
        own = _norm(row.reference)
        if row.category is not None:
            same = [r for r in by_id if r.category == row.category and r.id != row.id and _norm(r.reference) != own]
            other = [r for r in by_id if r.category is not None and r.category != row.category and _norm(r.reference) != own]
            if same:
                donor = _rng(seed, row.id, "same_category").choice(same)
                ctl["same_category"] = (donor.reference, donor.id)
            if other:
                donor = _rng(seed, row.id, "other_category").choice(other)
                ctl["other_category"] = (donor.reference, donor.id)
        cut = truncate_reference(row.reference)
        if cut is not None:
            ctl["truncated"] = (cut, None)
        out[row.id] = ctl
    return out


# ---------------------------------------------------------------- builders

def _check_controls(controls: Sequence[str], known: Sequence[str]) -> None:
    bad = [c for c in controls if c not in known]
    if bad:
        raise InputError(f"unknown control(s) {', '.join(map(repr, bad))}; choose from {', '.join(known)}.")


def correctness_items(qa: Sequence[QARow], sources: Mapping[str, Mapping[str, str]] | None = None, *,
                      controls: Sequence[str] = CORRECTNESS_CONTROLS, seed: int = 0) -> list[CorrectnessItem]:
    """One item per (question, source answer) and per (question, control); ids `QID|SOURCE`.

    Control sources are labelled `control:KIND`. Items come in QA-set order, sources in the given order.
    """
    sources = sources or {}
    check_sources(qa, sources)
    _check_controls(controls, CORRECTNESS_CONTROLS)
    ctl = control_answers(qa, seed) if controls else {}
    items = []
    for row in qa:
        base = dict(question_id=row.id, category=row.category, question=row.question, reference=row.reference)
        for label, answers in sources.items():
            if row.id in answers:
                items.append(CorrectnessItem(id=f"{row.id}|{label}", answer=answers[row.id], source=label, **base))
        for kind in controls:
            if kind in ctl[row.id]:
                text, donor = ctl[row.id][kind]
                src = CONTROL_SOURCE + kind
                items.append(CorrectnessItem(id=f"{row.id}|{src}", answer=text, source=src, truth=CONTROL_TRUTH[kind],
                                             control=kind, donor_id=donor, **base))
    return items


def pairwise_items(qa: Sequence[QARow], sources: Mapping[str, Mapping[str, str]] | None = None, *,
                   controls: Sequence[str] = PAIRWISE_CONTROLS, seed: int = 0,
                   with_reference: bool = True) -> list[PairwiseItem]:
    """Every pair of sources that both answered a question, plus the pairwise controls.

    User pairs get ids `QID|S1|S2` (S1 before S2 in the given order) and a seeded side each; control
    pairs get ids `QID|control:KIND`, the reference on a seeded side, and `truth` = that side.
    `with_reference=False` leaves the reference out of the prompt (the controls then get harder).
    """
    sources = sources or {}
    check_sources(qa, sources)
    _check_controls(controls, PAIRWISE_CONTROLS)
    ctl = control_answers(qa, seed) if controls else {}
    items = []
    for row in qa:
        base = dict(question_id=row.id, category=row.category, question=row.question,
                    reference=row.reference if with_reference else None)
        for s1, s2 in itertools.combinations(list(sources), 2):
            if row.id not in sources[s1] or row.id not in sources[s2]:
                continue
            first = (s1, sources[s1][row.id])
            second = (s2, sources[s2][row.id])
            if _rng(seed, row.id, s1, s2, "side").random() < 0.5:
                first, second = second, first
            items.append(PairwiseItem(id=f"{row.id}|{s1}|{s2}", source_a=first[0], answer_a=first[1],
                                      source_b=second[0], answer_b=second[1], **base))
        for kind in controls:
            worse = kind.removeprefix("reference_vs_")
            if worse not in ctl[row.id]:
                continue
            text, donor = ctl[row.id][worse]
            good = (CONTROL_SOURCE + "reference", row.reference)
            bad = (CONTROL_SOURCE + worse, text)
            ref_on_a = _rng(seed, row.id, kind, "side").random() < 0.5
            a, b = (good, bad) if ref_on_a else (bad, good)
            items.append(PairwiseItem(id=f"{row.id}|{CONTROL_SOURCE}{kind}", source_a=a[0], answer_a=a[1], source_b=b[0],
                                      answer_b=b[1], truth="A" if ref_on_a else "B", control=kind, donor_id=donor, **base))
    return items


# ---------------------------------------------------------------- splits

def split_question_ids(question_ids: Iterable[str], test_fraction: float = 0.2, seed: int = 0) -> tuple[list[str], list[str]]:
    """Seeded split of question ids into (train, test); the same ids and seed always give the same split.

    The ids are sorted before shuffling, so their order does not matter. Both sides get at least one id
    when there are two or more.
    """
    if not 0.0 < test_fraction < 1.0:
        raise InputError(f"test fraction must be between 0 and 1 (exclusive); got {test_fraction}.")
    ids = sorted(set(question_ids))
    random.Random(seed).shuffle(ids)
    n_test = round(len(ids) * test_fraction)
    if len(ids) >= 2:
        n_test = min(max(n_test, 1), len(ids) - 1)
    return sorted(ids[n_test:]), sorted(ids[:n_test])


def split_items(items: Sequence[Any], test_ids: Iterable[str]) -> tuple[list[Any], list[Any]]:
    """(train, test) items by `question_id`: an item is in test exactly when its question is.

    A wrong control's donor (`donor_id`) may be on the other side; build items per side from a split QA
    set when that matters.
    """
    test = set(test_ids)
    return [i for i in items if i.question_id not in test], [i for i in items if i.question_id in test]


# ---------------------------------------------------------------- files

def write_items(path: str | Path, items: Iterable[CorrectnessItem | PairwiseItem]) -> Path:
    """Items as JSONL, one object a line with a `kind` field ("correctness" or "pairwise"), atomically."""
    return atomic_write_jsonl(path, [i.model_dump() for i in items])


def read_items(path: str | Path) -> list[CorrectnessItem | PairwiseItem]:
    """Items written by `write_items` (strict: a bad line is an error naming the line)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"items file {path}: not found.")
    items, ids = [], set()
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                item = _ITEM.validate_json(line)
            except ValidationError as e:
                first = e.errors()[0]
                raise InputError(f"items file {path}, line {n}: {'.'.join(map(str, first['loc']))}: {first['msg']}.") from None
            if item.id in ids:
                raise InputError(f"items file {path}, line {n}: duplicate item id {item.id!r}.")
            ids.add(item.id)
            items.append(item)
    return items
