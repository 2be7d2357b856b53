"""Brackets in what ragtune prints reach the user as written: paths, model names and commands such as
pip install 'ragtune[faiss]' are never eaten as rich style tags."""

from __future__ import annotations

import os

from typer.testing import CliRunner

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from ragtune.cli.common import fail  # noqa: E402
from ragtune.cli.main import app  # noqa: E402
from ragtune.records import Comparison, EvalReport, ModelResult  # noqa: E402
from ragtune.report.tables import eval_table  # noqa: E402


def test_an_error_keeps_its_brackets(capsys):
    try:
        fail("index 'faiss' needs faiss: pip install 'ragtune[faiss]' (or faiss-cpu).", hint="see [docs]")
    except BaseException:
        pass
    err = capsys.readouterr().err
    assert "pip install 'ragtune[faiss]'" in err and "see [docs]" in err


def test_a_dataset_path_with_brackets_is_printed_as_is(tmp_path):
    folder = tmp_path / "run[1]" / "[red]x"
    folder.mkdir(parents=True)
    out = folder / "faq.json"
    result = CliRunner().invoke(app, ["data", "convert", "construction-faq", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert f"-> {out}" in result.stdout.replace("\n", "")


def test_the_evaluation_table_shows_names_with_brackets(capsys):
    from rich.console import Console

    cmp = Comparison(baseline="base[v1]", metric="ndcg@10", delta=0.05, ci95=[0.01, 0.09], significant=True, wins=3,
                     losses=1, ties=0)
    report = EvalReport(task="retrieval", dataset="faq[en]", num_queries=4, ks=[10], headline="ndcg@10", results=[
        ModelResult(model="base[v1]", metrics={"ndcg@10": 0.5}, ci95={"ndcg@10": [0.4, 0.6]}),
        ModelResult(model="tuned[red]", metrics={"ndcg@10": 0.55}, ci95={"ndcg@10": [0.45, 0.65]}, vs_first=cmp)])
    console = Console(width=200, markup=False, highlight=False, color_system=None)
    with console.capture() as cap:
        console.print(eval_table(report))
    text = cap.get()
    assert "faq[en]" in text and "tuned[red]" in text and "base[v1]" in text
    assert "+0.050 [+0.010,+0.090]" in text and "0.500 [0.400,0.600]" in text and "\\[" not in text
