"""Every maintenance run is recorded in `sqlops_job_runs` (job, start, end, status, statements,
error), whether it came from the scheduler, cron or a terminal, so `sqlops jobs` and the
monitoring checks can see a run that failed or one that stopped happening.

The record is written on its own autocommit connection, so it survives the rollback of the
work it describes.
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


@contextlib.contextmanager
def recorded_run(settings: DatabaseConfig, job: str, target: str, origin: str = "cli") -> Iterator[JobRun]:
    """Record the run around the block: 'running' first, then 'ok', 'failed' or 'interrupted'."""
    run = JobRun(job, target, origin)
    session = connect(settings)
    ensure_state_table(session, TABLE)
    session.execute(
        f"INSERT INTO {TABLE} (job, target, started_at, status, origin, host, pid) "
        "VALUES (%s, %s, %s, 'running', %s, %s, %s)",
        (job, target, utc_now(), origin, socket.gethostname(), os.getpid()),
    )
    run.run_id = int(session.raw.insert_id())
    run._session = session
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
    create: bool = True,
) -> list[dict[str, Any]]:
    """Runs, newest first. With ``create=False`` a missing table means no runs, so read-only
    (monitoring) accounts can call it."""
    if create:
        ensure_state_table(session, TABLE)
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
        where.append(f"status IN ({', '.join(['%s'] * len(statuses))})")
        params.extend(statuses)
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    return session.query_dicts(
        f"SELECT id, job, target, started_at, finished_at, status, statements, summary, error, origin, "
        f"host, pid FROM {TABLE} {clause} ORDER BY started_at DESC, id DESC LIMIT %s",
        (*params, limit),
    )
