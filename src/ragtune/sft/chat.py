"""A quick chat with any model ragtune can load (base, adapter, merged): keeps the conversation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ragtune.assets import load_tokenizer
from ragtune.llm.models import load_causal_lm


class ChatSession:
    """Holds the model, the tokenizer and the conversation so far."""

    def __init__(self, model: str | Path, system: str | None = None, max_new_tokens: int = 256, temperature: float = 0.0,
                 device: str = "auto"):
        self.tokenizer = load_tokenizer(model)
        self.model = load_causal_lm(model, device=device)
        self.model.eval()
        self.max_new_tokens = max_new_tokens
        self.temperature = temperature
        self.messages: list[dict[str, Any]] = [{"role": "system", "content": system}] if system else []

    def ask(self, text: str) -> str:
        """Add a user turn, generate the answer, remember it, and return it."""
        import torch

        self.messages.append({"role": "user", "content": text})
        enc = self.tokenizer.apply_chat_template(self.messages, add_generation_prompt=True, return_dict=True,
                                                 return_tensors="pt").to(self.model.device)
        sample = self.temperature > 0
        with torch.no_grad():
            out = self.model.generate(**enc, max_new_tokens=self.max_new_tokens, do_sample=sample,
                                      temperature=self.temperature if sample else None,
                                      pad_token_id=self.tokenizer.pad_token_id, eos_token_id=self.tokenizer.eos_token_id)
        answer = self.tokenizer.decode(out[0, enc["input_ids"].shape[1] :], skip_special_tokens=True).strip()
        self.messages.append({"role": "assistant", "content": answer})
        return answer
