"""Progress where no bar is drawn: a plain line with done/total and the ETA, at most once per interval."""

from __future__ import annotations

import io
import re
import time
import warnings

from pydantic import BaseModel

from ragtune.io import ProgressLines
from ragtune.runs import Run


def test_a_line_says_done_total_and_eta_and_only_when_due():
    out = io.StringIO()
    lines = ProgressLines("generating", 10, every=0.05, stream=out)
    assert not lines.update(1)  # too soon: silent (a quick stage prints nothing)
    time.sleep(0.06)
    assert lines.update(4)
    text = out.getvalue()
    assert re.fullmatch(r"  generating: 4/10 \(40%\), 0:00 elapsed, ETA 0:00\n", text), text
    assert not lines.update(5)


def test_library_warnings_go_to_the_run_log_not_the_console(tmp_path, capsys):
    class C(BaseModel):
        a: int = 1

    with Run(tmp_path / "run", "x", C()):
        warnings.warn("a library deprecation", FutureWarning)
    assert "a library deprecation" in (tmp_path / "run" / "log.txt").read_text()
    assert "a library deprecation" not in capsys.readouterr().err
    with warnings.catch_warnings(record=True) as caught:  # outside a run, warnings behave as before
        warnings.simplefilter("always")
        warnings.warn("after the run", FutureWarning)
    assert [str(w.message) for w in caught] == ["after the run"]
