from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ragtune.errors import InputError, LLMError
from ragtune.io import read_jsonl_tolerant
from ragtune.judges.items import PairwiseItem, correctness_items, pairwise_items, write_items
from ragtune.judges.judge import (
    NOT_JUDGED,
    call_key,
    combine_orders,
    judge_items,
    load_judgments,
    plan_calls,
    read_judgments,
    write_judgments,
)
from ragtune.llm import FakeLLM, FatalLLMError

from .conftest import oracle_reply

SRC = Path(__file__).resolve().parents[2] / "src"


def pair(id_, a, b, truth=None):
    return PairwiseItem(id=id_, question_id=id_, question="Q?", answer_a=a, answer_b=b, source_a="x", source_b="y", truth=truth)


def table_reply(table):
    """Reply by the (shown A, shown B) answers of a pairwise prompt."""
    def reply(messages):
        user = messages[-1]["content"]
        a, b = user.split("Answer A: ", 1)[1].split("\n\nAnswer B: ", 1)
        return table[(a, b.rsplit("\n\n", 1)[0])]
    return reply


@pytest.mark.parametrize("first,second_shown,final", [
    ("A", "B", "A"), ("B", "A", "B"), ("tie", "tie", "tie"),      # consistent
    ("A", "A", "inconclusive"), ("B", "B", "inconclusive"),       # a flip: the position won, not the answer
    ("A", "tie", "A"), ("tie", "B", "A"), ("tie", "A", "B"), ("B", "tie", "B"),  # LlamaIndex's vote count
    (None, "A", None), ("A", None, None), (None, None, None),
])
def test_combine_orders(first, second_shown, final):
    assert combine_orders(first, second_shown) == final


def test_both_orders_are_asked_and_flips_are_inconclusive(tmp_path):
    items = [pair("consistent", "good", "bad"), pair("flip", "p", "q"), pair("lean", "m", "n"),
             pair("tie", "s", "t"), pair("half-unparsed", "u", "v")]
    table = {("good", "bad"): "A\nA is right.", ("bad", "good"): "B\nB is right.",
             ("p", "q"): "A\nfirst", ("q", "p"): "A\nfirst again",
             ("m", "n"): "tie\nclose", ("n", "m"): "B\nB is the better one here",
             ("s", "t"): "tie", ("t", "s"): "Equal.",
             ("u", "v"): "A", ("v", "u"): "I cannot decide."}
    llm = FakeLLM(default=table_reply(table))
    run = judge_items(llm, items, tmp_path / "j.jsonl", concurrency=3)
    assert len(llm.calls) == 10
    j = run.pairwise
    assert (j["consistent"].verdict, j["consistent"].consistent) == ("A", True)
    assert (j["flip"].verdict, j["flip"].consistent) == ("inconclusive", False)
    assert (j["lean"].verdict, j["lean"].consistent) == ("A", False)  # tie, then B shown = A in the item's labels
    assert (j["tie"].verdict, j["tie"].consistent) == ("tie", True)
    h = j["half-unparsed"]
    assert h.verdict is None and h.consistent is None and h.parse_failed and h.second.parse_failed and not h.first.parse_failed
    assert h.second.raw == "I cannot decide." and h.second.reason == "I cannot decide."
    assert j["flip"].first.verdict == "A" and j["flip"].second.verdict == "A"  # as shown in each order
    assert j["consistent"].second.reason == "B is right."
    assert sum(x.verdict == "inconclusive" for x in j.values()) == 1
    assert run.unparsed == {"correctness": 0, "pairwise_orders": 1}


def test_position_biased_judge_is_inconclusive_everywhere(tmp_path, qa):
    items = pairwise_items(qa)
    run = judge_items(FakeLLM(default="A\nThe first one."), items, tmp_path / "j.jsonl")
    assert {j.verdict for j in run.pairwise.values()} == {"inconclusive"}
    oracle = judge_items(FakeLLM(default=oracle_reply), items, tmp_path / "o.jsonl")
    assert all(oracle.pairwise[i.id].verdict == i.truth for i in items)


def test_correctness_judgments_and_parse_failures(tmp_path, qa):
    items = correctness_items(qa)
    run = judge_items(FakeLLM(default=oracle_reply), items, tmp_path / "j.jsonl")
    for i in items:
        j = run.correctness[i.id]
        assert j.score == {"reference": 5, "truncated": 3}.get(i.control, 1)
        assert j.reason and j.raw and not j.parse_failed and j.error is None
    bad = judge_items(FakeLLM(default="Hmm, hard to say."), items, tmp_path / "bad.jsonl")
    assert all(j.score is None and j.parse_failed for j in bad.correctness.values())
    assert bad.unparsed["correctness"] == len(items)


def test_rerun_asks_nothing_and_changed_settings_ask_afresh(tmp_path, qa):
    items = correctness_items(qa) + pairwise_items(qa)
    path = tmp_path / "j.jsonl"
    first = judge_items(FakeLLM(default=oracle_reply), items, path)
    n = first.stats.calls_made
    assert n == first.stats.calls_total == len({c.key for c in plan_calls(items, "fake", 128, 0.0)})
    again = FakeLLM(default=oracle_reply)
    second = judge_items(again, items, path)
    assert again.calls == [] and second.stats.calls_resumed == n and second.stats.calls_made == 0
    assert second.correctness == first.correctness and second.pairwise == first.pairwise
    other = FakeLLM(default=oracle_reply, model="other")
    judge_items(other, items, path)  # another model: its own calls, same journal
    assert len(other.calls) == n
    budget = FakeLLM(default=oracle_reply)
    judge_items(budget, items, path, max_tokens=64)
    assert len(budget.calls) == n
    assert len(list(read_jsonl_tolerant(path))) == 3 * n


def test_identical_prompts_share_one_call(tmp_path, qa):
    sources = {"copycat": {r.id: r.reference for r in qa}}  # answers equal to the reference control's
    items = correctness_items(qa, sources, controls=("reference",))
    llm = FakeLLM(default=oracle_reply)
    run = judge_items(llm, items, tmp_path / "j.jsonl")
    assert len(items) == 2 * len(qa) and len(llm.calls) == len(qa)
    assert all(j.score == 5 for j in run.correctness.values())


def test_keys_depend_on_prompt_model_and_settings():
    m = [{"role": "user", "content": "x"}]
    keys = {call_key(m, "a", 128, 0.0), call_key([{"role": "user", "content": "y"}], "a", 128, 0.0),
            call_key(m, "b", 128, 0.0), call_key(m, "a", 64, 0.0), call_key(m, "a", 128, 0.7), call_key(m, "a", 128, 0.0, 20)}
    assert len(keys) == 6 and call_key(m, "a", 128, 0.0, None) == call_key(m, "a", 128, 0.0)


def test_duplicate_item_ids_are_refused(tmp_path):
    with pytest.raises(InputError, match="appears twice"):
        judge_items(FakeLLM(default="A"), [pair("x", "a", "b"), pair("x", "c", "d")], tmp_path / "j.jsonl")


def test_fatal_error_mid_run_keeps_what_finished_and_resume_asks_only_the_rest(tmp_path, qa):
    items = correctness_items(qa) + pairwise_items(qa)
    path = tmp_path / "j.jsonl"
    total = len({c.key for c in plan_calls(items, "fake", 128, 0.0)})
    count = {"n": 0}

    def dies_after_7(messages):
        count["n"] += 1
        if count["n"] > 7:
            raise FatalLLMError("the server went away")
        return oracle_reply(messages)

    with pytest.raises(FatalLLMError):
        judge_items(FakeLLM(default=dies_after_7), items, path, concurrency=1)
    before = [r["key"] for r in read_jsonl_tolerant(path)]
    assert len(before) == 7
    resumed = FakeLLM(default=oracle_reply)
    run = judge_items(resumed, items, path, concurrency=4)
    key_of = {json.dumps(c.messages, sort_keys=True): c.key for c in plan_calls(items, "fake", 128, 0.0)}
    asked = [key_of[json.dumps(m, sort_keys=True)] for m in resumed.calls]
    assert len(asked) == total - 7 and not set(asked) & set(before) and len(set(asked)) == len(asked)
    keys = [r["key"] for r in read_jsonl_tolerant(path)]
    assert len(keys) == len(set(keys)) == total
    fresh = judge_items(FakeLLM(default=oracle_reply), items, tmp_path / "fresh.jsonl")
    assert run.correctness == fresh.correctness and run.pairwise == fresh.pairwise


def test_failed_call_is_not_journaled_and_is_retried(tmp_path):
    items = [pair("p", "a", "b")]
    path = tmp_path / "j.jsonl"
    run = judge_items(FakeLLM(replies=["A\nok", LLMError("timeout after 3 tries")], default=None), items, path, concurrency=1)
    j = run.pairwise["p"]
    assert j.verdict is None and j.error == "timeout after 3 tries" and not j.parse_failed
    assert j.second.error and j.second.raw is None and run.stats.calls_failed == 1
    assert len(list(read_jsonl_tolerant(path))) == 1
    retry = FakeLLM(default="A\nok")
    run = judge_items(retry, items, path)
    assert len(retry.calls) == 1 and run.pairwise["p"].verdict == "inconclusive"


def test_journal_holds_no_prompt_and_no_secret(tmp_path, monkeypatch, qa):
    secret = "sk-test-0123456789abcdefghij"
    monkeypatch.setenv("MY_API_KEY", "hunter2-very-secret")
    items = correctness_items(qa, controls=("reference",))
    path = tmp_path / "j.jsonl"
    judge_items(FakeLLM(default=f"5\nSame. My key is {secret}; env hunter2-very-secret",
                        top_logprobs=lambda m, t: [("5", -0.1), (secret, -3.0)]), items, path)
    text = path.read_text()
    assert secret not in text and "hunter2-very-secret" not in text and "[REDACTED]" in text
    assert qa[0].question not in text and qa[0].reference not in text
    rec = json.loads(text.splitlines()[0])
    assert set(rec) == {"key", "kind", "item_id", "order", "model", "reply", "prompt_tokens", "completion_tokens", "finish_reason",
                        "top_logprobs"}
    assert rec["top_logprobs"] == [["5", -0.1], ["[REDACTED]", -3.0]]


def test_judgments_round_trip(tmp_path, qa):
    items = correctness_items(qa) + pairwise_items(qa)
    run = judge_items(FakeLLM(default=oracle_reply), items, tmp_path / "j.jsonl")
    back = read_judgments(write_judgments(tmp_path / "judgments.jsonl", run), model="fake")
    assert back.correctness == run.correctness and back.pairwise == run.pairwise


CHILD = """
import hashlib, sys
from ragtune.judges.items import read_items
from ragtune.judges.judge import judge_items
from ragtune.llm import FakeLLM

def reply(messages):
    user = messages[-1]["content"]
    h = int(hashlib.sha256(user.encode()).hexdigest(), 16)
    if "Answer to grade" in user:
        return f"{h % 5 + 1}\\nreason {h % 7}"
    return ["A", "B", "tie", "no idea"][h % 4] + "\\nbecause"

def top(messages, text):
    h = int(hashlib.sha256(messages[-1]["content"].encode()).hexdigest(), 16)
    return [(str(h % 5 + 1), -0.2), (str((h // 5) % 5 + 1), -1.5 - (h % 3)), ("The", -2.0)]

if __name__ == "__main__":
    judge_items(FakeLLM(default=reply, delay=0.03, model="slow", top_logprobs=top), read_items(sys.argv[1]), sys.argv[2],
                concurrency=2)
"""


def test_sigkill_mid_run_then_resume_loses_nothing_and_repeats_nothing(tmp_path, qa):
    items = correctness_items(qa) + pairwise_items(qa)
    items_path = write_items(tmp_path / "items.jsonl", items)
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    journal = tmp_path / "journal.jsonl"
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    proc = subprocess.Popen([sys.executable, str(script), str(items_path), str(journal)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while len(list(read_jsonl_tolerant(journal))) < 10 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.01)
    assert proc.poll() is None, f"the judging process ended before the kill: {proc.stderr.read()}"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read()
    with journal.open("ab") as f:  # what a kill in the middle of a write leaves behind
        f.write(b'{"key": "torn", "reply": "4\\nhal')
    before = {r["key"] for r in read_jsonl_tolerant(journal)}
    keys = {c.key for c in plan_calls(items, "slow", 128, 0.0)}
    assert 10 <= len(before) < len(keys) and before <= keys

    ns: dict = {}
    exec(CHILD, ns)
    resumed = FakeLLM(default=ns["reply"], model="slow", top_logprobs=ns["top"])
    run = judge_items(resumed, items, journal, concurrency=4)
    key_of = {json.dumps(c.messages, sort_keys=True): c.key for c in plan_calls(items, "slow", 128, 0.0)}
    asked = [key_of[json.dumps(m, sort_keys=True)] for m in resumed.calls]
    assert sorted(asked) == sorted(keys - before), "exactly the missing calls, each once"
    lines = [r["key"] for r in read_jsonl_tolerant(journal)]
    assert len(lines) == len(set(lines)) == len(keys)
    fresh = judge_items(FakeLLM(default=ns["reply"], model="slow", top_logprobs=ns["top"]), items, tmp_path / "fresh.jsonl")
    assert run.correctness == fresh.correctness and run.pairwise == fresh.pairwise
    scored = [j for j in run.correctness.values() if j.expected_score is not None]
    assert len(scored) == len(run.correctness) and len({round(j.expected_score, 6) for j in scored}) > 3
    assert run.stats.calls_resumed == len(before) and run.stats.calls_made == len(keys) - len(before)


def test_load_judgments_reads_the_journal_without_an_llm(tmp_path, qa):
    items = correctness_items(qa) + pairwise_items(qa)
    path = tmp_path / "j.jsonl"
    run = judge_items(FakeLLM(default=oracle_reply), items[:10], path)
    loaded = load_judgments(items, path, "fake")
    assert all(loaded.correctness[i.id] == run.correctness[i.id] for i in items[:10])
    assert loaded.correctness[items[10].id].error == NOT_JUDGED and loaded.stats.calls_resumed == run.stats.calls_total
    assert load_judgments(items, path, "other-model").stats.calls_resumed == 0


def test_correctness_calls_ask_for_logprobs_and_journal_them(tmp_path, qa):
    """E[s] comes from the first token's top log-probabilities; a resumed run (no LLM) computes the same scores."""
    import math

    items = correctness_items(qa) + pairwise_items(qa)
    asked: list = []

    class Spy(FakeLLM):
        async def complete(self, messages, **kw):
            asked.append(kw.get("logprobs"))
            return await super().complete(messages, **kw)

    def top(messages, text):
        s = int(text[0])
        return [(str(s), math.log(0.6)), (str(max(1, s - 1)), math.log(0.3)), ("The", math.log(0.1))]

    path = tmp_path / "j.jsonl"
    run = judge_items(Spy(default=oracle_reply, top_logprobs=top), items, path)
    n_corr = sum(i.kind == "correctness" for i in items)
    assert asked.count(20) == n_corr and asked.count(None) == 2 * (len(items) - n_corr)
    ref = run.correctness[f"{qa[0].id}|control:reference"]
    assert ref.score == 5 and ref.expected_score == pytest.approx((5 * 0.6 + 4 * 0.3) / 0.9) and ref.discrete == 5
    assert ref.score_mass == pytest.approx(0.9) and ref.reason == "It says what the reference says."
    wrong = run.correctness[f"{qa[0].id}|control:other_category"]
    assert wrong.expected_score == pytest.approx(1.0) and wrong.value == pytest.approx(1.0)
    again = judge_items(FakeLLM(), items, path)  # everything from the journal: no call made
    assert again.correctness == run.correctness and again.stats.calls_made == 0
    assert load_judgments(items, path, "fake").correctness == run.correctness
    # without log-probabilities (another key): the stated scores only
    plain = judge_items(FakeLLM(default=oracle_reply), items, tmp_path / "plain.jsonl", score_logprobs=None)
    assert all(j.expected_score is None and j.value == j.score for j in plain.correctness.values())


def test_a_provider_without_logprobs_falls_back_to_the_stated_score(tmp_path, qa):
    items = correctness_items(qa)
    run = judge_items(FakeLLM(default=oracle_reply, top_logprobs=lambda m, t: None), items, tmp_path / "j.jsonl")
    assert all(j.expected_score is None and j.discrete == j.score for j in run.correctness.values())


def test_judging_through_the_test_server_gives_expected_scores(tmp_path, qa):
    """The hosted path: OpenAIProvider against the 127.0.0.1 server, which sends top_logprobs when asked."""
    import math

    from ragtune.llm import OpenAIProvider, RetryPolicy
    from ragtune.llm.testserver import ChatServer

    items = correctness_items(qa, controls=("reference", "other_category"))
    top = lambda m, text: [(text[0], math.log(0.7)), ("3", math.log(0.3))]  # noqa: E731
    with ChatServer(reply=oracle_reply, top_logprobs=top) as srv:
        llm = OpenAIProvider("judge", base_url=srv.base_url, retry=RetryPolicy(max_tries=2, base_delay=0.01))
        run = judge_items(llm, items, tmp_path / "j.jsonl", concurrency=4)
    assert all(b.get("top_logprobs") == 20 and b.get("logprobs") is True for b in srv.log.bodies)
    for item in items:
        j = run.correctness[item.id]
        want = 0.7 * j.score + 0.3 * 3
        assert j.expected_score == pytest.approx(want)
