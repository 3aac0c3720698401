"""`sqlops config ...`: show the effective configuration and where each value came from."""

from __future__ import annotations

import click

from sqlops.cli.app import AppContext, cli
from sqlops.cli.output import emit_json, format_option, table
from sqlops.config import effective_items


@cli.group("config")
def config_group() -> None:
    """Inspect the configuration."""


@config_group.command("show")
@format_option
@click.pass_obj
def show(app: AppContext, fmt: str) -> int:
    """Print the effective configuration, secrets masked, with the source of every value.

    Sources, highest first: flag > SQLOPS_* env > MYSQL_* env > config file > option file >
    default.

    Example: sqlops --config /etc/sqlops/sqlops.toml config show --format json
    """
    loaded = app.loaded()
    items = effective_items(loaded)
    if fmt == "json":
        emit_json(
            {
                "config_file": str(loaded.path) if loaded.path else None,
                "settings": {k: {"value": v, "source": str(o)} for k, v, o in items},
            }
        )
    else:
        click.echo(f"# config file: {loaded.path or '(none: defaults and environment only)'}")
        click.echo(table([(k, _show(v), str(o)) for k, v, o in items], ["key", "value", "source"]))
    return 0


def _show(value: object) -> str:
    if value is None:
        return "(unset)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ", ".join(map(str, value))
    return str(value)
