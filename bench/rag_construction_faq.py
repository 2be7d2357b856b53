"""The whole RAG app on construction-faq, naive against tuned, judged: `evaluate_rag` (what `ragtune eval rag` runs).

    flock /work/scratch/cpu.lock .venv/bin/python bench/rag_construction_faq.py

- naive: MiniLM + base SmolLM2-135M-Instruct;
- tuned: the demo run's adapter (`ragtune run`, /work/main/runs/demo/adapter, else .../model) + a SmolLM2
  LoRA-tuned here on FAQ RAG chats (retrieved top-3 passages + question -> the reference answer) of
  *training* questions only (`--sft-questions` of them, 1 epoch: the CPU budget);
- the judge: the one the judge bench's numbers say to trust (highest control accuracy in
  bench/results/judge_construction_faq.json; the teacher on a tie or when the file is absent).

The evaluated questions are a seeded sample (`--questions`) of the FAQ questions held out from the
generator's training (split by question). Every difference comes with a paired bootstrap 95% CI;
`significant` lists the metrics whose CI excludes zero. Writes bench/results/rag_construction_faq.json.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEMO = Path("/work/main/runs/demo")
JUDGES = {"teacher": "qwen2.5-coder-0.5b-instruct"}


def pick_judge(results: Path, work: Path) -> tuple[str, str]:
    """(spec, why): of the teacher and the tuned students of the judge bench runs (teacher labels, truth labels), the one
    with the highest control accuracy on the held-out items; the teacher on a tie or when no run is there."""
    best = (None, JUDGES["teacher"], "teacher")
    seen = []
    for name, folder in (("judge_construction_faq.json", "judge_construction_faq"),
                         ("judge_construction_faq_truth.json", "judge_construction_faq_truth")):
        path = results / name
        if not path.is_file():
            continue
        data = json.loads(path.read_text())
        t, s = data["teacher"]["control_accuracy"], data["student_tuned"]["control_accuracy"]
        runs = sorted((work / folder).glob("student-e*"), key=lambda p: p.stat().st_mtime)
        seen.append(f"{name}: teacher {t}, tuned student {s}")
        if best[0] is None or (t is not None and t > best[0] and best[2] == "teacher"):
            best = (t, JUDGES["teacher"], "teacher") if best[0] is None or t > best[0] else best
        if runs and s is not None and (best[0] is None or s > best[0]):
            best = (s, str(runs[-1]), f"tuned student of {name}")
    if not seen:
        return JUDGES["teacher"], "no judge bench results: the teacher"
    return best[1], f"highest control accuracy: {best[2]} ({best[0]}); " + "; ".join(seen)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--questions", type=int, default=40, help="evaluated (held-out) questions")
    ap.add_argument("--sft-questions", type=int, default=96, help="training questions for the SFT generator")
    ap.add_argument("--epochs", type=float, default=1.0)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--k", type=int, default=3)
    ap.add_argument("--answer-tokens", type=int, default=128)
    ap.add_argument("--judge-tokens", type=int, default=48)
    ap.add_argument("--adapter", default=None, help="tuned retriever (default: the demo run's adapter)")
    ap.add_argument("--judge", default=None, help="judge spec (default: chosen from the judge bench JSON)")
    ap.add_argument("--student", default="smollm2-135m-instruct", help="base generator (a tiny folder for a smoke run)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--work", default=str(ROOT / "bench" / "work" / "rag_construction_faq"))
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "rag_construction_faq.json"))
    a = ap.parse_args()

    from ragtune.data.retrieval import construction_faq
    from ragtune.embedders import load_embedder
    from ragtune.evaluation.rag import rag_messages, retrieve
    from ragtune.io import atomic_write_json, atomic_write_jsonl
    from ragtune.judges.data import subsample
    from ragtune.judges.items import faq_qa, split_question_ids
    from ragtune.judges.rag import Pipeline, evaluate_rag
    from ragtune.llm import LocalLLM
    from ragtune.sft.train import train_sft

    t0 = time.perf_counter()
    work = Path(a.work)
    work.mkdir(parents=True, exist_ok=True)
    timings = {}
    qa = faq_qa()
    corpus = construction_faq().corpus
    relevant = {r.id: [r.id] for r in qa}
    train_ids, test_ids = split_question_ids([r.id for r in qa], 0.2, a.seed)
    test_set = set(test_ids)
    eval_qa = subsample([r for r in qa if r.id in test_set], a.questions, a.seed)
    sft_qa = subsample([r for r in qa if r.id not in test_set], a.sft_questions, a.seed)
    minilm = load_embedder("minilm")

    adapter = a.adapter
    notes = []
    if adapter is None:
        for cand in (DEMO / "adapter", DEMO / "model"):
            if cand.exists() and any(cand.iterdir()):
                adapter = str(cand)
                break
    if adapter is None:
        notes.append("no demo adapter found (runs/demo/adapter, runs/demo/model): the tuned pipeline uses MiniLM")
    retriever = load_embedder(adapter) if adapter else minilm

    # the SFT generator: FAQ RAG chats of training questions -> reference answers
    t = time.perf_counter()
    got = retrieve(retriever, [r.question for r in sft_qa], corpus, a.k)
    chats = [{"id": r.id, "messages": [*rag_messages(r.question, texts), {"role": "assistant", "content": r.reference}]}
             for r, texts in zip(sft_qa, got.texts)]
    atomic_write_jsonl(work / "sft-train.jsonl", chats)
    val = retrieve(retriever, [r.question for r in eval_qa[:16]], corpus, a.k)
    atomic_write_jsonl(work / "sft-val.jsonl", [{"id": r.id, "messages": [*rag_messages(r.question, texts),
                                                                          {"role": "assistant", "content": r.reference}]}
                                                for r, texts in zip(eval_qa[:16], val.texts)])
    sft_dir = work / f"sft-generator-q{len(sft_qa)}-e{a.epochs}"
    m = train_sft(dataset=str(work / "sft-train.jsonl"), val_dataset=str(work / "sft-val.jsonl"), model=a.student,
                  output=str(sft_dir), epochs=a.epochs, learning_rate=a.lr, batch_size=8, lora_r=16, allow_regression=True,
                  seed=42, eval_each_epoch=False)
    timings["sft_generator"] = time.perf_counter() - t
    sft_losses = {"base_val_loss": (m.model_extra or {}).get("base", {}).get("val_loss"),
                  "tuned_val_loss": (m.model_extra or {}).get("tuned", {}).get("val_loss"), "decision": m.decision.reason}

    judge_spec, why = (a.judge, "given") if a.judge else pick_judge(ROOT / "bench" / "results", ROOT / "bench" / "work")
    base_gen = LocalLLM(a.student)
    pipelines = [Pipeline("naive", minilm, base_gen), Pipeline("tuned", retriever, LocalLLM(str(sft_dir)))]
    t = time.perf_counter()

    def progress(what, done, total):
        if done == total or done % 20 == 0:
            print(f"  {what}: {done}/{total} ({time.perf_counter() - t0:.0f}s)", flush=True)

    report, summary = evaluate_rag(eval_qa, corpus, relevant, pipelines, LocalLLM(judge_spec), work / "rag", k=a.k,
                                   concurrency=32, answer_max_tokens=a.answer_tokens, judge_max_tokens=a.judge_tokens,
                                   dataset="construction-faq", on_progress=progress)
    timings["eval_rag"] = time.perf_counter() - t
    tuned = report.result("tuned")
    metrics = [m_ for m_ in ("hit@3", "correctness", "correct", "faithfulness", "rouge_l") if m_ in tuned.metrics]
    out = {
        "questions": len(eval_qa), "questions_note": f"a seeded sample of {len(eval_qa)} of the {len(test_ids)} held-out FAQ questions",
        "judge": judge_spec, "judge_why": why, "retriever_tuned": adapter or "minilm", "generator_tuned": str(sft_dir),
        "sft_generator": {"train_questions": len(sft_qa), "epochs": a.epochs, **sft_losses},
        "pipelines": {r.model: {k: r.metrics.get(k) for k in metrics} | {"ci95": {k: r.ci95.get(k) for k in metrics}}
                      for r in report.results},
        "tuned_vs_naive": {k: {"delta": tuned.metrics.get(f"delta_{k}"), "ci95": tuned.ci95.get(f"delta_{k}"),
                               "significant": bool(tuned.metrics.get(f"significant_{k}"))} for k in metrics},
        "significant": [k for k in metrics if tuned.metrics.get(f"significant_{k}")],
        "summary": summary, "notes": notes, "settings": vars(a),
        "timings_s": {k: round(v, 1) for k, v in timings.items()} | {"total": round(time.perf_counter() - t0, 1)},
    }
    atomic_write_json(a.out, out)
    atomic_write_json(Path(a.out).with_name("rag_construction_faq_report.json"), report.to_json())
    for r in report.results:
        print(r.model, {k: round(r.metrics[k], 3) for k in metrics if k in r.metrics})
    print("tuned vs naive:", json.dumps(out["tuned_vs_naive"]))
    print(f"judge: {judge_spec} ({why}); wrote {a.out}")


if __name__ == "__main__":
    main()
