"""Speed: `ragtune train embedding` vs a plain SentenceTransformerTrainer on the same data, same run;
and adapter training time for 10 epochs once the embedding cache is warm.

Data (no test questions involved): pseudo pairs from the bundled FAQ answers -- anchor = one sentence of
an answer, positive = the whole answer -- split by answer (80/20). Both trainers see the same training
rows with the same hyperparameters (minilm, MNRL, no-duplicates batches, batch 16, lr 2e-5, 1 epoch,
seed 42). The order is plain, ragtune, ragtune, plain (ABBA) so drift in machine load cancels; the
figure is the ratio of mean training examples/s. ragtune's number includes its per-epoch validation
and checkpoint save (it does that work; the plain trainer does not).

    .venv/bin/python bench/embed_speed.py [--pairs 320]
Writes bench/results/embed_speed.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
RESULTS = Path(__file__).parent / "results" / "embed_speed.json"


def pseudo_pairs(n: int):
    from ragtune.data.retrieval import RetrievalDataset, faq_records, split_by_source

    ds = RetrievalDataset(queries={}, corpus={}, relevant_docs={}, name="faq-sentence-pairs")
    for r in faq_records():
        did = str(r["id"])
        ds.corpus[did], ds.doc_source[did] = r["a"], did
        sents = [s for s in re.split(r"(?<=[.!?])\s+", r["a"]) if len(s.split()) >= 5]
        if sents and len(ds.queries) < n:
            ds.queries[f"s-{did}"], ds.relevant_docs[f"s-{did}"] = sents[0], [did]
    return split_by_source(ds, 0.2, 42)


def plain(train, run: Path) -> float:
    import datasets
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.base.sampler import BatchSamplers
    from sentence_transformers.sentence_transformer import losses
    from sentence_transformers.sentence_transformer.trainer import SentenceTransformerTrainer
    from sentence_transformers.sentence_transformer.training_args import SentenceTransformerTrainingArguments

    from ragtune.assets import resolve_model

    model = SentenceTransformer(str(resolve_model("minilm")), device="cpu", local_files_only=True)
    model.max_seq_length = 256
    rows = {"anchor": list(train.queries.values()), "positive": [train.corpus[train.relevant_docs[q][0]] for q in train.queries]}
    args = SentenceTransformerTrainingArguments(output_dir=str(run), num_train_epochs=1, per_device_train_batch_size=16,
                                                learning_rate=2e-5, warmup_steps=0.1, seed=42, data_seed=42,
                                                batch_sampler=BatchSamplers.NO_DUPLICATES, report_to="none",
                                                save_strategy="no", eval_strategy="no", disable_tqdm=True,
                                                dataloader_pin_memory=False)
    trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=datasets.Dataset.from_dict(rows),
                                         loss=losses.MultipleNegativesRankingLoss(model))
    return trainer.train().metrics["train_samples_per_second"]


def ragtune(train, val, run: Path) -> tuple[float, float]:
    """(examples/s as the trainer reports it, examples/s with the in-training validation time taken out)."""
    from ragtune.embeddings.train import train_embedding

    m = train_embedding(dataset=train, model="minilm", output=run, val_dataset=val, epochs=1, batch_size=16, learning_rate=2e-5,
                        seed=42)
    rate = m.train_samples_per_second
    seconds = len(train.queries) / rate
    return rate, len(train.queries) / max(1e-9, seconds - m.validation_seconds_during_training)


def adapter_epochs(epochs: int = 10) -> dict:
    """Seconds for `epochs` adapter epochs on warm cached vectors (minilm student, mpnet teacher)."""
    from ragtune.data.retrieval import faq_records
    from ragtune.embedders import load_embedder
    from ragtune.embeddings.config import AdapterConfig
    from ragtune.embeddings.train_adapter import _softmax, fit_adapter
    from ragtune.generate.pseudo import doc_sentences

    docs = [r["a"] for r in faq_records()]
    queries = doc_sentences(docs)
    s, t = load_embedder("minilm"), load_embedder("mpnet")
    t0 = time.perf_counter()
    q, d = s.encode(queries, "query"), s.encode(docs, "document")
    tq, td = t.encode(queries, "query"), t.encode(docs, "document")
    t_cache = time.perf_counter() - t0
    target = _softmax(tq @ td.T / 0.05)
    cfg = AdapterConfig(dataset="faq-sentences", output="unused", epochs=epochs)
    t1 = time.perf_counter()
    fit_adapter(q, d, target, (q[:200], d, [set() for _ in range(200)]), cfg)
    return {"queries": len(queries), "docs": len(docs), "epochs": epochs, "cache_read_s": round(t_cache, 2),
            "train_s_including_per_epoch_validation": round(time.perf_counter() - t1, 2),
            "encoded_now": {"student": s.last_stats, "teacher": t.last_stats}}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", type=int, default=320, help="training pairs before the 80/20 split")
    args = ap.parse_args()
    train, val = pseudo_pairs(args.pairs)
    out = {"train_rows": len(train.queries), "val_queries": len(val.queries), "plain": [], "ragtune": [],
           "ragtune_without_validation_time": []}
    with tempfile.TemporaryDirectory() as tmp:
        for i, who in enumerate(["plain", "ragtune", "ragtune", "plain"]):
            run = Path(tmp) / f"{who}{i}"
            if who == "plain":
                rate = plain(train, run)
            else:
                rate, no_val = ragtune(train, val, run)
                out["ragtune_without_validation_time"].append(round(no_val, 3))
            out[who].append(round(rate, 3))
            print(f"{who}: {rate:.2f} examples/s", flush=True)
    out["ratio_ragtune_vs_plain"] = round(sum(out["ragtune"]) / sum(out["plain"]), 3)
    out["ratio_without_validation_time"] = round(sum(out["ragtune_without_validation_time"]) / sum(out["plain"]), 3)
    out["adapter"] = adapter_epochs(10)
    print(f"ratio ragtune/plain: {out['ratio_ragtune_vs_plain']}; adapter: {out['adapter']}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
