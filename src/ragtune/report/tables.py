"""Rich tables for evaluation reports (the terminal face of `ragtune.records.EvalReport`)."""

from __future__ import annotations

from rich.text import Text

from ragtune.records import Comparison, EvalReport, ModelResult

__all__ = ["eval_table"]


def eval_table(report: EvalReport, metrics: list[str] | None = None):
    """A rich Table: one row per model, headline metric with its 95% CI, and the paired comparison. Cells are plain
    text (model names and datasets may hold brackets); colour comes from Text styles, not markup."""
    from rich.table import Table

    head = report.headline or next(iter(report.results[0].metrics))
    ks = report.ks or [10]
    first = report.results[0].metrics
    metrics = metrics or [head] + [m for m in (f"mrr@{max(ks)}", "hit@1", f"hit@{max(ks)}") if m != head and m in first]
    title = f"{report.task} on {report.dataset} ({report.num_queries} queries"
    title += f", {report.num_docs} docs)" if report.num_docs is not None else ")"
    table = Table(title=Text(title))
    table.add_column("model")
    table.add_column(Text(f"{head} [95% CI]"), justify="right")
    for m in metrics[1:]:
        table.add_column(m, justify="right")
    if "median_rank" in first:
        table.add_column("median rank", justify="right")
    table.add_column(Text(f"Δ vs {report.results[0].model} [95% CI]"), justify="right")
    table.add_column("won/lost/tied", justify="right")
    for r in report.results:
        cells = [Text(r.model), _metric_cell(r, head)] + [f"{r.metrics[m]:.3f}" for m in metrics[1:]]
        if "median_rank" in r.metrics:
            cells.append(f"{r.metrics['median_rank']:.0f}")
        cells += _comparison_cells(r.vs_first)
        table.add_row(*cells)
    return table


def _metric_cell(r: ModelResult, m: str) -> Text | str:
    v = r.metrics.get(m)
    if v is None:
        return "-"
    ci = r.ci95.get(m)
    return Text(f"{v:.3f} [{ci[0]:.3f},{ci[1]:.3f}]" if ci else f"{v:.3f}")


def _comparison_cells(c: Comparison | None) -> list[Text | str]:
    if not c:
        return ["(baseline)", "-"]
    color = "green" if c.significant and c.delta > 0 else "red" if c.significant else "yellow"
    delta = Text(f"{c.delta:+.3f} [{c.ci95[0]:+.3f},{c.ci95[1]:+.3f}]", style=color)
    return [delta, f"{c.wins}/{c.losses}/{c.ties}"]
