"""Entry point of the `ragtune` command. Sub-command groups live in sibling modules.

Every module imported here must stay light: torch, transformers and friends are imported inside
the functions that run a command, so `ragtune --help` is instant.
"""

from __future__ import annotations

import typer

from ragtune import __version__
from ragtune.cli import assets as assets_cli
from ragtune.cli import data as data_cli
from ragtune.cli import eval as eval_cli
from ragtune.cli import generate as generate_cli
from ragtune.cli import sft as sft_cli
from ragtune.cli import train as train_cli
from ragtune.cli.common import RagtuneGroup

app = typer.Typer(
    name="ragtune",
    cls=RagtuneGroup,
    help=(
        "Fine-tune every learnable part of a RAG stack from your own documents, offline, "
        "and prove each change with before/after numbers on held-out data.\n\n"
        "Start with `ragtune assets` (what is installed), then `ragtune eval retrieval construction-faq "
        "--model minilm` (a measured baseline on the bundled FAQ)."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(assets_cli.app, name="assets")
app.add_typer(data_cli.app, name="data")
app.add_typer(eval_cli.app, name="eval")
app.add_typer(generate_cli.app, name="generate")
app.add_typer(train_cli.app, name="train")
app.add_typer(sft_cli.app, name="sft")

from ragtune.cli import sql as sql_cli  # noqa: E402

app.add_typer(sql_cli.app, name="sql")
app.command("chat")(sft_cli.chat)

from ragtune.cli.run import run  # noqa: E402

app.command("run")(run)
app.command("distill")(sft_cli.distill)

from ragtune.cli.label import label  # noqa: E402

app.command("label")(label)

from ragtune.cli.reranker import export_app  # noqa: E402

app.add_typer(export_app, name="export")

from ragtune.cli.report import report  # noqa: E402

app.command("report")(report)

from ragtune.cli.common import reflow_help  # noqa: E402

reflow_help(app)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"ragtune {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    """ragtune command line."""


if __name__ == "__main__":
    app()
