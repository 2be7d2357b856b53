"""Turning raw LLM replies into clean questions, counting every dropped candidate by reason."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

_PREFIX = re.compile(
    r"^\s*(?:[-*•·>#]+|\(?\d{1,3}\s*[\.\)\]:-]|\(?[a-hA-H][\.\)](?=\s)|Q\s*\d*\s*[:.)-]|"
    r"(?:question|query)\s*\d*\s*[:.)-])\s*", re.IGNORECASE)
_PREAMBLE = re.compile(
    r"^(?:here (?:are|is)|sure|certainly|of course|okay|ok[,.!]|below (?:are|is)|the following|"
    r"i (?:have|hope|can)|these questions|passage|answer\b|note\b)", re.IGNORECASE)
# a question that points at its source ("the main points of the passage") is not one a user would ask;
# "the document(s)" or "the text" alone may be the user's own subject, so those need a pointing word
_SOURCE = r"(?:passage|excerpt|paragraph|snippet)s?"
_MENTIONS_SOURCE = re.compile(
    rf"\b(?:the|this|that|these|above|given|following|provided)\s+{_SOURCE}\b"
    r"|\b(?:this|above|given|following|provided)\s+(?:text|document)\b"
    rf"|\b(?:according to|mentioned in|described in|stated in|based on)\s+(?:the|this)\s+(?:{_SOURCE}|text|document)\b",
    re.IGNORECASE)
_QUESTION_WORDS = {
    "what", "how", "why", "when", "where", "which", "who", "whom", "whose", "can", "could", "do", "does",
    "did", "is", "are", "was", "were", "should", "would", "will", "may", "might", "must", "has", "have", "shall",
}
STOPWORDS = _QUESTION_WORDS | {
    "the", "a", "an", "of", "to", "in", "on", "for", "and", "or", "i", "my", "me", "you", "your", "it", "its",
    "be", "if", "with", "that", "this", "there", "at", "by", "from", "as", "we", "our", "any", "about", "get", "need",
}
_WORD = re.compile(r"\w+(?:'\w+)*", re.UNICODE)  # inner apostrophes only: "don't", not "'a"


@dataclass(frozen=True)
class Limits:
    """Bounds a kept question must respect."""

    min_words: int = 3
    max_words: int = 40
    copy_run: int = 8  # a run of this many words copied from the passage marks a copy
    prompt_run: int = 4  # a run of this many words copied from the prompt's instructions marks an echo
    near_dup_jaccard: float = 0.8  # within one chunk, content-word Jaccard at or above this is a duplicate


@dataclass
class Parsed:
    """Kept questions of one reply, and every dropped candidate with its reason."""

    kept: list[str] = field(default_factory=list)
    dropped: list[tuple[str, str]] = field(default_factory=list)  # (reason, text)

    def drop_counts(self) -> Counter:
        return Counter(reason for reason, _ in self.dropped)


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def content_words(text: str) -> frozenset[str]:
    """Lower-cased words minus stop/question words: the signature used for near-duplicates."""
    return frozenset(w for w in words(text) if w not in STOPWORDS)


def strip_decoration(line: str) -> str:
    """Remove bullets, numbering, 'Question 2:' labels, markdown emphasis and wrapping quotes."""
    text = line.strip().replace("**", "").replace("__", "")
    for _ in range(3):
        stripped = _PREFIX.sub("", text, count=1).strip()
        if stripped == text:
            break
        text = stripped
    return text.strip(" \t\"'`“”‘’«»").strip()


_LEAD_IN = re.compile(r"^[^:?]{2,60}:\s*(?=[\"'“‘]?\s*(\w+))")


def drop_lead_in(text: str) -> str:
    """'A user could ask: "What is X?"' -> 'What is X?' (only when a question word follows the colon)."""
    m = _LEAD_IN.match(text)
    if m and m.group(1).lower() in _QUESTION_WORDS:
        return text[m.end():].strip(" \t\"'`“”‘’«»")
    return text


def candidates(reply: str) -> list[str]:
    """Split a reply into candidate lines (also splits 'Q1? Q2?' packed on one line)."""
    out = []
    for line in reply.replace("\r", "\n").split("\n"):
        parts = re.split(r"(?<=\?)\s+(?=\S)", line.strip())
        out += [p for p in parts if p.strip()]
    return out


def classify(text: str, passage_words: list[str], limits: Limits) -> tuple[str | None, str]:
    """(drop reason or None, normalised question). The question ends with exactly one '?'."""
    if not text:
        return "empty", text
    if _PREAMBLE.match(text) or (text.endswith(":") and "?" not in text):
        return "preamble", text
    if copies_passage(words(text), passage_words, limits.copy_run):
        return "copies_passage", text
    if "?" in text:
        text = text[: text.index("?")].rstrip() + "?"
    elif words(text)[:1] and words(text)[0] in _QUESTION_WORDS:
        text = text.rstrip(" .!") + "?"
    else:
        return "not_a_question", text
    if _MENTIONS_SOURCE.search(text):
        return "mentions_source", text
    n = len(words(text))
    if n < limits.min_words:
        return "too_short", text
    if n > limits.max_words:
        return "too_long", text
    return None, text


def copies_passage(q: list[str], passage: list[str], run: int) -> bool:
    """True when the question repeats `run` consecutive passage words, or is wholly inside the passage."""
    if not q:
        return False
    n = min(run, len(q))
    grams = {tuple(passage[i : i + n]) for i in range(len(passage) - n + 1)}
    return any(tuple(q[i : i + n]) in grams for i in range(len(q) - n + 1))


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def parse_reply(reply: str, passage: str, n_wanted: int, limits: Limits = Limits(), truncated: bool = False,
                instructions: str = "") -> Parsed:
    """Clean one reply: keep up to `n_wanted` distinct question-like lines that do not copy the passage.

    `truncated`: the reply hit its token budget, so its last line is cut off unless it ends with '?'.
    `instructions`: the prompt's own wording (template without passage); a question that echoes a run
    of `limits.prompt_run` of its words (small models do: "What is the meaning of 'a user would use'?")
    is dropped as `echoes_prompt`.
    """
    instruction_words = words(instructions)
    result = Parsed()
    passage_words = words(passage)
    if not reply.strip():
        result.dropped.append(("empty_reply", ""))
        return result
    lines = candidates(reply)
    if truncated and lines and not lines[-1].rstrip(" \"'”’*").endswith("?"):
        result.dropped.append(("truncated", lines.pop()))
    for raw in lines:
        reason, text = classify(drop_lead_in(strip_decoration(raw)), passage_words, limits)
        if reason is None and instruction_words and copies_passage(words(text), instruction_words, limits.prompt_run):
            reason = "echoes_prompt"
        if reason is None and any(jaccard(content_words(text), content_words(k)) >= limits.near_dup_jaccard
                                  for k in result.kept):
            reason = "duplicate_in_chunk"
        if reason is None and len(result.kept) >= n_wanted:
            reason = "over_limit"
        if reason is None:
            result.kept.append(text)
        else:
            result.dropped.append((reason, text))
    return result


def dedup_across(items: list[tuple[str, str]]) -> tuple[list[tuple[str, str]], list[tuple[str, str, str]]]:
    """Drop questions whose content words equal an earlier question's (any chunk). Items: (chunk_id, text).

    Returns (kept items, dropped (reason, chunk_id, text)).
    """
    seen: set[frozenset[str]] = set()
    kept, dropped = [], []
    for chunk_id, text in items:
        sig = content_words(text) or frozenset(words(text))
        if sig in seen:
            dropped.append(("duplicate_across_set", chunk_id, text))
        else:
            seen.add(sig)
            kept.append((chunk_id, text))
    return kept, dropped
