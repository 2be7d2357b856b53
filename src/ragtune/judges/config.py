"""Settings of `ragtune generate judge-data` / `generate_judge_data(config)`; every field has help text and bounds."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["LLM_HELP", "JudgeDataConfig"]

LLM_HELP = ("'local:MODEL' or a bare registry name / model folder / SFT run folder (in process), or 'openai:MODEL' "
            "(an OpenAI-compatible server: --base-url, key in --api-key-env)")


class JudgeDataConfig(BaseModel):
    """Everything that shapes a judge-data folder: the QA set, the answer sources, the teacher and the split."""

    model_config = ConfigDict(extra="forbid")

    qa: str = Field(..., description="QA set: construction-faq, or a JSONL file of {id, question, reference, category} rows.")
    output: str = Field(..., description="Output folder: items.jsonl, split.json, teacher.jsonl, train.jsonl, test.jsonl, "
                                         "summary.json, answers/, journal/ (resumable).")
    answers: list[str] = Field(default_factory=list, description="Answers to judge: JSONL of {id, answer} (e.g. eval rag's "
                                                                 "OUT/answers/LABEL.jsonl); repeat for more sources; LABEL=FILE "
                                                                 "sets the label.")
    answer_with: list[str] = Field(default_factory=list, description=f"Also answer every question with this model: {LLM_HELP}. "
                                                                     "Repeatable.")
    teacher: str | None = Field(None, description=f"The judge to distil: {LLM_HELP}.")
    base_url: str | None = Field(None, description="OpenAI-compatible server URL for openai: models.")
    api_key_env: str = Field("OPENAI_API_KEY", description="Environment variable holding the API key (never written).")
    labels: Literal["teacher", "truth"] = Field("teacher", description="What the SFT chats teach: 'teacher' (the teacher's "
                                                "judgments) or 'truth' (the control labels, known by construction).")
    test_fraction: float = Field(0.2, ge=0.0, le=0.9, description="Share of questions held out (split by question).")
    limit: int | None = Field(None, ge=1, description="Use a seeded sample of this many questions.")
    pairwise: bool = Field(True, description="Also build pairwise items (judged in both orders).")
    swap_ratio: float = Field(0.5, ge=0.0, le=1.0, description="Share of pairwise chats also given in the swapped order.")
    concurrency: int = Field(8, ge=1, description="Calls in flight (server) / prompts per batch (local).")
    max_tokens: int = Field(128, ge=8, description="Longest judge reply in tokens.", json_schema_extra={"flag": "--max-new-tokens"})
    answer_max_tokens: int = Field(160, ge=8, description="Longest answer of an --answer-with model in tokens.",
                                   json_schema_extra={"flag": "--answer-max-new-tokens"})
    timeout: float = Field(60.0, ge=0.001, description="Seconds before a server call is retried.")
    score_logprobs: int = Field(20, ge=0, le=20, description="First-token log-probabilities asked with each score call "
                                "(scored by the expected score over them); 0 = none: judge by the stated score "
                                "(for servers that refuse logprobs).")
    seed: int = Field(0, ge=0, description="Seed of the split, the controls and the swaps.")

    @model_validator(mode="after")
    def _teacher_for_teacher_labels(self):
        if self.labels == "teacher" and not self.teacher:
            raise ValueError("--labels teacher needs --teacher SPEC (or use --labels truth to train on the control labels).")
        return self
