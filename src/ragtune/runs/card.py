"""The run's card (card.md): what the model is, from what data, how it scored against its base, how to load it."""

from __future__ import annotations

import re
from typing import Any

from ragtune.records import EvalReport, ShipDecision

__all__ = ["card", "results_table", "hub_meta", "hub_card", "model_index"]


def results_table(report: EvalReport) -> list[str]:
    """Markdown lines: one row per model, the headline metric with its 95% CI and the paired delta vs the first."""
    head = report.headline or next(iter(report.results[0].metrics))
    has_rank = "median_rank" in report.results[0].metrics
    size = f"{report.num_queries} queries" + (f", {report.num_docs} docs" if report.num_docs is not None else "")
    lines = [f"**{report.dataset}** ({size})", "",
             f"| model | {head} | 95% CI |" + (" median rank |" if has_rank else "") + " delta vs base | won/lost/tied |",
             "|---|---|---|" + ("---|" if has_rank else "") + "---|---|"]
    for r in report.results:
        ci, c = r.ci95.get(head), r.vs_first
        delta = f"{c.delta:+.4f} [{c.ci95[0]:+.4f}, {c.ci95[1]:+.4f}]" if c else "(baseline)"
        wlt = f"{c.wins}/{c.losses}/{c.ties}" if c else "-"
        cells = [r.model, f"{r.metrics[head]:.4f}", f"[{ci[0]:.3f}, {ci[1]:.3f}]" if ci else "-"]
        cells += [f"{r.metrics['median_rank']:.0f}"] if has_rank else []
        lines.append("| " + " | ".join([*cells, delta, wlt]) + " |")
    return lines + [""]


def card(title: str, about: list[str], reports: list[EvalReport], decision: ShipDecision, load: list[str]) -> str:
    """The card text: title, what it is and what it was trained on, results per evaluation set, the decision, loading."""
    out = [f"# {title}", "", *about, ""]
    if reports:
        out += ["## Results (95% CI; paired delta vs base)", ""]
        for rep in reports:
            out += results_table(rep)
    out += ["## Decision", "", decision.reason, ""]
    if load:
        out += ["## Load", "", *load, ""]
    return "\n".join(out)


# ---------------------------------------------------------------- the Hugging Face model card (RUN/model/README.md)

_HUB = {  # job -> (library_name, pipeline_tag, tags, model-index task type)
    "embedding": ("sentence-transformers", "sentence-similarity", ["sentence-transformers", "sentence-similarity",
                                                                   "feature-extraction", "retrieval"], "retrieval"),
    "adapter": ("sentence-transformers", "sentence-similarity", ["sentence-transformers", "sentence-similarity",
                                                                 "feature-extraction", "retrieval", "adapter"], "retrieval"),
    "reranker": ("sentence-transformers", "text-ranking", ["sentence-transformers", "cross-encoder", "reranker",
                                                           "text-ranking"], "text-ranking"),
    "sft": ("peft", "text-generation", ["peft", "lora", "sft", "text-generation"], "text-generation"),
    "distill": ("peft", "text-generation", ["peft", "lora", "sft", "distillation", "text-generation"], "text-generation"),
}
_ABSOLUTE = re.compile(r"(?<![\w.~:])/(?:[\w.+@-]+/)+([\w.+@-]+)")
_LICENSE = re.compile(r"\((Apache-2\.0|MIT|CC[- ]BY[^;),]*)")


def hub_meta(job: str, config: Any, model: str | None = None) -> dict[str, Any]:
    """library_name, pipeline_tag, tags, base_model and license for a job's model; a base that is not a registry
    model (a local folder) is left out rather than named by a machine path."""
    from ragtune.assets import get_asset

    kind = {"run": "adapter" if model == "adapter" else "embedding"}.get(job, job)
    library, pipeline, tags, task = _HUB.get(kind, (None, None, [kind], kind))  # a job not listed: no guessed library
    if kind == "sft" and getattr(config, "full", False):
        library, tags = "transformers", [t for t in tags if t not in ("peft", "lora")]
    meta: dict[str, Any] = {"tags": ["ragtune", *tags], "task": task}
    meta.update({k: v for k, v in (("library_name", library), ("pipeline_tag", pipeline)) if v})
    spec = getattr(config, "model", None)
    asset = get_asset(str(spec)) if spec else None
    if asset is not None:
        hub_id = next((a for a in asset.aliases if "/" in a), None)
        if hub_id:
            meta["base_model"] = hub_id
        found = _LICENSE.search(asset.description)
        if found:
            meta["license"] = found.group(1).strip().lower().replace(" ", "-")
    return meta


def model_index(title: str, task: str, results: dict[str, dict[str, float]]) -> list[dict[str, Any]]:
    """The card's `model-index`: one result per evaluation set, its metrics exactly as metrics.json holds them."""
    return [{"name": title, "results": [
        {"task": {"type": task}, "dataset": {"name": name, "type": name},
         "metrics": [{"type": key, "name": key, "value": float(value)} for key, value in metrics.items()]}
        for name, metrics in results.items()]}]


def hub_card(meta: dict[str, Any], title: str, results: dict[str, dict[str, float]], text: str,
             hide: dict[str, str] | None = None) -> str:
    """README.md in the Hugging Face model-card format: YAML front matter, then the card text (machine paths hidden)."""
    import yaml

    front = {k: meta[k] for k in ("base_model", "library_name", "license", "pipeline_tag", "tags") if k in meta}
    if results:
        front["model-index"] = model_index(title, meta.get("task", "retrieval"), results)
    body = text
    for path in sorted((h for h in (hide or {}) if len(h) > 1), key=len, reverse=True):  # longest first
        body = body.replace(path, (hide or {})[path])
    body = _ABSOLUTE.sub(lambda m: m.group(1), body)  # any other absolute path: its last part only
    return "---\n" + yaml.safe_dump(front, sort_keys=False, allow_unicode=True) + "---\n\n" + body.rstrip() + "\n"
