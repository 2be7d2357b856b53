"""Chat data for LLM fine-tuning: read four formats, write OpenAI chat JSONL, validate before training.

Formats read (detected per row):
- OpenAI fine-tuning chat: `{"messages": [{"role", "content", "weight"?}, ...]}`;
- prompt/completion: `{"prompt": str, "completion": str}` (becomes one user and one assistant turn);
- sharegpt: `{"conversations": [{"from": "human"|"gpt"|"system", "value": str}, ...]}`;
- alpaca: `{"instruction": str, "input"?: str, "output": str, "system"?: str}`.
Files are JSONL (one row a line) or a JSON array. Everything is written as OpenAI chat JSONL.

Validation (`validate_chat`) reports each finding as `file:line: what is wrong`, errors apart from
warnings: the OpenAI data-preparation checks, token counts against the model's context, an empty
assistant-token loss mask, assistant turns that do not end with the end-of-turn token, exact and
near duplicates, and train/val overlap. `tokenize_chat` builds the exact assistant-token mask used in
training, also for chat templates without generation markers (SmolLM2's).
"""

from __future__ import annotations

import hashlib
import json
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ragtune.errors import DataValidationError, InputError, Problem
from ragtune.io import atomic_write_jsonl

ROLES = ("system", "user", "assistant", "tool", "function")
MESSAGE_KEYS = {"role", "content", "name", "weight", "function_call", "tool_calls", "tool_call_id", "refusal"}
ROW_KEYS = {"messages", "tools", "functions", "parallel_tool_calls", "metadata", "id"}
SHAREGPT_ROLES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant",
                  "system": "system", "chatgpt": "assistant", "bing": "assistant", "bard": "assistant"}
NEAR_DUPLICATE_JACCARD = 0.9


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


def plain_text(text: Any) -> str:
    """Lower-cased text with runs of whitespace collapsed: the form in which duplicates are compared."""
    return " ".join(str(text or "").lower().split())


# ---------------------------------------------------------------------------------------------
# reading and converting


def read_rows(path: str | Path) -> list[tuple[str, Any]]:
    """(location, parsed row) for every row of a JSONL file or JSON array; unparsable lines become None."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"chat data file {path} not found (give a .jsonl or .json file).")
    text = path.read_text(encoding="utf-8", errors="replace")
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
            out.append((f"{path}:{n}", _Unparsable(e.msg)))
    return out


@dataclass
class _Unparsable:
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


def read_chat(path: str | Path) -> tuple[list[ChatExample], list[Problem]]:
    """Every well-formed conversation of a file and every structural problem found on the way."""
    examples: list[ChatExample] = []
    problems: list[Problem] = []
    for loc, row in read_rows(path):
        found = check_row(row, loc)
        problems += found
        if any(p.severity == "error" for p in found):
            continue
        examples.append(ChatExample(messages=_clean(to_messages(row, detect_format(row))), location=loc))
    return examples, problems


def _clean(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in m.items() if k in MESSAGE_KEYS} for m in messages]


def load_chat(path: str | Path) -> list[ChatExample]:
    """Read a chat file; raise DataValidationError (every problem with file:line) on any structural error."""
    examples, problems = read_chat(path)
    if any(p.severity == "error" for p in problems):
        raise DataValidationError(f"chat data {path}", problems)
    if not examples:
        raise InputError(f"{path}: no conversations found (the file is empty).")
    return examples


def write_chat(examples: list[ChatExample], path: str | Path) -> Path:
    """Write OpenAI fine-tuning chat JSONL (`{"messages": [...]}` a line), atomically."""
    return atomic_write_jsonl(path, [e.to_row() for e in examples])


# ---------------------------------------------------------------------------------------------
# structural checks (OpenAI data preparation)


def check_row(row: Any, loc: str) -> list[Problem]:
    """The OpenAI format checks for one row: types, roles, unknown keys, missing content, no assistant."""
    if isinstance(row, _Unparsable):
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
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, _Unparsable) else "?"
    return f"{type(value).__name__} {text[:60]}"


# ---------------------------------------------------------------------------------------------
# tokens and the assistant-token mask


@dataclass
class TokenizedChat:
    """Token ids of a rendered conversation and which of them carry loss (assistant turns)."""

    input_ids: list[int]
    mask: list[int]
    problems: list[str] = field(default_factory=list)


def end_of_turn(tokenizer) -> str:
    """The end-of-turn token text (`<|im_end|>` for SmolLM2 and Qwen2.5)."""
    if not tokenizer.eos_token:
        raise InputError("the tokenizer defines no eos token, so assistant turns cannot be checked for an end-of-turn token.")
    return tokenizer.eos_token


def render(tokenizer, messages: list[dict[str, Any]], add_generation_prompt: bool = False) -> str:
    """The chat template applied to `messages`, as text."""
    msgs = [{"role": m["role"], "content": m.get("content") or ""} for m in messages]
    if not msgs and not add_generation_prompt:
        return ""
    return tokenizer.apply_chat_template(msgs, tokenize=False, add_generation_prompt=add_generation_prompt)


def assistant_spans(tokenizer, messages: list[dict[str, Any]]) -> tuple[str, list[tuple[int, int]], list[str]]:
    """The rendered text and the character spans to train on: each assistant turn up to and including
    its end-of-turn token (not the template's newline after it); turns with `weight: 0` are skipped.

    Works for templates without generation markers by rendering prefixes: the turn starts where the
    prompt rendered with `add_generation_prompt=True` ends and stops at its end-of-turn token.
    """
    eot = end_of_turn(tokenizer)
    full = render(tokenizer, messages)
    spans, problems = [], []
    for i, m in enumerate(messages):
        if m["role"] != "assistant" or m.get("weight", 1) == 0:
            continue
        start_text = render(tokenizer, messages[:i], add_generation_prompt=True)
        end_text = render(tokenizer, messages[: i + 1])
        if not (full.startswith(end_text) and end_text.startswith(start_text)):
            problems.append(f"messages[{i}]: the chat template does not render this conversation as a sequence of "
                            "turns (a prefix changes when a turn is added), so the assistant turn cannot be located")
            continue
        segment = end_text[len(start_text):]
        k = segment.rfind(eot)
        if k < 0 or segment[k + len(eot):].strip():
            problems.append(f"messages[{i}]: the assistant turn does not end with the end-of-turn token {eot!r}")
            continue
        spans.append((len(start_text), len(start_text) + k + len(eot)))
    return full, spans, problems


def tokenize_chat(tokenizer, messages: list[dict[str, Any]]) -> TokenizedChat:
    """Token ids of the templated conversation and the exact assistant-token loss mask (1 = train)."""
    text, spans, problems = assistant_spans(tokenizer, messages)
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    mask = [int(any(s <= start < e for s, e in spans)) for start, _ in enc["offset_mapping"]]
    eot_id = tokenizer.convert_tokens_to_ids(end_of_turn(tokenizer))
    ids = enc["input_ids"]
    for s, e in spans:
        last = max((j for j, (a, _) in enumerate(enc["offset_mapping"]) if s <= a < e), default=None)
        if last is None:
            problems.append("an assistant turn has no tokens")
        elif ids[last] != eot_id:
            problems.append(f"an assistant turn's last token is {tokenizer.decode([ids[last]])!r}, "
                            f"not the end-of-turn token {end_of_turn(tokenizer)!r}")
    return TokenizedChat(input_ids=list(ids), mask=mask, problems=problems)


def check_tokens(examples: list[ChatExample], tokenizer, max_length: int) -> tuple[list[Problem], list[int], int]:
    """Token problems per example, token counts, and how many examples exceed `max_length`."""
    problems: list[Problem] = []
    lengths: list[int] = []
    truncated = 0
    for ex in examples:
        tc = tokenize_chat(tokenizer, ex.messages)
        lengths.append(len(tc.input_ids))
        problems += [Problem(ex.location, p) for p in tc.problems]
        if not tc.problems and not any(tc.mask):
            problems.append(Problem(ex.location, "assistant-token loss mask is empty after applying the chat template "
                                                 "(every assistant turn has weight 0 or no tokens)"))
        elif len(tc.input_ids) > max_length:
            truncated += 1
            kept = any(tc.mask[:max_length])
            problems.append(Problem(ex.location, f"{len(tc.input_ids)} tokens, more than max_length {max_length}: "
                                    + ("will be truncated" if kept else "no assistant token survives truncation"),
                                    "warning" if kept else "error"))
    return problems, lengths, truncated


# ---------------------------------------------------------------------------------------------
# duplicates and overlap


def _shingles(text: str, n: int = 3) -> set[str]:
    words = re.findall(r"\w+", text.lower())
    if len(words) < n:
        return {" ".join(words)}
    return {" ".join(words[i : i + n]) for i in range(len(words) - n + 1)}


def _text(ex: ChatExample) -> str:
    return "\n".join(f"{m['role']}: {m.get('content') or ''}" for m in ex.messages)


def near_duplicate_pairs(texts: list[str], threshold: float = NEAR_DUPLICATE_JACCARD) -> list[tuple[int, int, float]]:
    """Pairs (i, j, jaccard) of texts whose word-3-gram Jaccard similarity is at least `threshold`.

    Candidates come from MinHash LSH (16 bands of 4 hashes), then the exact Jaccard is checked, so
    every reported pair is real; a pair above 0.9 is missed with probability below 1e-6.
    """
    import numpy as np

    sets = [_shingles(t) for t in texts]
    signatures = _minhash(sets, np)
    buckets: dict[tuple, list[int]] = {}
    for i, sig in enumerate(signatures):
        for b in range(16):
            buckets.setdefault((b, *sig[b * 4 : b * 4 + 4].tolist()), []).append(i)
    candidates = {(a, c) for ids in buckets.values() for k, a in enumerate(ids) for c in ids[k + 1 :]}
    pairs = []
    for a, c in sorted(candidates):
        jac = len(sets[a] & sets[c]) / max(1, len(sets[a] | sets[c]))
        if jac >= threshold:
            pairs.append((a, c, jac))
    return pairs


def _minhash(sets: list[set[str]], np) -> Any:
    prime = (1 << 61) - 1
    rng = np.random.default_rng(0)
    a = rng.integers(1, 1 << 31, size=64, dtype=np.uint64)
    b = rng.integers(0, 1 << 31, size=64, dtype=np.uint64)
    out = np.zeros((len(sets), 64), dtype=np.uint64)
    for i, s in enumerate(sets):
        h = np.array([zlib.crc32(x.encode("utf-8")) for x in s] or [0], dtype=np.uint64)
        out[i] = ((h[:, None] * a[None, :] + b[None, :]) % prime).min(axis=0)
    return out


def duplicate_problems(examples: list[ChatExample]) -> list[Problem]:
    """Warnings for exact duplicates (same normalized conversation) and near duplicates."""
    problems, first = [], {}
    for ex in examples:
        k = ex.key()
        if k in first:
            problems.append(Problem(ex.location, f"exact duplicate of {first[k]}", "warning"))
        else:
            first[k] = ex.location
    unique = [ex for ex in examples if first[ex.key()] == ex.location]
    for a, c, jac in near_duplicate_pairs([_text(e) for e in unique]):
        problems.append(Problem(unique[c].location, f"near duplicate of {unique[a].location} (Jaccard {jac:.2f})", "warning"))
    return problems


def overlap_problems(train: list[ChatExample], val: list[ChatExample]) -> list[Problem]:
    """Validation examples also in training data: exact copies are errors, near copies warnings."""
    seen = {ex.key(): ex.location for ex in train}
    problems = [Problem(v.location, f"also in the training data at {seen[v.key()]} (train/val overlap)")
                for v in val if v.key() in seen]
    texts = [_text(e) for e in train] + [_text(e) for e in val]
    n = len(train)
    for a, c, jac in near_duplicate_pairs(texts):
        if a < n <= c and val[c - n].key() not in seen:
            problems.append(Problem(val[c - n].location, f"near copy of training example {train[a].location} "
                                    f"(Jaccard {jac:.2f}, train/val overlap)", "warning"))
    return problems


# ---------------------------------------------------------------------------------------------
# the whole validation


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
    model: str | None = None,
    val: str | Path | None = None,
    max_length: int | None = None,
    price_per_mtok: float = 3.0,
) -> ChatReport:
    """Validate a chat file (and optionally its validation file) and summarize it.

    Without `model`, token counts are estimated as characters / 4 and token checks are skipped.
    """
    examples, problems = read_chat(path)
    problems += duplicate_problems(examples)
    if val is not None:
        val_examples, val_problems = read_chat(val)
        problems += val_problems + overlap_problems(examples, val_examples)
    if model is None:
        lengths = [sum(len(m.get("content") or "") for m in e.messages) // 4 + 4 * len(e.messages) for e in examples]
        max_length = max_length or 4096
    else:
        tokenizer, context = load_tokenizer(model)
        max_length = max_length or context
        token_problems, lengths, _ = check_tokens(examples, tokenizer, max_length)
        problems += token_problems
    summary = summarize(lengths, max_length, model is not None, price_per_mtok)
    summary["truncated"] = sum(1 for n in lengths if n > max_length)
    return ChatReport(path=str(path), examples=examples, problems=_sorted(problems), summary=summary)


def _sorted(problems: list[Problem]) -> list[Problem]:
    def key(p: Problem) -> tuple:
        m = re.match(r"(.*?):(\d+)", p.location)
        return (m.group(1), int(m.group(2))) if m else (p.location, 0)

    return sorted(problems, key=key)


def load_tokenizer(model: str):
    """The tokenizer of a model spec (registry name, folder, adapter run folder) and its context length."""
    from transformers import AutoConfig, AutoTokenizer

    from ragtune.sft.models import base_of

    folder = base_of(model)
    tok = AutoTokenizer.from_pretrained(str(folder))
    if tok.chat_template is None:
        raise InputError(f"model {model} has no chat template, so chat data cannot be rendered for it.")
    config = AutoConfig.from_pretrained(str(folder))
    return tok, int(getattr(config, "max_position_embeddings", 2048) or 2048)
