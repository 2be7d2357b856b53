"""Configs are the single source of defaults: every option of a config-backed command passes nothing unless the
user gives it, shows the config's default, and `--config FILE` (YAML, JSON, or a run's own config.json) layers
under the options given."""

from __future__ import annotations

import inspect
import json

import pytest
from typer.testing import CliRunner

from ragtune.cli.main import app
from ragtune.cli.options import _shown, config_from
from ragtune.embeddings.config import AdapterConfig, EmbeddingConfig
from ragtune.errors import InputError
from ragtune.generate.config import QueryGenConfig
from ragtune.judges.config import JudgeDataConfig
from ragtune.pipeline import RunConfig
from ragtune.rerankers.config import RerankerConfig
from ragtune.sft.config import DistillConfig, SFTConfig
from ragtune.sql.config import SqlGenConfig

runner = CliRunner()


def _commands():
    from ragtune.cli import embedding, generate, judges, reranker, run, sft, sql

    return [(embedding.train_embedding, EmbeddingConfig), (embedding.train_adapter, AdapterConfig),
            (reranker.train_reranker, RerankerConfig), (sft.train_sft, SFTConfig), (sft.distill, DistillConfig),
            (run.run, RunConfig), (generate.queries, QueryGenConfig), (judges.judge_data, JudgeDataConfig),
            (sql.generate_sql_cmd, SqlGenConfig)]


@pytest.mark.parametrize("command,config", _commands(), ids=lambda x: getattr(x, "__name__", ""))
def test_no_cli_default_contradicts_its_config(command, config):
    params = inspect.signature(command).parameters
    fields = [name for name in params if name in config.model_fields]
    assert len(fields) >= 5, "the command should take its options from the config"
    for name in fields:
        opt = params[name].default
        if config.model_fields[name].is_required():
            continue
        assert opt.default is None, f"{command.__name__} --{name}: a CLI default would shadow the config's"
        want = _shown(config.model_fields[name].get_default(call_default_factory=True))
        if opt.show_default is not True:  # options declared with option() show the config's default
            assert opt.show_default == want, f"{command.__name__} --{name} shows {opt.show_default!r}, config says {want!r}"


def test_every_config_field_is_an_option():
    for command, config in _commands():
        missing = set(config.model_fields) - set(inspect.signature(command).parameters)
        assert not missing, f"{command.__name__}: no option for {sorted(missing)}"


def test_config_file_layers_under_the_given_options(tmp_path):
    yaml_file = tmp_path / "adapter.yaml"
    yaml_file.write_text("dataset: train.json\noutput: runs/a\nepochs: 12\nkind: mlp\n")
    cfg = config_from(AdapterConfig, {"epochs": 5, "seed": None}, yaml_file)
    assert (cfg.epochs, cfg.kind, cfg.seed, cfg.dataset) == (5, "mlp", 42, "train.json")
    stored = tmp_path / "config.json"  # a run's own config.json names its job
    stored.write_text(json.dumps({"job": "adapter", **cfg.model_dump()}))
    assert config_from(AdapterConfig, {}, stored) == cfg


def test_bad_config_files_and_values_are_one_clear_error(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("dataset: x\noutput: y\nepochz: 3\n")
    with pytest.raises(InputError, match="unknown setting.*epochz"):
        config_from(AdapterConfig, {}, bad)
    with pytest.raises(InputError, match=r"--epochs: input should be greater than or equal to 1 \(got 0\)"):
        config_from(AdapterConfig, {"dataset": "x", "output": "y", "epochs": 0})
    with pytest.raises(InputError, match="DATASET is required"):
        config_from(AdapterConfig, {"output": "y"})
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    with pytest.raises(InputError, match="expected a mapping"):
        config_from(AdapterConfig, {}, tmp_path / "list.yaml")


def test_cli_reports_a_bad_option_value_without_a_traceback(tmp_path):
    res = runner.invoke(app, ["train", "adapter", "data.json", "-o", str(tmp_path / "a"), "--epochs", "0"])
    assert res.exit_code == 2 and "Traceback" not in res.output
    assert "--epochs: input should be greater than or equal to 1" in res.output


def test_judge_data_config_file_layers_under_the_given_options(tmp_path):
    """`generate judge-data --config`: the file's settings hold unless an option is given; QA and -o may come from it."""
    rows = [{"id": f"q{i}", "category": "permits" if i % 2 else "roofs", "question": f"Question {i}?",
             "reference": f"Answer {i}. It has two sentences, so a truncated control exists."} for i in range(6)]
    qa = tmp_path / "qa.jsonl"
    qa.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "jd"
    cfg_file = tmp_path / "jd.yaml"
    cfg_file.write_text(f"qa: {qa}\noutput: {out}\nlabels: truth\ntest_fraction: 0.5\npairwise: false\nseed: 3\n")
    res = runner.invoke(app, ["generate", "judge-data", "--config", str(cfg_file), "--seed", "1", "--pairwise"])
    assert res.exit_code == 0, res.output
    split = json.loads((out / "split.json").read_text())
    assert (split["seed"], split["test_fraction"]) == (1, 0.5)  # the option over the file; the file over the default
    kinds = {json.loads(line)["kind"] for line in (out / "items.jsonl").read_text().splitlines()}
    assert kinds == {"correctness", "pairwise"}  # --pairwise over the file's `pairwise: false`
    assert json.loads((out / "summary.json").read_text())["labels"] == "truth"
    # the file's value is validated like the option's: one clear error naming the option
    cfg_file.write_text(f"qa: {qa}\noutput: {out}\nlabels: truth\ntest_fraction: 0.95\n")
    res = runner.invoke(app, ["generate", "judge-data", "--config", str(cfg_file)])
    assert res.exit_code != 0 and "--test-fraction: input should be less than or equal to 0.9" in res.output


def test_generate_sql_config_file_layers_under_the_given_options(tmp_path):
    """`generate sql --config`: file under options, defaults under the file; its own config.json repeats the run."""
    cfg_file = tmp_path / "sql.yaml"
    cfg_file.write_text("db: shop.sqlite\noutput: gen\npairs_per_call: 7\nrows: 0\ntimeout: 5\n")
    cfg = config_from(SqlGenConfig, {"rows": 2, "seed": None, "max_tokens": None}, cfg_file, arguments=())
    assert (cfg.db, cfg.output, cfg.pairs_per_call, cfg.rows, cfg.timeout, cfg.seed, cfg.max_tokens) == \
        ("shop.sqlite", "gen", 7, 2, 5.0, 42, None)
    stored = tmp_path / "config.json"  # generate sql's own config.json names its job
    stored.write_text(json.dumps({"job": "generate sql", **cfg.model_dump()}))
    assert config_from(SqlGenConfig, {}, stored, arguments=()) == cfg
    with pytest.raises(InputError, match=r"--pairs-per-call: input should be less than or equal to 50 \(got 51\)"):
        config_from(SqlGenConfig, {"pairs_per_call": 51}, cfg_file, arguments=())
