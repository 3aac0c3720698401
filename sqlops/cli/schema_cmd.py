"""`sqlops schema ...`: create, inspect and upgrade the access_log table."""

from __future__ import annotations

import click

from sqlops.cli.app import AppContext, cli
from sqlops.cli.output import copy_progress, emit_json, format_option
from sqlops.plan import render


@cli.group("schema")
def schema_group() -> None:
    """Create and upgrade the access_log table and sqlops' state tables."""


def table_option(func):  # type: ignore[no-untyped-def]
    return click.option("--table", help="Log table name (default: schema.table, 'access_log').")(func)


@schema_group.command("init")
@table_option
@click.option("--dry-run", is_flag=True, help="Print the SQL script instead of running it.")
@click.option(
    "--flavour",
    type=click.Choice(["mariadb", "mysql"]),
    help="With --dry-run and no server: DDL for this server (default: valid on both).",
)
@click.option(
    "--date-day-trigger/--no-date-day-trigger",
    default=None,
    help="Also create the BEFORE INSERT trigger that fills date_day for other writers.",
)
@click.option(
    "--create-database", is_flag=True, help="Create the configured database first if it is missing."
)
@click.pass_obj
def init(
    app: AppContext,
    table: str | None,
    dry_run: bool,
    flavour: str | None,
    date_day_trigger: bool | None,
    create_database: bool,
) -> int:
    """Create the log table and sqlops' state tables in the configured database.

    Existing tables are left alone (see `schema status` and `schema upgrade`).

    Example: sqlops schema init --dry-run > schema.sql
    """
    from sqlops.schema.init import ensure_database, init_schema, preview_init

    app.override("schema.table", table)
    app.override("schema.date_day_trigger", date_day_trigger)
    config = app.config
    if dry_run:
        ask_server = flavour is None and app.server_configured()
        plan = preview_init(config, flavour, ask_server=ask_server, create_database=create_database)  # type: ignore[arg-type]
        click.echo(render(plan), nl=False)
        return 0
    if create_database and ensure_database(config.database):
        click.echo(f"schema init: created database {config.database.database}")
    result = init_schema(config)
    for note in result.plan.notes:
        click.echo(f"note: {note}", err=True)
    click.echo(f"schema init: {len(result.executed)} statement(s) in {result.seconds:.2f} s")
    return 0


@schema_group.command("status")
@table_option
@format_option
@click.pass_obj
def status(app: AppContext, table: str | None, fmt: str) -> int:
    """Show what exists and how the log table differs from sqlops' definition.

    Example: sqlops schema status --format json
    """
    from sqlops.schema.status import inspect_status

    app.override("schema.table", table)
    with app.connect() as session:
        report = inspect_status(
            session, app.config.schema.table, want_trigger=app.config.schema.date_day_trigger
        )
    if fmt == "json":
        emit_json(report.as_dict())
        return 0
    click.echo(report.as_text())
    return 0


@schema_group.command("upgrade")
@table_option
@click.option("--dry-run", is_flag=True, help="Print the SQL script instead of running it.")
@click.option("--abort", is_flag=True, help="Undo an unfinished upgrade: drop its triggers and shadow table.")
@click.option(
    "--default-day",
    type=click.DateTime(["%Y-%m-%d"]),
    help="date_day for rows without time_since_epoch (otherwise they stop the upgrade).",
)
@click.option("--keep-old", is_flag=True, help="Keep the original table as _<table>_sqlops_old.")
@click.pass_obj
def upgrade(
    app: AppContext, table: str | None, dry_run: bool, abort: bool, default_day: object, keep_old: bool
) -> int:
    """Upgrade a table created by Squid's log_db_daemon (or an older sqlops) online.

    Widens columns (BIGINT id and sizes, VARCHAR IPs fit IPv6, longer MIME types and user
    names), adds date_day (backfilled from time_since_epoch in database.time_zone) and its
    index, and installs the BEFORE INSERT trigger that fills date_day for the old writer.
    Writers keep inserting throughout: the table is rebuilt as a shadow copy kept in sync by
    triggers and swapped in with one RENAME. Resumable: run it again after a crash.

    Example: sqlops schema upgrade --dry-run > upgrade.sql
    """
    import datetime as dt

    from sqlops.schema.upgrade import preview_upgrade, upgrade_table

    app.override("schema.table", table)
    config = app.config
    name = config.schema.table
    day = default_day.date() if isinstance(default_day, dt.datetime) else None
    if dry_run:
        click.echo(
            render(preview_upgrade(config.database, name, default_day=day, keep_old=keep_old)), nl=False
        )
        return 0
    with copy_progress(name) as progress:
        outcome = upgrade_table(
            config.database, name, default_day=day, keep_old=keep_old, abort=abort, progress=progress
        )
    for note in outcome.notes:
        click.echo(f"note: {note}", err=True)
    click.echo(outcome.summary())
    return 0
