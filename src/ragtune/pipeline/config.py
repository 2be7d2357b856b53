"""Settings of `ragtune run` (saved as RUN/config.json); kept apart from the pipeline so `--help` imports little."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ragtune.device import DEVICE_HELP, DeviceSetting
from ragtune.embeddings.config import AdapterConfig, EmbeddingConfig, _step_budget
from ragtune.generate.config import QueryGenConfig

__all__ = ["RunConfig"]


class RunConfig(BaseModel):
    """Settings of `ragtune run` (saved as RUN/config.json)."""

    model_config = ConfigDict(extra="forbid")

    docs: list[str] | None = Field(None, description="documents (files or folders: txt, md, html, pdf, jsonl); none = the "
                                                     "bundled construction-faq demo")
    output: str = Field("runs/demo", description="run folder (rerun the same command to resume)")
    eval_dataset: str | None = Field(None, description="held-out REAL queries over the same corpus; they decide what ships "
                                                       "(default with no docs: the 503 human FAQ questions)")
    model: str = Field("minilm", description="embedding model to improve")
    teacher: str | None = Field("mpnet", description="stronger embedder used as teacher for both the fine-tune and the adapter "
                                                      "('none' = train on the synthetic labels only)")
    teacher_check: Literal["drop", "stop", "off"] = Field(EmbeddingConfig.model_fields["teacher_check"].default,
                                                          description=EmbeddingConfig.model_fields["teacher_check"].description)
    llm: str = Field("local", description="question writer: 'local' (best installed local model), 'local:MODEL', 'openai:MODEL'")
    base_url: str | None = Field(None, description="OpenAI-compatible server for an openai:MODEL question writer")
    questions_per_chunk: int = Field(1, ge=1, le=20, description="questions asked for per chunk")
    max_chunks: int = Field(0, ge=0, description="use at most this many chunks (0 = all); a quick look at a big corpus")
    finetune: bool | None = Field(None, description="run the full fine-tune stage (the adapter stage always runs). Default: only "
                                                     "when an eval dataset of real queries decides; without one its result cannot "
                                                     "ship (synthetic validation alone never ships), and it costs most of the "
                                                     "training time (609 s of the demo's 1,883 s)")
    finetune_epochs: float = Field(1.0, gt=0, description="epochs of the full fine-tune (used when finetune_max_steps is -1)")
    finetune_max_steps: int = Field(60, ge=-1, description="optimizer steps of the full fine-tune; when set (not -1) it "
                                                           "replaces finetune_epochs, as in the transformers Trainer (the "
                                                           "demo's 60 steps are 2.86 epochs of its 325 questions); keeps the "
                                                           "run within ~20 minutes on a 2-core CPU")

    @field_validator("finetune_max_steps")
    @classmethod
    def _steps(cls, v: int) -> int:
        return _step_budget(v)
    finetune_learning_rate: float = Field(EmbeddingConfig.model_fields["learning_rate"].default, gt=0,
                                          description="learning rate of the full fine-tune")
    adapter_kind: Literal["linear", "mlp"] = Field(AdapterConfig.model_fields["kind"].default, description="adapter kind: 'linear' or 'mlp'")
    adapter_epochs: int = Field(AdapterConfig.model_fields["epochs"].default, ge=1,
                                description="adapter epochs (milliseconds each on cached vectors)")
    val_fraction: float = Field(0.2, gt=0, lt=1, description="share of source documents held out for validation")
    val_style: Literal["user", "same"] = Field(QueryGenConfig.model_fields["val_style"].default,
                                               description=QueryGenConfig.model_fields["val_style"].description)
    val_llm: str | None = Field(None, description=QueryGenConfig.model_fields["val_llm"].description)
    seed: int = Field(42, ge=0, description="seed for generation sampling, split and training")
    device: DeviceSetting = Field("auto", description=DEVICE_HELP)
