"""`partition check`, the Nagios-style plugin: one status line, exit 0/1/2/3, against real
servers (the job-run history is written the way a failed, crashed or old run leaves it)."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys

from support.logtable import create_log_table, insert_days, partition_like_migrate

from sqlops.partitions.months import add_months

ENV = {**os.environ, "HOME": "/nonexistent", "SQLOPS_CONFIG": ""}


def sqlops(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sqlops", *args], capture_output=True, text=True, env=ENV)


def check(db, *args: str) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    out = sqlops("--dsn", db.dsn, "partition", "check", *args)
    assert out.stdout.count("\n") == 1, out.stdout  # exactly one status line
    return out.returncode, out.stdout.strip()


def partitioned(db, premake: int = 3) -> int:  # type: ignore[no-untyped-def]
    """A migrated table with a successful rotate recorded; returns the headroom in days."""
    with db.connect() as session:
        today = session.scalar("SELECT UTC_DATE()")
        create_log_table(session)
        partition_like_migrate(session, "access_log", add_months(today, -1), today, premake=premake)
        insert_days(session, [today])
    assert sqlops("--dsn", db.dsn, "partition", "rotate").returncode == 0
    report = json.loads(sqlops("--dsn", db.dsn, "partition", "status", "--format", "json").stdout)
    return int(report["tables"][0]["headroom_days"])


def add_run(db, status: str, hours_ago: float, error: str | None = None, finished: bool = True) -> None:  # type: ignore[no-untyped-def]
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    started = now - dt.timedelta(hours=hours_ago)
    db.sql(
        "INSERT INTO sqlops_job_runs (job, target, started_at, finished_at, status, error, origin) "
        "VALUES ('partition-rotate', %s, %s, %s, %s, %s, 'scheduler')",
        (
            f"{db.name}.access_log",
            started,
            started + dt.timedelta(seconds=1) if finished else None,
            status,
            error,
        ),
    )


def test_ok_then_headroom_thresholds(db) -> None:  # type: ignore[no-untyped-def]
    headroom = partitioned(db)
    code, line = check(db)
    assert code == 0 and line.startswith(
        f"PARTITIONS OK - {db.name}.access_log: ok, headroom {headroom} day(s)"
    )
    assert f"'access_log_headroom_days'={headroom};20;7" in line and "'access_log_catchall_rows'=0;;1" in line
    code, line = check(db, "--warning-days", str(headroom + 1), "--critical-days", "1")
    assert (
        code == 1
        and line.startswith("PARTITIONS WARNING - ")
        and f"headroom {headroom} day(s) < {headroom + 1}" in line
    )
    code, line = check(db, "--warning-days", str(headroom + 5), "--critical-days", str(headroom + 1))
    assert code == 2 and line.startswith("PARTITIONS CRITICAL - ")


def test_a_failed_last_run_a_crashed_run_and_an_old_success_warn(db) -> None:  # type: ignore[no-untyped-def]
    partitioned(db)
    quiet = ("--critical-days", "0", "--warning-days", "0")

    db.sql("DELETE FROM sqlops_job_runs")
    add_run(db, "ok", 2)
    add_run(
        db,
        "failed",
        0.1,
        error="partition-rotate: statement 1 of 1 failed: (1205) Lock wait timeout\n  why: x",
    )
    code, line = check(db, *quiet)
    assert code == 1 and "last rotate failed at" in line and "(1205) Lock wait timeout" in line

    db.sql("DELETE FROM sqlops_job_runs")
    add_run(db, "ok", 3)
    add_run(db, "running", 2, finished=False)  # the process died mid-run
    code, line = check(db, *quiet)
    assert code == 1 and "'running' since" in line and "(crashed?)" in line

    db.sql("DELETE FROM sqlops_job_runs")
    add_run(db, "ok", 20)
    assert check(db, *quiet)[0] == 0  # within max_run_age_hours (36)
    code, line = check(db, *quiet, "--max-age-hours", "12")
    assert code == 1 and "last successful rotate 20 h ago (> 12 h)" in line

    db.sql("DELETE FROM sqlops_job_runs")
    add_run(db, "ok", 40)
    code, line = check(db, *quiet)
    assert code == 1 and "last successful rotate 40 h ago (> 36 h)" in line


def test_no_rotate_recorded_warns_and_an_unpartitioned_table_is_critical(db) -> None:  # type: ignore[no-untyped-def]
    with db.connect() as session:
        create_log_table(session)
    code, line = check(db)
    assert code == 2 and "not partitioned (run sqlops partition migrate)" in line
    with db.connect() as session:
        today = session.scalar("SELECT UTC_DATE()")
        partition_like_migrate(session, "access_log", today, today, premake=3)
    code, line = check(db, "--critical-days", "0", "--warning-days", "0")
    assert code == 1 and "no successful rotate recorded" in line


def test_rows_in_the_first_partition_warn(db) -> None:  # type: ignore[no-untyped-def]
    partitioned(db)
    insert_days(db.connect(), [dt.date(2001, 1, 1)])
    code, line = check(db, "--critical-days", "0", "--warning-days", "0")
    assert code == 1 and "first partition pfirst is not empty" in line


def test_usage_and_connection_errors_are_unknown() -> None:
    out = sqlops("partition", "check", "--warning-days", "soon")
    assert out.returncode == 3, out
    out = sqlops("--dsn", "mysql://root@127.0.0.1:1/x", "partition", "check")
    assert out.returncode == 3 and out.stdout.startswith("UNKNOWN - cannot connect")


def test_a_month_dropped_by_hand_is_a_warning_and_rotate_repairs_it_on_request(db) -> None:  # type: ignore[no-untyped-def]
    """After DROP PARTITION of next month by hand, the month after it spans two months: check
    and status warn, rotate fails naming it (exit 1, no "nothing to do"), --repair splits it."""
    partitioned(db)
    with db.connect() as session:
        today = session.scalar("SELECT UTC_DATE()")
        nxt, after = add_months(today.replace(day=1), 1), add_months(today.replace(day=1), 2)
        gone, spanning = f"p{nxt:%Y}m{nxt:%m}", f"p{after:%Y}m{after:%m}"
        session.execute(f"ALTER TABLE access_log DROP PARTITION {gone}")
        insert_days(session, [nxt, nxt + dt.timedelta(days=3), after], per_day=4)
    code, line = check(db)
    assert code == 1 and f"{spanning} spans 2 months" in line, line
    text = sqlops("--dsn", db.dsn, "partition", "status").stdout
    assert f"WARNING: {spanning} spans 2 months" in text and "--repair" in text, text
    report = json.loads(sqlops("--dsn", db.dsn, "partition", "status", "--format", "json").stdout)
    (entry,) = [p for p in report["tables"][0]["partitions"] if p["name"] == spanning]
    assert entry["anomaly"] and entry["rows"] == 12 and entry["rows_exact"] is True
    out = sqlops("--dsn", db.dsn, "partition", "rotate")
    assert out.returncode == 1 and spanning in out.stderr and "--repair" in out.stderr, out.stderr
    assert "nothing to do" not in out.stdout
    dry = sqlops("--dsn", db.dsn, "partition", "rotate", "--repair", "--dry-run")
    assert f"REORGANIZE PARTITION `{spanning}` INTO" in dry.stdout and "12 row(s)" in dry.stdout, dry.stdout
    out = sqlops("--dsn", db.dsn, "partition", "rotate", "--repair")
    assert out.returncode == 0, out.stderr
    with db.connect() as session:
        rows = dict(
            session.query(
                "SELECT PARTITION_NAME, PARTITION_DESCRIPTION FROM information_schema.PARTITIONS "
                "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'access_log'"
            )
        )
        assert gone in rows and spanning in rows
        assert session.scalar(f"SELECT COUNT(*) FROM access_log PARTITION ({gone})") == 8
        assert session.scalar(f"SELECT COUNT(*) FROM access_log PARTITION ({spanning})") == 4
    code, line = check(db)
    assert code == 0, line
    assert sqlops("--dsn", db.dsn, "partition", "rotate").stdout.strip().endswith("nothing to do")


def test_a_warning_threshold_below_the_critical_one_is_unknown(db) -> None:  # type: ignore[no-untyped-def]
    partitioned(db)
    code, line = check(db, "--warning-days", "3", "--critical-days", "7")
    assert code == 3 and line.startswith("UNKNOWN - "), line
    assert "warning threshold (3 days) is below the critical one (7 days)" in line
