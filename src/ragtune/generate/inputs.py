"""What `generate_queries` accepts: paths, ragtune Documents/Chunks, or LlamaIndex Documents/TextNodes."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from ragtune.data.documents import Chunk, Document, chunk_documents, chunking_tokenizer, load_documents
from ragtune.errors import InputError, NoUsableDataError
from ragtune.generate.config import QueryGenConfig


def to_chunks(docs: Any, cfg: QueryGenConfig) -> tuple[list[Chunk], str]:
    """Chunks to write questions for, and a one-line note on what was read."""
    items = [docs] if isinstance(docs, (str, Path)) else list(docs)
    if not items:
        raise NoUsableDataError("no documents given.")
    if all(isinstance(x, (str, Path)) for x in items):
        documents, report = load_documents(items, text_field=cfg.text_field)
        return _chunk(documents, cfg), report.summary()
    if all(isinstance(x, Chunk) for x in items):
        return items, f"{len(items)} chunks given"
    if all(isinstance(x, Document) for x in items):
        return _chunk(items, cfg), f"{len(items)} documents given"
    return _from_llamaindex(items, cfg)


def _chunk(documents: Sequence[Document], cfg: QueryGenConfig) -> list[Chunk]:
    return chunk_documents(documents, chunking_tokenizer(cfg.chunk_tokenizer), cfg.chunk_size, cfg.overlap)


def _from_llamaindex(items: list[Any], cfg: QueryGenConfig) -> tuple[list[Chunk], str]:
    """LlamaIndex `Document`s are chunked like files; `TextNode`s are used as chunks as they are."""
    try:
        from llama_index.core.schema import Document as LIDocument
        from llama_index.core.schema import TextNode
    except ImportError:
        raise InputError(f"unsupported input of type {type(items[0]).__name__}: give file/folder paths, ragtune "
                         "Documents or Chunks, or LlamaIndex Documents/TextNodes (pip install 'ragtune[llamaindex]').") from None
    if all(isinstance(x, LIDocument) for x in items):
        docs = [Document(id=d.doc_id, text=d.text, path=str(d.metadata.get("file_path", d.doc_id))) for d in items]
        return _chunk(docs, cfg), f"{len(docs)} LlamaIndex documents given"
    if all(isinstance(x, TextNode) for x in items):
        return [_node_chunk(n, i) for i, n in enumerate(items)], f"{len(items)} LlamaIndex nodes given"
    raise InputError("mixed inputs: give only LlamaIndex Documents or only TextNodes.")


def _node_chunk(node: Any, position: int) -> Chunk:
    text = node.get_content()
    start = node.start_char_idx or 0
    return Chunk(id=node.node_id, text=text, source=node.ref_doc_id or node.node_id, position=position,
                 char_start=start, char_end=node.end_char_idx or start + len(text))


def nonempty(chunks: Iterable[Chunk]) -> list[Chunk]:
    return [c for c in chunks if c.text.strip()]
