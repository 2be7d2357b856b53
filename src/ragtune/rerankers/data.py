"""Training data for a reranker: each query's positives, mined hard negatives, random negatives, labels.

Hard negatives come from `ragtune.generate.negatives.mine_hard_negatives` (the same false-negative
guard as `ragtune generate negatives`).

A `Group` is one query with its candidate passages and their labels. Labels are gold (1 for a
relevant doc, 0 otherwise), optionally corrected by an LLM judge (`label_with`), or replaced by a
teacher embedding model's scores (`teacher`), because synthetic questions are noisy and their
assumed positive is not always the best answer. Groups become a `datasets.Dataset` with the columns
the chosen sentence-transformers loss documents.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ragtune.data.chat import plain_text
from ragtune.data.retrieval import RetrievalDataset
from ragtune.errors import InputError
from ragtune.evaluation.protocols import Encoder
from ragtune.evaluation.rerank import retrieve
from ragtune.generate.pseudo import doc_sentences, sentence_spans
from ragtune.io import append_jsonl, read_jsonl_tolerant
from ragtune.llm import complete_many, user_message


@dataclass
class Group:
    """One training query: candidate doc ids with gold labels and, with a teacher, teacher scores."""

    qid: str
    query: str
    doc_ids: list[str]
    gold: list[float]
    teacher: list[float] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"qid": self.qid, "query": self.query, "doc_ids": self.doc_ids, "gold": self.gold, "teacher": self.teacher}


# ---------------------------------------------------------------------------------------------
# groups


def build_groups(mined: RetrievalDataset, random_negatives: int = 1, seed: int = 42) -> list[Group]:
    """Positives (label 1), mined hard negatives and random negatives (label 0) for every query."""
    rng = random.Random(seed)
    doc_ids = list(mined.corpus)
    groups = []
    for qid, text in mined.queries.items():
        pos = list(dict.fromkeys(mined.relevant_docs.get(qid, [])))
        neg = [d for d in mined.hard_negatives.get(qid, []) if d not in pos]
        neg += _random_others(rng, doc_ids, set(pos) | set(neg), random_negatives)
        groups.append(Group(qid, text, pos + neg, [1.0] * len(pos) + [0.0] * len(neg)))
    return groups


def pseudo_groups(train_ds: RetrievalDataset, retriever: Encoder, count: int, candidates: int, random_negatives: int = 1,
                  spans_per_sentence: int = 3, seed: int = 42, exclude: set[str] = frozenset()) -> list[Group]:
    """Up to `count` unlabelled pseudo-queries from the training documents (their sentences and short spans of them, as
    the adapter uses), each with the retriever's top `candidates` passages plus random ones: the candidates a reranker
    sees in use. A teacher must label them; `gold` marks only the passage the text was cut from. No pseudo-query equals
    (case and spacing aside) a training query or any text in `exclude` (validation and evaluation queries)."""
    real = {plain_text(x) for x in (*train_ds.queries.values(), *exclude)}
    source: dict[str, str] = {}
    for i, (did, text) in enumerate(train_ds.corpus.items()):
        sentences = doc_sentences([text])
        for x in sentences + (sentence_spans(sentences, spans_per_sentence, seed + i) if spans_per_sentence else []):
            if plain_text(x) not in real:
                source.setdefault(x, did)
    texts = sorted(source)
    random.Random(seed).shuffle(texts)
    texts = texts[:count]
    ids = [f"pseudo:{i}" for i in range(len(texts))]  # ':' keeps them apart from ragtune's generated query ids
    pseudo = RetrievalDataset(queries=dict(zip(ids, texts)), corpus=train_ds.corpus,
                              relevant_docs={q: [source[t]] for q, t in zip(ids, texts)}, name="pseudo-queries")
    ranked = retrieve(pseudo, retriever, candidates)
    rng = random.Random(seed + 1)
    doc_ids = list(train_ds.corpus)
    groups = []
    for (qid, text), top in zip(pseudo.queries.items(), ranked):
        ids = top + _random_others(rng, doc_ids, set(top), random_negatives)
        groups.append(Group(qid, text, ids, [1.0 if d == source[text] else 0.0 for d in ids]))
    return groups


def _random_others(rng: random.Random, doc_ids: list[str], taken: set[str], n: int) -> list[str]:
    """Up to n random doc ids outside `taken` (easy negatives)."""
    return [d for d in rng.sample(doc_ids, min(len(doc_ids), n + len(taken))) if d not in taken][:n]


def add_teacher_scores(groups: list[Group], corpus: dict[str, str], teacher: Encoder, batch_size: int = 64) -> None:
    """Fill each group's `teacher` with the teacher model's query-passage cosine scores."""
    q = teacher.encode([g.query for g in groups], kind="query", batch_size=batch_size)
    needed = list(dict.fromkeys(d for g in groups for d in g.doc_ids))
    d = teacher.encode([corpus[x] for x in needed], kind="document", batch_size=batch_size)
    row = {did: i for i, did in enumerate(needed)}
    for i, g in enumerate(groups):
        g.teacher = [round(float(q[i] @ d[row[x]]), 6) for x in g.doc_ids]


# ---------------------------------------------------------------------------------------------
# LLM labels


JUDGE_PROMPT = (
    "Question: {query}\n\nPassage: {passage}\n\n"
    "Does the passage answer the question? Reply with one word: yes or no."
)


def label_with_llm(groups: list[Group], corpus: dict[str, str], llm: Any, journal: Path, concurrency: int = 4) -> dict[str, int]:
    """Ask an LLM whether each mined negative answers its query; a 'yes' turns it into a positive.

    Judgments are journalled (one JSON line per pair) so an interrupted run asks each pair once.
    """
    done = {(r["qid"], r["doc_id"]): r["yes"] for r in read_jsonl_tolerant(journal)} if journal.exists() else {}
    todo = [(g.qid, g.query, d) for g in groups for d, lab in zip(g.doc_ids, g.gold) if lab == 0 and (g.qid, d) not in done]
    prompts = [user_message(JUDGE_PROMPT.format(query=qt, passage=corpus[d])) for _, qt, d in todo]

    def record(outcome) -> None:
        if outcome.completion is None:
            return
        qid, _, did = todo[outcome.index]
        yes = outcome.completion.text.strip().lower().startswith("yes")
        done[(qid, did)] = yes
        append_jsonl(journal, {"qid": qid, "doc_id": did, "yes": yes, "reply": outcome.completion.text[:80]})

    asyncio.run(complete_many(llm, prompts, concurrency=concurrency, max_tokens=4, on_done=record))
    flipped = 0
    for g in groups:
        for i, d in enumerate(g.doc_ids):
            if g.gold[i] == 0 and done.get((g.qid, d)):
                g.gold[i] = 1.0
                flipped += 1
    failed = sum(1 for qid, _, d in todo if (qid, d) not in done)
    return {"judged": len(done), "turned_positive": flipped, "failed": failed}


# ---------------------------------------------------------------------------------------------
# to a datasets.Dataset in the columns each loss documents


def to_training_dataset(groups: list[Group], corpus: dict[str, str], loss: str, teacher_temperature: float = 0.05):
    """bce: (query, passage, label); mse: (query, passage, teacher score); listnet/lambda: (query, docs, labels)."""
    from datasets import Dataset

    needs_teacher = loss == "mse"
    if needs_teacher and not all(g.teacher for g in groups):
        raise InputError("--loss mse regresses a teacher's scores: give --teacher MODEL (e.g. mpnet).")
    if loss in ("listnet", "lambda"):
        rows = {"query": [], "docs": [], "labels": []}
        for g in groups:
            rows["query"].append(g.query)
            rows["docs"].append([corpus[d] for d in g.doc_ids])
            rows["labels"].append(_listwise_labels(g, loss, teacher_temperature))
        return Dataset.from_dict(rows)
    rows = {"query": [], "passage": [], "label": []}
    for g in groups:
        labels = g.teacher if needs_teacher else g.gold
        for d, lab in zip(g.doc_ids, labels):
            rows["query"].append(g.query)
            rows["passage"].append(corpus[d])
            rows["label"].append(float(lab))
    return Dataset.from_dict(rows)


def _listwise_labels(g: Group, loss: str, temperature: float) -> list[float]:
    if g.teacher and loss == "listnet":
        return [s / temperature for s in g.teacher]
    return list(g.gold)


def check_loss_and_teacher(loss: str, teacher: str | None, pseudo_queries: int = 0) -> None:
    """Teacher scores feed listnet (a distribution) and mse (regression); bce and lambda use 0/1 labels."""
    if pseudo_queries and not teacher:
        raise InputError("--num-pseudo-queries are unlabelled, so a teacher must score their candidates: give --teacher MODEL (e.g. mpnet).")
    if teacher and loss in ("bce", "lambda"):
        raise InputError(f"--loss {loss} trains on 0/1 labels, so --teacher would be ignored; "
                         "use --loss listnet (teacher's distribution over candidates) or --loss mse (teacher's scores).")
    if loss == "mse" and not teacher:
        raise InputError("--loss mse regresses a teacher's scores: give --teacher MODEL (e.g. mpnet).")


# ---------------------------------------------------------------------------------------------
# validation samples (realistic: the retriever's top-k, positives not injected)


def rerank_samples(ds: RetrievalDataset, ranked: list[list[str]]) -> list[dict[str, Any]]:
    """Samples for sentence-transformers' CrossEncoderRerankingEvaluator from the retriever's top-k."""
    out = []
    for qid, ids in zip(ds.queries, ranked):
        out.append({"query": ds.queries[qid], "positive": [ds.corpus[d] for d in ds.relevant_docs.get(qid, [])],
                    "documents": [ds.corpus[d] for d in ids]})
    return out


def group_stats(groups: list[Group]) -> dict[str, Any]:
    n = [len(g.doc_ids) for g in groups]
    pos = [sum(1 for x in g.gold if x > 0) for g in groups]
    return {"queries": len(groups), "pairs": int(np.sum(n)) if n else 0, "positives": int(np.sum(pos)) if pos else 0,
            "candidates_per_query": float(np.mean(n)) if n else 0.0}
