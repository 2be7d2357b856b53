"""A tiny OpenAI-compatible chat-completions server on 127.0.0.1 (stdlib only), for tests and benchmarks.

It answers `POST /v1/chat/completions` after an optional fixed delay and can inject faults: a
429 with `Retry-After`, a 500, a slow answer (to trip client timeouts), a malformed body, or a
connection dropped mid-response. Faults come from a queue (consumed in request order) or from a
`decide(body, n)` function, so a test can make one prompt fail forever. A request with `logprobs` and
`top_logprobs: k` gets `choices[0].logprobs.content[0].top_logprobs` from `top_logprobs(messages, text)`
(its first k), by default the reply's first whitespace token at log-probability 0; with
`reject_logprobs=True` (or a status code, e.g. 422) it gets a 400 (that status) naming logprobs instead (as from a server that refuses them). Use it to check a
generation config end to end without a GPU server:

    with ChatServer(reply=lambda msgs: "What is X?") as srv:
        llm = OpenAIProvider("test", base_url=srv.base_url)
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from ragtune.llm.fake import fake_top_logprobs


@dataclass
class Fault:
    """One injected misbehaviour: kind is 'ok', '429', '401', '500', 'slow', 'malformed', 'empty' or 'drop'."""

    kind: str
    retry_after: float | None = None  # for 429
    seconds: float = 0.0  # for slow


@dataclass
class ServerLog:
    """What the server saw: request count, peak concurrency, handler overhead, auth headers."""

    requests: int = 0
    in_flight: int = 0
    peak_in_flight: int = 0
    overhead_s: list[float] = field(default_factory=list)
    auth_headers: list[str] = field(default_factory=list)
    bodies: list[dict] = field(default_factory=list)


class ChatServer:
    """Context manager: starts the server in a daemon thread on a free port; `base_url` ends in /v1."""

    def __init__(self, reply: Callable[[list[dict]], str] = lambda m: "ok", delay: float = 0.0,
                 faults: list[Fault] | None = None, decide: Callable[[dict, int], Fault | None] | None = None,
                 top_logprobs: Callable[[list[dict], str], list[tuple[str, float]]] | None = None,
                 reject_logprobs: bool | int = False):
        self.reply, self.delay, self.decide = reply, delay, decide
        self.reject_logprobs = reject_logprobs
        self.top_logprobs = top_logprobs
        self.faults: deque[Fault] = deque(faults or [])
        self.log = ServerLog()
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def __enter__(self) -> ChatServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def next_fault(self, body: dict) -> Fault:
        with self._lock:
            self.log.requests += 1
            n = self.log.requests
            self.log.bodies.append(body)
            queued = self.faults.popleft() if self.faults else None
        decided = self.decide(body, n) if self.decide else None
        return decided or queued or Fault("ok")


def _completion_body(text: str, model: str, prompt_words: int, top: list[tuple[str, float]] | None = None) -> bytes:
    choice: dict = {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
    if top is not None:
        first = top[0] if top else (text.split()[0] if text.split() else "", 0.0)
        choice["logprobs"] = {"content": [{"token": first[0], "logprob": first[1], "bytes": None,
                                           "top_logprobs": [{"token": t, "logprob": lp, "bytes": None} for t, lp in top]}]}
    return json.dumps({
        "id": "chatcmpl-test", "object": "chat.completion", "created": int(time.time()), "model": model,
        "choices": [choice],
        "usage": {"prompt_tokens": prompt_words, "completion_tokens": len(text.split()),
                  "total_tokens": prompt_words + len(text.split())},
    }).encode()


def _handler(server: ChatServer):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()  # no Nagle: headers and body go out at once (else ~40 ms delayed-ACK stalls)
            self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def log_message(self, *args) -> None:  # keep test output clean
            pass

        def do_GET(self) -> None:  # noqa: N802
            """GET /stats: what the server saw, for benchmarks that run it in another process."""
            with server._lock:
                o = sorted(server.log.overhead_s) or [0.0]
                stats = {"requests": server.log.requests, "peak_in_flight": server.log.peak_in_flight,
                         "overhead_ms_median": 1000 * o[len(o) // 2], "overhead_ms_p99": 1000 * o[int(0.99 * (len(o) - 1))]}
                if self.path.endswith("/reset"):
                    server.log = ServerLog()
            self._send(200, json.dumps(stats).encode())

        def do_POST(self) -> None:  # noqa: N802
            t0 = time.perf_counter()
            with server._lock:
                server.log.in_flight += 1
                server.log.peak_in_flight = max(server.log.peak_in_flight, server.log.in_flight)
                server.log.auth_headers.append(self.headers.get("Authorization", ""))
            try:
                if self.path.rstrip("/") not in ("/v1/chat/completions", "/chat/completions"):
                    return self._send(404, b'{"error": {"message": "no such route", "type": "not_found"}}')
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                fault = server.next_fault(body)
                slept = self._wait(fault)
                self._respond(fault, body)
                server.log.overhead_s.append(time.perf_counter() - t0 - slept)
            finally:
                with server._lock:
                    server.log.in_flight -= 1

        def _wait(self, fault: Fault) -> float:
            seconds = server.delay + (fault.seconds if fault.kind == "slow" else 0.0)
            if seconds:
                time.sleep(seconds)
            return seconds

        def _respond(self, fault: Fault, body: dict) -> None:
            if fault.kind == "429":
                headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
                return self._send(429, b'{"error": {"message": "rate limited", "type": "rate_limit"}}', headers)
            if fault.kind == "401":
                return self._send(401, b'{"error": {"message": "invalid api key", "type": "auth"}}')
            if fault.kind == "500":
                return self._send(500, b'{"error": {"message": "boom", "type": "server_error"}}')
            if fault.kind == "malformed":
                return self._send(200, b'{"choices": [ this is not json')
            if fault.kind == "empty":
                return self._send(200, b'{"id": "x", "object": "chat.completion", "choices": []}')
            if fault.kind == "drop":
                self.close_connection = True
                self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n{\"cho")
                return None
            if server.reject_logprobs and (body.get("logprobs") or body.get("top_logprobs")):
                status = 400 if server.reject_logprobs is True else int(server.reject_logprobs)
                return self._send(status, b'{"error": {"message": "logprobs is not supported by this model", '
                                       b'"type": "invalid_request_error", "param": "logprobs"}}')
            messages = body.get("messages") or []
            words = sum(len(str(m.get("content", "")).split()) for m in messages)
            text = server.reply(messages)
            top = None
            if body.get("logprobs") and body.get("top_logprobs"):
                top = fake_top_logprobs(server.top_logprobs, messages, text, int(body["top_logprobs"]))
            return self._send(200, _completion_body(text, body.get("model", "test"), words, top))

        def _send(self, status: int, payload: bytes, headers: dict | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self._headers_buffer.append(b"\r\n")  # end_headers, sent with the body in one write
            self.wfile.write(b"".join(self._headers_buffer) + payload)
            self._headers_buffer = []

    return Handler


def main() -> None:
    """Serve until killed: `python -m ragtune.llm.testserver --delay 0.2` prints the base URL."""
    import argparse

    ap = argparse.ArgumentParser(description="OpenAI-compatible test server on 127.0.0.1 (fixed delay).")
    ap.add_argument("--delay", type=float, default=0.2, help="seconds before each answer")
    ap.add_argument("--reply", default="What does this passage explain?", help="the answer text")
    a = ap.parse_args()
    srv = ChatServer(reply=lambda m: a.reply, delay=a.delay)
    print(srv.base_url, flush=True)
    srv._httpd.serve_forever()


if __name__ == "__main__":
    main()
