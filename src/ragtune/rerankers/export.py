"""Export a retrieval dataset as Cohere's rerank fine-tuning JSONL.

One line per query: `{"query": str, "relevant_passages": [str, ...], "hard_negatives": [str, ...]}`.
Rules checked before anything is written: every query has at least one relevant passage, and a
passage is never both relevant and a hard negative for the same query (compared by text, since
Cohere sees only text; two chunks with the same text count as one passage).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ragtune.data.retrieval import RetrievalDataset, check
from ragtune.errors import DataValidationError, Problem
from ragtune.io import atomic_write_jsonl

COHERE_MIN_EXAMPLES = 256  # docs.cohere.com "Improving the Rerank Fine-tuning Results"


def cohere_rows(ds: RetrievalDataset) -> list[dict[str, Any]]:
    """Cohere rerank rows; raises DataValidationError listing every broken rule with its query id."""
    rows, problems = [], []
    for qid, query in ds.queries.items():
        relevant = _unique_texts(ds, ds.relevant_docs.get(qid, []))
        negatives = _unique_texts(ds, ds.hard_negatives.get(qid, []))
        clash = [t for t in negatives if t in set(relevant)]
        if not relevant:
            problems.append(Problem(f"query {qid!r}", "no relevant passage (Cohere needs at least one)"))
        if clash:
            problems.append(Problem(f"query {qid!r}", f"{len(clash)} hard negative(s) have the same text as a relevant passage: "
                                                      f"{clash[0][:60]!r}"))
        if not query.strip():
            problems.append(Problem(f"query {qid!r}", "empty query text"))
        rows.append({"query": query, "relevant_passages": relevant, "hard_negatives": negatives})
    if problems:
        raise DataValidationError("Cohere rerank export", problems)
    return rows


def _unique_texts(ds: RetrievalDataset, doc_ids: list[str]) -> list[str]:
    return list(dict.fromkeys(ds.corpus[d] for d in doc_ids if d in ds.corpus))


def export_cohere_rerank(ds: RetrievalDataset, path: str | Path) -> dict[str, Any]:
    """Validate the dataset, check Cohere's rules, write the JSONL atomically; returns counts."""
    check(ds, ds.name)
    rows = cohere_rows(ds)
    atomic_write_jsonl(path, rows)
    return {"path": str(path), "queries": len(rows), "relevant_passages": sum(len(r["relevant_passages"]) for r in rows),
            "hard_negatives": sum(len(r["hard_negatives"]) for r in rows),
            "queries_without_hard_negatives": sum(1 for r in rows if not r["hard_negatives"]),
            "warnings": [f"Cohere asks for at least {COHERE_MIN_EXAMPLES} examples; this file has {len(rows)}"]
            if len(rows) < COHERE_MIN_EXAMPLES else []}
