"""Pseudo-queries cut from the documents themselves: their sentences, and short random spans of them.

Unlabelled: a teacher model, not a label, says which passages answer them. The adapter trains on
them (the teacher's softmax over the corpus is the target) and the reranker can add them (the teacher
scores the retriever's candidates). Spans of 3-8 words look like real users' short, keyword-like
questions more than whole sentences do.
"""

from __future__ import annotations

import re

import numpy as np

__all__ = ["doc_sentences", "sentence_spans", "pseudo_queries"]


def doc_sentences(texts: list[str], min_words: int = 4) -> list[str]:
    """Sentences of the documents (at least `min_words` words), in order, without repeats."""
    out = []
    for t in texts:
        out += [s.strip() for s in re.split(r"(?<=[.!?])\s+", t) if len(s.split()) >= min_words]
    return list(dict.fromkeys(out))


def sentence_spans(sentences: list[str], per_sentence: int, seed: int, shortest: int = 3, longest: int = 8) -> list[str]:
    """Short word windows (3-8 words) cut at random from each sentence (seeded, so reruns hit the cache).
    Words are whitespace tokens with at least one letter or digit; punctuation at a span's ends is dropped."""
    rng = np.random.default_rng(seed)
    out = []
    for s in sentences:
        words = [w for w in s.split() if any(c.isalnum() for c in w)]
        if len(words) <= shortest:
            continue
        for _ in range(per_sentence):
            n = int(rng.integers(shortest, min(longest, len(words)) + 1))
            start = int(rng.integers(0, len(words) - n + 1))
            out.append(" ".join(words[start : start + n]).strip(".,;:!?()[]\"'"))
    return list(dict.fromkeys(x for x in out if len(x.split()) >= shortest))


def pseudo_queries(docs: list[str], spans_per_sentence: int, seed: int, exclude: set[str] = frozenset()) -> list[str]:
    """The documents' sentences plus `spans_per_sentence` short spans of each (none that is also in `exclude`)."""
    sentences = doc_sentences(docs)
    spans = sentence_spans(sentences, spans_per_sentence, seed) if spans_per_sentence else []
    return [x for x in dict.fromkeys(sentences + spans) if x not in exclude]
