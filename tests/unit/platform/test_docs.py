"""The docs tell the truth about the CLI: every command has help with an example, and the
README names every command and each of its options."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from sqlops.cli.app import cli

README = (Path(__file__).parents[3] / "README.md").read_text(encoding="utf-8")


def _commands(
    group: click.Group, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        if command is None or command.hidden:
            continue
        if isinstance(command, click.Group):
            yield from _commands(command, (*path, name))
        else:
            yield (*path, name), command


COMMANDS = sorted(_commands(cli), key=lambda item: item[0])
IDS = [" ".join(path) for path, _ in COMMANDS]


def test_there_are_commands_to_check() -> None:
    assert len(COMMANDS) > 15 and ("partition", "rotate") in [p for p, _ in COMMANDS]


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=IDS)
def test_every_command_has_help_with_an_example(path: tuple[str, ...], command: click.Command) -> None:
    text = command.help or ""
    assert text.strip(), f"sqlops {' '.join(path)} has no help"
    example = re.search(r"Examples?:\s*(?:sudo )?(sqlops\b.*)", text)
    assert example, f"sqlops {' '.join(path)}: its help has no 'Example: sqlops ...' line"
    assert " ".join(path) in example.group(1), f"the example of sqlops {' '.join(path)} runs another command"


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=IDS)
def test_the_readme_lists_every_command_and_option(path: tuple[str, ...], command: click.Command) -> None:
    name = "sqlops " + " ".join(path)
    lines = [
        line for line in README.splitlines() if re.search(rf"sqlops (\[[^\]]*\] )*{' '.join(path)}\b", line)
    ]
    assert lines, f"README never shows `{name}`"
    text = "\n".join(lines)
    missing = [
        opt
        for param in command.params
        if isinstance(param, click.Option) and not param.hidden
        for opt in param.opts[:1]
        if opt.startswith("--") and opt not in text and opt not in README
    ]
    assert not missing, f"README does not mention {name} option(s) {missing}"
