"""`schema upgrade`: bring a table created by Squid's log_db_daemon (INT id, CHAR(15) IPs, INT
sizes, no date_day) up to sqlops' definition without stopping the writers.

Widening INT→BIGINT or CHAR→VARCHAR is a table copy that blocks writes on both servers, so the
changes are applied to a shadow table by the online copy engine, which also backfills
`date_day` from `time_since_epoch` in the configured zone, chunk by chunk. A BEFORE INSERT
trigger on the new table fills `date_day` for the old writer, which does not send it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlops.cluster.guard import job_lock
from sqlops.cluster.lag import replica_throttle
from sqlops.config import DatabaseConfig
from sqlops.db import Session, connect, lock_name, quote_ident, quote_string
from sqlops.errors import PreconditionError
from sqlops.jobruns import recorded_run
from sqlops.online.copy import CopySpec, abort_online_copy, copy_plan, read_state, run_online_copy
from sqlops.plan import Plan, Statement, execute
from sqlops.schema.compare import ColumnDiff, compare_columns, missing_indexes
from sqlops.schema.definitions import TableDef, access_log_def
from sqlops.schema.inspect import LiveTable, inspect_table
from sqlops.schema.triggers import date_day_trigger, date_day_trigger_name, is_date_day_trigger
from sqlops.timezones import date_day_sql

JOB = "schema-upgrade"


@dataclass(frozen=True)
class UpgradeAnalysis:
    table: str
    expected: TableDef
    live: LiveTable
    columns: tuple[ColumnDiff, ...]
    missing_indexes: tuple[tuple[str, tuple[str, ...]], ...]
    null_epoch_rows: int  # rows whose date_day cannot be computed (only counted when it is added)
    has_date_day_trigger: bool
    charset: str
    unfinished_copy: str | None

    @property
    def incompatible(self) -> tuple[ColumnDiff, ...]:
        return tuple(c for c in self.columns if c.verdict == "incompatible")

    @property
    def column_changes(self) -> tuple[ColumnDiff, ...]:
        return tuple(c for c in self.columns if c.needs_change)

    @property
    def adds_date_day(self) -> bool:
        return any(c.name == "date_day" and c.current is None for c in self.columns)

    @property
    def needs_copy(self) -> bool:
        return bool(self.column_changes) or self.charset != "utf8mb4"

    @property
    def columns_current(self) -> bool:
        """Columns and keys match (the optional date_day trigger aside)."""
        return not (self.needs_copy or self.missing_indexes)

    @property
    def up_to_date(self) -> bool:
        """Nothing for `schema upgrade` to do: it also installs the trigger for the old writer."""
        return self.columns_current and self.has_date_day_trigger


def analyse_upgrade(session: Session, table: str) -> UpgradeAnalysis:
    live = inspect_table(session, table)
    if live is None:
        raise PreconditionError(
            f"table {table!r} does not exist in {session.database!r}",
            fix="create it with `sqlops schema init`",
        )
    expected = access_log_def(table)
    if live.primary_key and live.primary_key[0] != "id":
        raise PreconditionError(
            f"{table} has the primary key ({', '.join(live.primary_key)}); "
            "sqlops expects one starting with id",
            fix="this is not a log_db_daemon or sqlops table; change its key by hand first",
        )
    columns = tuple(compare_columns(expected, live))
    adds_date_day = live.column("date_day") is None
    null_rows = 0
    if adds_date_day and live.column("time_since_epoch") is not None:
        null_rows = int(
            session.scalar(f"SELECT COUNT(*) FROM {quote_ident(table)} WHERE time_since_epoch IS NULL") or 0
        )
    charset = live.charset  # the schema model's: the character set of the table's collation
    state = read_state(session, table)
    return UpgradeAnalysis(
        table=table,
        expected=expected,
        live=live,
        columns=columns,
        missing_indexes=tuple(missing_indexes(expected, live)),
        null_epoch_rows=null_rows,
        has_date_day_trigger=any(is_date_day_trigger(t.name, table) for t in live.triggers),
        charset=str(charset or ""),
        unfinished_copy=state.job if state else None,
    )


def _modify_clause(diff: ColumnDiff) -> str:
    """MODIFY to the expected definition, or only relax NOT NULL when the column is already wider
    (never narrow a column)."""
    if diff.verdict == "wider" and diff.current is not None:
        return f"MODIFY COLUMN {quote_ident(diff.name)} {diff.current.raw_type} NULL"
    return f"MODIFY COLUMN {diff.expected.definition}"


def upgrade_spec(
    analysis: UpgradeAnalysis, *, zone: str, default_day: dt.date | None, keep_old: bool
) -> CopySpec:
    """The online copy that performs the upgrade."""
    clauses: list[str] = []
    if analysis.charset != "utf8mb4":
        clauses.append("CONVERT TO CHARACTER SET utf8mb4")
    previous = None
    for diff in analysis.columns:
        if diff.current is None:
            position = f" AFTER {quote_ident(previous)}" if previous else " FIRST"
            clauses.append(f"ADD COLUMN {diff.expected.definition}{position}")
        elif diff.needs_change:
            clauses.append(_modify_clause(diff))
        previous = diff.name
    for name, cols in analysis.missing_indexes:
        clauses.append(f"ADD KEY {quote_ident(name)} ({', '.join(map(quote_ident, cols))})")
    computed: list[tuple[str, str]] = []
    if analysis.adds_date_day:
        fallback = (
            quote_string(default_day.isoformat()) if default_day else date_day_sql("UNIX_TIMESTAMP()", zone)
        )
        computed.append(("date_day", f"COALESCE({date_day_sql('{row}.time_since_epoch', zone)}, {fallback})"))
    alternate = any(t.name == date_day_trigger_name(analysis.table) for t in analysis.live.triggers)
    trigger_name = date_day_trigger_name(analysis.table, alternate=alternate)
    shadow_trigger = [
        (s.sql, s.reason)
        for s in date_day_trigger(
            analysis.table, zone, None, on_table_sql="{shadow}", name=trigger_name, replace=False
        )
    ]
    return CopySpec(
        job=JOB,
        table=analysis.table,
        alterations=(",\n  ".join(clauses),) if clauses else (),
        computed=tuple(computed),
        shadow_statements=tuple(shadow_trigger),
        keep_old=keep_old,
    )


def plan_in_place(analysis: UpgradeAnalysis, *, zone: str, flavour: str | None) -> Plan:
    """When no column changes: add missing keys online and the date_day trigger."""
    statements: list[Statement] = []
    for name, cols in analysis.missing_indexes:
        statements.append(
            Statement(
                f"ALTER TABLE {quote_ident(analysis.table)} ADD KEY {quote_ident(name)} "
                f"({', '.join(map(quote_ident, cols))}), ALGORITHM=INPLACE, LOCK=NONE",
                f"add the {name} index without blocking writes",
            )
        )
    if not analysis.has_date_day_trigger:
        statements += date_day_trigger(analysis.table, zone, flavour)  # type: ignore[arg-type]
    return Plan(JOB, analysis.table, tuple(statements))


def refuse_if_unsafe(analysis: UpgradeAnalysis, default_day: dt.date | None) -> None:
    if analysis.incompatible:
        listing = "; ".join(f"{c.name}: {c.describe()}" for c in analysis.incompatible)
        raise PreconditionError(
            f"{analysis.table} has columns of a different type than sqlops expects: {listing}",
            why="sqlops only widens columns; converting between types could change or lose values",
            fix="convert those columns by hand (or rename them), then run `schema upgrade` again",
        )
    if analysis.adds_date_day and analysis.null_epoch_rows and default_day is None:
        raise PreconditionError(
            f"{analysis.null_epoch_rows} row(s) of {analysis.table} have no time_since_epoch, so their "
            "date_day cannot be computed",
            why="date_day is NOT NULL (it decides the monthly partition), and sqlops never drops rows",
            fix="give them a day with --default-day YYYY-MM-DD, or fix them first: "
            f"UPDATE {quote_ident(analysis.table)} SET time_since_epoch = ... WHERE time_since_epoch IS NULL",
        )


def date_day_fallback_note(analysis: UpgradeAnalysis, default_day: dt.date | None) -> str | None:
    if not analysis.adds_date_day:
        return None
    if analysis.null_epoch_rows:
        return f"{analysis.null_epoch_rows} row(s) without time_since_epoch get date_day {default_day}"
    return None


@dataclass
class UpgradeOutcome:
    action: str  # "none", "in-place", "online-copy", "aborted"
    analysis: UpgradeAnalysis
    statements: list[str]
    rows_copied: int = 0
    verified_rows: int = 0
    seconds: float = 0.0
    resumed: bool = False
    notes: tuple[str, ...] = ()
    target: str = ""  # database.table

    def summary(self) -> str:
        """One line for the terminal."""
        target = self.target
        if self.action == "aborted":
            sent = len(self.statements)
            return f"schema upgrade aborted: {sent} statement(s); {self.analysis.table} is untouched"
        if self.action == "none" and not self.statements:
            return f"{target} is up to date"
        return (
            f"schema upgrade of {target}: {self.action}, {len(self.statements)} statement(s), "
            f"{self.rows_copied} row(s) copied, {self.verified_rows} verified, {self.seconds:.1f} s"
            + (" (resumed)" if self.resumed else "")
        )


def upgrade_plan(
    session: Session,
    analysis: UpgradeAnalysis,
    *,
    zone: str,
    default_day: dt.date | None,
    keep_old: bool,
) -> Plan:
    """What `upgrade` would run, as a reviewable script (``--dry-run``): the steps the run sends,
    read from the live table and the copy's progress."""
    refuse_if_unsafe(analysis, default_day)
    if analysis.needs_copy or analysis.unfinished_copy:
        spec = upgrade_spec(analysis, zone=zone, default_day=default_day, keep_old=keep_old)
        plan = copy_plan(session, spec).render()
        note = date_day_fallback_note(analysis, default_day)
        return Plan(JOB, plan.target, plan.statements, plan.notes + ((note,) if note else ()))
    return plan_in_place(analysis, zone=zone, flavour=session.info.flavour)


def preview_upgrade(
    settings: DatabaseConfig, table: str, *, default_day: dt.date | None = None, keep_old: bool = False
) -> Plan:
    """What `upgrade_table` would send now (read-only, no lock): ``--dry-run``."""
    with connect(settings, maintenance=True) as session:
        analysis = analyse_upgrade(session, table)
        return upgrade_plan(
            session, analysis, zone=settings.time_zone, default_day=default_day, keep_old=keep_old
        )


def run_upgrade(
    session: Session,
    analysis: UpgradeAnalysis,
    *,
    zone: str,
    default_day: dt.date | None,
    keep_old: bool,
    progress: Callable[[Any], None] | None = None,
    throttle: Callable[[], None] | None = None,
) -> UpgradeOutcome:
    """Apply the upgrade (the caller holds the job's named lock and records the run)."""
    refuse_if_unsafe(analysis, default_day)
    note = date_day_fallback_note(analysis, default_day)
    notes = (note,) if note else ()
    if analysis.needs_copy or analysis.unfinished_copy:
        spec = upgrade_spec(analysis, zone=zone, default_day=default_day, keep_old=keep_old)
        result = run_online_copy(session, spec, progress=progress, throttle=throttle)
        return UpgradeOutcome(
            "online-copy",
            analysis,
            result.statements,
            rows_copied=result.rows_copied,
            verified_rows=result.verified_rows,
            seconds=result.seconds,
            resumed=result.resumed,
            notes=notes,
        )
    plan = plan_in_place(analysis, zone=zone, flavour=session.info.flavour)
    if not plan:
        return UpgradeOutcome("none", analysis, [], notes=notes)
    done = execute(session, plan)
    return UpgradeOutcome(
        "in-place", analysis, [e.statement.sql for e in done.executed], seconds=done.seconds, notes=notes
    )


def upgrade_table(
    settings: DatabaseConfig,
    table: str,
    *,
    default_day: dt.date | None = None,
    keep_old: bool = False,
    abort: bool = False,
    origin: str = "cli",
    progress: Callable[[Any], None] | None = None,
    throttle: Callable[[], None] | None = None,
) -> UpgradeOutcome:
    """Lock, re-inspect, plan, run (or abort) and record the upgrade of one table: what the CLI
    calls. The table is analysed under the lock, so a run never acts on stale state."""
    zone = settings.time_zone
    with connect(settings, maintenance=True) as session:
        where = f"{session.database}.{table}"
        with job_lock(session, lock_name(JOB, session.database, table)):
            analysis = analyse_upgrade(session, table)
            if abort:
                spec = upgrade_spec(analysis, zone=zone, default_day=default_day, keep_old=keep_old)
                sent = abort_online_copy(session, spec)
                return UpgradeOutcome("aborted", analysis, sent, target=where)
            if analysis.up_to_date and not analysis.unfinished_copy:
                return UpgradeOutcome("none", analysis, [], target=where)
            with recorded_run(settings, JOB, where, origin) as run:
                outcome = run_upgrade(
                    session,
                    analysis,
                    zone=zone,
                    default_day=default_day,
                    keep_old=keep_old,
                    progress=progress,
                    throttle=throttle or replica_throttle(session),
                )
                run.statements = len(outcome.statements)
                run.note(action=outcome.action, rows_copied=outcome.rows_copied, resumed=outcome.resumed)
            outcome.target = where
            return outcome
