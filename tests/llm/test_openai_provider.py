"""OpenAIProvider against a real local HTTP server with injected faults."""

from __future__ import annotations

import asyncio
import time

import pytest

from ragtune.errors import LLMError
from ragtune.llm import FatalLLMError, OpenAIProvider, RetryPolicy, complete_many, user_message
from ragtune.llm.retry import parse_retry_after
from ragtune.llm.testserver import ChatServer, Fault

FAST = RetryPolicy(max_tries=4, base_delay=0.01, max_delay=0.05)


def echo(messages):
    return "Q: " + messages[-1]["content"]


def run(coro):
    return asyncio.run(coro)


def test_plain_completion_and_usage():
    with ChatServer(reply=echo) as srv:
        llm = OpenAIProvider("m", base_url=srv.base_url, retry=FAST)
        out = run(llm.complete(user_message("hello world")))
    assert out.text == "Q: hello world"
    assert out.prompt_tokens == 2 and out.completion_tokens == 3
    assert srv.log.requests == 1


def test_429_retry_after_is_honoured():
    with ChatServer(reply=echo, faults=[Fault("429", retry_after=0.4)]) as srv:
        llm = OpenAIProvider("m", base_url=srv.base_url, retry=FAST)
        t0 = time.perf_counter()
        out = run(llm.complete(user_message("x")))
        waited = time.perf_counter() - t0
    assert out.text == "Q: x"
    assert srv.log.requests == 2 and llm.stats.rate_limited == 1
    assert waited >= 0.4, "the client must wait at least Retry-After before retrying"


@pytest.mark.parametrize("kind", ["500", "malformed", "empty", "drop"])
def test_transient_faults_are_retried(kind):
    with ChatServer(reply=echo, faults=[Fault(kind), Fault(kind)]) as srv:
        llm = OpenAIProvider("m", base_url=srv.base_url, retry=FAST)
        out = run(llm.complete(user_message("y")))
    assert out.text == "Q: y"
    assert srv.log.requests == 3
    assert llm.stats.retries == 2


def test_slow_response_times_out_then_succeeds():
    with ChatServer(reply=echo, faults=[Fault("slow", seconds=1.5)]) as srv:
        llm = OpenAIProvider("m", base_url=srv.base_url, retry=FAST, timeout=0.3)
        out = run(llm.complete(user_message("z")))
    assert out.text == "Q: z"
    assert llm.stats.timeouts == 1


def test_gives_up_after_bounded_tries():
    with ChatServer(reply=echo, decide=lambda body, n: Fault("500")) as srv:
        llm = OpenAIProvider("m", base_url=srv.base_url, retry=FAST)
        with pytest.raises(LLMError, match="gave up after 4 tries"):
            run(llm.complete(user_message("never")))
    assert srv.log.requests == 4


def test_auth_error_is_fatal_and_key_not_leaked():
    key = "sk-test-SECRET-0123456789abcdef"
    with ChatServer(reply=echo, faults=[Fault("401")]) as srv:
        llm = OpenAIProvider("m", base_url=srv.base_url, api_key=key, retry=FAST)
        assert key not in repr(llm)
        with pytest.raises(FatalLLMError, match="HTTP 401") as err:
            run(llm.complete(user_message("a")))
    assert key not in str(err.value)
    assert srv.log.requests == 1, "a bad key must not be retried"
    assert srv.log.auth_headers[0] == f"Bearer {key}"  # the key does reach the server


def test_unknown_route_is_fatal_without_retries():
    with ChatServer(reply=echo) as srv:
        llm = OpenAIProvider("m", base_url=srv.base_url + "/nope", retry=FAST)
        with pytest.raises(FatalLLMError, match="HTTP 404"):
            run(llm.complete(user_message("a")))
    assert llm.stats.retries == 0


def test_concurrency_is_bounded_and_used():
    with ChatServer(reply=echo, delay=0.1) as srv:
        llm = OpenAIProvider("m", base_url=srv.base_url, retry=FAST, max_concurrency=4)
        outs = run(complete_many(llm, [user_message(str(i)) for i in range(12)], concurrency=8))
    assert [o.completion.text for o in sorted(outs, key=lambda o: o.index)] == [f"Q: {i}" for i in range(12)]
    assert srv.log.peak_in_flight == 4


def test_complete_many_isolates_a_failing_prompt():
    def decide(body, n):
        return Fault("500") if "poison" in body["messages"][-1]["content"] else None

    with ChatServer(reply=echo, decide=decide) as srv:
        llm = OpenAIProvider("m", base_url=srv.base_url, retry=FAST)
        prompts = [user_message(t) for t in ["a", "poison", "b"]]
        outs = run(complete_many(llm, prompts, concurrency=3))
    by = {o.index: o for o in outs}
    assert by[0].completion.text == "Q: a" and by[2].completion.text == "Q: b"
    assert by[1].completion is None and "gave up" in str(by[1].error)


def test_parse_retry_after_forms():
    assert parse_retry_after({"retry-after": "2"}) == 2.0
    assert parse_retry_after({"retry-after-ms": "250"}) == 0.25
    assert parse_retry_after({}) is None
    assert 0 <= parse_retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) < 1


def test_backoff_grows_and_is_capped():
    p = RetryPolicy(base_delay=1.0, max_delay=4.0)
    assert 0.5 <= p.backoff(1) <= 1.0
    assert 2.0 <= p.backoff(3) <= 4.0
    assert 2.0 <= p.backoff(10) <= 4.0


def test_top_logprobs_are_asked_for_and_read_back():
    top = [("4", -0.3), (" 5", -1.4), ("3", -2.5)]
    with ChatServer(reply=lambda m: "4\nclose", top_logprobs=lambda m, text: top) as srv:
        llm = OpenAIProvider("m", base_url=srv.base_url, retry=FAST)
        out = run(llm.complete(user_message("grade"), logprobs=2))
        plain = run(llm.complete(user_message("grade")))
    assert out.top_logprobs == (("4", -0.3), (" 5", -1.4))
    assert srv.log.bodies[0]["logprobs"] is True and srv.log.bodies[0]["top_logprobs"] == 2
    assert plain.top_logprobs is None and "logprobs" not in srv.log.bodies[1]


@pytest.mark.parametrize("status", [True, 422])  # True: a 400; some servers answer 422 Unprocessable Entity
def test_a_server_that_refuses_logprobs_is_fatal_with_the_way_out(status):
    with ChatServer(reply=lambda m: "4\nclose", reject_logprobs=status) as srv:
        llm = OpenAIProvider("m", base_url=srv.base_url, retry=FAST)
        with pytest.raises(FatalLLMError, match="refused log-probabilities") as err:
            run(llm.complete(user_message("grade"), logprobs=20))
        assert "rerun with --score-logprobs 0" in str(err.value) and "logprobs is not supported" in str(err.value)
        assert f"HTTP {400 if status is True else status}" in str(err.value)
        assert srv.log.requests == 1 and llm.stats.retries == 0  # not retried: every such call fails the same way
        plain = run(llm.complete(user_message("grade")))  # the same server answers a call that asks for none
    assert plain.text == "4\nclose" and plain.top_logprobs is None
