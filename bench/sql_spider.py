"""Text-to-SQL on held-out Spider dev databases: base chat models, judged by running what they write.

The 20 Spider dev databases are split by database (`split_by_database`, --test-share, --seed; both
lists recorded). On the held-out databases' questions (a seeded sample of --limit when given, said
in the output), each model answers greedily, batched, one database at a time (`ragtune eval sql`'s
code path: `ragtune.sql.evaluate`). Reported per model: execution accuracy (fill 0), test-suite
accuracy (all 3 fills), exact-set match, valid-SQL rate, by Spider hardness, with 95% CIs; the
second model is compared with the first (paired bootstrap).

Speed, same run, same prompts: `--speed N` questions of the held-out database with the most questions
(eval sql batches one database at a time, so this is the batch it really runs; a sample spread over
several databases gives batches of 1-3 and measured 0.73x) answered batched (batch 32) and one at a time
(batch 1), questions per second of each; and the sandbox's overhead per simple query (median ms,
sandbox vs a bare read-only connection).

Run: .venv/bin/python bench/sql_spider.py [--limit 120] [--models qwen2.5-coder-0.5b-instruct smollm2-135m-instruct]
Writes bench/results/sql_spider[_TAG].json.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", nargs="+", default=["qwen2.5-coder-0.5b-instruct", "smollm2-135m-instruct"])
    ap.add_argument("--limit", type=int, default=None, help="a seeded sample of the held-out questions")
    ap.add_argument("--test-share", type=float, default=0.5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-tokens", type=int, default=96)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--speed", type=int, default=16, help="questions for the batched vs one-at-a-time timing (0 = skip)")
    ap.add_argument("--tag", default="")
    args = ap.parse_args()

    import torch

    from ragtune.llm import LocalLLM
    from ragtune.sql.evaluate import evaluate_sql, load_spider_data, predict, prepare_items, subsample
    from ragtune.sql.prompt import split_by_database
    from ragtune.sql.sandbox import sandbox_overhead_ms

    examples, _ = load_spider_data("spider-dev")
    split = split_by_database(examples, args.test_share, args.seed)
    test = subsample(split.test, args.limit, args.seed)
    print(f"split by database (seed {args.seed}): {len(split.train_dbs)} train dbs / {len(split.test_dbs)} held-out dbs; "
          f"{len(split.test)} held-out questions, evaluating {len(test)}"
          + (f" (seeded sample of {args.limit})" if args.limit else ""))
    t0 = time.perf_counter()
    items = prepare_items(test, seed=args.seed)
    build_s = time.perf_counter() - t0
    llms = {name: LocalLLM(name, batch_size=args.batch) for name in args.models}
    report, _ = evaluate_sql(items, llms, dataset="spider-dev held-out databases", max_tokens=args.max_tokens,
                             concurrency=args.batch, seed=args.seed, on_model=lambda m: print(f"evaluating {m} ..."))
    for r in report.results:
        m, ci = r.metrics, r.ci95
        print(f"{r.model}: test-suite {m['test_suite_accuracy']:.3f} [{ci['test_suite_accuracy'][0]:.3f}, "
              f"{ci['test_suite_accuracy'][1]:.3f}]  execution {m['execution_accuracy']:.3f}  exact {m['exact_match']:.3f}  "
              f"valid {m['valid_rate']:.3f}  ({r.seconds})")
        print("   by hardness: " + "  ".join(f"{lv} {m.get(f'test_suite_accuracy.{lv}', float('nan')):.2f}/"
                                            f"{m.get(f'execution_accuracy.{lv}', float('nan')):.2f} (n={m[f'n.{lv}']:.0f})"
                                            for lv in ("easy", "medium", "hard", "extra")))
        if r.vs_first:
            print(f"   vs {r.vs_first.baseline}: {r.vs_first.delta:+.3f} {r.vs_first.ci95} W/L/T "
                  f"{r.vs_first.wins}/{r.vs_first.losses}/{r.vs_first.ties}")
    speed = {}
    if args.speed:
        name = args.models[0]
        biggest = max(split.test_dbs, key=lambda d: sum(e.db_id == d for e in split.test))
        sample = [e for e in split.test if e.db_id == biggest][: args.speed]
        batched = LocalLLM(name, batch_size=args.batch)
        batched._loaded = llms[name]._loaded  # the same loaded weights
        single = LocalLLM(name, batch_size=1)
        single._loaded = llms[name]._loaded
        batched._stops = single._stops = llms[name]._stops
        batched._plain_kv = single._plain_kv = llms[name]._plain_kv
        a, a_s = predict(batched, sample, max_tokens=args.max_tokens, concurrency=args.batch)
        b, b_s = predict(single, sample, max_tokens=args.max_tokens, concurrency=1)
        speed = {"model": name, "database": biggest, "questions": len(sample), "batched_s": round(a_s, 2), "one_at_a_time_s": round(b_s, 2),
                 "batched_q_per_s": round(len(sample) / a_s, 3), "one_at_a_time_q_per_s": round(len(sample) / b_s, 3),
                 "speedup": round(b_s / a_s, 2), "same_replies": sum(x == y for x, y in zip(a, b))}
        print(f"speed ({name}, {len(sample)} questions): batched {speed['batched_q_per_s']} q/s, one at a time "
              f"{speed['one_at_a_time_q_per_s']} q/s -> {speed['speedup']}x; identical replies {speed['same_replies']}/{len(sample)}")
    overhead = sandbox_overhead_ms(items[0].fills[0])
    print(f"sandbox overhead per query: {overhead}")
    result = {"split": {**split.record(), "evaluated": len(test), "limit": args.limit},
              "threads": torch.get_num_threads(), "max_tokens": args.max_tokens, "batch": args.batch,
              "fills_build_s": round(build_s, 2), "report": report.to_json(), "speed": speed, "sandbox_overhead_ms": overhead}
    result["report"].pop("per_query", None)
    out = Path(f"bench/results/sql_spider{('_' + args.tag) if args.tag else ''}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
