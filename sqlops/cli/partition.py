"""`sqlops partition ...`: monthly partitions for the log table (migrate, status, rotate, check)."""

from __future__ import annotations

import datetime as dt
import functools
import logging
from typing import Any

import click

from sqlops.cli.app import AppContext, cli, nagios_plugin
from sqlops.cli.output import copy_progress, emit_json, format_option
from sqlops.errors import EXIT_OK

log = logging.getLogger("sqlops.partitions")


@cli.group("partition")
def partition_group() -> None:
    """Monthly RANGE partitions: migrate a table, then rotate it daily (cron or `sqlops serve`)."""


def table_option(func: Any) -> Any:
    return click.option(
        "--table",
        help="Table to work on (default: every [partitions.<table>] in the config, else schema.table).",
    )(func)


@partition_group.command("migrate")
@click.option("--table", help="Table to partition (default: schema.table, 'access_log').")
@click.option(
    "--method",
    type=click.Choice(["online", "alter"]),
    default="online",
    show_default=True,
    help="online: shadow copy, writers keep going; alter: one locked ALTER (small tables).",
)
@click.option("--dry-run", is_flag=True, help="Print the SQL script instead of running it.")
@click.option(
    "--abort", is_flag=True, help="Undo an unfinished online migrate (drops its triggers and shadow)."
)
@click.option("--keep-old", is_flag=True, help="Keep the unpartitioned original as _<table>_sqlops_old.")
@click.pass_obj
def migrate(
    app: AppContext, table: str | None, method: str, dry_run: bool, abort: bool, keep_old: bool
) -> int:
    """Rewrite the primary key to (id, date_day) and partition the table by month.

    Creates an always-empty first partition, one partition per month from the oldest row to
    premake_months ahead, and the catch-all pcatchall. The online method copies the table into
    a partitioned shadow kept in sync by triggers and swaps it in with one RENAME: inserts never
    fail and wait at most a fraction of a second. Resumable: run it again after a crash.

    Example: sqlops partition migrate --dry-run > migrate.sql
    """
    from sqlops.partitions.migrate import migrate_table, preview_migrate
    from sqlops.partitions.rotate import targets
    from sqlops.plan import render

    config = app.config
    (target,) = targets(config, table or config.schema.table)
    options: dict[str, Any] = {"method": method, "keep_old": keep_old, "abort": abort}
    if dry_run:
        click.echo(render(preview_migrate(config.database, target, **options)), nl=False)
        return EXIT_OK
    announce = functools.partial(_announce_alter, target.table)
    with copy_progress(target.table) as progress:
        outcome = migrate_table(config.database, target, progress=progress, before_alter=announce, **options)
    click.echo(outcome.summary())
    return EXIT_OK


def _announce_alter(table: str, seconds: float, size_bytes: int) -> None:
    from sqlops.partitions.migrate import alter_warning

    click.echo(alter_warning(table, seconds, size_bytes), err=True)


@partition_group.command("status")
@table_option
@format_option
@click.pass_obj
def status(app: AppContext, table: str | None, fmt: str) -> int:
    """Show each partition (bounds, exact emptiness, estimated rows and size), the days of
    headroom before rows land in the catch-all, and the last rotate runs.

    Example: sqlops partition status --format json
    """
    from sqlops.partitions.rotate import targets
    from sqlops.partitions.status import inspect_status, status_text

    config = app.config
    with app.connect(zone_in_python=True) as session:
        reports = [inspect_status(session, t, config.database.time_zone) for t in targets(config, table)]
    if fmt == "json":
        emit_json({"tables": [r.as_dict() for r in reports]})
    else:
        click.echo("\n\n".join(status_text(r) for r in reports))
    return EXIT_OK


def _parse_day(_ctx: click.Context, _param: click.Parameter, value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date like 2026-11-30") from None


@partition_group.command("rotate")
@table_option
@click.option("--dry-run", is_flag=True, help="Print the SQL script instead of running it.")
@click.option(
    "--split-catchall",
    is_flag=True,
    help="Also split a catch-all that already holds rows (writes wait meanwhile; the time is printed).",
)
@click.option(
    "--repair",
    is_flag=True,
    help="Split month partitions that span several months (a month dropped by hand) back into months "
    "(writes to those months wait meanwhile; the time is printed).",
)
@click.option(
    "--today",
    callback=_parse_day,
    metavar="YYYY-MM-DD",
    help="With --dry-run: plan as if it were that day (default: the server's today in database.time_zone).",
)
@click.pass_obj
def rotate(
    app: AppContext,
    table: str | None,
    dry_run: bool,
    split_catchall: bool,
    repair: bool,
    today: dt.date | None,
) -> int:
    """Premake future months by splitting the empty catch-all and apply retention (archive or
    drop months older than retention_months). Idempotent: a second run does nothing. Meant
    for cron or `sqlops serve`; one run per table at a time.

    Example: sqlops partition rotate --dry-run > rotate.sql
    """
    from sqlops.partitions.rotate import preview_rotate, rotate_tables, targets

    config = app.config
    chosen = targets(config, table)
    if today is not None and not dry_run:
        raise click.UsageError("--today only goes with --dry-run (a real run always uses the server's today)")
    if dry_run:
        previews = preview_rotate(config, chosen, today=today, split_catchall=split_catchall, repair=repair)
        _print_rotate_previews(previews)
        return EXIT_OK
    run = rotate_tables(
        config,
        chosen,
        split_catchall=split_catchall,
        repair=repair,
        before_execute=_announce_split,
        on_table=functools.partial(_report_rotate, several=len(chosen) > 1),
    )
    run.raise_single_table_error()
    return run.exit_code


def _print_rotate_previews(previews: Any) -> None:
    from sqlops.plan import render

    for preview in previews:
        click.echo(render(preview.rotate_plan.plan), nl=False)
        for note in preview.notes:
            click.echo(f"sqlops: note: {preview.table}: {note}", err=True)
        for problem in preview.warnings:
            click.echo(f"sqlops: WARNING: {preview.table}: {problem}", err=True)


def _announce_split(rp: Any) -> None:
    if rp.lock_seconds is not None:
        click.echo(
            "partition rotate: splitting partitions that hold rows; "
            f"writes wait about {rp.lock_seconds:.1f} s",
            err=True,
        )


def _report_rotate(entry: Any, *, several: bool) -> None:
    from sqlops.partitions.rotate import RotateIncomplete, describe_rotate

    if entry.outcome is not None:
        click.echo(describe_rotate(entry.outcome))
    if isinstance(entry.error, RotateIncomplete):
        click.echo(f"sqlops: error: {entry.error}", err=True)
    elif entry.error is not None and several:
        click.echo(f"sqlops: error: {entry.table}: {entry.error}", err=True)


@partition_group.command("check")
@table_option
@click.option(
    "--warning-days",
    type=click.IntRange(min=0),
    help="Headroom below which to warn (default: headroom_warning_days).",
)
@click.option(
    "--critical-days",
    type=click.IntRange(min=0),
    help="Headroom below which it is critical (default: headroom_critical_days).",
)
@click.option(
    "--max-age-hours",
    type=click.IntRange(min=1),
    help="Warn when the last successful rotate is older (default: max_run_age_hours).",
)
@click.pass_obj
@nagios_plugin
def check(
    app: AppContext,
    table: str | None,
    warning_days: int | None,
    critical_days: int | None,
    max_age_hours: int | None,
) -> int:
    """Nagios/Icinga plugin: one status line, exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.

    CRITICAL when the catch-all holds rows or headroom is below --critical-days; WARNING when
    headroom is low, the last rotate failed, or no rotate succeeded within --max-age-hours.

    Example: sqlops partition check --warning-days 20 --critical-days 7
    """
    from sqlops.partitions.rotate import targets
    from sqlops.partitions.status import run_check

    thresholds = {
        "headroom_warning_days": warning_days,
        "headroom_critical_days": critical_days,
        "max_run_age_hours": max_age_hours,
    }
    for target in targets(app.config, table):
        for key, value in thresholds.items():
            app.override(f"partitions.{target.table}.{key}", value)
    result = run_check(app.config, table)
    click.echo(result.line)
    return result.code
