"""Parse judge replies: a 1-5 score or a pairwise verdict, and the reason. Never guess.

A reply that does not state a score (or verdict) in one of the forms below parses to None; the
caller counts it as unparsed. Markdown emphasis (`**4**`, `` `A` ``, `# Score`) is ignored, and a
JSON object reply (`{"score": 4, "reason": "..."}`, `{"verdict": "B", "explanation": "..."}`) is read
by its keys.

Scores, in order of precedence:
1. the first non-empty line starts with the score: `4`, `4.0`, `4/5`, `4 out of 5`, `Score: 4`,
   `**Rating: 4/5**`, `Four.`, `4 - reason`, `4, reason`, `4 The answer ...` (an integer 1-5, or the
   words one..five). A bare number that opens a numbered list (`1. Roofs last 50 years`, `(3) partly`)
   or a quantity (`2 weeks in most cases`) is not a score;
2. else a line that is only a score (a reply that opens with a preamble);
3. else the first labelled score anywhere: `score: 4`, `score of 4`, `rated 4`, `I give it a 4`,
   `4/5`, `4 out of 5`, `[[4]]`.
A leading or labelled number that is not an integer 1-5 on a 5-point scale (`4.5`, `7`, `8/10`) or
is a range (`3-4`, `3 or 4`) makes the reply unparsed rather than sending the parser looking for
another number. A number inside a sentence without a label ("gave 3 examples") is never a score.

Verdicts ("A", "B" or "tie"):
1. `[[A]]`, `[[B]]`, `[[C]]` / `[[tie]]` (LlamaIndex's format), and the first non-empty line
   opening with the verdict: `A`, `B.`, `Answer A`, `Verdict: B`, `(A)`, `A - ...`, `Tie`, `Equal`.
   If both are present and disagree, the reply is unparsed. `A: text` / `Answer A: text` is the
   prompt's own label for an answer (small models recite it) and is not a verdict;
2. else a line that is only a verdict;
3. else explicit phrases anywhere: `B is better`, `Answer A is more complete`, `the better answer
   is A`, `I prefer B`, `A wins`, `A is worse` (-> B), `it's a tie`, `equally good`, `neither is
   better`. Phrases naming different verdicts make the reply unparsed.
A bare lowercase `a`, a sentence starting with the article `A` ("A permit is ..."), "A or B",
"Both ..." or "Neither answer is correct" is never a verdict.
"""

from __future__ import annotations

import json
import math
import re
from typing import Literal

Verdict = Literal["A", "B", "tie"]

_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5}
_NUM = r"(?P<n>\d+(?:\.\d+)?|(?i:one|two|three|four|five))(?![\w]|[.,]\d)"
_DEN = r"(?:\s*/\s*(?P<den>\d+)(?![\w.]\d)|\s+(?i:out\s+of)\s+(?P<den2>\d+))?"
_LABEL = r"(?i:(?:final\s+|overall\s+|total\s+|correctness\s+)?(?:score|rating|grade|mark))"
_LEAD_SCORE = re.compile(r"^[\s\W]*?(?P<label>" + _LABEL + r"\s*(?i:is|of)?\s*[:=\-]?\s*)?(?<![\d.])" + _NUM + _DEN)
# after a bare leading number: nothing, a separator, or a new sentence ('4 The answer ...'); not a list
# marker ('1. Roofs ...', '(3) partly') and not a quantity ('2 weeks ...')
_LEAD_REST_OK = re.compile(r"[\s.!)\]]*$|\s*[,:;]|\s+[-–—]\s|\s+[\"'(]?[A-Z]")
_ONLY_SCORE = re.compile(r"^[\s\W]*(?:" + _LABEL + r"\s*[:=\-]?\s*)?" + _NUM + _DEN + r"[\s.!)\]]*$")
_FIVE = r"(?:\s*/\s*5(?![\d/]|\.\d)|\s+(?i:out\s+of)\s+5(?!\d|\.\d))"
_LABELLED = [
    re.compile(r"(?<![\w-])" + _LABEL + r"[\"']?\s*(?i:is|of|would\s+be|:|=|-)?\s*[\"']?\s*(?i:a\s+)?(?<![\d.])" + _NUM + _DEN),
    re.compile(r"(?<![\w-])(?i:rate|rated|rates|rating|grade|graded|scored|scores|score)\s+(?i:it|this|this\s+answer|the\s+answer)?\s*(?i:as\s+)?(?i:an?\s+)?"
               r"(?<![\d.])" + _NUM + _DEN),
    re.compile(r"(?<![\w-])(?i:give|gave|giving|assign|assigned|award|awarded)\s+(?i:it|this|this\s+answer|the\s+answer|this\s+response)"
               r"\s+(?i:an?\s+)?(?i:score\s+of\s+|rating\s+of\s+)?(?<![\d.])" + _NUM + _DEN),
    re.compile(r"(?<![\w./])(?P<n>\d+(?:\.\d+)?|(?i:one|two|three|four|five))" + _FIVE),
    re.compile(r"\[\[\s*" + _NUM + r"\s*\]\]"),
]
_RANGE_AFTER = re.compile(r"\s*(?:-|–|—|(?i:to|or|and))\s*(?:\d|(?i:one|two|three|four|five)\b)")
_REASON_LABEL = re.compile(r"^(?i:reason(?:ing)?|explanation|justification|feedback|rationale|because)\s*[:\-]?\s*")
_LABEL_LEFT = re.compile(r"(?i:(?:final\s+|overall\s+|my\s+)?(?:score|rating|grade|verdict|decision|judgement|judgment))\s*(?i:is)?\s*[:=\-]?\s*$")


def clean(text: str) -> str:
    """Strip markdown emphasis and heading marks, keep everything else."""
    text = text.replace("**", "").replace("__", "").replace("`", "")
    return re.sub(r"(?m)^\s*(?:#+|>)\s*", "", text).strip()


def _value(m: re.Match) -> int | None:
    """The 1-5 integer a match stands for, or None when it is not a 5-point score (or is a range, '3-4')."""
    if _RANGE_AFTER.match(m.string, m.end()):
        return None
    raw = m.group("n").lower()
    den = m.groupdict().get("den") or m.groupdict().get("den2")
    if den is not None and den != "5":
        return None
    if raw in _WORDS:
        return _WORDS[raw]
    value = float(raw)
    if value != int(value) or not 1 <= value <= 5:
        return None
    return int(value)


def _first_line(text: str) -> tuple[int, str]:
    """(offset, line) of the first non-empty line."""
    pos = 0
    for line in text.splitlines(keepends=True):
        if line.strip():
            return pos, line.rstrip("\r\n")
        pos += len(line)
    return 0, ""


def _lines(text: str):
    pos = 0
    for line in text.splitlines(keepends=True):
        yield pos, line.rstrip("\r\n")
        pos += len(line)


def _reason(text: str, start: int, end: int, verdict: bool = False) -> str:
    """The reply without the score/verdict span [start, end) and its labels, whitespace collapsed.

    The span is cut out only when it opens its line (after a label like 'Score:' at most) and, for a
    verdict, the line does not go on as a sentence ('A is better because ...'); otherwise the whole
    reply is the reason, so no sentence is left mangled.
    """
    line_start = text.rfind("\n", 0, start) + 1
    head = _LABEL_LEFT.sub("", text[line_start:start])
    if re.search(r"\w", head) or (verdict and re.match(r"[ \t]*\w", text[end:])):
        return " ".join(text.split())
    after = _REASON_LABEL.sub("", text[end:].lstrip(" \t.:;,)-–—]!").strip())
    before = _LABEL_LEFT.sub("", text[:line_start].strip()).strip()
    joined = (before + "\n" + after) if before and after else (before or after)
    return " ".join(joined.split())


_SCORE_KEYS = ("score", "rating", "grade", "correctness")
_VERDICT_KEYS = ("verdict", "winner", "better", "better_answer", "preferred", "choice", "decision")
_REASON_KEYS = ("reason", "reasoning", "explanation", "feedback", "rationale", "justification")


def _json_reply(text: str) -> dict | None:
    """The reply as a JSON object with lower-cased keys, when it is one (models like to answer in JSON)."""
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end < start:
        return None
    try:
        obj = json.loads(text[start:end + 1])
    except ValueError:
        return None
    return {str(k).lower(): v for k, v in obj.items()} if isinstance(obj, dict) else None


def _json_field(obj: dict, keys: tuple[str, ...]) -> str | None:
    for k in keys:
        if k in obj and isinstance(obj[k], (str, int, float)) and not isinstance(obj[k], bool):
            return str(obj[k])
    return None


def _json_reason(obj: dict) -> str:
    return " ".join((_json_field(obj, _REASON_KEYS) or "").split())


def find_score(text: str) -> tuple[int | None, tuple[int, int] | None]:
    """(score or None, its span in `clean(text)`)."""
    t = clean(text)
    if not t:
        return None, None
    off, line = _first_line(t)
    m = _LEAD_SCORE.match(line)
    if m:
        v = _value(m)
        stated = m.group("label") or m.group("den") or m.group("den2") or _LEAD_REST_OK.match(line, m.end())
        if v is not None and stated:  # '1. Roofs last 50 years' is a numbered list, not a score
            return v, (off + m.start(), off + m.end())
    for off, line in _lines(t):
        m = _ONLY_SCORE.match(line)
        if m:
            v = _value(m)
            return v, ((off + m.start(), off + m.end()) if v is not None else None)
    hits = [m for pat in _LABELLED for m in pat.finditer(t)]
    if not hits:
        return None, None
    m = min(hits, key=lambda h: h.start("n"))
    v = _value(m)
    return v, ((m.start(), m.end()) if v is not None else None)


def _only_score(value: str) -> int | None:
    m = _ONLY_SCORE.match(value.strip())
    return _value(m) if m else None


def parse_score(text: str) -> int | None:
    """The 1-5 score a reply states, or None."""
    return parse_correctness(text)[0]


def parse_correctness(text: str) -> tuple[int | None, str]:
    """(score or None, reason): the reason is the rest of the reply, trimmed (all of it when unparsed)."""
    t = clean(text)
    obj = _json_reply(t)
    if obj is not None and (value := _json_field(obj, _SCORE_KEYS)) is not None:
        return _only_score(value), _json_reason(obj)
    score, span = find_score(text)
    if score is None or span is None:
        return None, " ".join(t.split())
    return score, _reason(t, *span)


# ---------------------------------------------------------------- pairwise verdicts

_V_LEAD = (r"^[\s\W]*?(?:(?i:(?:final\s+|my\s+)?(?:verdict|answer|winner|choice|decision|result|output|judgement|judgment|"
           r"better\s+answer|preferred\s+answer|best\s+answer))\s*(?i:is)?\s*[:=\-]?\s*)?")
_SIDE_WORD = r"(?i:answer|assistant|response|option|candidate)"
_BETTER = r"(?i:(?:clearly\s+|much\s+|slightly\s+)?(?:better|the\s+better|superior|preferred|stronger|more\s+(?:correct|accurate|complete|relevant|helpful))\b)"
# after the side letter: the end, punctuation, ' - reason', 'is better', 'because'. Not 'A: text', which
# is how the prompt labels the answers, and what a small model writes when it recites answer A.
_AFTER_SIDE = r"(?=$|\s*[.,;!)\]]|\s*:\s*$|\s*[-–—]|\s+(?i:wins|because)\b|\s+(?i:is|was)\s+" + _BETTER + ")"
_LEAD_SIDE = re.compile(_V_LEAD + r"(?:" + _SIDE_WORD + r"\s+\(?(?P<side>[ABab])\)?|\(?(?P<bare>[AB])\)?)" + _AFTER_SIDE)
_LEAD_TIE = re.compile(_V_LEAD + r"(?P<tie>(?i:tie|tied|draw|equal|equally)\b)")
_ONLY_VERDICT = re.compile(r"^[\s\W]*(?:(?i:verdict|answer|winner|better\s+answer)\s*[:=\-]?\s*)?(?:" + _SIDE_WORD
                           + r"\s+)?(?P<v>[AB]|(?i:tie|tied|draw|equal))[\s.!)\]]*$")
_BRACKET = re.compile(r"\[\[\s*(?P<v>[ABCabc]|(?i:tie))\s*\]\]")
_ANYWHERE = [
    (re.compile(r"(?:\b" + _SIDE_WORD + r"\s+(?P<s1>[ABab])\s+(?:(?i:is|was)\s+)?|(?<![\w'])(?P<s2>[AB])\s+(?i:is|was)\s+)" + _BETTER), "side"),
    (re.compile(r"(?:\b" + _SIDE_WORD + r"\s+(?P<s1>[ABab])|(?<![\w'])(?P<s2>[AB]))\s+(?i:wins)\b"), "side"),
    (re.compile(r"(?i:better|best|preferred|winning|stronger)\s+(?i:answer|response|one|choice)\s+(?i:is|would\s+be)\s+"
                r"(?:" + _SIDE_WORD + r"\s+)?(?P<s1>[ABab])\b|\b(?i:prefer|choose|pick|select)\s+(?:" + _SIDE_WORD + r"\s+)?(?P<s2>[AB])\b"), "side"),
    (re.compile(r"(?:\b" + _SIDE_WORD + r"\s+(?P<s1>[ABab])|(?<![\w'])(?P<s2>[AB]))\s+(?i:is|was)\s+(?i:clearly\s+|much\s+)?(?i:worse|inferior|weaker)\b"), "worse"),
    (re.compile(r"(?i:it'?s\s+a\s+tie|(?:verdict|result)\s*[:=]\s*tie|\bequally\s+(?:good|bad|correct|wrong|complete|accurate|helpful)"
                r"|\bneither\s+(?:answer\s+|one\s+)?is\s+better|\bno\s+(?:clear\s+)?winner)"), "tie"),
]


def _side(m: re.Match) -> str:
    return next(g for g in (m.groupdict().get(k) for k in ("side", "bare", "s1", "s2", "v")) if g).upper()


def find_verdict(text: str) -> tuple[Verdict | None, tuple[int, int] | None]:
    """(verdict or None, the span the reason is cut around in `clean(text)`; None when no clean cut)."""
    t = clean(text)
    if not t:
        return None, None
    found: dict[str, tuple[int, int]] = {}
    brackets = {(lambda v: "tie" if v in ("C", "TIE") else v)(m.group("v").upper()): (m.start(), m.end())
                for m in _BRACKET.finditer(t)}
    if len(brackets) > 1:
        return None, None
    found.update(brackets)
    off, line = _first_line(t)
    m = _LEAD_SIDE.match(line)
    if m and not re.match(r"\s+(?i:is|was)\b", line[m.end():]):  # 'A is better ...': a sentence, read below
        found.setdefault(_side(m), (off + m.start(), off + m.end()))
    elif not m and (m := _LEAD_TIE.match(line)) is not None:
        found.setdefault("tie", (off + m.start(), off + m.end("tie")))
    if len(found) > 1:
        return None, None
    if found:
        (v, span), = found.items()
        return v, span  # type: ignore[return-value]
    for off, line in _lines(t):
        m = _ONLY_VERDICT.match(line)
        if m:
            v = m.group("v")
            verdict = v.upper() if v in ("A", "B") else "tie"
            return verdict, (off + m.start(), off + m.end())  # type: ignore[return-value]
    votes = set()
    for pat, what in _ANYWHERE:
        for m in pat.finditer(t):
            if what == "tie":
                votes.add("tie")
            else:
                s = _side(m)
                votes.add(s if what == "side" else ("B" if s == "A" else "A"))
    if len(votes) == 1:
        return votes.pop(), None  # type: ignore[return-value]
    return None, None


def parse_verdict(text: str) -> Verdict | None:
    """"A", "B" or "tie" as the reply states it, or None."""
    return parse_pairwise(text)[0]


def parse_pairwise(text: str) -> tuple[Verdict | None, str]:
    """(verdict or None, reason); when the verdict sits inside a sentence the whole reply is the reason."""
    t = clean(text)
    obj = _json_reply(t)
    if obj is not None and (value := _json_field(obj, _VERDICT_KEYS)) is not None:
        m = _ONLY_VERDICT.match(value.strip())
        v = m.group("v") if m else None
        return (None if v is None else v.upper() if v in ("A", "B") else "tie"), _json_reason(obj)
    verdict, span = find_verdict(text)
    if verdict is not None and _BRACKET.search(t):  # '... Final verdict: [[A]]': the rest is the reason
        return verdict, " ".join(_LABEL_LEFT.sub("", _BRACKET.sub("", t).strip()).split())
    if verdict is None or span is None:
        return verdict, " ".join(t.split())
    return verdict, _reason(t, *span, verdict=True)


# ---------------------------------------------------------------- the expected score (first-token probabilities)

MIN_SCORE_MASS = 0.1  # the digits 1-5 must hold at least this share of the first token's probability


def expected_score(top_logprobs, min_mass: float = MIN_SCORE_MASS) -> tuple[float | None, float]:
    """(E[s], mass) from the first reply token's top log-probabilities `[(token, logprob), ...]`.

    The probabilities of the tokens that are a score digit 1-5 (surrounding spaces ignored; " 5" and "5"
    add up) are renormalised over the five scores and E[s] = sum p_s * s. A digit not among the top k
    counts as 0 (its probability is below the smallest one listed). `mass` is the share of the first
    token's probability on the digits; when it is below `min_mass` (the judge all but never starts its
    reply with a score here: "The answer ...") E[s] is None, never guessed. Above it E[s] is the judge's
    score given that it starts with one, whatever the greedy reply went on to say (SmolLM2-135M puts
    about a quarter of its mass on the digits and often writes "1. ..." lists the parser rightly refuses). Greedy decoding writes
    the most probable digit; E[s] also keeps how sure the judge was, which is what separates answers
    when the greedy score is the same for all of them (bench/results/judge_probe.json).
    """
    probs = dict.fromkeys(range(1, 6), 0.0)
    for token, logprob in top_logprobs or ():
        t = str(token).strip()
        if len(t) == 1 and t in "12345" and logprob is not None and math.isfinite(float(logprob)):
            probs[int(t)] += math.exp(float(logprob))
    mass = sum(probs.values())
    if mass <= 0 or mass < min_mass:
        return None, mass
    return sum(s * p for s, p in probs.items()) / mass, mass
