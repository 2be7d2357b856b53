"""Chat-LLM commands: `data validate`, `train sft`, `eval sft`, `sft merge`, `sft submit`, `chat`, `distill`.

Thin: parse options, call the library (`ragtune.data.chat`, `ragtune.sft.*`), print. Heavy imports
happen inside the functions so `ragtune --help` stays instant.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from ragtune.cli.common import console, err_console, handle_errors

app = typer.Typer(help="Chat-LLM runs after training: merge an adapter, or submit data to a hosted fine-tuning API.",
                  no_args_is_help=True)

MODEL_HELP = "registry name (smollm2-135m-instruct, qwen2.5-coder-0.5b-instruct), model folder, adapter folder or run folder"


# ---------------------------------------------------------------------------------------------
# data validate


def _is_retrieval(path: Path) -> bool:
    """A BEIR folder, a LlamaIndex JSON object, or ragtune retrieval JSONL (rows with a 'type')."""
    if path.is_dir():
        return True
    try:
        with path.open(encoding="utf-8") as f:
            head = f.read(1 << 16).lstrip()
    except OSError:
        return False
    if path.suffix == ".json" and head.startswith("{"):
        return True
    first = head.splitlines()[0] if head else ""
    try:
        row = json.loads(first)
    except json.JSONDecodeError:
        return False
    return isinstance(row, dict) and row.get("type") in ("corpus", "query")


@handle_errors
def validate(
    file: Path = typer.Argument(..., help="chat data (OpenAI chat JSONL, prompt/completion, sharegpt, alpaca) or a retrieval dataset (LlamaIndex JSON, BEIR folder)"),
    model: Optional[str] = typer.Option(None, "--model", "-m", help=f"check tokens, the loss mask and end-of-turn tokens with this model's tokenizer ({MODEL_HELP}); without it token counts are estimated"),
    val: Optional[Path] = typer.Option(None, "--val", help="validation file to check for train/val overlap"),
    max_length: Optional[int] = typer.Option(None, "--max-length", help="context budget in tokens (default: the model's context)"),
    price: float = typer.Option(3.0, "--price-per-mtok", help="training price per million tokens for the cost estimate (USD; 3.0 is gpt-4o-mini's list price)"),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="also write the valid conversations as OpenAI chat JSONL here"),
    show: int = typer.Option(50, "--show", help="print at most this many problems of each severity"),
) -> None:
    """Check a dataset before training: every problem as `file:line: what is wrong`.

    For chat data: the OpenAI format checks (types, roles, unknown keys, missing content, no assistant
    message), token counts against the context with a truncation count, an empty assistant-token loss
    mask, assistant turns that do not end with the end-of-turn token, exact and near duplicates, and
    train/val overlap (--val). Errors make the exit code non-zero; warnings do not. A summary gives the
    token distribution, the default epoch count and a cost estimate. Example:

        ragtune data validate chats.jsonl --model smollm2-135m-instruct --val val.jsonl
    """
    if _is_retrieval(file):
        return _validate_retrieval(file, show)
    from ragtune.data.chat import validate_chat, write_chat

    report = validate_chat(file, model=model, val=val, max_length=max_length, price_per_mtok=price)
    _print_problems(report.errors, "error", show)
    _print_problems(report.warnings, "warning", show)
    _print_summary(report.summary, len(report.errors), len(report.warnings))
    if output is not None:
        write_chat(report.examples, output)
        console.print(f"wrote {len(report.examples)} conversations as OpenAI chat JSONL to {output}")
    if report.errors:
        raise typer.Exit(code=1)


def _validate_retrieval(path: Path, show: int) -> None:
    from ragtune.data.retrieval import load_dataset, validate as validate_retrieval

    ds = load_dataset(path)
    problems = validate_retrieval(ds, where=str(path))
    errors = [p for p in problems if p.severity == "error"]
    _print_problems(errors, "error", show)
    _print_problems([p for p in problems if p.severity != "error"], "warning", show)
    console.print(f"retrieval dataset: {ds.summary()}; {len(errors)} error(s)")
    if errors:
        raise typer.Exit(code=1)


def _print_problems(problems, label: str, show: int) -> None:
    style = "red" if label == "error" else "yellow"
    for p in problems[:show]:
        console.print(f"[{style}]{label}[/] {p}", markup=True, highlight=False, soft_wrap=True)
    if len(problems) > show:
        console.print(f"... and {len(problems) - show} more {label}s (use --show N)")


def _print_summary(s: dict, n_err: int, n_warn: int) -> None:
    if not s.get("examples"):
        console.print(f"no valid conversations; {n_err} error(s), {n_warn} warning(s)")
        return
    t = s["tokens"]
    approx = "" if s["tokens_exact"] else " (estimated as chars/4; give --model for exact counts)"
    console.print(
        f"{s['examples']} conversations; tokens per example{approx}: min {t['min']}, mean {t['mean']}, p50 {t['p50']}, "
        f"p95 {t['p95']}, max {t['max']}; total {t['total']}\n"
        f"{s['truncated']} example(s) longer than max_length {s['max_length']}\n"
        f"default epochs {s['epochs']}: about {s['billed_tokens']} billed training tokens, "
        f"~${s['estimated_cost']:.2f} at ${s['price_per_million_tokens']}/1M tokens\n"
        f"{n_err} error(s), {n_warn} warning(s)"
    )


# ---------------------------------------------------------------------------------------------
# train sft


@handle_errors
def train_sft(
    data: Path = typer.Argument(..., help="training chat data (OpenAI chat JSONL, prompt/completion, sharegpt, alpaca)"),
    model: str = typer.Option("smollm2-135m-instruct", "--model", "-m", help=f"base model: {MODEL_HELP}"),
    output: Path = typer.Option(..., "--output", "-o", help="run folder; rerun the same command to resume"),
    val: Optional[Path] = typer.Option(None, "--val", help="validation chat data (default: hold out --val-fraction)"),
    val_fraction: float = typer.Option(0.1, "--val-fraction", help="share held out for validation when no --val is given"),
    full: bool = typer.Option(False, "--full", help="full fine-tune instead of LoRA"),
    lora_r: int = typer.Option(16, "--lora-r", help="LoRA rank"),
    lora_alpha: int = typer.Option(32, "--lora-alpha", help="LoRA alpha"),
    target_modules: str = typer.Option("all-linear", "--target-modules", help="'all-linear' or names like q_proj,v_proj"),
    epochs: float = typer.Option(3.0, "--epochs", help="passes over the training data"),
    learning_rate: Optional[float] = typer.Option(None, "--lr", help="peak learning rate (default 2e-4 LoRA, 2e-5 full)"),
    batch_size: int = typer.Option(8, "--batch-size", help="examples per step"),
    grad_accum: int = typer.Option(1, "--grad-accum", help="gradient accumulation steps"),
    max_length: int = typer.Option(1024, "--max-length", help="truncate examples to this many tokens"),
    packing: bool = typer.Option(False, "--packing", help="pack examples into rows of --max-length tokens (padding-free); "
                                 "for GPUs: on a 2-core CPU it measured 0.38x the tokens/s of TRL's defaults"),
    padding_free: bool = typer.Option(True, "--padding-free/--padded", help="flatten each batch instead of padding it"),
    gradient_checkpointing: Optional[bool] = typer.Option(None, "--gradient-checkpointing/--no-gradient-checkpointing",
                                                          help="recompute activations to save memory (default: on when "
                                                          "a batch can hold more than 2048 tokens)"),
    seed: int = typer.Option(42, "--seed", help="seed for split, init and data order"),
    allow_regression: bool = typer.Option(False, "--allow-regression", help="write model/ even if validation loss got worse"),
) -> None:
    """Fine-tune a chat LLM on conversations, loss on assistant tokens only (LoRA by default).

    Writes RUN/ with config.json, metrics.json (base vs tuned validation loss, tokens/s, peak memory),
    curve.json, model/ (the adapter; use it with `ragtune chat RUN`, `ragtune eval sft`, `ragtune sft
    merge RUN`), checkpoints/, data/, eval/val.json, card.md and log.txt. Example:

        ragtune train sft chats.jsonl --model smollm2-135m-instruct -o runs/support
    """
    from ragtune.sft.config import SFTConfig
    from ragtune.sft.train import train_sft as run_sft

    config = SFTConfig(data=str(data), model=model, output=str(output), val=str(val) if val else None,
                       val_fraction=val_fraction, full=full, lora_r=lora_r, lora_alpha=lora_alpha,
                       target_modules=target_modules, epochs=epochs, learning_rate=learning_rate,
                       batch_size=batch_size, grad_accum=grad_accum, max_length=max_length, packing=packing,
                       padding_free=padding_free, gradient_checkpointing=gradient_checkpointing, seed=seed,
                       allow_regression=allow_regression)
    m = run_sft(config)
    if m["base"] and m["tuned"]:
        console.print(f"validation loss {m['base']['val_loss']:.4f} (base) -> {m['tuned']['val_loss']:.4f} (tuned), "
                      f"{100 * m['val_loss_reduction']:.1f}% lower")
    console.print(f"{m['train_tokens_per_second']:.0f} training tokens/s, peak memory {m['peak_memory_mb']:.0f} MiB")
    console.print(m.get("refused") or f"model: {output / 'model'}")


# ---------------------------------------------------------------------------------------------
# eval sft


@handle_errors
def eval_sft(
    data: Path = typer.Argument(..., help="held-out chat data; the last assistant turn of each conversation is the reference"),
    model: list[str] = typer.Option(..., "--model", "-m", help=f"a model to evaluate (repeat to compare): {MODEL_HELP}"),
    json_out: Optional[Path] = typer.Option(None, "--json", help="write the evaluation JSON here"),
    samples: Optional[Path] = typer.Option(None, "--samples", help="side-by-side answers (.md, plus a .jsonl twin); default next to --json"),
    generate: int = typer.Option(50, "--generate", help="generate answers for the first N conversations (ROUGE-L); 0 = loss only"),
    max_new_tokens: int = typer.Option(128, "--max-new-tokens", help="longest generated answer"),
    max_length: int = typer.Option(1024, "--max-length", help="truncate conversations to this many tokens"),
    batch_size: int = typer.Option(8, "--batch-size", help="examples per forward pass"),
) -> None:
    """Held-out assistant-token loss, perplexity and ROUGE-L of each model, with 95% bootstrap CIs.

        ragtune eval sft val.jsonl --model smollm2-135m-instruct --model runs/support --json runs/support/eval/sft.json
    """
    from ragtune.sft.evaluate import evaluate_sft

    samples = samples or (json_out.with_suffix(".samples.md") if json_out else None)
    report = evaluate_sft(data, model, generate_n=generate, max_new_tokens=max_new_tokens, max_length=max_length,
                          batch_size=batch_size, json_out=json_out, samples_out=samples)
    for r in report["results"]:
        m, ci = r["metrics"], r["ci95"]
        rouge = f"  rouge_l {m['rouge_l']:.3f} [{ci['rouge_l'][0]:.3f}, {ci['rouge_l'][1]:.3f}]" if "rouge_l" in m else ""
        console.print(f"{r['model']}: loss {m['loss']:.4f} [{ci['loss'][0]:.4f}, {ci['loss'][1]:.4f}]  "
                      f"perplexity {m['perplexity']:.2f}{rouge}")
    if samples and generate:
        console.print(f"side-by-side answers: {samples}")


# ---------------------------------------------------------------------------------------------
# sft merge, chat


@app.command("merge")
@handle_errors
def merge(
    run: Path = typer.Argument(..., help="a `train sft` run folder or adapter folder"),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="where to write the merged model (default RUN/merged)"),
) -> None:
    """Merge a LoRA adapter into its base model and write a plain transformers model folder."""
    from ragtune.sft.merge import merge_adapter

    out = merge_adapter(run, output)
    console.print(f"merged model: {out}")


@handle_errors
def chat(
    model: str = typer.Argument(..., help=MODEL_HELP),
    prompt: Optional[str] = typer.Option(None, "--prompt", "-p", help="answer this one prompt and exit"),
    system: Optional[str] = typer.Option(None, "--system", help="system message"),
    max_new_tokens: int = typer.Option(256, "--max-new-tokens", help="longest answer"),
    temperature: float = typer.Option(0.0, "--temperature", help="0 = greedy"),
) -> None:
    """Talk to a model: interactive (empty line or Ctrl-D quits), or one shot with --prompt."""
    from ragtune.sft.chat import ChatSession

    session = ChatSession(model, system=system, max_new_tokens=max_new_tokens, temperature=temperature)
    if prompt is not None:
        console.print(session.ask(prompt), markup=False, highlight=False)
        return
    err_console.print(f"chatting with {model}; empty line or Ctrl-D to quit")
    while True:
        try:
            line = input("> ")
        except EOFError:
            break
        if not line.strip():
            break
        console.print(session.ask(line), markup=False, highlight=False)


# ---------------------------------------------------------------------------------------------
# sft submit


@app.command("submit")
@handle_errors
def submit(
    file: Path = typer.Argument(..., help="training chat data (validated first; errors stop the upload)"),
    provider: str = typer.Option("openai", "--provider", help="hosted fine-tuning API; 'openai' (any server speaking its files + fine_tuning/jobs endpoints)"),
    model: str = typer.Option("gpt-4o-mini-2024-07-18", "--model", "-m", help="hosted base model to fine-tune"),
    val: Optional[Path] = typer.Option(None, "--val", help="validation chat data to upload too"),
    base_url: Optional[str] = typer.Option(None, "--base-url", help="API base URL (default: the provider's)"),
    api_key_env: str = typer.Option("OPENAI_API_KEY", "--api-key-env", help="environment variable holding the API key"),
    suffix: Optional[str] = typer.Option(None, "--suffix", help="suffix for the fine-tuned model name"),
    epochs: Optional[int] = typer.Option(None, "--epochs", help="n_epochs hyperparameter (default: the provider's)"),
    output: Path = typer.Option(Path("finetuned_model.json"), "--output", "-o", help="write the job result (model id) here"),
    poll: float = typer.Option(10.0, "--poll", help="seconds between status checks"),
    timeout: float = typer.Option(24 * 3600, "--timeout", help="give up waiting after this many seconds (the job keeps running)"),
) -> None:
    """Validate, upload, create a hosted fine-tuning job, poll it with a status line, write the model id."""
    from ragtune.sft.submit import submit_job

    result = submit_job(file, provider=provider, model=model, val=val, base_url=base_url, api_key_env=api_key_env,
                        suffix=suffix, epochs=epochs, output=output, poll_seconds=poll, timeout=timeout,
                        status=lambda line: err_console.print(line, markup=False, highlight=False))
    console.print(f"job {result['job_id']} {result['status']}: fine-tuned model {result.get('fine_tuned_model')} "
                  f"(written to {output})")
    if result["status"] != "succeeded":
        raise typer.Exit(code=1)


# ---------------------------------------------------------------------------------------------
# distill


@handle_errors
def distill(
    docs: list[Path] = typer.Argument(..., help="document files or folders (txt, md, html, pdf, jsonl)"),
    teacher: str = typer.Option("local", "--teacher", help="teacher LLM: local, local:MODEL (e.g. local:qwen2.5-coder-0.5b-instruct) or openai:MODEL"),
    student: str = typer.Option("smollm2-135m-instruct", "--student", help=f"student model: {MODEL_HELP}"),
    output: Path = typer.Option(..., "--output", "-o", help="run folder; rerun to resume (recorded answers are reused)"),
    base_url: Optional[str] = typer.Option(None, "--base-url", help="OpenAI-compatible server for an openai: teacher"),
    api_key_env: str = typer.Option("OPENAI_API_KEY", "--api-key-env", help="environment variable holding the teacher's key"),
    retriever: str = typer.Option("minilm", "--retriever", help="embedding model that retrieves each question's context"),
    top_k: int = typer.Option(3, "--top-k", help="retrieved chunks per question"),
    questions_per_chunk: int = typer.Option(1, "--questions-per-chunk", help="questions generated per chunk"),
    filter_questions: bool = typer.Option(True, "--filter/--no-filter", help="round-trip filter on generated questions"),
    max_tokens: int = typer.Option(256, "--max-tokens", help="longest teacher answer"),
    concurrency: int | None = typer.Option(None, "--concurrency", help="teacher calls in flight to a server "
                                           "(default 8) / prompts per batch of a local teacher (default 32)"),
    epochs: float = typer.Option(3.0, "--epochs", help="student SFT epochs"),
    learning_rate: Optional[float] = typer.Option(None, "--lr", help="student learning rate (default 2e-4)"),
    max_length: int = typer.Option(1024, "--max-length", help="longest student training sequence"),
    seed: int = typer.Option(42, "--seed", help="seed for split and training"),
) -> None:
    """Distill a teacher into a small student: questions over your documents, RAG answers from the
    teacher (recorded to RUN/data/teacher.jsonl), validation, then LoRA SFT of the student into RUN/.

        ragtune distill docs/ --teacher local:qwen2.5-coder-0.5b-instruct --student smollm2-135m-instruct -o runs/distill
    """
    from ragtune.sft.config import DistillConfig
    from ragtune.sft.distill import distill as run_distill

    config = DistillConfig(docs=[str(d) for d in docs], output=str(output), teacher=teacher, student=student,
                           base_url=base_url, api_key_env=api_key_env, retriever=retriever, top_k=top_k,
                           questions_per_chunk=questions_per_chunk, filter=filter_questions, max_tokens=max_tokens,
                           concurrency=concurrency, epochs=epochs, learning_rate=learning_rate, max_length=max_length,
                           seed=seed)
    m = run_distill(config)
    d = m["distill"]
    console.print(f"{d['questions']} questions; {d.get('train_chats', 0)} train / {d.get('val_chats', 0)} val chats "
                  f"recorded in {output / 'data' / 'teacher.jsonl'}")
    if m["base"] and m["tuned"]:
        console.print(f"student validation loss {m['base']['val_loss']:.4f} -> {m['tuned']['val_loss']:.4f}")
    console.print(m.get("refused") or f"student: {output / 'model'}")
