"""`ragtune assets`: what offline models and datasets are installed, where, and how big."""

from __future__ import annotations

import typer
from rich.text import Text

from ragtune.cli.common import console, handle_errors

app = typer.Typer(help="List and prepare the offline models and datasets (no network needed).", invoke_without_command=True)


@app.callback()
@handle_errors
def assets(ctx: typer.Context) -> None:
    """List every registered asset with its status (installed or not), local path and size.

    Names listed here work everywhere a model or dataset is accepted, e.g. `--model minilm`.
    """
    if ctx.invoked_subcommand is not None:
        return
    from rich.table import Table

    from ragtune.assets import ASSETS, folder_size, prepared_path

    table = Table(title="ragtune assets")
    for col in ("name", "kind", "status", "path", "size", "description / install"):
        table.add_column(col, overflow="fold")
    for a in ASSETS.values():
        if not a.installed():
            table.add_row(a.name, a.kind, Text("not installed", style="red"), "-", "-", a.install)
            continue
        path = prepared_path(a.name)
        if path is None:
            status, where, size = Text("installed, not prepared", style="yellow"), "(prepared on first use)", "-"
        else:
            status, where, size = Text("ready", style="green"), str(path), _human(folder_size(path))
        table.add_row(a.name, a.kind, status, where, size, a.description)
    console.print(table)


@app.command("prepare")
@handle_errors
def prepare(name: str = typer.Argument(..., help="Asset name, e.g. smollm2-135m-instruct, mpnet.")) -> None:
    """Prepare one asset now (unzip / join / convert into the cache) instead of on first use."""
    from ragtune.assets import asset_path

    console.print(f"{name}: ready at {asset_path(name)}")


def _human(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"
