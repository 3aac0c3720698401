"""`schema init`: create the log table and sqlops' state tables that do not exist yet."""

from __future__ import annotations

import logging
from collections.abc import Collection

from sqlops.config import Config, DatabaseConfig
from sqlops.db import Flavour, connect, quote_ident
from sqlops.errors import ConnectError
from sqlops.plan import ExecutionResult, Plan, Statement, execute
from sqlops.schema.definitions import access_log_def, state_defs
from sqlops.schema.inspect import database_exists, existing_tables
from sqlops.schema.triggers import date_day_trigger

log = logging.getLogger(__name__)


def plan_init(
    table: str,
    *,
    database: str,
    existing: Collection[str] | None,
    flavour: Flavour | None,
    date_day_trigger_on: bool,
    time_zone: str,
) -> Plan:
    """The CREATE statements for what is missing. `existing` is None when there is no server
    to ask (``--dry-run`` alone): then every table is in the plan (all use IF NOT EXISTS)."""
    statements: list[Statement] = []
    notes: list[str] = []
    log_table = access_log_def(table)
    for definition, reason in [
        (log_table, "the Squid access log table"),
        *[(d, "sqlops state table") for d in state_defs()],
    ]:
        if existing is not None and definition.name in existing:
            if definition.name == table:
                notes.append(f"{table} exists already: `sqlops schema status` shows how it differs")
            continue
        statements.append(Statement(definition.create_sql.rstrip(";"), f"create {definition.name}: {reason}"))
    if date_day_trigger_on and (existing is None or table not in existing):
        statements.extend(date_day_trigger(table, time_zone, flavour))
    if flavour is None and existing is None:
        notes.append("valid on MariaDB 10.6+ and MySQL 8.0+ (no --flavour given)")
    return Plan("schema-init", f"{database}.{table}", tuple(statements), tuple(notes))


def plan_create_database(database: str) -> Plan:
    """`schema init --create-database`: the database itself, before its tables."""
    name = quote_ident(database)
    return Plan(
        "schema-init",
        database,
        (
            Statement(
                f"CREATE DATABASE IF NOT EXISTS {name} CHARACTER SET utf8mb4",
                f"create the database {database}",
            ),
            Statement(f"USE {name}", f"the tables below go into {database}", retry=False),
        ),
    )


def ensure_database(settings: DatabaseConfig) -> bool:
    """Create `settings.database` unless it exists (through the executor, tagged and logged);
    True when it was created."""
    with connect(settings, maintenance=True, with_database=False) as session:
        if database_exists(session, settings.database):
            return False
        execute(session, plan_create_database(settings.database))
        return True


def preview_init(config: Config, flavour: Flavour | None, *, ask_server: bool, create_database: bool) -> Plan:
    """What `schema init --dry-run` prints. The server is asked what exists only when
    `ask_server` (one is configured) and no flavour was forced, so a dry run works on a machine
    without any server; an unreachable one is a warning and the DDL is valid on both flavours."""
    existing = None
    if flavour is None and ask_server:
        try:
            with connect(config.database, maintenance=True) as session:
                existing = existing_tables(session)
                flavour = session.info.flavour
        except ConnectError as exc:
            log.warning("no server (%s); printing DDL valid on both flavours", exc.what)
    plan = _init_plan(config, existing, flavour)
    if create_database:
        plan = plan_create_database(config.database.database).extend(plan.statements, plan.notes)
    return plan


def init_schema(config: Config) -> ExecutionResult:
    """Create what is missing in the configured database (`schema init`); the result's plan
    carries the notes (a log table that exists already)."""
    with connect(config.database, maintenance=True) as session:
        return execute(session, _init_plan(config, existing_tables(session), session.info.flavour))


def _init_plan(config: Config, existing: Collection[str] | None, flavour: Flavour | None) -> Plan:
    return plan_init(
        config.schema.table,
        database=config.database.database,
        existing=existing,
        flavour=flavour,
        date_day_trigger_on=config.schema.date_day_trigger,
        time_zone=config.database.time_zone,
    )
