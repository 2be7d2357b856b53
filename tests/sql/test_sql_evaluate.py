"""evaluate_sql: the metrics, scoring predictions written elsewhere, agreement with the vendored
test-suite evaluator, a fake LLM asked one database at a time, and `ragtune eval sql` end to end."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from ragtune.cli.main import app
from ragtune.errors import InputError
from ragtune.llm import FakeLLM
from ragtune.sql.evaluate import (evaluate_sql, load_spider_data, prepare_items, score_predictions,
                                  shuffled_within_database, subsample)
from sql_helpers import spider_subset

runner = CliRunner()


@pytest.fixture(scope="module")
def dev_items(spider_dir, tmp_path_factory):
    examples, _ = load_spider_data("spider-dev")
    return prepare_items(subsample(examples, 300, 0), cache_root=tmp_path_factory.mktemp("fills"))


@pytest.mark.timeout(300)
def test_gold_scores_one_and_gold_shuffled_within_a_database_scores_near_zero(dev_items):
    gold = [it.example.sql for it in dev_items]
    report, _ = evaluate_sql(dev_items, {"gold": gold, "shuffled": shuffled_within_database(dev_items)})
    g, s = report.result("gold").metrics, report.result("shuffled").metrics
    assert report.task == "sql" and report.headline == "test_suite_accuracy"
    assert report.num_queries >= 295  # gold queries that fail on fill 0 are left out, and counted
    for m in ("execution_accuracy", "test_suite_accuracy", "exact_match", "valid_rate"):
        assert g[m] == 1.0
    assert s["test_suite_accuracy"] < 0.1 and s["execution_accuracy"] < 0.12 and s["valid_rate"] == 1.0
    assert s["test_suite_accuracy"] <= s["execution_accuracy"]
    cmp = report.comparison("shuffled")
    assert cmp.significant and cmp.delta < -0.85 and cmp.wins == 0
    assert sum(g[f"n.{lv}"] for lv in ("easy", "medium", "hard", "extra")) == report.num_queries
    assert "execution_accuracy.delta" in report.result("shuffled").ci95


def _mutations(sql: str) -> list[str]:
    out = []
    if " DESC" in sql.upper():
        out.append(sql.replace(" DESC", " ASC").replace(" desc", " asc"))
    if ">" in sql:
        out.append(sql.replace(">", ">=", 1))
    if " LIMIT " in sql.upper():
        out.append(sql[: sql.upper().index(" LIMIT ")])
    return out


@pytest.mark.timeout(300)
def test_test_suite_verdicts_agree_with_the_vendored_evaluator(dev_items):
    exec_eval = pytest.importorskip("spider_reference").load_exec_eval()
    from ragtune.sql.compare import gold_orders_rows

    items, preds = [], []
    shuffled = shuffled_within_database(dev_items)
    for it, other in zip(dev_items, shuffled):
        if not it.gold_ok:
            continue
        for pred in [it.example.sql, other, *_mutations(it.example.sql)]:
            items.append(it)
            preds.append(pred)
    assert len(preds) >= 600
    scores = score_predictions(items, preds, extract=False)
    checked = agree = right = 0
    DIS = []
    for it, pred, ours in zip(items, preds, scores.values["test_suite_accuracy"]):
        gold = it.example.sql
        if gold_orders_rows(gold) != ("order by" in gold.lower()):
            continue  # ORDER BY only inside a subquery: the documented difference
        # the reference runs the pair on every .sqlite file beside the one named: test-suite accuracy
        theirs = exec_eval.eval_exec_match(str(it.fills[0]), pred, gold, plug_value=False, keep_distinct=False,
                                           progress_bar_for_each_datapoint=False)
        checked += 1
        agree += bool(ours) == bool(theirs)
        if bool(ours) != bool(theirs):
            DIS.append((ours, theirs, pred, gold))
        right += bool(theirs)
    assert checked >= 580 and agree == checked, DIS
    assert 0.3 < right / checked < 0.8  # both verdicts exercised


def test_fake_llm_is_asked_one_database_at_a_time_and_replies_are_extracted(spider_dir, tmp_path):
    path, rows = spider_subset(spider_dir, tmp_path, n=4)
    examples, _ = load_spider_data(str(path))
    items = prepare_items(examples, cache_root=tmp_path / "fills")
    gold_of = {r["question"]: r["query"] for r in rows}

    def reply(messages):
        question = messages[-1]["content"].rsplit("Question: ", 1)[1]
        return f"Here you go:\n```sql\n{gold_of[question]}\n```"

    fake = FakeLLM(default=reply)
    junk = FakeLLM(default="I cannot help with that.")
    report, scores = evaluate_sql(items, {"fake": fake, "junk": junk}, concurrency=3)
    assert report.result("fake").metrics["test_suite_accuracy"] == 1.0
    assert report.result("junk").metrics["valid_rate"] == 0.0
    assert scores["junk"].errors[0] == "no SQL in the reply"
    dbs = [m[-1]["content"].split("CREATE TABLE")[1][:30] for m in fake.calls]
    assert dbs == sorted(dbs, key=lambda d: dbs.index(d))  # each database's prompts are contiguous
    assert len(fake.calls) == len(items) and report.result("fake").seconds["questions_per_s"] > 0


def test_cli_eval_sql_scores_predictions_and_a_tiny_model(spider_dir, tmp_path, tiny_chat_dir, monkeypatch):
    monkeypatch.setenv("RAGTUNE_HOME", str(tmp_path / "home"))
    path, rows = spider_subset(spider_dir, tmp_path, n=3)
    pred = tmp_path / "pred.sql"
    pred.write_text("".join(r["query"].replace("\n", " ") + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "sql.json"
    res = runner.invoke(app, ["eval", "sql", str(path), "-m", f"tiny={tiny_chat_dir}", "--predictions", str(pred),
                              "--json", str(out), "--max-new-tokens", "8", "--sql-out", str(tmp_path / "sql.jsonl")])
    assert res.exit_code == 0, res.output
    report = json.loads(out.read_text())
    assert report["task"] == "sql" and [r["model"] for r in report["results"]] == ["tiny", "pred"]
    tiny, gold = report["results"]
    assert gold["metrics"]["test_suite_accuracy"] == 1.0
    assert gold["vs_first"]["wins"] >= 1 and tiny["seconds"]["generate"] > 0
    assert len((tmp_path / "sql.jsonl").read_text().splitlines()) == 2 * report["num_queries"]


def test_cli_eval_sql_wrong_prediction_count_is_one_error_line(spider_dir, tmp_path):
    path, _ = spider_subset(spider_dir, tmp_path, n=3)
    pred = tmp_path / "pred.sql"
    pred.write_text("SELECT 1\n", encoding="utf-8")
    res = runner.invoke(app, ["eval", "sql", str(path), "--predictions", str(pred)])
    assert res.exit_code != 0 and "1 predictions for 6 questions" in res.output


def test_eval_sql_on_a_users_own_database(tmp_path, shop_db):
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text(json.dumps({"db_id": "shop", "question": "Names of good shops?",
                                 "query": "SELECT name FROM shop WHERE rating > 3", "db_path": str(shop_db)}) + "\n")
    examples, _ = load_spider_data(str(pairs))
    items = prepare_items(examples)
    assert items[0].fills == [shop_db]
    report, _ = evaluate_sql(items, {"p": ["SELECT name FROM shop WHERE rating > 3"],
                                     "q": ["SELECT name FROM shop"]})
    assert report.result("p").metrics["test_suite_accuracy"] == 1.0
    assert report.comparison("q").delta == -1.0


def test_a_looping_model_nesting_thousands_of_parentheses_is_an_unparsed_example(tmp_path, shop_db):
    """sqlglot raises RecursionError on deep nesting; SmolLM2-135M wrote such a reply and crashed `train sft
    --eval-sql` before the fix. It must be one failed example: no SQL, no exact match, no crash."""
    from ragtune.sql.hardness import hardness_counts
    from ragtune.sql.normalize import canonical, exact_set_match

    deep = "SELECT " + "(" * 3000 + "1" + ")" * 3000 + " FROM shop"
    assert not exact_set_match(deep, "SELECT name FROM shop")
    assert canonical(deep).startswith("unparsed:")
    with pytest.raises(InputError, match="hardness: cannot parse"):
        hardness_counts(deep)
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text(json.dumps({"db_id": "shop", "question": "Names of good shops?",
                                 "query": "SELECT name FROM shop WHERE rating > 3", "db_path": str(shop_db)}) + "\n")
    examples, _ = load_spider_data(str(pairs))
    report, scores = evaluate_sql(prepare_items(examples), {"looping": FakeLLM(default="Here:\n" + deep + "\nDone.")})
    m = report.result("looping").metrics
    assert m["test_suite_accuracy"] == 0.0 and m["exact_match"] == 0.0 and m["valid_rate"] == 0.0
    assert scores["looping"].errors[0]
