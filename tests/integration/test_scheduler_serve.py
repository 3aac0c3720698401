"""`sqlops serve` as a real process against real servers, with second-level schedules: jobs run
and are recorded with origin 'scheduler', a failing rotate is visible to `partition check`, a
slow rollup is never run twice at once, and SIGTERM lets the running job stop at a safe point
and exits 0."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from support.logtable import create_log_table, insert_days, partition_like_migrate

from sqlops.partitions.months import add_months

ENV = {**os.environ, "HOME": "/nonexistent", "SQLOPS_CONFIG": ""}


def start_serve(db, tmp_path: Path, **serve: str) -> subprocess.Popen[str]:  # type: ignore[no-untyped-def]
    extra = serve.pop("_extra", "")
    lines = ["[serve]"] + [f'{k} = "{v}"' for k, v in serve.items()]
    config = tmp_path / "sqlops.toml"
    config.write_text("\n".join(lines) + "\n" + extra)
    return subprocess.Popen(
        [sys.executable, "-m", "sqlops", "--config", str(config), "--dsn", db.dsn, "serve"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
    )


def wait_for(condition: Callable[[], bool], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError("timed out waiting for the scheduler")


def runs(db, job: str) -> list[tuple]:  # type: ignore[no-untyped-def]
    try:
        return db.sql(
            "SELECT id, status, origin, started_at, finished_at, summary FROM sqlops_job_runs WHERE job = %s ORDER BY id",
            (job,),
        )
    except Exception:  # the table appears with the first run
        return []


def stop(proc: subprocess.Popen[str], timeout: float = 20) -> tuple[int, str]:
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=timeout)
    return proc.returncode, err


def partitioned(db) -> dt.date:  # type: ignore[no-untyped-def]
    with db.connect() as session:
        today = session.scalar("SELECT UTC_DATE()")
        create_log_table(session)
        partition_like_migrate(session, "access_log", add_months(today, -1), today, premake=1)
        insert_days(session, [today], per_day=10)
    return today


def test_serve_runs_both_jobs_on_schedule_records_them_and_stops_on_sigterm(db, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    today = partitioned(db)
    proc = start_serve(db, tmp_path, rotate_schedule="*/2 * * * * *", rollup_schedule="* * * * * *")
    waited: AssertionError | None = None
    try:
        wait_for(lambda: len(runs(db, "rollup-refresh")) >= 3 and len(runs(db, "partition-rotate")) >= 2)
        with db.connect() as session:
            insert_days(session, [today], per_day=7)  # new traffic is picked up by the next rollup
        wait_for(lambda: (db.sql("SELECT SUM(requests) FROM access_log_daily")[0][0] or 0) == 17)
    except AssertionError as exc:
        waited = exc
    finally:
        code, err = stop(proc)
    rotates, rollups = runs(db, "partition-rotate"), runs(db, "rollup-refresh")
    context = f"\nruns: {rotates + rollups}\nserve stderr:\n{err[-4000:]}"
    assert waited is None, f"{waited}{context}"
    assert code == 0, context
    assert "SIGTERM received" in err and "sqlops serve stopped" in err and "Traceback" not in err, context
    assert {r[1] for r in rotates + rollups} == {"ok"}, context
    assert {r[2] for r in rotates + rollups} == {"scheduler"}
    # The first rotate (at start) premade two months; the later ones had nothing to do.
    assert '"created": ["p' in rotates[0][5] and '"created": []' in rotates[-1][5]
    check = subprocess.run(
        [sys.executable, "-m", "sqlops", "--dsn", db.dsn, "partition", "check"],
        capture_output=True,
        text=True,
        env=ENV,
    )
    assert check.returncode == 0, check.stdout


def test_a_failing_scheduled_rotate_is_recorded_and_seen_by_check(db, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with db.connect() as session:
        create_log_table(session)  # never migrated: rotate fails every time
    proc = start_serve(db, tmp_path, rotate_schedule="*/2 * * * * *", rollup_schedule="")
    try:
        wait_for(lambda: len(runs(db, "partition-rotate")) >= 2)
    finally:
        code, err = stop(proc)
    assert code == 0, err  # failures are logged and recorded, the service keeps going
    assert "rotate of access_log failed: access_log is not partitioned" in err
    assert {r[1] for r in runs(db, "partition-rotate")} == {"failed"}
    jobs = subprocess.run(
        [sys.executable, "-m", "sqlops", "--dsn", db.dsn, "jobs", "--failed"],
        capture_output=True,
        text=True,
        env=ENV,
    )
    assert jobs.returncode == 0 and "partition-rotate" in jobs.stdout and "scheduler" in jobs.stdout
    assert "failed" in jobs.stdout and "access_log is not partitioned" in jobs.stdout
    check = subprocess.run(
        [sys.executable, "-m", "sqlops", "--dsn", db.dsn, "partition", "check"],
        capture_output=True,
        text=True,
        env=ENV,
    )
    assert check.returncode == 2 and "not partitioned" in check.stdout


def test_a_slow_rollup_is_not_overlapped_and_sigterm_stops_it_between_chunks(db, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    today = partitioned(db)
    with db.connect() as session:
        insert_days(session, [today - dt.timedelta(days=d) for d in range(1, 25)], per_day=250)  # 6,000 rows
    # One row per chunk: the rollup takes many seconds, far longer than its 1-second schedule.
    proc = start_serve(
        db, tmp_path, rotate_schedule="", rollup_schedule="* * * * * *", _extra="[rollup]\nchunk_rows = 1\n"
    )
    try:
        wait_for(lambda: bool(runs(db, "rollup-refresh")))
        time.sleep(3)  # several scheduled times pass while the first run is still going
    finally:
        sent = time.monotonic()
        code, err = stop(proc)
        took = time.monotonic() - sent
    assert code == 0, err
    assert took < 10, f"shutdown took {took:.1f} s"
    assert "maximum number of running instances reached (1)" in err  # max_instances=1 at work
    (run,) = runs(db, "rollup-refresh")  # never a second one, and it finished cleanly
    assert run[1] == "ok" and '"stopped": true' in run[5]
    # What it did count is exact: rows up to its mark, no more, no less.
    last_id = db.sql("SELECT last_id FROM sqlops_rollup_progress")[0][0]
    counted = db.sql("SELECT COALESCE(SUM(requests), 0) FROM access_log_daily")[0][0]
    assert 0 < counted == db.sql("SELECT COUNT(*) FROM access_log WHERE id <= %s", (last_id,))[0][0] < 6010


def test_serve_list_prints_jobs_and_next_runs(tmp_path: Path) -> None:
    config = tmp_path / "sqlops.toml"
    config.write_text('[database]\ntime_zone = "Europe/Berlin"\n[serve]\nrollup_schedule = ""\n')
    out = subprocess.run(
        [sys.executable, "-m", "sqlops", "--config", str(config), "serve", "--list"],
        capture_output=True,
        text=True,
        env=ENV,
    )
    assert out.returncode == 0, out.stderr
    assert "partition-rotate  17 3 * * *" in out.stdout and "rollup-refresh" not in out.stdout
    bad = tmp_path / "bad.toml"
    bad.write_text('[serve]\nrotate_schedule = "every day"\n')
    out = subprocess.run(
        [sys.executable, "-m", "sqlops", "--config", str(bad), "serve"],
        capture_output=True,
        text=True,
        env=ENV,
    )
    assert out.returncode == 2 and "serve.rotate_schedule" in out.stderr
