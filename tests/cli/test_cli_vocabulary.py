"""Every command against the option vocabulary of docs/cli-options.md: one name and one short form per
meaning, choices listed for enum-like options, old spellings rewritten (with a warning) and only those."""

from __future__ import annotations

import collections
import os
import re
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from ragtune.cli.aliases import ALIASES, rewrite  # noqa: E402
from ragtune.cli.main import app  # noqa: E402

DOC = Path(__file__).resolve().parents[2] / "docs" / "cli-options.md"


def leaf_commands(command, path=()):
    if hasattr(command, "commands"):
        for name, sub in sorted(command.commands.items()):
            yield from leaf_commands(sub, (*path, name))
    else:
        yield " ".join(path), command


COMMANDS = dict(leaf_commands(typer.main.get_command(app)))


def options(command):
    """(long name, short forms, choices or None) of each visible option of a command."""
    for p in command.params:
        if p.param_type_name != "option" or p.hidden:
            continue
        names = [*p.opts, *p.secondary_opts]
        longs = [n for n in names if n.startswith("--") and not n.startswith("--no-")]
        shorts = sorted(n for n in names if not n.startswith("--"))
        desc = p.type_descriptor
        yield longs[0], shorts, ([str(c) for c in desc.choices] if desc.is_choice else None)


def section(title: str) -> list[list[str]]:
    text = DOC.read_text(encoding="utf-8").split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in text.splitlines() if line.startswith("| `")]
    return [[cell.strip() for cell in row.strip("|").split("|")] for row in rows]


def code(cell: str) -> str:
    return cell.strip().strip("`")


SHARED = {code(r[0]): {"short": code(r[1]) if r[1] else "", "values": r[3]} for r in section("Shared options")}
ENUM_LIKE = re.findall(r"`(--[a-z-]+)`", DOC.read_text(encoding="utf-8").split("## Enum-like options", 1)[1]
                       .split("naming the choices:", 1)[1].split("(`--device`", 1)[0])


def test_the_walk_finds_every_command_and_the_doc_has_its_tables():
    assert {"run", "train adapter", "generate queries", "label", "data convert", "eval retrieval"} <= set(COMMANDS)
    assert len(SHARED) > 40 and {"--output", "--model", "--retriever"} <= set(SHARED)
    assert {"--to", "--index", "--kind", "--loss"} <= set(ENUM_LIKE)


def test_an_option_that_two_commands_take_is_in_the_shared_table():
    users = collections.defaultdict(list)
    for name, command in COMMANDS.items():
        for long, shorts, _ in options(command):
            users[long].append(name)
    missing = {long: cmds for long, cmds in users.items() if len(cmds) > 1 and long not in SHARED}
    assert not missing, f"shared options missing from docs/cli-options.md: {missing}"
    unused = [long for long in SHARED if long not in users]
    assert not unused, f"docs/cli-options.md lists options no command has: {unused}"


def test_a_short_form_means_one_option_everywhere():
    for name, command in COMMANDS.items():
        for long, shorts, _ in options(command):
            documented = SHARED.get(long, {}).get("short", "")
            assert shorts in ([], [documented]), f"ragtune {name} {long}: short form {shorts}, the vocabulary has {documented!r}"
            for short in shorts:
                owner = [k for k, v in SHARED.items() if v["short"] == short]
                assert owner == [long], f"ragtune {name}: {short} is {long} here but {owner} in the vocabulary"


def test_enum_like_options_list_their_choices():
    seen = set()
    for name, command in COMMANDS.items():
        for long, _, choices in options(command):
            if long in ENUM_LIKE:
                seen.add(long)
                assert choices, f"ragtune {name} {long} is a plain string; its --help must list the choices"
            if choices and long in SHARED:
                for choice in choices:
                    assert f"`{choice}`" in SHARED[long]["values"], f"{long}: choice {choice!r} not in the vocabulary"
    assert seen == set(ENUM_LIKE), f"enum-like options no command has: {set(ENUM_LIKE) - seen}"


def test_the_old_spellings_table_is_the_one_the_cli_uses():
    documented = {(code(r[0]), code(r[1])): code(r[2]) for r in section("Old spellings")}
    used = {(cmd, old): new for cmd, table in ALIASES.items() for old, new in table.items()}
    assert documented == used
    for (cmd, old), new in used.items():
        names = {n for p in COMMANDS[cmd].params for n in [*p.opts, *p.secondary_opts] if not p.hidden}
        assert new in names, f"ragtune {cmd}: alias {old} points to {new}, which the command does not have"
        assert old not in names, f"ragtune {cmd}: {old} is still a live option, so the alias would shadow it"


def test_rewrite_replaces_old_spellings_only_before_a_bare_double_dash():
    args, warnings = rewrite("label", ["q.txt", "-c", "docs/", "--k=3", "--", "-c"])
    assert args == ["q.txt", "--corpus", "docs/", "--top-k=3", "--", "-c"]
    assert len(warnings) == 2 and "-c is an old name of --corpus" in warnings[0]
    assert rewrite("train sft", ["chats.jsonl", "--validation"]) == (["chats.jsonl", "--validation"], [])


def test_an_old_spelling_runs_the_command_with_a_warning(tmp_path):
    (tmp_path / "doc.txt").write_text("Concrete cures for 28 days before full load.\n\nRebar needs 40 mm cover.\n")
    out = tmp_path / "chunks.json"
    result = CliRunner().invoke(app, ["data", "chunk", str(tmp_path / "doc.txt"), "-o", str(out), "--tokenizer", "minilm"])
    assert result.exit_code == 0, result.output
    assert "warning: ragtune data chunk: --tokenizer is an old name of --chunk-tokenizer" in result.stderr
    assert out.is_file()
    result = CliRunner().invoke(app, ["data", "chunk", str(tmp_path / "doc.txt"), "-o", str(out), "--chunk-tokenizer",
                                      "minilm"])
    assert result.exit_code == 0 and "warning" not in result.stderr


@pytest.mark.parametrize("argv, problem", [
    (["eval", "retrieval", "construction-faq", "--index", "annoy"], "'annoy' is not one of"),
    (["train", "adapter", "construction-faq", "-o", "x", "--kind", "deep"], "'deep' is not one of"),
])
def test_a_bad_choice_is_one_error_line_naming_the_choices(argv, problem):
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 2 and problem in result.stderr and result.stderr.count("error:") == 1
