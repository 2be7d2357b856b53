"""Structured JSON on construction-faq: SmolLM2-135M base vs LoRA-tuned (`train sft`), judged by `eval json`.

`write_faq_json` makes the bundled example (question -> {"category", "related_service"}, split seeded and
stratified by category); `train_sft` tunes a LoRA on the training side (unchanged chat JSONL); then
`evaluate_json` scores base and tuned on the held-out side: valid-JSON rate against the schema, field
accuracy (category, related_service), exact match, with 95% CIs and the paired comparison.

Run: .venv/bin/python bench/json_faq.py [--epochs 2] [--limit 100] [--constrained] [--work DIR]
Writes bench/results/json_faq.json (the run folder is under /tmp, or DIR: the same arguments on a DIR whose run
finished take its model without training again). --constrained also scores base and tuned decoding inside the
schema (`LocalLLM(json_schema=)`, as `ragtune eval json --constrained`): its valid rate is 1 by construction
unless a reply is cut by the token budget, and its field accuracy says what each model puts in the fields.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="smollm2-135m-instruct")
    ap.add_argument("--epochs", type=float, default=2.0)
    ap.add_argument("--lr", type=float, default=None, help="LoRA learning rate (default: train sft's, 2e-4)")
    ap.add_argument("--limit", type=int, default=None, help="evaluate the first N held-out examples")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--no-gradient-checkpointing", action="store_true",
                    help="faster on CPU when memory allows (train sft turns it on above 2,048 tokens a batch)")
    ap.add_argument("--tag", default="", help="write bench/results/json_faq_TAG.json")
    ap.add_argument("--constrained", action="store_true", help="also evaluate both models decoding inside the schema")
    ap.add_argument("--work", default=None, help="the data and run folder (default: a new one under /tmp)")
    args = ap.parse_args()

    from ragtune.data.chat import load_chat
    from ragtune.data.faq_json import write_faq_json
    from ragtune.evaluation.json_output import evaluate_json
    from ragtune.llm import LocalLLM
    from ragtune.sft.train import train_sft

    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="json-faq-"))
    split = write_faq_json(work / "data", seed=args.seed)
    t0 = time.perf_counter()
    metrics = train_sft(dataset=str(work / "data" / "train.jsonl"), model=args.model, output=str(work / "run"),
                        epochs=args.epochs, max_length=512, allow_regression=True, batch_size=args.batch_size,
                        **({"gradient_checkpointing": False} if args.no_gradient_checkpointing else {}),
                        **({"learning_rate": args.lr} if args.lr else {}))
    train_s = time.perf_counter() - t0
    test = load_chat(work / "data" / "test.jsonl")[: args.limit]
    schema = json.loads((work / "data" / "schema.json").read_text())
    reports = {"free": evaluate_json(test, {"base": LocalLLM(args.model), "tuned": LocalLLM(str(work / "run"))}, schema,
                                     dataset="construction-faq json", seed=args.seed)}
    if args.constrained:
        reports["constrained"] = evaluate_json(
            test, {"base": LocalLLM(args.model, json_schema=schema), "tuned": LocalLLM(str(work / "run"), json_schema=schema)},
            schema, dataset="construction-faq json", seed=args.seed)
    for kind, report in reports.items():
        for r in report.results:
            m, ci = r.metrics, r.ci95
            print(f"{kind} {r.model}: valid {m['valid_rate']:.3f} {ci['valid_rate']}  category {m['field_accuracy.category']:.3f} "
                  f"{ci['field_accuracy.category']}  related_service {m['field_accuracy.related_service']:.3f}  "
                  f"exact {m['exact_match']:.3f}  {r.seconds}")
            if r.vs_first:
                print(f"   vs base: field accuracy {r.vs_first.delta:+.3f} {r.vs_first.ci95}; category Δ CI "
                      f"{r.ci95['field_accuracy.category.delta']}")
    out = Path(f"bench/results/json_faq{'_' + args.tag if args.tag else ''}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    result = {"command": "bench/json_faq.py " + " ".join(__import__("sys").argv[1:]), "model": args.model,
              "epochs": args.epochs, "lr": args.lr, "split": split, "train_seconds": round(train_s, 1), "decision": metrics.decision.model_dump(),
              "evaluated": len(test), "work": str(work)}
    for kind, report in reports.items():
        key = "report" if kind == "free" else f"{kind}_report"
        result[key] = report.to_json()
        result[key].pop("per_query", None)
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
