"""Does a run's shipped model give the same numbers outside ragtune? RUN/model loaded by plain sentence-transformers
(`SentenceTransformer(path)`, `encode_query` / `encode_document`) against ragtune's own loader, on construction-faq's
503 human questions.

    .venv/bin/python bench/portable_model.py runs/demo/model

Prints ndcg@10 both ways and the largest vector difference; writes bench/results/portable_model.json.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
RESULTS = Path(__file__).parent / "results"


class PlainST:
    """sentence-transformers as a user calls it, behind ragtune's Encoder protocol (no ragtune code in the path)."""

    def __init__(self, path: str):
        from sentence_transformers import SentenceTransformer

        self.model, self.name = SentenceTransformer(path, device="cpu"), "plain sentence-transformers"

    def encode(self, texts, kind="document", batch_size=64, show_progress=False):
        fn = self.model.encode_query if kind == "query" else self.model.encode_document
        return fn(list(texts), batch_size=batch_size, convert_to_numpy=True, normalize_embeddings=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("model", help="a shipped model folder, e.g. runs/demo/model")
    args = ap.parse_args()

    import numpy as np

    from ragtune.data.retrieval import load_dataset
    from ragtune.embedders import load_embedder
    from ragtune.evaluation.retrieval import evaluate_retrieval

    ds = load_dataset("construction-faq")
    t0 = time.perf_counter()
    ours, plain = load_embedder(args.model), PlainST(args.model)
    report = evaluate_retrieval(ds, {"base": load_embedder("minilm"), "ragtune": ours, "sentence-transformers": plain})
    qs, docs = list(ds.queries.values()), list(ds.corpus.values())
    diff = {kind: float(np.abs(ours.encode(texts, kind) - plain.encode(texts, kind)).max())
            for kind, texts in (("query", qs), ("document", docs))}
    out = {"bench": "portable_model", "model": args.model, "queries": report.num_queries,
           "ndcg@10": {r.model: round(r.metrics["ndcg@10"], 4) for r in report.results},
           "max_abs_vector_difference": diff, "seconds": round(time.perf_counter() - t0, 1),
           "command": f"bench/portable_model.py {args.model}"}
    print(json.dumps(out, indent=1))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "portable_model.json").write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
