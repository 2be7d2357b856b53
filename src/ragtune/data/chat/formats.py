"""Chat data formats: read four, write OpenAI chat JSONL.

Formats read (detected per row):
- OpenAI fine-tuning chat: `{"messages": [{"role", "content", "weight"?}, ...]}`;
- prompt/completion: `{"prompt": str, "completion": str}` (becomes one user and one assistant turn);
- sharegpt: `{"conversations": [{"from": "human"|"gpt"|"system", "value": str}, ...]}`;
- alpaca: `{"instruction": str, "input"?: str, "output": str, "system"?: str}`.
Files are JSONL (one row a line) or a JSON array. Everything is written as OpenAI chat JSONL.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ragtune.errors import InputError
from ragtune.io import atomic_write_jsonl, missing_reason

__all__ = ["ROLES", "MESSAGE_KEYS", "ROW_KEYS", "ChatExample", "plain_text", "read_rows", "detect_format", "to_messages",
           "clean_messages", "write_chat", "Unparsable"]

ROLES = ("system", "user", "assistant", "tool", "function")
MESSAGE_KEYS = {"role", "content", "name", "weight", "function_call", "tool_calls", "tool_call_id", "refusal"}
ROW_KEYS = {"messages", "tools", "functions", "parallel_tool_calls", "metadata", "id"}
SHAREGPT_ROLES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant",
                  "system": "system", "chatgpt": "assistant", "bing": "assistant", "bard": "assistant"}


@dataclass
class ChatExample:
    """One conversation, in OpenAI message form, and where it came from (`file:line`)."""

    messages: list[dict[str, Any]]
    location: str = "?"

    def key(self) -> str:
        """A hash of the normalized conversation, equal for exact duplicates."""
        text = "\x1e".join(f"{m['role']}\x1f{plain_text(m.get('content'))}" for m in self.messages)
        return hashlib.sha1(text.encode("utf-8")).hexdigest()

    def to_row(self) -> dict[str, Any]:
        return {"messages": self.messages}


def plain_text(text: Any) -> str:
    """Lower-cased text with runs of whitespace collapsed: the form in which duplicates are compared."""
    return " ".join(str(text or "").lower().split())



def read_rows(path: str | Path) -> list[tuple[str, Any]]:
    """(location, parsed row) for every row of a JSONL file or JSON array; unparsable lines become None."""
    path = Path(path)
    if path.is_dir():
        raise InputError(f"chat data file {path} is a folder; give a .jsonl or .json file.")
    if not path.is_file():
        reason = missing_reason(path)
        raise InputError(f"chat data file {path} " + ("not found (give a .jsonl or .json file)." if reason == "does not exist"
                                                     else f"{reason}."))
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")  # a BOM from Windows editors is fine; anything else not UTF-8 is refused
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise InputError(f"{path}:{line}: not UTF-8 (byte 0x{data[e.start]:02x} at offset {e.start}); re-save it as "
                         "UTF-8, e.g. `iconv -f latin1 -t utf-8 IN > OUT` (reading it anyway would train on garbled "
                         "text).") from None
    if text.lstrip().startswith("["):
        try:
            rows = json.loads(text)
        except json.JSONDecodeError as e:
            raise InputError(f"{path}:{e.lineno}: the file starts with '[' but is not a valid JSON array ({e.msg}).") from None
        return [(f"{path}:{i}", row) for i, row in enumerate(rows, start=1)]
    out: list[tuple[str, Any]] = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            out.append((f"{path}:{n}", json.loads(line)))
        except json.JSONDecodeError as e:
            out.append((f"{path}:{n}", Unparsable(e.msg)))
    return out


@dataclass
class Unparsable:
    """A line that is not JSON, kept so the checks can report it with its location."""

    reason: str


def detect_format(row: dict[str, Any]) -> str | None:
    """'openai', 'prompt_completion', 'sharegpt', 'alpaca', or None when no known key is present."""
    if "messages" in row:
        return "openai"
    if "conversations" in row:
        return "sharegpt"
    if "prompt" in row and "completion" in row:
        return "prompt_completion"
    if "instruction" in row and "output" in row:
        return "alpaca"
    return None


def to_messages(row: dict[str, Any], fmt: str) -> Any:
    """The row converted to an OpenAI `messages` value (not yet checked)."""
    if fmt == "openai":
        return row["messages"]
    if fmt == "prompt_completion":
        return _prompt_completion(row["prompt"], row["completion"])
    if fmt == "sharegpt":
        conv = row["conversations"]
        if not isinstance(conv, list):
            return conv
        return [_sharegpt_turn(t) for t in conv]
    system = [{"role": "system", "content": row["system"]}] if row.get("system") else []
    user = row["instruction"] if not row.get("input") else f"{row['instruction']}\n\n{row['input']}"
    return system + [{"role": "user", "content": user}, {"role": "assistant", "content": row["output"]}]


def _prompt_completion(prompt: Any, completion: Any) -> list[Any]:
    """Plain strings become a user and an assistant turn; TRL's conversational form is concatenated."""
    if isinstance(prompt, list) and isinstance(completion, list):
        return prompt + completion
    return [{"role": "user", "content": prompt}, {"role": "assistant", "content": completion}]


def _sharegpt_turn(turn: Any) -> Any:
    if not isinstance(turn, dict) or "from" not in turn:
        return turn
    role = SHAREGPT_ROLES.get(str(turn["from"]).lower(), str(turn["from"]))
    return {"role": role, "content": turn.get("value")}


def clean_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Messages with only the keys OpenAI's format knows."""
    return [{k: v for k, v in m.items() if k in MESSAGE_KEYS} for m in messages]


def write_chat(examples: list[ChatExample], path: str | Path) -> Path:
    """Write OpenAI fine-tuning chat JSONL (`{"messages": [...]}` a line), atomically."""
    return atomic_write_jsonl(path, [e.to_row() for e in examples])
