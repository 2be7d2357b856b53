"""The assistant-token loss mask: which tokens of a templated conversation SFT trains on, and the token checks.

`tokenize_chat` renders a conversation with the model's chat template and marks each assistant turn up
to and including its end-of-turn token (weight-0 turns excluded). It works for templates without
generation markers (SmolLM2's) by rendering prefixes. Training, held-out loss and `data validate
--model` all use this one mask.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ragtune.assets import base_of, load_tokenizer
from ragtune.data.chat import ChatExample
from ragtune.errors import InputError, Problem

__all__ = ["TokenizedChat", "end_of_turn", "render", "assistant_spans", "tokenize_chat", "token_rows", "check_tokens",
           "chat_tokenizer", "context_length", "token_check"]


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


def token_rows(tokenizer, examples: list[ChatExample], max_length: int) -> list[tuple[list[int], list[int]]]:
    """(input ids, loss mask) of each example, truncated to `max_length` tokens."""
    out = []
    for ex in examples:
        tc = tokenize_chat(tokenizer, ex.messages)
        out.append((tc.input_ids[:max_length], tc.mask[:max_length]))
    return out


def chat_tokenizer(model: str | Path):
    """The tokenizer of a chat model spec; refuses one without a chat template."""
    tok = load_tokenizer(model)
    if tok.chat_template is None:
        raise InputError(f"model {model} has no chat template, so chat data cannot be rendered for it.")
    return tok


def context_length(model: str | Path) -> int:
    """The model's context window in tokens (max_position_embeddings; 2048 when it says none)."""
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(str(base_of(model)))
    return int(getattr(config, "max_position_embeddings", 2048) or 2048)


def token_check(model: str | Path, max_length: int | None = None):
    """A `ragtune.data.chat.TokenCheck` for `validate_chat`: this model's tokenizer, against its context
    (or `max_length`)."""
    tok = chat_tokenizer(model)
    limit = max_length or context_length(model)

    def check(examples: list[ChatExample]) -> tuple[list[Problem], list[int], int]:
        problems, lengths, _ = check_tokens(examples, tok, limit)
        return problems, lengths, limit

    return check
