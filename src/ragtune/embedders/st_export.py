"""Export a ragtune adapter as a self-contained sentence-transformers model.

    from ragtune.embedders.st_export import export_sentence_transformer
    export_sentence_transformer("runs/adapter/model", "exported/")
    SentenceTransformer("exported/").encode_query([...])   # plain sentence-transformers, no ragtune import

The exported folder is one asymmetric sentence-transformers model (a `Router` with a "query" and a
"document" route; loading needs sentence-transformers >= 6.0, whose module paths it records). Both routes start with the SAME base modules
(Transformer, Pooling, ... saved once, shared on load), then `Normalize` (ragtune adapts the base
model's L2-normalised vectors), then the adapter written with stock modules only:

- `linear` (`normalize(W x + b)`): `Dense(d -> d, bias, identity activation)` -> `Normalize`.
- `mlp` (`normalize(x + W2 gelu(W1 x + b1) + b2)`): two stock `Dense` layers through a widened
  `d + hidden` space. The first uses `use_residual=True`, so its output is
  `gelu([0; W1] x + [0; b1]) + [I; 0] x = [x; gelu(W1 x + b1)]` (exact: gelu(0) = 0); the second,
  `Dense(d + hidden -> d, identity)` with weight `[I | W2]` and bias `b2`, gives `x + W2 g + b2`.
  Then `Normalize`.

A side the adapter leaves alone (documents, for a `query` adapter) is the base pipeline plus
`Normalize`. Only torch / sentence-transformers classes are written, so `SentenceTransformer(path)`
loads the folder offline without `trust_remote_code` and without ragtune installed.

The export checks itself: it reloads the written folder and compares both routes with the base model
plus the adapter on a few probe texts, and refuses to leave a folder that disagrees.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from ragtune.assets import resolve_model
from ragtune.device import resolve_device
from ragtune.embedders.adapter import CONFIG, WEIGHTS, Adapter, load_adapter
from ragtune.errors import InputError, RagtuneError

EXPORT_NOTE = "EXPORT.md"
EXPORT_INFO = "ragtune_export.json"
TOLERANCE = 1e-5
PROBES = ["what is the permit fee for a garage?", "The roof must be inspected before the window is replaced.",
          "a", "Heating systems in old kitchens: balcony, fence and roof rules. " * 60]  # the last one is truncated


def export_sentence_transformer(adapter_folder: str | Path, output_folder: str | Path, base_path: str | Path | None = None,
                                overwrite: bool = False, verify: bool = True, device: str = "auto") -> Path:
    """Write adapter + base as one sentence-transformers model folder; returns the folder.

    `base_path` is the base sentence-transformers folder (default: the `base.spec` recorded in adapter.json,
    resolved like any ragtune model spec). `output_folder` must not exist (or be empty) unless `overwrite`.
    With `verify` (the default) the written folder is reloaded and both routes must match base + adapter
    within 1e-5 on probe texts. The folder also gets EXPORT.md (how each route is built) and
    ragtune_export.json (provenance), never adapter.json (ragtune would then load it as an adapter folder).
    """
    from sentence_transformers import SentenceTransformer

    adapter_folder = Path(adapter_folder).expanduser()
    adapter, cfg = load_adapter(adapter_folder)
    output = Path(output_folder).expanduser()
    _check_output(output, adapter_folder, overwrite)
    base_dir = _base_folder(cfg, base_path, adapter_folder)

    base = SentenceTransformer(str(base_dir), device=resolve_device(device), local_files_only=True)
    routes, note_routes = _build_routes(base, adapter, base_dir)
    model = _routed_model(base, routes)

    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{output.name}.", dir=output.parent))
    try:
        model.save(str(tmp), create_model_card=False)
        info = _export_info(adapter, cfg, adapter_folder, base_dir, base, note_routes)
        if verify:
            info["verified_max_abs_diff"] = verify_export(tmp, base, adapter)
        (tmp / EXPORT_INFO).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
        (tmp / EXPORT_NOTE).write_text(export_note(info), encoding="utf-8")
        if output.exists():
            shutil.rmtree(output)
        tmp.replace(output)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return output


def _check_output(output: Path, adapter_folder: Path, overwrite: bool) -> None:
    out, ad = output.resolve(), adapter_folder.resolve()
    if out == ad or out in ad.parents:
        raise InputError(f"output folder {output} holds the adapter folder {adapter_folder}; export into another folder.")
    if output.exists():
        if not output.is_dir():
            raise InputError(f"output {output} is a file; give a folder.")
        if any(output.iterdir()) and not overwrite:
            raise InputError(f"output folder {output} is not empty; pass overwrite=True to replace it.")


def _base_folder(cfg: dict[str, Any], base_path: str | Path | None, adapter_folder: Path) -> Path:
    """The local sentence-transformers folder of the adapter's base model."""
    spec = str(base_path) if base_path is not None else str((cfg.get("base") or {}).get("spec") or "")
    if not spec:
        raise InputError(f"{adapter_folder}/{CONFIG} does not name its base model; pass base_path=<sentence-transformers folder>.")
    if spec.startswith("openai:"):
        raise InputError(f"the adapter's base is the remote embedder {spec}; only an adapter over a local "
                         "sentence-transformers model can be exported as one (pass base_path if you have its weights).")
    folder = resolve_model(spec)
    if (folder / CONFIG).is_file() or (folder / "model" / CONFIG).is_file():
        raise InputError(f"base {spec} is itself an adapter folder; export needs the base sentence-transformers model.")
    return folder


def _build_routes(base, adapter: Adapter, base_dir: Path) -> tuple[dict[str, list], dict[str, str]]:
    """Module lists for the query and document routes (base modules shared) and their one-line descriptions."""
    from sentence_transformers.base.modules import Normalize, Router

    base_modules = list(base.children())
    if any(isinstance(m, Router) for m in base_modules):
        raise InputError(f"base model {base_dir} is already asymmetric (it has a Router); exporting an adapter over it "
                         "is not supported.")
    if any((getattr(base, "module_kwargs", None) or {}).values()):
        raise InputError(f"base model {base_dir} passes per-module keyword arguments (modules.json 'kwargs'), which a "
                         "Router route does not forward; not supported.")
    if base.truncate_dim is not None:
        raise InputError(f"base model {base_dir} truncates its vectors (truncate_dim={base.truncate_dim}), which "
                         "sentence-transformers does after the last module, i.e. after the adapter; not supported.")
    dim = base.get_embedding_dimension()
    if dim != adapter.dim:
        raise InputError(f"adapter expects {adapter.dim}-d vectors but base model {base_dir} gives {dim}-d ones.")
    shared = base_modules if isinstance(base_modules[-1], Normalize) else base_modules + [Normalize()]
    shared_text = " -> ".join(type(m).__name__ for m in shared)
    routes, notes = {}, {}
    for side in ("query", "document"):
        module = adapter.modules.get(side)
        if module is None:
            routes[side], notes[side] = list(shared), f"{shared_text} (the base model, unchanged)"
            continue
        extra, text = _adapter_modules(adapter.kind, module, adapter.dim, adapter.hidden)
        routes[side], notes[side] = shared + extra, f"{shared_text} -> {text}"
    return routes, notes


def _adapter_modules(kind: str, module, dim: int, hidden: int) -> tuple[list, str]:
    """Stock sentence-transformers modules computing exactly ragtune's `Adapter.apply` for one side."""
    import torch
    from sentence_transformers.base.modules import Dense, Normalize

    with torch.no_grad():
        if kind == "linear":
            dense = Dense(dim, dim, bias=True, activation_function=torch.nn.Identity(),
                          init_weight=module.weight.detach().clone().float(), init_bias=module.bias.detach().clone().float())
            return [dense, Normalize()], f"Dense({dim}->{dim}, bias, identity: W x + b) -> Normalize"
        if kind == "mlp":
            first, second = module[0], module[2]
            if not isinstance(module[1], torch.nn.GELU) or module[1].approximate != "none":
                raise InputError(f"mlp adapter activation {module[1]!r} is not the exact GELU this export writes.")
            wide = dim + hidden
            w1 = torch.cat([torch.zeros(dim, dim), first.weight.detach().float()])  # (d + h, d)
            b1 = torch.cat([torch.zeros(dim), first.bias.detach().float()])
            up = Dense(dim, wide, bias=True, activation_function=torch.nn.GELU(), init_weight=w1, init_bias=b1, use_residual=True)
            up.residual.weight.copy_(torch.cat([torch.eye(dim), torch.zeros(hidden, dim)]))  # carries x through unchanged
            w2 = torch.cat([torch.eye(dim), second.weight.detach().float()], dim=1)  # (d, d + h)
            down = Dense(wide, dim, bias=True, activation_function=torch.nn.Identity(), init_weight=w2,
                         init_bias=second.bias.detach().clone().float())
            text = (f"Dense({dim}->{wide}, GELU, use_residual: [x; gelu(W1 x + b1)]) -> "
                    f"Dense({wide}->{dim}, identity: x + W2 h + b2) -> Normalize")
            return [up, down, Normalize()], text
    raise InputError(f"adapter kind must be 'linear' or 'mlp'; got {kind!r}")


def _routed_model(base, routes: dict[str, list]):
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.base.modules import Router

    router = Router.for_query_document(query_modules=routes["query"], document_modules=routes["document"], default_route="document")
    return SentenceTransformer(modules=[router], device=str(base.device), prompts=dict(base.prompts),
                               default_prompt_name=base.default_prompt_name, similarity_fn_name=base.similarity_fn_name)


def reference_vectors(base, adapter: Adapter, texts: list[str], side: str) -> np.ndarray:
    """What ragtune's adapted embedder gives: the base model's normalised vectors, then the adapter."""
    fn = base.encode_query if side == "query" else base.encode_document
    x = fn(texts, convert_to_numpy=True, normalize_embeddings=True)
    x = x / np.clip(np.linalg.norm(x, axis=1, keepdims=True), 1e-12, None)
    return adapter.apply_numpy(x, side)


def verify_export(folder: str | Path, base, adapter: Adapter, texts: list[str] | None = None) -> dict[str, float]:
    """Reload an exported folder with plain sentence-transformers; max abs difference per route (raises above 1e-5)."""
    from sentence_transformers import SentenceTransformer

    texts = list(texts or PROBES)
    exported = SentenceTransformer(str(folder), device=str(base.device), local_files_only=True)
    diffs = {}
    for side in ("query", "document"):
        fn = exported.encode_query if side == "query" else exported.encode_document
        got = fn(texts, convert_to_numpy=True, normalize_embeddings=False)
        diffs[side] = float(np.abs(got - reference_vectors(base, adapter, texts, side)).max())
    if max(diffs.values()) >= TOLERANCE:
        raise RagtuneError(f"exported model disagrees with base + adapter (max abs difference {diffs}); nothing was written.")
    return diffs


def _export_info(adapter: Adapter, cfg: dict[str, Any], adapter_folder: Path, base_dir: Path, base, routes: dict[str, str]) -> dict:
    import sentence_transformers

    return {
        "format": "ragtune-st-export/1",
        "adapter": {**adapter.config(), "folder": str(adapter_folder.resolve()), "files": [CONFIG, WEIGHTS]},
        "base": {"spec": (cfg.get("base") or {}).get("spec"), "fingerprint": (cfg.get("base") or {}).get("fingerprint"),
                 "folder": str(base_dir), "prompts": dict(base.prompts), "default_prompt_name": base.default_prompt_name},
        "routes": routes,
        "default_route": "document",
        "sentence_transformers": sentence_transformers.__version__,
    }


def export_note(info: dict[str, Any]) -> str:
    """EXPORT.md: which routes were expressed and how, for the model card."""
    ad, base = info["adapter"], info["base"]
    lines = [
        "# ragtune adapter exported as a sentence-transformers model",
        "",
        f"Adapter: kind `{ad['kind']}`, side `{ad['side']}`, {ad['dim']}-d"
        + (f", hidden {ad['hidden']}" if ad["kind"] == "mlp" else "") + f"; base model `{base['spec']}`"
        + (f" (fingerprint {base['fingerprint']})" if base.get("fingerprint") else "") + ".",
        "Both routes share the base model's modules (saved once). Every adapter kind and side is expressed with stock",
        "modules; nothing was left out. No `trust_remote_code`, no ragtune import needed to load it.",
        "",
        f"- query route: {info['routes']['query']}",
        f"- document route: {info['routes']['document']}",
        "",
        "Use `model.encode_query(...)` for queries and `model.encode_document(...)` for documents: they pick the route",
        "(and the model's query/document prompt, if any). Plain `model.encode(...)` takes the default route, "
        f"`{info['default_route']}`, with no query/document prompt; `encode(..., task=\"query\")` takes the query route.",
        "Output vectors are L2-normalised. Loading needs sentence-transformers >= 6.0 (the module paths written here);"
        f" written with {info['sentence_transformers']}.",
    ]
    if "verified_max_abs_diff" in info:
        d = info["verified_max_abs_diff"]
        lines += ["", f"Checked at export against base + adapter: max abs difference query {d['query']:.2e}, "
                      f"document {d['document']:.2e}."]
    return "\n".join(lines) + "\n"
