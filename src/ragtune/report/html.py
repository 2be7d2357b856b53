"""`ragtune report`: one self-contained, offline HTML page per run (or per evaluation report, or comparing runs).

Every number comes from the run's own files, read with the `ragtune.records` readers (metrics.json,
eval/NAME.json) or as the job wrote them (a stage's curve); nothing is recomputed except the per-query
differences, taken from the report's own per-query values. Texts (query, gold passage) come from the
evaluation set the report names. Plots are inline SVG; the page has no script and no external address.

Each plot sits in an element with a stable id (`plot-headline-SET`, `plot-delta-SET`, `plot-perquery-SET`,
`plot-curve-STAGE`, `plot-dropped`, `plot-seconds`, `plot-heldout-loss`, `plot-latency`, `plot-compare-SET`),
so tests and people can find it.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any

from ragtune.errors import InputError
from ragtune.io import atomic_write_text
from ragtune.records import EvalReport, RunMetrics, ShipDecision, read_metrics, read_report
from ragtune.report import plots
from ragtune.secrets import scrub

__all__ = ["write_html", "check_targets", "render_run", "render_report", "render_comparison", "expected_plot_ids", "default_output"]

TOP = 5
CUT = 300
CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0 auto;max-width:1000px;padding:1.5em;color:#222}
h1{font-size:1.6em;margin-bottom:.2em} h2{border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
h3{margin-top:1.2em} table{border-collapse:collapse;margin:.6em 0;font-size:.9em} td,th{border:1px solid #ccc;padding:.25em .5em;vertical-align:top}
th{background:#f3f3f3} td.num{text-align:right;font-variant-numeric:tabular-nums} figure{margin:.6em 0}
svg{max-width:100%;height:auto} .verdict{padding:.8em 1em;border-radius:6px;margin:1em 0;font-size:1.05em}
.ship{background:#e6f4ea;border:1px solid #2e8b57} .refuse{background:#fdecea;border:1px solid #c0392b}
.cannot_judge{background:#fff6e0;border:1px solid #e6a700} .muted{color:#666;font-size:.9em}
.passage{color:#444;font-size:.85em} .pos{color:#2e8b57} .neg{color:#c0392b}
"""


# ---------------------------------------------------------------- entry point

def default_output(targets: list[Path]) -> Path:
    """RUN/report.html for one run; a report FILE.json gets FILE.html; several runs: RUN1/compare.html."""
    first = targets[0]
    if len(targets) > 1:
        return (first if first.is_dir() else first.parent) / "compare.html"
    return first / "report.html" if first.is_dir() else first.with_suffix(".html")


def check_targets(targets: list[str | Path] | str | Path) -> list[Path]:
    """The run folders / report files to render, each checked: it exists and is finished."""
    paths = [Path(t) for t in (targets if isinstance(targets, list) else [targets])]
    if not paths:
        raise InputError("give at least one run folder or evaluation report (.json).")
    for p in paths:
        if not p.exists():
            raise InputError(f"{p}: no such run folder or report file.")
        if p.is_dir() and not (p / "metrics.json").is_file():
            raise InputError(f"{p}: not a finished ragtune run (no metrics.json); finish or resume the run first.")
    return paths


def write_html(targets: list[str | Path] | str | Path, output: str | Path | None = None) -> Path:
    """Render run folders (or evaluation-report JSON files) to one HTML page; returns its path."""
    paths = check_targets(targets)
    out = Path(output) if output else default_output(paths)
    if len(paths) == 1:
        page = render_run(paths[0]) if paths[0].is_dir() else render_report(paths[0])
    else:
        page = render_comparison(paths)
    return atomic_write_text(out, page)


# ---------------------------------------------------------------- page parts

def _e(text: Any) -> str:
    """Escaped text; addresses in data are broken up so the page holds no external URL."""
    return html.escape(scrub(str(text))).replace("://", ":&#8203;//")


def _page(title: str, body: list[str]) -> str:
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{_e(title)}</title>"
            f"<style>{CSS}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")


def _fig(pid: str, svg: str, caption: str = "") -> str:
    cap = f"<figcaption class=\"muted\">{_e(caption)}</figcaption>" if caption else ""
    return f"<figure id=\"{_id(pid)}\" class=\"plot\">{svg}{cap}</figure>"


def _id(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-")


def _table(head: list[str], rows: list[list[Any]], num_from: int = 1) -> str:
    out = ["<table><tr>" + "".join(f"<th>{_e(h)}</th>" for h in head) + "</tr>"]
    for row in rows:
        cells = [f"<td class=\"num\">{c}</td>" if i >= num_from else f"<td>{c}</td>"
                 for i, c in enumerate(_e(x) if not isinstance(x, _Raw) else x for x in row)]
        out.append("<tr>" + "".join(cells) + "</tr>")
    return "".join(out) + "</table>"


class _Raw(str):
    """Table cell HTML that is already escaped."""


def _verdict(d: ShipDecision, title: str = "Verdict") -> str:
    word = {"ship": "shipped", "refuse": "refused", "cannot_judge": "cannot judge"}[d.verdict]
    ci = f" [{d.ci95[0]:+.4f}, {d.ci95[1]:+.4f}]" if d.ci95 else ""
    delta = f"{d.delta:+.4f}" if d.delta is not None else "n/a"
    return (f"<div id=\"verdict\" class=\"verdict {d.verdict}\"><b>{_e(title)}: {_e(d.model)} {word}</b> — rule "
            f"<code>{_e(d.rule)}</code>, decided by the {_e(d.decided_by)} ({_e(d.dataset)}): {_e(d.metric)} "
            f"{delta}{_e(ci)}.<br>{_e(d.reason)}</div>")


# ---------------------------------------------------------------- one run

def render_run(folder: str | Path) -> str:
    folder = Path(folder)
    metrics = read_metrics(folder)
    reports = _eval_reports(folder)
    what = "ragtune run" if metrics.job == "run" else f"ragtune train {metrics.job}"
    body = [f"<h1>{_e(what)}: {_e(folder.resolve().name)}</h1>",
            f"<p class=\"muted\">Run folder <code>{_e(folder.name)}</code>; every number below is read from its "
            "metrics.json and eval/*.json.</p>",
            _verdict(metrics.decision)]
    body += _stage_decisions(metrics)
    body += _run_sections(folder, metrics, reports)
    return _page(f"ragtune {metrics.job}: {folder.name}", body)


def _run_sections(folder: Path, metrics: RunMetrics, reports: dict[str, EvalReport]) -> list[str]:
    extra = metrics.model_extra or {}
    body: list[str] = []
    if metrics.job == "sft" or any(r.task == "sft" for r in reports.values()):
        body += _sft_sections(folder, metrics, reports)
    else:
        for name, rep in reports.items():
            body += _report_sections(rep, name, folder, _candidate(rep, metrics.decision))
        body += _curves(folder, metrics)
    body += _data_sections(extra)
    return body


def _stage_decisions(metrics: RunMetrics) -> list[str]:
    stages = (metrics.model_extra or {}).get("decisions")
    if not stages:
        return []
    rows = []
    for label, d in stages.items():
        d = ShipDecision.model_validate(d)
        ci = f"[{d.ci95[0]:+.4f}, {d.ci95[1]:+.4f}]" if d.ci95 else "-"
        rows.append([label, d.verdict.replace("_", " "), f"{d.delta:+.4f}" if d.delta is not None else "-", ci, d.reason])
    return ["<h3>Each stage's decision</h3>", _table(["stage", "verdict", "delta", "95% CI", "reason"],
                                                    [[*r[:2], _Raw(f"<span class=\"num\">{_e(r[2])}</span>"), *r[3:]] for r in rows],
                                                    num_from=99)]


def _eval_reports(folder: Path) -> dict[str, EvalReport]:
    """eval/NAME.json, the validation split first."""
    files = sorted((folder / "eval").glob("*.json"), key=lambda p: (p.stem != "val", p.stem))
    return {p.stem: read_report(p) for p in files}


def _candidate(rep: EvalReport, decision: ShipDecision | None) -> str | None:
    labels = [r.model for r in rep.results]
    if decision is not None and decision.model in labels[1:]:
        return decision.model
    return labels[-1] if len(labels) > 1 else None


# ---------------------------------------------------------------- one evaluation set

def render_report(path: str | Path) -> str:
    """The page of one evaluation report (`ragtune eval ... --json FILE`)."""
    rep = read_report(path)
    body = [f"<h1>ragtune eval {_e(rep.task)} on {_e(rep.dataset)}</h1>",
            f"<p class=\"muted\">From <code>{_e(Path(path).name)}</code>.</p>"]
    if rep.task == "sft":
        body += _sft_report_table(rep, Path(path).stem)
        body += _side_by_side_file(Path(path).with_suffix(".samples.jsonl"))
    else:
        body += _report_sections(rep, Path(path).stem, None, _candidate(rep, None))
    return _page(f"ragtune eval {rep.task}: {rep.dataset}", body)


def _report_sections(rep: EvalReport, name: str, folder: Path | None, candidate: str | None) -> list[str]:
    head = rep.headline or next(iter(rep.results[0].metrics))
    size = f"{rep.num_queries} queries" + (f", {rep.num_docs} docs" if rep.num_docs is not None else "")
    body = [f"<h2 id=\"set-{_id(name)}\">{_e(rep.dataset)} <span class=\"muted\">({_e(name)}: {size})</span></h2>"]
    labels = [r.model for r in rep.results]
    body.append(_fig(f"plot-headline-{name}", plots.bar_ci(labels, [r.metrics[head] for r in rep.results],
                                                           [r.ci95.get(head) for r in rep.results], head,
                                                           f"{head} per model on {rep.dataset}")))
    body.append(_results_table(rep, head))
    compared = [r for r in rep.results if r.vs_first]
    if compared:
        body.append(_fig(f"plot-delta-{name}", plots.delta_ci([r.model for r in compared], [r.vs_first.delta for r in compared],
                                                              [r.vs_first.ci95 for r in compared], head,
                                                              f"paired difference to {labels[0]}"),
                         "Green: the interval is above zero; red: below; grey: cannot tell."))
    if rep.latency:
        body += _latency(rep, name)
    if candidate and rep.per_query is not None:
        body += _per_query(rep, name, head, labels[0], candidate, folder)
    return body


def _results_table(rep: EvalReport, head: str) -> str:
    extra = [m for m in ("mrr@10", "hit@1", "hit@10", "median_rank") if m in rep.results[0].metrics and m != head]
    rows = []
    for r in rep.results:
        ci = r.ci95.get(head)
        c = r.vs_first
        rows.append([r.model, f"{r.metrics[head]:.4f}", f"[{ci[0]:.3f}, {ci[1]:.3f}]" if ci else "-",
                     *[f"{r.metrics[m]:.3f}" if m != "median_rank" else f"{r.metrics[m]:.0f}" for m in extra],
                     f"{c.delta:+.4f} [{c.ci95[0]:+.4f}, {c.ci95[1]:+.4f}]" if c else "(baseline)",
                     f"{c.wins}/{c.losses}/{c.ties}" if c else "-"])
    return _table(["model", head, "95% CI", *extra, f"Δ vs {rep.results[0].model} [95% CI]", "won/lost/tied"], rows)


def _latency(rep: EvalReport, name: str) -> list[str]:
    lat = rep.latency or {}
    values = [(k, lat[k]) for k in ("ms_median", "ms_p95", "ms_mean") if isinstance(lat.get(k), (int, float))]
    body = ["<h3>Reranking latency per query</h3>",
            _table(["measure", "value"], [[k, v] for k, v in lat.items()])]
    if values:
        body.append(_fig(f"plot-latency-{name}" if name != "val" else "plot-latency",
                         plots.bars([k for k, _ in values], [v for _, v in values], "milliseconds per query",
                                    f"reranking latency (K={lat.get('k', '?')}, {lat.get('queries_timed', '?')} queries)")))
    return body


def _per_query(rep: EvalReport, name: str, head: str, base: str, cand: str, folder: Path | None) -> list[str]:
    pq = rep.per_query
    try:
        before, after = pq.values(head, base), pq.values(head, cand)
    except KeyError:
        return []
    deltas = [a - b for a, b in zip(after, before)]
    body = [f"<h3>Per query: {_e(cand)} against {_e(base)}</h3>",
            _fig(f"plot-perquery-{name}", plots.histogram(deltas, head, f"{cand} − {base}, per query"))]
    ranks = (pq.model_extra or {}).get("rank", {})
    ds = _dataset(rep, name, folder)
    order = sorted(range(len(deltas)), key=lambda i: deltas[i])
    helped = [i for i in reversed(order) if deltas[i] > 0][:TOP]
    hurt = [i for i in order if deltas[i] < 0][:TOP]
    for title, idx, tid in (("helped most", helped, "helped"), ("hurt most", hurt, "hurt")):
        rows = []
        for i in idx:
            qid = pq.query_ids[i]
            query, gold = _texts(ds, qid)
            rb, ra = ranks.get(base, [None] * len(deltas))[i], ranks.get(cand, [None] * len(deltas))[i]
            rows.append([_Raw(f"{_e(query)}<br><span class=\"muted\">{_e(qid)}</span>"),
                         _Raw(f"<span class=\"passage\">{_e(gold)}</span>"), _rank(rb), _rank(ra),
                         _Raw(f"<span class=\"{'pos' if deltas[i] > 0 else 'neg'}\">{deltas[i]:+.3f}</span>")])
        body.append(f"<h4>The {TOP} queries {_e(cand)} {title}</h4>")
        body.append(f"<div id=\"queries-{tid}-{_id(name)}\">" + (_table(["query", "gold passage", "rank before",
                                                                          "rank after", f"Δ {head}"], rows, num_from=2)
                                                                   if rows else "<p class=\"muted\">none</p>") + "</div>")
    return body


def _rank(r) -> str:
    return "not found" if r is None or r == 0 or (isinstance(r, (int, float)) and r > 10**8) else str(int(r))


def _dataset(rep: EvalReport, name: str, folder: Path | None):
    """The evaluation set's texts: the run's own data/NAME.json, the run's eval_dataset, or the registry name."""
    from ragtune.data.retrieval import load_dataset

    candidates: list[Any] = []
    if folder is not None:
        candidates += [folder / "data" / f"{name}.json"]
        try:
            cfg = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            cfg = {}
        if cfg.get("eval_dataset") and name != "val":
            candidates.append(cfg["eval_dataset"])
    candidates.append(rep.dataset)
    for spec in candidates:
        try:
            if isinstance(spec, Path) and not spec.is_file():
                continue
            return load_dataset(spec)
        except Exception:  # noqa: BLE001 - texts are a courtesy; the ids still show
            continue
    return None


def _texts(ds, qid: str) -> tuple[str, str]:
    if ds is None:
        return "(query text not available)", ""
    query = ds.queries.get(qid, "(query text not available)")
    gold = ds.corpus.get((ds.relevant_docs.get(qid) or [""])[0], "")
    return query, gold if len(gold) <= CUT else gold[:CUT].rstrip() + " …"


# ---------------------------------------------------------------- training curves

def _curves(folder: Path, metrics: RunMetrics) -> list[str]:
    """The run's curve, or (for `ragtune run`) each stage's curve from its own metrics.json."""
    stages: list[tuple[str, list[dict]]] = []
    curve = (metrics.model_extra or {}).get("curve")
    if curve:
        stages.append((metrics.job, curve))
    for sub in ("finetune", "adapter"):
        if (folder / sub / "metrics.json").is_file():
            c = (read_metrics(folder / sub).model_extra or {}).get("curve")
            if c:
                stages.append((sub, c))
    if not stages:
        return []
    body = ["<h2 id=\"training\">Training</h2>"]
    for stage, rows in stages:
        body.append(_curve_fig(stage, rows))
    return body


def _curve_fig(stage: str, rows: list[dict]) -> str:
    x = "step" if any(r.get("step") is not None for r in rows) else "epoch"
    keys = sorted({k for r in rows for k in r} - {"step", "epoch", "learning_rate", "grad_norm"})
    left = [k for k in keys if k == "loss" or k.endswith("_loss") or k == "eval_loss"]
    right = [k for k in keys if k not in left and ("ndcg" in k or "mrr" in k or "hit" in k or "map" in k or "kl" in k)]
    return _fig(f"plot-curve-{stage}", plots.curve(rows, x, left, right, f"{stage}: training loss and validation metrics"),
                "Solid: training loss; dashed: validation metrics measured during training.")


# ---------------------------------------------------------------- data, split, timings

def _data_sections(extra: dict[str, Any]) -> list[str]:
    body = ["<h2 id=\"data\">Data</h2>"]
    gen = extra.get("generation")
    if isinstance(gen, dict):
        body.append(_table(["generation", "value"], [["chunks", gen.get("chunks")],
                                                    ["chunks with questions", gen.get("chunks_with_questions")],
                                                    ["candidate questions", gen.get("candidates")],
                                                    ["kept", gen.get("questions_kept")],
                                                    ["LLM calls", (gen.get("calls") or {}).get("total")],
                                                    ["tokens in / out", f"{(gen.get('tokens') or {}).get('in')} / "
                                                                        f"{(gen.get('tokens') or {}).get('out')}"]]))
        dropped = gen.get("dropped") or {}
        if dropped:
            items = sorted(dropped.items(), key=lambda kv: -kv[1])
            body.append(_fig("plot-dropped", plots.bars([k for k, _ in items], [v for _, v in items], "candidates dropped",
                                                        f"dropped by reason ({sum(dropped.values())} of {gen.get('candidates')})",
                                                        color=plots.RED)))
    data = extra.get("data")
    if isinstance(data, dict):
        flat = [[k.replace("_", " "), v] for k, v in data.items() if isinstance(v, (int, float, str))]
        if flat:
            body += ["<h3>Split</h3>", _table(["set", "count"], flat)]
    counts = [[k.replace("_", " "), extra[k]] for k in ("train_examples", "val_examples") if k in extra]
    if counts:
        body += ["<h3>Split</h3>", _table(["set", "count"], counts)]
    seconds = extra.get("seconds")
    if isinstance(seconds, dict):
        items = [(k, v) for k, v in seconds.items() if isinstance(v, (int, float)) and k not in ("total", "total_s")]
        total = seconds.get("total", seconds.get("total_s"))
        if items:
            body += ["<h3>Stage timings</h3>",
                     _fig("plot-seconds", plots.bars([k for k, _ in items], [v for _, v in items], "seconds",
                                                     f"seconds per stage (total {total} s)" if total else "seconds per stage"))]
    elif isinstance(seconds, (int, float)):
        body += ["<h3>Time</h3>", f"<p>{seconds} s in all.</p>"]
    return body if len(body) > 1 else []


# ---------------------------------------------------------------- SFT

def _sft_sections(folder: Path, metrics: RunMetrics, reports: dict[str, EvalReport]) -> list[str]:
    extra = metrics.model_extra or {}
    body = ["<h2 id=\"heldout\">Held-out loss</h2>"]
    base, tuned = extra.get("base") or {}, extra.get("tuned") or {}
    if base and tuned:
        body.append(_fig("plot-heldout-loss", plots.bars(["base", "tuned"], [round(base["val_loss"], 4), round(tuned["val_loss"], 4)],
                                                         "validation assistant-token loss (lower is better)",
                                                         "held-out loss before and after")))
        body.append(_table(["model", "val loss", "val perplexity"],
                           [["base", f"{base['val_loss']:.4f}", f"{base['val_perplexity']:.2f}"],
                            ["tuned", f"{tuned['val_loss']:.4f}", f"{tuned['val_perplexity']:.2f}"]]))
    for name, rep in reports.items():
        if rep.task == "sft":
            body += _sft_report_table(rep, name)
    curve = extra.get("curve")
    if curve:
        body += ["<h2 id=\"training\">Training</h2>", _curve_fig("sft", curve)]
    body += _side_by_side(folder)
    return body


def _sft_report_table(rep: EvalReport, name: str) -> list[str]:
    keys = [k for k in ("loss", "perplexity", "rouge_l") if k in rep.results[0].metrics]
    rows = []
    for r in rep.results:
        ci = r.ci95.get("loss")
        rows.append([r.model, *[f"{r.metrics[k]:.4f}" if k in r.metrics else "-" for k in keys],
                     f"[{ci[0]:.4f}, {ci[1]:.4f}]" if ci else "-"])
    body = [f"<h3>{_e(rep.dataset)} ({rep.num_queries} examples)</h3>", _table(["model", *keys, "loss 95% CI"], rows)]
    if len(rep.results) > 1:
        body.append(_fig(f"plot-heldout-loss-{name}", plots.bar_ci([r.model for r in rep.results],
                                                                   [r.metrics["loss"] for r in rep.results],
                                                                   [r.ci95.get("loss") for r in rep.results], "loss",
                                                                   f"held-out loss on {rep.dataset}")))
    return body


def _side_by_side(folder: Path) -> list[str]:
    """Side-by-side answers the run (or an `eval sft --samples` next to it) wrote as JSONL records."""
    for path in sorted(folder.glob("*.jsonl")) + sorted((folder / "eval").glob("*.jsonl")):
        if found := _side_by_side_file(path):
            return found
    return []


def _side_by_side_file(path: Path) -> list[str]:
    """The side-by-side answers of `ragtune eval sft --samples` (the .jsonl twin of the .md page), if any."""
    if path.is_file():
        rows = []
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if isinstance(rec, dict) and isinstance(rec.get("answers"), dict):
                rows.append(rec)
        if rows:
            labels = list(rows[0]["answers"])
            table = _table(["prompt", "reference", *labels],
                           [[r.get("prompt", ""), r.get("reference", ""), *[r["answers"].get(k, "") for k in labels]] for r in rows[:10]],
                           num_from=99)
            return ["<h2 id=\"answers\">Side-by-side answers</h2>", f"<div id=\"side-by-side\">{table}</div>"]
    return []


# ---------------------------------------------------------------- several runs

def render_comparison(paths: list[Path]) -> str:
    runs = []
    for p in paths:
        if p.is_dir():
            runs.append((p.name, read_metrics(p), _eval_reports(p), p))
        else:
            runs.append((p.stem, None, {p.stem: read_report(p)}, None))
    names = [n for n, *_ in runs]
    if len(set(names)) < len(names):
        names = [str(p) for p in paths]
    body = [f"<h1>ragtune: {len(runs)} runs compared</h1>", "<h2 id=\"verdicts\">Verdicts</h2>"]
    body.append(_table(["run", "job", "result", "verdict", "reason"],
                       [[n, m.job if m else "eval", m.decision.model if m else "-", m.decision.verdict if m else "-",
                         m.decision.reason if m else "-"] for n, (_, m, _, _) in zip(names, runs)], num_from=99))
    by_set: dict[str, list[tuple[str, EvalReport]]] = {}
    for n, (_, _, reps, _) in zip(names, runs):
        for rep in reps.values():
            by_set.setdefault(rep.dataset, []).append((n, rep))
    for dataset, items in by_set.items():
        if len(items) < 2:
            continue
        head = items[0][1].headline or "ndcg@10"
        labels, values, cis, rows = [], [], [], []
        for n, rep in items:
            for r in rep.results:
                if head in r.metrics:
                    labels.append(f"{n}: {r.model}")
                    values.append(r.metrics[head])
                    cis.append(r.ci95.get(head))
                    c = r.vs_first
                    rows.append([n, r.model, f"{r.metrics[head]:.4f}", f"[{cis[-1][0]:.3f}, {cis[-1][1]:.3f}]" if cis[-1] else "-",
                                 f"{c.delta:+.4f} [{c.ci95[0]:+.4f}, {c.ci95[1]:+.4f}]" if c else "(baseline)"])
        body += [f"<h2 id=\"compare-{_id(dataset)}\">{_e(dataset)}: side by side</h2>",
                 _fig(f"plot-compare-{dataset}", plots.bar_ci(labels, values, cis, head, f"{head} on {dataset}, every run")),
                 _table(["run", "model", head, "95% CI", "Δ vs the run's baseline"], rows, num_from=2)]
    for n, (_, m, reps, folder) in zip(names, runs):
        body.append(f"<h1 id=\"run-{_id(n)}\">{_e(n)}</h1>")
        if m is not None:
            body += [_verdict(m.decision), *_run_sections(folder, m, reps)]
        else:
            for name, rep in reps.items():
                body += _report_sections(rep, name, None, _candidate(rep, None))
    return _page("ragtune: runs compared", body)


def expected_plot_ids(folder: str | Path) -> list[str]:
    """The plot ids a run's page must hold (for tests and checks): per evaluation set and per training stage."""
    folder = Path(folder)
    metrics = read_metrics(folder)
    ids = []
    for name, rep in _eval_reports(folder).items():
        if rep.task == "sft":
            continue
        ids += [f"plot-headline-{name}", f"plot-delta-{name}", f"plot-perquery-{name}"]
    if metrics.job != "sft":
        if (metrics.model_extra or {}).get("curve"):
            ids.append(f"plot-curve-{metrics.job}")
        ids += [f"plot-curve-{s}" for s in ("finetune", "adapter") if (folder / s / "metrics.json").is_file()]
    else:
        ids += ["plot-heldout-loss", "plot-curve-sft"]
    if (metrics.model_extra or {}).get("generation", {}).get("dropped"):
        ids.append("plot-dropped")
    if isinstance((metrics.model_extra or {}).get("seconds"), dict):
        ids.append("plot-seconds")
    return [_id(i) for i in ids]
