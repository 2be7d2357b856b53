"""Configs of the two embedding jobs: a full fine-tune and an adapter over a frozen embedder.

Every field has help text and is the single source of its default (the CLI shows and passes these);
the resolved config is written to `RUN/config.json`, which is a valid `--config` file.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ragtune.device import DEVICE_HELP, DeviceSetting
from ragtune.runs.tracking import REPORT_TO_HELP

DATASET_HELP = "training data: a registry name (construction-faq), LlamaIndex JSON, BEIR folder or ragtune .jsonl"
VAL_HELP = "validation set (default: split the training data by source document)"
EVAL_HELP = "held-out REAL queries over the same corpus; when given they decide whether the model ships"


def _step_budget(v: int) -> int:
    if v == 0:
        raise ValueError("0 steps would train nothing; give -1 (no cap) or a positive number")
    return v


class AdapterConfig(BaseModel):
    """`ragtune train adapter`: a small module trained on cached vectors of a frozen embedder."""

    model_config = ConfigDict(extra="forbid")

    dataset: str = Field(description=DATASET_HELP)
    output: str = Field(description="run folder (created; rerun the same command to resume)")
    model: str = Field("minilm", description="the frozen embedder: registry name, local folder, or openai:MODEL (a remote "
                                             "OpenAI-compatible endpoint, see base_url)")
    teacher: str | None = Field(None, description="a stronger embedder whose softmax over the corpus is the target "
                                                  "(recommended: it is what makes adapters help)")
    val_dataset: str | None = Field(None, description=VAL_HELP)
    eval_dataset: str | None = Field(None, description=EVAL_HELP)
    teacher_check: Literal["drop", "stop", "off"] = Field("drop", description="before distilling, compare the teacher with "
                                                          "the student on the deciding data (the eval dataset, else the "
                                                          "validation split): only a clearly better teacher (paired 95% CI "
                                                          "above zero) is used; 'drop' trains without any other, 'stop' "
                                                          "refuses to train, 'off' skips the check")
    base_url: str | None = Field(None, description="base URL of an OpenAI-compatible embeddings server, for openai:MODEL")
    kind: Literal["linear", "mlp"] = Field("linear", description="'linear': an identity-initialised d x d matrix + bias; "
                                           "'mlp': x + W2 gelu(W1 x), W2 zero-initialised (starts as the identity too)")
    side: Literal["query", "both"] = Field("query", description="'query': adapt query vectors only (the document index is "
                                           "reused as is); 'both': a second adapter for documents (re-embed the index)")
    hidden: int = Field(512, ge=1, description="hidden width of the 'mlp' adapter")
    epochs: int = Field(30, ge=1, description="passes over the training queries (each costs milliseconds on cached vectors); "
                                              "30 at lr 3e-4 with a teacher measured best in bench/embed_recipes.py")
    learning_rate: float = Field(3e-4, gt=0, description="AdamW learning rate")
    weight_decay: float = Field(0.0, ge=0, description="AdamW weight decay")
    batch_size: int = Field(64, ge=1, description="queries per step")
    temperature: float = Field(0.05, gt=0, description="softmax temperature of the teacher's scores over the corpus (the "
                                                       "target), and of the student's scores",
        json_schema_extra={"flag": "--distill-temperature"})
    label_weight: float = Field(0.0, ge=0, le=1, description="with a teacher: weight of the labelled positive mixed into the "
                                                             "teacher's distribution (0 = teacher only); without a teacher "
                                                             "the label is the only target")
    pseudo_queries: bool = Field(True, description="with a teacher: also train on the sentences of the training documents as "
                                                   "unlabelled queries (the teacher, not a label, sets their targets)")
    pseudo_spans: int = Field(3, ge=0, description="with pseudo-queries: also this many random 3-8 word spans of each sentence "
                                                   "(short, keyword-like queries, closer to real users' questions; 0 = off); "
                                                   "on construction-faq, with lr 3e-4 for 30 epochs, the adapter reached "
                                                   "human-question ndcg@10 0.771-0.777 over 3 seeds, against 0.764 with "
                                                   "sentences only (bench/embed_recipes.py)")
    select_epoch: bool | None = Field(None, description="keep the best epoch on validation (KL to the teacher, else ndcg@10); "
                                      "off = train exactly `epochs` epochs (the ship rule still applies); default: on "
                                      "without a teacher, off with one (on construction-faq, selecting by validation KL "
                                      "stopped at epoch 2, human ndcg@10 0.749, where 10 fixed epochs at lr 1e-3 reached 0.764)")
    refit_all: bool = Field(True, description="after the epoch count is chosen on the validation split, train a fresh adapter "
                                              "on training + validation data for that many epochs and ship it (the validation "
                                              "report and a validation-decided ship use the held-out adapter; an eval "
                                              "dataset scores the refit one)")
    seed: int = Field(42, ge=0, description="seed for the split, initialisation and shuffling")
    device: DeviceSetting = Field("auto", description=DEVICE_HELP)
    val_fraction: float = Field(0.2, gt=0, lt=1, description="share of source documents held out for validation when no "
                                                             "validation set is given")


class EmbeddingConfig(BaseModel):
    """`ragtune train embedding`: full fine-tune with sentence-transformers' trainer."""

    model_config = ConfigDict(extra="forbid")

    dataset: str = Field(description=DATASET_HELP)
    output: str = Field(description="run folder (created; rerun the same command to resume)")
    model: str = Field("minilm", description="base model: registry name (minilm, mpnet), local folder or cached hub id")
    teacher: str | None = Field(None, description="a stronger embedding model whose scores over each query's top candidates "
                                                  "become the target (distillation); scores are computed once and cached")
    val_dataset: str | None = Field(None, description=VAL_HELP)
    eval_dataset: str | None = Field(None, description=EVAL_HELP)
    teacher_check: Literal["drop", "stop", "off"] = Field("drop", description="before distilling, compare the teacher with "
                                                          "the student on the deciding data (the eval dataset, else the "
                                                          "validation split): only a clearly better teacher (paired 95% CI "
                                                          "above zero) is used; 'drop' trains without any other, 'stop' "
                                                          "refuses to train, 'off' skips the check")
    loss: Literal["mnrl", "cached_mnrl"] = Field("mnrl", description="contrastive loss without a teacher: MultipleNegatives"
                                                 "RankingLoss, or its cached variant (large effective batch in small memory)")
    mini_batch_size: int = Field(16, ge=1, description="mini-batch of cached_mnrl's gradient cache")
    matryoshka_dims: list[Annotated[int, Field(ge=1)]] = Field(default_factory=list, description="wrap the loss in MatryoshkaLoss with these "
                                                                          "dimensions (e.g. 384,256,128,64); empty = off")
    teacher_top_n: int = Field(5, ge=2, description="candidates per query scored by the teacher (the positive plus the "
                                                    "student's top negatives)")
    distill_loss: Literal["kl", "margin_mse"] = Field("kl", description="distillation loss: DistillKLDivLoss over the "
                                                      "candidates, or MarginMSELoss on (positive, hardest negative) margins")
    distill_temperature: float = Field(0.05, gt=0, description="temperature of DistillKLDivLoss (teacher and student scores)")
    epochs: float = Field(1.0, gt=0, description="training epochs")
    learning_rate: float = Field(2e-5, gt=0, description="peak learning rate (linear warm-up then decay)")
    warmup_ratio: float = Field(0.1, ge=0, lt=1, description="share of steps for learning-rate warm-up")
    batch_size: int = Field(16, ge=1, description="per-device batch size (in-batch negatives come from this batch)")
    max_seq_length: int = Field(256, ge=8, description="truncate inputs to this many tokens")
    eval_steps: int = Field(0, ge=0, description="validate every N steps (0 = once per epoch)")
    merge_with_base: float = Field(0.0, ge=0, lt=1, description="after training, average weights: (1-a)*tuned + a*base (0 = off)")
    seed: int = Field(42, ge=0, description="seed for everything (split, sampler, initialisation)")
    val_fraction: float = Field(0.2, gt=0, lt=1, description="share of source documents held out for validation when no "
                                                             "validation set is given")
    max_steps: int = Field(-1, ge=-1, description="stop after this many optimizer steps (-1 = train for `epochs`)")
    device: DeviceSetting = Field("auto", description=DEVICE_HELP)
    report_to: Literal["none", "tensorboard", "trackio", "wandb"] = Field("none", description=REPORT_TO_HELP)

    @field_validator("max_steps")
    @classmethod
    def _steps(cls, v: int) -> int:
        return _step_budget(v)
