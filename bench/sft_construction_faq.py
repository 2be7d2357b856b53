"""Style and domain SFT on the construction FAQ, and training speed against plain TRL defaults.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/sft_construction_faq.py            # quality + speed
    HF_HUB_OFFLINE=1 .venv/bin/python bench/sft_construction_faq.py --only speed

Committed results: quality (LoRA) from `--only quality --epochs 2 --lr 1e-3 --generate 30 --max-new-tokens 96`
and (full fine-tune) `... --full --epochs 2 --lr 1e-4` (bench/results/sft_construction_faq_quality{,_full}.json);
speed from `--only speed --speed-limit 160` on a quiet 2-core CPU (bench/results/sft_construction_faq_speed.json):
TRL defaults 90 tokens/s, ragtune 125 (1.38x), ragtune with packing 34 (0.38x, 11.6 GB peak).

Quality: the 503 FAQ Q/A pairs become support chats (system + question + answer), split 80/20 by
question (identical questions stay on one side). SmolLM2-135M-Instruct + LoRA is trained with
`ragtune.sft.train_sft`; held-out assistant-token loss base vs tuned, ROUGE-L of greedy answers
and three side-by-side answers are written to bench/results/sft_construction_faq.json.

Speed: one epoch over the same training chats, in a fresh process per setup (so peak RSS is per
setup), eval and checkpoints off: (a) plain TRL `SFTTrainer` with default `SFTConfig` and the same
LoRA config, fed `{"messages": ...}` rows (TRL tokenizes; its defaults pad batches and turn gradient
checkpointing on; its default bf16=True cannot run on a CPU-only machine, so it is off there), (b) ragtune's trainer settings (pre-tokenized with the assistant mask,
padding-free batches, fp32, no checkpointing), (c) the same with packing. Tokens/s counts the real
(unpadded) tokens of each setup's own tokenization, divided by `train_runtime`; ratios are
against (a) measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
WORK = ROOT / "runs" / "bench-sft-faq"
SYSTEM = "You are the customer support assistant of Zaragoza AB, a construction company in Sweden."


def faq_chats(seed: int = 42) -> tuple[list[dict], list[dict]]:
    """Support chats from the FAQ, split 80/20 by (normalized) question text."""
    from ragtune.data.retrieval import faq_records

    rows = faq_records()
    questions = sorted({" ".join(r["q"].lower().split()) for r in rows})
    random.Random(seed).shuffle(questions)
    val_q = set(questions[: round(0.2 * len(questions))])
    train, val = [], []
    for r in rows:
        chat = {"messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": r["q"]},
                             {"role": "assistant", "content": r["a"]}]}
        (val if " ".join(r["q"].lower().split()) in val_q else train).append(chat)
    return train, val


def write_data() -> tuple[Path, Path]:
    from ragtune.io import atomic_write_jsonl

    train, val = faq_chats()
    return atomic_write_jsonl(WORK / "train.jsonl", train), atomic_write_jsonl(WORK / "val.jsonl", val)


def quality(args) -> dict:
    """Train on the 80% split, then held-out loss (all val chats) and ROUGE-L (first N val chats)."""
    from ragtune.assets import load_tokenizer
    from ragtune.data.chat import load_chat
    from ragtune.evaluation.metrics import bootstrap_ci
    from ragtune.evaluation.sft import generate, rouge_l, split_last_turn, write_side_by_side
    from ragtune.io import atomic_write_json
    from ragtune.llm.models import load_causal_lm as load_model
    from ragtune.sft.config import SFTConfig
    from ragtune.sft.train import train_sft

    train_path, val_path = write_data()
    run = WORK / (args.run_name or ("run-full" if args.full else "run"))
    # the base and tuned held-out losses are computed by train_sft with the same function as
    # `ragtune eval sft` (ragtune.evaluation.sft.example_losses) over every validation chat
    config = SFTConfig(dataset=str(train_path), val_dataset=str(val_path), model="smollm2-135m-instruct", output=str(run),
                       epochs=args.epochs, batch_size=8, full=args.full, lora_r=args.lora_r, lora_alpha=args.lora_alpha, learning_rate=args.lr,
                       eval_each_epoch=args.epochs >= 1, logging_steps=1)
    metrics = train_sft(config).model_dump()
    examples = load_chat(val_path)[: args.generate]
    prompts, refs = zip(*[split_last_turn(e) for e in examples])
    answers, scores = {}, {}
    for label, spec in (("base", "smollm2-135m-instruct"), ("tuned", str(run / "model"))):
        started = time.perf_counter()
        answers[label] = generate(load_model(spec), load_tokenizer(spec), list(prompts), args.max_new_tokens, batch_size=16)
        scores[label] = [rouge_l(a, r) for a, r in zip(answers[label], refs)]
        print(f"{label}: ROUGE-L {sum(scores[label]) / len(scores[label]):.3f} "
              f"({time.perf_counter() - started:.0f} s to answer {len(prompts)})", flush=True)
    write_side_by_side(examples, answers, run / "eval" / "faq-val.samples.md")
    samples = [json.loads(line) for line in (run / "eval" / "faq-val.samples.jsonl").read_text().splitlines()[:3]]
    rouge = {k: {"rouge_l": sum(v) / len(v), "ci95": list(bootstrap_ci(v))} for k, v in scores.items()}
    atomic_write_json(run / "eval" / "faq-val.rouge.json", rouge)
    return {"train_examples": metrics["train_examples"], "val_examples": metrics["val_examples"],
            "epochs": args.epochs, "learning_rate": args.lr, "method": "full" if args.full else "lora",
            **({} if args.full else {"lora_r": args.lora_r, "lora_alpha": args.lora_alpha}),
            "loss": {"base": metrics["base"]["val_loss"], "tuned": metrics["tuned"]["val_loss"],
                     "reduction": metrics["val_loss_reduction"]},
            "rouge_l": rouge, "rouge_examples": len(prompts), "max_new_tokens": args.max_new_tokens,
            "train": {k: v for k, v in metrics.items() if k != "curve"}, "curve": metrics["curve"],
            "side_by_side": samples}


# ---------------------------------------------------------------------------------------------
# speed (each setup in its own process)


def speed_one(setup: str, train_path: Path, limit: int) -> dict:
    import resource

    import torch
    from peft import LoraConfig
    from trl import SFTConfig as TRLConfig, SFTTrainer

    from ragtune.assets import load_tokenizer
    from ragtune.data.chat import load_chat
    from ragtune.llm.models import load_causal_lm as load_model
    from ragtune.sft.config import SFTConfig
    from ragtune.sft.train import to_dataset, trl_args, with_checkpointing, with_lora

    torch.manual_seed(0)
    examples = load_chat(train_path)[:limit]
    tok = load_tokenizer("smollm2-135m-instruct")
    tok.padding_side = "right"
    model = load_model("smollm2-135m-instruct")
    out = WORK / f"speed-{setup}"
    if setup == "trl-defaults":
        from datasets import Dataset

        lora = LoraConfig(r=16, lora_alpha=32, lora_dropout=0.05, target_modules="all-linear", task_type="CAUSAL_LM")
        # TRL's default bf16=True raises "Your setup doesn't support bf16/gpu" on a CPU-only machine, so
        # it is switched off there; every other SFTConfig field keeps its default
        args = TRLConfig(output_dir=str(out), report_to="none", save_strategy="no", num_train_epochs=1, disable_tqdm=True,
                         bf16=torch.cuda.is_available())
        ds = Dataset.from_list([{"messages": e.messages} for e in examples])
        trainer = SFTTrainer(model=model, args=args, train_dataset=ds, processing_class=tok, peft_config=lora)
        notes = {"bf16": args.bf16, "gradient_checkpointing": args.gradient_checkpointing,
                 "batch_size": args.per_device_train_batch_size, "learning_rate": args.learning_rate}
    else:
        config = SFTConfig(dataset=str(train_path), output=str(out), epochs=1, packing=setup == "ragtune-packing",
                           max_length=1024)
        ds = to_dataset(examples, tok, 1024)
        config = with_checkpointing(config, [len(x) for x in ds["input_ids"]])  # as `ragtune train sft` decides it
        args = trl_args(config, out, has_val=False)
        args.save_strategy = "no"
        trainer = SFTTrainer(model=with_lora(model, config), args=args, train_dataset=ds, processing_class=tok)
        notes = {"bf16": args.bf16, "gradient_checkpointing": args.gradient_checkpointing,
                 "batch_size": args.per_device_train_batch_size, "padding_free": args.padding_free,
                 "packing": args.packing}
    real_tokens = sum(len(x) for x in trainer.train_dataset["input_ids"])
    result = trainer.train()
    seconds = result.metrics["train_runtime"]
    return {"setup": setup, "examples": len(examples), "rows": len(trainer.train_dataset), "real_tokens": real_tokens,
            "train_runtime_s": seconds, "tokens_per_second": real_tokens / seconds,
            "steps": trainer.state.global_step, "train_loss": result.metrics.get("train_loss"),
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "settings": notes}


def speed(args) -> dict:
    train_path, _ = write_data()
    runs = []
    for setup in args.speed_setups.split(","):
        cmd = [sys.executable, __file__, "--speed-setup", setup, "--limit", str(args.speed_limit)]
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
        if proc.returncode != 0:
            runs.append({"setup": setup, "error": proc.stderr[-3000:]})
            print(f"{setup}: FAILED\n{proc.stderr[-3000:]}")
            continue
        runs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        print(f"{setup}: {runs[-1]['tokens_per_second']:.0f} tokens/s, peak RSS {runs[-1]['peak_rss_mb']:.0f} MiB")
    base = next((r for r in runs if r["setup"] == "trl-defaults" and "error" not in r), None)
    for r in runs:
        if base and "error" not in r:
            r["speedup_vs_trl_defaults"] = r["tokens_per_second"] / base["tokens_per_second"]
    return {"runs": runs}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", choices=["quality", "speed"], default=None)
    p.add_argument("--epochs", type=float, default=3.0)
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--lora-r", type=int, default=16)
    p.add_argument("--lora-alpha", type=int, default=32)
    p.add_argument("--full", action="store_true", help="full fine-tune instead of LoRA")
    p.add_argument("--run-name", default=None, help="run folder under runs/bench-sft-faq/ (default: run, or run-full); with "
                   "--only quality the result goes to bench/results/sft_construction_faq_quality_<run-name>.json")
    p.add_argument("--generate", type=int, default=101, help="held-out questions to answer for ROUGE-L")
    p.add_argument("--max-new-tokens", type=int, default=128)
    p.add_argument("--speed-limit", type=int, default=160, help="training chats per speed setup")
    p.add_argument("--speed-setups", default="trl-defaults,ragtune,ragtune-packing")
    p.add_argument("--speed-setup", default=None, help=argparse.SUPPRESS)
    p.add_argument("--limit", type=int, default=160, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.speed_setup:
        print(json.dumps(speed_one(args.speed_setup, WORK / "train.jsonl", args.limit)))
        return
    out_path = RESULTS / ("sft_construction_faq.json" if args.only is None else f"sft_construction_faq_{args.only}.json")
    if args.full and args.only == "quality":
        out_path = RESULTS / "sft_construction_faq_quality_full.json"
    if args.run_name and args.only == "quality":  # a named recipe keeps its own file
        out_path = RESULTS / f"sft_construction_faq_quality_{args.run_name}.json"  # name a full fine-tune's run so it says so
    results = json.loads(out_path.read_text()) if out_path.exists() else {}
    if args.only in (None, "quality"):
        results["quality"] = quality(args)
        q = results["quality"]
        print(f"held-out assistant-token loss base {q['loss']['base']:.4f} -> tuned {q['loss']['tuned']:.4f} "
              f"({100 * q['loss']['reduction']:.1f}% lower); ROUGE-L {q['rouge_l']['base']['rouge_l']:.3f} -> "
              f"{q['rouge_l']['tuned']['rouge_l']:.3f} on {q['rouge_examples']} held-out questions")
    if args.only in (None, "speed"):
        results["speed"] = speed(args)
    from ragtune.io import atomic_write_json

    atomic_write_json(out_path, results)
    print(f"wrote {out_path}")


if __name__ == "__main__":
    main()
