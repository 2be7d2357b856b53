"""ragtune: fine-tune every learnable part of a RAG stack from your own documents, offline.

Nothing heavy is imported here: torch and transformers load inside the functions that need them,
so `ragtune --help` and `import ragtune` stay instant.
"""

__version__ = "0.1.0"
