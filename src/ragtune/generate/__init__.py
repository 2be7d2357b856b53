"""Synthetic training data from documents: questions per chunk (filtered, resumable) and hard negatives."""

from ragtune.generate.config import QueryGenConfig
from ragtune.generate.queries import GenerationResult, generate_queries, summary_lines

__all__ = ["QueryGenConfig", "GenerationResult", "generate_queries", "summary_lines"]
