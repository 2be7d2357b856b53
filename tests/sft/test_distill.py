"""`distill`: questions -> retrieved context -> recorded teacher answers -> validated chats -> SFT."""

from __future__ import annotations

import json
import re

from conftest import write_jsonl

from ragtune.embedders import FakeEmbedder
from ragtune.llm import FakeLLM
from ragtune.sft.config import DistillConfig
from ragtune.sft.distill import distill, rag_prompt, recorded

DOCS = {
    "permits.md": "A building permit (bygglov) is needed for new houses and extensions. The municipality decides.",
    "roofs.md": "Changing the roof material needs a permit only when the look of the house changes visibly.",
    "taxes.md": "The ROT deduction lowers the labour cost of renovation work by thirty percent.",
    "windows.md": "Replacing windows with the same style needs no permit in most Swedish municipalities.",
    "fences.md": "A fence higher than one metre near a street usually requires a building permit.",
}
VOCAB = ["extensions", "roof", "rot", "windows", "fence", "permit", "municipality", "labour", "street"]


def question_for(messages) -> str:
    passage = messages[-1]["content"]
    word = next(w for w in VOCAB if w in passage.lower())  # one distinct topic word per document
    return f"What are the rules about the {word} here?"


def answer_for(messages) -> str:
    question = re.search(r"Question: (.*)", messages[-1]["content"]).group(1)
    return f"Per the context: {question.lower()} is decided by the municipality."


def test_distill_records_teacher_answers_and_trains_the_student(tmp_path, tiny_model_dir):
    docs = tmp_path / "docs"
    docs.mkdir()
    for name, text in DOCS.items():
        (docs / name).write_text(text)
    teacher = FakeLLM(default=answer_for, model="teacher")
    questions = FakeLLM(default=question_for, model="questions")
    config = DistillConfig(docs=[str(docs)], output=str(tmp_path / "run"), student=str(tiny_model_dir), filter=False,
                           top_k=2, epochs=1, batch_size=2, learning_rate=1e-2, allow_regression=True, concurrency=2)
    metrics = distill(config, teacher=teacher, question_llm=questions, embedder=FakeEmbedder(VOCAB, name="keywords"))

    run = tmp_path / "run"
    summary = metrics.distill
    assert summary["questions"] == 5 and summary["train_chats"] + summary.get("val_chats", 0) == 5
    rows = [json.loads(line) for line in (run / "data" / "teacher.jsonl").read_text().splitlines()]
    assert len(rows) == 5 == len(teacher.calls)
    first = rows[0]["messages"]
    assert [m["role"] for m in first] == ["system", "user", "assistant"]
    assert "Context:\n[1] " in first[1]["content"] and "[2] " in first[1]["content"]  # top_k=2 retrieved chunks
    # the retrieved context for the roof question starts with the roof document
    roof = next(r["messages"] for r in rows if "roof here" in r["messages"][1]["content"])
    assert "[1] Changing the roof material" in roof[1]["content"]
    assert (run / "model" / "adapter_config.json").exists() and (run / "metrics.json").exists()
    assert json.loads((run / "distill.json").read_text())["summary"]["train_chats"] == summary["train_chats"]

    # rerun: every answer is already recorded, nothing is asked again, the finished run is returned
    again = FakeLLM(model="teacher")  # no replies: any call would fail
    distill(config, teacher=again, question_llm=FakeLLM(model="questions"), embedder=FakeEmbedder(VOCAB, name="keywords"))
    assert again.calls == []


def test_recorded_skips_torn_lines(tmp_path):
    prompt = rag_prompt("q?", ["ctx"], "sys")
    path = write_jsonl(tmp_path / "t.jsonl", [{"messages": prompt + [{"role": "assistant", "content": "a"}]}, '{"messages": [{"ro'])
    assert recorded(path) == {prompt[-1]["content"]: "a"}
