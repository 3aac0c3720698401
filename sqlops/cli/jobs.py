"""`sqlops jobs`: recent maintenance runs from sqlops_job_runs (CLI, cron and scheduler alike)."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import click

from sqlops.cli.app import AppContext, cli
from sqlops.cli.output import emit_json, format_option, table
from sqlops.timestamps import times_rfc3339


@cli.command("jobs")
@click.option("--job", help="Only this job, e.g. partition-rotate, rollup-refresh, partition-migrate.")
@click.option("--target", help="Only this target, database.table.")
@click.option(
    "--failed", is_flag=True, help="Only runs that failed, were interrupted or died (process killed)."
)
@click.option("--limit", type=click.IntRange(1, 10_000), default=20, show_default=True)
@format_option
@click.pass_obj
def jobs(app: AppContext, job: str | None, target: str | None, failed: bool, limit: int, fmt: str) -> int:
    """Show recent maintenance runs, newest first: job, target, origin, start, duration, status,
    statements, error.

    Example: sqlops jobs --job partition-rotate --failed
    """
    from sqlops.jobruns import known_jobs
    from sqlops.service.history import job_history

    with app.connect() as session:
        if job and job not in (valid := known_jobs(session)):
            raise click.BadParameter(f"{job!r} is not a job; valid: {', '.join(valid)}", param_hint="--job")
        runs = job_history(session, job=job, target=target, failed_only=failed, limit=limit)
    if fmt == "json":
        emit_json({"runs": [_json_run(r) for r in runs]})
        return 0
    if not runs:
        what = " ".join(filter(None, ("failed" if failed else "", job, f"on {target}" if target else "")))
        click.echo(f"no {what + ' ' if what else ''}runs recorded")
        return 0
    click.echo(_runs_table(runs))
    return 0


def _runs_table(runs: list[dict[str, Any]]) -> str:
    rows = [
        (
            r["id"],
            r["job"],
            r["target"],
            r["origin"],
            f"{r['started_at']:%Y-%m-%d %H:%M:%S}",
            "" if r["seconds"] is None else f"{r['seconds']:.1f}",
            r["status"],
            r["statements"],
            (str(r["error"] or "").splitlines() or [""])[0][:80],
        )
        for r in runs
    ]
    return table(
        rows, ["id", "job", "target", "origin", "started (UTC)", "seconds", "status", "stmts", "error"]
    )


def _json_run(run: dict[str, Any]) -> dict[str, Any]:
    out = times_rfc3339(dict(run))
    summary = out.get("summary")
    if isinstance(summary, str):
        with contextlib.suppress(ValueError):
            out["summary"] = json.loads(summary)
    return out
