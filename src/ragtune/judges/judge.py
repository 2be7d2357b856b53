"""Run a judge over items: every correctness item once, every pairwise item in both orders, journaled.

Each LLM call is keyed by what fully determines its answer, `sha256(prompt messages)[:16]:MODEL:t=T;max=N`,
and its raw reply is appended to the journal (one fsynced JSON line, group-committed) before it
counts as done, exactly like query generation's journal (`ragtune.generate.journal`). So:

- a rerun with the same items, model and settings makes only the calls the journal lacks;
- a kill mid-run (even SIGKILL) loses only the calls in flight and repeats none that finished;
- a changed prompt, model, temperature or token budget gets fresh calls, never a stale reply;
- two items with the same prompt (e.g. a system whose answer equals the reference) share one call.

Correctness calls also ask for the first reply token's top `score_logprobs` (default 20) log-probabilities
(`LLM.complete(..., logprobs=k)`); they are journaled with the reply (key suffix `;lp=K`), so a resumed
run computes the same scores. A correctness judgment then has `score` (what the reply states, parsed),
`expected_score` (E[s] over the first token's probabilities of "1".."5", `parse.expected_score`; None
when the provider gave no log-probabilities or the digits hold under `parse.MIN_SCORE_MASS`) and
`reason`. `value` (E[s] where present, else the stated score) is what correlations use; `discrete`
(E[s] rounded half up, else the stated score) is what control accuracy, exact / within-one agreement,
kappa and the SFT targets use. `score_logprobs=None` asks for none (the judgments are then the stated scores).

Prompts are not stored (only their hash), and replies pass through `ragtune.llm.scrub`, so no API
key reaches the journal. Raw replies are stored, not parsed values: a parser change never needs the
LLM again. A failed call (LLMError after the provider's retries) is not journaled: its judgment has
`error` set and a rerun tries it again. A `FatalLLMError` stops the run; what finished is kept.

Pairwise: order 0 shows (answer_a, answer_b) as (A, B); order 1 shows (answer_b, answer_a). The
order-1 verdict is mapped back to the item's labels and combined with order 0 (`combine_orders`):
the same verdict twice stands; A in one order and B in the other (a flip) is "inconclusive"; a tie
in one order and A (or B) in the other gives A (or B), as LlamaIndex's vote count does.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from ragtune.errors import InputError
from ragtune.generate.journal import Journal, text_hash
from ragtune.io import atomic_write_jsonl
from ragtune.judges.items import CorrectnessItem, PairwiseItem
from ragtune.judges.parse import Verdict, expected_score, parse_correctness, parse_pairwise
from ragtune.judges.prompts import item_messages, swap_verdict
from ragtune.llm import LLM, Messages, Outcome, complete_many, scrub
from ragtune.llm.recorder import secrets_from_env

FinalVerdict = Literal["A", "B", "tie", "inconclusive"]
NOT_JUDGED = "not judged yet (no reply in the journal)"
SCORE_LOGPROBS = 20  # the first token's top log-probabilities asked for with each correctness call (OpenAI's maximum)


class OrderJudgment(BaseModel):
    """One call of a pairwise item; `verdict` is in the labels of the prompt shown in this order."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str
    verdict: Verdict | None = None
    reason: str = ""
    raw: str | None = None
    error: str | None = None

    @property
    def parse_failed(self) -> bool:
        """A reply came back but states no verdict."""
        return self.raw is not None and self.verdict is None


class CorrectnessJudgment(BaseModel):
    """A judge's 1-5 score of one correctness item (None: the call failed or the reply was unparsed).

    `score` is the score the reply states; `expected_score` the probability-weighted score of the first
    reply token and `score_mass` the share of that token's probability on the digits 1-5 (both None
    without log-probabilities). See the module docstring for `value` and `discrete`.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["correctness"] = "correctness"
    item_id: str
    key: str
    score: int | None = None
    reason: str = ""
    raw: str | None = None
    parse_failed: bool = False
    error: str | None = None
    expected_score: float | None = None
    score_mass: float | None = None

    @property
    def value(self) -> float | None:
        """The score correlations use: E[s] where there is one, else the stated score."""
        return self.expected_score if self.expected_score is not None else (None if self.score is None else float(self.score))

    @property
    def discrete(self) -> int | None:
        """The 1-5 score shares use: E[s] rounded half up where there is one, else the stated score."""
        if self.expected_score is None:
            return self.score
        return min(5, max(1, math.floor(self.expected_score + 0.5)))


class PairwiseJudgment(BaseModel):
    """A judge's verdict on one pairwise item, from both orders, in the item's labels.

    `verdict` is None when either order failed or was unparsed; `consistent` says whether the two
    orders gave the same verdict once mapped back (None when either is missing).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["pairwise"] = "pairwise"
    item_id: str
    first: OrderJudgment
    second: OrderJudgment
    verdict: FinalVerdict | None = None
    consistent: bool | None = None
    parse_failed: bool = False
    error: str | None = None


Judgment = Annotated[Union[CorrectnessJudgment, PairwiseJudgment], Field(discriminator="kind")]
_JUDGMENT = TypeAdapter(Judgment)


def combine_orders(first: Verdict | None, second_shown: Verdict | None) -> FinalVerdict | None:
    """The final verdict in the item's labels from order 0's verdict and order 1's verdict as shown."""
    if first is None or second_shown is None:
        return None
    second = swap_verdict(second_shown)
    if first == second:
        return first
    if first == "tie":
        return second
    if second == "tie":
        return first
    return "inconclusive"


@dataclass
class JudgeStats:
    """What this run's calls did; resumed calls came from the journal."""

    calls_total: int = 0
    calls_resumed: int = 0
    calls_made: int = 0
    calls_failed: int = 0
    errors: list[str] = field(default_factory=list)
    tokens_in: int = 0
    tokens_out: int = 0
    seconds: float = 0.0


@dataclass
class JudgeRun:
    """Judgments by item id, plus the model and the call statistics."""

    model: str
    correctness: dict[str, CorrectnessJudgment]
    pairwise: dict[str, PairwiseJudgment]
    stats: JudgeStats

    def judgments(self) -> list[CorrectnessJudgment | PairwiseJudgment]:
        return [*self.correctness.values(), *self.pairwise.values()]

    @property
    def unparsed(self) -> dict[str, int]:
        """Replies that state no score/verdict: correctness items, and pairwise calls (orders)."""
        return {"correctness": sum(j.parse_failed for j in self.correctness.values()),
                "pairwise_orders": sum(o.parse_failed for j in self.pairwise.values() for o in (j.first, j.second))}


@dataclass(frozen=True)
class Call:
    """One LLM call: its journal key, prompt and what it is for."""

    key: str
    item_id: str
    kind: str
    order: int
    messages: Messages
    logprobs: int | None = None


def call_key(messages: Messages, model: str, max_tokens: int, temperature: float, logprobs: int | None = None) -> str:
    """The journal key of one judge call (see the module docstring)."""
    prompt = json.dumps(messages, ensure_ascii=False, sort_keys=True)
    return f"{text_hash(prompt)}:{model}:t={temperature:g};max={max_tokens}" + (f";lp={logprobs}" if logprobs else "")


def plan_calls(items: Sequence[CorrectnessItem | PairwiseItem], model: str, max_tokens: int,
               temperature: float, score_logprobs: int | None = SCORE_LOGPROBS) -> list[Call]:
    """Every call the items need: one per correctness item (asking for `score_logprobs`), two per pairwise item."""
    seen: set[str] = set()
    calls = []
    for item in items:
        if item.id in seen:
            raise InputError(f"item id {item.id!r} appears twice; every item needs its own id.")
        seen.add(item.id)
        for order in ((0,) if item.kind == "correctness" else (0, 1)):
            messages = item_messages(item, order)
            lp = (score_logprobs or None) if item.kind == "correctness" else None
            calls.append(Call(call_key(messages, model, max_tokens, temperature, lp), item.id, item.kind, order, messages, lp))
    return calls


async def ajudge_items(llm: LLM, items: Sequence[CorrectnessItem | PairwiseItem], journal_path: str | Path, *,
                       concurrency: int = 8, max_tokens: int = 128, temperature: float = 0.0, seed: int = 0,
                       on_progress: Callable[[int, int], None] | None = None,
                       score_logprobs: int | None = SCORE_LOGPROBS) -> JudgeRun:
    """`judge_items` for callers that already run an event loop."""
    calls = plan_calls(items, llm.model, max_tokens, temperature, score_logprobs)
    journal = Journal(journal_path)
    unique = list({c.key: c for c in calls}.values())
    todo = sorted((c for c in unique if c.key not in journal.done), key=lambda c: len(c.messages[-1]["content"]))
    stats = JudgeStats(calls_total=len(unique), calls_resumed=len(unique) - len(todo))
    failed: dict[str, str] = {}
    secrets = secrets_from_env()
    t0 = time.perf_counter()

    async def on_done(group: list[Call], o: Outcome) -> None:
        call = group[o.index]
        if o.completion is None:
            stats.calls_failed += 1
            failed[call.key] = str(o.error)
            if len(stats.errors) < 5:
                stats.errors.append(f"{call.item_id} (order {call.order}): {o.error}")
        else:
            await _journal_reply(journal, stats, o.completion, secrets,
                                 {"key": call.key, "kind": call.kind, "item_id": call.item_id, "order": call.order,
                                  "model": llm.model})
        if on_progress is not None:
            on_progress(stats.calls_resumed + stats.calls_made + stats.calls_failed, stats.calls_total)

    # correctness calls (with log-probabilities), then pairwise calls: a FatalLLMError stops the run after the
    # calls in flight settle, as complete_many does
    for group in (g for g in ([c for c in todo if c.logprobs], [c for c in todo if not c.logprobs]) if g):
        await complete_many(llm, [c.messages for c in group], concurrency=concurrency, max_tokens=max_tokens,
                            temperature=temperature, seeds=[seed if temperature > 0 else None for _ in group],
                            on_done=lambda o, g=group: on_done(g, o), logprobs=group[0].logprobs)
    stats.seconds = time.perf_counter() - t0
    return assemble(items, calls, journal.done, failed, llm.model, stats)


def judge_items(llm: LLM, items: Sequence[CorrectnessItem | PairwiseItem], journal_path: str | Path, *,
                concurrency: int = 8, max_tokens: int = 128, temperature: float = 0.0, seed: int = 0,
                on_progress: Callable[[int, int], None] | None = None,
                score_logprobs: int | None = SCORE_LOGPROBS) -> JudgeRun:
    """Judge every item (pairwise ones in both orders), resuming from and appending to `journal_path`.

    `on_progress(done, total)` is called after each call. Returns every item's judgment; a judgment
    whose call failed has `error` set, one whose reply states no score/verdict has `parse_failed`.
    """
    return asyncio.run(ajudge_items(llm, items, journal_path, concurrency=concurrency, max_tokens=max_tokens,
                                    temperature=temperature, seed=seed, on_progress=on_progress,
                                    score_logprobs=score_logprobs))


def _order(call: Call, done: dict[str, dict], failed: dict[str, str]) -> OrderJudgment:
    rec = done.get(call.key)
    if rec is None:
        return OrderJudgment(key=call.key, error=failed.get(call.key, NOT_JUDGED))
    verdict, reason = parse_pairwise(rec["reply"])
    return OrderJudgment(key=call.key, verdict=verdict, reason=reason, raw=rec["reply"])


def assemble(items: Sequence[CorrectnessItem | PairwiseItem], calls: Sequence[Call], done: dict[str, dict],
             failed: dict[str, str], model: str, stats: JudgeStats | None = None) -> JudgeRun:
    """Parse the journaled replies into judgments (no LLM; a parser change re-reads the journal)."""
    by_item: dict[str, list[Call]] = {}
    for c in calls:
        by_item.setdefault(c.item_id, []).append(c)
    correctness, pairwise = {}, {}
    for item in items:
        cs = by_item[item.id]
        if item.kind == "correctness":
            (call,) = cs
            rec = done.get(call.key)
            if rec is None:
                correctness[item.id] = CorrectnessJudgment(item_id=item.id, key=call.key, error=failed.get(call.key, NOT_JUDGED))
                continue
            score, reason = parse_correctness(rec["reply"])
            expected, mass = expected_score(rec["top_logprobs"]) if rec.get("top_logprobs") is not None else (None, None)
            correctness[item.id] = CorrectnessJudgment(item_id=item.id, key=call.key, score=score, reason=reason,
                                                       raw=rec["reply"], parse_failed=score is None,
                                                       expected_score=expected, score_mass=mass)
            continue
        first, second = (_order(c, done, failed) for c in sorted(cs, key=lambda c: c.order))
        verdict = combine_orders(first.verdict, second.verdict)
        consistent = None if verdict is None else first.verdict == swap_verdict(second.verdict)
        errors = [o.error for o in (first, second) if o.error]
        pairwise[item.id] = PairwiseJudgment(item_id=item.id, first=first, second=second, verdict=verdict,
                                             consistent=consistent, parse_failed=first.parse_failed or second.parse_failed,
                                             error=errors[0] if errors else None)
    return JudgeRun(model, correctness, pairwise, stats or JudgeStats())


def load_judgments(items: Sequence[CorrectnessItem | PairwiseItem], journal_path: str | Path, model: str, *,
                   max_tokens: int = 128, temperature: float = 0.0, score_logprobs: int | None = SCORE_LOGPROBS) -> JudgeRun:
    """The judgments a journal holds for `items` under these settings, without calling any LLM.

    Calls the journal lacks give judgments with `error` = NOT_JUDGED. Use it to re-parse after a parser
    change, or to report on a run that another process made.
    """
    calls = plan_calls(items, model, max_tokens, temperature, score_logprobs)
    journal = Journal(journal_path)
    done = {c.key for c in calls if c.key in journal.done}
    stats = JudgeStats(calls_total=len({c.key for c in calls}), calls_resumed=len(done))
    return assemble(items, calls, journal.done, {}, model, stats)


def write_judgments(path: str | Path, run: JudgeRun) -> Path:
    """Judgments as JSONL, one object a line with a `kind` field, atomically."""
    return atomic_write_jsonl(path, [j.model_dump() for j in run.judgments()])


def read_judgments(path: str | Path, model: str = "") -> JudgeRun:
    """Judgments written by `write_judgments` (call statistics are not part of the file)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"judgments file {path}: not found.")
    correctness, pairwise = {}, {}
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                j = _JUDGMENT.validate_json(line)
            except ValidationError as e:
                first = e.errors()[0]
                raise InputError(f"judgments file {path}, line {n}: {'.'.join(map(str, first['loc']))}: {first['msg']}.") from None
            (correctness if j.kind == "correctness" else pairwise)[j.item_id] = j
    return JudgeRun(model, correctness, pairwise, JudgeStats())


# ---------------------------------------------------------------- any prompts, journaled (answers, faithfulness)

async def _journaled_records(llm: LLM, prompts: dict[str, Messages], journal_path: str | Path, *, concurrency: int = 8,
                             max_tokens: int = 256, temperature: float = 0.0, kind: str = "prompt",
                             on_progress: Callable[[int, int], None] | None = None, logprobs: int | None = None
                             ) -> tuple[dict[str, dict | None], JudgeStats]:
    """Every prompt (`{id: messages}`) once, journaled: `{id: journal record or None (failed)}` and the statistics."""
    keys = {pid: call_key(m, llm.model, max_tokens, temperature, logprobs) for pid, m in prompts.items()}
    journal = Journal(journal_path)
    unique = {}
    for pid, key in keys.items():
        unique.setdefault(key, pid)
    todo = [(key, pid) for key, pid in unique.items() if key not in journal.done]
    stats = JudgeStats(calls_total=len(unique), calls_resumed=len(unique) - len(todo))
    secrets = secrets_from_env()
    t0 = time.perf_counter()

    async def on_done(o: Outcome) -> None:
        key, pid = todo[o.index]
        if o.completion is None:
            stats.calls_failed += 1
            if len(stats.errors) < 5:
                stats.errors.append(f"{pid}: {o.error}")
        else:
            await _journal_reply(journal, stats, o.completion, secrets,
                                 {"key": key, "kind": kind, "item_id": pid, "model": llm.model})
        if on_progress is not None:
            on_progress(stats.calls_resumed + stats.calls_made + stats.calls_failed, stats.calls_total)

    if todo:
        await complete_many(llm, [prompts[pid] for _, pid in todo], concurrency=concurrency, max_tokens=max_tokens,
                            temperature=temperature, on_done=on_done, **({"logprobs": logprobs} if logprobs else {}))
    stats.seconds = time.perf_counter() - t0
    return {pid: journal.done.get(key) for pid, key in keys.items()}, stats


async def acomplete_journaled(llm: LLM, prompts: dict[str, Messages], journal_path: str | Path, **kwargs
                              ) -> tuple[dict[str, str | None], JudgeStats]:
    """Answer every prompt (`{id: messages}`) once, journaled like `judge_items`: a rerun makes only the missing calls.

    Returns `{id: reply or None (the call failed; a rerun tries again)}` and the call statistics. Replies are
    scrubbed of secrets before they are written; prompts are stored only as their hash. Keywords: concurrency,
    max_tokens, temperature, kind (the journal's label), on_progress(done, total).
    """
    records, stats = await _journaled_records(llm, prompts, journal_path, **kwargs)
    return {pid: (None if r is None else r["reply"]) for pid, r in records.items()}, stats


def complete_journaled(llm: LLM, prompts: dict[str, Messages], journal_path: str | Path, **kwargs) -> tuple[dict[str, str | None], JudgeStats]:
    """`acomplete_journaled` for callers without an event loop."""
    return asyncio.run(acomplete_journaled(llm, prompts, journal_path, **kwargs))


def score_journaled(llm: LLM, prompts: dict[str, Messages], journal_path: str | Path, *,
                    score_logprobs: int | None = SCORE_LOGPROBS, **kwargs) -> tuple[dict[str, float | None], dict[str, str | None], JudgeStats]:
    """1-5 scores of free-form score prompts (faithfulness), scored as correctness is: E[s] over the first reply
    token's probabilities where the provider gives them (`parse.expected_score`), else the score the reply states.

    Returns ({id: score or None (unparsed or failed)}, {id: reply or None (failed)}, stats)."""
    records, stats = asyncio.run(_journaled_records(llm, prompts, journal_path, logprobs=score_logprobs or None, **kwargs))
    scores, replies = {}, {}
    for pid, rec in records.items():
        replies[pid] = None if rec is None else rec["reply"]
        expected = expected_score(rec["top_logprobs"])[0] if rec is not None and rec.get("top_logprobs") is not None else None
        stated = parse_correctness(rec["reply"])[0] if rec is not None else None
        scores[pid] = expected if expected is not None else (None if stated is None else float(stated))
    return scores, replies, stats


async def _journal_reply(journal: Journal, stats: JudgeStats, c, secrets, row: dict) -> None:
    """One finished call: its reply (secrets scrubbed) and token counts into the journal and the stats."""
    top = getattr(c, "top_logprobs", None)
    await journal.add_async({**row, "reply": scrub(c.text, secrets), "prompt_tokens": c.prompt_tokens,
                             "completion_tokens": c.completion_tokens, "finish_reason": c.finish_reason,
                             **({"top_logprobs": [[scrub(t, secrets), lp] for t, lp in top]} if top is not None else {})})
    stats.calls_made += 1
    stats.tokens_in += c.prompt_tokens
    stats.tokens_out += c.completion_tokens
