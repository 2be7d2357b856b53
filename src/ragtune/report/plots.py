"""Plots as inline SVG (matplotlib, Agg backend, no network): each returns the <svg> element as text.

The SVG carries no XML declaration, no DOCTYPE, no metadata and no namespace URLs, so the page that
inlines it holds no external address (HTML5 puts an inline <svg> in the SVG namespace by itself).
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Sequence

__all__ = ["bar_ci", "delta_ci", "histogram", "curve", "bars"]

BLUE, GREEN, RED, GREY = "#3465a4", "#2e8b57", "#c0392b", "#888888"


def _figure(width: float = 6.4, height: float = 3.2):
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    matplotlib.rcParams.update({"svg.fonttype": "none", "svg.hashsalt": "ragtune", "font.size": 9})
    fig, ax = plt.subplots(figsize=(width, height))
    return plt, fig, ax


def _svg(plt, fig) -> str:
    buf = io.StringIO()
    fig.tight_layout()
    fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None, "Format": None, "Type": None})
    plt.close(fig)
    text = buf.getvalue()
    text = text[text.index("<svg"):]
    text = re.sub(r"<metadata>.*?</metadata>", "", text, flags=re.S)
    text = re.sub(r'\s+xmlns(:\w+)?="[^"]*"', "", text)
    return text.strip()


def bar_ci(labels: Sequence[str], values: Sequence[float], cis: Sequence[Sequence[float] | None], metric: str, title: str) -> str:
    """One bar per model with its 95% interval as an error bar."""
    plt, fig, ax = _figure(6.4, 0.6 + 0.45 * max(2, len(labels)))
    lo = [v - (c[0] if c else v) for v, c in zip(values, cis)]
    hi = [(c[1] if c else v) - v for v, c in zip(values, cis)]
    ys = list(range(len(labels)))[::-1]
    ax.barh(ys, values, xerr=[lo, hi], color=[GREY] + [BLUE] * (len(labels) - 1), capsize=4, height=0.6)
    ax.set_yticks(ys, labels=list(labels))
    for y, v, c in zip(ys, values, cis):
        ax.text((c[1] if c else v), y, f"  {v:.3f}", va="center", ha="left", fontsize=8)
    ax.set_xlabel(f"{metric} (bars: 95% CI)")
    ax.set_title(title)
    ax.set_xlim(0, max(1.0, max((c[1] for c in cis if c), default=1.0)) if metric != "loss" else None)
    return _svg(plt, fig)


def delta_ci(labels: Sequence[str], deltas: Sequence[float], cis: Sequence[Sequence[float]], metric: str, title: str,
             lower_is_better: bool = False) -> str:
    """Paired difference to the baseline with its 95% interval, one row per model; 0 marked."""
    plt, fig, ax = _figure(6.4, 0.7 + 0.45 * max(2, len(labels)))
    ys = list(range(len(labels)))[::-1]
    for y, d, c in zip(ys, deltas, cis):
        good = (c[1] < 0) if lower_is_better else (c[0] > 0)
        bad = (c[0] > 0) if lower_is_better else (c[1] < 0)
        color = GREEN if good else RED if bad else GREY
        ax.errorbar([d], [y], xerr=[[d - c[0]], [c[1] - d]], fmt="o", color=color, capsize=5)
        ax.text(d, y + 0.15, f"{d:+.4f} [{c[0]:+.4f}, {c[1]:+.4f}]", ha="center", va="bottom", fontsize=8)
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(ys, labels=list(labels))
    ax.set_ylim(-0.6, len(labels) - 0.3)
    ax.set_xlabel(f"{metric} minus the baseline's (paired 95% CI)")
    ax.set_title(title)
    return _svg(plt, fig)


def histogram(deltas: Sequence[float], metric: str, title: str) -> str:
    """Distribution of per-query changes; the ties (0) are counted in the title, not drawn as one huge bar."""
    plt, fig, ax = _figure()
    changed = [d for d in deltas if d != 0]
    ties = len(deltas) - len(changed)
    if changed:
        lim = max(abs(d) for d in changed)
        bins = [(-lim + 2 * lim * i / 20) for i in range(21)]
        ax.hist([d for d in changed if d < 0], bins=bins, color=RED, label="hurt")
        ax.hist([d for d in changed if d > 0], bins=bins, color=GREEN, label="helped")
        ax.legend()
    ax.axvline(0, color="black", lw=0.8)
    ax.set_xlabel(f"per-query change in {metric}")
    ax.set_ylabel("queries")
    ax.set_title(f"{title} ({len(changed)} changed, {ties} unchanged not drawn)")
    return _svg(plt, fig)


def curve(rows: list[dict], x: str, left: Sequence[str], right: Sequence[str], title: str) -> str:
    """Training curve: `left` series (losses) on the left axis, `right` (validation metrics) on a second axis."""
    plt, fig, ax = _figure(6.4, 3.4)
    colors = [BLUE, "#8e44ad", "#e67e22", GREEN, RED, "#16a085"]
    lines = []
    for i, key in enumerate(left):
        pts = [(r[x], r[key]) for r in rows if r.get(x) is not None and _finite(r.get(key))]
        if pts:
            lines += ax.plot(*zip(*pts), marker=".", color=colors[i % 6], label=key)
    ax.set_xlabel(x)
    ax.set_ylabel("loss")
    if right:
        ax2 = ax.twinx()
        for j, key in enumerate(right):
            pts = [(r[x], r[key]) for r in rows if r.get(x) is not None and _finite(r.get(key))]
            if pts:
                lines += ax2.plot(*zip(*pts), marker="o", ls="--", color=colors[(len(left) + j) % 6], label=key)
        ax2.set_ylabel("validation metric")
    if lines:
        ax.legend(lines, [ln.get_label() for ln in lines], fontsize=8, loc="best")
    ax.set_title(title)
    return _svg(plt, fig)


def bars(labels: Sequence[str], values: Sequence[float], xlabel: str, title: str, color: str = BLUE) -> str:
    """Plain horizontal bars with their values (dropped candidates by reason, stage seconds, losses)."""
    plt, fig, ax = _figure(6.4, 0.6 + 0.32 * max(2, len(labels)))
    ys = list(range(len(labels)))[::-1]
    ax.barh(ys, values, color=color, height=0.6)
    ax.set_yticks(ys, labels=list(labels))
    for y, v in zip(ys, values):
        ax.text(v, y, f" {v:g}", va="center", fontsize=8)
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    ax.margins(x=0.15)
    return _svg(plt, fig)


def _finite(v) -> bool:
    return isinstance(v, (int, float)) and math.isfinite(v)
