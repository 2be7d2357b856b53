"""Merge a LoRA adapter into its base model: a plain transformers folder that needs no PEFT to load."""

from __future__ import annotations

from pathlib import Path

from ragtune.assets import is_lora_adapter, load_tokenizer, model_folder
from ragtune.errors import InputError
from ragtune.io import atomic_dir
from ragtune.llm.models import load_causal_lm

__all__ = ["merge_adapter"]


def merge_adapter(run: str | Path, output: str | Path | None = None) -> Path:
    """Write base + adapter merged (float32) with the tokenizer to `output` (default RUN/merged)."""
    folder = model_folder(run)
    if not is_lora_adapter(folder):
        if not (folder / "config.json").is_file():
            raise InputError(f"{run}: not a LoRA adapter, a model or a `train sft` run folder (no adapter_config.json, "
                             "config.json or model/ in it); give the run folder of `ragtune train sft`.")
        raise InputError(f"{folder} is a full model, not a LoRA adapter: there is nothing to merge; use it as is.")
    run_dir = folder.parent if folder.name == "model" else folder
    out = Path(output) if output else run_dir / "merged"
    model = load_causal_lm(folder, merge=True)
    tok = load_tokenizer(folder)
    with atomic_dir(out) as tmp:
        model.save_pretrained(str(tmp))
        tok.save_pretrained(str(tmp))
    return out
