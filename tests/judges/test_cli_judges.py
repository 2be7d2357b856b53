"""`generate judge-data`, `eval judge`, `eval rag`: the library flow and the CLI end to end.

The hosted-teacher flow runs in subprocesses against the real 127.0.0.1 test server with injected
faults (nothing lost, no key in any file, a failed call retried on the rerun); the CLI tests of
`eval judge` and `eval rag` use a tiny causal LM built from config around the real SmolLM2 tokenizer.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from ragtune.cli.main import app
from ragtune.data.retrieval import RetrievalDataset, write_llamaindex
from ragtune.embedders import FakeEmbedder
from ragtune.io import read_jsonl_tolerant
from ragtune.judges.data import generate_judge_data, truth_records
from ragtune.judges.evaluate import evaluate_judges, read_data
from ragtune.judges.items import read_answers, read_items
from ragtune.judges.judge import read_judgments
from ragtune.judges.parse import parse_correctness, parse_pairwise
from ragtune.judges.rag import Pipeline, evaluate_rag
from ragtune.llm import FakeLLM
from ragtune.llm.testserver import ChatServer, Fault
from ragtune.records import read_report

from .conftest import QA, server_reply

SECRET = "sk-live-DO-NOT-LEAK-judge-0123456789abcdef"
runner = CliRunner()


def write_qa(path: Path) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in QA), encoding="utf-8")
    return path


def cli(args: list[str]) -> subprocess.CompletedProcess:
    env = {**os.environ, "OPENAI_API_KEY": SECRET, "HF_HUB_OFFLINE": "1", "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "ragtune.cli.main", *args], env=env, capture_output=True, text=True, timeout=300)


def all_text(folder: Path) -> str:
    return "".join(p.read_text(encoding="utf-8", errors="replace") for p in folder.rglob("*") if p.is_file())


# ---------------------------------------------------------------- library: judge data, judge eval

def test_judge_data_splits_by_question_and_teaches_the_teacher(tmp_path, qa):
    teacher = FakeLLM(model="oracle", default=server_reply)
    student = FakeLLM(model="student", default=server_reply)
    s = generate_judge_data(qa=qa, output=tmp_path / "jd", answer_llms={"stu": student}, teacher=teacher, test_fraction=0.34, seed=1)
    split = json.loads((tmp_path / "jd" / "split.json").read_text())
    assert split["test"] and not set(split["train"]) & set(split["test"])
    items = read_items(tmp_path / "jd" / "items.jsonl")
    test_q = set(split["test"])
    for item in items:  # a wrong control's donor is on its own question's side
        if item.donor_id is not None:
            assert (item.donor_id in test_q) == (item.question_id in test_q)
    assert {i.source for i in items if i.kind == "correctness"} >= {"stu", "control:reference"}
    assert read_answers(tmp_path / "jd" / "answers" / "stu.jsonl") == {r.id: "I am not sure; ask the municipality." for r in qa}
    run = read_judgments(tmp_path / "jd" / "teacher.jsonl")
    assert len(run.correctness) + len(run.pairwise) == len(items)
    assert s["teacher"]["control_accuracy"] == 1.0 and s["complete"]
    chats = list(read_jsonl_tolerant(tmp_path / "jd" / "train.jsonl"))
    assert chats and all(c["metadata"]["question_id"] not in test_q for c in chats)
    assert any(c["id"].endswith("~swapped") for c in chats)  # order-swapped copies of pairwise chats
    for c in chats:  # every assistant turn parses back to the teacher's label
        reply = c["messages"][-1]["content"]
        if c["metadata"]["kind"] == "correctness":
            assert parse_correctness(reply)[0] == c["metadata"]["score"]
        else:
            assert parse_pairwise(reply)[0] == c["metadata"]["verdict"]
    test_chats = list(read_jsonl_tolerant(tmp_path / "jd" / "test.jsonl"))
    assert test_chats and all(c["metadata"]["question_id"] in test_q for c in test_chats)
    # a rerun asks nothing
    again = generate_judge_data(qa=qa, output=tmp_path / "jd", answer_llms={"stu": FakeLLM(model="student")},
                                teacher=FakeLLM(model="oracle"), test_fraction=0.34, seed=1)
    assert again["teacher"]["calls"]["calls_made"] == 0 and again["complete"]


def test_truth_labels_need_no_teacher_and_label_every_control(tmp_path, qa):
    s = generate_judge_data(qa=qa, output=tmp_path / "jd", labels="truth", test_fraction=0.0)
    items = read_items(tmp_path / "jd" / "items.jsonl")
    chats = list(read_jsonl_tolerant(tmp_path / "jd" / "train.jsonl"))
    controls = [i for i in items if i.truth is not None]
    assert s["train_chats"] == len(chats) >= len(controls)
    by_id = {i.id: i for i in items}
    for c in chats:
        item = by_id[c["id"].removesuffix("~swapped")]
        reply = c["messages"][-1]["content"]
        if item.kind == "correctness":
            assert parse_correctness(reply)[0] == item.truth
        elif c["id"].endswith("~swapped"):
            assert parse_pairwise(reply)[0] == {"A": "B", "B": "A"}[item.truth]
        else:
            assert parse_pairwise(reply)[0] == item.truth
    assert truth_records([i for i in items if i.truth is None]) == []


def test_eval_judge_scores_judges_against_teacher_controls_and_the_first(tmp_path, qa):
    generate_judge_data(qa=qa, output=tmp_path / "jd", answer_llms={"stu": FakeLLM(model="s", default=server_reply)},
                        teacher=FakeLLM(model="oracle", default=server_reply), test_fraction=0.5, seed=0)
    lazy = FakeLLM(model="lazy", default="3\nIt is fine.")  # never parses a verdict, scores everything 3
    report, details = evaluate_judges(tmp_path / "jd", {"teacher": "teacher", "oracle": FakeLLM(model="o", default=server_reply),
                                                        "lazy": lazy}, split="test", n_resamples=200)
    items, _, _ = read_data(tmp_path / "jd", "test")
    assert report.task == "judge" and report.num_queries == len(items)
    t, o, lz = (report.result(n) for n in ("teacher", "oracle", "lazy"))
    assert t.metrics["control_accuracy"] == o.metrics["control_accuracy"] == 1.0
    assert o.metrics["pearson_vs_teacher"] == pytest.approx(1.0) and o.metrics["swap_consistency"] == 1.0
    assert "pearson_vs_teacher" not in lz.metrics  # a constant judge has no correlation (None), never a made-up one
    assert lz.metrics["n_unparsed"] == 2 * sum(i.kind == "pairwise" for i in items)
    assert lz.vs_first.metric == "control_accuracy" and lz.vs_first.delta < 0 and lz.vs_first.significant
    assert lz.ci95["delta_control_accuracy"][1] < 0
    assert o.metrics["delta_control_accuracy"] == 0.0
    ctl = [i for i in items if i.truth is not None]
    assert lz.metrics["control_accuracy"] == pytest.approx(np.mean([i.kind == "correctness" and i.truth == 3 for i in ctl]))
    assert details["judges"]["lazy"]["n_unparsed"]["pairwise_orders"] == lz.metrics["n_unparsed"]


def test_eval_rag_library_scores_hits_rouge_and_judgments(tmp_path, qa):
    corpus = {f"d-{r.id}": r.reference for r in qa}
    relevant = {r.id: [f"d-{r.id}"] for r in qa}
    good = FakeEmbedder(["permit", "shed", "cost", "roof", "inspected", "roofing", "heat"], name="good")
    blind = FakeEmbedder(["zzz"], name="blind")  # every score ties: the first documents come back for every question
    gen = FakeLLM(model="copier", default=server_reply)  # answers with the first retrieved passage
    report, summary = evaluate_rag(qa, corpus, relevant, [Pipeline("blind", blind, gen), Pipeline("good", good, gen)],
                                   FakeLLM(model="oracle", default=server_reply), tmp_path / "rag", k=1, n_resamples=200,
                                   dataset="toy")
    assert report.task == "rag" and report.headline == "correctness" and report.num_queries == len(qa)
    b, g = report.result("blind"), report.result("good")
    assert g.metrics["hit@1"] > b.metrics["hit@1"]
    per_q = report.per_query.values("hit@1", "good")
    answers = read_answers(tmp_path / "rag" / "answers" / "good.jsonl")
    for r, hit in zip(qa, per_q):  # a hit means the generator copied the reference: ROUGE-L 1 and the oracle's 5
        if hit:
            assert answers[r.id] == r.reference
    hits = np.asarray(per_q)
    assert np.allclose(np.asarray(report.per_query.values("rouge_l", "good"))[hits == 1], 1.0)
    assert np.allclose(np.asarray(report.per_query.values("correctness", "good"))[hits == 1], 5.0)
    assert g.metrics["faithfulness"] == 4.0 and summary["pipelines"]["good"]["unparsed_faithfulness"] == 0
    assert g.vs_first.metric == "correctness" and g.metrics["delta_correctness"] == pytest.approx(
        g.metrics["correctness"] - b.metrics["correctness"])
    assert read_report(tmp_path / "rag" / "report.json").result("good").metrics == g.metrics
    # a rerun calls nothing
    again, _ = evaluate_rag(qa, corpus, relevant, [Pipeline("blind", blind, FakeLLM(model="copier")),
                                                   Pipeline("good", good, FakeLLM(model="copier"))],
                            FakeLLM(model="oracle"), tmp_path / "rag", k=1, n_resamples=200, dataset="toy")
    assert again.result("good").metrics == g.metrics


def test_eval_rag_scores_faithfulness_by_the_expected_score_like_correctness(tmp_path, qa):
    import math

    corpus = {f"d-{r.id}": r.reference for r in qa}
    relevant = {r.id: [f"d-{r.id}"] for r in qa}
    good = FakeEmbedder(["permit", "shed", "cost", "roof", "inspected", "roofing", "heat"], name="good")

    def split(messages, text):  # every judge reply states a score; the first token's probability splits 4 / 2 evenly
        return [("4", math.log(0.5)), ("2", math.log(0.5))]

    judge = FakeLLM(model="hedger", default=server_reply, top_logprobs=split)
    report, summary = evaluate_rag(qa, corpus, relevant, [Pipeline("good", good, FakeLLM(model="copier", default=server_reply))],
                                   judge, tmp_path / "rag", k=1, n_resamples=50, dataset="toy")
    g = report.result("good")
    assert g.metrics["faithfulness"] == pytest.approx(3.0)  # E[s] = (4 + 2) / 2, not the stated 4
    assert g.metrics["correctness"] == pytest.approx(3.0)
    journal = [json.loads(x) for x in (tmp_path / "rag" / "journal" / "faithfulness.jsonl").read_text().splitlines()]
    assert journal and all(";lp=20" in r["key"] and r["top_logprobs"] for r in journal)
    again, _ = evaluate_rag(qa, corpus, relevant, [Pipeline("good", good, FakeLLM(model="copier"))],
                            FakeLLM(model="hedger"), tmp_path / "rag", k=1, n_resamples=50, dataset="toy")
    assert again.result("good").metrics == g.metrics  # resumed from the journal, probabilities included


# ---------------------------------------------------------------- hosted teacher: faults, resume, no key

def test_hosted_teacher_with_faults_loses_nothing_and_writes_no_key(tmp_path):
    qa = write_qa(tmp_path / "qa.jsonl")
    faults = [Fault("429", retry_after=0.2), Fault("500"), Fault("malformed"), Fault("drop"), Fault("slow", seconds=3), Fault("empty")]
    with ChatServer(reply=server_reply, faults=faults) as srv:
        out = tmp_path / "jd"
        p = cli(["generate", "judge-data", str(qa), "-o", str(out), "--answer-with", "stu=openai:student",
                 "--teacher", "openai:teacher", "--base-url", srv.base_url, "--timeout", "1", "-c", "4",
                 "--test-fraction", "0.34"])
        assert p.returncode == 0, p.stderr + p.stdout
        assert all(h == f"Bearer {SECRET}" for h in srv.log.auth_headers)  # the key was used ...
    items = read_items(out / "items.jsonl")
    run = read_judgments(out / "teacher.jsonl")
    assert len(run.correctness) + len(run.pairwise) == len(items)  # ... nothing lost despite the faults ...
    assert all(j.error is None for j in run.judgments())
    summary = json.loads((out / "summary.json").read_text())
    assert summary["complete"] and summary["teacher"]["control_accuracy"] == 1.0
    assert summary["sources"]["stu"]["answers"] == len(QA)
    assert SECRET not in all_text(out) + p.stdout + p.stderr  # ... and no key in any file or output


def test_hosted_teacher_failed_call_is_retried_on_rerun_and_nothing_is_asked_twice(tmp_path):
    qa = write_qa(tmp_path / "qa.jsonl")
    out = tmp_path / "jd"

    def broken(body, n):  # one prompt fails every time in the first run
        return Fault("500") if "Is a heat pump worth it?" in body["messages"][-1]["content"] else None

    args = ["generate", "judge-data", str(qa), "-o", str(out), "--teacher", "openai:teacher", "--labels", "teacher",
            "--answers", "ref=" + str(tmp_path / "ans.jsonl"), "--timeout", "5", "-c", "4", "--test-fraction", "0"]
    (tmp_path / "ans.jsonl").write_text("".join(json.dumps({"id": r["id"], "answer": "ask the municipality"}) + "\n" for r in QA))
    with ChatServer(reply=server_reply, decide=broken) as srv:
        p = cli([*args, "--base-url", srv.base_url])
        assert p.returncode == 1, p.stderr + p.stdout
        assert "rerun" in p.stderr
        first_keys = [r["key"] for r in read_jsonl_tolerant(out / "journal" / "teacher.jsonl")]
    with ChatServer(reply=server_reply) as srv:
        p = cli([*args, "--base-url", srv.base_url])
        assert p.returncode == 0, p.stderr + p.stdout
        second = [r["key"] for r in read_jsonl_tolerant(out / "journal" / "teacher.jsonl")]
        items = read_items(out / "items.jsonl")
        failed = [i for i in items if i.question_id == "h1"]
        expected_calls = sum(1 if i.kind == "correctness" else 2 for i in failed)
        assert srv.log.requests == expected_calls  # only the failed calls, none of the finished ones
    assert len(second) == len(set(second)) == len(first_keys) + expected_calls
    run = read_judgments(out / "teacher.jsonl")
    assert all(j.error is None for j in run.judgments())


# ---------------------------------------------------------------- CLI end to end with tiny models

def test_eval_judge_cli_with_a_tiny_model(tmp_path, qa, tiny_chat_model):
    generate_judge_data(qa=qa, output=tmp_path / "jd", teacher=FakeLLM(model="oracle", default=server_reply), test_fraction=0.34)
    r = runner.invoke(app, ["eval", "judge", str(tmp_path / "jd"), "-j", "teacher", "-j", f"tiny={tiny_chat_model}",
                            "--max-new-tokens", "8", "--json", str(tmp_path / "judge.json"), "--details", str(tmp_path / "d.json"),
                            "--bootstrap", "100"])
    assert r.exit_code == 0, r.output
    report = read_report(tmp_path / "judge.json")
    assert report.task == "judge" and [x.model for x in report.results] == ["teacher", "tiny"]
    tiny = report.result("tiny")
    assert tiny.vs_first is not None and "control_accuracy" in tiny.metrics and "items_per_s" in tiny.metrics
    assert (tmp_path / "jd" / "journal" / "judge-tiny.jsonl").is_file()
    assert "tiny" in json.loads((tmp_path / "d.json").read_text())["judges"]


def test_eval_rag_cli_with_tiny_models_saves_answers_for_judge_data(tmp_path, tiny_chat_model):
    qa = _rag_files(tmp_path)
    r = runner.invoke(app, ["eval", "rag", str(qa), "--corpus", str(tmp_path / "corpus.json"), "-r", "minilm", "-g", str(tiny_chat_model),
                            "-r", "minilm", "-g", f"local:{tiny_chat_model}", "--pipeline-name", "naive", "--pipeline-name", "same",
                            "-j", str(tiny_chat_model), "-o", str(tmp_path / "rag"), "--k", "2", "--max-new-tokens", "8",
                            "--bootstrap", "100", "--json", str(tmp_path / "rag.json")])
    assert r.exit_code == 0, r.output
    report = read_report(tmp_path / "rag.json")
    assert report.task == "rag" and [x.model for x in report.results] == ["naive", "same"]
    naive, same = report.result("naive"), report.result("same")
    assert naive.metrics["hit@2"] == same.metrics["hit@2"] and naive.metrics["hit@2"] > 0.5  # MiniLM finds these answers
    assert same.metrics["delta_rouge_l"] == 0.0  # the same greedy model answers the same
    assert "significant differences: none" in r.output
    # the saved answers feed judge-data
    r = runner.invoke(app, ["generate", "judge-data", str(qa), "-o", str(tmp_path / "jd"), "--labels", "truth",
                            "--answers", f"naive={tmp_path / 'rag' / 'answers' / 'naive.jsonl'}"])
    assert r.exit_code == 0, r.output
    assert any(i.source == "naive" for i in read_items(tmp_path / "jd" / "items.jsonl"))


def _rag_files(tmp_path):
    """QA (with doc ids) and its corpus, as `eval rag` reads them: tmp_path/qa.jsonl and tmp_path/corpus.json."""
    ds = RetrievalDataset(queries={f"q-{r['id']}": r["question"] for r in QA}, corpus={f"d-{r['id']}": r["reference"] for r in QA},
                          relevant_docs={f"q-{r['id']}": [f"d-{r['id']}"] for r in QA}, name="toy")
    write_llamaindex(ds, tmp_path / "corpus.json")
    qa = tmp_path / "qa.jsonl"
    qa.write_text("".join(json.dumps({**r, "doc_id": f"d-{r['id']}"}) + "\n" for r in QA), encoding="utf-8")
    return qa


def test_eval_rag_with_a_hosted_generator_and_judge_writes_no_key(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    qa = _rag_files(tmp_path)
    with ChatServer(reply=server_reply, faults=[Fault("500"), Fault("429", retry_after=0.1)]) as srv:
        r = runner.invoke(app, ["eval", "rag", str(qa), "--corpus", str(tmp_path / "corpus.json"), "-r", "minilm",
                                "-g", "openai:gen", "-j", "openai:judge", "--base-url", srv.base_url, "-o", str(tmp_path / "rag"),
                                "--k", "1", "--bootstrap", "100"])
        assert r.exit_code == 0, r.output
    report = read_report(tmp_path / "rag" / "report.json")
    p1 = report.result("p1")
    hits = np.asarray(report.per_query.values("hit@1", "p1"))
    # the server's generator copies the first passage: a hit is the reference itself, which the oracle judge scores 5
    assert np.allclose(np.asarray(report.per_query.values("correctness", "p1"))[hits == 1], 5.0)
    assert p1.metrics["n_correctness"] == len(QA) and p1.metrics["faithfulness"] == 4.0
    assert SECRET not in all_text(tmp_path / "rag") + r.output


# ---------------------------------------------------------------- --score-logprobs: 0 = judge by the stated score

def hedge(messages, text):  # the first token's probability splits 4 / 2 evenly: E[s] = 3 whatever the stated score
    import math

    return [("4", math.log(0.5)), ("2", math.log(0.5))]


def journal_keys(path: Path) -> list[str]:
    return [r["key"] for r in read_jsonl_tolerant(path)]


def test_judge_data_score_logprobs_0_judges_by_the_stated_score(tmp_path, qa):
    s = generate_judge_data(qa=qa, output=tmp_path / "jd", teacher=FakeLLM(model="oracle", default=server_reply, top_logprobs=hedge),
                            answer_llms={"stu": FakeLLM(model="s", default=server_reply)}, test_fraction=0.34, score_logprobs=0)
    keys = journal_keys(tmp_path / "jd" / "journal" / "teacher.jsonl")
    assert keys and not any(";lp=" in k for k in keys)
    run = read_judgments(tmp_path / "jd" / "teacher.jsonl")
    scores = list(run.correctness.values())
    assert scores and all(j.expected_score is None and j.value == j.score for j in scores)
    assert {j.score for j in scores} == {1, 3, 5} and s["teacher"]["control_accuracy"] == 1.0
    # the default asks for 20 and scores E[s] (3 here): the setting is what made the difference above
    generate_judge_data(qa=qa, output=tmp_path / "lp", teacher=FakeLLM(model="oracle", default=server_reply, top_logprobs=hedge),
                        answer_llms={"stu": FakeLLM(model="s", default=server_reply)}, test_fraction=0.34)
    assert any(";lp=20" in k for k in journal_keys(tmp_path / "lp" / "journal" / "teacher.jsonl"))
    assert {j.value for j in read_judgments(tmp_path / "lp" / "teacher.jsonl").correctness.values()} == {3.0}


def test_judge_data_cli_takes_score_logprobs_and_bounds_it(tmp_path):
    qa = write_qa(tmp_path / "qa.jsonl")
    (tmp_path / "ans.jsonl").write_text("".join(json.dumps({"id": r["id"], "answer": "ask the municipality"}) + "\n" for r in QA))
    args = ["generate", "judge-data", str(qa), "-o", str(tmp_path / "jd"), "--teacher", "openai:teacher", "--test-fraction", "0",
            "--answers", "ref=" + str(tmp_path / "ans.jsonl"), "--no-pairwise"]
    r = runner.invoke(app, [*args, "--score-logprobs", "21"])
    assert r.exit_code != 0 and "--score-logprobs" in r.output
    with ChatServer(reply=server_reply, top_logprobs=hedge) as srv:
        r = runner.invoke(app, [*args, "--base-url", srv.base_url, "--score-logprobs", "0"])
        assert r.exit_code == 0, r.output
        assert srv.log.bodies and not any("logprobs" in b or "top_logprobs" in b for b in srv.log.bodies)
    assert all(j.expected_score is None for j in read_judgments(tmp_path / "jd" / "teacher.jsonl").correctness.values())


def test_eval_judge_cli_score_logprobs_0_judges_by_the_stated_score(tmp_path, qa, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    generate_judge_data(qa=qa, output=tmp_path / "jd", teacher=FakeLLM(model="oracle", default=server_reply), test_fraction=0.5)
    args = ["eval", "judge", str(tmp_path / "jd"), "-j", "teacher", "-j", "openai:judge", "--bootstrap", "50"]
    with ChatServer(reply=server_reply, top_logprobs=hedge) as srv:
        r = runner.invoke(app, [*args, "--base-url", srv.base_url, "--score-logprobs", "0", "--json", str(tmp_path / "none.json")])
        assert r.exit_code == 0, r.output
        assert srv.log.bodies and not any("logprobs" in b for b in srv.log.bodies)
    keys = journal_keys(tmp_path / "jd" / "journal" / "judge-openai_judge.jsonl")
    assert keys and not any(";lp=" in k for k in keys)
    stated = read_report(tmp_path / "none.json").result("openai:judge").metrics
    assert stated["exact_agreement_vs_teacher"] == 1.0 and stated["control_accuracy"] == 1.0  # the oracle's stated scores
    with ChatServer(reply=server_reply, top_logprobs=hedge) as srv:  # the default: E[s] = 3 for every item
        r = runner.invoke(app, [*args, "--base-url", srv.base_url, "--json", str(tmp_path / "lp.json")])
        assert r.exit_code == 0, r.output
    assert read_report(tmp_path / "lp.json").result("openai:judge").metrics["exact_agreement_vs_teacher"] < 1.0


def test_eval_rag_against_a_server_that_refuses_logprobs(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    qa = _rag_files(tmp_path)
    with ChatServer(reply=server_reply, top_logprobs=hedge, reject_logprobs=True) as srv:
        args = ["eval", "rag", str(qa), "--corpus", str(tmp_path / "corpus.json"), "-r", "minilm", "-g", "openai:gen",
                "-j", "openai:judge", "--base-url", srv.base_url, "-o", str(tmp_path / "rag"), "--k", "1", "--bootstrap", "50"]
        r = runner.invoke(app, args)
        assert r.exit_code != 0
        assert "refused log-probabilities" in r.output and "--score-logprobs 0" in r.output and "Traceback" not in r.output
        r = runner.invoke(app, [*args, "--score-logprobs", "0"])
        assert r.exit_code == 0, r.output
    for name in ("correctness", "faithfulness"):
        keys = journal_keys(tmp_path / "rag" / "journal" / f"{name}.jsonl")
        assert keys and not any(";lp=" in k for k in keys)
    report = read_report(tmp_path / "rag" / "report.json")
    hits = np.asarray(report.per_query.values("hit@1", "p1"))
    assert np.allclose(np.asarray(report.per_query.values("correctness", "p1"))[hits == 1], 5.0)  # stated, not E[s] = 3
    assert report.result("p1").metrics["faithfulness"] == 4.0


def test_score_logprobs_cli_defaults_are_the_librarys():
    import inspect

    import typer

    from ragtune.judges.config import JudgeDataConfig
    from ragtune.judges.judge import SCORE_LOGPROBS

    commands = typer.main.get_command(app).commands["eval"].commands
    for cmd, fn in (("judge", evaluate_judges), ("rag", evaluate_rag)):
        (param,) = [p for p in commands[cmd].params if p.name == "score_logprobs"]
        assert param.default == inspect.signature(fn).parameters["score_logprobs"].default == SCORE_LOGPROBS
    assert JudgeDataConfig.model_fields["score_logprobs"].default == SCORE_LOGPROBS
