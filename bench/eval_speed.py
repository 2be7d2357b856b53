"""Evaluation speed: `evaluate_retrieval` against the bare `model.encode` of the same texts, same run.

Figures (printed and written to bench/results/eval_speed.json):
- overhead ratio = cold evaluation wall time / bare encode time (model already loaded in both; goal <= 1.10),
- cached ratio   = re-evaluation of the same model / cold evaluation (goal <= 0.05),
- a large corpus: evaluation wall time with N synthetic chunks (default 20,000) built from the FAQ
  answers' sentences, with 503 human questions as queries.

Run: .venv/bin/python bench/eval_speed.py [--large 20000] [--repeats 2]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="minilm")
    ap.add_argument("--large", type=int, default=20000, help="chunks in the large-corpus run (0 to skip)")
    ap.add_argument("--repeats", type=int, default=2, help="alternating repeats; the best of each is kept")
    ap.add_argument("--out", default="bench/results/eval_speed.json")
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    from ragtune.data.retrieval import construction_faq
    from ragtune.embedders import load_embedder
    from ragtune.evaluation.retrieval import evaluate_retrieval

    ds = construction_faq()
    texts_q, texts_d = list(ds.queries.values()), list(ds.corpus.values())
    bare_times, cold_times, warm_times = [], [], []
    for _ in range(args.repeats):
        with tempfile.TemporaryDirectory() as home:
            os.environ["RAGTUNE_HOME"] = home
            emb = load_embedder(args.model)
            model = emb.model()  # load once, outside both timings
            model.encode(texts_q[:8])  # warm-up
            t = time.perf_counter()
            model.encode_query(texts_q, batch_size=64, convert_to_numpy=True, normalize_embeddings=True)
            model.encode_document(texts_d, batch_size=64, convert_to_numpy=True, normalize_embeddings=True)
            bare_times.append(time.perf_counter() - t)
            t = time.perf_counter()
            evaluate_retrieval(ds, {"m": emb}, bootstrap=1000)
            cold_times.append(time.perf_counter() - t)
            t = time.perf_counter()
            evaluate_retrieval(ds, {"m": load_embedder(args.model)}, bootstrap=1000)
            warm_times.append(time.perf_counter() - t)
    res = {
        "model": args.model, "num_queries": len(texts_q), "num_docs": len(texts_d),
        "bare_encode_s": min(bare_times), "cold_eval_s": min(cold_times), "cached_eval_s": min(warm_times),
        "overhead_ratio": min(cold_times) / min(bare_times), "cached_ratio": min(warm_times) / min(cold_times),
        "all_runs": {"bare": bare_times, "cold": cold_times, "cached": warm_times},
    }
    print(f"bare encode {res['bare_encode_s']:.2f}s | cold eval {res['cold_eval_s']:.2f}s "
          f"(ratio {res['overhead_ratio']:.3f}, goal <= 1.10) | cached re-eval {res['cached_eval_s']:.3f}s "
          f"(ratio {res['cached_ratio']:.3f}, goal <= 0.05)")
    if args.large:
        res["large"] = large_corpus(args.model, args.large, ds)
        print(f"large corpus: {res['large']['num_docs']} docs, {res['large']['num_queries']} queries: "
              f"cold eval {res['large']['cold_eval_s']:.1f}s, cached {res['large']['cached_eval_s']:.2f}s")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(res, indent=2))
    print(f"wrote {args.out}")


def large_corpus(model_spec: str, n: int, faq) -> dict:
    """N distinct chunks made of 2-4 FAQ sentences each; the FAQ answers stay in as the positives."""
    from ragtune.data.retrieval import RetrievalDataset
    from ragtune.embedders import load_embedder
    from ragtune.evaluation.retrieval import evaluate_retrieval

    rng = random.Random(0)
    sentences = [s.strip() + "." for a in faq.corpus.values() for s in a.split(". ") if len(s.split()) > 3]
    corpus = dict(faq.corpus)
    while len(corpus) < n:
        corpus[f"syn-{len(corpus)}"] = " ".join(rng.sample(sentences, rng.randint(2, 4)))
    ds = RetrievalDataset(queries=faq.queries, corpus=corpus, relevant_docs=faq.relevant_docs, name=f"faq+{n}")
    with tempfile.TemporaryDirectory() as home:
        os.environ["RAGTUNE_HOME"] = home
        t = time.perf_counter()
        rep = evaluate_retrieval(ds, {"m": load_embedder(model_spec)}, bootstrap=1000)
        cold = time.perf_counter() - t
        t = time.perf_counter()
        evaluate_retrieval(ds, {"m": load_embedder(model_spec)}, bootstrap=1000)
        cached = time.perf_counter() - t
    return {"num_docs": len(corpus), "num_queries": len(ds.queries), "cold_eval_s": cold, "cached_eval_s": cached,
            "ndcg@10": rep.results[0].metrics["ndcg@10"]}


if __name__ == "__main__":
    main()
