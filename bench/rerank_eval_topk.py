"""Diagnostic: a trained reranker behind minilm on the 503 human construction-faq questions at another K.

    .venv/bin/python bench/rerank_eval_topk.py runs/rerank-teacher --top-k 10

Writes bench/results/rerank_<run name>_k<K>.json (the `eval rerank` shape, per-query values dropped).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("run")
    ap.add_argument("--top-k", type=int, default=10)
    ap.add_argument("--retriever", default="minilm")
    ap.add_argument("--max-length", type=int, default=160)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    from ragtune.data.retrieval import construction_faq
    from ragtune.embedders import load_embedder
    from ragtune.evaluation.rerank import evaluate_rerank
    from ragtune.rerankers.models import load_reranker

    t0 = time.perf_counter()
    name = Path(args.run).name
    report = evaluate_rerank(construction_faq(), load_embedder(args.retriever), load_reranker(args.run, max_length=args.max_length),
                             top_k=args.top_k, oracle=False, latency_queries=0, reranker_name=name).model_dump(exclude_none=True)
    report.pop("per_query")
    report["seconds"]["total"] = round(time.perf_counter() - t0, 1)
    report["note"] = "CPU shared by ~5 engineers on 2 cores: timings are contended"
    for r in report["results"]:
        vs = r.get("vs_first") or {}
        print(r["model"], round(r["metrics"]["ndcg@10"], 4), vs.get("delta"), vs.get("ci95"), flush=True)
    out = Path(__file__).parent / "results" / f"rerank_{name}_k{args.top_k}.json"
    out.write_text(json.dumps(report, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
