"""`ragtune run` end to end with a fake question writer (FakeLLM) and the tiny BERT: every stage runs,
the run folder has the documented shape, stage timings are recorded, and the winner is consistent
with the ship decisions."""

from __future__ import annotations

import json
import re

from ragtune.llm.fake import FakeLLM
from ragtune.pipeline import run

from .conftest import KEYWORDS


def _question(messages) -> str:
    text = " ".join(m["content"] for m in messages)
    kws = [k for k in KEYWORDS if re.search(rf"\b{k}\b", text)]
    return f"How do the rules for {' and '.join(kws[:2]) or 'this'} work in practice?"


def _long_words(messages) -> str:
    """A question naming the three longest words of the prompt (distinct per passage)."""
    words = sorted(set(re.findall(r"[A-Za-z]{6,}", messages[-1]["content"])), key=lambda w: (-len(w), w))
    return f"What about {words[0]} {words[1]} {words[2]}?"


def _docs(tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    for i, a in enumerate(KEYWORDS):
        b = KEYWORDS[(i + 3) % len(KEYWORDS)]
        (folder / f"{a}.txt").write_text(f"Everything about the {a} and the {b}. The {a} needs care every year.\n")
    return folder


def test_run_on_documents_writes_every_stage(tmp_path, tiny_st_dir):
    out, docs = tmp_path / "run", str(_docs(tmp_path))
    m = run(docs=[docs], output=out, say=lambda s: None, llm_object=FakeLLM(default=_question),
            model=str(tiny_st_dir), teacher=str(tiny_st_dir), finetune=True, finetune_max_steps=2, adapter_epochs=3,
            val_style="same")
    assert list(m.seconds) == ["chunk", "generate", "evaluate base", "fine-tune", "adapter", "evaluate all", "total"]
    assert m.data["train_queries"] > 0 and m.data["val_queries"] > 0
    for f in ("config.json", "metrics.json", "card.md", "eval/val.json", "data/train.json", "data/val.json",
              "finetune/metrics.json", "adapter/metrics.json"):
        assert (out / f).exists(), f
    rep = json.loads((out / "eval" / "val.json").read_text())
    assert [r["model"] for r in rep["results"]] == ["base", "finetuned", "adapter"]
    assert m.decision.decided_by == "validation split"
    shipped = [k for k, d in m.decisions.items() if d["shipped"]]
    assert (m.result["model"] in shipped) if shipped else m.result["model"] == "base"
    assert m.decision.shipped == bool(shipped) and (out / "model").exists() == bool(shipped)
    assert run(docs=[docs], output=out, say=lambda s: None, llm_object=FakeLLM(), model=str(tiny_st_dir),
               teacher=str(tiny_st_dir), finetune=True, finetune_max_steps=2, adapter_epochs=3,
               val_style="same") == m  # finished: no LLM call, same result


def test_documents_only_skips_the_full_fine_tune_by_default_and_says_why(tmp_path, tiny_st_dir):
    """Without real queries the fine-tune's result could not ship (synthetic validation alone never ships), so the
    default spends no time on it; the adapter still runs and the run says why the fine-tune did not."""
    lines: list[str] = []
    m = run(docs=[str(_docs(tmp_path))], output=tmp_path / "run", say=lines.append, llm_object=FakeLLM(default=_question),
            model=str(tiny_st_dir), teacher="none", adapter_epochs=2, val_style="same")
    assert "fine-tune" not in m.seconds and "adapter" in m.seconds and set(m.decisions) == {"adapter"}
    assert any(line.startswith("skipping the full fine-tune: without --eval-dataset") for line in lines)
    assert json.loads((tmp_path / "run" / "config.json").read_text())["finetune"] is None


def test_run_without_docs_uses_the_faq_and_judges_on_human_questions(tmp_path, tiny_st_dir):
    out = tmp_path / "run"
    m = run(output=out, say=lambda s: None, llm_object=FakeLLM(default=_long_words),
            model=str(tiny_st_dir), teacher="none", finetune=False, max_chunks=40, adapter_epochs=2, val_style="same")
    human = json.loads((out / "eval" / "construction-faq.json").read_text())
    assert human["num_queries"] == 503 and human["num_docs"] == 503
    assert m.decision.decided_by == "eval dataset" and m.decision.dataset == "construction-faq"
    train = json.loads((out / "data" / "train.json").read_text())
    faq_questions = {r["q"] for r in __import__("ragtune.data.retrieval", fromlist=["x"]).faq_records()}
    assert not faq_questions & set(train["queries"].values())  # human questions never train
