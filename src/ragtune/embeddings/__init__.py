"""Embedding models: loading any embedder behind one small interface, with a shared disk cache.

`load_embedder(spec)` accepts a registry name (`minilm`), a local sentence-transformers folder, a
cached hub id, or `openai:MODEL` for a remote OpenAI-compatible embeddings endpoint.
"""

from ragtune.embeddings.encoder import Embedder, load_embedder

__all__ = ["Embedder", "load_embedder"]
