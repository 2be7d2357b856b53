"""Settings of `ragtune generate sql` / `generate_sql(config)`; every field has help text and bounds."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ragtune.sql.sandbox import DEFAULT_TIMEOUT_S

__all__ = ["SqlGenConfig"]


class SqlGenConfig(BaseModel):
    """Everything that shapes a SQL-pair generation run (saved as OUT/config.json, a valid --config)."""

    model_config = ConfigDict(extra="forbid")

    db: str = Field(..., description="your SQLite file (opened read-only)")
    output: str = Field(..., description="folder: pairs.jsonl, dropped.jsonl, summary.json and the resumable journal.jsonl")
    mode: Literal["pairs", "describe"] = Field(
        "pairs", description="'pairs': the LLM writes questions and their SQL; 'describe': ragtune samples SQL from the "
        "schema and its rows (real columns, joins along foreign keys, values from the database) and the LLM writes the "
        "question each query answers (back-translation: a small LLM describes SQL far better than it writes it)")
    llm: str = Field("local", description="'local' (best installed local model), 'local:MODEL' or 'openai:MODEL'")
    base_url: str | None = Field(None, description="OpenAI-compatible server, for openai:MODEL")
    calls: int | None = Field(None, ge=1, description="LLM calls (default: two per table; with --mode describe, "
                                 "one query per call, ten per table)")
    pairs_per_call: int = Field(5, ge=1, le=50, description="pairs asked for in one call (--mode pairs)")
    max_pairs: int | None = Field(None, ge=1, description="keep at most this many pairs")
    rows: int = Field(3, ge=0, description="sample rows per table shown to the LLM")
    concurrency: int | None = Field(None, ge=1, le=512, description="prompts per batch (local) / requests in flight (server)")
    max_tokens: int | None = Field(None, ge=8, le=2048, description="token budget of one reply (default 60 per pair; 48 with --mode describe)",
                                   json_schema_extra={"flag": "--max-new-tokens"})
    temperature: float = Field(0.7, ge=0.0, le=2.0, description="sampling temperature; 0 = greedy (then two calls on the "
                               "same table write the same pairs, and all but the first are dropped as duplicates)")
    seed: int = Field(42, ge=0, description="sampling seed")
    timeout: float = Field(DEFAULT_TIMEOUT_S, ge=0.01, description="seconds one candidate query may run")
