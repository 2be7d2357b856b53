"""`ragtune eval ...`: measure models on held-out data; every command can write the shared JSON shape."""

from __future__ import annotations

import typer

app = typer.Typer(help="Evaluate models with real metrics and confidence intervals.", no_args_is_help=True)
