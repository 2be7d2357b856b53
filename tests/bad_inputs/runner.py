"""Run one bad-input case (in process with typer's CliRunner, or as a real `python -m ragtune.cli.main`) and
judge the outcome: `clear` is the only good one."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from .cases import Case

OUTCOMES = ("clear", "traceback", "exit 0", "misleading", "not one error line", "half-written", "timeout")


@dataclass
class Result:
    exit_code: int | None
    output: str
    crashed: bool  # an exception escaped the command (in process), or "Traceback" was printed


def argv_of(case: Case, fixtures: dict[str, str], tmp: Path) -> tuple[list[str], str | None]:
    values = {**fixtures, "tmp": str(tmp)}
    args = [a.format(**values) for a in case.args.split()]
    out = case.out.format(**values) if case.out else None
    return [*case.command.split(), *args], out


def run_in_process(argv: list[str], env: dict[str, str]) -> Result:
    from typer.testing import CliRunner

    from ragtune.cli.main import app

    result = CliRunner().invoke(app, argv, env={"COLUMNS": "200", **env})
    crashed = result.exception is not None and not isinstance(result.exception, SystemExit)
    output = result.output
    if crashed:
        import traceback

        output += "".join(traceback.format_exception(result.exception))
    return Result(result.exit_code, output, crashed or "Traceback (most recent call last)" in output)


def run_subprocess(argv: list[str], env: dict[str, str], timeout: float) -> Result:
    try:
        done = subprocess.run([sys.executable, "-m", "ragtune.cli.main", *argv], capture_output=True, text=True,
                              stdin=subprocess.DEVNULL, timeout=timeout, env={**os.environ, "COLUMNS": "200", **env})
    except subprocess.TimeoutExpired as e:
        text = (e.stdout or b"").decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        return Result(None, text, False)
    output = done.stdout + done.stderr
    return Result(done.returncode, output, "Traceback (most recent call last)" in output)


def judge(case: Case, result: Result, out: str | None) -> tuple[str, str]:
    """(outcome, the error text) of a finished case."""
    if result.exit_code is None:
        return "timeout", result.output[-300:]
    if result.crashed:
        return "traceback", result.output.strip().splitlines()[-1] if result.output.strip() else ""
    if result.exit_code == 0:
        return "exit 0", result.output[-300:]
    lines = result.output.splitlines()
    errors = [i for i, line in enumerate(lines) if line.startswith("error:")]
    if len(errors) != 1:
        return "not one error line", result.output[-400:]
    text = "\n".join(lines[errors[0]: errors[0] + 2])  # the error line and an optional hint line
    if not re.search(case.expect, text, re.IGNORECASE | re.DOTALL):
        return "misleading", text
    if out and Path(out).exists():
        return "half-written", f"{out} exists"
    return "clear", text
