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
import functools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from sqlops.cluster.guard import job_lock
from sqlops.cluster.lag import replica_throttle
from sqlops.config import Config, DatabaseConfig
from sqlops.db import Session, connect, lock_name, quote_ident, retry_transaction, utc_now
from sqlops.errors import PreconditionError
from sqlops.jobruns import recorded_run
from sqlops.plan import Plan, Statement
from sqlops.schema.definitions import TableDef, parse_file, state_defs
from sqlops.schema.state import ensure_state_table

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
    present = {
        r[0]
        for r in session.query(
            "SELECT COLUMN_NAME FROM information_schema.COLUMNS "
            "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s",
            (source,),
        )
    }
    if not present:
        raise PreconditionError(
            f"the log table {source!r} does not exist in {session.database!r}",
            fix="set rollup.source (or schema.table), or create it with `sqlops schema init`",
        )
    missing = [c for c in SOURCE_COLUMNS if c not in present]
    if missing:
        fix = "run `sqlops schema upgrade`" if "date_day" in missing else "check rollup.source"
        raise PreconditionError(
            f"{source} lacks the column(s) {', '.join(missing)} the rollup reads", fix=fix
        )


def ensure_tables(session: Session, target: str) -> None:
    ensure_state_table(session, PROGRESS)
    session.execute(rollup_def(target).create_sql.rstrip(";"))


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


def refresh_daily(
    session: Session,
    source: str,
    target: str,
    *,
    chunk_rows: int = 50_000,
    since: dt.date | None = None,
    stop: threading.Event | None = None,
    throttle: Callable[[], object] | None = None,
) -> RollupOutcome:
    """Bring the rollup up to date (the caller holds the rollup lock)."""
    started = time.monotonic()
    _check_source(session, source)
    ensure_tables(session, target)
    _isolation(session)
    src = quote_ident(source)
    last = _progress(session, target)
    outcome = RollupOutcome(source, target, last_id_before=last, last_id=last)
    if since is not None:
        outcome.days_rebuilt = _rebuild_days(session, source, target, since, last, outcome, stop)
    cap = int(session.scalar(f"SELECT MAX(id) FROM {src}") or 0)
    while last < cap:
        if stop is not None and stop.is_set():
            outcome.stopped = True
            break
        if throttle is not None:
            throttle()
        upper_rows = session.query(
            f"SELECT id FROM {src} WHERE id > %s AND id <= %s ORDER BY id LIMIT 1 OFFSET %s",
            (last, cap, max(1, chunk_rows) - 1),
        )
        upper = int(upper_rows[0][0]) if upper_rows else cap
        read = retry_transaction(
            session,
            functools.partial(_add_chunk, session, source, target, last, upper),
            what=f"rollup of ids {last}..{upper}",
        )
        outcome.rows_read += read
        outcome.chunks += 1
        last = outcome.last_id = upper
    outcome.seconds = time.monotonic() - started
    return outcome


_RANGE = "id > %s AND id <= %s"


def _add_chunk(session: Session, source: str, target: str, low: int, high: int) -> int:
    """One chunk: lock its rows (waits for any still uncommitted), add them, move the mark."""
    src = quote_ident(source)
    rows = int(session.scalar(f"SELECT COUNT(*) FROM {src} WHERE {_RANGE} LOCK IN SHARE MODE", (low, high)))
    session.execute(merge_sql(source, target, _RANGE), (low, high))
    now = utc_now()
    session.execute(
        f"INSERT INTO {PROGRESS} (rollup_table, source_table, last_id, rows_read, updated_at) "
        "VALUES (%s, %s, %s, %s, %s) ON DUPLICATE KEY UPDATE source_table = %s, last_id = %s, "
        "rows_read = rows_read + %s, updated_at = %s",
        (target, source, high, rows, now, source, high, rows, now),
    )
    return rows


def _rebuild_day(session: Session, source: str, target: str, day: dt.date, last_id: int) -> None:
    src = quote_ident(source)
    session.scalar(f"SELECT COUNT(*) FROM {src} WHERE {_DAY} LOCK IN SHARE MODE", (day, last_id))
    session.execute(f"DELETE FROM {quote_ident(target)} WHERE date_day = %s", (day,))
    session.execute(merge_sql(source, target, _DAY), (day, last_id))


_DAY = "date_day = %s AND id <= %s"


def _rebuild_days(
    session: Session,
    source: str,
    target: str,
    since: dt.date,
    last_id: int,
    outcome: RollupOutcome,
    stop: threading.Event | None,
) -> int:
    """Recompute whole days from `since` for the rows already counted (id <= last_id)."""
    src, t = quote_ident(source), quote_ident(target)
    oldest = session.scalar(f"SELECT MIN(date_day) FROM {src}")
    if oldest is None:
        outcome.notes.append(f"{source} is empty: nothing to recompute")
        return 0
    if since < oldest:
        outcome.notes.append(
            f"days before {oldest} are no longer in {source} (archived or dropped): "
            "their rollup rows are kept"
        )
    newest = max(
        (
            d
            for d in (
                session.scalar(f"SELECT MAX(date_day) FROM {t}"),
                session.scalar(f"SELECT MAX(date_day) FROM {src} WHERE id <= %s", (last_id,)),
            )
            if d is not None
        ),
        default=None,
    )
    day, days = max(since, oldest), 0
    while newest is not None and day <= newest:
        if stop is not None and stop.is_set():
            outcome.stopped = True
            break
        retry_transaction(
            session,
            functools.partial(_rebuild_day, session, source, target, day, last_id),
            what=f"recompute {day}",
        )
        day += dt.timedelta(days=1)
        days += 1
    return days


def plan_refresh(session: Session, source: str, target: str, chunk_rows: int) -> Plan:
    """What a refresh would send, as a script (``--dry-run``): the tables it creates and one
    statement per chunk kind with the current id range."""
    _check_source(session, source)
    existing = {
        r[0]
        for r in session.query(
            "SELECT TABLE_NAME FROM information_schema.TABLES "
            "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN (%s, %s)",
            (target, PROGRESS),
        )
    }
    last = _progress(session, target) if PROGRESS in existing else 0
    cap = int(session.scalar(f"SELECT MAX(id) FROM {quote_ident(source)}") or 0)
    statements: list[Statement] = []
    if target not in existing:
        statements.append(
            Statement(rollup_def(target).create_sql.rstrip(";"), f"create the rollup table {target}")
        )
    if PROGRESS not in existing:
        (progress,) = [d for d in state_defs() if d.name == PROGRESS]
        statements.append(Statement(progress.create_sql.rstrip(";"), "create the rollup progress table"))
    if cap > last:
        where = f"id > {last} AND id <= {cap}"
        statements.append(
            Statement(
                merge_sql(source, target, where),
                f"add log rows {last + 1}..{cap} to {target}; sent in chunks of {chunk_rows} rows, each "
                "in one transaction with its progress (after SELECT ... LOCK IN SHARE MODE on its rows)",
            )
        )
    notes = (f"{target} has counted {source} up to id {last}; MAX(id) is {cap}",)
    return Plan(JOB, f"{session.database}.{target}", tuple(statements), notes)


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
