"""`ragtune label` in a real terminal: the CLI runs in a detached tmux session and is driven by keystrokes.

It checks what a person sees (the query, the numbered passages, the re-prompt after bad input), that the
answers are in the output after `q`, and that a second run resumes at the next unanswered query (and that
Ctrl-C there still ends with a summary, nothing lost). Every wait polls the screen against a deadline."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

import ragtune
from ragtune.data.retrieval import RetrievalDataset, load_dataset, write_llamaindex
from ragtune.label import query_id

pytestmark = [pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed: the terminal test needs it"),
              pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed: the terminal test runs under it")]

QUERIES = ["do I need a permit for a new roof", "how high can my fence be", "how to lower my heating costs",
           "which windows keep the heat inside"]
START_DEADLINE = 180.0  # a cold start imports torch and loads MiniLM on a shared machine
STEP_DEADLINE = 60.0


class Tmux:
    """One tmux server on its own socket (never the user's), killed at the end."""

    def __init__(self):
        self.socket = f"ragtune-label-{uuid.uuid4().hex[:10]}"

    def __call__(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(["tmux", "-L", self.socket, "-f", "/dev/null", *args], capture_output=True, text=True, timeout=30, check=check)

    def start(self, name: str, command: str) -> None:
        self("new-session", "-d", "-s", name, "-x", "200", "-y", "50", command)

    def screen(self, name: str) -> str:
        return self("capture-pane", "-p", "-J", "-t", name, check=False).stdout

    def wait_for(self, name: str, text: str, deadline: float = STEP_DEADLINE) -> str:
        end = time.monotonic() + deadline
        while True:
            screen = self.screen(name)
            if text in screen:
                return screen
            if time.monotonic() > end:
                raise AssertionError(f"{text!r} did not appear within {deadline:.0f} s; the screen shows:\n{screen}")
            time.sleep(0.1)

    def keys(self, name: str, *keys: str) -> None:
        self("send-keys", "-t", name, *keys)

    def kill(self) -> None:
        self("kill-server", check=False)


@pytest.fixture
def tmux():
    t = Tmux()
    yield t
    t.kill()


@pytest.fixture
def workdir(tmp_path):
    corpus = RetrievalDataset(queries={}, corpus={
        "roof": "Replacing the roof covering of a house needs a building permit only if the roof shape changes.",
        "fence": "A garden fence lower than 1.1 metres can be built without any permit.",
        "heat": "A heat pump cuts the heating bill of a detached house by about half.",
        "window": "Triple-glazed windows keep the heat inside in winter.",
        "tax": "The ROT deduction covers 30 percent of the labour cost of a renovation.",
    }, relevant_docs={}, name="small")
    write_llamaindex(corpus, tmp_path / "corpus.json")
    (tmp_path / "queries.txt").write_text("\n".join(QUERIES) + "\n", encoding="utf-8")
    return tmp_path


def label_command(workdir: Path) -> str:
    src = Path(ragtune.__file__).resolve().parent.parent
    env = {"PYTHONPATH": str(src), "RAGTUNE_HOME": str(workdir / "home"), "HF_HUB_OFFLINE": "1",
           "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "HOME": os.environ.get("HOME", str(workdir))}
    argv = [sys.executable, "-m", "ragtune.cli.main", "label", "queries.txt", "--corpus", "corpus.json", "-o", "labels.json",
            "--model", "minilm", "--teacher", "none", "-k", "3"]
    inner = f"cd {shlex.quote(str(workdir))} && env {' '.join(f'{k}={shlex.quote(v)}' for k, v in env.items())} {shlex.join(argv)}"
    # bash, not sh: after Ctrl-C it waits for the command (which handles the interrupt) instead of dying with it
    return f"bash -c {shlex.quote(inner + '; echo __EXIT__ $?; exec sleep 600')}"


def test_label_in_a_terminal_then_resume(tmux, workdir):
    cmd = label_command(workdir)
    tmux.start("first", cmd)
    screen = tmux.wait_for("first", "answer>", START_DEADLINE)
    assert QUERIES[0] in screen and "query 1 of 4" in screen
    assert "[1]" in screen and "[2]" in screen and "[3]" in screen and "found by minilm #1" in screen
    assert "s skip" in screen and "u undo" in screen  # the keys are on screen

    tmux.keys("first", "1 2", "Enter")
    screen = tmux.wait_for("first", QUERIES[1])
    assert "query 2 of 4" in screen and QUERIES[0] not in screen  # one query per screen
    tmux.keys("first", "7 x", "Enter")
    screen = tmux.wait_for("first", "not a passage number")
    assert "Traceback" not in screen and QUERIES[1] in screen  # still on the same query
    tmux.keys("first", "s", "Enter")
    tmux.wait_for("first", QUERIES[2])
    tmux.keys("first", "q", "Enter")
    screen = tmux.wait_for("first", "__EXIT__")
    assert "__EXIT__ 0" in screen and "labelled 1, skipped 1, remaining 2 of 4 queries" in screen

    journal = [json.loads(line) for line in (workdir / "labels.journal.jsonl").read_text().splitlines()]
    first = next(r for r in journal if r["type"] == "label")
    ds = load_dataset(workdir / "labels.json")
    assert list(ds.queries.values()) == [QUERIES[0]]
    assert ds.relevant_docs[query_id(QUERIES[0])] == first["shown"][:2]
    assert ds.meta["labelling"]["skipped_queries"] == {query_id(QUERIES[1]): QUERIES[1]}

    tmux.start("second", cmd)  # the same command again: it resumes
    screen = tmux.wait_for("second", "answer>", START_DEADLINE)
    assert QUERIES[2] in screen and "query 3 of 4" in screen and "resuming" in screen
    assert QUERIES[0] not in screen and QUERIES[1] not in screen
    tmux.keys("second", "1", "Enter")
    tmux.wait_for("second", QUERIES[3])
    tmux.keys("second", "C-c")  # interrupted mid-question: what was answered stays, and a summary is printed
    screen = tmux.wait_for("second", "__EXIT__")
    assert "__EXIT__ 0" in screen and "labelled 2, skipped 1, remaining 1 of 4 queries" in screen
    ds = load_dataset(workdir / "labels.json")
    assert list(ds.queries.values()) == [QUERIES[0], QUERIES[2]] and len(ds.corpus) == 5
