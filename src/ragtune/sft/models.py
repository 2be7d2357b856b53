"""Load chat models for training, evaluation and chat: a full model folder or a LoRA adapter folder.

`--model` accepts a registry name (`smollm2-135m-instruct`), a model folder, a PEFT adapter folder
(`RUN/model/` of `ragtune train sft`), or a run folder (its `model/` is used).
"""

from __future__ import annotations

import json
from pathlib import Path

from ragtune.errors import InputError

BASE_FILE = "ragtune_base.json"  # written next to an adapter: which base model spec it was trained on


def model_folder(spec: str | Path) -> Path:
    """A spec resolved to a local folder; a run folder means its `model/`."""
    from ragtune.assets import resolve_model

    path = Path(str(spec)).expanduser()
    if path.is_dir() and not _is_model(path) and (path / "model").is_dir():
        return (path / "model").resolve()
    if path.is_dir() and not _is_model(path) and (path / "metrics.json").exists():
        reason = json.loads((path / "metrics.json").read_text()).get("refused", "no model/ folder")
        raise InputError(f"run {path} has no model/ to load: {reason}")
    return resolve_model(str(spec))


def _is_model(path: Path) -> bool:
    """A transformers model folder (config.json with a model_type) or a PEFT adapter folder.

    A run folder also has a config.json (the run's configuration), which is not a model config.
    """
    if (path / "adapter_config.json").exists():
        return True
    config = path / "config.json"
    return config.exists() and "model_type" in json.loads(config.read_text(encoding="utf-8"))


def is_adapter(folder: Path) -> bool:
    return (folder / "adapter_config.json").exists()


def base_of(spec: str | Path) -> Path:
    """The full-model folder behind a spec (the base model of an adapter, else the model itself)."""
    from ragtune.assets import resolve_model

    folder = model_folder(spec)
    if not is_adapter(folder):
        return folder
    if (folder / BASE_FILE).exists():
        return resolve_model(json.loads((folder / BASE_FILE).read_text())["base_model"])
    base = json.loads((folder / "adapter_config.json").read_text()).get("base_model_name_or_path")
    if not base:
        raise InputError(f"adapter {folder} names no base model (adapter_config.json base_model_name_or_path).")
    return resolve_model(base)


def load_tokenizer(spec: str | Path):
    """The tokenizer saved with the model (or with its base), padding on the left for generation."""
    from transformers import AutoTokenizer

    folder = model_folder(spec)
    source = folder if (folder / "tokenizer_config.json").exists() else base_of(spec)
    tok = AutoTokenizer.from_pretrained(str(source))
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


def _plain_config(folder: Path):
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


def load_model(spec: str | Path, trainable: bool = False):
    """A causal LM in float32 on CPU (or the first GPU): the base with the adapter applied if it is one."""
    import torch
    from transformers import AutoModelForCausalLM

    folder = model_folder(spec)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    base_folder = base_of(spec)
    base = AutoModelForCausalLM.from_pretrained(str(base_folder), config=_plain_config(base_folder),
                                                dtype=torch.float32).to(device)
    if not is_adapter(folder):
        return base
    from peft import PeftModel

    return PeftModel.from_pretrained(base, str(folder), is_trainable=trainable)
