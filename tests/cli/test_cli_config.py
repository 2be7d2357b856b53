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
from ragtune.pipeline import RunConfig
from ragtune.rerankers.config import RerankerConfig
from ragtune.sft.config import DistillConfig, SFTConfig

runner = CliRunner()


def _commands():
    from ragtune.cli import embedding, generate, reranker, run, sft

    return [(embedding.train_embedding, EmbeddingConfig), (embedding.train_adapter, AdapterConfig),
            (reranker.train_reranker, RerankerConfig), (sft.train_sft, SFTConfig), (sft.distill, DistillConfig),
            (run.run, RunConfig), (generate.queries, QueryGenConfig)]


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
