"""Documents in, token-aware chunks out: the first step from a user's files to a retrieval dataset.

`load_documents` reads a folder (recursively) or a list of files: `.txt`, `.md`, `.html`/`.htm`,
`.pdf` and `.jsonl` (one text field per row; every row is its own document with id `path#line`).
Bad files and bad JSONL rows are reported in a `LoadReport` (path, reason), skipped and counted;
loading nothing at all raises `NoUsableDataError`.

`chunk_documents` cuts documents into windows measured in the embedding model's own tokens, with
an overlap, and never cuts inside a word. Each chunk keeps its source, its position in the document
and its character span, and gets a stable id: `<source>::<sha256 of its text, 12 hex>`, so the same
text in the same file gets the same id on every run and on every machine, however the other chunks
around it change.

`chunks_to_dataset` turns the chunks into a corpus-only `RetrievalDataset` (no queries yet):
`doc_source` maps every chunk to its document, so train/val splits never put one document on both
sides.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ragtune.assets import load_tokenizer
from ragtune.data.retrieval import RetrievalDataset
from ragtune.errors import InputError, NoUsableDataError
from ragtune.io import missing_reason

SUPPORTED_SUFFIXES = (".txt", ".md", ".html", ".htm", ".pdf", ".jsonl")
DEFAULT_CHUNK_SIZE = 256
DEFAULT_OVERLAP = 32
_SPACE = re.compile(r"\s")


@dataclass(frozen=True)
class Document:
    """One document: a whole file, or one row of a JSONL file (id `path#line`); text is stripped."""

    id: str
    text: str
    path: str


@dataclass(frozen=True)
class Chunk:
    """A piece of one document: `text == document.text[char_start:char_end]`.

    `source` is the document id (a file path, or `path#line` for a JSONL row); the character span is
    in the document's extracted text (for HTML and PDF, the text read out of the file, not its bytes).
    """

    id: str
    text: str
    source: str
    position: int
    char_start: int
    char_end: int


@dataclass(frozen=True)
class Skipped:
    """An input that was not used: a file, or one JSONL row (`line` set), and why."""

    path: str
    reason: str
    line: int | None = None

    @property
    def where(self) -> str:
        return self.path if self.line is None else f"{self.path}:{self.line}"

    def __str__(self) -> str:
        return f"skipped {self.where}: {self.reason}"


@dataclass
class LoadReport:
    """What `load_documents` read, and every file or row it skipped with the reason."""

    files_seen: int = 0
    files_used: int = 0
    documents: int = 0
    skipped: list[Skipped] = field(default_factory=list)

    def lines(self) -> list[str]:
        """One line per skipped input: `skipped PATH: REASON`."""
        return [str(s) for s in self.skipped]

    def summary(self) -> str:
        rows = sum(s.line is not None for s in self.skipped)
        return (f"{self.documents} documents from {self.files_used} of {self.files_seen} files; skipped "
                f"{len(self.skipped) - rows} file(s) and {rows} JSONL row(s)")


# ---------------------------------------------------------------------------------------------
# loading


def load_documents(paths: str | Path | Iterable[str | Path], text_field: str = "text",
                   exclude: Iterable[str | Path] = ()) -> tuple[list[Document], LoadReport]:
    """Read documents from folders (recursively) and files; skip and report the bad ones.

    A path that does not exist raises `InputError` (a typo should stop the run, not shrink it).
    Hidden files and folders (names starting with '.') inside a folder are ignored; a file reached
    twice is read once; any other file with an unsupported extension is reported as skipped, and so
    are files in or under `exclude` (e.g. the run's own output, written into the documents folder).
    Raises `NoUsableDataError` when no document could be read at all.
    """
    report = LoadReport()
    docs: list[Document] = []
    excluded = [Path(p).expanduser().resolve() for p in exclude]
    for file in _expand(paths):
        report.files_seen += 1
        if any(file.resolve().is_relative_to(x) for x in excluded):
            report.skipped.append(Skipped(file.as_posix(), "excluded: it is this run's own output"))
            continue
        before = len(docs)
        docs += _read_file(file, text_field, report)
        report.files_used += len(docs) > before
    report.documents = len(docs)
    if not docs:
        raise NoUsableDataError(_nothing_usable(report))
    return docs, report


def _expand(paths: str | Path | Iterable[str | Path]) -> list[Path]:
    items = [paths] if isinstance(paths, (str, Path)) else list(paths)
    if not items:
        raise InputError("no document paths given: pass a folder or files (.txt, .md, .html, .pdf, .jsonl).")
    files: list[Path] = []
    for item in items:
        path = Path(item).expanduser()
        if path.is_dir():
            files += sorted(p for p in path.rglob("*") if p.is_file() and not _hidden(p.relative_to(path)))
        elif path.exists():
            files.append(path)
        else:
            raise InputError(f"document path {str(item)!r} {missing_reason(path)}; pass an existing folder or file.")
    unique = {f.resolve(): f for f in reversed(files)}  # first spelling of each file wins
    return [f for f in files if unique[f.resolve()] is f]


def _hidden(rel: Path) -> bool:
    return any(part.startswith(".") for part in rel.parts)


def _nothing_usable(report: LoadReport) -> str:
    if not report.files_seen:
        return "no files found in the given folder(s); put .txt, .md, .html, .pdf or .jsonl files there."
    shown = "\n".join(f"  {line}" for line in report.lines()[:20])
    more = f"\n  ... and {len(report.skipped) - 20} more" if len(report.skipped) > 20 else ""
    return (f"no usable documents: all {report.files_seen} file(s) were skipped:\n{shown}{more}\n"
            f"Supported: {', '.join(SUPPORTED_SUFFIXES)} (UTF-8 text; PDFs with a text layer, not encrypted).")


def _read_file(path: Path, text_field: str, report: LoadReport) -> list[Document]:
    """The documents in one file; on any problem, a `Skipped` entry and no documents."""
    where = path.as_posix()
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        report.skipped.append(Skipped(where, f"unsupported extension {suffix or '(none)'!r}; "
                                             f"supported: {', '.join(SUPPORTED_SUFFIXES)}"))
        return []
    try:
        if suffix == ".jsonl":
            return _read_jsonl(path, text_field, report)
        text = _read_pdf(path) if suffix == ".pdf" else _read_html(path) if suffix in (".html", ".htm") else _read_text(path)
    except _Unusable as e:
        report.skipped.append(Skipped(where, str(e)))
        return []
    except OSError as e:
        report.skipped.append(Skipped(where, f"cannot read the file ({e.strerror or e})"))
        return []
    if not text.strip():
        report.skipped.append(Skipped(where, "empty: no text in the file"))
        return []
    return [Document(id=where, text=text.strip(), path=where)]


class _Unusable(Exception):
    """A file that cannot be used; the message is the reason shown to the user."""


def _decode_utf8(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise _Unusable(f"not UTF-8 text (byte 0x{data[e.start]:02x} at offset {e.start}); "
                        "re-save it as UTF-8, e.g. `iconv -f latin1 -t utf-8 IN > OUT`") from None


def _read_text(path: Path) -> str:
    return _decode_utf8(path.read_bytes())


def _read_jsonl(path: Path, text_field: str, report: LoadReport) -> list[Document]:
    text = _decode_utf8(path.read_bytes())
    docs = []
    for line_no, line in enumerate(text.split("\n"), start=1):  # not splitlines: JSON may hold U+2028
        if not line.strip():
            continue
        value = _jsonl_text(line, text_field, Skipped(path.as_posix(), "", line_no), report)
        if value is not None:
            docs.append(Document(id=f"{path.as_posix()}#{line_no}", text=value.strip(), path=path.as_posix()))
    if not docs and not any(s.path == path.as_posix() for s in report.skipped):
        raise _Unusable("empty: no rows in the file")
    return docs


def _jsonl_text(line: str, text_field: str, at: Skipped, report: LoadReport) -> str | None:
    """The row's text, or None after reporting why the row is skipped (`at` carries path and line)."""
    try:
        row = json.loads(line)
    except json.JSONDecodeError as e:
        return _skip_row(report, at, f"not valid JSON ({e.msg} at column {e.colno})")
    if not isinstance(row, dict):
        return _skip_row(report, at, f"expected a JSON object, got {type(row).__name__}")
    if text_field not in row:
        keys = ", ".join(sorted(row)[:10]) or "(none)"
        return _skip_row(report, at, f"no field {text_field!r} (keys: {keys}); choose the field with --text-field")
    value = row[text_field]
    if not isinstance(value, str) or not value.strip():
        got = "an empty string" if isinstance(value, str) else f"{type(value).__name__} {json.dumps(value)[:40]}"
        return _skip_row(report, at, f"field {text_field!r} must be non-empty text; got {got}")
    return value


def _skip_row(report: LoadReport, at: Skipped, reason: str) -> None:
    report.skipped.append(Skipped(at.path, reason, at.line))
    return None


_BLOCK_TAGS = ("address", "article", "aside", "blockquote", "dd", "details", "dialog", "div", "dl", "dt",
               "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6",
               "header", "hr", "li", "main", "nav", "ol", "p", "pre", "section", "summary", "table",
               "tr", "ul", "title", "caption", "th", "td")


def _read_html(path: Path) -> str:
    """HTML -> text with BeautifulSoup: scripts and styles dropped, block elements on their own lines."""
    from bs4 import BeautifulSoup, Comment

    soup = BeautifulSoup(_decode_html(path.read_bytes()), "html.parser")
    for tag in soup(["script", "style", "noscript", "template"]):
        tag.decompose()
    for comment in soup.find_all(string=lambda s: isinstance(s, Comment)):
        comment.extract()
    for node in soup.find_all(string=True):
        if not node.find_parent("pre"):
            node.replace_with(re.sub(r"\s+", " ", str(node)))
    for br in soup.find_all("br"):
        br.replace_with("\n")
    for tag in soup.find_all(_BLOCK_TAGS):
        tag.insert_before("\n")
        tag.insert_after("\n")
    lines = [line.strip() for line in soup.get_text().split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _decode_html(data: bytes) -> str:
    """UTF-8, or the charset the page itself declares (`<meta charset=...>`); nothing guessed."""
    try:
        return _decode_utf8(data)
    except _Unusable:
        from bs4.dammit import UnicodeDammit

        dammit = UnicodeDammit(data, is_html=True)
        if dammit.declared_html_encoding and dammit.unicode_markup is not None:
            return dammit.unicode_markup
        raise


def _read_pdf(path: Path) -> str:
    """Text of every page (pypdf), pages separated by a blank line."""
    from pypdf import PdfReader
    from pypdf.errors import DependencyError, FileNotDecryptedError, PdfReadError

    try:
        reader = PdfReader(path)
        if reader.is_encrypted and not reader.decrypt(""):
            raise _Unusable("encrypted PDF that needs a password; save a decrypted copy "
                            "(e.g. `qpdf --decrypt --password=PW IN.pdf OUT.pdf`)")
        pages = [page.extract_text() or "" for page in reader.pages]
    except FileNotDecryptedError:
        raise _Unusable("encrypted PDF that needs a password; save a decrypted copy first") from None
    except DependencyError as e:
        raise _Unusable(f"encrypted PDF that needs the `cryptography` package to open ({e}); "
                        "pip install cryptography") from None
    except (PdfReadError, ValueError, KeyError, TypeError) as e:
        raise _Unusable(f"not a readable PDF ({type(e).__name__}: {e})") from None
    text = "\n\n".join(p.strip() for p in pages if p.strip())
    if not text:
        raise _Unusable(f"PDF with {len(pages)} page(s) but no text layer (scanned images?); run OCR first")
    return text


# ---------------------------------------------------------------------------------------------
# chunking


def default_tokenizer():
    """The tokenizer of the `minilm` asset (all-MiniLM-L6-v2), the default embedding model."""
    return chunking_tokenizer("minilm")


def chunking_tokenizer(spec: str):
    """The model's tokenizer (`ragtune.assets.load_tokenizer`), which must be a fast one: chunking needs its
    character offsets."""
    tokenizer = load_tokenizer(spec)
    if not tokenizer.is_fast:
        raise InputError(f"the tokenizer of {spec!r} is not a fast (Rust) tokenizer; chunking needs its "
                         "character offsets. Use a model folder that has a tokenizer.json.")
    return tokenizer


def chunk_documents(docs: Iterable[Document], tokenizer=None, chunk_size: int = DEFAULT_CHUNK_SIZE,
                    overlap: int = DEFAULT_OVERLAP) -> list[Chunk]:
    """Cut documents into chunks of at most `chunk_size` tokens, consecutive chunks sharing up to `overlap`.

    Sizes count the embedding model's own tokens *including* its special tokens ([CLS], [SEP]), so a
    chunk is exactly what the model sees. The defaults fit the default model: all-MiniLM-L6-v2 embeds at
    most 256 tokens (`max_seq_length` 256) and silently truncates the rest, so 256 is the largest chunk it
    can embed whole; an overlap of 32 tokens (1/8) keeps a sentence cut at a boundary readable in the
    next chunk at little extra cost.

    Cuts fall between words (whitespace, read from the tokenizer's character offsets), preferring a
    line break, then a sentence end, in the last quarter of a window, else the last whitespace in its
    second half; the next chunk starts inside the overlap, at a sentence start when there is one.
    Only where no whitespace falls in the second half of a window (a URL, a base64 blob, text without
    spaces) is the cut made at the tokenizer's own word boundary (`word_ids`, e.g. at punctuation), and
    as a last resort between sub-word tokens; so every chunk is at least half full.
    A document that fits is one chunk with its whole text. Raises `NoUsableDataError` when no chunk results.
    """
    tokenizer = tokenizer if tokenizer is not None else default_tokenizer()
    budget = _content_budget(tokenizer, chunk_size, overlap)
    chunks: list[Chunk] = []
    for doc in docs:
        chunks += _chunk_one(doc, tokenizer, budget, overlap)
    if not chunks:
        raise NoUsableDataError("no chunks: the documents given contain no text to chunk.")
    return chunks


def _content_budget(tokenizer, chunk_size: int, overlap: int) -> int:
    special = tokenizer.num_special_tokens_to_add(pair=False)
    if chunk_size - special < 8:
        raise InputError(f"chunk size {chunk_size} is too small (--chunk-size): it must leave at least 8 tokens besides "
                         f"the model's {special} special tokens; the default is {DEFAULT_CHUNK_SIZE}.")
    if not 0 <= overlap < (chunk_size - special) // 2:
        raise InputError(f"overlap {overlap} must be >= 0 and less than half the chunk's "
                         f"{chunk_size - special} text tokens (--overlap); the default is {DEFAULT_OVERLAP}.")
    return chunk_size - special


def _chunk_one(doc: Document, tokenizer, budget: int, overlap: int) -> list[Chunk]:
    enc = tokenizer(doc.text, add_special_tokens=False, return_offsets_mapping=True, verbose=False)
    offsets, word_ids = [tuple(o) for o in enc["offset_mapping"]], enc.word_ids()
    if not offsets or not doc.text.strip():
        return []
    if len(offsets) <= budget:
        return _make_chunks(doc, [(0, len(doc.text))])
    limit, strength = budget, _strengths(doc.text, offsets, word_ids)
    while budget >= 8:
        windows = _windows(strength, budget, overlap)
        spans = [span for s, e in windows if (span := _trim(doc.text, offsets[s][0], offsets[e - 1][1]))[0] < span[1]]
        # Byte-level BPE tokenizes a chunk's first word differently without its leading space, so a
        # chunk can need more tokens alone than in context: measure each alone, shrink until all fit.
        alone = tokenizer([doc.text[a:b] for a, b in spans], add_special_tokens=False, verbose=False)["input_ids"]
        excess = max(len(ids) for ids in alone) - limit
        if excess <= 0:
            return _make_chunks(doc, spans)
        budget -= excess
    raise InputError(f"{doc.id}: cannot cut this text into chunks of {limit} tokens with this tokenizer; "
                     "use a larger --chunk-size.")


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    """Shrink a span past leading/trailing whitespace (byte-level BPE tokens carry their leading space)."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


# How good a cut before a token is: inside a word (0) < the tokenizer's word boundary (e.g. at
# punctuation inside a URL) < whitespace < after a sentence end < at a line break.
_WORD, _SPACED, _SENTENCE, _LINE = 1, 2, 3, 4
# Where a window may end, best first: (boundary at least this good, chunk at least this full).
_CUT_PREFERENCES = ((_LINE, 0.75), (_SENTENCE, 0.75), (_SPACED, 0.5), (_WORD, 0.5))


def _strengths(text: str, offsets: list[tuple[int, int]], word_ids: list[int | None]) -> list[int]:
    """The cut strength before every token, plus one entry for the end of the text."""
    out = [_LINE]
    for i in range(1, len(offsets)):
        prev_end = offsets[i - 1][1]
        gap = text[max(prev_end - 1, 0):offsets[i][0] + 1]  # the edges too: BPE tokens carry their spaces
        if "\n" in gap:
            out.append(_LINE)
        elif _SPACE.search(gap):
            out.append(_SENTENCE if text[prev_end - 1] in ".!?" else _SPACED)
        else:
            out.append(_WORD if word_ids[i] != word_ids[i - 1] else 0)
    return out + [_LINE]


def _windows(strength: list[int], budget: int, overlap: int) -> list[tuple[int, int]]:
    """Token windows [start, end) of at most `budget` tokens, cut at the best boundary near the end."""
    n, windows, start = len(strength) - 1, [], 0
    while n - start > budget:
        hi = start + budget
        cuts = (_last(strength, level, start + max(1, int(budget * fill)), hi) for level, fill in _CUT_PREFERENCES)
        end = next((c for c in cuts if c is not None), hi)
        windows.append((start, end))
        region = range(max(end - overlap, start + 1), end)  # the next window starts inside the overlap
        start = next((i for level in (_SENTENCE, _SPACED) for i in region if strength[i] >= level), end)
    return windows + [(start, n)]


def _last(strength: list[int], level: int, lo: int, hi: int) -> int | None:
    return next((i for i in range(hi, lo - 1, -1) if strength[i] >= level), None)


def _make_chunks(doc: Document, spans: list[tuple[int, int]]) -> list[Chunk]:
    chunks, seen = [], set()
    for position, (start, end) in enumerate(spans):
        text = doc.text[start:end]
        chunk_id = f"{doc.id}::{hashlib.sha256(text.encode('utf-8')).hexdigest()[:12]}"
        if chunk_id in seen:  # the same text twice in one document: keep both, told apart by position
            chunk_id = f"{chunk_id}-{position}"
        seen.add(chunk_id)
        chunks.append(Chunk(id=chunk_id, text=text, source=doc.id, position=position, char_start=start, char_end=end))
    return chunks


def chunks_to_dataset(chunks: Iterable[Chunk], name: str, meta: dict[str, Any] | None = None) -> RetrievalDataset:
    """A corpus-only retrieval dataset: corpus = every chunk, no queries, doc_source = chunk -> document.

    `meta["chunks"]` keeps each chunk's position and character span (`[position, char_start, char_end]`),
    so a chunk can be traced back to the exact place in its file.
    """
    chunks = list(chunks)
    if not chunks:
        raise NoUsableDataError("no chunks to make a dataset from: load and chunk some documents first.")
    return RetrievalDataset(
        queries={}, corpus={c.id: c.text for c in chunks}, relevant_docs={},
        doc_source={c.id: c.source for c in chunks}, name=name,
        meta={**(meta or {}), "chunks": {c.id: [c.position, c.char_start, c.char_end] for c in chunks}},
    )
