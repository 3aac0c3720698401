"""The daily traffic rollup (`access_log_daily`), maintained incrementally by id.

Each refresh reads only the log rows added since the last one: ``(last_id, MAX(id)]`` in
chunks. A chunk first takes shared locks on its rows in READ COMMITTED (so it waits for any
insert in that id range that is still uncommitted, without gap locks that would stall the
writer's new inserts), then adds its GROUP BY into the rollup with ``ON DUPLICATE KEY UPDATE``
and advances ``sqlops_rollup_progress.last_id`` *in the same transaction*: a crash never counts a
row twice or skips one, and a second refresh with no new rows reads nothing.

``--since DAY`` recomputes whole days from the log (one transaction per day) for rows the
incremental pass already counted, e.g. after rows were corrected; days whose raw rows are gone
(archived or dropped by retention) are never touched.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from sqlops.cluster.guard import job_lock
from sqlops.cluster.lag import replica_throttle
from sqlops.config import Config, DatabaseConfig
from sqlops.db import Session, connect, lock_name, quote_ident, quote_string
from sqlops.errors import PreconditionError
from sqlops.jobruns import recorded_run
from sqlops.plan import Plan, Statement, execute
from sqlops.schema.definitions import TableDef, parse_file
from sqlops.schema.inspect import existing_tables, inspect_table
from sqlops.schema.state import state_table_statement
from sqlops.steps import (
    HIGH,
    LOW,
    ROWS,
    Chunked,
    ChunkSizing,
    Ddl,
    StateWrite,
    Step,
    StepHooks,
    render_steps,
    run_steps,
)

log = logging.getLogger("sqlops.rollup")
T = TypeVar("T")

JOB = "rollup-refresh"
PROGRESS = "sqlops_rollup_progress"
SCHEMA_FILE = "access_log_daily.sql"
SOURCE_COLUMNS = (
    "id",
    "date_day",
    "http_username",
    "ip_client",
    "http_reply_size",
    "squid_request_status",
    "http_status_code",
    "time_response",
)
_MEASURES = ("requests", "bytes", "hits", "hit_bytes", "misses", "denied", "errors", "response_ms")


def rollup_def(name: str) -> TableDef:
    (table,) = parse_file(SCHEMA_FILE)
    return table.renamed(name)


def _aggregate_select(source: str, where: str) -> str:
    """One GROUP BY over the log rows matching `where`, in the rollup's column order."""
    status = "COALESCE(squid_request_status, '')"
    # INSTR, not LIKE '%...%': these statements go out with parameters, where % is special.
    hit = f"(INSTR({status}, 'HIT') > 0 OR {status} = 'TCP_REFRESH_UNMODIFIED')"
    return (
        "SELECT date_day, COALESCE(http_username, '') AS http_username, "
        "COALESCE(ip_client, '') AS ip_client, "
        "COUNT(*) AS requests, COALESCE(SUM(http_reply_size), 0) AS bytes, "
        f"SUM({hit}) AS hits, COALESCE(SUM(CASE WHEN {hit} THEN http_reply_size END), 0) AS hit_bytes, "
        f"SUM(INSTR({status}, 'MISS') > 0 OR {status} = 'TCP_REFRESH_MODIFIED') AS misses, "
        f"SUM(INSTR({status}, 'DENIED') > 0) AS denied, "
        "SUM(LEFT(http_status_code, 1) = '5' OR http_status_code IN ('0', '000')) AS errors, "
        "COALESCE(SUM(time_response), 0) AS response_ms "
        f"FROM {quote_ident(source)} WHERE {where} GROUP BY date_day, 2, 3"
    )


def merge_sql(source: str, target: str, where: str) -> str:
    """Add the aggregate of the rows matching `where` to the rollup (works on both servers: the
    derived table's columns are referenced in ON DUPLICATE KEY UPDATE)."""
    t = quote_ident(target)
    columns = ", ".join(("date_day", "http_username", "ip_client", *_MEASURES))
    updates = ", ".join(f"{m} = {t}.{m} + d.{m}" for m in _MEASURES)
    return (
        f"INSERT INTO {t} ({columns}) SELECT * FROM ({_aggregate_select(source, where)}) AS d "
        f"ON DUPLICATE KEY UPDATE {updates}"
    )


@dataclass
class RollupOutcome:
    source: str
    target: str
    last_id_before: int = 0
    last_id: int = 0
    rows_read: int = 0
    chunks: int = 0
    days_rebuilt: int = 0
    seconds: float = 0.0
    stopped: bool = False
    notes: list[str] = field(default_factory=list)
    # The steps run, as rendered (what --dry-run printed, a chunked merge once).
    statements: list[str] = field(default_factory=list)

    def describe(self, *, since: bool = False) -> str:
        """One line for the terminal (`since`: the run recomputed days)."""
        days = f", {self.days_rebuilt} day(s) recomputed" if since else ""
        if not self.rows_read:
            read = f"no new rows in {self.source} (counted up to id {self.last_id})"
        else:
            read = (
                f"{self.rows_read} new row(s) of {self.source} (ids {self.last_id_before + 1}.."
                f"{self.last_id}) in {self.chunks} chunk(s)"
            )
        stopped = " (stopped early)" if self.stopped else ""
        return f"rollup refresh of {self.target}: {read}{days}, {self.seconds:.2f} s{stopped}"

    def summary(self) -> dict[str, object]:
        return {
            "source": self.source,
            "target": self.target,
            "from_id": self.last_id_before,
            "to_id": self.last_id,
            "rows_read": self.rows_read,
            "chunks": self.chunks,
            "days_rebuilt": self.days_rebuilt,
            "stopped": self.stopped,
        }


def _check_source(session: Session, source: str) -> None:
    table = inspect_table(session, source)
    if table is None:
        raise PreconditionError(
            f"the log table {source!r} does not exist in {session.database!r}",
            fix="set rollup.source (or schema.table), or create it with `sqlops schema init`",
        )
    missing = [c for c in SOURCE_COLUMNS if table.column(c) is None]
    if missing:
        fix = "run `sqlops schema upgrade`" if "date_day" in missing else "check rollup.source"
        raise PreconditionError(
            f"{source} lacks the column(s) {', '.join(missing)} the rollup reads", fix=fix
        )


def _table_statements(present: set[str], target: str) -> tuple[Statement, ...]:
    """CREATE TABLE IF NOT EXISTS for the progress table and the rollup, when missing."""
    out = []
    if PROGRESS not in present:
        out.append(state_table_statement(PROGRESS))
    if target not in present:
        out.append(Statement(rollup_def(target).create_sql.rstrip(";"), f"create the rollup table {target}"))
    return tuple(out)


def ensure_tables(session: Session, target: str) -> None:
    """Create the progress table and the rollup when missing (through the executor)."""
    statements = _table_statements(existing_tables(session), target)
    if statements:
        execute(session, Plan(JOB, target, statements))


def _progress(session: Session, target: str) -> int:
    value = session.scalar(f"SELECT last_id FROM {PROGRESS} WHERE rollup_table = %s", (target,))
    return int(value or 0)


def _isolation(session: Session) -> None:
    # READ COMMITTED: locking reads take record locks only, so a chunk never blocks the
    # writer's inserts above it. Statement-based binary logging refuses INSERT ... SELECT in
    # READ COMMITTED (1665); there, REPEATABLE READ with short chunks is the fallback.
    fmt = str(session.scalar("SELECT @@SESSION.binlog_format") or "").upper()
    level = "REPEATABLE READ" if fmt == "STATEMENT" else "READ COMMITTED"
    session.execute(f"SET SESSION TRANSACTION ISOLATION LEVEL {level}")
    session.execute("SET SESSION innodb_lock_wait_timeout = 10")


_RANGE = f"id > {LOW} AND id <= {HIGH}"


def _chunk_step(source: str, target: str, last: int, chunk_rows: int) -> Chunked:
    """One chunk: lock its rows (waits for any still uncommitted), add them, move the mark —
    in one transaction."""
    src = quote_ident(source)
    values = f"{quote_string(target)}, {quote_string(source)}"
    return Chunked(
        reason=f"add the log rows of {source} above id {last} to {target}",
        table=source,
        key="id",
        low=last,
        cap_sql=f"SELECT COALESCE(MAX(id), 0) FROM {src}",
        statements=(
            Statement(
                f"SELECT COUNT(*) INTO {ROWS} FROM {src} WHERE {_RANGE} LOCK IN SHARE MODE",
                "lock the chunk's rows: waits for any insert in the range still uncommitted",
            ),
            Statement(merge_sql(source, target, _RANGE), f"add the chunk's aggregate to {target}"),
            Statement(
                f"INSERT INTO {PROGRESS} (rollup_table, source_table, last_id, rows_read, updated_at) "
                f"VALUES ({values}, {HIGH}, {ROWS}, UTC_TIMESTAMP(3)) ON DUPLICATE KEY UPDATE "
                f"source_table = {quote_string(source)}, last_id = {HIGH}, rows_read = rows_read + {ROWS}, "
                "updated_at = UTC_TIMESTAMP(3)",
                "move the mark in the same transaction",
            ),
        ),
        sizing=ChunkSizing(max(1, chunk_rows), max(1, chunk_rows)),
    )


def _day_step(source: str, target: str, day: dt.date, last_id: int) -> StateWrite:
    src = quote_ident(source)
    where = f"date_day = {quote_string(day.isoformat())} AND id <= {int(last_id)}"
    return StateWrite(
        (
            Statement(
                f"SELECT COUNT(*) FROM {src} WHERE {where} LOCK IN SHARE MODE",
                f"recompute {day}: lock the day's counted rows",
            ),
            Statement(
                f"DELETE FROM {quote_ident(target)} WHERE date_day = {quote_string(day.isoformat())}",
                f"recompute {day}: drop its rollup rows",
            ),
            Statement(merge_sql(source, target, where), f"recompute {day}: add them again from the log"),
        ),
        what=f"recompute {day}",
    )


def _day_steps(
    session: Session, source: str, target: str, since: dt.date, last_id: int, target_exists: bool
) -> tuple[list[StateWrite], list[str]]:
    """Recompute whole days from `since` for the rows already counted (id <= last_id)."""
    src, t = quote_ident(source), quote_ident(target)
    oldest = session.scalar(f"SELECT MIN(date_day) FROM {src}")
    if oldest is None:
        return [], [f"{source} is empty: nothing to recompute"]
    notes = []
    if since < oldest:
        notes.append(
            f"days before {oldest} are no longer in {source} (archived or dropped): "
            "their rollup rows are kept"
        )
    candidates = [session.scalar(f"SELECT MAX(date_day) FROM {src} WHERE id <= %s", (last_id,))]
    if target_exists:
        candidates.append(session.scalar(f"SELECT MAX(date_day) FROM {t}"))
    newest = max((d for d in candidates if d is not None), default=None)
    steps, day = [], max(since, oldest)
    while newest is not None and day <= newest:
        steps.append(_day_step(source, target, day, last_id))
        day += dt.timedelta(days=1)
    return steps, notes


@dataclass(frozen=True)
class RefreshPlan:
    source: str
    target: str
    last_id: int
    steps: tuple[Step, ...]
    days: tuple[StateWrite, ...]
    notes: tuple[str, ...]
    where: str  # database.target

    def render(self) -> Plan:
        return render_steps(JOB, self.where, self.steps, self.notes)


def refresh_plan(
    session: Session, source: str, target: str, *, chunk_rows: int = 50_000, since: dt.date | None = None
) -> RefreshPlan:
    """Read the rollup's progress (read-only) and return the steps of a refresh: the tables it
    creates, with `since` one transaction per recomputed day (its delete and re-merge), then the
    chunked merge of the new rows — what ``--dry-run`` renders and :func:`refresh_daily` runs."""
    _check_source(session, source)
    present = existing_tables(session)
    last = _progress(session, target) if PROGRESS in present else 0
    steps: list[Step] = []
    tables = _table_statements(present, target)
    if tables:
        steps.append(Ddl(tables))
    days: list[StateWrite] = []
    notes: list[str] = []
    if since is not None:
        days, notes = _day_steps(session, source, target, since, last, target in present)
        steps += days
    steps.append(_chunk_step(source, target, last, chunk_rows))
    cap = int(session.scalar(f"SELECT COALESCE(MAX(id), 0) FROM {quote_ident(source)}") or 0)
    notes.insert(0, f"{target} has counted {source} up to id {last}; MAX(id) is {cap}")
    return RefreshPlan(
        source, target, last, tuple(steps), tuple(days), tuple(notes), f"{session.database}.{target}"
    )


def refresh_daily(
    session: Session,
    source: str,
    target: str,
    *,
    chunk_rows: int = 50_000,
    since: dt.date | None = None,
    stop: threading.Event | None = None,
    throttle: Callable[[], None] | None = None,
) -> RollupOutcome:
    """Bring the rollup up to date (the caller holds the rollup lock): the steps of
    :func:`refresh_plan`. `throttle` is called before every chunk."""
    plan = refresh_plan(session, source, target, chunk_rows=chunk_rows, since=since)
    _isolation(session)
    ran: list[Step] = []
    hooks = StepHooks(stop=stop, throttle=throttle, on_step=ran.append)
    done = run_steps(session, JOB, plan.where, plan.steps, hooks=hooks)
    outcome = RollupOutcome(source, target, last_id_before=plan.last_id, last_id=done.reached)
    outcome.rows_read, outcome.chunks, outcome.stopped = done.rows, done.chunks, done.stopped
    outcome.days_rebuilt = sum(1 for step in ran if step in plan.days)
    outcome.notes = [n for n in plan.notes[1:]]
    outcome.seconds, outcome.statements = done.seconds, done.statements
    return outcome


@dataclass(frozen=True)
class RollupTarget:
    """Which rollup counts which log table (rotate refreshes it before removing months)."""

    source: str
    table: str
    chunk_rows: int = 50_000

    @classmethod
    def from_config(cls, config: Config) -> RollupTarget:
        return cls(config.rollup.source or config.schema.table, config.rollup.table, config.rollup.chunk_rows)


def refresh_before_removal(
    settings: DatabaseConfig, rollup: RollupTarget, months: tuple[str, ...], *, origin: str = "cli"
) -> RollupOutcome:
    """Count every row of the log table into the rollup before rotate archives or drops
    `months` (the rollup reads by id, so rows that leave the table uncounted are lost to it).
    Waits up to a minute for a refresh already running; raises when it cannot refresh."""
    # The rollup groups by the stored date_day: the session's zone plays no part.
    with connect(settings, maintenance=True, zone_in_python=True) as session:
        where = f"{session.database}.{rollup.table}"
        lock = lock_name("rollup", session.database, rollup.table)
        with (
            job_lock(session, lock, wait_seconds=60),
            recorded_run(settings, JOB, where, origin) as run,
        ):
            outcome = refresh_daily(session, rollup.source, rollup.table, chunk_rows=rollup.chunk_rows)
            run.statements = outcome.chunks
            run.note(**outcome.summary(), before_removing=list(months))
    log.info(
        "refreshed %s before removing %s from %s: %d row(s) counted",
        rollup.table,
        ", ".join(months),
        rollup.source,
        outcome.rows_read,
    )
    return outcome


def preview_rollup(config: Config, *, since: dt.date | None = None) -> Plan:
    """What `run_rollup` would send now, as a Plan (``--dry-run``; read-only, no lock)."""
    with connect(config.database) as session:
        source = config.rollup.source or config.schema.table
        plan = refresh_plan(
            session, source, config.rollup.table, chunk_rows=config.rollup.chunk_rows, since=since
        )
    return plan.render()


def run_rollup(
    config: Config,
    *,
    origin: str = "cli",
    since: dt.date | None = None,
    stop: threading.Event | None = None,
) -> RollupOutcome:
    """Lock, record and refresh the configured rollup: what the CLI and the scheduler call."""
    source = config.rollup.source or config.schema.table
    target = config.rollup.table
    with connect(config.database, maintenance=True) as session:
        where = f"{session.database}.{target}"
        lock = lock_name("rollup", session.database, target)
        with job_lock(session, lock), recorded_run(config.database, JOB, where, origin) as run:
            outcome = refresh_daily(
                session,
                source,
                target,
                chunk_rows=config.rollup.chunk_rows,
                since=since,
                stop=stop,
                throttle=replica_throttle(session, stop),
            )
            run.statements = outcome.chunks + outcome.days_rebuilt
            run.note(**outcome.summary())
    return outcome
