"""Probe: does the first reply token's distribution over "1".."5" discriminate where the greedy score does not?

    flock /work/scratch/cpu.lock .venv/bin/python bench/judge_probe.py --questions 14

On a seeded sample of construction-faq questions, the correctness controls of `ragtune.judges.items`
(the reference = correct 5, another question's answer of the same / another category = wrong 1, a
truncated reference = incomplete 3) are put to each model with one forward pass per prompt (the chat
template with add_generation_prompt; left-padded batches), and the next-token distribution is read:

- `score` prompt (today's `correctness_messages`): p("1".."5") renormalised; the expected score
  E[s] = sum p_i * i, the argmax digit (what greedy decoding writes when its first token is a digit),
  the share of probability mass on the five digits;
- `yesno` prompt ("Does the answer say the same as the reference answer? yes or no"): P(yes) / (P(yes) + P(no)).

Per model and prompt: ROC AUC of correct (reference) against wrong (same/other category) controls,
Spearman with the truth (5/3/1) over all controls, and the same for the greedy (argmax) score.
Writes bench/results/judge_probe.json.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

YESNO_TASK = ("Read the question, the reference answer and the answer to check. Does the answer say the same as the "
              "reference answer, and does it answer the question? An answer to a different question does not.")
YESNO_FORMAT = "Reply with yes or no alone."


def yesno_messages(question: str, reference: str, answer: str):
    user = (f"{YESNO_TASK}\n\nQuestion: {question.strip()}\n\nReference answer: {reference.strip()}\n\n"
            f"Answer to check: {answer.strip() or '(no answer)'}\n\n{YESNO_FORMAT}")
    return [{"role": "user", "content": user}]


def token_ids(tok, words):
    """Vocabulary ids of each word as one token (with and without a leading space); words that are not one token are skipped."""
    out = {}
    for w in words:
        ids = set()
        for v in (w, " " + w):
            enc = tok(v, add_special_tokens=False)["input_ids"]
            if len(enc) == 1:
                ids.add(enc[0])
        out[w] = sorted(ids)
    return out


def next_token_probs(tok, model, prompts, batch=8):
    """Softmax of the next-token logits after each templated prompt (rows in prompt order)."""
    import torch

    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
    out = [None] * len(prompts)
    for s in range(0, len(order), batch):
        idx = order[s:s + batch]
        enc = tok([prompts[i] for i in idx], return_tensors="pt", padding=True, add_special_tokens=False)
        with torch.inference_mode():
            logits = model(**{k: v.to(model.device) for k, v in enc.items()}, logits_to_keep=1).logits[:, -1, :]
        probs = torch.softmax(logits.float(), dim=-1).cpu()
        for j, i in enumerate(idx):
            out[i] = probs[j]
    return out


def auc_and_rho(values, items):
    from scipy.stats import spearmanr
    from sklearn.metrics import roc_auc_score

    pos = [v for v, it in zip(values, items) if it.truth == 5.0]
    neg = [v for v, it in zip(values, items) if it.truth == 1.0]
    y = [1] * len(pos) + [0] * len(neg)
    auc = float(roc_auc_score(y, pos + neg)) if pos and neg and len(set(pos + neg)) > 1 else 0.5
    rho = spearmanr(values, [it.truth for it in items]).statistic
    rho = None if rho != rho else float(rho)
    by = {}
    for c in ("reference", "truncated", "same_category", "other_category"):
        vs = [v for v, it in zip(values, items) if it.control == c]
        by[c] = round(sum(vs) / len(vs), 3) if vs else None
    return {"auc_correct_vs_wrong": round(auc, 3), "spearman_truth": None if rho is None else round(rho, 3), "mean_by_control": by}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--questions", type=int, default=14)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--models", nargs="+", default=["qwen2.5-coder-0.5b-instruct", "smollm2-135m-instruct"])
    ap.add_argument("--prompts", nargs="+", default=["score", "yesno"])
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "judge_probe.json"))
    a = ap.parse_args()

    from ragtune.io import atomic_write_json
    from ragtune.judges.data import subsample
    from ragtune.judges.items import correctness_items, faq_qa
    from ragtune.judges.prompts import correctness_messages
    from ragtune.llm import LocalLLM

    faq = faq_qa()
    qa = subsample(faq, a.questions, a.seed)
    keep = {r.id for r in qa}  # controls built over the whole FAQ (every question gets a same-category donor)
    items = [it for it in correctness_items(faq, seed=a.seed) if it.question_id in keep]
    print(f"{len(qa)} questions, {len(items)} control items", flush=True)
    results: dict = {"settings": vars(a), "n_items": len(items),
                     "n_by_control": {c: sum(it.control == c for it in items) for c in ("reference", "truncated", "same_category", "other_category")},
                     "models": {}}
    for name in a.models:
        llm = LocalLLM(name)
        tok, model = llm.load()
        res: dict = {}
        for kind in a.prompts:
            make = correctness_messages if kind == "score" else yesno_messages
            prompts = [llm.template(make(it.question, it.reference, it.answer)) for it in items]
            t = time.perf_counter()
            probs = next_token_probs(tok, model, prompts)
            secs = time.perf_counter() - t
            top = [tok.decode([int(p.argmax())]) for p in probs]
            r: dict = {"seconds": round(secs, 1), "items_per_s": round(len(items) / secs, 2),
                       "top_token_counts": {t_: top.count(t_) for t_ in sorted(set(top))}}
            if kind == "score":
                ids = token_ids(tok, [str(i) for i in range(1, 6)])
                per = [[float(sum(p[j] for j in ids[str(i)])) for i in range(1, 6)] for p in probs]
                mass = [sum(row) for row in per]
                expected = [sum((i + 1) * v for i, v in enumerate(row)) / m for row, m in zip(per, mass)]
                greedy = [1 + max(range(5), key=lambda i: row[i]) for row in per]
                r["digit_mass_mean"] = round(sum(mass) / len(mass), 3)
                r["expected"] = auc_and_rho(expected, items)
                r["greedy_digit"] = auc_and_rho([float(g) for g in greedy], items)
                r["greedy_digit_counts"] = {str(s): greedy.count(s) for s in range(1, 6)}
                r["per_item"] = [{"id": it.id, "control": it.control, "p": [round(v / m, 4) for v in row],
                                  "expected": round(e, 3)} for it, row, m, e in zip(items, per, mass, expected)]
            else:
                ids = token_ids(tok, ["yes", "Yes", "YES", "no", "No", "NO"])
                py = [float(sum(p[j] for w in ("yes", "Yes", "YES") for j in ids[w])) for p in probs]
                pn = [float(sum(p[j] for w in ("no", "No", "NO") for j in ids[w])) for p in probs]
                pyes = [y / (y + n) if y + n > 0 else 0.5 for y, n in zip(py, pn)]
                r["yesno_mass_mean"] = round(sum(y + n for y, n in zip(py, pn)) / len(py), 3)
                r["p_yes"] = auc_and_rho(pyes, items)
                r["greedy_yes"] = auc_and_rho([1.0 if v > 0.5 else 0.0 for v in pyes], items)
                r["per_item"] = [{"id": it.id, "control": it.control, "p_yes": round(v, 4)} for it, v in zip(items, pyes)]
            res[kind] = r
            show = {k: v for k, v in r.items() if k != "per_item"}
            print(name, kind, json.dumps(show), flush=True)
        results["models"][name] = res
        del llm, tok, model
    atomic_write_json(a.out, results)
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
