"""Held-out evaluation of chat models: assistant-token loss and perplexity, ROUGE-L, side-by-side answers.

Loss is the token-weighted mean negative log-likelihood over assistant tokens only (the same mask
as training); perplexity is exp(loss). ROUGE-L is the LCS F-measure between the model's greedy
answer to the conversation's last user turn and the reference answer, tokenized like the
`rouge-score` package (lowercase, alphanumeric runs, no stemming). Confidence intervals are 95%
percentile bootstraps over examples.

The assistant-token mask comes from the caller (`token_rows`, normally `ragtune.sft.tokenize.token_rows`),
so evaluation scores exactly what training trained on without importing the trainer.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ragtune.assets import load_tokenizer
from ragtune.data.chat import ChatExample
from ragtune.errors import InputError
from ragtune.evaluation.metrics import bootstrap_ci
from ragtune.io import atomic_write_jsonl, atomic_write_text
from ragtune.llm.models import load_causal_lm
from ragtune.records import EvalReport, ModelResult

__all__ = ["TokenRows", "rouge_tokens", "rouge_l", "example_losses", "mean_loss", "split_last_turn", "generate",
           "score_model", "evaluate_sft", "write_side_by_side"]

# (tokenizer, examples, max_length) -> one (input ids, assistant-token mask) pair per example
TokenRows = Callable[[Any, list[ChatExample], int], list[tuple[list[int], list[int]]]]

# ---------------------------------------------------------------------------------------------
# ROUGE-L


def rouge_tokens(text: str) -> list[str]:
    """Lowercased alphanumeric tokens (the `rouge-score` default tokenizer without stemming)."""
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).split()


def _lcs(a: list[str], b: list[str]) -> int:
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b, start=1):
            cur.append(prev[j - 1] + 1 if x == y else max(prev[j], cur[j - 1]))
        prev = cur
    return prev[-1]


def rouge_l(prediction: str, reference: str) -> float:
    """ROUGE-L F1 between two texts (0 when either is empty)."""
    p, r = rouge_tokens(prediction), rouge_tokens(reference)
    if not p or not r:
        return 0.0
    lcs = _lcs(p, r)
    if lcs == 0:
        return 0.0
    precision, recall = lcs / len(p), lcs / len(r)
    return 2 * precision * recall / (precision + recall)


# ---------------------------------------------------------------------------------------------
# loss


def example_losses(model, rows: list[tuple[list[int], list[int]]], pad_id: int = 0, batch_size: int = 8) -> list[tuple[float, int]]:
    """(summed NLL, number of masked-in tokens) per (input ids, loss mask) row."""
    import torch

    device = next(model.parameters()).device
    out: list[tuple[float, int]] = []
    model.eval()
    with torch.no_grad():
        for i in range(0, len(rows), batch_size):
            out += _batch_losses(model, rows[i : i + batch_size], pad_id, device)
    return out


def _batch_losses(model, rows, pad_id: int, device) -> list[tuple[float, int]]:
    import torch

    width = max(len(ids) for ids, _ in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    att = torch.zeros((len(rows), width), dtype=torch.long)
    labels = torch.full((len(rows), width), -100, dtype=torch.long)
    for k, (row_ids, mask) in enumerate(rows):
        n = len(row_ids)
        ids[k, :n] = torch.tensor(row_ids)
        att[k, :n] = 1
        labels[k, :n] = torch.tensor([t if m else -100 for t, m in zip(row_ids, mask)])
    logits = model(input_ids=ids.to(device), attention_mask=att.to(device)).logits.float()
    shift_logits, shift_labels = logits[:, :-1], labels[:, 1:].to(device)
    nll = torch.nn.functional.cross_entropy(shift_logits.transpose(1, 2), shift_labels, ignore_index=-100, reduction="none")
    valid = shift_labels != -100
    return [(float(nll[k][valid[k]].sum()), int(valid[k].sum())) for k in range(len(rows))]


def mean_loss(losses: list[tuple[float, int]]) -> float:
    tokens = sum(n for _, n in losses)
    if tokens == 0:
        raise InputError("no assistant tokens to evaluate (every example is empty after masking).")
    return sum(s for s, _ in losses) / tokens


# ---------------------------------------------------------------------------------------------
# generation


def split_last_turn(ex: ChatExample) -> tuple[list[dict[str, Any]], str]:
    """The conversation up to its last assistant turn (the prompt) and that turn's text (the reference)."""
    last = max(i for i, m in enumerate(ex.messages) if m["role"] == "assistant")
    return ex.messages[:last], ex.messages[last].get("content") or ""


def generate(model, tokenizer, prompts: list[list[dict[str, Any]]], max_new_tokens: int = 128, batch_size: int = 8) -> list[str]:
    """Greedy answers to each conversation, batched with left padding."""
    import torch

    tokenizer.padding_side = "left"
    device = next(model.parameters()).device
    answers: list[str] = []
    model.eval()
    for i in range(0, len(prompts), batch_size):
        texts = [tokenizer.apply_chat_template(p, tokenize=False, add_generation_prompt=True) for p in prompts[i : i + batch_size]]
        enc = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(device)
        with torch.no_grad():
            out = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False,
                                 pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id)
        answers += tokenizer.batch_decode(out[:, enc["input_ids"].shape[1] :], skip_special_tokens=True)
    return [a.strip() for a in answers]


# ---------------------------------------------------------------------------------------------
# the evaluation


def score_model(label: str, spec: str | Path, examples: list[ChatExample], token_rows: TokenRows, generate_n: int,
                max_new_tokens: int, max_length: int = 1024, batch_size: int = 8, device: str = "auto") -> tuple[ModelResult, list[str]]:
    """Held-out loss (+ ci95) of one model and its answers (ROUGE-L) to the first `generate_n` examples."""
    tok = load_tokenizer(spec)
    model = load_causal_lm(spec, device=device)
    losses = example_losses(model, token_rows(tok, examples, max_length), tok.pad_token_id or 0, batch_size)
    loss = mean_loss(losses)
    per_ex = [s / n if n else 0.0 for s, n in losses]
    lo, hi = bootstrap_ci(per_ex, weights=[n for _, n in losses])
    result = ModelResult(model=label, metrics={"loss": loss, "perplexity": math.exp(loss)},
                         ci95={"loss": [lo, hi], "perplexity": [math.exp(lo), math.exp(hi)]})
    answers: list[str] = []
    if generate_n > 0:
        prompts, refs = zip(*[split_last_turn(e) for e in examples[:generate_n]])
        answers = generate(model, tok, list(prompts), max_new_tokens, batch_size)
        scores = [rouge_l(a, r) for a, r in zip(answers, refs)]
        result.metrics["rouge_l"] = sum(scores) / len(scores)
        result.ci95["rouge_l"] = list(bootstrap_ci(scores))
    return result, answers


def evaluate_sft(examples: list[ChatExample], models: Mapping[str, str | Path], token_rows: TokenRows, *, dataset: str = "chat",
                 generate_n: int = 50, max_new_tokens: int = 128, max_length: int = 1024, batch_size: int = 8,
                 samples_out: str | Path | None = None, device: str = "auto") -> EvalReport:
    """Evaluate each labelled model on held-out chats (task "sft"); the first is the baseline.

    `samples_out` (a .md file) gets the side-by-side answers; a .jsonl twin holds them as records.
    """
    if not models:
        raise InputError("give at least one --model to evaluate.")
    results, answers = [], {}
    for label, spec in models.items():
        result, answers[label] = score_model(label, spec, examples, token_rows, generate_n, max_new_tokens, max_length, batch_size,
                                             device)
        results.append(result)
    if samples_out and generate_n > 0:
        write_side_by_side(examples[:generate_n], answers, samples_out)
    return EvalReport(task="sft", dataset=dataset, num_queries=len(examples), num_generated=min(generate_n, len(examples)),
                      results=results)


def write_side_by_side(examples: list[ChatExample], answers: dict[str, list[str]], path: str | Path) -> Path:
    """A markdown page (and a .jsonl twin) with each prompt, the reference and every model's answer."""
    path = Path(path)
    records, lines = [], ["# Side-by-side answers\n"]
    for i, ex in enumerate(examples):
        prompt, ref = split_last_turn(ex)
        question = prompt[-1].get("content", "") if prompt else ""
        rec = {"location": ex.location, "prompt": question, "reference": ref,
               "answers": {label: a[i] for label, a in answers.items()}}
        records.append(rec)
        lines += [f"## {i + 1}. {question}\n", f"**reference**: {ref}\n"]
        lines += [f"**{label}** (ROUGE-L {rouge_l(a[i], ref):.2f}): {a[i]}\n" for label, a in answers.items()]
    atomic_write_jsonl(path.with_suffix(".jsonl"), records)
    return atomic_write_text(path, "\n".join(lines))
