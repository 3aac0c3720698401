"""Reading sqlops_job_runs for `sqlops jobs` (read-only: a missing table means no runs)."""

from __future__ import annotations

from typing import Any

from sqlops.db import Session
from sqlops.jobruns import TABLE


def job_history(
    session: Session,
    *,
    job: str | None = None,
    target: str | None = None,
    failed_only: bool = False,
    limit: int = 20,
) -> list[dict[str, Any]]:
    exists = session.scalar(
        "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s",
        (TABLE,),
    )
    if not exists:
        return []
    where, params = [], []
    if job:
        where.append("job = %s")
        params.append(job)
    if target:
        where.append("target = %s")
        params.append(target)
    if failed_only:
        where.append("status IN ('failed', 'interrupted')")
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    rows = session.query_dicts(
        "SELECT id, job, target, origin, started_at, finished_at, status, statements, error, summary, "
        f"host, pid FROM {TABLE} {clause} ORDER BY started_at DESC, id DESC LIMIT %s",
        (*params, limit),
    )
    for row in rows:
        done = row["finished_at"]
        row["seconds"] = (done - row["started_at"]).total_seconds() if done else None
    return rows
