"""Which synthetic questions train a better retriever? Downstream human-question ndcg@10 per lever.

The test: `construction-faq` (503 answers = corpus, 503 human questions = held-out queries; the
human questions are never used for training or prompting here). For each lever, `minilm` is
fine-tuned with one fixed recipe on (synthetic question, answer) pairs -- MultipleNegativesRankingLoss,
1 epoch, lr 2e-5, batch 32, no-duplicates batches, seed 42 -- and scored on the human questions
with a paired bootstrap against the base model.

Question sources:
  --raw NAME=FILE   raw LLM questions as JSONL {"doc": answer index, "questions": [...]} (for
                    trying cleaning/filter levers fast, e.g. pre-generated files)
  --gen NAME=DIR    the output folder of `ragtune generate queries` run on the FAQ answers
                    (its journal's raw replies are re-parsed per lever)
  --product NAME=DIR  the same folder's kept questions as they are (levers the product applies
                    itself: --examples, --self-check, --questions-per-chunk, the prompt)
Levers per source: raw (no cleaning), cleaned (ragtune's parser + cross-set dedup), cleaned +
round-trip filter at top 20 and top 10 (reference embedder minilm).

    .venv/bin/python bench/gen_quality.py --raw smollm2-2q=FILE --raw qwen-1q=FILE --gen product=DIR
Writes bench/results/gen_quality.json (one row per lever, appended as each finishes).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
RESULTS = Path(__file__).parent / "results" / "gen_quality.json"
HELD_OUT: set[str] = set()  # --examples-used: human questions removed from the test set


def answers() -> list[str]:
    from ragtune.data.retrieval import faq_records

    return [r["a"] for r in faq_records()]


def raw_questions(path: str) -> list[tuple[int, str]]:
    """(answer index, raw question text) from a JSONL of {"doc": i, "questions": [...]}."""
    rows = [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
    return [(int(r["doc"]), q) for r in rows for q in r["questions"]]


def generated_replies(folder: str, docs: list[str]) -> list[tuple[int, str]]:
    """(answer index, raw reply) from a `generate queries` output folder (all.json + journal.jsonl)."""
    from ragtune.io import read_jsonl_tolerant

    corpus = json.loads((Path(folder) / "all.json").read_text())["corpus"]
    index = {text: i for i, text in enumerate(docs)}
    by_chunk = {cid: index[t] for cid, t in corpus.items() if t in index}
    return [(by_chunk[r["chunk_id"]], r["reply"]) for r in read_jsonl_tolerant(Path(folder) / "journal.jsonl")
            if r.get("chunk_id") in by_chunk]


def product_questions(folder: str, docs: list[str]) -> list[tuple[int, str]]:
    """(answer index, question) as `generate queries` kept them (its own cleaning, filters, self-check)."""
    data = json.loads((Path(folder) / "all.json").read_text())
    index = {text: i for i, text in enumerate(docs)}
    return [(index[data["corpus"][rel[0]]], data["queries"][qid]) for qid, rel in data["relevant_docs"].items()
            if data["corpus"].get(rel[0]) in index]


def clean(items: list[tuple[int, str]], docs: list[str], per_reply: int) -> list[tuple[int, str]]:
    from ragtune.generate.parsing import dedup_across, parse_reply

    kept = [(i, q) for i, reply in items for q in parse_reply(reply, docs[i], per_reply).kept]
    out, _ = dedup_across([(str(i), q) for i, q in kept])
    return [(int(i), q) for i, q in out]


def round_trip(items: list[tuple[int, str]], docs: list[str], k: int) -> list[tuple[int, str]]:
    from ragtune.embedders import load_embedder
    from ragtune.evaluation.search import positive_ranks

    emb = load_embedder("minilm")
    q = emb.encode([t for _, t in items], kind="query")
    d = emb.encode(docs, kind="document")
    ranks = positive_ranks(q, d, [[i] for i, _ in items])
    return [it for it, r in zip(items, ranks) if r <= k]


def finetune(pairs: list[tuple[str, str]], out: Path, seed: int = 42) -> Path:
    """The fixed recipe: MNRL, 1 epoch, lr 2e-5, batch 32, warm-up 10%, no duplicate texts in a batch."""
    from datasets import Dataset
    from sentence_transformers import SentenceTransformer, SentenceTransformerTrainer, SentenceTransformerTrainingArguments
    from sentence_transformers.losses import MultipleNegativesRankingLoss
    from sentence_transformers.sentence_transformer.training_args import BatchSamplers

    from ragtune.assets import resolve_model

    import torch

    torch.set_num_threads(int(os.environ.get("BENCH_THREADS", "1")))  # 1: no OpenMP stalls on a busy machine
    model = SentenceTransformer(str(resolve_model("minilm")), device="cpu")
    data = Dataset.from_dict({"anchor": [q for q, _ in pairs], "positive": [a for _, a in pairs]})
    args = SentenceTransformerTrainingArguments(
        output_dir=str(out / "trainer"), num_train_epochs=1, learning_rate=2e-5, per_device_train_batch_size=32,
        warmup_steps=0.1, batch_sampler=BatchSamplers.NO_DUPLICATES, seed=seed, save_strategy="no",
        logging_strategy="no", report_to="none", use_cpu=True, dataloader_drop_last=False)
    SentenceTransformerTrainer(model=model, args=args, train_dataset=data,
                               loss=MultipleNegativesRankingLoss(model)).train()
    model.save(str(out / "model"))
    return out / "model"


def score(model_spec: str | None) -> dict:
    from ragtune.data.retrieval import construction_faq
    from ragtune.embedders import load_embedder
    from ragtune.evaluation.retrieval import evaluate_retrieval

    models = {"base": load_embedder("minilm")}
    if model_spec is not None:
        models["tuned"] = load_embedder(model_spec)
    test = construction_faq()
    if HELD_OUT:  # human questions shown to the LLM as style examples never score
        test = test.subset([qid for qid, q in test.queries.items() if q.strip() not in HELD_OUT], name=test.name)
    report = evaluate_retrieval(test, models, bootstrap=1000)
    last = report.results[-1]
    row = {"ndcg@10": round(last.metrics["ndcg@10"], 4), "ci95": [round(x, 4) for x in last.ci95["ndcg@10"]],
           "test_queries": len(test.queries)}
    if last.vs_first is not None:
        row["vs_base"] = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in last.vs_first.model_dump().items()
                          if k not in ("baseline", "metric")}
    return row


def run_lever(name: str, items: list[tuple[int, str]], docs: list[str]) -> dict:
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        folder = finetune([(q, docs[i]) for i, q in items], Path(tmp))
        row = {"lever": name, "pairs": len(items), "answers_covered": len({i for i, _ in items}), **score(str(folder))}
    row["seconds"] = round(time.perf_counter() - t0, 1)
    print(json.dumps(row), flush=True)
    return row


def levers(name: str, items: list[tuple[int, str]], docs: list[str], per_reply: int, only: set[str] | None):
    cleaned = clean(items, docs, per_reply)
    plan = {f"{name} raw": lambda: [(i, q.strip()) for i, q in items if q.strip()],
            f"{name} cleaned": lambda: cleaned,
            f"{name} cleaned + round-trip top20": lambda: round_trip(cleaned, docs, 20),
            f"{name} cleaned + round-trip top10": lambda: round_trip(cleaned, docs, 10)}
    for lever, make in plan.items():
        if only is None or any(lever.endswith(o) for o in only):
            yield lever, make()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--raw", action="append", default=[], help="NAME=FILE of raw questions")
    ap.add_argument("--gen", action="append", default=[], help="NAME=DIR of a `generate queries` output")
    ap.add_argument("--product", action="append", default=[], help="NAME=DIR of a `generate queries` output, its kept "
                    "questions as they are (one lever: the product's own cleaning, filters and self-check)")
    ap.add_argument("--per-reply", type=int, default=1, help="questions kept per reply when cleaning")
    ap.add_argument("--only", action="append", help="run only levers ending with this (raw, cleaned, top20, top10)")
    ap.add_argument("--skip-base", action="store_true")
    ap.add_argument("--examples-used", help="the --examples file given to `generate queries`: its human questions are "
                    "removed from the test set of every row scored in this invocation (and its base row)")
    ap.add_argument("--combine", help="pool every source's questions into one source of this name "
                    "(the questions-per-chunk lever: more questions per answer)")
    a = ap.parse_args()
    if a.examples_used:
        from ragtune.generate.prompts import load_examples

        HELD_OUT.update(load_examples(a.examples_used))
    docs = answers()
    rows = json.loads(RESULTS.read_text())["rows"] if RESULTS.exists() else []
    if not a.skip_base:
        rows = [r for r in rows if not r["lever"].startswith("base")]
        rows.insert(0, {"lever": "base minilm (no fine-tuning)", **score(None)})
        print(json.dumps(rows[0]), flush=True)
        save(rows)
    sources = [(n, raw_questions(p)) for n, p in (s.split("=", 1) for s in a.raw)]
    sources += [(n, generated_replies(p, docs)) for n, p in (s.split("=", 1) for s in a.gen)]
    if a.combine:
        sources = [(a.combine, [it for _, items in sources for it in items])]
    for name, folder in (s.split("=", 1) for s in a.product):
        lever = f"{name} (as kept by generate queries)"
        row = run_lever(lever, product_questions(folder, docs), docs)
        rows = [r for r in (json.loads(RESULTS.read_text())["rows"] if RESULTS.exists() else rows) if r["lever"] != lever] + [row]
        save(rows)
    for name, items in sources:
        for lever, chosen in levers(name, items, docs, a.per_reply, set(a.only) if a.only else None):
            row = run_lever(lever, chosen, docs)
            rows = [r for r in (json.loads(RESULTS.read_text())["rows"] if RESULTS.exists() else rows)
                    if r["lever"] != lever] + [row]
            save(rows)


def save(rows: list[dict]) -> None:
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"recipe": "minilm, MNRL, 1 epoch, lr 2e-5, batch 32, no-duplicates batches, seed 42",
                                   "test": "construction-faq human questions (503)", "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
