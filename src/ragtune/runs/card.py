"""The run's card (card.md): what the model is, from what data, how it scored against its base, how to load it."""

from __future__ import annotations

from ragtune.records import EvalReport, ShipDecision

__all__ = ["card", "results_table"]


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
