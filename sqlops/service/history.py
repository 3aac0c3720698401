"""Reading sqlops_job_runs for `sqlops jobs` (read-only: a missing table means no runs)."""

from __future__ import annotations

from typing import Any

from sqlops.db import Session
from sqlops.jobruns import recent_runs


def job_history(
    session: Session,
    *,
    job: str | None = None,
    target: str | None = None,
    failed_only: bool = False,
    limit: int = 20,
) -> list[dict[str, Any]]:
    """Recent runs with their duration in seconds (None while running or after a crash)."""
    statuses = ("failed", "interrupted", "died") if failed_only else None
    rows = recent_runs(session, job=job, target=target, statuses=statuses, limit=limit)
    for row in rows:
        done = row["finished_at"]
        row["seconds"] = (done - row["started_at"]).total_seconds() if done else None
    return rows
