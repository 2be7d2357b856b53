"""The retrieval dataset: queries, a corpus, and which documents answer which query.

One record type, read and written in three formats:
- LlamaIndex `EmbeddingQAFinetuneDataset` JSON (`queries`, `corpus`, `relevant_docs`, `mode`), exact round trip;
- BEIR folders (`corpus.jsonl`, `queries.jsonl`, `qrels/<split>.tsv`);
- ragtune JSONL (one `{"type": "corpus"|"query", ...}` object per line).
"""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from ragtune.assets import asset_path, get_asset
from ragtune.errors import DataValidationError, InputError, Problem
from ragtune.io import atomic_write_jsonl, atomic_write_json, atomic_write_text, missing_reason

_LLAMAINDEX_KEYS = ("queries", "corpus", "relevant_docs", "mode")


class RetrievalDataset(BaseModel):
    """Queries, corpus and relevance judgments, plus optional hard negatives and chunk sources."""

    queries: dict[str, str] = Field(description="query id -> query text")
    corpus: dict[str, str] = Field(description="doc (chunk) id -> text")
    relevant_docs: dict[str, list[str]] = Field(description="query id -> ids of relevant docs")
    mode: str = Field("text", description="LlamaIndex dataset mode; always 'text' here")
    hard_negatives: dict[str, list[str]] = Field(default_factory=dict, description="query id -> hard negative doc ids")
    doc_source: dict[str, str] = Field(default_factory=dict, description="doc id -> source document id (for splits)")
    name: str = Field("dataset", description="a short name used in reports")
    meta: dict[str, Any] = Field(default_factory=dict, description="provenance, split record, generator info")

    def source_of(self, doc_id: str) -> str:
        """The source document of a chunk (the chunk itself when no source was recorded)."""
        return self.doc_source.get(doc_id, doc_id)

    def summary(self) -> str:
        n_rel = sum(len(v) for v in self.relevant_docs.values())
        n_neg = sum(len(v) for v in self.hard_negatives.values())
        n_src = len({self.source_of(d) for d in self.corpus})
        return (
            f"{self.name}: {len(self.queries)} queries, {len(self.corpus)} docs from {n_src} sources, "
            f"{n_rel} relevance judgments, {n_neg} hard negatives"
        )

    def subset(self, query_ids: list[str], doc_ids: list[str] | None = None, name: str | None = None) -> "RetrievalDataset":
        """A dataset restricted to some queries (and optionally some docs)."""
        docs = set(self.corpus) if doc_ids is None else set(doc_ids)
        qs = [q for q in query_ids if q in self.queries]
        return RetrievalDataset(
            queries={q: self.queries[q] for q in qs},
            corpus={d: t for d, t in self.corpus.items() if d in docs},
            relevant_docs={q: [d for d in self.relevant_docs.get(q, []) if d in docs] for q in qs},
            hard_negatives={q: [d for d in self.hard_negatives[q] if d in docs] for q in qs if q in self.hard_negatives},
            doc_source={d: s for d, s in self.doc_source.items() if d in docs},
            name=name or self.name,
            meta=dict(self.meta),
        )


# ---------------------------------------------------------------------------------------------
# validation


def validate(ds: RetrievalDataset, where: str = "dataset") -> list[Problem]:
    """Every problem with its location: dangling ids, empty texts, queries with no relevant doc."""
    problems: list[Problem] = []
    for qid, text in ds.queries.items():
        if not text or not text.strip():
            problems.append(Problem(f"{where}: queries[{qid!r}]", "empty query text"))
    for did, text in ds.corpus.items():
        if not text or not text.strip():
            problems.append(Problem(f"{where}: corpus[{did!r}]", "empty document text"))
    for qid in ds.queries:
        if not ds.relevant_docs.get(qid):
            problems.append(Problem(f"{where}: relevant_docs[{qid!r}]", "query has no relevant doc"))
    for qid, docs in ds.relevant_docs.items():
        if qid not in ds.queries:
            problems.append(Problem(f"{where}: relevant_docs[{qid!r}]", "judgment for a query id that is not in queries"))
        problems += _dangling(ds, docs, f"{where}: relevant_docs[{qid!r}]")
        if len(set(docs)) != len(docs):
            problems.append(Problem(f"{where}: relevant_docs[{qid!r}]", "the same doc id is listed twice", "warning"))
    for qid, docs in ds.hard_negatives.items():
        if qid not in ds.queries:
            problems.append(Problem(f"{where}: hard_negatives[{qid!r}]", "negatives for a query id that is not in queries"))
        problems += _dangling(ds, docs, f"{where}: hard_negatives[{qid!r}]")
        both = set(docs) & set(ds.relevant_docs.get(qid, []))
        if both:
            problems.append(Problem(f"{where}: hard_negatives[{qid!r}]", f"doc(s) {sorted(both)} are also relevant"))
    return problems


def _dangling(ds: RetrievalDataset, docs: list[str], loc: str) -> list[Problem]:
    return [Problem(f"{loc}[{i}]", f"doc id {d!r} is not in the corpus") for i, d in enumerate(docs) if d not in ds.corpus]


def check(ds: RetrievalDataset, where: str = "dataset") -> RetrievalDataset:
    """Raise DataValidationError listing every error; return the dataset when it is clean."""
    problems = validate(ds, where)
    if any(p.severity == "error" for p in problems):
        raise DataValidationError(where, problems)
    return ds


def load_checked(spec: "str | Path | RetrievalDataset", what: str) -> RetrievalDataset:
    """A dataset (a spec is loaded) that passed validation: a DataValidationError lists every problem first."""
    ds = spec if isinstance(spec, RetrievalDataset) else load_dataset(spec)
    return check(ds, f"{what} {ds.name if isinstance(spec, RetrievalDataset) else spec}")


def train_val(train: RetrievalDataset, val: RetrievalDataset | None, val_fraction: float, seed: int,
              ) -> tuple[RetrievalDataset, RetrievalDataset]:
    """The training data and its validation set: `val` when given, else a split by source document."""
    if val is None:
        train, val = split_by_source(train, val_fraction, seed)
    if not train.queries or not val.queries:
        raise InputError(f"need training and validation queries; got {len(train.queries)} and {len(val.queries)}. "
                         "Give more data or --val-dataset.")
    return train, val


# ---------------------------------------------------------------------------------------------
# split by source document


def split_by_source(ds: RetrievalDataset, val_fraction: float = 0.2, seed: int = 42) -> tuple[RetrievalDataset, RetrievalDataset]:
    """Train/val split where no source document has chunks on both sides; seeded and recorded.

    Each query goes to the side of its first relevant doc's source; each side keeps only its own
    sources' chunks (chunks without queries stay as distractors on their side).
    """
    sources = sorted({ds.source_of(d) for d in ds.corpus})
    val_sources = held_out_sources(sources, val_fraction, seed)
    sides: dict[bool, tuple[list[str], list[str]]] = {True: ([], []), False: ([], [])}
    for did in ds.corpus:
        sides[ds.source_of(did) in val_sources][1].append(did)
    for qid in ds.queries:
        rel = ds.relevant_docs.get(qid) or []
        if rel:
            sides[ds.source_of(rel[0]) in val_sources][0].append(qid)
    record = {"by": "source document", "seed": seed, "val_fraction": val_fraction,
              "val_sources": sorted(val_sources), "train_sources": sorted(set(sources) - val_sources)}
    train = ds.subset(*sides[False], name=f"{ds.name}-train")
    val = ds.subset(*sides[True], name=f"{ds.name}-val")
    for part in (train, val):
        part.meta = {**ds.meta, "split": record}
        _drop_unanswerable(part)
    return train, val


def held_out_sources(sources: list[str], val_fraction: float, seed: int) -> set[str]:
    """The source documents held out for validation: a seeded share of them, at least one and never all."""
    if not 0.0 < val_fraction < 1.0:
        raise InputError(f"val_fraction must be between 0 and 1 (exclusive); got {val_fraction}")
    if len(sources) < 2:
        raise InputError(f"cannot split by source document: the dataset has {len(sources)} source(s); need at least 2.")
    order = sorted(sources)
    random.Random(seed).shuffle(order)
    return set(order[: min(len(order) - 1, max(1, round(len(order) * val_fraction)))])


def _drop_unanswerable(ds: RetrievalDataset) -> None:
    """After a split a query may have lost a relevant doc that went to the other side; drop empties."""
    for qid in [q for q, docs in ds.relevant_docs.items() if not docs]:
        ds.queries.pop(qid, None)
        ds.relevant_docs.pop(qid, None)
        ds.hard_negatives.pop(qid, None)


# ---------------------------------------------------------------------------------------------
# LlamaIndex JSON


def to_llamaindex_dict(ds: RetrievalDataset) -> dict[str, Any]:
    """The LlamaIndex `EmbeddingQAFinetuneDataset` shape; ragtune extras only when present."""
    out: dict[str, Any] = {"queries": ds.queries, "corpus": ds.corpus, "relevant_docs": ds.relevant_docs, "mode": ds.mode}
    extras = {"hard_negatives": ds.hard_negatives, "doc_source": ds.doc_source, "meta": ds.meta}
    out.update({k: v for k, v in extras.items() if v})
    return out


def write_llamaindex(ds: RetrievalDataset, path: str | Path) -> Path:
    """Write LlamaIndex JSON (indent 4, like `EmbeddingQAFinetuneDataset.save_json`)."""
    return atomic_write_text(path, json.dumps(to_llamaindex_dict(ds), indent=4, ensure_ascii=False) + "\n")


def from_llamaindex_dict(data: dict[str, Any], name: str, where: str) -> RetrievalDataset:
    missing = [k for k in ("queries", "corpus", "relevant_docs") if k not in data]
    if missing:
        raise InputError(f"{where}: not a LlamaIndex retrieval dataset: missing key(s) {missing}; "
                         "expected {'queries': {...}, 'corpus': {...}, 'relevant_docs': {...}}.")
    try:
        return RetrievalDataset(
            queries=data["queries"], corpus=data["corpus"], relevant_docs=data["relevant_docs"],
            mode=data.get("mode", "text"), hard_negatives=data.get("hard_negatives") or {},
            doc_source=data.get("doc_source") or {}, meta=data.get("meta") or {}, name=name,
        )
    except ValidationError as e:
        raise InputError(f"{where}: wrong value types in the dataset: {_type_problems(e)}") from None


def _type_problems(e: ValidationError) -> str:
    """`corpus['a2']: input should be a valid string (got 5)`, for the first three problems."""
    shown = []
    for err in e.errors()[:3]:
        loc = err["loc"]
        name = str(loc[0]) + "".join(f"[{part!r}]" for part in loc[1:]) if loc else "?"
        shown.append(f"{name}: {err['msg'][0].lower() + err['msg'][1:]} (got {err.get('input')!r})")
    more = f"; and {len(e.errors()) - 3} more" if len(e.errors()) > 3 else ""
    return "; ".join(shown) + more + ". Texts are strings, relevant_docs map a query id to a list of doc ids."


# ---------------------------------------------------------------------------------------------
# BEIR


def write_beir(ds: RetrievalDataset, folder: str | Path, split: str = "test") -> Path:
    """Write `corpus.jsonl`, `queries.jsonl` and `qrels/<split>.tsv`."""
    folder = Path(folder)
    atomic_write_jsonl(folder / "corpus.jsonl", ({"_id": d, "title": "", "text": t} for d, t in ds.corpus.items()))
    atomic_write_jsonl(folder / "queries.jsonl", ({"_id": q, "text": t} for q, t in ds.queries.items()))
    rows = ["query-id\tcorpus-id\tscore"] + [f"{q}\t{d}\t1" for q, docs in ds.relevant_docs.items() for d in docs]
    atomic_write_text(folder / "qrels" / f"{split}.tsv", "\n".join(rows) + "\n")
    return folder


def read_beir(folder: str | Path, split: str | None = None) -> RetrievalDataset:
    folder = Path(folder)
    qrels_dir = folder / "qrels"
    splits = sorted(p.stem for p in qrels_dir.glob("*.tsv")) if qrels_dir.is_dir() else []
    if not splits:
        raise InputError(f"{folder}: not a BEIR folder: no qrels/<split>.tsv found.")
    split = split or ("test" if "test" in splits else splits[0])
    if split not in splits:
        raise InputError(f"{folder}: no qrels/{split}.tsv; available splits: {', '.join(splits)}")
    corpus: dict[str, str] = {}
    for line_no, row in _read_jsonl_strict(folder / "corpus.jsonl"):
        where = f"{folder / 'corpus.jsonl'}:{line_no}"
        title, text = _text(row, "title", where), _text(row, "text", where)
        corpus[_new_id(row, "_id", corpus, where, "corpus")] = f"{title}\n{text}".strip() if title else text
    queries: dict[str, str] = {}
    for line_no, row in _read_jsonl_strict(folder / "queries.jsonl"):
        where = f"{folder / 'queries.jsonl'}:{line_no}"
        queries[_new_id(row, "_id", queries, where, "query")] = _text(row, "text", where)
    relevant: dict[str, list[str]] = {}
    qrels = qrels_dir / f"{split}.tsv"
    for i, row in enumerate(csv.reader(_utf8_text(qrels).splitlines(), delimiter="\t"), start=1):
        if i == 1 and row and row[0] == "query-id":
            continue
        if len(row) < 3:
            raise InputError(f"{qrels}:{i}: expected 3 tab-separated columns, got {row!r}")
        if _score(row[2], f"{qrels}:{i}") > 0:
            relevant.setdefault(row[0], []).append(row[1])
    queries = {q: t for q, t in queries.items() if q in relevant}
    return RetrievalDataset(queries=queries, corpus=corpus, relevant_docs=relevant, name=folder.name)


def _score(text: str, where: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise InputError(f"{where}: the score column must be a number (0 = not relevant); got {text!r}.") from None


def _utf8_text(path: Path) -> str:
    if not path.exists():
        raise InputError(f"{path}: file not found.")
    try:
        return path.read_text(encoding="utf-8-sig")  # a BOM from Windows editors is fine
    except UnicodeDecodeError as e:
        line = e.object.count(b"\n", 0, e.start) + 1
        raise InputError(f"{path}:{line}: not UTF-8 (byte 0x{e.object[e.start]:02x} at offset {e.start}); "
                         "re-save it as UTF-8, e.g. `iconv -f latin1 -t utf-8 IN > OUT`.") from None


def _read_jsonl_strict(path: Path):
    for i, line in enumerate(_utf8_text(path).split("\n"), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise InputError(f"{path}:{i}: not valid JSON ({e.msg}).") from None
        if not isinstance(row, dict):
            raise InputError(f"{path}:{i}: expected a JSON object, got {type(row).__name__}.")
        yield i, row


def _row_id(row: dict[str, Any], where: str) -> str:
    if row.get("id") in (None, ""):
        raise InputError(f"{where}: {row.get('type')} row has no 'id'; every corpus and query row needs one.")
    return str(row["id"])


def _new_id(row: dict[str, Any], key: str, seen: dict[str, Any], where: str, kind: str) -> str:
    """The row's id, refused when missing or when an earlier row has it (a later row would silently replace it)."""
    if row.get(key) in (None, ""):
        raise InputError(f"{where}: {kind} row has no {key!r}; every {kind} row needs one.")
    ident = str(row[key])
    if ident in seen:
        raise InputError(f"{where}: duplicate {kind} id {ident!r} (an earlier row has it); ids must be unique.")
    return ident


def _text(row: dict[str, Any], key: str, where: str) -> str:
    value = row.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InputError(f"{where}: {key!r} must be a string of text, got {type(value).__name__} {value!r}.")
    return value


def _ids(row: dict[str, Any], key: str, where: str) -> list[str]:
    value = row.get(key) or []
    if not isinstance(value, list) or not all(isinstance(d, (str, int)) and not isinstance(d, bool) for d in value):
        raise InputError(f"{where}: {key!r} must be a list of doc ids, got {value!r}.")
    return [str(d) for d in value]


# ---------------------------------------------------------------------------------------------
# ragtune JSONL


def write_jsonl(ds: RetrievalDataset, path: str | Path) -> Path:
    rows: list[dict[str, Any]] = [{"type": "meta", "name": ds.name, "mode": ds.mode, "meta": ds.meta}]
    rows += [{"type": "corpus", "id": d, "text": t, **({"source": ds.doc_source[d]} if d in ds.doc_source else {})}
             for d, t in ds.corpus.items()]
    rows += [{"type": "query", "id": q, "text": t, "relevant": ds.relevant_docs.get(q, []),
              **({"negatives": ds.hard_negatives[q]} if q in ds.hard_negatives else {})} for q, t in ds.queries.items()]
    return atomic_write_jsonl(path, rows)


def read_jsonl(path: str | Path) -> RetrievalDataset:
    path = Path(path)
    ds = RetrievalDataset(queries={}, corpus={}, relevant_docs={}, name=path.stem)
    for i, row in _read_jsonl_strict(path):
        kind = row.get("type")
        if kind == "meta":
            ds.name, ds.mode, ds.meta = row.get("name", ds.name), row.get("mode", "text"), row.get("meta") or {}
        elif kind == "corpus":
            doc_id = _new_id(row, "id", ds.corpus, f"{path}:{i}", "corpus")
            ds.corpus[doc_id] = _text(row, "text", f"{path}:{i}")
            if row.get("source"):
                ds.doc_source[doc_id] = str(row["source"])
        elif kind == "query":
            qid = _new_id(row, "id", ds.queries, f"{path}:{i}", "query")
            ds.queries[qid] = _text(row, "text", f"{path}:{i}")
            ds.relevant_docs[qid] = _ids(row, "relevant", f"{path}:{i}")
            if row.get("negatives"):
                ds.hard_negatives[qid] = _ids(row, "negatives", f"{path}:{i}")
        else:
            raise InputError(f"{path}:{i}: unknown row type {kind!r}; expected 'meta', 'corpus' or 'query'.")
    return ds


# ---------------------------------------------------------------------------------------------
# one entry point


def load_dataset(spec: str | Path, split: str | None = None) -> RetrievalDataset:
    """A registry name (`construction-faq`), a LlamaIndex JSON file, a BEIR folder or a ragtune JSONL."""
    text = str(spec)
    asset = get_asset(text)
    if asset is not None and asset.kind == "dataset" and not Path(text).exists():
        if asset.name != "construction-faq":
            raise InputError(f"'{asset.name}' is not a retrieval dataset.")
        return construction_faq()
    path = Path(text).expanduser()
    if not path.exists():
        reason = missing_reason(path)
        if reason == "does not exist":
            raise InputError(f"dataset {text!r} not found: give a registry name (construction-faq), "
                             "a LlamaIndex JSON file, a BEIR folder, or a ragtune .jsonl file.")
        raise InputError(f"dataset {text!r} {reason}.")
    if path.is_dir():
        return read_beir(path, split)
    if path.suffix == ".jsonl":
        return read_jsonl(path)
    data = read_json_unique(path)
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a JSON object with queries/corpus/relevant_docs, got {type(data).__name__}.")
    return from_llamaindex_dict(data, name=path.stem, where=str(path))


def read_json_unique(path: Path) -> Any:
    """A JSON file (UTF-8) in which no object has the same key twice: `json.loads` would silently keep the last
    one, dropping a query or a document. The error names the file, the line and the key."""
    text = _utf8_text(path)
    repeated: list[str] = []

    def unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in pairs:
            if key in out:
                repeated.append(key)
            out[key] = value
        return out

    try:
        data = json.loads(text, object_pairs_hook=unique)
    except json.JSONDecodeError as e:
        raise InputError(f"{path}:{e.lineno}: not valid JSON ({e.msg} at column {e.colno}).") from None
    if repeated:
        key = repeated[0]
        section = next((name for name in ("queries", "corpus", "relevant_docs", "hard_negatives", "doc_source")
                        if isinstance(data, dict) and isinstance(data.get(name), dict) and key in data[name]), None)
        what = {"queries": "query id", "corpus": "corpus id", "relevant_docs": "relevant_docs query id",
                "hard_negatives": "hard_negatives query id", "doc_source": "doc_source id"}.get(section, "key")
        raise InputError(f"{path}:{_line_of_second(text, key)}: duplicate {what} {key!r}: the JSON object has it twice "
                         f"({len(repeated)} repeated key(s) in all), and only the last would be kept; ids must be unique.")
    return data


def _line_of_second(text: str, key: str) -> int:
    needle = json.dumps(key, ensure_ascii=False)
    first = text.find(needle)
    second = text.find(needle, first + 1) if first >= 0 else -1
    return text.count("\n", 0, second) + 1 if second >= 0 else 1


def save_dataset(ds: RetrievalDataset, path: str | Path, fmt: str | None = None) -> Path:
    """Write in the format named by `fmt` ('llamaindex', 'beir', 'jsonl') or guessed from the path."""
    path = Path(path)
    fmt = fmt or ("jsonl" if path.suffix == ".jsonl" else "llamaindex" if path.suffix == ".json" else "beir")
    writers = {"llamaindex": write_llamaindex, "beir": write_beir, "jsonl": write_jsonl}
    if fmt not in writers:
        raise InputError(f"unknown dataset format {fmt!r}; choose one of {', '.join(writers)}.")
    return writers[fmt](ds, path)


def construction_faq() -> RetrievalDataset:
    """The bundled demo: corpus = 503 English answers, queries = the 503 human questions."""
    path = asset_path("construction-faq")
    ds = RetrievalDataset(queries={}, corpus={}, relevant_docs={}, name="construction-faq",
                          meta={"source": "zaragoza-construction-faq==1.2.1 faq-en.jsonl", "license": "CC-BY-4.0"})
    for _, row in _read_jsonl_strict(path):
        doc_id = str(row["id"])
        ds.corpus[doc_id] = row["a"]
        ds.queries[f"q-{doc_id}"] = row["q"]
        ds.relevant_docs[f"q-{doc_id}"] = [doc_id]
        ds.doc_source[doc_id] = doc_id
    return ds


def faq_records() -> list[dict[str, Any]]:
    """Raw rows of the bundled FAQ (id, category, q, a), in file order."""
    return [row for _, row in _read_jsonl_strict(asset_path("construction-faq"))]


def save_split_record(train: RetrievalDataset, val: RetrievalDataset, folder: str | Path) -> None:
    """Write train.json / val.json (LlamaIndex JSON) and split.json into a folder."""
    folder = Path(folder)
    write_llamaindex(train, folder / "train.json")
    write_llamaindex(val, folder / "val.json")
    atomic_write_json(folder / "split.json", train.meta.get("split", {}))
