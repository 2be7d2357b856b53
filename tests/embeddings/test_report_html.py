"""The HTML report (`ragtune report`) and the Hugging Face model card of real small runs: `ragtune run` on a few
documents (FakeLLM questions, the tiny BERT as student and teacher) and `ragtune train adapter` through the CLI.

The page is read as a person would see it: rendered in headless Chromium (Debian's `chromium`), screenshotted,
checked for console errors, for every expected plot by element id, and for a screenshot that is not blank."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest
import yaml
from typer.testing import CliRunner

from ragtune.cli.main import app
from ragtune.data.retrieval import save_dataset
from ragtune.llm.fake import FakeLLM
from ragtune.pipeline import run
from ragtune.records import read_metrics, read_report
from ragtune.report.html import expected_plot_ids

from .conftest import keyword_dataset
from .test_pipeline import _docs, _question

pytestmark = pytest.mark.slow
runner = CliRunner()


@pytest.fixture(scope="module")
def pipeline_run(tmp_path_factory, tiny_st_dir):
    """A finished `ragtune run` folder (fine-tune + adapter, validation split), and its CLI-written report."""
    root = tmp_path_factory.mktemp("report-run")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RAGTUNE_HOME", str(root / "home"))
        out = root / "run"
        run(docs=[str(_docs(root))], output=out, say=lambda s: None, llm_object=FakeLLM(default=_question),
            model=str(tiny_st_dir), teacher=str(tiny_st_dir), finetune=True, finetune_max_steps=4, adapter_epochs=4,
            val_style="same")
        res = runner.invoke(app, ["report", str(out)])
    assert res.exit_code == 0, res.output
    assert f"report: {out / 'report.html'}" in res.output
    return out


@pytest.fixture(scope="module")
def adapter_run(tmp_path_factory, tiny_st_dir):
    """`ragtune train adapter` through the CLI: the page is written at the end on its own."""
    root = tmp_path_factory.mktemp("report-adapter")
    data = save_dataset(keyword_dataset(), root / "train.json")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RAGTUNE_HOME", str(root / "home"))
        res = runner.invoke(app, ["train", "adapter", str(data), "-m", str(tiny_st_dir), "-o", str(root / "run"),
                                  "--epochs", "20", "--lr", "0.05"])
    assert res.exit_code == 0, res.output
    return root / "run", res.output


def _page(folder) -> str:
    return (folder / "report.html").read_text(encoding="utf-8")


def test_the_page_is_self_contained_and_holds_every_section(pipeline_run):
    page = _page(pipeline_run)
    assert not re.search(r"https?:|//[a-z0-9.-]+\.[a-z]{2,}/", page, re.I), "no external address anywhere"
    assert "<script" not in page and "<link" not in page and "src=" not in page
    for pid in expected_plot_ids(pipeline_run):
        assert re.search(rf'<figure id="{pid}" class="plot"><svg', page), pid
    assert {"plot-curve-finetune", "plot-curve-adapter", "plot-perquery-val", "plot-seconds"} <= set(expected_plot_ids(pipeline_run))
    assert 'id="verdict"' in page and 'id="queries-helped-val"' in page and 'id="queries-hurt-val"' in page


def test_the_numbers_are_the_runs_own(pipeline_run):
    """Every model's headline, CI, delta and won/lost/tied are printed from eval/val.json as written."""
    page, rep = _page(pipeline_run), read_report(pipeline_run / "eval" / "val.json")
    for r in rep.results:
        assert f"<td>{r.model}</td><td class=\"num\">{r.metrics['ndcg@10']:.4f}</td>" in page
        if r.vs_first:
            c = r.vs_first
            assert f"{c.delta:+.4f} [{c.ci95[0]:+.4f}, {c.ci95[1]:+.4f}]" in page
            assert f"{c.wins}/{c.losses}/{c.ties}" in page
    m = read_metrics(pipeline_run)
    assert m.decision.reason.replace("'", "&#x27;") in page
    # the helped/hurt queries carry their text and gold passage from the run's own data/val.json
    val = json.loads((pipeline_run / "data" / "val.json").read_text())
    pq = rep.per_query
    cand = m.decision.model if m.decision.model in [r.model for r in rep.results] else rep.results[-1].model
    deltas = [a - b for a, b in zip(pq.values("ndcg@10", cand), pq.values("ndcg@10", "base"))]
    if any(d > 0 for d in deltas):
        best = pq.query_ids[max(range(len(deltas)), key=lambda i: deltas[i])]
        assert val["queries"][best].replace("?", "?") in page


def test_chromium_renders_the_page_with_every_plot(pipeline_run, tmp_path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("Debian's chromium is not installed here (`make install-dev` installs it with apt-get); "
                    "the browser check of the report cannot run")
    url = (pipeline_run / "report.html").resolve().as_uri()
    shot = tmp_path / "report.png"
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
             f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0"]
    res = subprocess.run([chromium, *flags, "--window-size=1100,3000", f"--screenshot={shot}", url],
                         capture_output=True, text=True, timeout=120)
    assert shot.is_file(), res.stderr[-2000:]
    console = [line for line in res.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]
    assert not console, console
    dom = subprocess.run([chromium, *flags, "--dump-dom", url], capture_output=True, text=True, timeout=120).stdout
    for pid in expected_plot_ids(pipeline_run):
        assert re.search(rf'<figure id="{pid}" class="plot"><svg', dom), f"{pid} not in the rendered page"
    from PIL import Image

    img = Image.open(shot).convert("L")
    assert img.size == (1100, 3000)
    hist = img.histogram()
    non_white = sum(hist[:240]) / (img.size[0] * img.size[1])
    assert non_white > 0.02, f"the screenshot is blank ({non_white:.1%} non-white pixels)"
    assert len([v for v in hist if v]) > 20, "the screenshot has almost no distinct shades"


def test_a_run_decided_by_synthetic_validation_ships_no_model_and_no_card(pipeline_run):
    """The tiny pipeline run has only its synthetic validation split, which never ships: no model folder, so no
    card, and the page still says why (the Hub card itself is tested on the shipped adapter runs below)."""
    m = read_metrics(pipeline_run)
    assert not m.decision.shipped and m.decision.verdict in ("cannot_judge", "refuse")
    assert not (pipeline_run / "model").exists()
    assert m.decision.verdict.replace("_", " ") in _page(pipeline_run).lower().replace("_", " ")


def test_a_shipped_adapter_gets_a_hub_card_whose_numbers_are_metrics_json(tmp_path):
    from ragtune.embeddings.train_adapter import train_adapter

    from .conftest import keyword_embedder

    out = tmp_path / "run"
    m = train_adapter(dataset=keyword_dataset(), model=keyword_embedder("base", query_shift=1), output=out, epochs=60,
                      learning_rate=0.05, eval_dataset=keyword_dataset("kw-eval"))
    assert m.decision.shipped
    text = (out / "model" / "README.md").read_text(encoding="utf-8")
    _check_card(text, m, out)
    front = yaml.safe_load(text.split("---\n")[1])
    assert "adapter" in front["tags"] and front["model-index"][0]["name"].startswith("Adapter")
    assert "LlamaIndex" in text  # how to load it: sentence-transformers, ragtune and LlamaIndex


def test_a_registry_base_is_named_with_its_hub_id_and_license():
    from ragtune.embeddings.config import AdapterConfig
    from ragtune.runs.card import hub_card, hub_meta

    meta = hub_meta("adapter", AdapterConfig(dataset="x.json", model="minilm", output="o"), "adapter")
    assert meta["base_model"] == "sentence-transformers/all-MiniLM-L6-v2" and meta["license"] == "apache-2.0"
    text = hub_card(meta, "t", {"val": {"ndcg@10": 0.5}}, "# t\n\nloaded from /home/someone/models/minilm-tuned here")
    front = yaml.safe_load(text.split("---\n")[1])
    assert front["model-index"][0]["results"][0]["metrics"] == [{"type": "ndcg@10", "name": "ndcg@10", "value": 0.5}]
    assert "/home/someone" not in text and "minilm-tuned" in text


def _check_card(text, m, folder):
    assert text.startswith("---\n")
    front = yaml.safe_load(text.split("---\n")[1])
    assert front["library_name"] == "sentence-transformers" and front["pipeline_tag"] == "sentence-similarity"
    assert "ragtune" in front["tags"]
    assert "base_model" not in front  # a local folder or a test model is not named by a path
    index = front["model-index"][0]["results"]
    assert index, "the card carries the measured results"
    for res in index:
        recorded = m.models[res["dataset"]["name"]][m.decision.model]
        assert {x["type"]: x["value"] for x in res["metrics"]} == recorded
    assert str(folder.parent) not in text and "/tmp/" not in text
    assert "SentenceTransformer(" in text or "load_embedder(" in text


def test_train_adapter_writes_its_page_and_card_on_its_own(adapter_run, pipeline_run, tmp_path):
    folder, output = adapter_run
    assert f"report: {folder / 'report.html'}" in output
    page = _page(folder)
    for pid in expected_plot_ids(folder):
        assert f'<figure id="{pid}" class="plot"><svg' in page, pid
    assert "plot-curve-adapter" in expected_plot_ids(folder)
    m = read_metrics(folder)
    if m.decision.shipped:
        _check_card((folder / "model" / "README.md").read_text(encoding="utf-8"), m, folder)
    # two runs: the comparison page puts their common evaluation set side by side
    out = tmp_path / "compare.html"
    res = runner.invoke(app, ["report", str(pipeline_run), str(folder), "-o", str(out)])
    assert res.exit_code == 0, res.output
    page = out.read_text(encoding="utf-8")
    assert 'id="verdicts"' in page and page.count('class="verdict ') == 2


def test_eval_json_writes_its_page(tmp_path, tiny_st_dir):
    data = save_dataset(keyword_dataset(), tmp_path / "kw.json")
    out = tmp_path / "eval.json"
    res = runner.invoke(app, ["eval", "retrieval", str(data), "-m", f"a={tiny_st_dir}", "-m", f"b={tiny_st_dir}",
                              "--json", str(out), "--bootstrap", "50"])
    assert res.exit_code == 0, res.output
    page = (tmp_path / "eval.html").read_text(encoding="utf-8")
    assert 'id="plot-headline-eval"' in page and 'id="plot-delta-eval"' in page and 'id="plot-perquery-eval"' in page
    assert f"report: {tmp_path / 'eval.html'}" in res.output
