"""`sqlops rollup ...`: the pre-computed daily traffic table reports should read."""

from __future__ import annotations

import datetime as dt

import click

from sqlops.cli.app import AppContext, cli
from sqlops.cli.output import emit_json, format_option


@cli.group("rollup")
def rollup_group() -> None:
    """The daily traffic rollup (access_log_daily): requests, bytes, hits, misses per user and client."""


@rollup_group.command("refresh")
@click.option(
    "--since",
    type=click.DateTime(["%Y-%m-%d"]),
    help="Also recompute whole days from this day on (e.g. after rows were corrected).",
)
@click.option("--dry-run", is_flag=True, help="Print the SQL it would send instead of running it.")
@format_option
@click.pass_obj
def refresh(app: AppContext, since: dt.datetime | None, dry_run: bool, fmt: str) -> int:
    """Add the log rows written since the last refresh to the rollup (only new rows are read).

    Idempotent and safe to run at any time; `sqlops serve` runs it hourly. Creates the rollup
    table (rollup.table, default access_log_daily) on first use.

    Example: sqlops rollup refresh --since 2026-11-01
    """
    from sqlops.plan import render
    from sqlops.rollup.daily import preview_rollup, run_rollup

    config = app.config
    day = since.date() if since else None
    if dry_run:
        click.echo(render(preview_rollup(config, since=day)), nl=False)
        return 0
    outcome = run_rollup(config, since=day)
    for note in outcome.notes:
        click.echo(f"note: {note}", err=True)
    if fmt == "json":
        emit_json({**outcome.summary(), "seconds": round(outcome.seconds, 3), "notes": outcome.notes})
        return 0
    click.echo(outcome.describe(since=since is not None))
    return 0
