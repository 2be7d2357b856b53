"""The offline asset registry: names resolve, hub ids fail fast and clearly, joins are verified."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import time

import pytest

from ragtune import assets
from ragtune.errors import AssetError, InputError, OfflineError


def test_registry_has_the_required_assets():
    for name in ("minilm", "mpnet", "smollm2-135m-instruct", "qwen2.5-coder-0.5b-instruct", "construction-faq", "spider-dev"):
        assert assets.get_asset(name) is not None, name
    assert assets.get_asset("sentence-transformers/all-MiniLM-L6-v2").name == "minilm"


def test_minilm_resolves_to_a_model_folder():
    path = assets.resolve_model("minilm")
    assert (path / "config.json").exists() and (path / "modules.json").exists()


def test_uncached_hub_id_fails_fast_with_one_line(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    t0 = time.perf_counter()
    with pytest.raises(OfflineError) as e:
        assets.resolve_model("BAAI/bge-small-en-v1.5")
    assert time.perf_counter() - t0 < 5
    msg = str(e.value)
    assert "offline" in msg and "ragtune assets" in msg and "\n" not in msg
    with pytest.raises(OfflineError):  # a bare hub id with no organisation is a hub id too
        assets.resolve_model("bert-base-uncased")


def test_missing_local_folder_and_dataset_as_model_are_input_errors(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        assets.resolve_model(str(tmp_path / "nope"))
    with pytest.raises(InputError, match="is a dataset"):
        assets.resolve_model("construction-faq")


def test_join_and_verify_refuses_a_wrong_hash(tmp_path):
    a, b = tmp_path / "a.bin", tmp_path / "b.bin"
    a.write_bytes(b"hello ")
    b.write_bytes(b"world")
    good = hashlib.sha256(b"hello world").hexdigest()
    out = assets.join_and_verify([a, b], tmp_path / "joined", good)
    assert out.read_bytes() == b"hello world"
    with pytest.raises(AssetError, match="sha256 mismatch"):
        assets.join_and_verify([b, a], tmp_path / "bad", good)
    assert not (tmp_path / "bad").exists(), "a file that failed verification must not be left behind"


def test_locked_build_runs_once_across_processes(tmp_path):
    """Two processes racing to prepare the same cache folder: one builds, the other waits and reuses it."""
    code = f"""
import os, time
os.environ["RAGTUNE_HOME"] = {str(tmp_path)!r}
from ragtune import assets
def build(tmp):
    with open({str(tmp_path / 'builds.log')!r}, "a") as f:
        f.write("x")
    time.sleep(1.0)
    (tmp / "done").write_text("ok")
print(assets._locked_build("demo", build))
"""
    procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=60)[0].strip() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert outs[0] == outs[1]
    assert (tmp_path / "builds.log").read_text() == "x"
    assert (tmp_path / "assets" / "demo" / "done").read_text() == "ok"


def test_interrupted_build_leaves_no_final_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("RAGTUNE_HOME", str(tmp_path))

    def build(tmp):
        (tmp / "half").write_text("partial")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        assets._locked_build("demo2", build)
    assert not (tmp_path / "assets" / "demo2").exists()
    assert not list((tmp_path / "assets").glob(".tmp-demo2-*"))
