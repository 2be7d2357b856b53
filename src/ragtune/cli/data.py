"""`ragtune data ...`: inspect, validate, convert and split datasets."""

from __future__ import annotations

import typer

app = typer.Typer(help="Inspect, validate, convert, split and chunk datasets.", no_args_is_help=True)
