"""ROUGE-L by hand, and the evaluation's loss against the model's own cross-entropy."""

from __future__ import annotations

import math

import pytest
from conftest import faq_chats, write_jsonl

from ragtune.evaluation.metrics import bootstrap_ci
from ragtune.data.chat import load_chat
from ragtune.evaluation.sft import evaluate_sft, rouge_l
from ragtune.records import write_report
from ragtune.sft.tokenize import token_rows, tokenize_chat


def test_rouge_l_hand_checked():
    # LCS("the cat on the mat", "the cat sat on the mat") = 5; P = 5/5, R = 5/6, F = 10/11
    assert rouge_l("The cat on the mat.", "the cat sat on the mat") == pytest.approx(10 / 11)
    # LCS = 2 ("a c"): P = 2/3, R = 2/4, F = 4/7
    assert rouge_l("a b c", "a c d e") == pytest.approx(4 / 7)
    assert rouge_l("", "x") == 0.0 and rouge_l("x y", "z") == 0.0 and rouge_l("Same, text!", "same text") == 1.0


def test_bootstrap_ci_brackets_the_weighted_mean():
    lo, hi = bootstrap_ci([1.0, 2.0, 3.0, 10.0], weights=[1, 1, 1, 1])
    assert lo < 4.0 < hi
    assert bootstrap_ci([2.0, 2.0], weights=[1, 5]) == (2.0, 2.0)


def test_loss_matches_models_own_cross_entropy(tmp_path, tiny_model_dir, smollm2_tokenizer):
    import torch
    from transformers import AutoModelForCausalLM

    rows = faq_chats(3)
    path = write_jsonl(tmp_path / "val.jsonl", rows)
    report = evaluate_sft(load_chat(path), {"tiny": str(tiny_model_dir)}, token_rows, generate_n=2, max_new_tokens=4,
                          samples_out=tmp_path / "s.md")
    write_report(tmp_path / "eval.json", report)
    model = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir))
    total, count = 0.0, 0
    for row in rows:
        tc = tokenize_chat(smollm2_tokenizer, row["messages"])
        labels = torch.tensor([[t if m else -100 for t, m in zip(tc.input_ids, tc.mask)]])
        n = int((labels[:, 1:] != -100).sum())
        with torch.no_grad():
            total += float(model(input_ids=torch.tensor([tc.input_ids]), labels=labels).loss) * n
        count += n
    (result,) = report.results
    assert report.task == "sft" and report.num_queries == 3 and result.model == "tiny"
    assert result.metrics["loss"] == pytest.approx(total / count, rel=1e-5)
    assert result.metrics["perplexity"] == pytest.approx(math.exp(total / count), rel=1e-5)
    assert set(result.ci95) == {"loss", "perplexity", "rouge_l"}
    assert (tmp_path / "eval.json").exists() and "reference" in (tmp_path / "s.md").read_text()
    assert len((tmp_path / "s.jsonl").read_text().splitlines()) == 2
