"""Validate chat data before training: every finding as `file:line: what is wrong`, errors apart from warnings.

The OpenAI data-preparation checks (types, roles, unknown keys, missing content, no assistant turn),
exact and near duplicates, train/val overlap, and, with a tokenizer (`token_check`, see
`ragtune.sft.tokenize.token_check`), token counts against the context, an empty assistant-token loss
mask and assistant turns that do not end with the end-of-turn token.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ragtune.data.chat.dedup import duplicate_problems, overlap_problems
from ragtune.data.chat.formats import (MESSAGE_KEYS, ROLES, ROW_KEYS, ChatExample, Unparsable, clean_messages, detect_format,
                                       read_rows, to_messages)
from ragtune.errors import DataValidationError, InputError, Problem

__all__ = ["ChatReport", "TokenCheck", "check_row", "read_chat", "load_chat", "estimate_epochs", "summarize", "validate_chat"]

# examples -> (problems, token count per example, the max_length used)
TokenCheck = Callable[[list[ChatExample]], tuple[list[Problem], list[int], int]]


@dataclass
class ChatReport:
    """What `validate_chat` found: problems (errors and warnings) and summary statistics."""

    path: str
    examples: list[ChatExample]
    problems: list[Problem] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]


def check_row(row: Any, loc: str) -> list[Problem]:
    """The OpenAI format checks for one row: types, roles, unknown keys, missing content, no assistant."""
    if isinstance(row, Unparsable):
        return [Problem(loc, f"not valid JSON ({row.reason})")]
    if not isinstance(row, dict):
        return [Problem(loc, f"expected a JSON object, got {type(row).__name__}")]
    fmt = detect_format(row)
    if fmt is None:
        return [Problem(loc, f"unknown format: keys {sorted(row)}; expected 'messages' (OpenAI), 'prompt'+'completion', "
                             "'conversations' (sharegpt) or 'instruction'+'output' (alpaca)")]
    problems = _check_fields(row, fmt, loc)
    if problems:
        return problems
    messages = to_messages(row, fmt)
    if not isinstance(messages, list) or not messages:
        return [Problem(loc, f"'messages' must be a non-empty list, got {_show(messages)}")]
    for i, m in enumerate(messages):
        problems += _check_message(m, f"{loc}: messages[{i}]")
    if not problems and not any(m.get("role") == "assistant" for m in messages):
        problems.append(Problem(loc, "no assistant message: there is nothing to learn from this example"))
    if not problems and messages[-1].get("role") != "assistant":
        problems.append(Problem(loc, f"last message is from '{messages[-1].get('role')}', not the assistant; "
                                     "it is context only", "warning"))
    if fmt == "openai":
        problems += [Problem(loc, f"unknown key '{k}' (ignored)", "warning") for k in sorted(set(row) - ROW_KEYS)]
    return problems


def _check_fields(row: dict[str, Any], fmt: str, loc: str) -> list[Problem]:
    wanted = {"prompt_completion": ("prompt", "completion"), "alpaca": ("instruction", "output")}.get(fmt, ())
    problems = []
    for key in wanted:
        value = row[key]
        if isinstance(value, list) and fmt == "prompt_completion":
            continue
        if not isinstance(value, str) or not value.strip():
            problems.append(Problem(loc, f"'{key}' must be a non-empty string, got {_show(value)}"))
    if fmt == "alpaca" and not isinstance(row.get("input", ""), str):
        problems.append(Problem(loc, f"'input' must be a string, got {_show(row['input'])}"))
    return problems


def _check_message(m: Any, loc: str) -> list[Problem]:
    if not isinstance(m, dict):
        return [Problem(loc, f"a message must be an object with 'role' and 'content', got {_show(m)}")]
    problems = [Problem(loc, f"unrecognized key '{k}' in message") for k in sorted(set(m) - MESSAGE_KEYS)]
    if "role" not in m:
        problems.append(Problem(loc, "message has no 'role'"))
    elif m["role"] not in ROLES:
        problems.append(Problem(loc, f"unrecognized role {_show(m['role'])}; use one of {', '.join(ROLES)}"))
    content = m.get("content")
    has_call = bool(m.get("tool_calls") or m.get("function_call"))
    if content is None and not has_call:
        problems.append(Problem(loc, "message has no 'content'"))
    elif content is not None and not isinstance(content, str):
        problems.append(Problem(loc, f"'content' must be a string, got {_show(content)}"))
    elif isinstance(content, str) and not content.strip() and not has_call:
        problems.append(Problem(loc, "'content' is empty"))
    if "weight" in m:
        problems += _check_weight(m, loc)
    return problems


def _check_weight(m: dict[str, Any], loc: str) -> list[Problem]:
    if m["weight"] not in (0, 1) or isinstance(m["weight"], bool):
        return [Problem(loc, f"'weight' must be 0 or 1, got {_show(m['weight'])}")]
    if m.get("role") != "assistant":
        return [Problem(loc, "'weight' is only meaningful on assistant messages (ignored)", "warning")]
    return []


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, Unparsable) else "?"
    return f"{type(value).__name__} {text[:60]}"


def read_chat(path: str | Path) -> tuple[list[ChatExample], list[Problem]]:
    """Every well-formed conversation of a file and every structural problem found on the way."""
    examples: list[ChatExample] = []
    problems: list[Problem] = []
    for loc, row in read_rows(path):
        found = check_row(row, loc)
        problems += found
        if any(p.severity == "error" for p in found):
            continue
        examples.append(ChatExample(messages=clean_messages(to_messages(row, detect_format(row))), location=loc))
    return examples, problems


def load_chat(path: str | Path) -> list[ChatExample]:
    """Read a chat file; raise DataValidationError (every problem with file:line) on any structural error."""
    examples, problems = read_chat(path)
    if any(p.severity == "error" for p in problems):
        raise DataValidationError(f"chat data {path}", problems)
    if not examples:
        raise InputError(f"{path}: no conversations found (the file is empty).")
    return examples


def estimate_epochs(n_examples: int) -> int:
    """OpenAI's default epoch count for a dataset size (3, raised for tiny sets, lowered for huge ones)."""
    if n_examples * 3 < 100:
        return min(25, 100 // max(1, n_examples))
    if n_examples * 3 > 25_000:
        return max(1, 25_000 // n_examples)
    return 3


def summarize(lengths: list[int], max_length: int, exact: bool, price_per_mtok: float) -> dict[str, Any]:
    """Token distribution, billed tokens for the default epochs, and the cost at `price_per_mtok`."""
    import numpy as np

    if not lengths:
        return {"examples": 0}
    arr = np.array(lengths)
    epochs = estimate_epochs(len(lengths))
    billed = int(np.minimum(arr, max_length).sum()) * epochs
    return {
        "examples": len(lengths),
        "tokens_exact": exact,
        "tokens": {"total": int(arr.sum()), "min": int(arr.min()), "mean": round(float(arr.mean()), 1),
                   "p50": int(np.percentile(arr, 50)), "p95": int(np.percentile(arr, 95)), "max": int(arr.max())},
        "max_length": max_length,
        "epochs": epochs,
        "billed_tokens": billed,
        "price_per_million_tokens": price_per_mtok,
        "estimated_cost": round(billed / 1e6 * price_per_mtok, 4),
    }


def validate_chat(
    path: str | Path,
    val: str | Path | None = None,
    max_length: int | None = None,
    price_per_mtok: float = 3.0,
    token_check: TokenCheck | None = None,
) -> ChatReport:
    """Validate a chat file (and optionally its validation file) and summarize it.

    Without `token_check` (a model's tokenizer checks, `ragtune.sft.tokenize.token_check`), token counts
    are estimated as characters / 4 and the token checks are skipped.
    """
    examples, problems = read_chat(path)
    problems += duplicate_problems(examples)
    if val is not None:
        val_examples, val_problems = read_chat(val)
        problems += val_problems + overlap_problems(examples, val_examples)
    if token_check is None:
        lengths = [sum(len(m.get("content") or "") for m in e.messages) // 4 + 4 * len(e.messages) for e in examples]
        max_length = max_length or 4096
    else:
        token_problems, lengths, max_length = token_check(examples)
        problems += token_problems
    summary = summarize(lengths, max_length, token_check is not None, price_per_mtok)
    summary["truncated"] = sum(1 for n in lengths if n > max_length)
    return ChatReport(path=str(path), examples=examples, problems=_sorted(problems), summary=summary)


def _sorted(problems: list[Problem]) -> list[Problem]:
    def key(p: Problem) -> tuple:
        m = re.match(r"(.*?):(\d+)", p.location)
        return (m.group(1), int(m.group(2))) if m else (p.location, 0)

    return sorted(problems, key=key)
