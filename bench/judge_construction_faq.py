"""Distil a judge on construction-faq: teacher Qwen2.5-Coder-0.5B-Instruct, student SmolLM2-135M-Instruct (LoRA).

    flock /work/scratch/cpu.lock .venv/bin/python bench/judge_construction_faq.py --budget-min 22

1. `generate_judge_data` on a seeded sample of the FAQ: closed-book answers by the base student
   (one answer source), correctness + pairwise items with controls, the teacher's judgments (pairwise in
   both orders), split by question (no question, and no control donor, on both sides).
2. The base student judges the test items.
3. `train_sft` (LoRA) of the student on the teacher's judgments of the training questions (with
   order-swapped pairwise copies); validation = the test questions' chats; shipped whatever the loss
   (`allow_regression`), since the point is to measure it as a judge.
4. The tuned student judges the test items; `judge_eval_report` compares all three.

Correctness scores are the expected score E[s] over the first reply token's probabilities of "1".."5"
(`ragtune.judges.judge`: correlations on E[s], control accuracy and agreement shares on E[s] rounded);
the JSON also has each judge's stated (greedy) score histogram and the ROC AUC of E[s] for the reference
control against the two wrong controls (`auc_reference_vs_wrong`), which needs no rounding.

The machine is 2 shared CPU cores, so the bench sizes itself: it times a trial slice of 3 questions
(its calls are journaled and reused), then picks the number of questions so that the teacher stage fits
`teacher_share` of the budget, and the SFT epochs so that training fits `sft_share`. What it picked is in
the JSON (`settings`). Writes bench/results/judge_construction_faq.json.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--budget-min", type=float, default=22.0, help="wall-clock budget of the whole bench")
    ap.add_argument("--teacher-share", type=float, default=0.33)
    ap.add_argument("--sft-share", type=float, default=0.33)
    ap.add_argument("--questions", type=int, default=None, help="fix the number of questions (else sized by the slice)")
    ap.add_argument("--max-questions", type=int, default=120)
    ap.add_argument("--test-fraction", type=float, default=0.3)
    ap.add_argument("--max-tokens", type=int, default=48, help="longest judge reply")
    ap.add_argument("--answer-tokens", type=int, default=80, help="longest closed-book answer")
    ap.add_argument("--max-epochs", type=float, default=2.0)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--sft-tokens-per-s", type=float, default=100.0, help="assumed LoRA training speed (bench/RESULTS.md: ~125)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--teacher", default="qwen2.5-coder-0.5b-instruct", help="teacher model (a tiny folder for a smoke run)")
    ap.add_argument("--student", default="smollm2-135m-instruct", help="student model")
    ap.add_argument("--labels", choices=("teacher", "truth"), default="teacher",
                    help="what the student learns: the teacher's judgments, or the control labels (known by construction)")
    ap.add_argument("--reuse-from", default=None, help="another work folder whose journals (answers, teacher, base student) to reuse")
    ap.add_argument("--work", default=str(ROOT / "bench" / "work" / "judge_construction_faq"))
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "judge_construction_faq.json"))
    a = ap.parse_args()

    from ragtune.io import atomic_write_json
    from ragtune.judges.data import generate_judge_data, subsample
    from ragtune.judges.evaluate import judge_eval_report, read_data, run_judges
    from ragtune.judges.items import faq_qa
    from ragtune.llm import LocalLLM
    from ragtune.sft.train import train_sft

    t0 = time.perf_counter()
    budget = a.budget_min * 60
    work = Path(a.work)
    jd = work / "data"
    timings: dict[str, float] = {}
    teacher = LocalLLM(a.teacher)
    base = LocalLLM(a.student)
    qa_all = faq_qa()
    if a.reuse_from:
        import shutil

        (jd / "journal").mkdir(parents=True, exist_ok=True)
        for f in (Path(a.reuse_from) / "data" / "journal").glob("*.jsonl"):
            if not (jd / "journal" / f.name).exists() and "tuned" not in f.name:
                shutil.copy(f, jd / "journal" / f.name)
    kw = dict(labels=a.labels, answer_max_tokens=a.answer_tokens, max_tokens=a.max_tokens, test_fraction=a.test_fraction, seed=a.seed,
              concurrency=32)

    def progress(what, done, total):
        if done == total or done % 50 == 0:
            print(f"  {what}: {done}/{total} ({time.perf_counter() - t0:.0f}s)", flush=True)

    n = a.questions
    if n is None:
        t = time.perf_counter()
        generate_judge_data(qa=subsample(qa_all, 3, a.seed), output=jd, answer_llms={"smollm2": base}, teacher=teacher, **kw)
        per_q = (time.perf_counter() - t) / 3
        timings["slice_3_questions"] = time.perf_counter() - t
        n = max(12, min(a.max_questions, int(a.teacher_share * budget / per_q)))
        print(f"slice: {per_q:.1f} s per question (models loading included) -> {n} questions", flush=True)
    qa = subsample(qa_all, n, a.seed)
    t = time.perf_counter()
    summary = generate_judge_data(qa=qa, output=jd, answer_llms={"smollm2": base}, teacher=teacher, on_progress=progress, **kw)
    timings["judge_data"] = time.perf_counter() - t
    print(json.dumps({k: summary[k] for k in ("questions", "items", "train_chats", "test_chats")}), flush=True)

    items, teacher_run, split = read_data(jd, "test")
    t = time.perf_counter()
    runs = run_judges(items, {"student_base": base}, jd / "journal", teacher_run, max_tokens=a.max_tokens, concurrency=32,
                      on_progress=progress)
    timings["student_base_judging"] = time.perf_counter() - t

    chats = [json.loads(line) for line in (jd / "train.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
    est_tokens = sum(len(" ".join(m["content"] for m in c["messages"])) for c in chats) / 4.0
    left = budget - (time.perf_counter() - t0)
    sft_s = min(a.sft_share * budget, max(60.0, left - 0.5 * timings["student_base_judging"] - 90))
    epochs = round(max(0.25, min(a.max_epochs, sft_s / max(1.0, est_tokens / a.sft_tokens_per_s))), 2)
    print(f"SFT: {len(chats)} chats, ~{est_tokens:.0f} tokens, {epochs} epoch(s) to fit {sft_s:.0f}s", flush=True)
    t = time.perf_counter()
    run_dir = work / f"student-e{epochs}"
    m = train_sft(dataset=str(jd / "train.jsonl"), val_dataset=str(jd / "test.jsonl"), model=a.student,
                  output=str(run_dir), epochs=epochs, learning_rate=a.lr, batch_size=8, lora_r=16, allow_regression=True,
                  seed=42, eval_each_epoch=False)
    timings["sft"] = time.perf_counter() - t
    tuned = LocalLLM(str(run_dir))
    t = time.perf_counter()
    runs.update(run_judges(items, {"student_tuned": tuned}, jd / "journal", teacher_run, max_tokens=a.max_tokens,
                           concurrency=32, on_progress=progress))
    timings["student_tuned_judging"] = time.perf_counter() - t

    report, details = judge_eval_report(items, {"teacher": teacher_run, **runs}, teacher_run, dataset="construction-faq:test")
    out: dict = {}
    for r in report.results:
        d = details["judges"][r.model]
        out[r.model] = {
            "model": r.model_name, "n_items": d["n_items"], "n_controls": d["n_controls"],
            "control_accuracy": d["control_accuracy"], "control_accuracy_ci95": d["control_accuracy_ci95"],
            "control_accuracy_by_control": d["control_accuracy_by_control"],
            "pearson_vs_teacher": d["pearson_vs_teacher"], "pearson_vs_teacher_ci95": r.ci95.get("pearson_vs_teacher"),
            "spearman_vs_teacher": d["spearman_vs_teacher"], "kendall_vs_teacher": d["kendall_vs_teacher"],
            "kappa_vs_teacher": d["kappa_vs_teacher"], "exact_agreement_vs_teacher": d["exact_agreement_vs_teacher"],
            "within_one_vs_teacher": d["within_one_vs_teacher"],
            "pairwise_agreement_vs_teacher": d["pairwise_agreement_vs_teacher"],
            "swap_consistency": d["swap_consistency"], "inconclusive_rate": d["inconclusive_rate"],
            "n_unparsed": d["n_unparsed"], "score_histogram": d["score_histogram"], "verdict_counts": d["verdict_counts"],
            "stated_score_histogram": d.get("stated_score_histogram"), "n_expected_score": d.get("n_expected_score"),
            "expected_score_mean": d.get("expected_score_mean"),
            "auc_reference_vs_wrong": _auc(items, ({"teacher": teacher_run, **runs})[r.model]),
            "expected_score_by_control": _mean_by_control(items, ({"teacher": teacher_run, **runs})[r.model]),
            "delta_vs_teacher": {k.removeprefix("delta_"): {"delta": v, "ci95": r.ci95.get(k)}
                                      for k, v in r.metrics.items() if k.startswith("delta_")} if r.model == "student_tuned" else None,
        }
    t_items = summary["teacher"]["items_per_s"]
    out["teacher"]["items_per_s"] = t_items
    out["teacher"]["items_per_s_note"] = "all items of the judge-data stage (train + test), this run"
    for name in ("student_base", "student_tuned"):
        stats = runs[name].stats
        out[name]["items_per_s"] = len(items) / stats.seconds if stats.calls_made and stats.seconds and not stats.calls_resumed else None
    tuned_ctl, teach_ctl = out["student_tuned"]["control_accuracy"], out["teacher"]["control_accuracy"]
    base_p, tuned_p = out["student_base"]["pearson_vs_teacher"], out["student_tuned"]["pearson_vs_teacher"]
    out["goals"] = {
        "tuned_control_accuracy_at_least_teacher": None if tuned_ctl is None or teach_ctl is None else tuned_ctl >= teach_ctl,
        "tuned_pearson_at_least_base_plus_0.15": None if base_p is None or tuned_p is None else tuned_p >= base_p + 0.15,
        "pearson_base_is_none_means": "the base student's scores were constant or unparsed on every shared item",
    }
    from ragtune.judges.evaluate import paired_pearson
    from ragtune.judges.metrics import compare_judges

    out["tuned_minus_base"] = {
        "pearson_vs_teacher": paired_pearson(runs["student_base"], runs["student_tuned"], teacher_run, items),
        **{k: v for k, v in compare_judges(items, {"student_base": runs["student_base"], "student_tuned": runs["student_tuned"]},
                                           teacher_run)["student_tuned"].items()},
        "note": "paired bootstrap over the held-out items: tuned minus base (Pearson: on E[s]; control: per-item hits)"}
    out["sft"] = {"decision": m.decision.model_dump(), "epochs": epochs, "train_chats": len(chats),
                  "val_chats": summary["test_chats"], "base_val_loss": (m.model_extra or {}).get("base", {}).get("val_loss"),
                  "tuned_val_loss": (m.model_extra or {}).get("tuned", {}).get("val_loss")}
    out["data"] = {"questions": summary["questions"], "train_questions": len(split["train"]), "test_questions": len(split["test"]),
                   "items": summary["items"], "teacher_unparsed": summary["teacher"]["unparsed"],
                   "teacher_calls": summary["teacher"]["calls"]}
    out["settings"] = {**vars(a), "judge_max_tokens": a.max_tokens}
    out["timings_s"] = {k: round(v, 1) for k, v in timings.items()} | {"total": round(time.perf_counter() - t0, 1)}
    atomic_write_json(a.out, out)
    atomic_write_json(Path(a.out).with_name(Path(a.out).stem + "_report.json"), report.to_json())
    for name in ("teacher", "student_base", "student_tuned"):
        o = out[name]
        print(f"{name:14s} control {o['control_accuracy']} pearson {o['pearson_vs_teacher']} {o['pearson_vs_teacher_ci95']} "
              f"swap {o['swap_consistency']} items/s {o.get('items_per_s')} auc {o['auc_reference_vs_wrong']}")
    print(json.dumps(out["goals"]), f"\nwrote {a.out}")


def _auc(items, run):
    """ROC AUC of the judge's score (`value`: E[s] where present) for reference controls against the wrong ones."""
    from sklearn.metrics import roc_auc_score

    pairs = [(run.correctness[i.id].value, i.truth) for i in items if i.kind == "correctness" and i.truth in (5.0, 1.0)
             and i.id in run.correctness and run.correctness[i.id].value is not None]
    ys = [int(t == 5.0) for _, t in pairs]
    if len(set(ys)) < 2:
        return None
    return float(roc_auc_score(ys, [v for v, _ in pairs]))


def _mean_by_control(items, run):
    out = {}
    for c in ("reference", "truncated", "same_category", "other_category"):
        vs = [run.correctness[i.id].value for i in items if i.kind == "correctness" and i.control == c and i.id in run.correctness
              and run.correctness[i.id].value is not None]
        out[c] = (sum(vs) / len(vs)) if vs else None
    real = [run.correctness[i.id].value for i in items if i.kind == "correctness" and i.control is None and i.id in run.correctness
            and run.correctness[i.id].value is not None]
    out["answers (no truth)"] = (sum(real) / len(real)) if real else None
    return out


if __name__ == "__main__":
    main()
