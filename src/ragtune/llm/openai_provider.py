"""Any OpenAI-compatible chat server (vLLM, llama.cpp server, Ollama, TGI, hosted APIs) via the openai SDK."""

from __future__ import annotations

import asyncio

from ragtune.errors import InputError, LLMError
from ragtune.llm.base import Completion, FatalLLMError, Messages, UnreachableError
from ragtune.llm.retry import RetryPolicy, RetryStats, parse_retry_after
from ragtune.secrets import scrub

_RETRY_STATUS = {408, 409, 425, 429}


class MalformedResponse(Exception):
    """The server answered 2xx but the body is not a usable chat completion."""


class OpenAIProvider:
    """Async chat completions with at most `max_concurrency` requests in flight and bounded retries.

    Retries (exponential backoff with jitter, `Retry-After` honoured) on 429, 5xx, 408, timeouts,
    connection errors and malformed bodies; other 4xx (bad key, unknown model) raise FatalLLMError at
    once (so does a 400 naming logprobs to a call that asked for them: the message says to ask for none).
    The API key is kept out of every message this class raises or logs. `json_schema`: every request asks for a
    reply inside that JSON Schema (`response_format` type `json_schema`, strict: OpenAI's structured outputs; vLLM,
    SGLang and llama.cpp servers take the same field).
    """

    def __init__(self, model: str, base_url: str | None = None, api_key: str | None = None,
                 max_concurrency: int = 8, timeout: float = 60.0, retry: RetryPolicy | None = None,
                 json_schema: dict | None = None):
        self.model = model
        self.json_schema = json_schema
        self.base_url = base_url
        self._api_key = api_key or "not-needed"
        self.max_concurrency = max_concurrency
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.stats = RetryStats()
        self._per_loop: tuple[object, object, asyncio.Semaphore] | None = None


    def __repr__(self) -> str:  # never show the key
        return f"OpenAIProvider(model={self.model!r}, base_url={self.base_url!r})"

    def check(self) -> None:
        """Before the first call: is anything answering at the server's address? (`check_server`)"""
        check_server(self.base_url, self._api_key, timeout=min(self.timeout, 10.0))

    def _client(self):
        """One AsyncOpenAI client and semaphore per event loop (httpx pools are bound to their loop)."""
        loop = asyncio.get_running_loop()
        if self._per_loop is None or self._per_loop[0] is not loop:
            from openai import AsyncOpenAI, DefaultAsyncHttpxClient

            # A plain httpx client: the SDK's default one schedules its own close on whatever loop is
            # running when it is garbage-collected, which fails once its own loop has ended.
            http = DefaultAsyncHttpxClient(timeout=self.timeout)
            client = AsyncOpenAI(http_client=http, api_key=self._api_key, base_url=self.base_url, max_retries=0, timeout=self.timeout)
            self._per_loop = (loop, client, asyncio.Semaphore(self.max_concurrency))
        return self._per_loop[1], self._per_loop[2]

    async def complete(self, messages: Messages, *, max_tokens: int = 256, temperature: float = 0.0,
                       seed: int | None = None, logprobs: int | None = None) -> Completion:
        client, limit = self._client()
        last = "no attempt made"
        connect_failures = 0
        for attempt in range(1, self.retry.max_tries + 1):
            retry_after = None
            try:
                async with limit:
                    self.stats.requests += 1
                    resp = await client.chat.completions.create(
                        model=self.model, messages=messages, max_tokens=max_tokens, temperature=temperature,
                        **({"seed": seed} if seed is not None else {}),
                        **({"logprobs": True, "top_logprobs": logprobs} if logprobs else {}),
                        **({"response_format": {"type": "json_schema", "json_schema": {
                            "name": "reply", "schema": self.json_schema, "strict": True}}} if self.json_schema is not None else {}))
                return self._parse(resp)
            except Exception as e:  # classified below; anything unknown is re-raised
                if logprobs:
                    self._refused_logprobs(e)
                last, retry_after = self._classify(e)
                connect_failures += last == "connection error"
            if attempt < self.retry.max_tries:
                self.stats.retries += 1
                await asyncio.sleep(self.retry.wait(attempt, retry_after))
        self.stats.given_up += 1
        error = UnreachableError if connect_failures == self.retry.max_tries else LLMError
        raise error(f"{self.model} at {self.base_url or 'api.openai.com'}: gave up after "
                    f"{self.retry.max_tries} tries; last error: {last}")

    def _refused_logprobs(self, e: Exception) -> None:
        """A 400 that names logprobs, to a call that asked for them: the server refuses log-probabilities
        (some vLLM / llama.cpp setups, some hosted models), so every such call would fail the same way."""
        import openai

        if isinstance(e, (openai.BadRequestError, openai.UnprocessableEntityError)) and "logprob" in str(e.message).lower():
            raise FatalLLMError(f"{self.model} at {self.base_url or 'api.openai.com'}: the server refused log-probabilities "
                                f"(HTTP {e.status_code}: {scrub(str(e.message), [self._api_key])[:300]}); rerun with "
                                "--score-logprobs 0 (Python: score_logprobs=0) to judge by the stated score instead.") from None

    def _classify(self, e: Exception) -> tuple[str, float | None]:
        """Count a failure and say whether to retry; raise FatalLLMError when retrying is pointless."""
        import openai

        if isinstance(e, openai.APITimeoutError):
            self.stats.timeouts += 1
            return "timeout", None
        if isinstance(e, openai.APIConnectionError):
            self.stats.connection_errors += 1
            return "connection error", None
        if isinstance(e, openai.APIStatusError):
            status = e.status_code
            if status == 429:
                self.stats.rate_limited += 1
            elif status >= 500:
                self.stats.server_errors += 1
            elif status not in _RETRY_STATUS:
                raise FatalLLMError(f"{self.model} at {self.base_url or 'api.openai.com'}: HTTP {status}: "
                                    f"{scrub(str(e.message), [self._api_key])[:300]}") from None
            return f"HTTP {status}", parse_retry_after(e.response.headers)
        if isinstance(e, (MalformedResponse, openai.APIResponseValidationError, ValueError, TypeError, AttributeError)):
            self.stats.malformed += 1
            return f"malformed response ({scrub(str(e), [self._api_key])[:200]})", None
        raise e

    def _parse(self, resp) -> Completion:
        choices = getattr(resp, "choices", None) if not isinstance(resp, (str, bytes)) else None
        if not choices or choices[0].message is None or not isinstance(choices[0].message.content, str):
            raise MalformedResponse(f"no choices[0].message.content in the body: {str(resp)[:120]!r}")
        usage = resp.usage
        return Completion(
            text=choices[0].message.content,
            prompt_tokens=(usage.prompt_tokens or 0) if usage else 0,
            completion_tokens=(usage.completion_tokens or 0) if usage else 0,
            model=resp.model or self.model,
            finish_reason=choices[0].finish_reason,
            top_logprobs=_first_top_logprobs(choices[0]),
        )


def _first_top_logprobs(choice) -> tuple[tuple[str, float], ...] | None:
    """The first reply token's top log-probabilities (`choices[0].logprobs.content[0].top_logprobs`), when sent."""
    content = getattr(getattr(choice, "logprobs", None), "content", None)
    if not content:
        return None
    top = getattr(content[0], "top_logprobs", None) or []
    return tuple((str(t.token), float(t.logprob)) for t in top)


def check_server(base_url: str | None, api_key: str | None = None, *, tries: int = 2, timeout: float = 10.0) -> None:
    """Raise `UnreachableError` (naming the URL, the error and the number of tries) when nothing answers at an
    OpenAI-compatible server's address; a malformed URL is an `InputError`. One `GET /models` (no tokens spent):
    any HTTP answer, even an error status, counts as reachable (the calls report their own errors), and so does a
    server that accepted the connection but is slow to answer."""
    import time

    import httpx

    shown = base_url or "https://api.openai.com/v1"
    url = shown.rstrip("/") + "/models"
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    last = ""
    for attempt in range(1, tries + 1):
        try:
            httpx.get(url, headers=headers, timeout=timeout)
            return
        except (httpx.UnsupportedProtocol, httpx.InvalidURL) as e:
            raise InputError(f"--base-url {shown!r} is not a usable URL ({e}); give one like http://127.0.0.1:8000/v1.") from None
        except (httpx.ConnectError, httpx.ConnectTimeout) as e:
            last = scrub(str(e) or type(e).__name__, [api_key] if api_key else [])
        except httpx.TransportError:
            return  # connected, then slow or odd: the server is there
        if attempt < tries:
            time.sleep(0.5)
    raise UnreachableError(f"cannot connect to the LLM server at {shown} ({last}; {tries} tries): start the server, "
                           "or check --base-url.")
