"""`ragtune report RUN [RUN2 ...] [-o FILE]`: the run's HTML page (self-contained, offline), or several runs compared."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ragtune.cli.common import handle_errors, say


@handle_errors
def report(
    runs: list[Path] = typer.Argument(..., help="Run folder(s) (with metrics.json) or evaluation reports (`eval ... --json` "
                                      "files). Two or more: a comparison page.", show_default=False),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="The HTML file to write (default RUN/report.html; "
                                          "FILE.html beside a report FILE.json; RUN1/compare.html for several runs).",
                                          show_default=False),
) -> None:
    """Write one self-contained HTML page: the verdict, every evaluation set with its CIs, the paired differences, per-query changes, the queries helped and hurt most, training curves, data and timings.

    The page works offline (plots are inline SVG; no script, no external address) and every number in it is read from the run's own JSON files. `ragtune run`, every `train ...` and every `eval ... --json` write it on their own.

    Example: ragtune report runs/demo   (then open runs/demo/report.html)
    """
    from ragtune.io import check_output
    from ragtune.report.html import check_targets, default_output, write_html

    check_targets(runs)
    out = output or default_output(runs)
    check_output(out, "file", option="--output")
    say(f"report: {write_html(runs, out)}")
