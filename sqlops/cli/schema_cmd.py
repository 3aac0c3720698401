"""`sqlops schema ...`: create, inspect and upgrade the access_log table."""

from __future__ import annotations

import logging

import click

from sqlops.cli.app import AppContext, cli
from sqlops.plan import execute, render

log = logging.getLogger("sqlops.schema")


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
@click.pass_obj
def init(
    app: AppContext, table: str | None, dry_run: bool, flavour: str | None, date_day_trigger: bool | None
) -> int:
    """Create the log table and sqlops' state tables in the configured database.

    Existing tables are left alone (see `schema status` and `schema upgrade`).

    Example: sqlops schema init --dry-run > schema.sql
    """
    from sqlops.errors import ConnectError
    from sqlops.schema.init import plan_init
    from sqlops.schema.inspect import existing_tables

    app.override("schema.table", table)
    app.override("schema.date_day_trigger", date_day_trigger)
    config = app.config
    existing = None
    session = None
    # A dry run asks the server only when one is configured and no flavour was forced, so
    # `schema init --dry-run` works on a machine without any server.
    if not dry_run or (flavour is None and app.server_configured()):
        try:
            session = app.connect(maintenance=True)
        except ConnectError as exc:
            if not dry_run:
                raise
            log.warning("no server (%s); printing DDL valid on both flavours", exc.what)
    try:
        if session is not None:
            existing = existing_tables(session)
            flavour = session.info.flavour
        plan = plan_init(
            config.schema.table,
            database=config.database.database,
            existing=existing,
            flavour=flavour,  # type: ignore[arg-type]
            date_day_trigger_on=config.schema.date_day_trigger,
            time_zone=config.database.time_zone,
        )
        if dry_run or session is None:
            click.echo(render(plan), nl=False)
            return 0
        for note in plan.notes:
            click.echo(f"note: {note}", err=True)
        result = execute(session, plan)
        click.echo(f"schema init: {len(result.executed)} statement(s) in {result.seconds:.2f} s")
        return 0
    finally:
        if session is not None:
            session.close()
