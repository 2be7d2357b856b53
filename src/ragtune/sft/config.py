"""Configuration of a chat SFT run; every field documents itself and lands in RUN/config.json."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ragtune.device import DEVICE_HELP, DeviceSetting
from ragtune.runs.tracking import REPORT_TO_HELP




class SFTConfig(BaseModel):
    """Supervised fine-tuning of a chat LLM on assistant tokens only (LoRA by default)."""

    model_config = ConfigDict(extra="forbid")

    dataset: str = Field(description="training chat data: OpenAI chat JSONL, prompt/completion, sharegpt or alpaca")
    output: str = Field(description="run folder to write (config, metrics, model/, checkpoints/, card)")
    model: str = Field("smollm2-135m-instruct", description="base model: registry name, model folder or cached hub id")
    val_dataset: str | None = Field(None, description="validation chat data; if absent, val_fraction of the data is held out")
    val_fraction: float = Field(0.1, ge=0.0, lt=1.0, description="share of examples held out for validation when no val file is given")
    full: bool = Field(False, description="full fine-tune instead of LoRA (every weight trains; far more memory)")
    lora_r: int = Field(16, ge=1, description="LoRA rank")
    lora_alpha: int = Field(32, ge=1, description="LoRA scaling alpha (the update is scaled by alpha / r)")
    lora_dropout: float = Field(0.05, ge=0.0, lt=1.0, description="dropout on the LoRA input")
    target_modules: str = Field("all-linear", description="modules that get LoRA: 'all-linear' or comma-separated names like q_proj,v_proj")
    epochs: float = Field(3.0, gt=0, description="passes over the training data")
    learning_rate: float | None = Field(None, gt=0, description="peak learning rate; default 2e-4 for LoRA, 2e-5 for a full fine-tune")
    batch_size: int = Field(8, ge=1, description="examples per optimizer step per device (before accumulation)")
    grad_accum: int = Field(1, ge=1, description="gradient accumulation steps")
    max_length: int = Field(1024, ge=8, description="longest sequence in tokens; longer examples are truncated from the end")
    packing: bool = Field(False, description="pack several examples into one row of max_length tokens, padding-free (no cross-example attention); "
                                            "meant for GPUs: on a 2-core CPU it measured 0.38x the tokens/s of TRL's defaults and 11.6 GB "
                                            "peak (bench/sft_construction_faq.py --only speed)")
    padding_free: bool = Field(True, description="concatenate a batch into one row with position ids instead of padding it")
    gradient_checkpointing: bool | None = Field(None, description="recompute activations to save memory; default (None): on "
                                                "when the largest batch holds more than 2048 tokens (ragtune distill's chats, "
                                                "batch 8: peak memory 12.7 -> 7.0 GB for 4% more time)")
    warmup_ratio: float = Field(0.03, ge=0.0, lt=1.0, description="share of steps with linear warm-up")
    weight_decay: float = Field(0.0, ge=0.0, description="AdamW weight decay")
    seed: int = Field(42, ge=0, description="seed for the split, initialization and data order")
    eval_each_epoch: bool = Field(True, description="validation loss after every epoch, and the best epoch's weights kept (costs one pass over the validation data per epoch)")
    allow_regression: bool = Field(False, description="ship model/ even if the deciding measure (the validation loss, or the "
                                   "--eval-sql gain) did not improve over the base model")
    eval_sql: str | None = Field(None, description="held-out text-to-SQL questions that decide the ship instead of the validation "
                                 "loss: a Spider-format JSON of {db_id, question, query} (e.g. the test.json of `ragtune sql "
                                 "prepare`) or 'spider-dev'; base and tuned answer greedily, the SQL runs on synthetic fills, and "
                                 "model/ ships only on a paired test-suite-accuracy gain (the base's replies are cached across runs in "
                                 "$RAGTUNE_HOME/cache/replies/). Its databases must not be in the "
                                 "training chats (split by database, as `sql prepare` does), or the gain measures memorisation")
    eval_json: str | None = Field(None, description="held-out structured-output chats that decide the ship instead of the "
                                  "validation loss: chat JSONL whose last assistant turn is the reference JSON object (e.g. the "
                                  "test.jsonl of `ragtune data faq-json`); base and tuned answer greedily, each reply is validated "
                                  "against the JSON Schema and its fields compared, and model/ ships only on a paired "
                                  "field-accuracy gain (the base's replies are cached across runs)")
    json_schema: str | None = Field(None, description="the JSON Schema of --eval-json (default: the schema.json next to it)")
    json_constrained: bool = Field(False, description="--eval-json judges base and tuned decoding inside the schema (tokens "
                                   "masked step by step, as `eval json --constrained`): every finished reply validates, and "
                                   "the ship rides on what each model puts in the fields; use it when the model will be "
                                   "served constrained")
    logging_steps: int = Field(5, ge=1, description="log the training loss every N optimizer steps")
    device: DeviceSetting = Field("auto", description=DEVICE_HELP)
    report_to: Literal["none", "tensorboard", "trackio", "wandb"] = Field("none", description=REPORT_TO_HELP)

    @model_validator(mode="after")
    def _one_task_judge(self):
        if self.eval_sql and self.eval_json:
            raise ValueError("give --eval-sql or --eval-json, not both: one held-out task decides the ship")
        if self.json_schema and not self.eval_json:
            raise ValueError("--json-schema goes with --eval-json (the schema its held-out replies must validate against)")
        if self.json_constrained and not self.eval_json:
            raise ValueError("--json-constrained goes with --eval-json (it sets how the held-out replies are decoded)")
        return self

    def lr(self) -> float:
        return self.learning_rate if self.learning_rate is not None else (2e-5 if self.full else 2e-4)

    def resolved(self) -> "SFTConfig":
        """The config with the learning rate filled in (what config.json records)."""
        return self.model_copy(update={"learning_rate": self.lr()})


class DistillConfig(BaseModel):
    """Distill a teacher's RAG answers over your documents into a small student model."""

    model_config = ConfigDict(extra="forbid")

    docs: list[str] = Field(description="document files or folders (txt, md, html, pdf, jsonl)")
    output: str = Field(description="run folder: data/questions/, data/teacher.jsonl, distill.json, then the SFT run")
    teacher: str = Field("local", description="teacher LLM: 'local', 'local:MODEL' (registry name or folder) or 'openai:MODEL'")
    student: str = Field("smollm2-135m-instruct", description="student model to fine-tune (registry name or folder)")
    base_url: str | None = Field(None, description="OpenAI-compatible server URL for an openai: teacher")
    api_key_env: str = Field("OPENAI_API_KEY", description="environment variable holding the teacher's API key (never written)")
    retriever: str = Field("minilm", description="embedding model that retrieves the context for each question")
    top_k: int = Field(3, ge=1, description="retrieved chunks given to the teacher (and learnt by the student) per question")
    questions_per_chunk: int = Field(1, ge=1, le=20, description="questions generated per chunk")
    filter: bool = Field(True, description="keep a question only if its own chunk ranks in the retriever's top 20")
    system: str = Field("You are a helpful assistant. Answer from the context; say so when it does not contain the answer.",
                        description="system message of every distilled chat")
    max_tokens: int = Field(256, ge=8, description="longest teacher answer in tokens",
                            json_schema_extra={"flag": "--max-new-tokens"})
    concurrency: int | None = Field(None, ge=1, description="teacher calls in flight (server; default 8) / prompts per "
                                                          "batch (local; default 32)")
    text_field: str = Field("text", description="field holding the text in JSONL documents")
    epochs: float = Field(3.0, gt=0, description="SFT epochs of the student")
    learning_rate: float | None = Field(None, gt=0, description="student peak learning rate (default 2e-4, LoRA)")
    lora_r: int = Field(16, ge=1, description="student LoRA rank")
    batch_size: int = Field(8, ge=1, description="student batch size")
    max_length: int = Field(1024, ge=8, description="longest student training sequence in tokens")
    seed: int = Field(42, ge=0, description="seed for the question split and training")
    allow_regression: bool = Field(False, description="keep the student even if its validation loss did not improve")
    device: DeviceSetting = Field("auto", description=DEVICE_HELP)

    @model_validator(mode="after")
    def _default_concurrency(self):
        if self.concurrency is None:
            from ragtune.llm import default_concurrency  # here, not at the top: the CLI imports configs for --help

            self.concurrency = default_concurrency(self.teacher)
        return self
