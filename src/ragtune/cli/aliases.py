"""Old option spellings, kept working for one release.

The option vocabulary (docs/cli-options.md) gives every setting one name across commands. The names it
replaced still work: before typer parses the command line, `rewrite` turns an old spelling into today's
and prints one `warning:` line on stderr saying so. `--help` shows only today's names.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["ALIASES", "rewrite"]

# command path -> {old spelling: today's}
ALIASES: dict[str, dict[str, str]] = {
    "generate queries": {"--out": "--output", "--samples": "--calls-per-chunk", "--max-tokens": "--max-new-tokens"},
    "generate negatives": {"--out": "--output", "--model": "--retriever", "-m": "--retriever",
                           "-n": "--num-negatives"},
    "distill": {"--max-tokens": "--max-new-tokens"},
    "train adapter": {"--embedder": "--model", "-e": "--model", "--temperature": "--distill-temperature"},
    "train reranker": {"--teacher-temperature": "--distill-temperature", "--pseudo-queries": "--num-pseudo-queries"},
    "train sft": {"--val": "--val-dataset"},
    "data validate": {"--val": "--val-dataset"},
    "data chunk": {"--tokenizer": "--chunk-tokenizer"},
    "sft submit": {"--val": "--val-dataset"},
    "eval sft": {"--samples": "--side-by-side"},
    "label": {"--tokenizer": "--chunk-tokenizer", "-c": "--corpus", "-k": "--top-k", "--k": "--top-k",
              "--answers": "--replies"},
    "generate judge-data": {"--max-tokens": "--max-new-tokens"},
    "eval judge": {"--max-tokens": "--max-new-tokens"},
    "eval rag": {"--max-tokens": "--max-new-tokens", "--name": "--pipeline-name"},
    "eval sql": {"--max-tokens": "--max-new-tokens"},
    "eval json": {"--max-tokens": "--max-new-tokens"},
    "sql ask": {"--max-tokens": "--max-new-tokens"},
    "generate sql": {"--max-tokens": "--max-new-tokens", "-n": "--pairs-per-call"},
}


def rewrite(command: str, args: Sequence[str]) -> tuple[list[str], list[str]]:
    """`args` (what follows the command's name) with old spellings replaced, and one warning per old spelling
    used. `--old=value` is rewritten too; nothing after a bare `--` is touched."""
    table = ALIASES.get(command, {})
    out: list[str] = []
    warned: dict[str, str] = {}
    rest = False
    for arg in args:
        rest = rest or arg == "--"
        if rest or not arg.startswith("-"):
            out.append(arg)
            continue
        name, eq, value = arg.partition("=")
        new = table.get(name)
        if new is None:
            out.append(arg)
            continue
        warned[name] = new
        out.append(new + eq + value)
    warnings = [f"ragtune {command}: {old} is an old name of {new}; it will be removed in a later release."
                for old, new in warned.items()]
    return out, warnings
