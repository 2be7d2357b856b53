"""Settings of `ragtune generate queries` / `generate_queries(...)`; every field has help text."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ragtune.device import DEVICE_HELP, DeviceSetting
from ragtune.errors import InputError


class QueryGenConfig(BaseModel):
    """Everything that shapes a query-generation run (saved, secrets excluded, as config.json)."""

    model_config = ConfigDict(extra="forbid")

    llm: str = Field("local", description="'local' (best installed local model, in process), 'local:MODEL' (registry name "
                                          "or folder), or 'openai:MODEL' for any OpenAI-compatible server")
    base_url: str | None = Field(None, description="server URL for openai:MODEL, e.g. http://127.0.0.1:8000/v1 (vLLM, "
                                                   "llama.cpp server, Ollama); default: api.openai.com")
    api_key_env: str = Field("OPENAI_API_KEY", description="environment variable that holds the API key; the key is never "
                                                           "printed, logged or written")
    questions_per_chunk: int = Field(1, ge=1, le=20, description="questions asked for in each prompt")
    samples: int = Field(1, ge=1, le=10, description="independent LLM calls per chunk (use temperature > 0 for variety)",
                         json_schema_extra={"flag": "--calls-per-chunk"})
    concurrency: int | None = Field(None, ge=1, le=512, description="requests in flight (server; default 8) / prompts per "
                                                                  "batch (local; default 32)")
    max_tokens: int | None = Field(None, ge=8, le=2048, description="token budget of one reply (default: 40 per question "
                                                                    "asked; questions are 5-20 words, and a local model "
                                                                    "spends most of its time on tokens nobody keeps)",
                                  json_schema_extra={"flag": "--max-new-tokens"})
    temperature: float = Field(0.0, ge=0.0, le=2.0, description="0 = greedy (deterministic); 0.7 gives more varied questions")
    seed: int = Field(42, ge=0, description="seed for sampling and for the train/val split")
    prompt_file: str | None = Field(None, description="your prompt template; it must contain {passage} and may use {n} "
                                                      "(questions wanted) and {examples}; default: the bundled one")
    examples_file: str | None = Field(None, description="a few real user questions, one per line, shown to the LLM as "
                                                        "style examples (Promptagator-style)")
    filter: bool = Field(True, description="round-trip filter: keep a question only if its chunk ranks in the top K of all "
                                           "chunks under filter_model")
    self_check: bool = Field(False, description="ask the same LLM whether the passage answers each kept question (one "
                                                "short extra call per question); keep only 'yes'")
    filter_model: str = Field("minilm", description="reference embedder of the round-trip filter")
    filter_top_k: int = Field(20, ge=1, description="K of the round-trip filter")
    min_words: int = Field(3, ge=1, description="shortest question kept, in words")
    max_words: int = Field(40, ge=2, description="longest question kept, in words")
    chunk_size: int = Field(256, ge=16, description="chunk size in tokens of the chunking tokenizer")
    overlap: int = Field(32, ge=0, description="tokens shared by consecutive chunks")
    chunk_tokenizer: str = Field("minilm", description="tokenizer that sizes chunks (use your embedding model's)")
    val_fraction: float = Field(0.2, gt=0.0, lt=1.0, description="share of source documents held out for validation")
    val_style: Literal["user", "same"] = Field("user", description="'user': validation questions are written apart from the "
                                               "training ones, asked in a user's own words (another local LLM when two are "
                                               "installed, never filtered by an embedding model, their passage's distinctive "
                                               "terms limited by val_max_overlap), so that the base cannot rank nearly all of "
                                               "them first; 'same': written and filtered like the training questions")
    val_llm: str | None = Field(None, description="LLM of the validation questions (style 'user'); default: the other installed "
                                                  "local model when llm is local, else llm")
    val_questions_per_chunk: int = Field(3, ge=1, le=20, description="style 'user': questions asked for per validation "
                                                                     "chunk (more candidates survive the overlap limit, and "
                                                                     "more questions narrow the CI that decides)")
    val_prompt_file: str | None = Field(None, description="template of the validation questions (style 'user'); default: bundled")
    val_max_overlap: float = Field(0.5, gt=0.0, le=1.0, description="style 'user': drop a validation question when more than "
                                                                    "this share of its content words (weighted by rarity in "
                                                                    "the corpus) occur in its passage; on construction-faq "
                                                                    "the human questions' median is 0.46, synthetic ones' 0.59")
    max_tries: int = Field(5, ge=1, le=20, description="attempts per chunk (server) before the chunk is given up; a rerun "
                                                       "retries it")
    timeout: float = Field(60.0, gt=0, description="seconds before one request times out (server)")
    price_per_1k: float | None = Field(None, ge=0, description="price per 1000 tokens (in + out) for the cost line")
    text_field: str = Field("text", description="field holding the text in JSONL documents")
    device: DeviceSetting = Field("auto", description="where a local LLM runs: " + DEVICE_HELP)

    @model_validator(mode="after")
    def _consistent(self):
        if self.min_words > self.max_words:
            raise ValueError(f"--min-words {self.min_words} is above --max-words {self.max_words}: no question could be kept")
        if 2 * self.overlap >= self.chunk_size:
            raise ValueError(f"--overlap {self.overlap} must be less than half of --chunk-size {self.chunk_size}")
        return self

    @model_validator(mode="after")
    def _default_concurrency(self):
        if self.concurrency is None:
            from ragtune.llm import default_concurrency  # here, not at the top: the CLI imports configs for --help

            self.concurrency = default_concurrency(self.llm)
        return self


def reply_tokens(cfg: QueryGenConfig) -> int:
    """The token budget of one reply: `max_tokens`, else 40 per question asked."""
    return cfg.max_tokens or 40 * cfg.questions_per_chunk


def resolve_config(config: QueryGenConfig | None, options: dict[str, Any]) -> QueryGenConfig:
    """`config` with `options` applied, validated; an unknown or bad option is an InputError naming it."""
    try:
        return QueryGenConfig.model_validate({**(config or QueryGenConfig()).model_dump(), **options})
    except ValidationError as e:
        problems = "; ".join(f"{'.'.join(map(str, err['loc']))}: {err['msg']}" if err["loc"]
                             else err["msg"].removeprefix("Value error, ") for err in e.errors())
        raise InputError(f"bad generate-queries option(s): {problems}") from None
