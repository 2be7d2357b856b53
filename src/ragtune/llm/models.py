"""Load a causal chat LM by spec: a registry name, a model folder, a LoRA adapter folder or a run folder.

One loader for training, evaluation, chat and in-process generation, on the device given (`auto`: the
best available; see ragtune.device).
"""

from __future__ import annotations

from pathlib import Path

from ragtune.assets import base_of, is_lora_adapter, model_folder
from ragtune.device import bf16_supported, resolve_device

__all__ = ["load_causal_lm", "plain_config"]


def plain_config(folder: Path):
    """The model config without a stale GGUF `quantization_config`.

    A GGUF converted to a transformers folder is already dequantized float32, but its config.json
    still names the GGUF file; transformers then treats the model as quantized and refuses to train it.
    """
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(str(folder))
    quant = getattr(config, "quantization_config", None)
    if isinstance(quant, dict) and quant.get("quant_method") == "gguf":
        del config.quantization_config
    return config


def load_causal_lm(spec: str | Path, trainable: bool = False, device: str | None = None, merge: bool = False,
                   bf16: bool = False):
    """A causal LM on `device` (auto: the best available) in float32 (`bf16` where the device supports it): the base with the LoRA adapter applied when the spec is one (`merge` folds the
    adapter into the weights, for fast inference)."""
    import torch
    from transformers import AutoModelForCausalLM

    folder = model_folder(spec)
    device = resolve_device(device)
    base_folder = base_of(spec)
    base = AutoModelForCausalLM.from_pretrained(str(base_folder), config=plain_config(base_folder),
                                                dtype=torch.bfloat16 if bf16 and bf16_supported(device) else torch.float32).to(device)
    if not is_lora_adapter(folder):
        return base
    from peft import PeftModel

    model = PeftModel.from_pretrained(base, str(folder), is_trainable=trainable)
    return model.merge_and_unload() if merge else model
