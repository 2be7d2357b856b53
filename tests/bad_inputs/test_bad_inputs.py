"""The bad-input battery: every case in cases.py must end with one clear `error:` line and a non-zero exit,
no traceback, and no half-written output. In process (typer's CliRunner), so the whole table takes seconds.

Counts by outcome, in real processes: `python tests/bad_inputs/summary.py` (see its docstring)."""

from __future__ import annotations

import pytest

from . import fixtures as fx
from .cases import CASES
from .runner import argv_of, judge, run_in_process


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad-inputs")
    made = fx.build(root)
    yield made
    fx.release(root / "rodir")


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_gets_one_clear_error(case, files, tmp_path):
    if case.needs and not files[case.needs]:
        pytest.skip(f"{case.needs}: not possible on this machine (root without chattr +i)")
    argv, out = argv_of(case, files, tmp_path)
    outcome, text = judge(case, run_in_process(argv, case.env), out)
    assert outcome == "clear", f"{outcome}: ragtune {' '.join(argv)}\n{text}"


def test_the_table_covers_every_command():
    """Every leaf command of `ragtune --help` has at least one case (a new command needs its rows)."""
    import typer

    from ragtune.cli.main import app

    def leaves(group, prefix=""):
        for name, cmd in group.commands.items():
            path = f"{prefix}{name}"
            if getattr(cmd, "commands", None):
                yield from leaves(cmd, path + " ")
            else:
                yield path

    commands = set(leaves(typer.main.get_command(app)))
    covered = {c.command for c in CASES}
    assert commands - covered == set()
    assert len(CASES) >= 80
