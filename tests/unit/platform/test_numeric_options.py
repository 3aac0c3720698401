"""Every numeric option of every command rejects a negative value as a usage error."""

from __future__ import annotations

from collections.abc import Iterator

import click
import pytest

from sqlops.cli import main
from sqlops.cli.app import cli, is_nagios_plugin


def _commands(
    group: click.Group, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            yield from _commands(command, (*path, name))
        else:
            yield (*path, name), command


NUMERIC = [
    (path, command, param)
    for path, command in _commands(cli)
    for param in command.params
    if isinstance(param, click.Option) and isinstance(param.type, click.types._NumberParamTypeBase)
]


def test_there_are_numeric_options() -> None:
    assert any(param.name == "batch_rows" for _, _, param in NUMERIC)


@pytest.mark.parametrize(
    "path,command,param", NUMERIC, ids=[f"{' '.join(p)} {o.opts[0]}" for p, _, o in NUMERIC]
)
def test_negative_value_is_a_usage_error(
    path: tuple[str, ...], command: click.Command, param: click.Option, capsys: pytest.CaptureFixture[str]
) -> None:
    assert isinstance(param.type, click.IntRange | click.FloatRange), f"{param.opts[0]} has no range"
    assert param.type.min is not None and param.type.min >= 0
    args = [*path, param.opts[0], "-5"]
    args += ["x"] if any(isinstance(p, click.Argument) and p.required for p in command.params) else []
    status = main(args)
    err = capsys.readouterr().err
    assert status == (3 if is_nagios_plugin(command) else 2), (args, err)
    assert "-5" in err
