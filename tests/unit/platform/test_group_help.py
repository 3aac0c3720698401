"""Every command group's --help shows an example, and the examples name real commands."""

from __future__ import annotations

import shlex
from collections.abc import Iterator

import click
import pytest

from sqlops.cli import main
from sqlops.cli.app import cli


def _groups(group: click.Group, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            yield (*path, name)
            yield from _groups(command, (*path, name))


GROUPS = list(_groups(cli))


def test_the_groups_are_found() -> None:
    assert {("ingest",), ("ingest", "quarantine"), ("schema",), ("tune",)} <= set(GROUPS)


@pytest.mark.parametrize("path", GROUPS, ids=[" ".join(p) for p in GROUPS])
def test_group_help_has_an_example_that_parses(
    path: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*path, "--help"]) == 0
    text = capsys.readouterr().out
    assert "Example: sqlops " in text, text
    example = " ".join(text.split("Example: ", 1)[1].split("\n\n")[0].split())
    words = shlex.split(example.split(">")[0])[1:]
    # the example's command line is accepted up to running it: --help after it must succeed
    assert main([*words, "--help"]) == 0, example
    capsys.readouterr()
