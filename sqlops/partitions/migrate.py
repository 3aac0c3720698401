"""`partition migrate`: rewrite the primary key to ``(id, date_day)`` and partition by month.

``PARTITION BY RANGE (TO_DAYS(date_day))`` fails with 1503 while the key is ``(id)``, and
partitioning an existing table is a locked table copy on both servers (DESIGN.md §4). The
default method therefore reuses the online copy engine (:mod:`sqlops.online.copy`): an empty
``LIKE`` copy gets the new key and the monthly partitions (instant while empty), triggers mirror
every write, the existing rows are copied in short chunks, and one ``RENAME TABLE`` swaps the
tables. ``--method alter`` is the single ALTER for small tables, with its lock time estimated
first.

The table's own triggers (the ``date_day`` trigger for Squid's log_db_daemon) stay with the
original table on RENAME, so they are re-created on the shadow first, under an alternate name
(trigger names are unique per schema).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlops.cluster.guard import job_lock
from sqlops.cluster.lag import replica_throttle
from sqlops.cluster.stall import MIGRATE_FIX, refuse_cluster_stall
from sqlops.config import DatabaseConfig
from sqlops.db import Session, connect, quote_ident
from sqlops.errors import PreconditionError
from sqlops.jobruns import recorded_run
from sqlops.online.copy import (
    CopySpec,
    CopyState,
    abort_online_copy,
    abort_plan,
    copy_plan,
    read_state,
    run_online_copy,
)
from sqlops.partitions import ddl
from sqlops.partitions.ddl import PartitionSpec
from sqlops.partitions.inspect import PartitionState, inspect_partitions, server_today
from sqlops.partitions.planner import plan_layout
from sqlops.partitions.rotate import Target, partition_lock
from sqlops.plan import Plan, Statement, execute
from sqlops.schema.inspect import LiveTable, inspect_table
from sqlops.schema.model import Trigger
from sqlops.schema.triggers import date_day_trigger_name, is_date_day_trigger

JOB = "partition-migrate"
Method = Literal["online", "alter"]
# One ALTER that partitions a table copies it while writes wait: 2M rows / ~600 MiB took
# about 30 s here (DESIGN.md §4), i.e. roughly 20 MiB/s.
ALTER_BYTES_PER_SECOND = 20 * 1024 * 1024
# MySQL's DATE range starts at 1000-01-01; anything below (zero dates) has no usable month.
FIRST_USABLE_DAY = "1000-01-01"
_INTEGER_TYPES = {"tinyint", "smallint", "mediumint", "int", "bigint"}


@dataclass(frozen=True)
class MigrateAnalysis:
    table: str
    column: str
    live: LiveTable
    state: PartitionState
    unusable_rows: int
    oldest: dt.date | None
    newest: dt.date | None
    blocking_unique_keys: tuple[str, ...]
    triggers: tuple[Trigger, ...]  # the table's own, re-created on the shadow
    copy_state: CopyState | None
    # The partitions of an unfinished online copy's shadow, so a resume builds the same spec.
    shadow_layout: tuple[PartitionSpec, ...] | None = None
    # Binary logging is on and this account may not create triggers (1419) without SUPER.
    triggers_need_super: bool = False

    @property
    def done(self) -> bool:
        """Partitioned by month, with no copy of ours left to finish."""
        return self.state.managed and self.copy_state is None

    @property
    def new_primary_key(self) -> tuple[str, ...]:
        pk = self.live.primary_key
        return pk if self.column in pk else (*pk, self.column)

    @property
    def size_bytes(self) -> int:
        return self.live.size_bytes


def _probe(table: str) -> CopySpec:
    """A spec only used for the engine's object names (shadow, triggers), which depend on the
    table alone."""
    return CopySpec(job=JOB, table=table, alterations=())


def analyse_migrate(session: Session, table: str, column: str) -> MigrateAnalysis:
    live = inspect_table(session, table)
    if live is None:
        raise PreconditionError(
            f"table {table!r} does not exist in {session.database!r}",
            fix="create it with `sqlops schema init`, or pass --table",
        )
    state = inspect_partitions(session, table, column)
    assert state is not None
    unusable, oldest, newest = 0, None, None
    if live.column(column) is not None and not state.partitioned:
        c, t = quote_ident(column), quote_ident(table)
        unusable = int(
            session.scalar(f"SELECT COUNT(*) FROM {t} WHERE {c} IS NULL OR {c} < %s", (FIRST_USABLE_DAY,))
            or 0
        )
        low, high = session.query(f"SELECT MIN({c}), MAX({c}) FROM {t} WHERE {c} >= %s", (FIRST_USABLE_DAY,))[
            0
        ]
        oldest, newest = _day(low), _day(high)
    blocking = tuple(sorted(i.name for i in live.secondary_indexes if i.unique and column not in i.columns))
    probe = _probe(table)
    mirrors = {probe.trigger(e) for e in ("ins", "upd", "del")}
    triggers = tuple(t for t in live.triggers if t.name not in mirrors)
    copy_state = read_state(session, table)
    shadow_layout = None
    if copy_state is not None and copy_state.job == JOB:
        # Resume with the layout the first run chose (the spec must be the same): the shadow's,
        # or after the swap the table's own (rotate refuses to run until migrate finished).
        built = state if copy_state.phase == "swapped" else inspect_partitions(session, probe.shadow, column)
        if built is not None and built.managed:
            shadow_layout = tuple(PartitionSpec(p.name, p.upper) for p in built.partitions)
    return MigrateAnalysis(
        triggers_need_super=_triggers_need_super(session),
        table=table,
        column=column,
        live=live,
        state=state,
        unusable_rows=unusable,
        oldest=oldest,
        newest=newest,
        blocking_unique_keys=blocking,
        triggers=triggers,
        copy_state=copy_state,
        shadow_layout=shadow_layout,
    )


_GRANTEE = (
    "CONCAT(CHAR(39), SUBSTRING_INDEX(CURRENT_USER(), '@', 1), CHAR(39), '@', CHAR(39), "
    "SUBSTRING_INDEX(CURRENT_USER(), '@', -1), CHAR(39))"
)


def _triggers_need_super(session: Session) -> bool:
    """With binary logging on, CREATE TRIGGER needs SUPER unless the server trusts function
    creators (MySQL has the binary log on by default, MariaDB off)."""
    log_bin, trusted = session.query("SELECT @@GLOBAL.log_bin, @@GLOBAL.log_bin_trust_function_creators")[0]
    if not int(log_bin or 0) or int(trusted or 0):
        return False
    has_super = session.scalar(
        "SELECT COUNT(*) FROM information_schema.USER_PRIVILEGES "
        f"WHERE PRIVILEGE_TYPE = 'SUPER' AND GRANTEE = {_GRANTEE}"
    )
    return not has_super


def _day(value: Any) -> dt.date | None:
    if value is None:
        return None
    return value.date() if isinstance(value, dt.datetime) else value


def refuse_if_unsafe(analysis: MigrateAnalysis, method: Method) -> None:
    a, table, column = analysis, analysis.table, analysis.column
    if a.copy_state is not None and a.copy_state.job == JOB and a.copy_state.phase == "swapped":
        return  # only the clean-up after the swap is left
    if a.state.partitioned and not a.state.managed:
        raise PreconditionError(
            f"{table} is already partitioned by {a.state.expression!r}",
            why="migrate only turns an unpartitioned table into monthly partitions",
            fix="repartition it by hand, or point partitions.<table>.column at its partitioning column",
        )
    if a.done:
        return
    col = a.live.column(column)
    if col is None:
        # Only a Squid log table (it has time_since_epoch) can get date_day from schema upgrade.
        if column == "date_day" and a.live.column("time_since_epoch") is not None:
            fix = (
                f"add it online with `sqlops schema upgrade --table {table}` "
                "(it backfills date_day from time_since_epoch)"
            )
        else:
            dates = [
                c.name
                for c in a.live.columns
                if c.type in ("date", "datetime") or c.type.startswith("datetime(")
            ]
            fix = (
                f"set [partitions.{table}] column = {dates[0]!r} in the config (its DATE/DATETIME column)"
                if dates
                else f"add a DATE column to {table} and fill it, then list it as [partitions.{table}] column"
            )
        raise PreconditionError(f"{table} has no column {column!r} to partition by", fix=fix)
    if col.type not in ("date", "datetime") and not col.type.startswith("datetime("):
        raise PreconditionError(
            f"{table}.{column} is {col.raw_type}; monthly partitions need a DATE or DATETIME column",
            why="TO_DAYS() of a TIMESTAMP depends on the time zone; partitioning forbids it (1486)",
        )
    if a.unusable_rows:
        c, t = quote_ident(column), quote_ident(table)
        raise PreconditionError(
            f"{a.unusable_rows} row(s) of {table} have no usable {column} "
            f"(NULL or before {FIRST_USABLE_DAY})",
            why=f"{column} becomes part of the primary key (NOT NULL) and decides each row's month",
            fix=f"give them a day or delete them, e.g. UPDATE {t} SET {c} = ... WHERE {c} IS NULL OR {c} < "
            f"'{FIRST_USABLE_DAY}'; then run migrate again",
        )
    if not a.live.primary_key:
        raise PreconditionError(f"{table} has no primary key", fix="add one (id) first")
    if a.blocking_unique_keys:
        raise PreconditionError(
            f"{table} has unique key(s) without {column}: {', '.join(a.blocking_unique_keys)}",
            why="every unique key of a partitioned table must include the partitioning column (1503)",
            fix=f"add {column} to them or drop them, then run migrate again",
        )
    if method == "online":
        pk = a.live.primary_key
        key_col = a.live.column(pk[0])
        if len(pk) != 1 or key_col is None or key_col.type.split()[0] not in _INTEGER_TYPES:
            raise PreconditionError(
                f"the online method copies by a single integer primary key; {table} has ({', '.join(pk)})",
                fix="use --method alter (one locked ALTER; its lock time is printed first)",
            )
        if a.triggers_need_super and a.copy_state is None:
            raise PreconditionError(
                "the online method creates triggers, and with binary logging on the server allows that "
                "only to accounts with SUPER (error 1419)",
                fix="SET GLOBAL log_bin_trust_function_creators = 1 (safe with binlog_format = ROW, the "
                "default), or run the migrate as an account with SUPER, or use --method alter",
            )
        if a.copy_state is not None and a.copy_state.job != JOB:
            raise PreconditionError(
                f"an unfinished {a.copy_state.job} of {table} exists",
                fix=f"finish it (sqlops {a.copy_state.job.replace('-', ' ')}) or undo it with --abort first",
            )


def migrate_layout(
    analysis: MigrateAnalysis, today: dt.date, premake_months: int
) -> tuple[PartitionSpec, ...]:
    if analysis.shadow_layout is not None:
        return analysis.shadow_layout
    return plan_layout(analysis.oldest, analysis.newest, today, premake_months)


def _alternate_trigger_name(name: str, table: str) -> str:
    if is_date_day_trigger(name, table):
        return date_day_trigger_name(table, alternate=name == date_day_trigger_name(table))
    suffix = "_sqlops_b"
    if name.endswith(suffix):
        return name[: -len(suffix)]
    return (name if len(name) + len(suffix) <= 64 else name[: 64 - len(suffix)]) + suffix


def migrate_spec(analysis: MigrateAnalysis, layout: tuple[PartitionSpec, ...], *, keep_old: bool) -> CopySpec:
    def braces(text: str) -> str:  # the engine formats {shadow} into these statements
        return text.replace("{", "{{").replace("}", "}}")

    shadow_triggers = tuple(
        (
            f"CREATE TRIGGER {quote_ident(braces(_alternate_trigger_name(t.name, analysis.table)))} "
            f"{t.timing} {t.event} ON {{shadow}} FOR EACH ROW {braces(t.statement)}",
            f"re-create the trigger {t.name} on the new table (RENAME leaves it with the old one)",
        )
        for t in analysis.triggers
    )
    return CopySpec(
        job=JOB,
        table=analysis.table,
        alterations=(
            ddl.primary_key_swap(analysis.new_primary_key),
            ddl.partition_by(analysis.column, layout),
        ),
        shadow_statements=shadow_triggers,
        key=analysis.live.primary_key[0],
        keep_old=keep_old,
    )


def expected_alter_seconds(analysis: MigrateAnalysis) -> float:
    return analysis.size_bytes / ALTER_BYTES_PER_SECOND


def alter_plan(analysis: MigrateAnalysis, layout: tuple[PartitionSpec, ...]) -> Plan:
    seconds = expected_alter_seconds(analysis)
    sql = (
        f"ALTER TABLE {quote_ident(analysis.table)} {ddl.primary_key_swap(analysis.new_primary_key)}\n"
        f"{ddl.partition_by(analysis.column, layout)}"
    )
    reason = (
        f"rewrite the primary key to ({', '.join(analysis.new_primary_key)}) and partition by month in one "
        f"ALTER: a table copy during which every write waits, about {seconds:.0f} s for "
        f"{analysis.size_bytes / 1048576:.0f} MiB"
    )
    return Plan(JOB, analysis.table, (Statement(sql, reason),), _notes(analysis, layout))


def _notes(analysis: MigrateAnalysis, layout: tuple[PartitionSpec, ...]) -> tuple[str, ...]:
    months = [s for s in layout[1:-1]]
    span = f"{months[0].name}..{months[-1].name}" if months else "none"
    notes = [
        f"{len(layout)} partitions: {layout[0].name} (kept empty), {len(months)} month(s) {span}, "
        f"{layout[-1].name}"
    ]
    column = analysis.live.column(analysis.column)
    if column is not None and column.nullable:
        notes.append(f"{analysis.column} becomes NOT NULL (it is part of the primary key)")
    return tuple(notes)


def migrate_plan(
    session: Session,
    analysis: MigrateAnalysis,
    *,
    method: Method,
    today: dt.date,
    premake_months: int,
    keep_old: bool = False,
) -> Plan:
    """What migrate would run, as a reviewable script (``--dry-run``): for the online method the
    steps of :func:`sqlops.online.copy.copy_plan`, read from the copy's progress."""
    if analysis.copy_state is not None and analysis.copy_state.job == JOB:
        method = "online"  # a resume (or finish) of the copy that was started
    refuse_if_unsafe(analysis, method)
    if analysis.done:
        return Plan(
            JOB, analysis.table, (), (f"{analysis.table} is already partitioned by month: use rotate",)
        )
    layout = migrate_layout(analysis, today, premake_months)
    if method == "alter":
        return alter_plan(analysis, layout)
    plan = copy_plan(session, migrate_spec(analysis, layout, keep_old=keep_old)).render()
    return Plan(JOB, plan.target, plan.statements, plan.notes + _notes(analysis, layout))


@dataclass
class MigrateOutcome:
    action: Literal["none", "online-copy", "alter", "aborted"]
    table: str
    partitions: int = 0
    rows_copied: int = 0
    verified_rows: int = 0
    seconds: float = 0.0
    resumed: bool = False
    statements: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line for the terminal."""
        if self.action == "aborted" and not self.statements:
            return f"partition migrate --abort: nothing to abort; no unfinished migrate of {self.table}"
        if self.action == "aborted":
            return (
                f"partition migrate aborted: {len(self.statements)} statement(s); {self.table} is untouched"
            )
        if self.action == "none":
            rotate = "`sqlops partition rotate`"
            return f"{self.table} is already partitioned by month; keep it current with {rotate}"
        return (
            f"partition migrate of {self.table}: {self.action}, {self.partitions} partitions, "
            f"{self.rows_copied} row(s) copied, {self.verified_rows} verified, {self.seconds:.1f} s"
            + (" (resumed)" if self.resumed else "")
        )


def run_migrate(
    session: Session,
    analysis: MigrateAnalysis,
    *,
    method: Method,
    today: dt.date,
    premake_months: int,
    keep_old: bool = False,
    progress: Callable[[Any], None] | None = None,
    throttle: Callable[[], None] | None = None,
) -> MigrateOutcome:
    """Partition the table (the caller holds the partition lock and records the run)."""
    if analysis.copy_state is not None and analysis.copy_state.job == JOB:
        method = "online"  # resume (or finish) the copy that was started
    refuse_if_unsafe(analysis, method)
    if analysis.done:
        return MigrateOutcome("none", analysis.table)
    layout = migrate_layout(analysis, today, premake_months)
    if method == "alter":
        result = execute(session, alter_plan(analysis, layout))
        return MigrateOutcome(
            "alter",
            analysis.table,
            partitions=len(layout),
            seconds=result.seconds,
            statements=[e.statement.sql for e in result.executed],
        )
    copy = run_online_copy(
        session, migrate_spec(analysis, layout, keep_old=keep_old), progress=progress, throttle=throttle
    )
    return MigrateOutcome(
        "online-copy",
        analysis.table,
        partitions=len(layout),
        rows_copied=copy.rows_copied,
        verified_rows=copy.verified_rows,
        seconds=copy.seconds,
        resumed=copy.resumed,
        statements=copy.statements,
    )


def _refuse_foreign_copy(analysis: MigrateAnalysis) -> None:
    if analysis.copy_state is not None and analysis.copy_state.job != JOB:
        raise PreconditionError(
            f"the unfinished copy of {analysis.table} belongs to {analysis.copy_state.job}, not migrate",
            fix="abort it with the command that started it: "
            f"sqlops {analysis.copy_state.job.replace('-', ' ')} --abort",
        )


def abort_migrate(session: Session, analysis: MigrateAnalysis) -> list[str]:
    """Undo an unfinished online migrate: drop its triggers and shadow; the table is untouched."""
    _refuse_foreign_copy(analysis)
    return abort_online_copy(session, _probe(analysis.table))


def abort_migrate_plan_for(session: Session, target: Target) -> Plan:
    """What `--abort` would send (read-only), for ``--abort --dry-run``."""
    analysis = analyse_migrate(session, target.table, target.column)
    _refuse_foreign_copy(analysis)
    plan = abort_plan(session, _probe(target.table))
    return Plan(JOB, plan.target, plan.statements, plan.notes)


def migrate_plan_for(
    session: Session, target: Target, zone: str, *, method: Method, keep_old: bool = False
) -> Plan:
    """Inspect and plan (read-only), for ``--dry-run``."""
    analysis = analyse_migrate(session, target.table, target.column)
    return migrate_plan(
        session,
        analysis,
        method=method,
        today=server_today(session, zone),
        premake_months=target.policy.premake_months,
        keep_old=keep_old,
    )


def preview_migrate(
    settings: DatabaseConfig,
    target: Target,
    *,
    method: Method = "online",
    keep_old: bool = False,
    abort: bool = False,
) -> Plan:
    """What `migrate_table` (or its `abort`) would send now (read-only, no lock): ``--dry-run``."""
    with connect(settings, maintenance=True) as session:
        if abort:
            return abort_migrate_plan_for(session, target)
        return migrate_plan_for(session, target, settings.time_zone, method=method, keep_old=keep_old)


def alter_warning(table: str, seconds: float, size_bytes: int) -> str:
    """What `migrate --method alter` says before its one locked ALTER starts."""
    return (
        f"{JOB}: one ALTER copies {table} ({size_bytes / 1048576:.0f} MiB); every write to it waits "
        f"until it finishes, expected about {seconds:.0f} s"
    )


def migrate_table(
    settings: DatabaseConfig,
    target: Target,
    *,
    method: Method = "online",
    keep_old: bool = False,
    abort: bool = False,
    origin: str = "cli",
    progress: Callable[[Any], None] | None = None,
    before_alter: Callable[[float, int], None] | None = None,
) -> MigrateOutcome:
    """Lock, re-inspect, record and run (or abort) the migrate of one table: what the CLI calls."""
    table = target.table
    with connect(settings, maintenance=True) as session:
        where = f"{session.database}.{table}"
        with job_lock(session, partition_lock(session, table)) as topology:
            analysis = analyse_migrate(session, table, target.column)
            alter_seconds = expected_alter_seconds(analysis) if method == "alter" else None
            refuse_cluster_stall(topology, settings, alter_seconds, f"alter of {where}", MIGRATE_FIX)
            if abort:
                with recorded_run(settings, JOB, where, origin) as run:
                    sent = abort_migrate(session, analysis)
                    run.statements = len(sent)
                    run.note(action="aborted")
                return MigrateOutcome("aborted", table, statements=sent)
            if analysis.done:
                return MigrateOutcome("none", table)
            resuming = analysis.copy_state is not None and analysis.copy_state.job == JOB
            with recorded_run(settings, JOB, where, origin, resumes=resuming) as run:
                if method == "alter" and not resuming and before_alter is not None:
                    refuse_if_unsafe(analysis, method)
                    before_alter(expected_alter_seconds(analysis), analysis.size_bytes)
                outcome = run_migrate(
                    session,
                    analysis,
                    method=method,
                    today=server_today(session, settings.time_zone),
                    premake_months=target.policy.premake_months,
                    keep_old=keep_old,
                    progress=progress,
                    throttle=replica_throttle(session),
                )
                run.statements = len(outcome.statements)
                run.note(
                    action=outcome.action,
                    partitions=outcome.partitions,
                    rows_copied=outcome.rows_copied,
                    resumed=outcome.resumed,
                )
            return outcome
