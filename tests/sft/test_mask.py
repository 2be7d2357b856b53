"""The assistant-token loss mask on SmolLM2's real chat template (which has no generation markers)."""

from __future__ import annotations

from ragtune.sft.tokenize import tokenize_chat


def pairs(tok, messages):
    tc = tokenize_chat(tok, messages)
    assert not tc.problems
    return [(tok.decode([i]), m) for i, m in zip(tc.input_ids, tc.mask)]


def test_mask_is_exact_token_by_token(smollm2_tokenizer):
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},
                {"role": "assistant", "content": "Hello!"}, {"role": "user", "content": "Bye"},
                {"role": "assistant", "content": "See you."}]
    # Checked by hand: only the answers and their <|im_end|> train; the role headers and the
    # template's newline after <|im_end|> do not.
    assert pairs(smollm2_tokenizer, messages) == [
        ("<|im_start|>", 0), ("system", 0), ("\n", 0), ("Be", 0), (" brief", 0), (".", 0), ("<|im_end|>", 0), ("\n", 0),
        ("<|im_start|>", 0), ("user", 0), ("\n", 0), ("Hi", 0), ("<|im_end|>", 0), ("\n", 0),
        ("<|im_start|>", 0), ("ass", 0), ("istant", 0), ("\n", 0), ("Hello", 1), ("!", 1), ("<|im_end|>", 1), ("\n", 0),
        ("<|im_start|>", 0), ("user", 0), ("\n", 0), ("By", 0), ("e", 0), ("<|im_end|>", 0), ("\n", 0),
        ("<|im_start|>", 0), ("ass", 0), ("istant", 0), ("\n", 0), ("See", 1), (" you", 1), (".", 1), ("<|im_end|>", 1),
        ("\n", 0),
    ]


def test_ids_equal_the_templates_own_tokenization(smollm2_tokenizer):
    tok = smollm2_tokenizer
    messages = [{"role": "user", "content": "What is ROT?"}, {"role": "assistant", "content": "A tax deduction."}]
    tc = tokenize_chat(tok, messages)
    assert tc.input_ids == list(tok.apply_chat_template(messages, tokenize=True, return_dict=True)["input_ids"])
    # the default system prompt the template inserts is context, not a target
    trained = tok.decode([i for i, m in zip(tc.input_ids, tc.mask) if m])
    assert trained == "A tax deduction.<|im_end|>"


def test_weight_zero_turn_is_not_trained(smollm2_tokenizer):
    messages = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Wrong.", "weight": 0},
                {"role": "user", "content": "Again"}, {"role": "assistant", "content": "Right.", "weight": 1}]
    trained = [t for t, m in pairs(smollm2_tokenizer, messages) if m]
    assert trained == ["Right", ".", "<|im_end|>"]
