"""`submit_job`: validate chat data, upload it to a hosted fine-tuning API, create a job, poll it.

Speaks the OpenAI endpoints (`POST /files`, `POST /fine_tuning/jobs`, `GET /fine_tuning/jobs/{id}`)
through the official `openai` client, so any server that implements them works (`base_url`). The
result file is written as soon as the job exists and again when it ends; rerunning with the same
data and output resumes polling the same job instead of uploading again. The API key is read from
an environment variable and never written anywhere.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ragtune.data.chat import validate_chat, write_chat
from ragtune.errors import DataValidationError, InputError, LLMError
from ragtune.io import atomic_write_json
from ragtune.llm import check_server

FINAL = ("succeeded", "failed", "cancelled")


def _client(provider: str, base_url: str | None, api_key_env: str, timeout: float = 60.0):
    from openai import OpenAI

    if provider != "openai":
        raise InputError(f"--provider {provider!r} is not supported; use 'openai' (any server with its fine-tuning endpoints).")
    key = os.environ.get(api_key_env)
    if not key and not base_url:
        raise InputError(f"set the API key in ${api_key_env} (or --api-key-env NAME), or give --base-url for a server without auth.")
    return OpenAI(api_key=key or "no-key", base_url=base_url, timeout=timeout, max_retries=3)


def _validated_upload_file(path: str | Path) -> Path:
    """Validate `path` (errors stop here) and write it as OpenAI chat JSONL to a temp file."""
    report = validate_chat(path)
    if report.errors:
        raise DataValidationError(f"chat data {path} (nothing was uploaded)", report.problems)
    tmp = Path(tempfile.mkdtemp(prefix="ragtune-submit-")) / (Path(path).stem + ".jsonl")
    return write_chat(report.examples, tmp)


def _digest(*paths: Path | None) -> str:
    h = hashlib.sha256()
    for p in paths:
        h.update(p.read_bytes() if p else b"-")
    return h.hexdigest()


def _api(call: Callable[[], Any], what: str, base_url: str | None = None) -> Any:
    from openai import APIError

    try:
        return call()
    except APIError as e:
        raise LLMError(f"{what} at {base_url or 'api.openai.com'} failed: {type(e).__name__}: "
                       f"{getattr(e, 'message', e)}") from None


def submit_job(
    file: str | Path,
    provider: str = "openai",
    model: str = "gpt-4o-mini-2024-07-18",
    val: str | Path | None = None,
    base_url: str | None = None,
    api_key_env: str = "OPENAI_API_KEY",
    suffix: str | None = None,
    epochs: int | None = None,
    output: str | Path = "finetuned_model.json",
    poll_seconds: float = 10.0,
    timeout: float = 24 * 3600,
    status: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Run the whole hosted fine-tuning round trip; returns (and writes to `output`) the job record."""
    output = Path(output)
    train_file = _validated_upload_file(file)
    val_file = _validated_upload_file(val) if val else None
    digest = _digest(train_file, val_file)
    client = _client(provider, base_url, api_key_env)
    check_server(base_url, os.environ.get(api_key_env))  # nothing answering: say so before any upload
    record = _resumable(output, digest, model)
    if record is None:
        record = _create(client, train_file, val_file, model, suffix, epochs, status)
        record.update({"data_sha256": digest, "base_url": base_url})
        atomic_write_json(output, record)
    else:
        status(f"resuming job {record['job_id']} from {output}")
    return _poll(client, record, output, poll_seconds, timeout, status)


def _resumable(output: Path, digest: str, model: str) -> dict[str, Any] | None:
    if not output.exists():
        return None
    record = json.loads(output.read_text(encoding="utf-8"))
    same = record.get("data_sha256") == digest and record.get("model") == model
    return record if same and record.get("status") not in FINAL else None


def _create(client, train_file: Path, val_file: Path | None, model: str, suffix, epochs, status) -> dict[str, Any]:
    with train_file.open("rb") as f:
        uploaded = _api(lambda: client.files.create(file=f, purpose="fine-tune"), "uploading the training file", str(client.base_url))
    status(f"uploaded {train_file.name} as {uploaded.id}")
    val_id = None
    if val_file:
        with val_file.open("rb") as f:
            val_id = _api(lambda: client.files.create(file=f, purpose="fine-tune"), "uploading the validation file", str(client.base_url)).id
        status(f"uploaded {val_file.name} as {val_id}")
    extra: dict[str, Any] = {}
    if suffix:
        extra["suffix"] = suffix
    if val_id:
        extra["validation_file"] = val_id
    if epochs:
        extra["method"] = {"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": epochs}}}
    job = _api(lambda: client.fine_tuning.jobs.create(model=model, training_file=uploaded.id, **extra), "creating the job", str(client.base_url))
    status(f"created fine-tuning job {job.id} ({job.status})")
    return {"job_id": job.id, "status": job.status, "model": model, "training_file": uploaded.id,
            "validation_file": val_id, "fine_tuned_model": job.fine_tuned_model}


def _poll(client, record: dict[str, Any], output: Path, poll_seconds: float, timeout: float, status) -> dict[str, Any]:
    started = time.monotonic()
    while True:
        job = _api(lambda: client.fine_tuning.jobs.retrieve(record["job_id"]), "checking the job", str(client.base_url))
        record.update(status=job.status, fine_tuned_model=job.fine_tuned_model, trained_tokens=job.trained_tokens,
                      error=job.error.message if job.error and job.error.message else None)
        elapsed = time.monotonic() - started
        status(f"[{elapsed:6.0f}s] job {job.id}: {job.status}" + (f", {job.trained_tokens} tokens" if job.trained_tokens else ""))
        if job.status in FINAL or elapsed > timeout:
            break
        time.sleep(poll_seconds)
    if record["status"] not in FINAL:
        record["note"] = f"stopped waiting after {timeout:.0f}s; the job is still running. Rerun to keep polling."
    atomic_write_json(output, record)
    return record
