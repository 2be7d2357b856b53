"""The HTML report and Hub card of a real tiny reranker run: latency (median, p95), the oracle row, the curve."""

from __future__ import annotations

import re

import pytest
import yaml

from ragtune.records import read_metrics, read_report
from ragtune.report.html import expected_plot_ids, write_html
from ragtune.rerankers.train import train_reranker

from .test_train import FAST

pytestmark = pytest.mark.slow


def test_reranker_page_has_latency_and_the_oracle_row(topic_dataset, topic_embedder, tiny_cross_encoder, tmp_path):
    run = tmp_path / "run"
    train_reranker(dataset=topic_dataset, output=run, retriever=topic_embedder, model=str(tiny_cross_encoder), learning_rate=5e-3,
                   allow_regression=True, **FAST)
    page = write_html(run).read_text(encoding="utf-8")
    assert not re.search(r"https?:", page)
    rep = read_report(run / "eval" / "val.json")
    for pid in [*expected_plot_ids(run), "plot-latency"]:
        assert f'<figure id="{pid}" class="plot"><svg' in page, pid
    assert f"<td>ms_median</td><td class=\"num\">{rep.latency['ms_median']}</td>" in page
    assert f"<td>ms_p95</td><td class=\"num\">{rep.latency['ms_p95']}</td>" in page
    assert any("oracle" in r.model for r in rep.results) and "oracle" in page
    m = read_metrics(run)
    assert m.decision.shipped  # allow_regression ships it anyway
    front = yaml.safe_load((run / "model" / "README.md").read_text(encoding="utf-8").split("---\n")[1])
    assert front["pipeline_tag"] == "text-ranking"
    assert front["model-index"][0]["results"], "the card carries the measured results"
