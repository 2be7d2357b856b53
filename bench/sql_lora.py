"""Text-to-SQL LoRA on Spider dev, judged on databases it never saw, through the CLI a user runs.

    flock /work/scratch/cpu.lock .venv/bin/python bench/sql_lora.py --model qwen2.5-coder-0.5b-instruct --train 176

1. `ragtune sql prepare spider-dev --test-share 0.5 --seed 0`: chat JSONL split by database (10 / 10; the same split
   as bench/sql_spider.py), held-out questions as Spider JSON.
2. A seeded sample of --train training chats (+ --val others of the training databases for the ship rule's
   validation loss): a 2-core CPU trains Qwen2.5-Coder-0.5B LoRA at ~33 tokens/s and the 578 training chats are
   187k tokens (94 minutes an epoch), so the bench trains on a slice and says so.
3. `ragtune train sft` (LoRA) on it; the ship rule of step 4 decides whether model/ is written.
4. With --decide eval-sql (default) `train sft --eval-sql` itself judges base and tuned on every held-out question
   (paired bootstrap of test-suite accuracy) and ships only on a clear gain; with --decide loss the validation loss
   decides and `ragtune eval sql` evaluates the base and the tuned run folder afterwards (or a seeded --limit).

With --source generated (recipe b, a user's case: their own databases, no labelled questions), the training
chats are `ragtune generate sql` pairs written by --gen-llm over each HELD-OUT database's own schema
(--gen-mode pairs: the LLM writes question and SQL; describe: ragtune samples the SQL, the LLM words it), on a fill
built without the held-out gold queries' literals (seed 1; the evaluation fills are seeds 0..2 with them), so
nothing of the held-out questions reaches training. --val of those chats are held back for the ship rule.
--source both adds them to the --train Spider sample.

Writes bench/results/sql_lora_<model>[_TAG].json: the settings, the sample, training seconds and tokens/s,
the ship decision, and the evaluation report (per-question values dropped).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RAGTUNE = [str(Path(sys.executable).parent / "ragtune")]


def sh(args: list[str]) -> float:
    print("$ ragtune " + " ".join(args[len(RAGTUNE):]), flush=True)
    t0 = time.perf_counter()
    subprocess.run(args, check=True)
    return round(time.perf_counter() - t0, 1)


def generated_chats(a: argparse.Namespace, test_dbs: list[str], work: Path) -> tuple[list[str], dict]:
    """`ragtune generate sql` over each held-out database (a fill without the gold literals), then `sql prepare`."""
    from ragtune.sql.build import build_databases
    from ragtune.sql.evaluate import load_spider_data

    examples, _ = load_spider_data("spider-dev")
    schemas = {e.db_id: e.schema for e in examples if e.db_id in set(test_dbs)}
    rows, per_db, t0 = [], {}, time.perf_counter()
    for db_id in sorted(schemas):
        db = work / "dbs" / f"{db_id}.sqlite"
        if not db.exists():
            db.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(build_databases(schemas[db_id], (), fills=1, seed=1)[0], db)
        out = work / "pairs" / db_id
        sh(RAGTUNE + ["generate", "sql", "--db", str(db), "-o", str(out), "--llm", a.gen_llm, "--mode", a.gen_mode,
                      "--temperature", str(a.gen_temperature), "--seed", str(a.seed),
                      *(["--calls", str(a.gen_calls)] if a.gen_calls else [])])
        summary = json.loads((out / "summary.json").read_text())
        per_db[db_id] = {"kept": summary["kept"], "candidates": summary["candidates"], "dropped": summary["dropped"]}
        rows += (out / "pairs.jsonl").read_text(encoding="utf-8").splitlines()
    (work / "pairs.jsonl").write_text("".join(r + "\n" for r in rows), encoding="utf-8")
    sh(RAGTUNE + ["sql", "prepare", str(work / "pairs.jsonl"), "-o", str(work / "chats"), "--test-share", "0"])
    chats = (work / "chats" / "train.jsonl").read_text(encoding="utf-8").splitlines()
    info = {"pairs": len(rows), "per_db": per_db, "seconds": round(time.perf_counter() - t0, 1),
            "fill": "build_databases(schema, (), fills=1, seed=1): no held-out gold literals"}
    print(f"generated {len(rows)} pairs over {len(schemas)} held-out databases in {info['seconds']:.0f} s")
    return chats, info


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="qwen2.5-coder-0.5b-instruct")
    ap.add_argument("--train", type=int, default=176, help="training chats (a seeded sample of the training databases')")
    ap.add_argument("--val", type=int, default=16, help="validation chats (other questions of the training databases)")
    ap.add_argument("--epochs", type=float, default=1.0)
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--limit", type=int, default=None, help="evaluate a seeded sample of the held-out questions")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--source", choices=("spider", "generated", "both"), default="spider",
                    help="training chats: other databases' human questions, generated pairs over the held-out databases, or both")
    ap.add_argument("--gen-llm", default="local:qwen2.5-coder-0.5b-instruct", help="the LLM of `generate sql`")
    ap.add_argument("--gen-temperature", type=float, default=0.7)
    ap.add_argument("--gen-mode", choices=("pairs", "describe"), default="pairs",
                    help="`generate sql --mode`: the LLM writes question and SQL, or describes sampled SQL")
    ap.add_argument("--gen-calls", type=int, default=None, help="`generate sql --calls` per held-out database")
    ap.add_argument("--gen-dir", default=None,
                    help="folder (under --work) of the generated pairs (default: generated, or generated-MODE); a new "
                         "name keeps an earlier recipe's pairs")
    ap.add_argument("--tag", default="")
    ap.add_argument("--decide", choices=("eval-sql", "loss"), default="eval-sql",
                    help="the ship rule: `train sft --eval-sql` (paired test-suite gain on the held-out questions, which "
                         "the run also reports) or the plain validation loss (then `eval sql` evaluates afterwards)")
    ap.add_argument("--work", default=str(ROOT / "bench" / "work" / "sql_lora"))
    a = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

    short = a.model.rstrip("/").split("/")[-1]
    name = short + (f"_{a.tag}" if a.tag else "")
    work = Path(a.work) / name
    data = Path(a.work) / "data"
    out: dict = {"bench": "sql_lora", "command": "bench/sql_lora.py " + " ".join(sys.argv[1:]), "model": a.model,
                 "settings": {k: getattr(a, k) for k in ("train", "val", "epochs", "lr", "batch_size", "limit", "seed", "source",
                                                           "gen_llm", "gen_temperature", "gen_mode", "gen_calls", "gen_dir",
                                                           "decide")}}
    if not (data / "train.jsonl").exists():
        sh(RAGTUNE + ["sql", "prepare", "spider-dev", "-o", str(data), "--test-share", "0.5", "--seed", str(a.seed)])
    out["split"] = json.loads((data / "split.json").read_text())
    chats = (data / "train.jsonl").read_text(encoding="utf-8").splitlines()
    order = list(range(len(chats)))
    random.Random(a.seed).shuffle(order)
    work.mkdir(parents=True, exist_ok=True)
    train, val = work / "train.jsonl", work / "val.jsonl"
    train_rows = [chats[i] for i in sorted(order[: a.train])] if a.source != "generated" else []
    val_rows = [chats[i] for i in sorted(order[a.train: a.train + a.val])] if a.source == "spider" else []
    if a.source != "spider":
        gen_dir = Path(a.work) / (a.gen_dir or ("generated" if a.gen_mode == "pairs" else f"generated-{a.gen_mode}"))
        gen_chats, out["generated"] = generated_chats(a, out["split"]["test_dbs"], gen_dir)
        gorder = list(range(len(gen_chats)))
        random.Random(a.seed).shuffle(gorder)
        val_rows += [gen_chats[i] for i in sorted(gorder[: a.val])]
        train_rows += [gen_chats[i] for i in sorted(gorder[a.val:])]
    train.write_text("".join(r + "\n" for r in train_rows), encoding="utf-8")
    val.write_text("".join(r + "\n" for r in val_rows), encoding="utf-8")
    out["sample"] = {"train": len(train_rows), "val": len(val_rows), "spider_of": len(chats)}

    if a.decide == "eval-sql" and a.limit:
        raise SystemExit("--limit needs --decide loss (train sft --eval-sql judges every held-out question)")
    run = work / ("run" if a.decide == "loss" else "run-evalsql")
    out["train_s"] = sh(RAGTUNE + ["train", "sft", str(train), "-m", a.model, "-o", str(run), "--val-dataset", str(val),
                                   "--epochs", str(a.epochs), "--learning-rate", str(a.lr), "--batch-size", str(a.batch_size),
                                   "--seed", str(a.seed), "--no-gradient-checkpointing",
                                   *(["--eval-sql", str(data / "test.json")] if a.decide == "eval-sql" else [])])
    metrics = json.loads((run / "metrics.json").read_text())
    out["decision"] = metrics.get("decision")
    out["training"] = {k: metrics.get(k) for k in ("train_examples", "val_examples", "base", "tuned", "train_tokens_per_second",
                                                   "train_seconds", "peak_memory_mb", "train_loss", "gradient_checkpointing")}
    print(f"trained {metrics['train_examples']} chats at {metrics['train_tokens_per_second']:.1f} tokens/s in "
          f"{metrics['train_seconds']:.0f} s; {out['decision']['reason']}")
    out["training"]["task_eval"] = metrics.get("task_eval")
    tuned = run if (run / "model").exists() else None
    if a.decide == "eval-sql":  # the run judged base and tuned on every held-out question: its report is the result
        report = run / "eval" / "sql.json"
    else:
        report = work / "eval.json"
        models = ["-m", f"base={a.model}"] + (["-m", f"tuned={run}"] if tuned else [])
        out["eval_s"] = sh(RAGTUNE + ["eval", "sql", str(data / "test.json"), *models, "--json", str(report),
                                      "--sql-out", str(work / "sql.jsonl"), "--seed", str(a.seed), "--max-new-tokens", "96",
                                      *(["--limit", str(a.limit)] if a.limit else [])])
    rep = json.loads(report.read_text())
    rep.pop("per_query", None)
    out["report"] = rep
    for r in rep["results"]:
        m, ci = r["metrics"], r["ci95"]
        line = (f"{r['model']}: test-suite {m['test_suite_accuracy']:.3f} {ci['test_suite_accuracy']}  execution "
                f"{m['execution_accuracy']:.3f}  exact {m['exact_match']:.3f}  valid {m['valid_rate']:.3f}  {r.get('seconds')}")
        if r.get("vs_first"):
            v = r["vs_first"]
            line += f"\n   vs base: {v['delta']:+.3f} {v['ci95']} W/L/T {v['wins']}/{v['losses']}/{v['ties']}"
        print(line)
    if not tuned:
        print(f"the tuned model was NOT shipped: {out['decision']}")
    path = ROOT / "bench" / "results" / f"sql_lora_{name}.json"
    path.write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
