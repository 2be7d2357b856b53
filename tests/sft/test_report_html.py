"""The HTML report and the Hub card of a real tiny SFT run (the tiny Llama around the real SmolLM2 tokenizer)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from ragtune.cli.main import app
from ragtune.records import read_metrics
from ragtune.report.html import expected_plot_ids

pytestmark = pytest.mark.slow


def test_sft_page_shows_loss_curves_and_heldout_loss(tiny_run, tmp_path):
    cfg, metrics, *_ = tiny_run
    run = Path(cfg.output)
    out = tmp_path / "sft.html"
    res = CliRunner().invoke(app, ["report", str(run), "-o", str(out)])
    assert res.exit_code == 0, res.output
    page = out.read_text(encoding="utf-8")
    assert not re.search(r"https?:", page)
    for pid in expected_plot_ids(run):
        assert f'<figure id="{pid}" class="plot"><svg' in page, pid
    assert {"plot-heldout-loss", "plot-curve-sft"} <= set(expected_plot_ids(run))
    m = read_metrics(run)
    assert f"{m.base['val_loss']:.4f}" in page and f"{m.tuned['val_loss']:.4f}" in page


def test_a_shipped_sft_adapter_gets_a_hub_card(tiny_run):
    cfg, metrics, *_ = tiny_run
    run = Path(cfg.output)
    if not metrics.decision.shipped:
        pytest.skip("the tiny SFT run did not lower the held-out loss, so nothing shipped")
    text = (run / "model" / "README.md").read_text(encoding="utf-8")
    front = yaml.safe_load(text.split("---\n")[1])
    assert front["library_name"] == "peft" and front["pipeline_tag"] == "text-generation"
    values = {x["type"]: x["value"] for x in front["model-index"][0]["results"][0]["metrics"]}
    assert values["loss"] == pytest.approx(metrics.tuned["val_loss"])
    assert str(run.parent) not in text
