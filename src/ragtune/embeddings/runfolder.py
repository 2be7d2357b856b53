"""Run-folder plumbing shared by the embedding jobs: log file, data split, evaluation, ship decision, card."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from ragtune.data.retrieval import RetrievalDataset, check, load_dataset, save_split_record, split_by_source
from ragtune.io import atomic_write_json, atomic_write_text

log = logging.getLogger("ragtune.embeddings")


def open_log(run: Path) -> logging.Handler:
    """Mirror the `ragtune.embeddings` logger into RUN/log.txt (appending, so reruns keep history)."""
    run.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(run / "log.txt", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    return handler


def close_log(handler: logging.Handler) -> None:
    log.removeHandler(handler)
    handler.close()


def as_dataset(spec: str | Path | RetrievalDataset, what: str) -> RetrievalDataset:
    """A validated dataset (a DataValidationError lists every problem before any training)."""
    ds = spec if isinstance(spec, RetrievalDataset) else load_dataset(spec)
    return check(ds, f"{what} {ds.name}")


def train_val(dataset, val_dataset, val_fraction: float, seed: int, run: Path) -> tuple[RetrievalDataset, RetrievalDataset]:
    """The training data and the held-out validation split (by source document unless given); saved to RUN/data/."""
    train = as_dataset(dataset, "training dataset")
    if val_dataset is not None:
        val = as_dataset(val_dataset, "validation dataset")
    else:
        train, val = split_by_source(train, val_fraction, seed)
    if not train.queries or not val.queries:
        from ragtune.errors import InputError

        raise InputError(f"need training and validation queries; got {len(train.queries)} and {len(val.queries)}. "
                         "Give more data or --val-dataset.")
    save_split_record(train, val, run / "data")
    return train, val


def ship_decision(val_report: dict[str, Any], eval_report: dict[str, Any] | None, tuned: str) -> dict[str, Any]:
    """Ship only if the tuned model beats the base on ndcg@10 on the deciding data (real queries when given)."""
    report, source = (eval_report, "eval-dataset") if eval_report else (val_report, "validation split")
    entry = next(r for r in report["results"] if r["model"] == tuned)
    cmp = entry["vs_first"]
    ship = cmp["delta"] > 0
    why = (f"{tuned} beats base on {report['dataset']} ({source}): ndcg@10 {cmp['delta']:+.4f} "
           f"[{cmp['ci95'][0]:+.4f}, {cmp['ci95'][1]:+.4f}]" if ship else
           f"REFUSED TO SHIP: {tuned} is not better than base on {report['dataset']} ({source}): ndcg@10 "
           f"{cmp['delta']:+.4f} [{cmp['ci95'][0]:+.4f}, {cmp['ci95'][1]:+.4f}]; the base model stays the result.")
    return {"shipped": ship, "decided_by": source, "decision_dataset": report["dataset"], "delta_ndcg@10": cmp["delta"],
            "ci95": cmp["ci95"], "significant": cmp["significant"], "reason": why}


def difficulty(report: dict[str, Any]) -> dict[str, Any]:
    """How hard the data is for the base: the median rank of each query's positive (1 = trivially easy)."""
    base = report["results"][0]["metrics"]
    return {"dataset": report["dataset"], "base_median_rank": base["median_rank"], "base_ndcg@10": base["ndcg@10"]}


def write_eval(run: Path, name: str, report: dict[str, Any]) -> Path:
    return atomic_write_json(run / "eval" / f"{name}.json", report)


def card(title: str, lines: list[str], reports: list[dict[str, Any]], decision: dict[str, Any]) -> str:
    """A short model card: what it is, from what data, and how it scored against its base."""
    out = [f"# {title}", "", *lines, "", "## Results (ndcg@10, 95% CI; paired delta vs base)", ""]
    for rep in reports:
        out.append(f"**{rep['dataset']}** ({rep['num_queries']} queries, {rep.get('num_docs', '?')} docs)")
        out.append("")
        out.append("| model | ndcg@10 | 95% CI | median rank | delta vs base | won/lost/tied |")
        out.append("|---|---|---|---|---|---|")
        for r in rep["results"]:
            m, ci, c = r["metrics"], r["ci95"]["ndcg@10"], r.get("vs_first")
            delta = f"{c['delta']:+.4f} [{c['ci95'][0]:+.4f}, {c['ci95'][1]:+.4f}]" if c else "(baseline)"
            wlt = f"{c['wins']}/{c['losses']}/{c['ties']}" if c else "-"
            out.append(f"| {r['model']} | {m['ndcg@10']:.4f} | [{ci[0]:.3f}, {ci[1]:.3f}] | {m['median_rank']:.0f} | {delta} | {wlt} |")
        out.append("")
    out += ["## Decision", "", decision["reason"], ""]
    return "\n".join(out)


def write_card(run: Path, text: str) -> None:
    atomic_write_text(run / "card.md", text)
