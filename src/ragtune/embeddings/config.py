"""Configs of the two embedding jobs: a full fine-tune and an adapter over a frozen embedder.

Every field has help text; the resolved config is written to `RUN/config.json`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class AdapterConfig(BaseModel):
    """`ragtune train adapter`: a small module trained on cached vectors of a frozen embedder."""

    kind: Literal["linear", "mlp"] = Field("linear", description="'linear': an identity-initialised d x d matrix + bias; "
                                           "'mlp': x + W2 gelu(W1 x), W2 zero-initialised (starts as the identity too).")
    side: Literal["query", "both"] = Field("query", description="'query': adapt query vectors only (the document index is reused "
                                           "as is); 'both': a second adapter for documents (the index must be re-embedded).")
    hidden: int = Field(512, description="Hidden width of the 'mlp' adapter.")
    epochs: int = Field(30, description="Passes over the training queries (each costs milliseconds on cached vectors). "
                                        "30 at lr 3e-4 with a teacher measured best in bench/embed_recipes.py.")
    lr: float = Field(3e-4, description="AdamW learning rate.")
    weight_decay: float = Field(0.0, description="AdamW weight decay.")
    batch_size: int = Field(64, description="Queries per step.")
    temperature: float = Field(0.05, description="Softmax temperature of the teacher's scores over the corpus (the target), "
                                                 "and of the student's scores.")
    label_weight: float = Field(0.0, description="With a teacher: weight of the labelled positive mixed into the teacher's "
                                                 "distribution (0 = teacher only). Without a teacher the label is the only target.")
    pseudo_queries: bool = Field(True, description="With a teacher: also train on the sentences of the training documents as "
                                                   "unlabelled queries (the teacher, not a label, sets their targets).")
    pseudo_spans: int = Field(3, description="With pseudo-queries: also this many random 3-8 word spans of each sentence "
                                             "(short, keyword-like queries, closer to real users' questions; 0 = off). "
                                             "Each is embedded once by the embedder and the teacher. On construction-faq, "
                                             "with lr 3e-4 for 30 epochs, the adapter reached human-question ndcg@10 "
                                             "0.771-0.777 over 3 seeds, against 0.764 with sentences only (bench/embed_recipes.py).")
    select_epoch: bool | None = Field(None, description="Keep the best epoch on validation (KL to the teacher, else ndcg@10); "
                                      "off = train exactly `epochs` epochs (the ship rule still applies). Default (None): on "
                                      "without a teacher, off with one -- on construction-faq, selecting by validation KL "
                                      "stopped at epoch 2 (human ndcg@10 0.749) where 10 fixed epochs at lr 1e-3 reached 0.764.")
    refit_all: bool = Field(True, description="After the epoch count is chosen on the validation split, train a fresh adapter "
                                              "on training + validation data for that many epochs and ship it (the validation "
                                              "report and a validation-decided ship use the held-out adapter; --eval-dataset "
                                              "scores the refit one).")
    seed: int = Field(42, description="Seed for the split, initialisation and shuffling.")
    val_fraction: float = Field(0.2, description="Share of source documents held out for validation when no validation set is given.")


class EmbeddingConfig(BaseModel):
    """`ragtune train embedding`: full fine-tune with sentence-transformers' trainer."""

    model: str = Field("minilm", description="Base model: registry name, local folder or cached hub id.")
    loss: Literal["mnrl", "cached_mnrl"] = Field("mnrl", description="Contrastive loss without a teacher: MultipleNegativesRanking"
                                                 "Loss, or its cached variant (large effective batch in small memory).")
    mini_batch_size: int = Field(16, description="Mini-batch of cached_mnrl's gradient cache.")
    matryoshka_dims: list[int] = Field(default_factory=list, description="Wrap the loss in MatryoshkaLoss with these "
                                                                          "dimensions (e.g. 384,256,128,64); empty = off.")
    teacher: str | None = Field(None, description="A stronger embedding model whose scores over each query's top candidates "
                                                  "become the target (distillation). Scores are computed once and cached.")
    teacher_top_n: int = Field(5, description="Candidates per query scored by the teacher (the student's top-N plus the positive).")
    distill_loss: Literal["kl", "margin_mse"] = Field("kl", description="Distillation loss: DistillKLDivLoss over the candidates, "
                                                      "or MarginMSELoss on (positive, hardest negative) margins.")
    distill_temperature: float = Field(0.05, description="Temperature of DistillKLDivLoss (teacher and student scores).")
    epochs: float = Field(1.0, description="Training epochs.")
    lr: float = Field(2e-5, description="Peak learning rate (linear warm-up then decay).")
    warmup_ratio: float = Field(0.1, description="Share of steps for learning-rate warm-up.")
    batch_size: int = Field(16, description="Per-device batch size (in-batch negatives come from this batch).")
    max_seq_length: int = Field(256, description="Truncate inputs to this many tokens.")
    eval_steps: int = Field(0, description="Validate every N steps (0 = once per epoch).")
    merge_with_base: float = Field(0.0, description="After training, average weights: (1-a)*tuned + a*base (0 = off).")
    seed: int = Field(42, description="Seed for everything (split, sampler, initialisation).")
    val_fraction: float = Field(0.2, description="Share of source documents held out for validation when no validation set is given.")
    max_steps: int = Field(-1, description="Stop after this many optimizer steps (-1 = train for `epochs`).")
