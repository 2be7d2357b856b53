"""Prompt templates for query generation: a default that works for small models, or your own file.

A template is plain text with three placeholders, replaced literally (braces elsewhere are safe):
`{passage}` (required), `{n}` (questions wanted) and `{examples}` (style examples, or nothing).
"""

from __future__ import annotations

import hashlib
from importlib import resources
from pathlib import Path

from ragtune.errors import InputError

MAX_EXAMPLES = 8


def default_template() -> str:
    """The bundled template (ragtune/prompts/generate_queries.txt)."""
    return resources.files("ragtune").joinpath("prompts/generate_queries.txt").read_text(encoding="utf-8")


def validation_template() -> str:
    """The bundled template of validation questions: a user's own words (ragtune/prompts/generate_validation.txt)."""
    return resources.files("ragtune").joinpath("prompts/generate_validation.txt").read_text(encoding="utf-8")


def load_template(path: str | Path | None) -> str:
    """The template in `path`, or the default; it must contain `{passage}`."""
    if path is None:
        return default_template()
    path = Path(path)
    if not path.is_file():
        raise InputError(f"--prompt-file {path}: file not found.")
    text = path.read_text(encoding="utf-8")
    if "{passage}" not in text:
        raise InputError(f"--prompt-file {path}: the template has no {{passage}} placeholder; "
                         "write {passage} where the chunk text goes (and optionally {n} and {examples}).")
    return text


def load_examples(path: str | Path | None) -> list[str]:
    """Style examples: one question per line (blank lines and '#' comments ignored), at most 8 used."""
    if path is None:
        return []
    path = Path(path)
    if not path.is_file():
        raise InputError(f"--examples {path}: file not found (one example question per line).")
    lines = [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines()]
    examples = [ln for ln in lines if ln and not ln.startswith("#")]
    if not examples:
        raise InputError(f"--examples {path}: no example questions in the file (one per line).")
    return examples[:MAX_EXAMPLES]


def render(template: str, passage: str, n: int, examples: list[str]) -> str:
    """Fill the placeholders; the passage goes in last so its own braces are never touched."""
    shown = ""
    if examples:
        shown = "Here are examples of how users phrase their questions (match their style, not their topic):\n"
        shown += "".join(f"- {e}\n" for e in examples)
    return template.replace("{n}", str(n)).replace("{examples}", shown).replace("{passage}", passage.strip())


def prompt_hash(template: str, n: int, examples: list[str], extra: str = "") -> str:
    """A short hash of everything that shapes the prompt except the passage (a journal key part)."""
    blob = "\x1f".join([template, str(n), *examples, extra])
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:12]
