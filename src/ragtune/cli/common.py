"""Shared CLI plumbing: one console, and turning library errors into clean exit codes."""

from __future__ import annotations

import contextlib
import functools
import inspect
import os
import sys
from collections.abc import Callable
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from typer._click import exceptions as click_exceptions
from typer.core import TyperGroup

CHAT_MODEL_HELP = "registry name (smollm2-135m-instruct, qwen2.5-coder-0.5b-instruct), model folder, adapter folder or run folder"

# markup off: messages carry paths, ids and commands such as pip install 'ragtune[faiss]', whose brackets rich would
# eat as style tags. A styled line says so (markup=True) and escapes what it interpolates; tables use Text cells.
console = Console(stderr=False, highlight=False, markup=False, width=None if sys.stdout.isatty() else 140)
err_console = Console(stderr=True, highlight=False, markup=False)


def offline_env() -> None:
    """Never reach for a hub at run time: this product works offline."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def handle_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Run a command: an expected failure (a RagtuneError, an OS error on a named file) becomes one `error: ...`
    line and its exit code, never a traceback. Anything else is a bug: its traceback, then a line asking for a
    report, exit code 70."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from ragtune.errors import RagtuneError

        offline_env()
        try:
            return fn(*args, **kwargs)
        except RagtuneError as e:
            fail(str(e), code=e.exit_code)
        except KeyboardInterrupt:
            err_console.print("[yellow]interrupted[/]: rerun the same command to resume where it stopped.", markup=True)
            raise typer.Exit(code=130) from None
        except (typer.Exit, typer.Abort, click_exceptions.ClickException):
            raise
        except OSError as e:
            if e.filename is None:
                _bug()
            fail(_os_message(e), code=1)
        except Exception:
            _bug()

    return wrapper


def fail(message: str, hint: str | None = None, code: int = 1) -> None:
    """Print `error: MESSAGE` (and `hint: HINT`) on stderr and exit with `code`: the one way a command fails."""
    err_console.print(f"[bold red]error:[/] {escape(message)}", markup=True, highlight=False, soft_wrap=True)
    if hint:
        err_console.print(f"hint: {escape(hint)}", markup=True, highlight=False, soft_wrap=True)
    raise typer.Exit(code=code)


def _os_message(e: OSError) -> str:
    """An OS error on a named path: disk full, permission denied, ... (the commands check their paths first;
    this is what is left, e.g. a disk that fills up during the work)."""
    where = f"{e.filename} -> {e.filename2}" if e.filename2 else str(e.filename)
    return f"{where}: {e.strerror or e}; check the path, its permissions and the free space."


def _bug() -> None:
    import traceback

    traceback.print_exc()
    err_console.print("[bold red]this is a bug in ragtune[/], not a problem with your input: please report it with the "
                      "command you ran and the traceback above.", markup=True, highlight=False, soft_wrap=True)
    raise typer.Exit(code=70) from None


class RagtuneGroup(TyperGroup):
    """The root command group: typer's usage errors (missing argument, bad choice, not an int, no such option)
    come out as one `error: ...` line plus a `hint:` line naming `--help`, instead of a boxed panel with the usage.
    Help output is typer's own, unchanged. Old option spellings (`ragtune.cli.aliases`) are rewritten to today's
    names, with a warning, before parsing."""

    def main(self, args: Any = None, *rest: Any, **kwargs: Any) -> Any:
        args = list(sys.argv[1:] if args is None else args)
        return super().main(_todays_spellings(self, args), *rest, **kwargs)

    def make_context(self, *args: Any, **kwargs: Any) -> Any:
        with _one_line_usage_errors():
            return super().make_context(*args, **kwargs)

    def invoke(self, ctx: Any) -> Any:
        with _one_line_usage_errors():
            return super().invoke(ctx)


def _todays_spellings(group: Any, args: list[str]) -> list[str]:
    """The command line with old option spellings replaced (see ragtune.cli.aliases), warning once for each."""
    from ragtune.cli.aliases import rewrite

    path: list[str] = []
    for i, arg in enumerate(args):
        if arg.startswith("-"):
            continue  # the root group's own options (--help, --version) take no value
        command = group.commands.get(arg) if hasattr(group, "commands") else None
        if command is None:
            return args
        path.append(arg)
        group = command
        if not hasattr(command, "commands"):
            new, warnings = rewrite(" ".join(path), args[i + 1:])
            for line in warnings:
                err_console.print(f"[yellow]warning:[/] {escape(line)}", markup=True, highlight=False, soft_wrap=True)
            return args[:i + 1] + new
    return args


@contextlib.contextmanager
def _one_line_usage_errors():
    try:
        yield
    except click_exceptions.NoArgsIsHelpError:
        raise  # `ragtune data` alone: typer prints the help
    except click_exceptions.UsageError as e:
        names, ctx = [], e.ctx
        while ctx is not None and ctx.parent is not None:  # the root's name is whatever ran it (python -m ...)
            names.append(ctx.info_name)
            ctx = ctx.parent
        command = " ".join(["ragtune", *reversed(names)])
        fail(f"{command}: {e.format_message()}", hint=f"see `{command} --help`", code=e.exit_code)
    except click_exceptions.ClickException as e:
        fail(e.format_message(), code=e.exit_code)


def above(low: float, high: float | None = None) -> Callable[[Any], Any]:
    """A typer option callback for an open range: low < value (< high); this typer has `min`/`max` only for closed ones."""

    def check(value: Any) -> Any:
        if value is not None and (value <= low or (high is not None and value >= high)):
            shown = f"{low:g} < x" + (f" < {high:g}" if high is not None else "")
            raise typer.BadParameter(f"{value:g} is not in the range {shown}.")
        return value

    return check


def parse_ks(text: str) -> list[int]:
    """'1,3,5,10' -> [1, 3, 5, 10], with a clear error on anything else."""
    from ragtune.errors import InputError

    try:
        ks = sorted({int(x) for x in text.split(",") if x.strip()})
    except ValueError:
        raise InputError(f"--k must be comma-separated positive integers like 1,3,5,10; got {text!r}") from None
    if not ks or ks[0] < 1:
        raise InputError(f"--k must be comma-separated positive integers like 1,3,5,10; got {text!r}")
    return ks


def is_tty() -> bool:
    return sys.stdout.isatty()


_KEEP_LINES = (" ", "- ", "* ", "ragtune ", "Example", "Then:", "Or:", "$ ")


def reflow(doc: str | None) -> str | None:
    """A docstring with its prose paragraphs on one line each, so `--help` wraps them to the terminal.

    Typer keeps single line breaks, so source-wrapped prose would break mid-sentence; paragraphs
    with examples, commands or bullets (a line starting with one of `_KEEP_LINES`) stay as written."""
    if not doc:
        return doc
    paragraphs = inspect.cleandoc(doc).split("\n\n")
    return "\n\n".join(p if any(line.startswith(_KEEP_LINES) for line in p.split("\n"))
                       else " ".join(line.strip() for line in p.split("\n")) for p in paragraphs)


def reflow_help(app: typer.Typer) -> None:
    """Reflow the docstring help of every command in `app` and its sub-apps (see `reflow`)."""
    for cmd in app.registered_commands:
        if cmd.help is None and cmd.callback is not None:
            cmd.callback.__doc__ = reflow(cmd.callback.__doc__)
        elif cmd.help:
            cmd.help = reflow(cmd.help)
    for group in app.registered_groups:
        if group.typer_instance is not None:
            reflow_help(group.typer_instance)


def say(text: str) -> None:
    """Print plain text: no markup (ids and commands may hold [brackets]), no wrapping (paths stay copyable)."""
    console.print(text, markup=False, highlight=False, soft_wrap=True)


def show_reports(run, names) -> None:
    """Print the evaluation table of each of the run's eval/NAME.json files."""
    from ragtune.records import read_report
    from ragtune.report.tables import eval_table

    for name in names:
        path = run / "eval" / f"{name}.json"
        if path.exists():
            console.print(eval_table(read_report(path)))


def show_decision(decision, run) -> None:
    """The ship decision in green (shipped) or red (refused), and where it came from."""
    console.print(("[green]" if decision.shipped else "[bold red]") + escape(decision.reason) + "[/]", markup=True)
    console.print(f"decided by: {decision.decided_by} ({decision.dataset}); run folder: {run}")
    write_page(run)


def write_page(target) -> None:
    """Write the HTML report of a finished run folder (or of an evaluation report file) and print its path.

    A page that cannot be drawn never fails the command whose results are already written: it says why instead."""
    from ragtune.report.html import write_html

    try:
        say(f"report: {write_html(target)}")
    except Exception as e:  # noqa: BLE001 - the run's results are written; the page is a view of them
        err_console.print(f"[yellow]warning:[/] no HTML report written ({type(e).__name__}: {escape(str(e))}); "
                          f"run `ragtune report {escape(str(target))}` to retry.", markup=True, highlight=False, soft_wrap=True)
