"""--device auto|cpu|cuda|mps: the default resolves to the best available device, a missing one is a clear error,
every job honours an explicit choice, and nothing in src/ hard-codes the CPU or the tracker."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from ragtune.cli.main import app
from ragtune.device import resolve_device
from ragtune.errors import InputError
from ragtune.runs.tracking import report_to

SRC = Path(__file__).resolve().parent.parent / "src" / "ragtune"


def test_auto_is_the_best_available_device():
    mps = getattr(torch.backends, "mps", None)
    best = "cuda" if torch.cuda.is_available() else "mps" if mps is not None and mps.is_available() else "cpu"
    assert resolve_device("auto") == resolve_device(None) == best
    assert resolve_device("cpu") == "cpu"


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_a_missing_gpu_is_a_clear_error():
    with pytest.raises(InputError, match="no CUDA GPU is available"):
        resolve_device("cuda")
    with pytest.raises(InputError, match="must be auto, cpu"):
        resolve_device("tpu")


def test_nothing_hard_codes_the_cpu_or_the_tracker():
    pattern = re.compile(r"""use_cpu\s*=\s*True|device\s*=\s*["']cpu["']|report_to\s*=\s*["']none["']""")
    hits = [f"{p.relative_to(SRC)}:{n}" for p in SRC.rglob("*.py") for n, line in enumerate(p.read_text().splitlines(), 1)
            if pattern.search(line)]
    assert not hits, hits


def test_report_to_needs_its_package():
    assert report_to("none") == "none"
    with pytest.raises(InputError, match="must be none"):
        report_to("mlflow")


def test_a_job_runs_with_device_cpu_and_records_it(tmp_path):
    from ragtune.data.retrieval import RetrievalDataset, write_llamaindex

    words = ["roof", "window", "permit", "garage", "fence", "kitchen"]
    ds = RetrievalDataset(queries={f"q{i}": f"rules for the {w}?" for i, w in enumerate(words)},
                          corpus={f"d{i}": f"the {w} needs care." for i, w in enumerate(words)},
                          relevant_docs={f"q{i}": [f"d{i}"] for i in range(len(words))}, name="kw")
    data = write_llamaindex(ds, tmp_path / "kw.json")
    res = CliRunner().invoke(app, ["train", "adapter", str(data), "-m", "minilm", "-o", str(tmp_path / "a"), "--device", "cpu",
                                   "--epochs", "2"])
    assert res.exit_code == 0, res.output
    assert json.loads((tmp_path / "a" / "config.json").read_text())["device"] == "cpu"
    res = CliRunner().invoke(app, ["train", "adapter", str(data), "-o", str(tmp_path / "b"), "--device", "tpu"])
    assert res.exit_code == 2 and "error: --device: must be auto, cpu" in res.output and "Traceback" not in res.output
