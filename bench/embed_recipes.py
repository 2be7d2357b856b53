"""Recipe lab: which training recipe lifts an embedder on REAL questions? One row per recipe.

Test set: `construction-faq` (503 answers = corpus, 503 human questions = held-out queries; never
trained on). Training data (bench only, for fast iteration): the raw synthetic questions written by
local LLMs from the answers (`--synthetic DIR`, files `*.jsonl` with {"doc": answer index,
"questions": [...]}); the product generates its own with `ragtune generate queries` / `ragtune run`.

Every recipe goes through the product's own API (`train_adapter` / `train_embedding`) exactly as a user
would call it: the synthetic questions are split by source answer (80/20, seed 42), the best epoch /
checkpoint is chosen on the synthetic validation split, never on the human questions, and the human
questions are passed as `eval_dataset`, so they only decide whether the result ships and give the
reported number (paired bootstrap 95% CI of the ndcg@10 difference vs the base, 1000 resamples).

    .venv/bin/python bench/embed_recipes.py --list
    .venv/bin/python bench/embed_recipes.py adapter-kd-pseudo          # one row, one command
    .venv/bin/python bench/embed_recipes.py --all-adapters
Writes bench/results/embed_recipes.json (rows kept across runs, keyed by recipe name).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
RESULTS = Path(__file__).parent / "results" / "embed_recipes.json"
RUNS = Path(__file__).parent.parent / "runs" / "embed_recipes"

# name -> (job, model, description, keyword arguments of the product API)
RECIPES: dict[str, tuple[str, str, str, dict]] = {
    "adapter-labels": ("adapter", "minilm", "linear query adapter, synthetic labels only (no teacher), best of 20 epochs "
                       "by validation ndcg@10, 80% split only", {"learning_rate": 1e-3, "epochs": 20, "refit_all": False}),
    "adapter-kd-norefit": ("adapter", "minilm", "linear query adapter, mpnet softmax over corpus (T 0.05), best of 20 epochs by "
                           "validation KL to the teacher, trained on the 80% split only", {"learning_rate": 1e-3, "teacher": "mpnet", "epochs": 20, "pseudo_queries": False,
                                                              "refit_all": False, "select_epoch": True}),
    "adapter-kd-pseudo-norefit": ("adapter", "minilm", "as adapter-kd-norefit + answer sentences as pseudo-queries",
                                  {"learning_rate": 1e-3, "teacher": "mpnet", "epochs": 20, "pseudo_queries": True, "pseudo_spans": 0, "refit_all": False, "select_epoch": True}),
    "adapter-kd": ("adapter", "minilm", "as adapter-kd-norefit, then refit on train+val for the chosen epoch count",
                   {"learning_rate": 1e-3, "teacher": "mpnet", "epochs": 20, "pseudo_queries": False, "select_epoch": True}),
    "adapter-kd-pseudo": ("adapter", "minilm", "as adapter-kd (refit) + answer sentences as unlabelled pseudo-queries",
                          {"learning_rate": 1e-3, "teacher": "mpnet", "epochs": 20, "pseudo_queries": True, "pseudo_spans": 0, "select_epoch": True}),
    "adapter-kd-pseudo-fixed10": ("adapter", "minilm", "as adapter-kd-pseudo but exactly 10 epochs (the issue's probe "
                                  "recipe), no epoch selection; refit on train+val",
                                  {"learning_rate": 1e-3, "teacher": "mpnet", "epochs": 10, "pseudo_queries": True, "pseudo_spans": 0, "select_epoch": False}),
    "adapter-kd-pseudo-t0.1": ("adapter", "minilm", "as adapter-kd-pseudo, temperature 0.1",
                               {"learning_rate": 1e-3, "teacher": "mpnet", "epochs": 20, "pseudo_queries": True, "pseudo_spans": 0, "temperature": 0.1}),
    "adapter-kd-pseudo-t0.1-norefit": ("adapter", "minilm", "as adapter-kd-pseudo-norefit, temperature 0.1",
                                       {"learning_rate": 1e-3, "teacher": "mpnet", "epochs": 20, "pseudo_queries": True, "pseudo_spans": 0, "temperature": 0.1,
                                        "refit_all": False, "select_epoch": True}),
    "adapter-kd-pseudo-mlp-both-norefit": ("adapter", "minilm", "residual MLP adapter on queries and documents, KD + "
                                           "pseudo-queries, 80% split only",
                                           {"learning_rate": 1e-3, "teacher": "mpnet", "epochs": 20, "pseudo_queries": True, "pseudo_spans": 0, "kind": "mlp",
                                            "side": "both", "refit_all": False}),
    "adapter-kd-pseudo-mlp-both": ("adapter", "minilm", "residual MLP adapter on queries and documents, KD + pseudo-queries",
                                   {"learning_rate": 1e-3, "teacher": "mpnet", "epochs": 20, "pseudo_queries": True, "pseudo_spans": 0, "kind": "mlp", "side": "both"}),
    "adapter-kd-spans": ("adapter", "minilm", "as adapter-kd-pseudo-fixed10 + 3 random 3-8 word spans of each sentence as "
                         "pseudo-queries (lr 1e-3, 10 epochs, refit on train+val)",
                         {"teacher": "mpnet", "epochs": 10, "learning_rate": 1e-3, "pseudo_queries": True, "pseudo_spans": 3, "select_epoch": False}),
    "adapter-kd-spans-lr3e-4": ("adapter", "minilm", "as adapter-kd-spans, lr 3e-4, 30 epochs",
                                {"teacher": "mpnet", "epochs": 30, "learning_rate": 3e-4, "pseudo_queries": True, "pseudo_spans": 3,
                                 "select_epoch": False}),
    "adapter-kd-spans-lr3e-4-both": ("adapter", "minilm", "as adapter-kd-spans-lr3e-4, documents adapted too (side both: "
                                     "the index must be re-embedded)",
                                     {"teacher": "mpnet", "epochs": 30, "learning_rate": 3e-4, "pseudo_queries": True, "pseudo_spans": 3,
                                      "select_epoch": False, "side": "both"}),
    "adapter-kd-spans-lr3e-4-label0.2": ("adapter", "minilm", "as adapter-kd-spans-lr3e-4, target = 0.8 teacher + 0.2 the "
                                         "synthetic question's own answer",
                                         {"teacher": "mpnet", "epochs": 30, "learning_rate": 3e-4, "pseudo_queries": True, "pseudo_spans": 3,
                                          "select_epoch": False, "label_weight": 0.2}),
    "adapter-kd-spans-mlp": ("adapter", "minilm", "as adapter-kd-spans, residual MLP (query side), 20 epochs",
                             {"teacher": "mpnet", "epochs": 20, "learning_rate": 1e-3, "pseudo_queries": True, "pseudo_spans": 3,
                              "select_epoch": False, "kind": "mlp"}),
    "adapter-kd-spans-mlp-both": ("adapter", "minilm", "as adapter-kd-spans-mlp, documents adapted too (side both)",
                                  {"teacher": "mpnet", "epochs": 20, "learning_rate": 1e-3, "pseudo_queries": True, "pseudo_spans": 3,
                                   "select_epoch": False, "kind": "mlp", "side": "both"}),
    "mpnet-adapter-labels": ("adapter", "mpnet", "linear query adapter over mpnet, synthetic labels only (no stronger "
                             "teacher is installed), best of 20 epochs by validation ndcg@10, 80% split only",
                             {"learning_rate": 1e-3, "epochs": 20, "refit_all": False}),
    "mpnet-adapter-labels-lr3e-4": ("adapter", "mpnet", "as mpnet-adapter-labels, lr 3e-4, refit on train+val for the chosen "
                                    "epoch count", {"learning_rate": 3e-4, "epochs": 30, "select_epoch": True}),
    "ft-mnrl": ("embedding", "minilm", "full fine-tune, MNRL, no-duplicates batches, 1 epoch, lr 2e-5, batch 16",
                {"epochs": 1, "learning_rate": 2e-5, "batch_size": 16}),
    "ft-kd-top5": ("embedding", "minilm", "full fine-tune, mpnet DistillKLDiv over positive + base top-4, T 0.05, 1 epoch, lr 2e-5",
                   {"teacher": "mpnet", "teacher_top_n": 5, "epochs": 1, "learning_rate": 2e-5, "batch_size": 16}),
    "ft-kd-top5-merge": ("embedding", "minilm", "as ft-kd-top5, then 50/50 weight average with the base",
                         {"teacher": "mpnet", "teacher_top_n": 5, "epochs": 1, "learning_rate": 2e-5, "batch_size": 16,
                          "merge_with_base": 0.5}),
    "ft-margin-mse": ("embedding", "minilm", "full fine-tune, mpnet MarginMSE (positive vs base's hardest), 1 epoch, lr 2e-5",
                      {"teacher": "mpnet", "distill_loss": "margin_mse", "epochs": 1, "learning_rate": 2e-5, "batch_size": 16}),
    "ft-mpnet-mnrl": ("embedding", "mpnet", "mpnet full fine-tune, MNRL, 1 epoch, lr 2e-5 (no stronger teacher installed)",
                      {"epochs": 1, "learning_rate": 2e-5, "batch_size": 16}),
}


def synthetic_dataset(folder: Path):
    """Corpus = the 503 answers (FAQ ids); queries = every raw synthetic question; one source per answer."""
    from ragtune.data.retrieval import RetrievalDataset, faq_records

    recs = faq_records()
    ds = RetrievalDataset(queries={}, corpus={str(r["id"]): r["a"] for r in recs}, relevant_docs={}, name="faq-synthetic",
                          doc_source={str(r["id"]): str(r["id"]) for r in recs})
    files = sorted(folder.glob("*.jsonl"))
    if not files:
        sys.exit(f"no *.jsonl synthetic question files in {folder}; write some with `ragtune generate queries`.")
    seen = set()
    for f in files:
        for line in f.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            for i, q in enumerate(row["questions"]):
                key = (q.strip().lower(), row["doc"])
                if q.strip() and key not in seen:
                    seen.add(key)
                    qid = f"{f.stem}-{row['doc']}-{i}"
                    ds.queries[qid], ds.relevant_docs[qid] = q.strip(), [str(recs[row["doc"]]["id"])]
    return ds


def run_recipe(name: str, data, seed: int | None = None) -> dict:
    from ragtune.data.retrieval import construction_faq
    from ragtune.embeddings.train import train_embedding
    from ragtune.embeddings.train_adapter import train_adapter

    job, model, desc, kw = RECIPES[name]
    if seed is not None:  # another split of the synthetic data and another initialisation: the spread of a recipe
        kw, name, desc = {**kw, "seed": seed}, f"{name}@seed{seed}", f"{desc}; seed {seed}"
    human = construction_faq()
    t0 = time.perf_counter()
    out = RUNS / name
    if job == "adapter":
        m = train_adapter(dataset=data, model=model, output=out, eval_dataset=human, **kw)
    else:
        m = train_embedding(dataset=data, model=model, output=out, eval_dataset=human, **kw)
    rep = json.loads((out / "eval" / f"{human.name}.json").read_text())
    base, tuned = rep["results"]
    return {"recipe": name, "job": job, "model": model, "description": desc, "args": kw,
            "command": f".venv/bin/python bench/embed_recipes.py {name.split('@')[0]}" + (f" --seed {seed}" if seed is not None else ""),
            "train_queries": m.data["train_queries"], "val_queries": m.data["val_queries"],
            "val_median_rank_base": m.validation_difficulty["base_median_rank"],
            "human_ndcg@10": {"base": base["metrics"]["ndcg@10"], "tuned": tuned["metrics"]["ndcg@10"]},
            "human_mrr@10": tuned["metrics"]["mrr@10"], "human_hit@10": tuned["metrics"]["hit@10"],
            "ci95_tuned": tuned["ci95"]["ndcg@10"], "delta": tuned["vs_first"]["delta"], "delta_ci95": tuned["vs_first"]["ci95"],
            "wins_losses_ties": [tuned["vs_first"][k] for k in ("wins", "losses", "ties")],
            "val_ndcg@10": m.models["val"], "shipped": m.decision.shipped,
            "seconds": round(time.perf_counter() - t0, 1), "train_seconds": m.seconds.get("train_s")}


def save(row: dict) -> None:
    rows = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    rows[row["recipe"]] = row
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    tmp = RESULTS.with_suffix(".tmp")
    tmp.write_text(json.dumps(rows, indent=2))
    tmp.replace(RESULTS)


def print_table() -> None:
    rows = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    print(f"{'recipe':28} {'model':7} {'human ndcg@10':>13} {'delta [95% CI]':>26} {'W/L/T':>11} {'val rank':>8} {'s':>6}")
    for r in rows.values():
        d, ci = r["delta"], r["delta_ci95"]
        print(f"{r['recipe']:28} {r['model']:7} {r['human_ndcg@10']['tuned']:13.4f} {d:+.4f} [{ci[0]:+.4f},{ci[1]:+.4f}]"
              f" {'/'.join(map(str, r['wins_losses_ties'])):>11} {r['val_median_rank_base']:8.0f} {r['seconds']:6.0f}")


def markdown_table() -> str:
    """Every measured row as a markdown table (what bench/RESULTS.md shows), in recipe-list order."""
    rows = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    order = {k: i for i, k in enumerate(RECIPES)}
    lines = ["| recipe | model | what | human ndcg@10 (base) | delta [95% CI] | W/L/T | shipped | wall s |", "|---|---|---|---|---|---|---|---|"]
    for r in sorted(rows.values(), key=lambda r: (order.get(r["recipe"].split("@")[0], len(order)), r["recipe"])):
        d, ci, h = r["delta"], r["delta_ci95"], r["human_ndcg@10"]
        base_name, _, seed = r["recipe"].partition("@")
        what = RECIPES[base_name][2] + (f"; {seed.replace('seed', 'seed ')}" if seed else "") if base_name in RECIPES else r["description"]
        lines.append(f"| `{r['recipe']}` | {r['model']} | {what} | {h['tuned']:.4f} ({h['base']:.4f}) | "
                     f"{d:+.4f} [{ci[0]:+.4f}, {ci[1]:+.4f}] | {'/'.join(map(str, r['wins_losses_ties']))} | "
                     f"{'yes' if r.get('shipped') else 'no'} | {r['seconds']:.0f} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("recipes", nargs="*", help="recipe names (see --list)")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--all-adapters", action="store_true")
    ap.add_argument("--seed", type=int, default=None, help="override the recipe's seed (split + initialisation); the row is "
                    "saved as RECIPE@seedN")
    ap.add_argument("--synthetic", default="/work/shared/data/faq-synthetic", help="folder of raw synthetic question files")
    ap.add_argument("--markdown", action="store_true", help="print every measured row as a markdown table and exit")
    args = ap.parse_args()
    if args.markdown:
        print(markdown_table())
        return
    if args.list:
        done = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
        for k, (job, model, desc, _) in RECIPES.items():
            score = f"{done[k]['human_ndcg@10']['tuned']:.4f}" if k in done else "not run"
            print(f"{k:34} {job:9} {model:7} {score:>7}  {desc}")
        return
    names = args.recipes + ([k for k, v in RECIPES.items() if v[0] == "adapter"] if args.all_adapters else [])
    data = synthetic_dataset(Path(args.synthetic)) if names else None
    for name in names:
        if name not in RECIPES:
            sys.exit(f"unknown recipe {name!r}; see --list")
        row = run_recipe(name, data, args.seed)
        save(row)
        print(f"{name}: human ndcg@10 {row['human_ndcg@10']['tuned']:.4f} (base {row['human_ndcg@10']['base']:.4f}), "
              f"delta {row['delta']:+.4f} {row['delta_ci95']}, {row['seconds']} s", flush=True)
    print_table()


if __name__ == "__main__":
    main()
