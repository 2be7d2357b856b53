"""The whole RAG app, retrieval to answer: retrieve the top k, prompt the generator, score each pipeline.

This module holds what needs no LLM and no judge: retrieval with an `Encoder` (`retrieve`), the answer
prompt (`rag_messages`), hit@k, ROUGE-L, and the report (`rag_report`): one `EvalReport` (task `rag`)
with every pipeline's per-question metrics, bootstrap 95% CIs, and a paired bootstrap of each metric
against the first pipeline. The judged metrics (correctness, faithfulness) are computed by the judges
layer (`ragtune.judges.rag.evaluate_rag`) and passed in as per-question values (None: not judged).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ragtune.evaluation.metrics import bootstrap_ci, paired_comparison
from ragtune.evaluation.protocols import Encoder
from ragtune.evaluation.search import top_k
from ragtune.evaluation.sft import rouge_l
from ragtune.records import Comparison, EvalReport, ModelResult, PerQuery

__all__ = ["RAG_SYSTEM", "rag_messages", "Retrieved", "retrieve", "rag_report", "rouge_l", "HEADLINE"]

RAG_SYSTEM = "You are a helpful assistant. Answer from the context; say so when it does not contain the answer."
HEADLINE = "correctness"


def rag_messages(question: str, contexts: Sequence[str], system: str = RAG_SYSTEM) -> list[dict[str, str]]:
    """The generator's prompt: the retrieved passages, then the question (the prompt `ragtune distill` trains on)."""
    passages = "\n\n".join(f"[{i}] {text}" for i, text in enumerate(contexts, start=1))
    user = f"Answer the question using the context.\n\nContext:\n{passages}\n\nQuestion: {question}"
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


@dataclass
class Retrieved:
    """Each question's top-k document ids and texts (best first), and hit@k where the relevant ids are known."""

    doc_ids: list[list[str]]
    texts: list[list[str]]
    hits: list[float | None]


def retrieve(encoder: Encoder, questions: Sequence[str], corpus: Mapping[str, str], k: int,
             relevant: Sequence[Sequence[str] | None] | None = None, batch_size: int = 64) -> Retrieved:
    """Top k of the corpus for each question; hit@k is 1 when a relevant id is among them (None: none known)."""
    ids = list(corpus)
    found = top_k(encoder, list(questions), [corpus[i] for i in ids], k, batch_size=batch_size)
    doc_ids = [[ids[j] for j in row] for row in found.indices]
    texts = [[corpus[d] for d in row] for row in doc_ids]
    rel = relevant or [None] * len(questions)
    hits = [None if not r else float(bool(set(r) & set(row))) for r, row in zip(rel, doc_ids)]
    return Retrieved(doc_ids, texts, hits)


def _mean_ci(values: Sequence[float | None], n_resamples: int, seed: int) -> tuple[float | None, list[float] | None, int]:
    v = np.asarray([x for x in values if x is not None], dtype=float)
    if not len(v):
        return None, None, 0
    return float(v.mean()), list(bootstrap_ci(v, n_resamples, seed)), len(v)


def rag_report(dataset: str, question_ids: Sequence[str], pipelines: Mapping[str, Mapping[str, Sequence[float | None]]], *,
               names: Mapping[str, str] | None = None, k: int | None = None, num_docs: int | None = None,
               headline: str = HEADLINE, n_resamples: int = 1000, seed: int = 0,
               seconds: Mapping[str, float] | None = None) -> EvalReport:
    """One EvalReport (task `rag`) from per-question metric values `{pipeline: {metric: [value or None]}}`.

    Each metric's mean and 95% CI is over the questions where it is defined; the paired comparison with
    the first pipeline (`delta_METRIC` and its CI; `vs_first` for the headline) is over the questions
    where both pipelines have a value. `n_METRIC` says how many questions a mean is over.
    """
    labels = list(pipelines)
    first = labels[0]
    results, per_query = [], {}
    for label in labels:
        metrics, ci95, vs_first = {}, {}, None
        for metric, values in pipelines[label].items():
            mean, ci, n = _mean_ci(values, n_resamples, seed)
            if mean is None:
                continue
            metrics[metric], metrics[f"n_{metric}"] = mean, float(n)
            ci95[metric] = ci
            per_query.setdefault(metric, {})[label] = [None if x is None else float(x) for x in values]
            if label != first and metric in pipelines[first]:
                pairs = [(b, o) for b, o in zip(pipelines[first][metric], values) if b is not None and o is not None]
                if pairs:
                    b, o = (np.asarray(x, dtype=float) for x in zip(*pairs))
                    cmp = paired_comparison(b, o, n_resamples, seed)
                    metrics[f"delta_{metric}"] = cmp["delta"]
                    ci95[f"delta_{metric}"] = cmp["ci95"]
                    metrics[f"significant_{metric}"] = float(cmp["significant"])
                    if metric == headline:
                        vs_first = Comparison(baseline=first, metric=headline, **cmp)
        results.append(ModelResult(model=label, model_name=(names or {}).get(label), metrics=metrics, ci95=ci95,
                                   vs_first=vs_first, seconds={"total": seconds[label]} if seconds and label in seconds else None))
    return EvalReport(task="rag", dataset=dataset, num_queries=len(question_ids), num_docs=num_docs,
                      ks=[k] if k else None, headline=headline, top_k=k, results=results,
                      per_query=PerQuery(query_ids=list(question_ids), **per_query))
