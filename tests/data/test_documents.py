"""Loading documents (every format, every kind of bad file) and token-aware chunking."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from ragtune.data.documents import (  # noqa: E402
    Chunk,
    Document,
    chunk_documents,
    chunks_to_dataset,
    load_documents,
)
from ragtune.data.retrieval import load_dataset, validate, write_llamaindex  # noqa: E402
from ragtune.errors import InputError, NoUsableDataError  # noqa: E402


@pytest.fixture(scope="module")
def tok():
    from ragtune.data.documents import default_tokenizer

    return default_tokenizer()


def make_pdf(path: Path, pages: list[str], user_password: str | None = None, algorithm: str = "RC4-128") -> Path:
    """A real PDF with a Helvetica text layer (one line per '\\n'), optionally encrypted."""
    from pypdf import PdfWriter
    from pypdf.generic import DictionaryObject, NameObject, StreamObject

    writer = PdfWriter()
    for text in pages:
        page = writer.add_blank_page(width=612, height=792)
        if text:
            font = DictionaryObject({NameObject("/Type"): NameObject("/Font"), NameObject("/Subtype"): NameObject("/Type1"),
                                     NameObject("/BaseFont"): NameObject("/Helvetica")})
            page[NameObject("/Resources")] = DictionaryObject({NameObject("/Font"): DictionaryObject({NameObject("/F1"): font})})
            stream = StreamObject()
            lines = "".join(f"({line}) Tj 0 -14 Td " for line in text.split("\n"))
            stream.set_data(f"BT /F1 12 Tf 72 720 Td {lines}ET".encode())
            page.replace_contents(stream)
    if user_password is not None:
        writer.encrypt(user_password=user_password, owner_password="owner", algorithm=algorithm)
    with path.open("wb") as f:
        writer.write(f)
    return path


def reasons(report) -> dict[str, str]:
    return {s.where: s.reason for s in report.skipped}


# ---------------------------------------------------------------------------------------------
# loading


def test_folder_is_read_recursively_in_sorted_order_and_hidden_files_ignored(tmp_path):
    (tmp_path / "b.txt").write_text("bee text\n", encoding="utf-8")
    (tmp_path / "a.md").write_text("# Title\n\nsome *markdown*\n", encoding="utf-8")
    (tmp_path / "sub" / "deeper").mkdir(parents=True)
    (tmp_path / "sub" / "deeper" / "c.txt").write_text("deep", encoding="utf-8")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "x.txt").write_text("hidden", encoding="utf-8")
    (tmp_path / ".hidden.txt").write_text("hidden", encoding="utf-8")

    docs, report = load_documents(tmp_path)

    names = [Path(d.id).relative_to(tmp_path).as_posix() for d in docs]
    assert names == ["a.md", "b.txt", "sub/deeper/c.txt"]
    assert docs[0].text == "# Title\n\nsome *markdown*"  # stripped, markdown kept as text
    assert docs[1].path == docs[1].id
    assert (report.files_seen, report.files_used, report.documents, report.skipped) == (3, 3, 3, [])


def test_list_of_files_and_folders_and_a_single_path(tmp_path):
    (tmp_path / "one.txt").write_text("one", encoding="utf-8")
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "two.txt").write_text("two", encoding="utf-8")
    docs, _ = load_documents([tmp_path / "one.txt", str(tmp_path / "d")])
    assert [d.text for d in docs] == ["one", "two"]
    docs, _ = load_documents(str(tmp_path / "one.txt"))
    assert [d.text for d in docs] == ["one"]


def test_html_drops_scripts_styles_comments_and_keeps_block_structure(tmp_path):
    html = """<html><head><title>Page title</title><style>p {color: red}</style>
    <script>var secret = 1;</script></head><body>
    <!-- a comment -->
    <h1>Heading</h1>
    <p>First   paragraph with <b>bold</b>
       and <a href="#">a link</a>.</p>
    <ul><li>item one</li><li>item two</li></ul>
    <div>line a<br>line b</div>
    <pre>keep   this
  spacing</pre>
    <noscript>enable js</noscript>
    </body></html>"""
    (tmp_path / "p.html").write_text(html, encoding="utf-8")
    (tmp_path / "q.htm").write_text("<p>short htm</p>", encoding="utf-8")
    docs, _ = load_documents(tmp_path)
    text = docs[0].text
    for gone in ("secret", "color", "a comment", "enable js"):
        assert gone not in text
    lines = [line for line in text.split("\n") if line]
    assert lines == ["Page title", "Heading", "First paragraph with bold and a link.", "item one", "item two",
                     "line a", "line b", "keep   this", "spacing"]
    assert docs[1].text == "short htm"


def test_html_in_a_declared_non_utf8_charset_is_decoded(tmp_path):
    page = '<html><head><meta charset="iso-8859-1"></head><body><p>Bygglov för altan</p></body></html>'
    (tmp_path / "latin.html").write_bytes(page.encode("latin-1"))
    docs, report = load_documents(tmp_path)
    assert docs[0].text == "Bygglov för altan"
    assert report.skipped == []


def test_pdf_text_of_every_page(tmp_path):
    make_pdf(tmp_path / "doc.pdf", ["Hello PDF world\nsecond line", "Page two text"])
    docs, report = load_documents(tmp_path)
    assert len(docs) == 1 and report.skipped == []
    assert docs[0].text == "Hello PDF world\nsecond line\n\nPage two text"


@pytest.mark.parametrize("algorithm", ["RC4-128", "AES-256"])
def test_pdf_encrypted_with_empty_user_password_is_read(tmp_path, algorithm):
    """Owner-password-only PDFs ("no copying") are common; AES ones need the `cryptography` package."""
    make_pdf(tmp_path / "open.pdf", ["Readable anyway"], user_password="", algorithm=algorithm)
    make_pdf(tmp_path / "locked.pdf", ["Secret"], user_password="pw", algorithm=algorithm)
    docs, report = load_documents(tmp_path)
    assert [d.text for d in docs] == ["Readable anyway"]
    assert reasons(report)[(tmp_path / "locked.pdf").as_posix()].startswith("encrypted PDF that needs a password")


def test_bad_files_are_each_reported_with_path_and_reason_and_skipped(tmp_path):
    good = tmp_path / "good.txt"
    good.write_text("usable text", encoding="utf-8")
    (tmp_path / "latin1.txt").write_bytes("café".encode("latin-1"))
    (tmp_path / "empty.md").write_text("", encoding="utf-8")
    (tmp_path / "blank.txt").write_text("  \n\t\n", encoding="utf-8")
    (tmp_path / "image.png").write_bytes(b"\x89PNG")
    (tmp_path / "noext").write_text("x", encoding="utf-8")
    make_pdf(tmp_path / "locked.pdf", ["Secret"], user_password="pw")
    make_pdf(tmp_path / "scanned.pdf", [""])
    (tmp_path / "broken.pdf").write_bytes(b"this is not a pdf at all")
    (tmp_path / "blank.html").write_text("<html><script>x()</script></html>", encoding="utf-8")

    docs, report = load_documents(tmp_path)

    assert [d.id for d in docs] == [good.as_posix()]
    why = {Path(k).name: v for k, v in reasons(report).items()}
    assert set(why) == {"latin1.txt", "empty.md", "blank.txt", "image.png", "noext", "locked.pdf", "scanned.pdf",
                        "broken.pdf", "blank.html"}
    assert why["latin1.txt"].startswith("not UTF-8 text (byte 0xe9 at offset 3)")
    assert why["empty.md"].startswith("empty") and why["blank.txt"].startswith("empty")
    assert why["blank.html"].startswith("empty")
    assert "unsupported extension '.png'" in why["image.png"] and "'(none)'" in why["noext"]
    assert why["locked.pdf"].startswith("encrypted PDF that needs a password")
    assert "no text layer" in why["scanned.pdf"]
    assert why["broken.pdf"].startswith("not a readable PDF")
    assert (report.files_seen, report.files_used, report.documents) == (10, 1, 1)
    assert report.summary() == "1 documents from 1 of 10 files; skipped 9 file(s) and 0 JSONL row(s)"
    for line in report.lines():
        assert line.startswith(f"skipped {tmp_path.as_posix()}/") and "\n" not in line


def test_unreadable_file_is_reported(tmp_path, monkeypatch):
    ok, locked = tmp_path / "ok.txt", tmp_path / "locked.txt"
    ok.write_text("fine", encoding="utf-8")
    locked.write_text("never read", encoding="utf-8")
    real = Path.read_bytes

    def read_bytes(self):  # root ignores chmod 000, so simulate the OS refusing
        if self == locked:
            raise PermissionError(13, "Permission denied", str(self))
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    docs, report = load_documents(tmp_path)
    assert [d.text for d in docs] == ["fine"]
    assert reasons(report) == {locked.as_posix(): "cannot read the file (Permission denied)"}


def test_jsonl_rows_are_documents_with_path_line_ids_and_bad_rows_reported(tmp_path):
    path = tmp_path / "rows.jsonl"
    rows = [
        json.dumps({"text": "first row", "x": 1}),
        "",  # blank lines are ignored, but still counted for line numbers
        "{not json",
        json.dumps(["a", "list"]),
        json.dumps({"body": "wrong field"}),
        json.dumps({"text": "   "}),
        json.dumps({"text": 42}),
        json.dumps({"text": "line\u2028separator inside"}),
    ]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    docs, report = load_documents(path)
    p = path.as_posix()
    assert [(d.id, d.text, d.path) for d in docs] == [(f"{p}#1", "first row", p), (f"{p}#8", "line\u2028separator inside", p)]
    why = reasons(report)
    assert list(why) == [f"{p}:3", f"{p}:4", f"{p}:5", f"{p}:6", f"{p}:7"]
    assert why[f"{p}:3"].startswith("not valid JSON")
    assert why[f"{p}:4"] == "expected a JSON object, got list"
    assert why[f"{p}:5"] == "no field 'text' (keys: body); choose the field with --text-field"
    assert why[f"{p}:6"] == "field 'text' must be non-empty text; got an empty string"
    assert why[f"{p}:7"] == "field 'text' must be non-empty text; got int 42"
    assert report.summary() == "2 documents from 1 of 1 files; skipped 0 file(s) and 5 JSONL row(s)"


def test_jsonl_text_field_is_chosen_by_name(tmp_path):
    path = tmp_path / "faq.jsonl"
    path.write_text(json.dumps({"q": "question?", "a": "the answer"}) + "\n", encoding="utf-8")
    docs, report = load_documents(path, text_field="a")
    assert [d.text for d in docs] == ["the answer"] and report.skipped == []


def test_empty_jsonl_file_is_reported(tmp_path):
    (tmp_path / "ok.txt").write_text("ok", encoding="utf-8")
    (tmp_path / "none.jsonl").write_text("\n\n", encoding="utf-8")
    _, report = load_documents(tmp_path)
    assert reasons(report) == {(tmp_path / "none.jsonl").as_posix(): "empty: no rows in the file"}


def test_missing_path_is_an_input_error_naming_it(tmp_path):
    with pytest.raises(InputError, match="'/no/such/folder' does not exist"):
        load_documents([tmp_path, "/no/such/folder"])
    with pytest.raises(InputError, match="no document paths given"):
        load_documents([])


def test_nothing_usable_raises_with_every_reason(tmp_path):
    (tmp_path / "bad.txt").write_bytes(b"\xff\xfe\x00")
    (tmp_path / "x.docx").write_bytes(b"PK")
    with pytest.raises(NoUsableDataError) as err:
        load_documents(tmp_path)
    message = str(err.value)
    assert "all 2 file(s) were skipped" in message and "bad.txt: not UTF-8" in message and "x.docx" in message
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(NoUsableDataError, match="no files found"):
        load_documents(empty)


# ---------------------------------------------------------------------------------------------
# chunking


def n_tokens(tok, text: str) -> int:
    return len(tok(text)["input_ids"])  # with [CLS] and [SEP], as the model sees it


def long_text(n_words: int) -> str:
    words = ["bygglovsansökan", "the", "municipality", "reviews", "PBL", "compliance,", "ROT-avdrag", "deduction."]
    return " ".join(words[i % len(words)] + ("\n\n" if i % 37 == 36 else "") for i in range(n_words))


def check_chunks(doc: Document, chunks: list[Chunk], tok, chunk_size: int) -> None:
    """Spans are exact, within budget, cut only at whitespace, ordered, overlapping and covering the text."""
    assert [c.position for c in chunks] == list(range(len(chunks)))
    covered = [False] * len(doc.text)
    for c in chunks:
        assert c.source == doc.id and c.text == doc.text[c.char_start:c.char_end]
        assert n_tokens(tok, c.text) <= chunk_size
        assert c.char_start == 0 or doc.text[c.char_start - 1].isspace(), c.text[:30]
        assert c.char_end == len(doc.text) or doc.text[c.char_end].isspace(), c.text[-30:]
        for i in range(c.char_start, c.char_end):
            covered[i] = True
    assert all(covered[i] for i, ch in enumerate(doc.text) if not ch.isspace())
    for a, b in zip(chunks, chunks[1:]):
        assert a.char_start < b.char_start < a.char_end  # overlap, and progress


def test_short_document_is_one_chunk_with_its_whole_text(tok):
    doc = Document(id="a.txt", text="A short note.\n\nTwo lines.", path="a.txt")
    (chunk,) = chunk_documents([doc], tok)
    assert (chunk.text, chunk.source, chunk.position, chunk.char_start, chunk.char_end) == (doc.text, "a.txt", 0, 0, len(doc.text))
    assert chunk.id.startswith("a.txt::") and len(chunk.id) == len("a.txt::") + 12


def test_long_document_chunks_fit_the_model_and_never_split_words(tok):
    doc = Document(id="long.txt", text=long_text(900), path="long.txt")
    chunks = chunk_documents([doc], tok, chunk_size=64, overlap=8)
    assert len(chunks) > 10
    check_chunks(doc, chunks, tok, 64)
    # the budget is used: a cut at a line break or sentence end leaves a chunk at least 3/4 full
    assert all(n_tokens(tok, c.text) - 2 >= 0.75 * 62 for c in chunks[:-1])


def test_overlap_is_at_most_the_requested_tokens(tok):
    doc = Document(id="o.txt", text=long_text(400), path="o.txt")
    chunks = chunk_documents([doc], tok, chunk_size=48, overlap=10)
    for a, b in zip(chunks, chunks[1:]):
        shared = doc.text[b.char_start:a.char_end]
        assert 0 < len(tok(shared, add_special_tokens=False)["input_ids"]) <= 10
    no_overlap = chunk_documents([doc], tok, chunk_size=48, overlap=0)
    assert all(b.char_start >= a.char_end for a, b in zip(no_overlap, no_overlap[1:]))


def test_default_size_is_256_tokens_with_32_overlap(tok):
    doc = Document(id="d.txt", text=long_text(1500), path="d.txt")
    chunks = chunk_documents([doc], tok)
    check_chunks(doc, chunks, tok, 256)
    assert all(n_tokens(tok, c.text) - 2 >= 0.75 * 254 for c in chunks[:-1])


def test_cuts_prefer_sentence_ends_and_chunks_start_at_sentence_starts(tok):
    sentences = [f"Sentence {i} says that the {['permit', 'deduction', 'inspection'][i % 3]} is due now." for i in range(90)]
    doc = Document(id="s.txt", text=" ".join(sentences), path="s.txt")
    chunks = chunk_documents([doc], tok, chunk_size=64, overlap=20)
    check_chunks(doc, chunks, tok, 64)
    assert all(c.text.endswith("now.") for c in chunks)
    assert all(c.text.startswith("Sentence ") for c in chunks)
    # a line break beats a sentence end when both fall in the last quarter of a window
    paragraphs = "\n\n".join(" ".join(sentences[i:i + 5]) for i in range(0, 90, 5))  # 50 tokens each
    doc = Document(id="p.txt", text=paragraphs, path="p.txt")
    chunks = chunk_documents([doc], tok, chunk_size=64, overlap=0)
    assert all(doc.text[c.char_end:c.char_end + 2] == "\n\n" for c in chunks[:-1])


def test_a_word_longer_than_a_chunk_is_cut_at_token_boundaries(tok):
    blob = "x" + "/".join(f"segment{i}" for i in range(200))  # one whitespace-free "word", hundreds of tokens
    doc = Document(id="u.txt", text=f"see {blob} for details", path="u.txt")
    chunks = chunk_documents([doc], tok, chunk_size=40, overlap=4)
    assert len(chunks) > 3
    for c in chunks:
        assert n_tokens(tok, c.text) <= 40 and c.text == doc.text[c.char_start:c.char_end]
    assert chunks[0].text.startswith("see x") and chunks[-1].text.endswith("for details")
    assert all(n_tokens(tok, c.text) - 2 >= 19 for c in chunks[:-1])  # at least half of the 38 text tokens
    # the tokenizer's own word boundaries are preferred: cuts fall before '/' or after it, not inside 'segment12'
    assert all(c.text[-1] == "/" or doc.text[c.char_end] == "/" for c in chunks[:-1])


@pytest.fixture(scope="module")
def bpe_tok():
    """A tiny GPT-style byte-level BPE tokenizer trained on the test text (spaces live inside tokens)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    bpe.train_from_iterator([long_text(300)], trainers.BpeTrainer(vocab_size=1000,
                                                                 initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    return PreTrainedTokenizerFast(tokenizer_object=bpe)


def test_byte_level_bpe_tokenizer_chunks_have_no_edge_spaces_and_whole_words(bpe_tok):
    """A GPT-style tokenizer puts the space inside the next token; cuts must still fall between words."""
    tok = bpe_tok
    doc = Document(id="b.txt", text=long_text(300), path="b.txt")
    chunks = chunk_documents([doc], tok, chunk_size=50, overlap=8)
    assert len(chunks) > 5
    check_chunks(doc, chunks, tok, 50)
    assert all(c.text == c.text.strip() for c in chunks)


def test_chunk_ids_are_stable_and_local_to_their_text(tok):
    text = long_text(600)
    doc = Document(id="s.txt", text=text, path="s.txt")
    first = chunk_documents([doc], tok, chunk_size=64, overlap=8)
    again = chunk_documents([Document(id="s.txt", text=text, path="s.txt")], tok, chunk_size=64, overlap=8)
    assert [c.id for c in first] == [c.id for c in again]
    edited = chunk_documents([Document(id="s.txt", text=text + " one more sentence.", path="s.txt")], tok, 64, 8)
    assert [c.id for c in edited[:-1]] == [c.id for c in first[:-1]] and edited[-1].id != first[-1].id
    elsewhere = chunk_documents([Document(id="t.txt", text=text, path="t.txt")], tok, chunk_size=64, overlap=8)
    assert not {c.id for c in elsewhere} & {c.id for c in first}


def test_repeated_text_in_one_document_gets_distinct_ids(tok):
    doc = Document(id="r.txt", text=" ".join(["same"] * 200), path="r.txt")
    chunks = chunk_documents([doc], tok, chunk_size=64, overlap=0)
    texts = [c.text for c in chunks]
    assert len(set(texts)) < len(texts)  # the fixture really repeats a chunk
    assert len({c.id for c in chunks}) == len(chunks)


@pytest.mark.parametrize(("size", "overlap", "message"), [
    (9, 0, "chunk size 9 is too small"),
    (64, 31, "overlap 31 must be >= 0 and less than half"),
    (64, -1, "overlap -1"),
])
def test_bad_sizes_are_input_errors(tok, size, overlap, message):
    doc = Document(id="a", text="text", path="a")
    with pytest.raises(InputError, match=message):
        chunk_documents([doc], tok, chunk_size=size, overlap=overlap)


def test_no_documents_means_no_chunks_error(tok):
    with pytest.raises(NoUsableDataError, match="no chunks"):
        chunk_documents([], tok)


# ---------------------------------------------------------------------------------------------
# chunks -> dataset


def test_chunks_to_dataset_is_a_corpus_with_sources_and_spans(tmp_path, tok):
    (tmp_path / "a.txt").write_text(long_text(300), encoding="utf-8")
    (tmp_path / "b.jsonl").write_text(json.dumps({"text": "row text"}) + "\n", encoding="utf-8")
    docs, _ = load_documents(tmp_path)
    chunks = chunk_documents(docs, tok, chunk_size=64, overlap=8)
    ds = chunks_to_dataset(chunks, "mine", meta={"chunking": {"chunk_size": 64}})

    assert ds.name == "mine" and ds.queries == {} and ds.relevant_docs == {}
    assert ds.corpus == {c.id: c.text for c in chunks}
    assert set(ds.doc_source.values()) == {(tmp_path / "a.txt").as_posix(), (tmp_path / "b.jsonl").as_posix() + "#1"}
    assert ds.meta["chunking"] == {"chunk_size": 64}
    c = chunks[1]
    assert ds.meta["chunks"][c.id] == [1, c.char_start, c.char_end]
    assert validate(ds) == []
    write_llamaindex(ds, tmp_path / "out.json")
    assert load_dataset(tmp_path / "out.json").model_dump(exclude={"name"}) == ds.model_dump(exclude={"name"})


def test_chunks_to_dataset_refuses_nothing():
    with pytest.raises(NoUsableDataError):
        chunks_to_dataset([], "empty")


def test_a_file_reached_twice_is_read_once_and_excluded_paths_are_reported(tmp_path):
    (tmp_path / "a.txt").write_text("alpha", encoding="utf-8")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "chunks.jsonl").write_text('{"text": "a previous output"}\n', encoding="utf-8")
    docs, report = load_documents([tmp_path / "a.txt", tmp_path, str(tmp_path / "a.txt")], exclude=[tmp_path / "out"])
    assert [d.text for d in docs] == ["alpha"]
    assert docs[0].id == (tmp_path / "a.txt").as_posix()
    assert reasons(report) == {(tmp_path / "out" / "chunks.jsonl").as_posix(): "excluded: it is this run's own output"}


def test_blank_stretches_make_no_empty_chunks(bpe_tok):
    """Byte-level BPE keeps whitespace as tokens, so a window can be all blanks: it must not become a chunk."""
    doc = Document(id="w.txt", text="start " + " ".join(["filler"] * 80) + "\n" * 300 + "end", path="w.txt")
    blank = Document(id="blank.txt", text=" \n\t ", path="blank.txt")
    chunks = chunk_documents([doc, blank], bpe_tok, chunk_size=32, overlap=4)
    assert chunks and all(c.text.strip() and c.source == "w.txt" for c in chunks)
    assert [c.position for c in chunks] == list(range(len(chunks)))


def test_a_folder_without_a_tokenizer_is_an_input_error(tmp_path):
    from ragtune.data.documents import chunking_tokenizer

    (tmp_path / "config.json").write_text("{}", encoding="utf-8")
    with pytest.raises(InputError, match="cannot load a tokenizer from"):
        chunking_tokenizer(str(tmp_path))
