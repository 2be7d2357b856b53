"""`sft submit` against a real local HTTP server speaking OpenAI's files + fine-tuning endpoints."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from conftest import faq_chats, write_jsonl
from typer.testing import CliRunner

from ragtune.errors import DataValidationError
from ragtune.sft.submit import submit_job

SECRET = "sk-test-secret-123"


class JobServer:
    """Files and fine-tuning jobs in memory; each GET of a job advances it one status."""

    def __init__(self, steps=("queued", "running", "succeeded"), error: str | None = None):
        self.uploads: list[bytes] = []
        self.created: list[dict] = []
        self.auth: set[str] = set()
        self.steps, self.error, self.polls = list(steps), error, 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, obj, code=200):
                data = json.dumps(obj).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):
                server.auth.add(self.headers.get("Authorization", ""))
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.path == "/v1/files":
                    server.uploads.append(body)
                    return self._send({"id": f"file-{len(server.uploads)}", "object": "file", "bytes": len(body),
                                       "created_at": 1, "filename": "train.jsonl", "purpose": "fine-tune"})
                if self.path == "/v1/fine_tuning/jobs":
                    server.created.append(json.loads(body))
                    return self._send(server.job("validating_files"))
                self._send({"error": {"message": "not found"}}, 404)

            def do_GET(self):
                if self.path == "/v1/fine_tuning/jobs/ftjob-1":
                    status = server.steps[min(server.polls, len(server.steps) - 1)]
                    server.polls += 1
                    return self._send(server.job(status))
                self._send({"error": {"message": "not found"}}, 404)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def job(self, status: str) -> dict:
        req = self.created[-1] if self.created else {}
        done = status == "succeeded"
        return {"id": "ftjob-1", "object": "fine_tuning.job", "created_at": 1, "model": req.get("model", "m"),
                "training_file": req.get("training_file", ""), "validation_file": req.get("validation_file"),
                "status": status, "fine_tuned_model": "ft:gpt-4o-mini:acme::abc123" if done else None,
                "trained_tokens": 1234 if done else None, "organization_id": "org", "result_files": [], "seed": 0,
                "hyperparameters": {"n_epochs": "auto"}, "finished_at": 2 if done else None,
                "error": {"code": "bad", "message": self.error, "param": None} if status == "failed" else None}


@pytest.fixture()
def server():
    s = JobServer()
    yield s
    s.httpd.shutdown()


def test_upload_create_poll_and_write_model_id(tmp_path, server, monkeypatch):
    monkeypatch.setenv("MY_KEY", SECRET)
    # alpaca input: validated, converted, uploaded as OpenAI chat JSONL
    path = tmp_path / "alpaca.json"
    path.write_text(json.dumps([{"instruction": f"q{i}", "output": f"a{i}"} for i in range(3)]))
    out = tmp_path / "result.json"
    lines: list[str] = []
    result = submit_job(path, model="gpt-4o-mini", base_url=server.url, api_key_env="MY_KEY", suffix="faq", epochs=2,
                        output=out, poll_seconds=0.01, status=lines.append)
    assert result["status"] == "succeeded" and result["fine_tuned_model"] == "ft:gpt-4o-mini:acme::abc123"
    assert json.loads(out.read_text())["fine_tuned_model"] == "ft:gpt-4o-mini:acme::abc123"
    assert server.auth == {f"Bearer {SECRET}"} and SECRET not in out.read_text()
    (upload,) = server.uploads
    assert b'{"messages": [{"role": "user", "content": "q0"}, {"role": "assistant", "content": "a0"}]}' in upload
    (req,) = server.created
    assert req["training_file"] == "file-1" and req["suffix"] == "faq" and req["model"] == "gpt-4o-mini"
    assert req["method"]["supervised"]["hyperparameters"]["n_epochs"] == 2
    assert any("running" in line for line in lines) and any("succeeded" in line for line in lines)


def test_invalid_data_is_never_uploaded(tmp_path, server):
    path = write_jsonl(tmp_path / "bad.jsonl", [{"messages": [{"role": "user", "content": "no answer"}]}])
    with pytest.raises(DataValidationError, match="bad.jsonl:1"):
        submit_job(path, base_url=server.url, output=tmp_path / "r.json", poll_seconds=0.01, status=lambda s: None)
    assert server.uploads == [] and server.created == []


def test_rerun_resumes_polling_the_same_job(tmp_path):
    server = JobServer(steps=("running", "running", "succeeded"))
    try:
        data = write_jsonl(tmp_path / "d.jsonl", faq_chats(3))
        out = tmp_path / "r.json"
        first = submit_job(data, base_url=server.url, output=out, poll_seconds=0.01, timeout=0.0, status=lambda s: None)
        assert first["status"] == "running" and "still running" in first["note"]
        second = submit_job(data, base_url=server.url, output=out, poll_seconds=0.01, status=lambda s: None)
        assert second["status"] == "succeeded" and len(server.uploads) == 1 and len(server.created) == 1
    finally:
        server.httpd.shutdown()


def test_cli_failed_job_exits_non_zero(tmp_path):
    from ragtune.cli.main import app

    server = JobServer(steps=("running", "failed"), error="training file has too few examples")
    try:
        data = write_jsonl(tmp_path / "d.jsonl", faq_chats(2))
        res = CliRunner().invoke(app, ["sft", "submit", str(data), "--base-url", server.url, "--poll", "0.01",
                                       "-o", str(tmp_path / "r.json")])
        assert res.exit_code == 1, res.output
        record = json.loads((tmp_path / "r.json").read_text())
        assert record["status"] == "failed" and record["error"] == "training file has too few examples"
    finally:
        server.httpd.shutdown()
