"""Every command teaches through `--help`, and `ragtune --help` is instant (nothing heavy imported).

The command tree is walked from the click object typer builds, so new commands are covered
without touching this file.
"""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import typer
from typer.core import TyperGroup
from typer.testing import CliRunner

from ragtune.cli.main import app

HEAVY = ("torch", "transformers", "sentence_transformers", "datasets", "trl", "peft", "accelerate")


def command_paths(command, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], object]]:
    """(path, command) for the root and every group and sub-command below it (typer's own click objects)."""
    found = [(path, command)]
    if isinstance(command, TyperGroup):
        for name in sorted(command.commands):
            found += command_paths(command.commands[name], (*path, name))
    return found


ALL = command_paths(typer.main.get_command(app))


def test_the_walk_finds_the_command_groups():
    names = {" ".join(path) for path, _ in ALL}
    assert {"", "assets", "data", "eval", "train", "data chunk", "data convert", "data split", "data info"} <= names


@pytest.mark.parametrize(("path", "command"), ALL, ids=[" ".join(p) or "ragtune" for p, _ in ALL])
def test_help_of_every_command(path, command):
    result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "120"})
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output and "Traceback" not in result.output
    assert (command.help or "").strip(), f"`ragtune {' '.join(path)}` has no help text: write a docstring"


def test_help_is_fast_and_imports_nothing_heavy():
    script = Path(sys.executable).with_name("ragtune")
    cmd = [str(script)] if script.exists() else [sys.executable, "-m", "ragtune.cli.main"]
    env = {**os.environ, "COLUMNS": "100"}
    times = []
    for _ in range(3):  # best of three: the machine is shared, one slow start is not the code's fault
        start = time.perf_counter()
        proc = subprocess.run([*cmd, "--help"], capture_output=True, text=True, timeout=60, env=env)
        times.append(time.perf_counter() - start)
        assert proc.returncode == 0 and "Usage:" in proc.stdout, proc.stderr
    assert min(times) < 1.0, f"`ragtune --help` took {min(times):.2f} s at best (limit 1 s): something heavy is imported"


def test_building_every_help_page_imports_no_heavy_library():
    probe = textwrap.dedent(f"""
        import sys, typer
        from typer.core import TyperGroup
        from typer.testing import CliRunner
        from ragtune.cli.main import app

        def walk(cmd, path=()):
            yield path
            if isinstance(cmd, TyperGroup):
                for name, sub in cmd.commands.items():
                    yield from walk(sub, (*path, name))

        for path in walk(typer.main.get_command(app)):
            assert CliRunner().invoke(app, [*path, "--help"]).exit_code == 0, path
        print(",".join(sorted(m for m in {HEAVY!r} if m in sys.modules)))
    """)
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "", f"importing the CLI loaded: {proc.stdout.strip()}; import them inside functions"


def test_prose_paragraphs_are_reflowed_and_examples_kept():
    from ragtune.cli.common import reflow

    doc = """Summary line.

    A prose paragraph wrapped
    in the source over
    three lines.

    Examples:
      ragtune run -o runs/demo
      ragtune run docs/ -o runs/mine
    """
    out = reflow(doc).split("\n\n")
    assert out[0] == "Summary line."
    assert out[1] == "A prose paragraph wrapped in the source over three lines."
    assert out[2] == "Examples:\n  ragtune run -o runs/demo\n  ragtune run docs/ -o runs/mine"


@pytest.mark.parametrize("path,command", ALL, ids=[" ".join(p) or "ragtune" for p, _ in ALL])
def test_help_prose_is_not_broken_mid_sentence(path, command):
    """Typer keeps single line breaks: a prose paragraph must be one line so the terminal wraps it."""
    for paragraph in inspect.cleandoc(command.help or "").split("\n\n"):
        lines = paragraph.split("\n")
        # a multi-line paragraph is legitimate only as examples, commands or a bullet list
        assert len(lines) == 1 or any(line.startswith(("  ", "- ", "ragtune ", "Example", "Then:")) for line in lines), paragraph
