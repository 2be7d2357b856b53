"""Adapters over a frozen (possibly black-box) embedder, and the wrapper that applies them.

An adapter is a small torch module on top of the frozen model's L2-normalised vectors:
`linear` (identity-initialised matrix + bias) or `mlp` (a residual MLP whose output layer starts at
zero), for queries only or for queries and documents. On disk: `adapter.safetensors` + `adapter.json`.
`adapted_embedder(base, folder)` is an `Embedder` (same `encode` API, own cache fingerprint); loading an
adapter folder together with the base embedder it names is `ragtune.embedders.load_embedder(folder)`.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from ragtune.embedders.base import Embedder, Kind
from ragtune.errors import InputError
from ragtune.io import atomic_write_json

WEIGHTS = "adapter.safetensors"
CONFIG = "adapter.json"


def _torch():
    import torch

    return torch


def build_module(kind: str, dim: int, hidden: int = 512):
    """A fresh adapter module that is exactly the identity map at initialisation."""
    nn = _torch().nn
    if kind == "linear":
        m = nn.Linear(dim, dim)
        nn.init.eye_(m.weight)
        nn.init.zeros_(m.bias)
        return m
    if kind == "mlp":
        m = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))
        nn.init.zeros_(m[2].weight)
        nn.init.zeros_(m[2].bias)
        return m
    raise InputError(f"adapter kind must be 'linear' or 'mlp'; got {kind!r}")


class Adapter:
    """Query (and optionally document) modules plus the config needed to rebuild them."""

    def __init__(self, kind: str, side: str, dim: int, hidden: int = 512, seed: int = 0):
        if side not in ("query", "both"):
            raise InputError(f"adapter side must be 'query' or 'both'; got {side!r}")
        _torch().manual_seed(seed)
        self.kind, self.side, self.dim, self.hidden = kind, side, dim, hidden
        self.modules = {"query": build_module(kind, dim, hidden)}
        if side == "both":
            self.modules["document"] = build_module(kind, dim, hidden)

    def parameters(self) -> list:
        return [p for m in self.modules.values() for p in m.parameters()]

    def apply(self, x, kind: Kind):
        """Adapted, L2-normalised vectors (a torch tensor in, a tensor out); identity for an unadapted side."""
        torch = _torch()
        m = self.modules.get(kind)
        if m is None:
            return x
        y = m(x) if self.kind == "linear" else x + m(x)
        return torch.nn.functional.normalize(y, dim=-1)

    def apply_numpy(self, x: np.ndarray, kind: Kind) -> np.ndarray:
        torch = _torch()
        with torch.no_grad():
            return self.apply(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)), kind).numpy()

    def state(self) -> dict[str, Any]:
        return {f"{side}.{k}": v.detach().clone().contiguous() for side, m in self.modules.items() for k, v in m.state_dict().items()}

    def load_state(self, state: dict[str, Any]) -> None:
        for side, m in self.modules.items():
            m.load_state_dict({k.split(".", 1)[1]: v for k, v in state.items() if k.startswith(side + ".")})

    def config(self) -> dict[str, Any]:
        return {"kind": self.kind, "side": self.side, "dim": self.dim, "hidden": self.hidden}


def save_adapter(adapter: Adapter, folder: str | Path, base: dict[str, Any] | None = None) -> Path:
    """Write adapter.safetensors + adapter.json (kind, side, dim, and which base embedder it adapts)."""
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / (WEIGHTS + ".tmp")
    save_file(adapter.state(), str(tmp))
    tmp.replace(folder / WEIGHTS)
    atomic_write_json(folder / CONFIG, {**adapter.config(), "base": base or {}, "format": "ragtune-adapter/1"})
    return folder


def load_adapter(folder: str | Path) -> tuple[Adapter, dict[str, Any]]:
    """(adapter, its json config) from a folder written by `save_adapter`."""
    from safetensors.torch import load_file

    folder = Path(folder)
    if not (folder / CONFIG).is_file() or not (folder / WEIGHTS).is_file():
        raise InputError(f"{folder}: not an adapter folder (expected {CONFIG} and {WEIGHTS}).")
    cfg = json.loads((folder / CONFIG).read_text(encoding="utf-8"))
    adapter = Adapter(cfg["kind"], cfg["side"], int(cfg["dim"]), int(cfg.get("hidden", 512)))
    adapter.load_state(load_file(str(folder / WEIGHTS)))
    return adapter, cfg


def weights_hash(adapter: Adapter) -> str:
    digest = hashlib.sha256(json.dumps(adapter.config(), sort_keys=True).encode())
    for k, v in sorted(adapter.state().items()):
        digest.update(k.encode())
        digest.update(v.numpy().tobytes())
    return digest.hexdigest()[:16]


def adapted_embedder(base: Embedder, adapter: Adapter | str | Path, name: str | None = None) -> Embedder:
    """An `Embedder` that applies `adapter` on top of `base`'s (cached) vectors.

    Its fingerprint is the base fingerprint plus the adapter weights hash, so its own cache never
    mixes with the base's; the base vectors are still embedded once, ever.
    """
    if not isinstance(adapter, Adapter):
        adapter = load_adapter(adapter)[0]

    def raw_encode(texts: list[str], kind: Kind, batch_size: int, show_progress: bool) -> np.ndarray:
        vecs = base.encode(texts, kind=kind, batch_size=batch_size, show_progress=show_progress)
        if vecs.shape[1] != adapter.dim:
            raise InputError(f"adapter expects {adapter.dim}-d vectors but {base.name} gives {vecs.shape[1]}-d ones.")
        return adapter.apply_numpy(vecs, kind)

    emb = Embedder(name or f"{base.name}+adapter", f"{base.fingerprint}-ad{weights_hash(adapter)}", raw_encode, key_by_kind=True)
    emb.base = base  # type: ignore[attr-defined]
    emb.adapter = adapter  # type: ignore[attr-defined]
    return emb
