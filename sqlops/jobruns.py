"""Every maintenance run is recorded in `sqlops_job_runs` (job, start, end, status, statements,
error), whether it came from the scheduler, cron or a terminal, so `sqlops jobs` and the
monitoring checks can see a run that failed or one that stopped happening.

The record is written on its own autocommit connection, so it survives the rollback of the
work it describes. That connection holds ``GET_LOCK('sqlops:run:<id>')`` for the run's life and
the row keeps its connection id: a row still 'running' whose lock is free belongs to a process
that was killed (``kill -9``) or lost its connection, and is shown — and, by the next run,
stored — as 'died'. A run that resumes an unfinished one (migrate after a crash) names it in
``resumes``.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from typing import Any

import pymysql

from sqlops.config import DatabaseConfig
from sqlops.db import Session, connect, utc_now
from sqlops.schema.inspect import table_exists
from sqlops.schema.state import ensure_state_table

TABLE = "sqlops_job_runs"
# The jobs that record their runs here (each module's JOB constant; a test keeps them equal).
RECORDED_JOBS = ("partition-migrate", "partition-rotate", "rollup-refresh", "schema-upgrade")


@dataclass
class JobRun:
    job: str
    target: str
    origin: str
    run_id: int | None = None
    statements: int = 0
    summary: dict[str, Any] = field(default_factory=dict)
    _session: Session | None = None

    def note(self, **items: Any) -> None:
        """Add to the JSON summary stored with the run."""
        self.summary.update(items)

    def _finish(self, status: str, error: str | None) -> None:
        if self._session is None or self.run_id is None:
            return
        with contextlib.suppress(pymysql.MySQLError):
            self._session.execute(
                f"UPDATE {TABLE} SET finished_at = %s, status = %s, statements = %s, summary = %s, "
                "error = %s WHERE id = %s",
                (
                    utc_now(),
                    status,
                    self.statements,
                    json.dumps(self.summary, default=str, sort_keys=True),
                    error,
                    self.run_id,
                ),
            )
        self._session.close()


# Columns added after the first release: added to an existing table on first use.
_ADDED_COLUMNS = {
    "connection_id": "BIGINT UNSIGNED NULL COMMENT 'the recording connection; it holds "
    "GET_LOCK(sqlops:run:<id>) while the run lives'",
    "resumes": "BIGINT UNSIGNED NULL COMMENT 'id of the unfinished run this one resumes'",
}
UNFINISHED = ("running", "died", "failed", "interrupted")


def run_lock(run_id: int) -> str:
    return f"sqlops:run:{run_id}"


def ensure_runs_table(session: Session) -> None:
    from sqlops.plan import Plan, Statement, execute

    ensure_state_table(session, TABLE)
    from sqlops.schema.inspect import inspect_table

    table = inspect_table(session, TABLE)
    present = set(table.column_names) if table is not None else set()
    missing = [
        Statement(f"ALTER TABLE {TABLE} ADD COLUMN {name} {spec}", f"add {TABLE}.{name}")
        for name, spec in _ADDED_COLUMNS.items()
        if name not in present
    ]
    if missing:
        execute(session, Plan("job-runs", TABLE, tuple(missing)))


def _gone(session: Session, row: dict[str, Any]) -> bool:
    """A 'running' row whose recording connection no longer holds the run's lock."""
    if row.get("status") != "running" or row.get("connection_id") is None:
        return False
    return session.scalar("SELECT IS_USED_LOCK(%s)", (run_lock(int(row["id"])),)) is None


def _died_error(row: dict[str, Any]) -> str:
    return (
        f"its connection {row['connection_id']} is gone: the process was killed (kill -9, OOM) or "
        "lost its connection before it could record an end"
    )


def mark_died(session: Session) -> list[int]:
    """Store 'died' for every 'running' row whose connection is gone; returns their ids."""
    rows = session.query_dicts(
        f"SELECT id, status, connection_id FROM {TABLE} "
        "WHERE status = 'running' AND connection_id IS NOT NULL"
    )
    died = [r for r in rows if _gone(session, r)]
    for row in died:
        session.execute(
            f"UPDATE {TABLE} SET status = 'died', error = %s WHERE id = %s AND status = 'running'",
            (_died_error(row), row["id"]),
        )
    return [int(r["id"]) for r in died]


def unfinished_run(session: Session, job: str, target: str) -> int | None:
    """The newest run of `job` on `target` that did not end well, if no run succeeded since."""
    rows = session.query(
        f"SELECT id, status FROM {TABLE} WHERE job = %s AND target = %s "
        "ORDER BY started_at DESC, id DESC LIMIT 1",
        (job, target),
    )
    return int(rows[0][0]) if rows and rows[0][1] in UNFINISHED else None


@contextlib.contextmanager
def recorded_run(
    settings: DatabaseConfig,
    job: str,
    target: str,
    origin: str = "cli",
    *,
    resumes: bool = False,
) -> Iterator[JobRun]:
    """Record the run around the block: 'running' first, then 'ok', 'failed' or 'interrupted'.
    With `resumes`, the row names the unfinished run of the same job and target it continues."""
    run = JobRun(job, target, origin)
    session = connect(settings, zone_in_python=True)  # it writes UTC values it computed itself
    ensure_runs_table(session)
    mark_died(session)
    previous = unfinished_run(session, job, target) if resumes else None
    session.execute(
        f"INSERT INTO {TABLE} (job, target, started_at, status, origin, host, pid, connection_id, resumes) "
        "VALUES (%s, %s, %s, 'running', %s, %s, %s, %s, %s)",
        (job, target, utc_now(), origin, socket.gethostname(), os.getpid(), session.connection_id, previous),
    )
    run.run_id = int(session.raw.insert_id())
    session.scalar("SELECT GET_LOCK(%s, 0)", (run_lock(run.run_id),))
    run._session = session
    if previous is not None:
        run.note(resumes=previous)
    try:
        yield run
    except KeyboardInterrupt:
        run._finish("interrupted", "interrupted by the user")
        raise
    except BaseException as exc:
        run._finish("failed", str(exc)[:60000])
        raise
    else:
        run._finish("ok", None)


def recent_runs(
    session: Session,
    *,
    job: str | None = None,
    target: str | None = None,
    statuses: Collection[str] | None = None,
    limit: int = 20,
    create: bool = False,
) -> list[dict[str, Any]]:
    """Runs, newest first. With ``create=False`` a missing table means no runs, so read-only
    (monitoring) accounts can call it."""
    if create:
        ensure_runs_table(session)
    elif not table_exists(session, TABLE):
        return []
    where: list[str] = []
    params: list[Any] = []
    if job:
        where.append("job = %s")
        params.append(job)
    if target:
        where.append("target = %s")
        params.append(target)
    if statuses:
        # A 'died' run may still read 'running' in the table (see _gone).
        stored = sorted(set(statuses) | ({"running"} if "died" in statuses else set()))
        where.append(f"status IN ({', '.join(['%s'] * len(stored))})")
        params.extend(stored)
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    # SELECT *: a table from before connection_id/resumes existed still reads (read-only).
    rows = session.query_dicts(
        f"SELECT * FROM {TABLE} {clause} ORDER BY started_at DESC, id DESC LIMIT %s", (*params, limit)
    )
    out = []
    for row in rows:
        if _gone(session, row):  # shown as died even before a later run stores it
            row = {**row, "status": "died", "error": _died_error(row)}
        row.setdefault("connection_id", None)
        row.setdefault("resumes", None)
        if not statuses or row["status"] in statuses:
            out.append(row)
    return out


def known_jobs(session: Session) -> list[str]:
    """Job names `sqlops jobs --job` accepts: the recorded jobs and any name in the table (a
    newer version may record more)."""
    names = set(RECORDED_JOBS)
    if table_exists(session, TABLE):
        names.update(str(row[0]) for row in session.query(f"SELECT DISTINCT job FROM {TABLE}"))
    return sorted(names)
