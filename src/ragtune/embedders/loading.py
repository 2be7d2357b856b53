"""Load any embedder by spec: a registry name, a local sentence-transformers folder, an adapter folder
(or its run folder) over the base embedder it names, a cached hub id, or `openai:MODEL` for a remote
OpenAI-compatible `/embeddings` endpoint. Every one is an `Embedder` with the shared disk cache.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from ragtune.assets import get_asset, ragtune_home, resolve_model
from ragtune.device import resolve_device
from ragtune.embedders.adapter import CONFIG, adapted_embedder, load_adapter
from ragtune.embedders.base import Embedder, Kind
from ragtune.errors import InputError, LLMError
from ragtune.io import atomic_write_json
from ragtune.secrets import scrub

__all__ = ["load_embedder", "load_adapted", "adapter_folder", "sentence_transformer_embedder", "openai_embedder",
           "model_fingerprint"]

_FINGERPRINT_FILES = ("*.safetensors", "*.bin", "*.json", "*.txt", "*.model", "*.npy", "*.pt")


def load_embedder(spec: str, base_url: str | None = None, api_key_env: str = "OPENAI_API_KEY", device: str | None = None) -> Embedder:
    """Any embedder by spec: registry name, local folder, adapter folder (or its run folder), cached hub id, or
    `openai:MODEL`. Registry names win over same-named local folders."""
    if isinstance(spec, Embedder):
        return spec
    spec = str(spec).strip()
    if spec.startswith("openai:"):
        return openai_embedder(spec.split(":", 1)[1], base_url=base_url, api_key_env=api_key_env)
    adapter = adapter_folder(spec)
    if adapter is not None:  # `ragtune train adapter` output: the adapter over the base embedder it names
        return load_adapted(adapter, base_url=base_url, api_key_env=api_key_env, device=device, name=spec)

    return sentence_transformer_embedder(resolve_model(spec), name=spec, device=device)


def adapter_folder(spec: str) -> Path | None:
    """The adapter folder (holds adapter.json) a spec names, itself or as its run folder; None for anything else,
    including a registry name, which wins over a same-named local folder."""
    spec = str(spec).strip()
    if get_asset(spec) is not None:
        return None
    path = Path(spec).expanduser()
    return next((p for p in (path, path / "model") if (p / CONFIG).is_file()), None)


def load_adapted(folder: str | Path, base_url: str | None = None, api_key_env: str = "OPENAI_API_KEY", device: str | None = None,
                 name: str | None = None) -> Embedder:
    """The adapted embedder described by an adapter folder (its base is read from adapter.json)."""
    adapter, cfg = load_adapter(folder)
    spec = (cfg.get("base") or {}).get("spec")
    if not spec:
        raise InputError(f"{folder}/{CONFIG} does not name its base embedder; use adapted_embedder(base, folder).")
    base_adapter = adapter_folder(spec)
    if base_adapter is not None and base_adapter.resolve() == Path(folder).resolve():
        raise InputError(f"{folder}/{CONFIG} names the adapter itself ({spec}) as its base embedder.")
    base = load_embedder(spec, base_url=base_url or cfg["base"].get("base_url"), api_key_env=api_key_env, device=device)
    return adapted_embedder(base, adapter, name=name)


def sentence_transformer_embedder(path: Path, name: str | None = None, device: str | None = None) -> Embedder:
    """A sentence-transformers folder; the model is loaded only when a text is not cached."""
    state: dict = {}

    def model():
        if "m" not in state:
            from sentence_transformers import SentenceTransformer

            state["m"] = SentenceTransformer(str(path), device=resolve_device(device), local_files_only=True)
        return state["m"]

    def raw_encode(texts: list[str], kind: Kind, batch_size: int, show_progress: bool) -> np.ndarray:
        fn = model().encode_query if kind == "query" else model().encode_document
        return fn(texts, batch_size=batch_size, show_progress_bar=show_progress, convert_to_numpy=True, normalize_embeddings=True)

    emb = Embedder(name or path.name, model_fingerprint(path), raw_encode, _st_prompts(path), key_by_kind=_st_routed(path))
    emb.path = path  # type: ignore[attr-defined]
    emb.model = model  # type: ignore[attr-defined]
    return emb


def _st_prompts(path: Path) -> dict[str, str]:
    """Query/document prompts a sentence-transformers folder declares (they change the vectors)."""
    cfg = path / "config_sentence_transformers.json"
    if not cfg.exists():
        return {}
    data = json.loads(cfg.read_text(encoding="utf-8"))
    prompts = data.get("prompts") or {}
    return {k: v for k, v in prompts.items() if k in ("query", "document") and v}


def _st_routed(path: Path) -> bool:
    """True for an asymmetric sentence-transformers folder (a Router/Asym module): its query and document
    vectors of one text differ even with no prompts, so the cache must key them apart."""
    try:
        modules = json.loads((path / "modules.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return False
    return any(str(m.get("type", "")).rsplit(".", 1)[-1] in ("Router", "Asym") for m in modules if isinstance(m, dict))


def model_fingerprint(path: Path) -> str:
    """sha256 over the model folder's weight and config files (memoised by size and mtime)."""
    files = sorted({p for pat in _FINGERPRINT_FILES for p in path.rglob(pat) if p.is_file() and not _in_checkpoint(p, path)})
    if not files:
        raise InputError(f"{path}: no model files found (expected config.json and weights).")
    stat_key = hashlib.sha256(
        "|".join(f"{p.relative_to(path)}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in files).encode()
    ).hexdigest()
    memo = _memo_path()
    known = _read_memo(memo)
    if stat_key in known:
        return known[stat_key]
    digest = hashlib.sha256()
    for p in files:
        digest.update(str(p.relative_to(path)).encode())
        with p.open("rb") as f:
            while chunk := f.read(1 << 22):
                digest.update(chunk)
    fp = "st-" + digest.hexdigest()[:24]
    known[stat_key] = fp
    _write_memo(memo, known)
    return fp


def _in_checkpoint(p: Path, root: Path) -> bool:
    return any(part.startswith(("checkpoint", "checkpoints")) for part in p.relative_to(root).parts[:-1])


def _memo_path() -> Path:
    return ragtune_home() / "fingerprints.json"


def _read_memo(path: Path) -> dict[str, str]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}


def _write_memo(path: Path, memo: dict[str, str]) -> None:
    atomic_write_json(path, memo)


def openai_embedder(model: str, base_url: str | None = None, api_key_env: str = "OPENAI_API_KEY", max_retries: int = 5) -> Embedder:
    """A remote OpenAI-compatible `/embeddings` endpoint (vLLM, TEI, Ollama, hosted APIs).

    The key is read from the environment variable `api_key_env` and never stored or logged.
    """
    base_url = base_url or os.environ.get("OPENAI_BASE_URL")
    state: dict = {}

    def client():
        if "c" not in state:
            from openai import OpenAI

            key = os.environ.get(api_key_env)
            if not key and not base_url:
                raise InputError(f"openai:{model} needs an API key in ${api_key_env} (or a --base-url of a local server).")
            state["c"] = OpenAI(api_key=key or "not-needed", base_url=base_url, max_retries=max_retries, timeout=60)
        return state["c"]

    def raw_encode(texts: list[str], kind: Kind, batch_size: int, show_progress: bool) -> np.ndarray:
        out = []
        for i in range(0, len(texts), max(1, batch_size)):
            try:
                resp = client().embeddings.create(model=model, input=texts[i : i + batch_size])
            except Exception as e:  # the SDK already retried with backoff
                detail = scrub(str(e), [os.environ.get(api_key_env) or ""])  # an auth error may echo the key
                raise LLMError(f"embeddings request to {base_url or 'the OpenAI API'} failed: {type(e).__name__}: {detail}") from None
            out.extend(d.embedding for d in sorted(resp.data, key=lambda d: d.index))
        return np.asarray(out, dtype=np.float32)

    fp = "oa-" + hashlib.sha256(f"{base_url or 'openai'}|{model}".encode()).hexdigest()[:24]
    return Embedder(f"openai:{model}", fp, raw_encode)
