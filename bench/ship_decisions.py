"""Do ship decisions hold for a user with documents only? `ragtune run` on a FAQ's answers as plain documents (no eval
set), then every model is judged afterwards on the FAQ's human questions, which the run never saw.

    .venv/bin/python bench/ship_decisions.py --domain faq --style user            # the new default validation
    .venv/bin/python bench/ship_decisions.py --domain faq --style same            # the old one, for comparison
    .venv/bin/python bench/ship_decisions.py --domain faq --style user --label 40 # 40 human queries labelled with
                                                                                  # `ragtune label` decide; the rest judge
    .venv/bin/python bench/ship_decisions.py --domain faq-sv ...                  # held-out domain: the Swedish FAQ

Domains: `faq` = construction-faq's 503 English answers and questions (the demo's data); `faq-sv` = the same package's
503 Swedish answers and human questions (installed, never tuned on: a language minilm and mpnet were not trained for).
With `--label N`, N human questions (seeded) are labelled through ragtune.label's API, answered from the FAQ's gold
answers, and given as --eval-dataset; the human verdict is taken on the other questions only.
Writes bench/results/ship_decisions_<domain>_<style>[_labelN].json and prints the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
RESULTS = Path(__file__).parent / "results"
RUNS = Path("runs") / "ship"


def records(domain: str) -> list[dict]:
    from ragtune.assets import asset_path

    name = {"faq": "faq-en.jsonl", "faq-sv": "faq.jsonl"}[domain]
    path = asset_path("construction-faq").parent / name
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def write_docs(rows: list[dict], folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "answers.jsonl"
    path.write_text("".join(json.dumps({"text": r["a"]}, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def human_set(rows: list[dict], corpus_ds, docs: Path, keep: set[int] | None = None, name: str = "human"):
    """The human questions over the run's own corpus: a question's relevant chunks are its answer's chunks."""
    from ragtune.data.retrieval import RetrievalDataset

    by_source: dict[str, list[str]] = {}
    for cid in corpus_ds.corpus:
        by_source.setdefault(corpus_ds.source_of(cid), []).append(cid)
    queries, relevant = {}, {}
    for i, r in enumerate(rows):
        if keep is not None and i not in keep:
            continue
        chunks = by_source.get(f"{docs.as_posix()}#{i + 1}", [])
        if chunks:
            queries[f"h{i}"], relevant[f"h{i}"] = r["q"], chunks
    return RetrievalDataset(queries=queries, corpus=dict(corpus_ds.corpus), relevant_docs=relevant,
                            doc_source=dict(corpus_ds.doc_source), name=name)


def labelled(rows: list[dict], corpus_ds, docs: Path, n: int, out: Path, seed: int) -> tuple[Path, set[int], dict]:
    """Label human questions with ragtune.label (pooled top-5 of minilm and mpnet), answered from the gold answers:
    a question whose gold chunk is not in the pool is skipped, as a user would. Stops at n labelled."""
    from ragtune.label import label_queries

    gold = human_set(rows, corpus_ds, docs)
    order = list(range(len(rows)))
    random.Random(seed).shuffle(order)
    asked, chosen = [], set()
    text_to_row = {rows[i]["q"]: i for i in order}
    state = {"labelled": 0}

    def answer(query, passages):
        if state["labelled"] >= n:
            return "quit"
        i = text_to_row[query]
        asked.append(i)
        want = set(gold.relevant_docs.get(f"h{i}", []))
        picks = [p.number for p in passages if p.doc_id in want]
        if not picks:
            return "skip"
        state["labelled"] += 1
        chosen.add(i)
        return picks

    t0 = time.perf_counter()
    summary = label_queries([rows[i]["q"] for i in order], corpus_ds, model="minilm", teacher="mpnet", output=out,
                            answer_fn=answer)
    stats = {"labelled": state["labelled"], "asked": len(asked), "skipped": len(asked) - len(chosen),
             "seconds": round(time.perf_counter() - t0, 1), "pooling_seconds_per_query": summary.pooling_seconds_per_query}
    return out, set(asked), stats


def judge_afterwards(run: Path, cfg, human) -> dict:
    """Every model of the run (shipped or not), the teacher and the shipped result, on the human questions."""
    from ragtune.embedders import adapted_embedder, load_embedder, sentence_transformer_embedder
    from ragtune.evaluation.retrieval import evaluate_retrieval
    from ragtune.runs import decide_gain

    base = load_embedder(cfg.model)
    models = {"base": base, "teacher": load_embedder("mpnet")}
    if (run / "finetune" / "checkpoints" / "tuned").exists():
        models["finetuned"] = sentence_transformer_embedder(run / "finetune" / "checkpoints" / "tuned", name="finetuned")
    models["adapter"] = adapted_embedder(base, run / "adapter" / "checkpoints" / "final", name="adapter")
    report = evaluate_retrieval(human, models)
    out = {"queries": report.num_queries, "ndcg@10": {r.model: round(r.metrics["ndcg@10"], 4) for r in report.results},
           "vs_base": {}, "human_verdict": {}}
    for r in report.results[1:]:
        c = r.vs_first
        out["vs_base"][r.model] = {"delta": round(c.delta, 4), "ci95": [round(x, 4) for x in c.ci95], "wins": c.wins,
                                   "losses": c.losses}
        out["human_verdict"][r.model] = decide_gain(report, "eval dataset", r.model).verdict
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--domain", choices=["faq", "faq-sv"], default="faq")
    ap.add_argument("--style", choices=["user", "same"], default="user")
    ap.add_argument("--label", type=int, default=0, help="label this many human questions and decide on them")
    ap.add_argument("--seed-journal", default=None, help="a generation journal to start from (same prompts reuse calls)")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--max-chunks", type=int, default=0, help="a quick smoke run on the first N chunks")
    ap.add_argument("--no-finetune", action="store_true", help="adapter stage only (the default when --label is 0)")
    args = ap.parse_args()

    from ragtune.data.retrieval import load_dataset
    from ragtune.pipeline import RunConfig, run

    name = f"{args.domain}_{args.style}" + (f"_label{args.label}" if args.label else "") + (
        f"_first{args.max_chunks}" if args.max_chunks else "") + ("_nofinetune" if args.no_finetune else "")
    rows = records(args.domain)
    folder = RUNS / name
    docs = write_docs(rows, RUNS / f"docs-{args.domain}")
    if args.seed_journal and not (folder / "data" / "generated" / "journal.jsonl").exists():
        (folder / "data" / "generated").mkdir(parents=True, exist_ok=True)
        shutil.copy(args.seed_journal, folder / "data" / "generated" / "journal.jsonl")
    out: dict = {"bench": "ship_decisions", "domain": args.domain, "style": args.style, "label": args.label,
                 "command": "bench/ship_decisions.py " + " ".join(sys.argv[1:])}
    asked: set[int] = set()
    eval_path = None
    if args.label:
        # the corpus a user would label against: the documents chunked as ragtune run chunks them
        from ragtune.label import load_corpus

        corpus = load_corpus([str(docs)])
        eval_path, asked, out["labelling"] = labelled(rows, corpus, docs, args.label, RUNS / f"{name}-labels.json", args.seed)
    cfg = RunConfig(docs=[str(docs)], output=str(folder), val_style=args.style, seed=args.seed, max_chunks=args.max_chunks,
                    finetune=False if args.no_finetune else None,  # the default: only with an eval dataset
                    eval_dataset=str(eval_path) if eval_path else None)
    t0 = time.perf_counter()
    m = run(cfg, say=lambda s: print(s, flush=True))
    out["wall_s"] = round(time.perf_counter() - t0, 1)
    out["seconds_by_stage"] = m.seconds
    out["decision"] = m.decision.model_dump()
    out["stage_decisions"] = {k: {"verdict": v["verdict"], "delta": v["delta"], "ci95": v["ci95"], "evidence": v["evidence"],
                                  "reason": v["reason"]} for k, v in m.decisions.items()}
    for stage in ("finetune", "adapter"):
        path = folder / stage / "metrics.json"
        if path.exists():
            out.setdefault("teacher_check", {})[stage] = json.loads(path.read_text()).get("teacher_check")
    out["generation"] = {k: m.generation.get(k) for k in ("questions_kept", "candidates", "train_queries", "val_queries",
                                                          "validation", "dropped")}
    corpus = load_dataset(folder / "data" / "generated" / "all.json")
    keep = set(range(len(rows))) - asked
    human = human_set(rows, corpus, docs, keep, name=f"{args.domain}-human" + (f"-minus-{len(asked)}-asked" if asked else ""))
    out["human"] = judge_afterwards(folder, cfg, human)
    shipped = m.decision.model if m.decision.shipped else "base"
    out["shipped"] = shipped
    out["shipped_human_ndcg@10"] = out["human"]["ndcg@10"].get(shipped)
    out["matches_human_verdict"] = {k: out["stage_decisions"][k]["verdict"] == out["human"]["human_verdict"].get(k)
                                    for k in out["stage_decisions"]}
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"ship_decisions_{name}.json"
    path.write_text(json.dumps(out, indent=2, ensure_ascii=False))
    print(json.dumps({k: out[k] for k in ("decision", "stage_decisions", "teacher_check", "human", "shipped",
                                          "shipped_human_ndcg@10", "matches_human_verdict", "seconds_by_stage")
                      if k in out}, indent=1, ensure_ascii=False)[:6000])
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
