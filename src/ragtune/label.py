"""Label a few REAL queries against your own corpus, so a ship decision can rest on them.

For every query, the top-k passages of two embedders (the model being tuned and a stronger
teacher) are POOLED: the union of both lists, without duplicates, interleaved by rank (1st of each
model, then 2nd of each, ...), so neither model's hits can be hidden by the other's. A person
marks which pooled passages answer the query; that judgment is fair to both systems (TREC-style
pooling). The result is a retrieval dataset in LlamaIndex JSON whose corpus is the WHOLE corpus,
usable as `--eval-dataset` by every ragtune trainer.

Every answer is appended to an fsynced JSONL journal next to the output (`labels.json` ->
`labels.journal.jsonl`) and the output is rewritten atomically, so a killed session loses nothing
and the same call resumes at the first unanswered query. The journal is the record; the output is
always rebuilt from it.

Journal rows (one JSON object per line):
- `{"type": "session", "v": 1, "time", "labeller", "models", "k", "queries_file", "corpus", "corpus_docs",
  "corpus_fingerprint"}` once per session;
- `{"type": "label", "qid", "query", "relevant": [doc ids], "shown": [doc ids, in the order shown],
  "seconds", "time"}` for an answer;
- `{"type": "skip", "qid", "query", "shown", "seconds", "time"}` for "no relevant passage shown / unsure";
- `{"type": "undo", "qid", "time"}` withdraws the latest standing answer (for that query).

`label_queries(...)` is the engine; the `ragtune label` command drives it with a terminal
`answer_fn`, a bench can drive it with gold labels.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal, Union

import numpy as np

from ragtune.assets import get_asset
from ragtune.data.documents import chunk_documents, chunking_tokenizer, chunks_to_dataset, load_documents
from ragtune.data.retrieval import RetrievalDataset, check, load_dataset, write_llamaindex
from ragtune.embedders import load_embedder
from ragtune.errors import InputError
from ragtune.evaluation.search import search
from ragtune.io import append_jsonl, read_jsonl_tolerant

Answer = Union[list[int], Literal["skip", "quit", "undo"]]
AnswerFn = Callable[[str, list["Passage"]], Answer]
JOURNAL_VERSION = 1
POOLING = "union of each model's top-k, interleaved by rank (1st of each model, then 2nd, ...), duplicates shown once"


# ---------------------------------------------------------------------------------------------
# queries


def plain(text: str) -> str:
    """Lower-cased, whitespace collapsed: the form in which duplicate queries are compared."""
    return " ".join(str(text).lower().split())


def query_id(text: str) -> str:
    """A stable id from the query's text (case and spacing aside): `q-<12 hex of sha256>`."""
    return "q-" + hashlib.sha256(plain(text).encode("utf-8")).hexdigest()[:12]


def read_queries(path: str | Path) -> list[str]:
    """Queries of a text file, one per line; blank lines and `#` comments are ignored, duplicates
    (case and spacing aside) dropped, the first spelling kept."""
    path = Path(path).expanduser()
    if not path.exists():
        raise InputError(f"queries file {str(path)!r} not found; give a text file with one query per line.")
    if path.is_dir():
        raise InputError(f"queries file {str(path)!r} is a folder; give a text file with one query per line.")
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise InputError(f"{path}: not UTF-8 text (byte 0x{data[e.start]:02x} at offset {e.start}); "
                         "re-save it as UTF-8.") from None
    queries = unique_queries(line.strip() for line in text.splitlines())
    if not queries:
        raise InputError(f"{path}: no queries in the file: put one query per line (blank lines and # comments are ignored).")
    return queries


def unique_queries(lines: Iterable[str]) -> list[str]:
    seen: dict[str, str] = {}
    for line in lines:
        line = str(line).strip()
        if line and not line.startswith("#"):
            seen.setdefault(query_id(line), line)
    return list(seen.values())


# ---------------------------------------------------------------------------------------------
# corpus


def load_corpus(specs: str | Path | Sequence[str | Path], tokenizer: str = "minilm", chunk_size: int = 256, overlap: int = 32,
                text_field: str = "text", exclude: Iterable[str | Path] = ()) -> RetrievalDataset:
    """A retrieval dataset (its corpus is used) or documents, chunked exactly as `ragtune data chunk` does.

    A dataset is: the registry name `construction-faq`, a `.json` file, a BEIR folder (has `qrels/`),
    or a ragtune `.jsonl` (rows with "type"). Anything else is documents (files and folders)."""
    items = [specs] if isinstance(specs, (str, Path)) else list(specs)
    if not items:
        raise InputError("no corpus given: pass --corpus with a dataset or your documents (files or folders).")
    kinds = [_is_dataset(str(s)) for s in items]
    if any(kinds):
        if len(items) > 1:
            raise InputError("--corpus: give ONE retrieval dataset, or document files/folders, not both or several datasets.")
        ds = check(load_dataset(str(items[0])), f"--corpus {items[0]}")
        ds.meta = {"corpus": {"dataset": str(items[0])}}
    else:
        exclude = [Path(x).expanduser().resolve() for x in exclude]
        named = [str(p) for p in items if Path(p).expanduser().resolve() in exclude]
        if named:
            raise InputError(f"--corpus {named[0]}: that is the queries file or the output of this run, not a document.")
        docs, report = load_documents(items, text_field=text_field, exclude=exclude)
        chunks = chunk_documents(docs, chunking_tokenizer(tokenizer), chunk_size=chunk_size, overlap=overlap)
        ds = chunks_to_dataset(chunks, name="corpus")
        ds.meta = {"corpus": {"documents": [str(p) for p in items], "skipped": report.lines()},
                   "chunking": {"tokenizer": tokenizer, "chunk_size": chunk_size, "overlap": overlap, "text_field": text_field}}
    ds.corpus = {d: t for d, t in ds.corpus.items() if t and t.strip()}
    if not ds.corpus:
        raise InputError(f"corpus {', '.join(map(str, items))}: no passages with text to label against.")
    return ds


def _is_dataset(spec: str) -> bool:
    path = Path(spec).expanduser()
    asset = get_asset(spec)
    if asset is not None and asset.kind == "dataset" and not path.exists():
        return True
    if not path.exists():
        raise InputError(f"corpus {spec!r} not found: give a retrieval dataset (construction-faq, a .json file, "
                         "a BEIR folder, a ragtune .jsonl) or existing document files/folders.")
    if path.is_dir():
        return (path / "qrels").is_dir() and (path / "corpus.jsonl").is_file()
    if path.suffix.lower() == ".json":
        return True
    if path.suffix.lower() == ".jsonl":
        return _first_row_type(path) in ("meta", "corpus", "query")
    return False


def _first_row_type(path: Path) -> Any:
    try:
        with path.open(encoding="utf-8-sig", errors="replace") as f:
            for line in f:
                if line.strip():
                    row = json.loads(line)
                    return row.get("type") if isinstance(row, dict) else None
    except (OSError, json.JSONDecodeError):
        return None
    return None


def corpus_fingerprint(corpus: dict[str, str]) -> str:
    h = hashlib.sha256()
    for doc_id in sorted(corpus):
        h.update(doc_id.encode("utf-8") + b"\x00" + corpus[doc_id].encode("utf-8") + b"\x01")
    return h.hexdigest()[:16]


# ---------------------------------------------------------------------------------------------
# pooling


@dataclass(frozen=True)
class Passage:
    """One pooled passage as shown: `number` is what the labeller types (1-based)."""

    number: int
    doc_id: str
    text: str
    source: str | None
    ranks: dict[str, int]  # model label -> 1-based rank in that model's top-k

    def retrieved_by(self) -> str:
        return " · ".join(f"{m} #{r}" for m, r in self.ranks.items())


def pool(rankings: dict[str, Sequence[str]]) -> list[tuple[str, dict[str, int]]]:
    """Union of ranked lists interleaved by rank: every list's 1st (in the order given), then every 2nd, ...
    A doc appears once, at its first place, with its rank in every list that holds it."""
    ranks: dict[str, dict[str, int]] = {}
    depth = max((len(v) for v in rankings.values()), default=0)
    for r in range(depth):
        for label, docs in rankings.items():
            if r < len(docs):
                ranks.setdefault(docs[r], {})
    for label, docs in rankings.items():
        for r, d in enumerate(docs, start=1):
            ranks[d].setdefault(label, r)
    return [(d, {m: rk[m] for m in rankings if m in rk}) for d, rk in ranks.items()]


class Pooler:
    """Embeds the corpus once per model (cached on disk), then pools any query's top-k in milliseconds."""

    def __init__(self, ds: RetrievalDataset, embedders: dict[str, Any], k: int, show_progress: bool = False):
        self.ds, self.embedders, self.k = ds, embedders, k
        self.doc_ids = list(ds.corpus)
        texts = [ds.corpus[d] for d in self.doc_ids]
        self.show_progress = show_progress
        self.seconds = 0.0  # embedding + searching queries, every model
        start = time.perf_counter()
        self.doc_vecs = {m: e.encode(texts, kind="document", show_progress=show_progress) for m, e in embedders.items()}
        self.seconds_corpus = time.perf_counter() - start
        self._cache: dict[str, list[Passage]] = {}

    def prepare(self, queries: Sequence[str]) -> None:
        """Pool many queries in one batch per model (one model call instead of one per query)."""
        todo = [q for q in dict.fromkeys(queries) if query_id(q) not in self._cache]
        if not todo:
            return
        start = time.perf_counter()
        hits: dict[str, np.ndarray] = {}
        for m, e in self.embedders.items():
            qv = e.encode(todo, kind="query", show_progress=self.show_progress and len(todo) > 64)
            hits[m] = search(qv, self.doc_vecs[m], self.k)[1]
        for i, q in enumerate(todo):
            ranked = {m: [self.doc_ids[j] for j in hits[m][i]] for m in self.embedders}
            self._cache[query_id(q)] = [
                Passage(n, d, self.ds.corpus[d], self.ds.doc_source.get(d), ranks)
                for n, (d, ranks) in enumerate(pool(ranked), start=1)]
        self.seconds += time.perf_counter() - start

    @property
    def pooled(self) -> int:
        """How many queries have been pooled so far."""
        return len(self._cache)

    def passages(self, query: str) -> list[Passage]:
        self.prepare([query])
        return self._cache[query_id(query)]


def model_labels(model: Any, teacher: Any) -> list[tuple[str, Any]]:
    """(label, spec) of the pooled models; the teacher is dropped when it is None, '' or 'none'."""
    def label(spec: Any) -> str:
        return str(getattr(spec, "name", spec))

    out = [(label(model), model)]
    if teacher is not None and str(teacher).strip().lower() not in ("", "none"):
        name = label(teacher)
        out.append((f"{name} (teacher)" if name == out[0][0] else name, teacher))
    return out


# ---------------------------------------------------------------------------------------------
# answers typed by a person (or read from a file)


class AnswerError(ValueError):
    """Input that is not an answer; the message is one line for the re-prompt."""


KEYS_HELP = ("numbers of the relevant passages, e.g. `1 3` or `1,3`  ·  s = skip (none relevant / unsure)  ·  "
             "u = undo the last answer  ·  v N = view passage N in full  ·  q = save and quit  ·  ? = help")


def parse_answer(text: str, n_passages: int) -> list[int] | tuple[str, int] | str:
    """Typed input -> sorted passage numbers, 'skip', 'undo', 'quit', 'help' or ('view', N).

    Raises `AnswerError` (one line) on anything else."""
    t = text.strip().lower()
    if not t:
        raise AnswerError("empty answer: type the numbers of the relevant passages (e.g. 1 3), s to skip, ? for help.")
    words = {"s": "skip", "skip": "skip", "u": "undo", "undo": "undo", "q": "quit", "quit": "quit",
             "?": "help", "h": "help", "help": "help"}
    if t in words:
        return words[t]
    parts = t.replace(",", " ").split()
    if parts[0] in ("v", "view"):
        if len(parts) == 2 and parts[1].isdigit() and 1 <= int(parts[1]) <= n_passages:
            return ("view", int(parts[1]))
        raise AnswerError(f"`v N` shows passage N in full; N must be 1-{n_passages}.")
    bad = [p for p in parts if not p.isdigit() or not 1 <= int(p) <= n_passages]
    if bad:
        raise AnswerError(f"{' '.join(bad)!s}: not a passage number; type numbers 1-{n_passages} "
                          "(e.g. 1 3), s skip, u undo, q quit, ? help.")
    return sorted({int(p) for p in parts})


# ---------------------------------------------------------------------------------------------
# the journal


def journal_path(output: str | Path) -> Path:
    """`labels.json` -> `labels.journal.jsonl`, next to the output."""
    output = Path(output)
    return output.with_name(f"{output.stem}.journal.jsonl")


def replay(journal: str | Path) -> tuple[dict[str, dict], list[dict]]:
    """Standing answers (qid -> label/skip row, in the order given) and the session rows of a journal.

    A later answer for a query replaces an earlier one; an undo withdraws the query's standing answer;
    torn lines (a crash mid-write) are skipped."""
    answers: dict[str, dict] = {}
    sessions: list[dict] = []
    for row in read_jsonl_tolerant(journal):
        kind, qid = row.get("type"), row.get("qid")
        if kind == "session":
            sessions.append(row)
        elif kind in ("label", "skip") and isinstance(qid, str):
            answers.pop(qid, None)
            answers[qid] = row
        elif kind == "undo" and isinstance(qid, str):
            answers.pop(qid, None)
    return answers, sessions


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


# ---------------------------------------------------------------------------------------------
# the engine


@dataclass
class Progress:
    """Where a session stands when a query is shown (for a screen's header)."""

    position: int  # 1-based among the queries of this call
    total: int
    labelled: int
    skipped: int
    remaining: int  # unanswered, this one included
    qid: str = ""


@dataclass
class LabelSummary:
    labelled: int
    skipped: int
    remaining: int
    total: int
    answered_now: int
    seconds_per_query: float | None  # the labeller's time per answer in this session
    corpus_seconds: float  # embedding the corpus, every model (once: cached on disk for the next session)
    pooling_seconds_per_query: float | None  # embedding + searching one query, every model (batched)
    quit: bool
    output: Path
    journal: Path
    dataset: RetrievalDataset
    messages: list[str] = field(default_factory=list)


def label_queries(
    queries: str | Path | Sequence[str],
    corpus: RetrievalDataset | dict[str, str] | str | Path | Sequence[str | Path],
    model: Any = "minilm",
    teacher: Any = "mpnet",
    output: str | Path = "labels.json",
    answer_fn: AnswerFn | None = None,
    k: int = 5,
    *,
    labeller: str | None = None,
    retry_skipped: bool = False,
    on_show: Callable[[Progress, str, list[Passage]], None] | None = None,
    notify: Callable[[str], None] | None = None,
    show_progress: bool = False,
    corpus_options: dict[str, Any] | None = None,
) -> LabelSummary:
    """Show each unanswered query's pooled passages to `answer_fn` and record its answers; resume-safe.

    - `queries`: a text file (one per line) or a list of query strings (deduplicated, `#` lines ignored).
    - `corpus`: a RetrievalDataset, a {doc id: text} dict, a dataset spec, or document paths (see `load_corpus`).
    - `model`, `teacher`: embedder specs (registry name, folder, ...) or Embedder objects; teacher None/'none' = one model.
    - `answer_fn(query, passages)` returns the relevant passages' NUMBERS (`Passage.number`, 1-based),
      `"skip"` (none relevant / unsure; `[]` means the same), `"undo"` (withdraw the last answer and show
      its query again) or `"quit"` (stop; everything is already saved).
    - `on_show(progress, query, passages)` is called before each question; `notify(message)` gets notes.

    After every answer the journal gets one fsynced line and `output` is rewritten atomically.
    Queries already answered in the journal are not shown again (skipped ones are, with `retry_skipped`).
    """
    if answer_fn is None:
        raise InputError("label_queries needs an answer_fn(query, passages) -> list[int] | 'skip' | 'undo' | 'quit'.")
    if k < 1:
        raise InputError(f"k must be a positive number of passages per model; got {k}.")
    messages: list[str] = []

    def say(message: str) -> None:
        messages.append(message)
        if notify:
            notify(message)

    output = Path(output).expanduser()
    journal = _check_output(output)
    texts, queries_file = _query_texts(queries)
    ds = _corpus_dataset(corpus, exclude=[output, journal, *([queries_file] if queries_file else [])], **(corpus_options or {}))
    labels = model_labels(model, teacher)
    embedders = {m: load_embedder(spec) for m, spec in labels}

    created = not journal.exists()
    lock = _lock(journal)
    try:
        state = _Labelling.open(output, journal, ds, texts, retry_skipped, say)
        pooler = Pooler(ds, embedders, k, show_progress=show_progress)
        pooler.prepare([state.text_of[q] for q in state.pending()])
        state.start_session({"labeller": labeller or _user(), "models": [m for m, _ in labels], "k": k, "pooling": POOLING,
                             "queries_file": queries_file, "corpus": _corpus_spec(corpus), "corpus_docs": len(ds.corpus),
                             "corpus_fingerprint": state.fingerprint})
        seconds, quit_ = _ask_all(state, pooler, answer_fn, on_show, say)
    except BaseException:
        if created and journal.exists() and journal.stat().st_size == 0:
            journal.unlink()  # a first session that failed before any record leaves nothing behind
        raise
    finally:
        _unlock(lock)

    n_queries = pooler.pooled
    return LabelSummary(
        labelled=_count(state.answers, "label"), skipped=_count(state.answers, "skip"), remaining=len(state.pending()),
        total=len(state.order), answered_now=len(seconds), seconds_per_query=(sum(seconds) / len(seconds)) if seconds else None,
        corpus_seconds=pooler.seconds_corpus, pooling_seconds_per_query=(pooler.seconds / n_queries) if n_queries else None,
        quit=quit_, output=output, journal=journal, dataset=state.dataset, messages=messages)


def _query_texts(queries: str | Path | Sequence[str]) -> tuple[list[str], str | None]:
    """The unique query texts, and the queries file they came from (None for a list)."""
    if isinstance(queries, (str, Path)):
        return read_queries(queries), str(queries)
    texts = unique_queries(queries)
    if not texts:
        raise InputError("no queries given: every line was blank or a # comment.")
    return texts, None


@dataclass
class _Labelling:
    """One labelling session's state: the answers replayed from the journal (plus this session's), the queries in
    order, and the output dataset rewritten after every change."""

    output: Path
    journal: Path
    ds: RetrievalDataset
    fingerprint: str
    answers: dict[str, dict]
    sessions: list[dict]
    text_of: dict[str, str]
    order: list[str]
    revisit: set[str]
    dataset: RetrievalDataset | None = None

    @classmethod
    def open(cls, output: Path, journal: Path, ds: RetrievalDataset, texts: list[str], retry_skipped: bool,
             say: Callable[[str], None]) -> _Labelling:
        fingerprint = corpus_fingerprint(ds.corpus)
        answers, sessions = replay(journal)
        _check_journal(answers, sessions, ds, fingerprint, journal, say)
        text_of = {query_id(q): q for q in texts}
        order = list(text_of)
        revisit = {q for q in order if retry_skipped and answers.get(q, {}).get("type") == "skip"}
        state = cls(output, journal, ds, fingerprint, answers, sessions, text_of, order, revisit)
        todo = state.pending()
        if answers:
            say(f"resuming from {journal.name}: {_count(answers, 'label')} labelled, {_count(answers, 'skip')} skipped; "
                f"{len(todo)} of {len(order)} queries left")
        if not todo:
            say(f"every one of the {len(order)} queries is answered already"
                + ("." if retry_skipped or not _count(answers, "skip") else "; --retry-skipped shows the skipped ones again."))
        return state

    def pending(self) -> list[str]:
        return [q for q in self.order if q not in self.answers or q in self.revisit]

    def start_session(self, fields: dict[str, Any]) -> None:
        session = {"type": "session", "v": JOURNAL_VERSION, "time": _now(), **fields}
        append_jsonl(self.journal, session)
        self.sessions.append(session)
        self.save()  # a crash after the last answer but before the output was written: rebuilt here

    def save(self) -> None:
        self.dataset = _write_output(self.output, self.journal, self.ds, self.answers, self.sessions,
                                     remaining=len(self.pending()), total=len(self.order))

    def progress(self, qid: str, todo: list[str]) -> Progress:
        return Progress(position=min(len(self.order) - len(todo) + 1, len(self.order)), total=len(self.order),
                        labelled=_count(self.answers, "label"), skipped=_count(self.answers, "skip"),
                        remaining=len(todo) + (qid not in todo), qid=qid)

    def record(self, row: dict) -> None:
        append_jsonl(self.journal, row)
        self.answers.pop(row["qid"], None)
        self.answers[row["qid"]] = row
        self.revisit.discard(row["qid"])
        self.save()

    def undo(self, say: Callable[[str], None]) -> str | None:
        """Withdraw the last answer; its query id (to show again), or None when there is none."""
        if not self.answers:
            say("nothing to undo: no answer is recorded yet.")
            return None
        last_qid, last = next(reversed(self.answers.items()))
        append_jsonl(self.journal, {"type": "undo", "qid": last_qid, "time": _now()})
        self.answers.pop(last_qid)
        self.revisit.discard(last_qid)
        self.text_of.setdefault(last_qid, last.get("query", ""))
        self.save()
        say(f"undone: the answer to {_short(last.get('query', last_qid))!r} ({_describe(last)}); it is shown again.")
        return last_qid


def _ask_all(state: _Labelling, pooler: Pooler, answer_fn: AnswerFn,
             on_show: Callable[[Progress, str, list[Passage]], None] | None,
             say: Callable[[str], None]) -> tuple[list[float], bool]:
    """Show every pending query until none is left or the labeller quits: (seconds per answer, quit)."""
    seconds: list[float] = []
    forced: str | None = None
    while True:
        todo = state.pending()
        qid = forced if forced is not None else (todo[0] if todo else None)
        forced = None
        if qid is None:
            return seconds, False
        text = state.text_of.get(qid) or _undone_text(qid, state.journal)
        passages = pooler.passages(text)
        if on_show:
            on_show(state.progress(qid, todo), text, passages)
        start = time.perf_counter()
        answer = answer_fn(text, passages)
        took = time.perf_counter() - start
        if answer == "quit":
            return seconds, True
        if answer == "undo":
            forced = state.undo(say) or qid
            continue
        state.record(_answer_row(qid, text, passages, answer, took))
        seconds.append(took)


def _corpus_dataset(corpus: Any, exclude: list, **options: Any) -> RetrievalDataset:
    if isinstance(corpus, RetrievalDataset):
        ds = corpus
    elif isinstance(corpus, dict):
        ds = RetrievalDataset(queries={}, corpus={str(k): str(v) for k, v in corpus.items()}, relevant_docs={}, name="corpus")
    else:
        return load_corpus(corpus, exclude=exclude, **options)
    ds = ds.model_copy()
    ds.corpus = {d: t for d, t in ds.corpus.items() if t and t.strip()}
    if not ds.corpus:
        raise InputError("the corpus has no passages with text to label against.")
    return ds


def _corpus_spec(corpus: Any) -> Any:
    if isinstance(corpus, RetrievalDataset):
        return corpus.name
    if isinstance(corpus, dict):
        return f"{len(corpus)} passages given in Python"
    if isinstance(corpus, (str, Path)):
        return str(corpus)
    return [str(c) for c in corpus]


def _check_output(output: Path) -> Path:
    """The journal path of a usable output path; InputError for a folder, a non-.json name, a foreign file."""
    if output.is_dir() or not output.name:
        raise InputError(f"-o {output}: is a folder; give a file name ending in .json (LlamaIndex JSON), e.g. labels.json.")
    if output.suffix.lower() != ".json":
        raise InputError(f"-o {output}: the labels are written as LlamaIndex JSON; give a file name ending in .json, e.g. labels.json.")
    journal = journal_path(output)
    if output.exists() and not journal.exists():
        raise InputError(f"-o {output} exists and has no labelling journal next to it ({journal.name}), so it is not "
                         "from `ragtune label`; choose another output file, or move it away.")
    if journal.is_dir():
        raise InputError(f"{journal} is a folder; it must be free for the labelling journal.")
    return journal


def _check_journal(answers: dict[str, dict], sessions: list[dict], ds: RetrievalDataset, fingerprint: str,
                   journal: Path, say: Callable[[str], None]) -> None:
    missing = sorted({d for row in answers.values() for d in row.get("relevant", []) if d not in ds.corpus})
    if missing:
        shown = ", ".join(repr(d) for d in missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
        raise InputError(f"{journal}: {len(missing)} labelled passage id(s) are not in this corpus ({shown}): the corpus "
                         "changed since those labels were made. Run with the same --corpus (and chunking options) as "
                         "before, or label into a new -o file.")
    if sessions and sessions[-1].get("corpus_fingerprint") not in (None, fingerprint):
        say(f"note: the corpus differs from the last session's ({len(ds.corpus)} passages now, "
            f"{sessions[-1].get('corpus_docs')} then); every labelled passage is still in it, so labelling goes on.")


def _answer_row(qid: str, text: str, passages: list[Passage], answer: Any, took: float) -> dict:
    shown = [p.doc_id for p in passages]
    base = {"qid": qid, "query": text}
    tail = {"shown": shown, "seconds": round(took, 3), "time": _now()}
    if answer == "skip" or (isinstance(answer, (list, tuple)) and not answer):
        return {"type": "skip", **base, **tail}
    if not isinstance(answer, (list, tuple)) or not all(isinstance(n, int) and not isinstance(n, bool) for n in answer):
        raise InputError(f"answer_fn must return passage numbers (list[int]), 'skip', 'undo' or 'quit'; got {answer!r}.")
    bad = [n for n in answer if not 1 <= n <= len(passages)]
    if bad:
        raise InputError(f"answer_fn returned passage number(s) {bad} for {text!r}; the passages shown are numbered 1-{len(passages)}.")
    return {"type": "label", **base, "relevant": [passages[n - 1].doc_id for n in sorted(set(answer))], **tail}


def _write_output(output: Path, journal: Path, ds: RetrievalDataset, answers: dict[str, dict], sessions: list[dict],
                  remaining: int, total: int) -> RetrievalDataset:
    labelled = {q: r for q, r in answers.items() if r["type"] == "label"}
    skipped = {q: r for q, r in answers.items() if r["type"] == "skip"}
    seconds = [r["seconds"] for r in answers.values() if isinstance(r.get("seconds"), (int, float))]
    last = sessions[-1] if sessions else {}
    meta = {
        "labelling": {
            "tool": "ragtune label",
            "pooled_by": {"models": last.get("models"), "k": last.get("k"), "pooling": POOLING},
            "labelled": len(labelled), "skipped": len(skipped), "remaining": remaining, "queries_in_file": total,
            "skipped_queries": {q: r.get("query", "") for q, r in skipped.items()},
            "judged": {q: r.get("shown", []) for q, r in labelled.items()},
            "seconds_per_query": round(sum(seconds) / len(seconds), 2) if seconds else None,
            "journal": journal.name,
            "corpus": last.get("corpus"), "corpus_fingerprint": last.get("corpus_fingerprint"),
            "sessions": [{k: s.get(k) for k in ("time", "labeller", "models", "k")} for s in sessions],
        },
        **{k: v for k, v in ds.meta.items() if k in ("corpus", "chunking")},
    }
    out = RetrievalDataset(
        queries={q: r["query"] for q, r in labelled.items()}, corpus=ds.corpus,
        relevant_docs={q: list(r["relevant"]) for q, r in labelled.items()},
        doc_source={d: s for d, s in ds.doc_source.items() if d in ds.corpus}, name=output.stem, meta=meta)
    write_llamaindex(out, output)
    return out


def _undone_text(qid: str, journal: Path) -> str:
    for row in read_jsonl_tolerant(journal):
        if row.get("qid") == qid and row.get("query"):
            return row["query"]
    return qid


def _count(answers: dict[str, dict], kind: str) -> int:
    return sum(r["type"] == kind for r in answers.values())


def _describe(row: dict) -> str:
    return "skipped" if row["type"] == "skip" else f"{len(row.get('relevant', []))} relevant"


def _short(text: str, n: int = 60) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user name in this environment: the journal simply says so
        return "unknown"


def _lock(journal: Path):
    """Hold an exclusive lock on the journal for the session, so two sessions never interleave answers."""
    journal.parent.mkdir(parents=True, exist_ok=True)
    f = journal.open("a", encoding="utf-8")
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock, the journal still replays in order
        return f
    try:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        f.close()
        raise InputError(f"another `ragtune label` session is writing {journal}; finish or quit it (q) first.") from None
    return f


def _unlock(f) -> None:
    f.close()
