"""Configuration of a reranker (cross-encoder) fine-tune; every field documents itself and lands in RUN/config.json."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ragtune.device import DEVICE_HELP, DeviceSetting
from ragtune.runs.tracking import REPORT_TO_HELP

Loss = Literal["bce", "listnet", "lambda", "mse"]


class RerankerConfig(BaseModel):
    """Fine-tune a cross-encoder that reads (query, passage) together and scores relevance."""

    model_config = ConfigDict(extra="forbid")

    dataset: str = Field(description="training retrieval dataset: registry name, LlamaIndex JSON, BEIR folder or ragtune .jsonl")
    output: str = Field(description="run folder to write (config, metrics, model/, checkpoints/, data/, eval/, card)")
    model: str = Field("minilm", description="base: an existing CrossEncoder folder, or a plain encoder (minilm) that gets a new scoring head")
    retriever: str = Field("minilm", description="embedding model that mines hard negatives and supplies the candidates reranked at validation")
    teacher: str | None = Field(None, description="stronger embedding model whose scores of each candidate become soft labels (e.g. mpnet)")
    label_with: str | None = Field(None, description="LLM spec (local, openai:MODEL) that judges mined negatives; a 'yes' turns one into a positive")
    loss: Loss | None = Field(None, description="bce (pointwise, default), listnet (softmax over each query's candidates; default with a "
                                                "teacher), lambda (LambdaLoss, ndcg-aware), mse (regress the teacher's scores)")
    num_negatives: int = Field(7, ge=0, description="hard negatives mined per query from the retriever's ranking")
    random_negatives: int = Field(1, ge=0, description="random corpus passages added per query as easy negatives")
    skip_top: int = Field(0, ge=0, description="ignore the retriever's top N non-positive hits when mining (they are the likeliest false negatives)")
    margin: float = Field(0.95, gt=0.0, description="false-negative guard: drop a candidate whose retriever score exceeds margin x the positive's score")
    mine_depth: int = Field(50, ge=1, description="how deep into the retriever's ranking to look for hard negatives")
    pseudo_queries: int = Field(0, ge=0, description="requires a teacher: add up to N unlabelled pseudo-queries (the training documents' "
                                                     "sentences plus 3 spans of 3-8 words of each); candidates = the retriever's "
                                                     "top num_negatives+1 plus random_negatives random passages, scored by the teacher "
                                                     "(never by the LLM judge); 0 = none",
        json_schema_extra={"flag": "--num-pseudo-queries"})
    teacher_temperature: float = Field(0.05, gt=0.0, description="teacher scores are divided by this before listwise losses (sharper with smaller values)",
        json_schema_extra={"flag": "--distill-temperature"})
    top_k: int = Field(30, ge=1, description="candidates retrieved per query and reranked in validation (the realistic setting)")
    val_fraction: float = Field(0.1, gt=0.0, lt=1.0, description="share of source documents whose queries are held out for validation")
    max_queries: int | None = Field(None, ge=1, description="train on at most this many queries (a quick trial); None = all")
    epochs: float = Field(1.0, gt=0, description="passes over the training queries")
    batch_size: int = Field(32, ge=1, description="pairs per step for bce/mse; for listnet/lambda, queries per step x candidates")
    learning_rate: float = Field(4e-5, gt=0, description="peak AdamW learning rate (linear decay after warm-up)")
    warmup_ratio: float = Field(0.1, ge=0.0, lt=1.0, description="share of steps with linear warm-up")
    max_length: int = Field(256, ge=16, description="longest (query + passage) in tokens; longer passages are truncated")
    eval_steps: int = Field(100, ge=1, description="validate (realistic rerank ndcg@10) and checkpoint every N optimizer steps")
    logging_steps: int = Field(10, ge=1, description="log the training loss every N optimizer steps")
    latency_queries: int = Field(20, ge=0, description="validation queries timed one by one for the per-query rerank latency")
    seed: int = Field(42, ge=0, description="seed for the split, random negatives, initialisation and data order")
    eval_dataset: str | None = Field(None, description="real held-out queries (registry name or file) to evaluate on; when given, "
                                                       "they decide whether model/ ships instead of the synthetic validation split")
    device: DeviceSetting = Field("auto", description=DEVICE_HELP)
    report_to: Literal["none", "tensorboard", "trackio", "wandb"] = Field("none", description=REPORT_TO_HELP)
    allow_regression: bool = Field(False, description="ship model/ even if reranking is not clearly better than the retriever alone "
                                                      "(paired 95% CI of the ndcg@10 gain not above zero) on the deciding data")

    def resolved_loss(self) -> Loss:
        """bce without a teacher, listnet (the teacher's distribution over candidates) with one."""
        return self.loss or ("listnet" if self.teacher else "bce")

    def is_listwise(self) -> bool:
        return self.resolved_loss() in ("listnet", "lambda")
