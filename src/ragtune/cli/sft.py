"""Chat-LLM commands: `train sft`, `eval sft`, `sft merge`, `sft submit`, `chat`, `distill`.

Thin: parse options, call the library (`ragtune.sft.*`, `ragtune.evaluation.sft`), print. Heavy imports
happen inside the functions so `ragtune --help` stays instant.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Optional

import typer

from ragtune.cli.common import CHAT_MODEL_HELP, above, console, err_console, handle_errors, say, show_decision, write_page
from ragtune.cli.options import config_from, config_option, option
from ragtune.device import DEVICE_HELP
from ragtune.sft.config import DistillConfig, SFTConfig

S, D = SFTConfig, DistillConfig

app = typer.Typer(help="Chat-LLM runs after training: merge an adapter, or submit data to a hosted fine-tuning API.",
                  no_args_is_help=True)



# ---------------------------------------------------------------------------------------------
# train sft


@handle_errors
def train_sft(
    dataset: Optional[Path] = typer.Argument(None, help="training chat data (OpenAI chat JSONL, prompt/completion, sharegpt, alpaca)",
                                             show_default=False),
    output: Optional[Path] = option(S, "output", "-o"),
    model: Optional[str] = option(S, "model", "-m", help=f"base model: {CHAT_MODEL_HELP}"),
    val_dataset: Optional[Path] = option(S, "val_dataset"),
    val_fraction: Optional[float] = option(S, "val_fraction"),
    full: Optional[bool] = option(S, "full", bool_flag=True),
    lora_r: Optional[int] = option(S, "lora_r"),
    lora_alpha: Optional[int] = option(S, "lora_alpha"),
    lora_dropout: Optional[float] = option(S, "lora_dropout"),
    target_modules: Optional[str] = option(S, "target_modules"),
    epochs: Optional[float] = option(S, "epochs"),
    learning_rate: Optional[float] = option(S, "learning_rate", "--lr"),
    batch_size: Optional[int] = option(S, "batch_size"),
    grad_accum: Optional[int] = option(S, "grad_accum"),
    max_length: Optional[int] = option(S, "max_length"),
    packing: Optional[bool] = option(S, "packing", bool_flag=True),
    padding_free: Optional[bool] = typer.Option(None, "--padding-free/--padded", help=S.model_fields["padding_free"].description,
                                                show_default="on"),
    gradient_checkpointing: Optional[bool] = option(S, "gradient_checkpointing", bool_flag=True),
    warmup_ratio: Optional[float] = option(S, "warmup_ratio"),
    weight_decay: Optional[float] = option(S, "weight_decay"),
    seed: Optional[int] = option(S, "seed"),
    eval_each_epoch: Optional[bool] = option(S, "eval_each_epoch", bool_flag=True),
    allow_regression: Optional[bool] = option(S, "allow_regression", bool_flag=True),
    eval_sql: Optional[str] = option(S, "eval_sql"),
    eval_json: Optional[str] = option(S, "eval_json"),
    json_schema: Optional[str] = option(S, "json_schema"),
    json_constrained: Optional[bool] = option(S, "json_constrained", bool_flag=True),
    logging_steps: Optional[int] = option(S, "logging_steps"),
    device: Optional[str] = option(S, "device"),
    report_to: Optional[Literal["none", "tensorboard", "trackio", "wandb"]] = option(S, "report_to"),
    config: Optional[Path] = config_option(),
) -> None:
    """Fine-tune a chat LLM on conversations, loss on assistant tokens only (LoRA by default).

    Writes RUN/ with config.json, metrics.json (base vs tuned validation loss, tokens/s, peak memory),
    curve.json, model/ (the adapter; use it with `ragtune chat RUN`, `ragtune eval sft`, `ragtune sft
    merge RUN`), checkpoints/, data/, eval/val.json, card.md and log.txt. model/ ships when the validation
    loss is lower than the base's; with --eval-sql DATA, only on a paired test-suite-accuracy gain on those
    held-out questions (eval/sql.json), with --eval-json DATA on a paired field-accuracy gain of valid JSON
    replies (eval/json.json); then the validation loss is recorded, not deciding. Examples:

        ragtune train sft chats.jsonl --model smollm2-135m-instruct -o runs/support
        ragtune sql prepare spider-dev -o data/sql --test-share 0.5
        ragtune train sft data/sql/train.jsonl -m qwen2.5-coder-0.5b-instruct --eval-sql data/sql/test.json -o runs/sql
        ragtune data faq-json -o data/faq-json
        ragtune train sft data/faq-json/train.jsonl --eval-json data/faq-json/test.jsonl -o runs/faq-json
        ragtune train sft data/faq-json/train.jsonl --eval-json data/faq-json/test.jsonl --json-constrained -o runs/faq-json-c
    """
    from ragtune.sft.train import train_sft as run_sft

    cfg = config_from(SFTConfig, locals(), config)
    evaluator = None
    if cfg.eval_sql:  # read and build the held-out databases before training, so a bad file fails first
        from ragtune.sql.ship import SqlShipEvaluator

        evaluator = SqlShipEvaluator(cfg.eval_sql, device=cfg.device)
    elif cfg.eval_json:  # read the held-out chats and the schema before training
        from ragtune.evaluation.json_ship import JsonShipEvaluator

        evaluator = JsonShipEvaluator(cfg.eval_json, cfg.json_schema, device=cfg.device, constrained=cfg.json_constrained)
    m = run_sft(cfg, evaluator=evaluator)
    task = getattr(m, "task_eval", None)
    if m.base and m.tuned:
        console.print(f"validation loss {m.base['val_loss']:.4f} (base) -> {m.tuned['val_loss']:.4f} (tuned), "
                      f"{100 * m.val_loss_reduction:.1f}% lower" + (" (recorded, not deciding)" if task else ""))
    if task:
        console.print(f"held-out {task['task']} {task['dataset']} ({task['questions']} questions): {task['metric']} "
                      f"{task['base']:.4f} (base) -> {task['tuned']:.4f} (tuned)")
    console.print(f"{m.train_tokens_per_second:.0f} training tokens/s, peak memory {m.peak_memory_mb:.0f} MiB")
    show_decision(m.decision, Path(cfg.output))


# ---------------------------------------------------------------------------------------------
# eval sft


@handle_errors
def eval_sft(
    data: Path = typer.Argument(..., help="held-out chat data; the last assistant turn of each conversation is the reference"),
    model: list[str] = typer.Option(..., "--model", "-m", help=f"a model to evaluate (repeat to compare): {CHAT_MODEL_HELP}"),
    json_out: Optional[Path] = typer.Option(None, "--json", help="write the evaluation JSON here"),
    samples: Optional[Path] = typer.Option(None, "--side-by-side", help="side-by-side answers (.md, plus a .jsonl twin); default next to --json"),
    generate: int = typer.Option(50, "--generate", min=0, help="generate answers for the first N conversations (ROUGE-L); 0 = loss only"),
    max_new_tokens: int = typer.Option(128, "--max-new-tokens", min=1, help="longest generated answer"),
    max_length: int = typer.Option(1024, "--max-length", min=8, help="truncate conversations to this many tokens"),
    batch_size: int = typer.Option(8, "--batch-size", min=1, help="examples per forward pass"),
    device: str = typer.Option("auto", "--device", help=DEVICE_HELP),
) -> None:
    """Held-out assistant-token loss, perplexity and ROUGE-L of each model, with 95% bootstrap CIs.

        ragtune eval sft val.jsonl --model smollm2-135m-instruct --model runs/support --json runs/support/eval/sft.json
    """
    from ragtune.assets import model_folder
    from ragtune.data.chat import load_chat
    from ragtune.evaluation.sft import evaluate_sft
    from ragtune.io import check_output
    from ragtune.records import write_report
    from ragtune.sft.tokenize import token_rows

    samples = samples or (json_out.with_suffix(".samples.md") if json_out else None)
    for path, option in ((json_out, "--json"), (samples, "--side-by-side")):
        if path is not None:
            check_output(path, "file", option=option)
    chats = load_chat(data)
    for spec in model:  # every model resolves before the first one is evaluated
        model_folder(spec)
    report = evaluate_sft(chats, {spec: spec for spec in model}, token_rows, dataset=data.stem, generate_n=generate,
                          max_new_tokens=max_new_tokens, max_length=max_length, batch_size=batch_size, samples_out=samples,
                          device=device)
    if json_out:
        write_report(json_out, report)
    for r in report.results:
        m, ci = r.metrics, r.ci95
        rouge = f"  rouge_l {m['rouge_l']:.3f} [{ci['rouge_l'][0]:.3f}, {ci['rouge_l'][1]:.3f}]" if "rouge_l" in m else ""
        say(f"{r.model}: loss {m['loss']:.4f} [{ci['loss'][0]:.4f}, {ci['loss'][1]:.4f}]  perplexity {m['perplexity']:.2f}{rouge}")
    if samples and generate:
        say(f"side-by-side answers: {samples}")
    if json_out:
        write_page(json_out)


# ---------------------------------------------------------------------------------------------
# sft merge, chat


@app.command("merge")
@handle_errors
def merge(
    run: Path = typer.Argument(..., help="a `train sft` run folder or adapter folder"),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="where to write the merged model (default RUN/merged)"),
) -> None:
    """Merge a LoRA adapter into its base model and write a plain transformers model folder."""
    from ragtune.io import check_output
    from ragtune.sft.merge import merge_adapter

    if output is not None:
        check_output(output, "folder")
    out = merge_adapter(run, output)
    console.print(f"merged model: {out}")


@handle_errors
def chat(
    model: str = typer.Argument(..., help=CHAT_MODEL_HELP),
    prompt: Optional[str] = typer.Option(None, "--prompt", "-p", help="answer this one prompt and exit"),
    system: Optional[str] = typer.Option(None, "--system", help="system message"),
    max_new_tokens: int = typer.Option(256, "--max-new-tokens", min=1, help="longest answer"),
    temperature: float = typer.Option(0.0, "--temperature", min=0.0, max=2.0, help="0 = greedy"),
    device: str = typer.Option("auto", "--device", help=DEVICE_HELP),
) -> None:
    """Talk to a model: interactive (empty line or Ctrl-D quits), or one shot with --prompt."""
    from ragtune.sft.chat import ChatSession

    session = ChatSession(model, system=system, max_new_tokens=max_new_tokens, temperature=temperature, device=device)
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
    provider: Literal["openai"] = typer.Option("openai", "--provider", help="hosted fine-tuning API; 'openai' (any server speaking its files + fine_tuning/jobs endpoints)"),
    model: str = typer.Option("gpt-4o-mini-2024-07-18", "--model", "-m", help="hosted base model to fine-tune"),
    val_dataset: Optional[Path] = typer.Option(None, "--val-dataset", help="validation chat data to upload too"),
    base_url: Optional[str] = typer.Option(None, "--base-url", help="API base URL (default: the provider's)"),
    api_key_env: str = typer.Option("OPENAI_API_KEY", "--api-key-env", help="environment variable holding the API key"),
    suffix: Optional[str] = typer.Option(None, "--suffix", help="suffix for the fine-tuned model name"),
    epochs: Optional[int] = typer.Option(None, "--epochs", min=1, help="n_epochs hyperparameter (default: the provider's)"),
    output: Path = typer.Option(Path("finetuned_model.json"), "--output", "-o", help="write the job result (model id) here"),
    poll: float = typer.Option(10.0, "--poll", callback=above(0.0), help="seconds between status checks"),
    timeout: float = typer.Option(24 * 3600, "--timeout", callback=above(0.0),
                                  help="give up waiting after this many seconds (the job keeps running)"),
) -> None:
    """Validate, upload, create a hosted fine-tuning job, poll it with a status line, write the model id."""
    from ragtune.io import check_output
    from ragtune.sft.submit import submit_job

    check_output(output, "file")
    result = submit_job(file, provider=provider, model=model, val=val_dataset, base_url=base_url, api_key_env=api_key_env,
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
    docs: Optional[list[Path]] = typer.Argument(None, help="document files or folders (txt, md, html, pdf, jsonl)", show_default=False),
    output: Optional[Path] = option(D, "output", "-o"),
    teacher: Optional[str] = option(D, "teacher", "-t"),
    student: Optional[str] = option(D, "student", help=f"student model: {CHAT_MODEL_HELP}"),
    base_url: Optional[str] = option(D, "base_url"),
    api_key_env: Optional[str] = option(D, "api_key_env"),
    retriever: Optional[str] = option(D, "retriever", "-r"),
    top_k: Optional[int] = option(D, "top_k"),
    questions_per_chunk: Optional[int] = option(D, "questions_per_chunk"),
    filter: Optional[bool] = option(D, "filter", bool_flag=True),
    system: Optional[str] = option(D, "system"),
    max_tokens: Optional[int] = option(D, "max_tokens"),
    concurrency: Optional[int] = option(D, "concurrency", "-c"),
    text_field: Optional[str] = option(D, "text_field"),
    epochs: Optional[float] = option(D, "epochs"),
    learning_rate: Optional[float] = option(D, "learning_rate", "--lr"),
    lora_r: Optional[int] = option(D, "lora_r"),
    batch_size: Optional[int] = option(D, "batch_size"),
    max_length: Optional[int] = option(D, "max_length"),
    seed: Optional[int] = option(D, "seed"),
    allow_regression: Optional[bool] = option(D, "allow_regression", bool_flag=True),
    device: Optional[str] = option(D, "device"),
    config: Optional[Path] = config_option(),
) -> None:
    """Distill a teacher into a small student: questions over your documents, RAG answers from the
    teacher (recorded to RUN/data/teacher.jsonl), validation, then LoRA SFT of the student into RUN/.

        ragtune distill docs/ --teacher local:qwen2.5-coder-0.5b-instruct --student smollm2-135m-instruct -o runs/distill
    """
    from ragtune.sft.distill import distill as run_distill

    cfg = config_from(DistillConfig, locals(), config, arguments=("docs",))
    m = run_distill(cfg)
    d = m.distill
    say(f"{d['questions']} questions; {d.get('train_chats', 0)} train / {d.get('val_chats', 0)} val chats "
        f"recorded in {Path(cfg.output) / 'data' / 'teacher.jsonl'}")
    if m.base and m.tuned:
        console.print(f"student validation loss {m.base['val_loss']:.4f} -> {m.tuned['val_loss']:.4f}")
    show_decision(m.decision, Path(cfg.output))
