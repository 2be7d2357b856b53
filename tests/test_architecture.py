"""The layer contracts of pyproject.toml ([tool.importlinter]) hold: layers point one way, evaluation and data
generation never import an embedding package, and no package has an import cycle."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest


def test_import_linter_contracts_are_kept():
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    if exe is None:
        pytest.fail("lint-imports is not installed: it is in the dev extra (pip install -e '.[dev]')")
    res = subprocess.run([exe], capture_output=True, text=True, cwd=Path(__file__).resolve().parent.parent, timeout=120)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-2000:]
    assert "0 broken" in res.stdout
