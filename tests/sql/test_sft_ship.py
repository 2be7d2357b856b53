"""`ragtune train sft CHATS --eval-sql test.json`: held-out text-to-SQL execution decides the ship.

End to end with a tiny model: `sql prepare` splits a small Spider subset by database (train.jsonl / test.json),
`train sft` trains on one database and is judged on the other by test-suite accuracy."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from ragtune.cli.main import app
from sql_helpers import spider_subset

runner = CliRunner()


def test_cli_train_sft_eval_sql_decides_by_held_out_execution(spider_dir, tmp_path, tiny_chat_dir, monkeypatch):
    monkeypatch.setenv("RAGTUNE_HOME", str(tmp_path / "home"))
    subset, _ = spider_subset(spider_dir, tmp_path, n=4)
    data = tmp_path / "data"
    res = runner.invoke(app, ["sql", "prepare", str(subset), "-o", str(data), "--test-share", "0.5", "--seed", "0",
                              "--rows", "1"])
    assert res.exit_code == 0, res.output
    split = json.loads((data / "split.json").read_text())
    assert len(split["train_dbs"]) == 1 and len(split["test_dbs"]) == 1
    test = data / "test.json"
    run = tmp_path / "run"
    args = ["train", "sft", str(data / "train.jsonl"), "-m", str(tiny_chat_dir), "-o", str(run), "--eval-sql", str(test),
            "--epochs", "1", "--batch-size", "2", "--val-fraction", "0.25", "--device", "cpu"]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "recorded, not deciding" in res.output and "test_suite_accuracy" in res.output

    metrics = json.loads((run / "metrics.json").read_text())
    d = metrics["decision"]
    assert d["decided_by"] == "eval sql" and d["dataset"] == "test" and d["metric"] == "test_suite_accuracy"
    assert d["rule"] == "gain" and d["model"] == "tuned"
    assert metrics["task_eval"]["data"] == str(test) and metrics["task_eval"]["questions"] == 4
    assert metrics["tuned"]["val_loss"] is not None  # still measured
    # judged with the prompts the chats were prepared with (split.json's rows) and the recorded settings
    settings = dict(metrics["task_eval"]["settings"])
    replies = settings.pop("base_replies")
    assert settings == {"fills": 3, "rows": 1, "max_new_tokens": 128, "batch_size": 32, "bootstrap": 1000, "seed": 0,
                        "decoding": "greedy"}
    assert replies["cached"] == 0 and replies["generated"] == 4
    assert replies["cache"].startswith(str(tmp_path / "home" / "cache" / "replies"))
    assert json.loads((run / "config.json").read_text())["eval_sql"] == str(test)
    report = json.loads((run / "eval" / "sql.json").read_text())
    assert report["task"] == "sql" and [r["model"] for r in report["results"]] == ["base", "tuned"]
    assert report["results"][1]["vs_first"]["metric"] == "test_suite_accuracy"
    # the held-out questions are the other database's
    assert {json.loads(test.read_text())[0]["db_id"]} == set(split["test_dbs"])
    # 4 questions cannot show a clear gain: the base stays, no model/ (a shipped one would need a CI above zero)
    assert (run / "model").exists() == d["shipped"] and d["verdict"] != "ship"
    assert "eval sql" in (run / "card.md").read_text()

    again = runner.invoke(app, args)  # a finished run reports its recorded result
    assert again.exit_code == 0, again.output
    assert json.loads((run / "metrics.json").read_text()) == metrics

    # a new run on the same base and data takes the base's replies from the cache, with the same scores
    other = tmp_path / "run2"
    res = runner.invoke(app, [*args[:6], str(other), *args[7:], "--seed", "1"])
    assert res.exit_code == 0, res.output
    second = json.loads((other / "metrics.json").read_text())
    assert second["task_eval"]["settings"]["base_replies"] == {**replies, "cached": 4, "generated": 0}
    assert second["task_eval"]["base"] == metrics["task_eval"]["base"]
    base = [json.loads((r / "eval" / "sql.json").read_text())["results"][0] for r in (run, other)]
    assert base[0]["metrics"] == base[1]["metrics"]
