"""`train_sft`: supervised fine-tuning of a chat LLM with TRL's SFTTrainer and PEFT LoRA.

Loss is on assistant tokens only: the dataset is tokenized here with the exact mask from
`ragtune.sft.tokenize.tokenize_chat` (which also works for templates without generation markers, like
SmolLM2's) and handed to SFTTrainer as `input_ids` + `labels`. The run folder is the shared one
(`ragtune.runs.Run`): config.json, metrics.json, curve.json, model/ (adapter + tokenizer, or the full
model), checkpoints/, data/train.jsonl + data/val.jsonl, eval/val.json, card.md, log.txt. Rerunning the
same command resumes from the last checkpoint; a finished run is not trained again.

The ship rule: the tuned model ships when its validation loss is lower than the base's, unless a task
evaluator is given (`evaluator=`, a `ragtune.evaluation.protocols.TaskEvaluator`; the CLI's `--eval-sql` gives
`ragtune.sql.ship.SqlShipEvaluator`, `--eval-json` gives `ragtune.evaluation.json_ship.JsonShipEvaluator`). Then the tuned model is saved to RUN/checkpoints/candidate/, base and
candidate are judged on the evaluator's held-out data (eval/<task>.json), and `decide_gain` on its headline
metric decides: ship on a clear paired gain, refuse on a clear loss, else cannot judge (the base stays). The
validation loss is still measured and recorded, not deciding: on Spider, a LoRA whose validation loss fell
0.525 -> 0.183 scored -0.018 [-0.068, +0.031] test-suite accuracy on held-out databases.
"""

from __future__ import annotations

import json
import logging
import math
import random
import resource
import shutil
import time
from pathlib import Path
from typing import Any

from ragtune.assets import BASE_FILE, model_folder
from ragtune.data.chat import ChatExample, load_chat, write_chat
from ragtune.errors import DataValidationError, InputError, Problem
from ragtune.evaluation.protocols import TaskEvaluator
from ragtune.evaluation.sft import example_losses, mean_loss
from ragtune.io import atomic_write_json
from ragtune.llm.models import load_causal_lm
from ragtune.runs.progress import progress_callback
from ragtune.runs.tracking import report_to
from ragtune.device import bf16_supported, resolve_device
from ragtune.records import EvalReport, ModelResult, RunMetrics
from ragtune.runs import Run, card, decide_gain, decide_lower_loss, job_config, training_curve
from ragtune.sft.config import SFTConfig
from ragtune.sft.tokenize import chat_tokenizer, check_tokens, token_rows

__all__ = ["train_sft", "split_examples", "prepare_data", "to_dataset", "with_lora", "trl_args", "batch_tokens",
           "with_checkpointing", "CHECKPOINT_TOKENS", "RESUMABLE_CHANGES"]

log = logging.getLogger(__name__)

# fields that only trade memory for time: a run may be resumed with them changed
RESUMABLE_CHANGES = ("gradient_checkpointing",)
# the config fields that name held-out task data, and the TaskEvaluator each needs
_TASK_JUDGES = {"eval_sql": "ragtune.sql.ship.SqlShipEvaluator", "eval_json": "ragtune.evaluation.json_ship.JsonShipEvaluator"}


def train_sft(config: SFTConfig | None = None, callbacks: list | None = None, *, evaluator: TaskEvaluator | None = None,
              **fields: Any) -> RunMetrics:
    """Train, evaluate base vs tuned on the validation split, and write the run folder. Returns its metrics.

    Keyword fields update `config` (`train_sft(dataset="chats.jsonl", output="runs/sft")`). `callbacks`
    are extra `transformers.TrainerCallback`s (progress bars, early stopping, probes). `evaluator` (a
    `TaskEvaluator`, e.g. `ragtune.sql.ship.SqlShipEvaluator(config.eval_sql)`) decides the ship by its paired
    gain on held-out task data instead of the validation loss (see the module doc); `eval_sql` needs one.
    """
    cfg, _ = job_config(SFTConfig, config, fields)
    cfg = cfg.resolved()
    for field, judge in _TASK_JUDGES.items():  # the CLI makes them; the API caller passes one
        if getattr(cfg, field) and evaluator is None:
            raise InputError(f"{field}={getattr(cfg, field)!r} needs its evaluator: run `ragtune train sft "
                             f"--{field.replace('_', '-')} FILE`, or pass evaluator={judge}(FILE) to train_sft.")
    model_folder(cfg.model)  # a model that does not resolve fails before the run folder is touched
    with Run(cfg.output, "sft", cfg, resumable=RESUMABLE_CHANGES) as run:
        done = run.finished()
        if done is not None:
            return done
        run.start()
        return _train(cfg, run, callbacks or [], evaluator)


# ---------------------------------------------------------------------------------------------
# data


def split_examples(examples: list[ChatExample], val_fraction: float, seed: int) -> tuple[list[ChatExample], list[ChatExample]]:
    """A seeded random split by conversation; at least one example on each side when there are two."""
    if val_fraction == 0 or len(examples) < 2:
        return examples, []
    order = list(range(len(examples)))
    random.Random(seed).shuffle(order)
    n_val = min(len(examples) - 1, max(1, round(len(examples) * val_fraction)))
    val_ids = set(order[:n_val])
    return [e for i, e in enumerate(examples) if i not in val_ids], [e for i, e in enumerate(examples) if i in val_ids]


def prepare_data(config: SFTConfig, run: Run, tokenizer) -> tuple[list[ChatExample], list[ChatExample]]:
    """Load, split, check tokens (errors stop the run), and save the split under RUN/data/. `tokenizer` may be a
    function that loads it: the data is read and checked first, so a broken file fails before any model loads."""
    train = load_chat(config.dataset)
    if config.val_dataset:
        val = load_chat(config.val_dataset)
    else:
        train, val = split_examples(train, config.val_fraction, config.seed)
    if callable(tokenizer) and not hasattr(tokenizer, "apply_chat_template"):
        tokenizer = tokenizer()
    problems: list[Problem] = []
    for part in (train, val):
        found, _, _ = check_tokens(part, tokenizer, config.max_length)
        problems += found
    if any(p.severity == "error" for p in problems):
        raise DataValidationError("chat data (run `ragtune data validate` for the full report)", problems)
    write_chat(train, run.data / "train.jsonl")
    write_chat(val, run.data / "val.jsonl")
    return train, val


def to_dataset(examples: list[ChatExample], tokenizer, max_length: int):
    """A datasets.Dataset of `input_ids` and `labels` (-100 outside assistant turns), truncated."""
    from datasets import Dataset

    rows = token_rows(tokenizer, examples, max_length)
    return Dataset.from_dict({"input_ids": [ids for ids, _ in rows],
                              "labels": [[t if m else -100 for t, m in zip(ids, mask)] for ids, mask in rows]})


# ---------------------------------------------------------------------------------------------
# model and trainer


def with_lora(model, config: SFTConfig):
    """The model wrapped with LoRA adapters (base weights frozen), or as is for a full fine-tune."""
    if config.full:
        return model
    from peft import LoraConfig, get_peft_model

    targets = config.target_modules if config.target_modules == "all-linear" else [
        t.strip() for t in config.target_modules.split(",") if t.strip()]
    lora = LoraConfig(r=config.lora_r, lora_alpha=config.lora_alpha, lora_dropout=config.lora_dropout,
                      target_modules=targets, task_type="CAUSAL_LM")
    return get_peft_model(model, lora)


def trl_args(config: SFTConfig, run: Path, has_val: bool):
    """TRL SFTConfig for this run: fp32, epoch-wise eval and checkpoints, best checkpoint restored."""
    from trl import SFTConfig as TRLConfig

    per_epoch = "epoch" if has_val and config.eval_each_epoch else "no"
    return TRLConfig(
        output_dir=str(run / "checkpoints"),
        num_train_epochs=config.epochs,
        learning_rate=config.lr(),
        per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=config.batch_size,
        gradient_accumulation_steps=config.grad_accum,
        # the dataset is already truncated to max_length; TRL only needs it to size packed rows
        max_length=config.max_length if config.packing else None,
        packing=config.packing,
        padding_free=config.padding_free or config.packing,
        gradient_checkpointing=config.gradient_checkpointing,
        use_cpu=resolve_device(config.device) == "cpu",
        bf16=bf16_supported(resolve_device(config.device)),
        fp16=False,
        lr_scheduler_type="cosine",
        warmup_steps=config.warmup_ratio,
        weight_decay=config.weight_decay,
        eval_strategy=per_epoch,
        save_strategy="epoch",
        save_total_limit=2,
        load_best_model_at_end=per_epoch == "epoch",
        metric_for_best_model="eval_loss",
        greater_is_better=False,
        logging_steps=config.logging_steps,
        report_to=report_to(config.report_to),
        seed=config.seed,
        data_seed=config.seed,
        disable_tqdm=True,
    )


CHECKPOINT_TOKENS = 2048


def batch_tokens(config: SFTConfig, lengths: list[int]) -> int:
    """Tokens in the largest batch the trainer can build: packed rows are up to max_length each, a padding-free
    batch is its examples end to end, a padded one is batch_size rows as long as its longest example."""
    if config.packing:
        return min(config.batch_size * config.max_length, sum(lengths))
    longest = sorted(lengths, reverse=True)[: config.batch_size]
    if config.padding_free:
        return sum(longest)
    return config.batch_size * (longest[0] if longest else 0)


def with_checkpointing(config: SFTConfig, lengths: list[int]) -> SFTConfig:
    """The config with gradient checkpointing decided: as given, or (None) on when the largest batch holds
    more than CHECKPOINT_TOKENS tokens. Measured with SmolLM2-135M + LoRA in float32 on CPU: training
    activations cost ~4 MB per token in a batch; on ragtune distill's chats (the 8 longest: 2,831 tokens)
    checkpointing cut peak memory from 12.7 to 7.0 GB for 4% more time."""
    if config.gradient_checkpointing is not None:
        return config
    tokens = batch_tokens(config, lengths)
    on = tokens > CHECKPOINT_TOKENS
    log.info("gradient checkpointing %s: the largest batch holds %d tokens (threshold %d)", "on" if on else "off",
             tokens, CHECKPOINT_TOKENS)
    return config.model_copy(update={"gradient_checkpointing": on})


def _log_callback():
    """A trainer callback that mirrors the trainer's log lines (loss, eval_loss) into log.txt."""
    from transformers import TrainerCallback

    class LogCallback(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            log.info("step %s epoch %.2f %s", state.global_step, state.epoch or 0, json.dumps(logs or {}))

    return LogCallback()


# ---------------------------------------------------------------------------------------------
# the run


def _train(config: SFTConfig, run: Run, callbacks: list, evaluator: TaskEvaluator | None = None) -> RunMetrics:
    loaded = {}

    def tokenizer():
        loaded["tok"] = chat_tokenizer(config.model)
        loaded["tok"].padding_side = "right"
        return loaded["tok"]

    train, val = prepare_data(config, run, tokenizer)
    tok = loaded["tok"]
    from trl import SFTTrainer

    train_ds = to_dataset(train, tok, config.max_length)
    val_ds = to_dataset(val, tok, config.max_length) if val else None
    config = with_checkpointing(config, [len(x) for x in train_ds["input_ids"]])
    model = load_causal_lm(config.model, device=config.device)
    val_loss = (lambda m: mean_loss(example_losses(m, token_rows(tok, val, config.max_length), tok.pad_token_id or 0))) if val else None
    base_loss = _cached_base_loss(run, lambda: val_loss(model) if val_loss else None)
    model = with_lora(model, config)
    resume = run.last_checkpoint()
    prior = _checkpoint_seconds(resume)  # training seconds before this process, when the checkpoint recorded them
    timer = _time_callback(prior or 0.0)
    trainer = SFTTrainer(model=model, args=trl_args(config, run.folder, bool(val)), train_dataset=train_ds,
                         eval_dataset=val_ds, processing_class=tok,
                         callbacks=[_log_callback(), progress_callback("SFT steps"), timer, *callbacks])
    log.info("training %d examples (%d val) from %s%s", len(train), len(val), config.model,
             f", resuming from {resume}" if resume else "")
    start_epoch = 0.0 if prior is not None else _checkpoint_epoch(resume)
    timer.start()
    result = trainer.train(resume_from_checkpoint=resume)
    # seconds and tokens of the whole training, across resumes (only this process's when an old checkpoint did
    # not record its time), so a run resumed at its last checkpoint does not report 0 tokens/s
    seconds = timer.seconds()
    tokens = sum(len(x) for x in train_ds["input_ids"]) * (trainer.state.epoch - start_epoch)
    tuned_loss = val_loss(trainer.model) if val_loss else None
    decision = decide_lower_loss(base_loss, tuned_loss, "val", config.allow_regression)
    save = lambda folder: _save_model(trainer.model, tok, config, folder)  # noqa: E731
    task_report = None
    if evaluator is None:
        run.ship(decision, save)
    else:
        loss_decision = decision
        decision, task_report = _decide_on_task(run, config, evaluator, save)
    fields = _fields(config, len(train), len(val), base_loss, tuned_loss, tokens, seconds, result.metrics)
    if task_report is not None:
        fields["task_eval"] = _task_fields(config, evaluator, task_report, loss_decision)
    fields["curve"] = training_curve(trainer.state.log_history, ("eval_loss",))
    atomic_write_json(run.folder / "curve.json", fields["curve"])
    reports = _write_eval(run, config, val, base_loss, tuned_loss) + ([task_report] if task_report is not None else [])
    return run.finish(decision, fields, _card(config, fields, reports, decision))


CANDIDATE = "candidate"  # RUN/checkpoints/candidate/: the tuned model while the task evaluator judges it


def _decide_on_task(run: Run, config: SFTConfig, evaluator: TaskEvaluator, save) -> tuple[Any, EvalReport]:
    """Save the tuned model as the candidate, judge it and the base with `evaluator`, write eval/<task>.json, and
    ship (move the candidate into model/) on a clear paired gain of the evaluator's headline metric."""
    candidate = run.checkpoints / CANDIDATE
    shutil.rmtree(candidate, ignore_errors=True)
    candidate.mkdir(parents=True)
    save(candidate)
    log.info("judging %s (base) and the tuned model on %s (%s)", config.model, evaluator.dataset, evaluator.name)
    report = evaluator.evaluate(config.model, candidate)
    labels = [r.model for r in report.results]
    if len(labels) < 2 or labels[0] != "base" or "tuned" not in labels:
        raise ValueError(f"the task evaluator {evaluator.name!r} returned results for {labels}; it must return 'base' "
                         "first and 'tuned' (see ragtune.evaluation.protocols.TaskEvaluator)")
    run.write_eval(report.task, report)
    decision = decide_gain(report, evaluator.name, "tuned", allow_regression=config.allow_regression)
    run.ship(decision, lambda folder: _move_contents(candidate, folder))
    shutil.rmtree(candidate, ignore_errors=True)
    return decision, report


def _move_contents(src: Path, dst: Path) -> None:
    for path in src.iterdir():
        shutil.move(str(path), str(dst / path.name))


def _task_fields(config: SFTConfig, evaluator: TaskEvaluator, report: EvalReport, loss_decision) -> dict[str, Any]:
    """metrics.json's record of what decided: the held-out task data, its metric for base and tuned, and what the
    validation loss alone would have decided."""
    cmp = report.comparison("tuned")
    data = getattr(evaluator, "data", None) or config.eval_sql or config.eval_json
    return {"decided_by": evaluator.name, "data": data, "dataset": report.dataset, "task": report.task,
            "metric": cmp.metric, "questions": report.num_queries, "settings": dict(getattr(evaluator, "settings", {}) or {}),
            "base": report.result("base").metrics.get(cmp.metric), "tuned": report.result("tuned").metrics.get(cmp.metric),
            "val_loss_verdict": loss_decision.verdict,
            "note": "the held-out task data decided the ship; the validation loss is recorded, not deciding"}


def _save_model(model, tok, config: SFTConfig, folder: Path) -> None:
    model.save_pretrained(str(folder))
    tok.save_pretrained(str(folder))
    if not config.full:
        atomic_write_json(folder / BASE_FILE, {"base_model": config.model})


def _cached_base_loss(run: Run, compute) -> float | None:
    path = run.checkpoints / "base_eval.json"
    if path.exists():
        return json.loads(path.read_text())["val_loss"]
    value = compute()
    atomic_write_json(path, {"val_loss": value})
    return value


TIME_FILE = "ragtune_time.json"  # in each checkpoint: the training seconds up to it, across resumes


def _time_callback(prior: float):
    """A trainer callback that times the training (`prior` seconds + this process's since `start()`) and writes
    the seconds so far into each checkpoint."""
    from transformers import TrainerCallback

    class TimeCallback(TrainerCallback):
        def start(self) -> None:
            self.started = time.perf_counter()

        def seconds(self) -> float:
            return prior + time.perf_counter() - self.started

        def on_save(self, args, state, control, **kwargs):
            folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
            if folder.is_dir():
                atomic_write_json(folder / TIME_FILE, {"seconds": self.seconds()})

    return TimeCallback()


def _checkpoint_seconds(resume: str | None) -> float | None:
    """Training seconds up to the checkpoint (0.0 with no checkpoint; None when an old checkpoint lacks them)."""
    if not resume:
        return 0.0
    try:
        return float(json.loads((Path(resume) / TIME_FILE).read_text())["seconds"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _checkpoint_epoch(resume: str | None) -> float:
    if not resume:
        return 0.0
    state = json.loads((Path(resume) / "trainer_state.json").read_text())
    return float(state.get("epoch") or 0.0)


def _peak_memory_mb() -> float:
    import torch

    if torch.cuda.is_available():
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def _fields(config, n_train, n_val, base_loss, tuned_loss, tokens, seconds, trainer_metrics) -> dict[str, Any]:
    out: dict[str, Any] = {
        "base_model": config.model, "method": "full" if config.full else "lora",
        "train_examples": n_train, "val_examples": n_val,
        "base": _loss_block(base_loss), "tuned": _loss_block(tuned_loss),
        "train_tokens_per_second": tokens / seconds if seconds > 0 else None,
        "train_seconds": seconds, "peak_memory_mb": _peak_memory_mb(),
        "train_loss": trainer_metrics.get("train_loss"),
        "gradient_checkpointing": config.gradient_checkpointing,
    }
    if base_loss and tuned_loss is not None:
        out["val_loss_reduction"] = 1 - tuned_loss / base_loss
    return out


def _loss_block(loss: float | None) -> dict[str, float] | None:
    return None if loss is None else {"val_loss": loss, "val_perplexity": math.exp(loss)}


def _write_eval(run: Run, config: SFTConfig, val: list[ChatExample], base_loss, tuned_loss) -> list[EvalReport]:
    if not val:
        return []
    results = [ModelResult(model=label, metrics={"loss": loss, "perplexity": math.exp(loss)})
               for label, loss in ((config.model, base_loss), (str(run.model), tuned_loss))]
    report = EvalReport(task="sft", dataset="val", num_queries=len(val), headline="loss", results=results)
    run.write_eval("val", report)
    return [report]


def _card(config: SFTConfig, fields: dict[str, Any], reports: list[EvalReport], decision) -> str:
    """What, from what data, how it scored against its base."""
    base, tuned = fields["base"], fields["tuned"]
    method = "Full fine-tune" if config.full else f"LoRA (r={config.lora_r})"
    about = [f"{method} of `{config.model}` on `{config.dataset}` ({fields['train_examples']} training / "
             f"{fields['val_examples']} validation conversations), {config.epochs:g} epochs, loss on assistant tokens only.",
             (f"Validation assistant-token loss {base['val_loss']:.4f} (base) -> {tuned['val_loss']:.4f} (tuned), "
              f"{100 * fields['val_loss_reduction']:.1f}% lower." if base and tuned else "No validation split.")]
    task = fields.get("task_eval")
    if task:
        about.append(f"Ship decided by held-out {task['task']} data `{task['data'] or task['dataset']}` ({task['questions']} "
                     f"questions, {task['decided_by']}): {task['metric']} {task['base']:.4f} (base) -> {task['tuned']:.4f} "
                     f"(tuned). The validation loss is recorded, not deciding (alone it would have said: "
                     f"{task['val_loss_verdict']}).")
        if "constrained" in str(task["settings"].get("decoding", "")):
            about.append("Both models were judged decoding inside the JSON Schema (`--json-constrained`): serve this model "
                         "the same way (`LocalLLM(RUN, json_schema=...)`, or a server's structured outputs), or its "
                         "replies may not validate.")
    load = ["model/ holds the " + ("full model." if config.full else "LoRA adapter: `ragtune chat RUN`, `ragtune eval sft`, "
                                   "or merge it with `ragtune sft merge RUN`.")]
    return card(Path(config.output).name, about, reports, decision, load)
