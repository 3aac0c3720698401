"""The daily traffic rollup against real servers: equal to a full GROUP BY (computed here in
Python), incremental (only new rows are read), idempotent, exact under a concurrent writer and
after a crash mid-refresh, `--since` recomputation that keeps archived days."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time
from collections import defaultdict

import pytest
from support.legacy import LegacyWriter
from support.logtable import create_log_table, insert_rows, partition_like_migrate, row
from support.scripts import normal, statements_in

import sqlops.rollup.daily as daily
from sqlops.config import Config, PartitionTableConfig
from sqlops.errors import PreconditionError
from sqlops.partitions.rotate import run_rotate, targets
from sqlops.rollup.daily import refresh_daily, refresh_plan
from sqlops.steps import rendered_sql

D = dt.date
ENV = {**os.environ, "HOME": "/nonexistent", "SQLOPS_CONFIG": ""}
MEASURES = ("requests", "bytes", "hits", "hit_bytes", "misses", "denied", "errors", "response_ms")


def sqlops(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sqlops", *args], capture_output=True, text=True, env=ENV)


def expected(session) -> dict[tuple[object, ...], tuple[int, ...]]:  # type: ignore[no-untyped-def]
    """The rollup computed independently, in Python, from every log row."""
    out: dict[tuple[object, ...], list[int]] = defaultdict(lambda: [0] * len(MEASURES))
    for day, user, client, size, status, code, ms in session.query(
        "SELECT date_day, http_username, ip_client, http_reply_size, squid_request_status, http_status_code, "
        "time_response FROM access_log"
    ):
        status = status or ""
        hit = "HIT" in status or status == "TCP_REFRESH_UNMODIFIED"
        miss = "MISS" in status or status == "TCP_REFRESH_MODIFIED"
        error = (code or "").startswith("5") or code in ("0", "000")
        v = out[(day, user or "", client or "")]
        for i, add in enumerate(
            (1, size or 0, hit, size or 0 if hit else 0, miss, "DENIED" in status, error, ms or 0)
        ):
            v[i] += int(add)
    return {k: tuple(v) for k, v in out.items()}


def rollup(session) -> dict[tuple[object, ...], tuple[int, ...]]:  # type: ignore[no-untyped-def]
    cols = ", ".join(MEASURES)
    return {
        (r[0], r[1], r[2]): tuple(int(x) for x in r[3:])
        for r in session.query(f"SELECT date_day, http_username, ip_client, {cols} FROM access_log_daily")
    }


def traffic(days: list[D], per_day: int) -> list[tuple[object, ...]]:
    users = ("alice", "bob", None, "-")
    clients = ("10.0.0.1", "10.0.0.2", "2001:db8::1")
    return [
        row(day, i, user=users[i % 4], client=clients[(i // 4) % 3])  # type: ignore[arg-type]
        for day in days
        for i in range(per_day)
    ]


def test_rollup_equals_a_full_group_by_and_reads_only_new_rows(db) -> None:  # type: ignore[no-untyped-def]
    with db.connect() as session:
        create_log_table(session)
        first = insert_rows(session, traffic([D(2026, 1, 1), D(2026, 1, 2), D(2026, 1, 31)], 60))
        outcome = refresh_daily(session, "access_log", "access_log_daily", chunk_rows=50)
        assert outcome.rows_read == first and outcome.chunks == 4
        assert rollup(session) == expected(session)
        assert refresh_daily(session, "access_log", "access_log_daily").rows_read == 0  # idempotent
        assert rollup(session) == expected(session)
        more = insert_rows(session, traffic([D(2026, 1, 31), D(2026, 2, 1)], 25))
        outcome = refresh_daily(session, "access_log", "access_log_daily", chunk_rows=1000)
        assert outcome.rows_read == more and outcome.last_id_before == first  # only the new rows
        assert rollup(session) == expected(session)
        progress = session.query("SELECT source_table, last_id, rows_read FROM sqlops_rollup_progress")
        assert progress == [("access_log", first + more, first + more)]


def test_exact_under_a_concurrent_writer(db) -> None:  # type: ignore[no-untyped-def]
    with db.connect() as session:
        create_log_table(session, trigger=True)  # the legacy writer does not send date_day
        insert_rows(session, traffic([D(2025, 12, 1), D(2025, 12, 2)], 200))
    writer = LegacyWriter(db.server, db.name, "access_log", rate=200).start()
    try:
        with db.connect() as session:
            deadline = time.monotonic() + 2.5
            refreshes = 0
            while time.monotonic() < deadline:  # refresh over and over while rows arrive
                refresh_daily(session, "access_log", "access_log_daily", chunk_rows=37)
                refreshes += 1
    finally:
        writer.stop()
    assert writer.errors == [] and writer.inserted > 200 and refreshes > 2
    with db.connect() as session:
        refresh_daily(session, "access_log", "access_log_daily", chunk_rows=37)
        assert rollup(session) == expected(session)


def test_a_crash_mid_refresh_neither_counts_twice_nor_skips(db, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    with db.connect() as session:
        create_log_table(session)
        insert_rows(session, traffic([D(2026, 3, 1)], 300))
    calls: list[int] = []

    with db.connect() as session:
        real = session.commit

        def crash_before_the_second_commit() -> None:
            # The chunk's rollup rows and progress are written ... but never committed.
            calls.append(int(session.scalar("SELECT @sqlops_high")))
            if len(calls) == 2:
                raise RuntimeError("killed mid-transaction")
            real()

        monkeypatch.setattr(session, "commit", crash_before_the_second_commit)
        with pytest.raises(RuntimeError):
            refresh_daily(session, "access_log", "access_log_daily", chunk_rows=100)
    with db.connect() as session:
        assert session.scalar("SELECT last_id FROM sqlops_rollup_progress") == calls[0]
        assert session.scalar("SELECT SUM(requests) FROM access_log_daily") == 100
        refresh_daily(session, "access_log", "access_log_daily", chunk_rows=100)
        assert rollup(session) == expected(session)


def test_since_recomputes_days_and_keeps_archived_ones(db) -> None:  # type: ignore[no-untyped-def]
    with db.connect() as session:
        create_log_table(session)
        partition_like_migrate(session, "access_log", D(2025, 10, 1), D(2025, 12, 1), premake=1)
        insert_rows(session, traffic([D(2025, 10, 5), D(2025, 11, 5), D(2025, 12, 5)], 12))
        refresh_daily(session, "access_log", "access_log_daily")
        october = session.scalar("SELECT SUM(requests) FROM access_log_daily WHERE date_day = '2025-10-05'")
    # Retention archives October out of the log table; its rollup rows must survive.
    (tgt,) = targets(
        Config(partitions={"access_log": PartitionTableConfig(premake_months=1, retention_months=1)})
    )
    assert run_rotate(db.settings(), tgt, today=D(2025, 12, 10)).rotate_plan.archived
    with db.connect() as session:
        session.execute("UPDATE access_log_daily SET requests = 999 WHERE date_day = '2025-11-05'")  # drifted
        session.execute(
            "UPDATE access_log SET http_reply_size = 0 WHERE date_day = '2025-12-05'"
        )  # corrected
    dry = sqlops("--dsn", db.dsn, "rollup", "refresh", "--since", "2025-01-01", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    for day in ("2025-11-05", "2025-11-20", "2025-12-05"):  # each day's delete and re-merge
        assert f"DELETE FROM `access_log_daily` WHERE date_day = '{day}';" in dry.stdout, day
        assert f"WHERE date_day = '{day}' AND id <= 36 GROUP BY" in dry.stdout, day
    assert "'2025-11-04'" not in dry.stdout and "'2025-12-06'" not in dry.stdout
    with db.connect() as session:
        planned = rendered_sql(
            refresh_plan(session, "access_log", "access_log_daily", since=D(2025, 1, 1)).steps
        )
        outcome = refresh_daily(session, "access_log", "access_log_daily", since=D(2025, 1, 1))
        assert outcome.statements == planned  # the dry run shows what runs
        assert [s for s in planned if s.startswith("DELETE")]
        assert statements_in(dry.stdout) == [normal(s) for s in outcome.statements]  # what was sent
        assert outcome.rows_read == 0 and outcome.days_rebuilt == 31  # 2025-11-05 .. 2025-12-05
        assert any("days before 2025-11-05 are no longer in access_log" in n for n in outcome.notes)
        assert (
            session.scalar("SELECT SUM(requests) FROM access_log_daily WHERE date_day = '2025-10-05'")
            == october
        )
        got = rollup(session)
        assert {k: v for k, v in got.items() if k[0] >= D(2025, 11, 1)} == expected(session)


def test_cli_refresh_dry_run_json_and_a_source_without_date_day(db) -> None:  # type: ignore[no-untyped-def]
    with db.connect() as session:
        create_log_table(session)
        insert_rows(session, traffic([D(2026, 1, 1)], 5))
    dry = sqlops("--dsn", db.dsn, "rollup", "refresh", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert (
        "CREATE TABLE IF NOT EXISTS `access_log_daily`" in dry.stdout
        or "CREATE TABLE IF NOT EXISTS access_log_daily" in dry.stdout
    )
    assert "INSERT INTO `access_log_daily`" in dry.stdout and "SET @sqlops_low = 0," in dry.stdout
    assert "up to id 0; MAX(id) is 5" in dry.stdout
    with db.connect() as session:  # the dry run's script is what the refresh sends
        planned = [
            normal(s) for s in rendered_sql(refresh_plan(session, "access_log", "access_log_daily").steps)
        ]
        assert statements_in(dry.stdout) == planned and planned[0].startswith("CREATE TABLE IF NOT EXISTS")
    out = sqlops("--dsn", db.dsn, "rollup", "refresh", "--format", "json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert (report["rows_read"], report["from_id"], report["to_id"]) == (5, 0, 5)
    again = sqlops("--dsn", db.dsn, "rollup", "refresh")
    assert again.returncode == 0 and "no new rows" in again.stdout
    jobs = json.loads(sqlops("--dsn", db.dsn, "jobs", "--job", "rollup-refresh", "--format", "json").stdout)
    assert [r["status"] for r in jobs["runs"]] == ["ok", "ok"] and jobs["runs"][1]["summary"][
        "rows_read"
    ] == 5

    db.sql("CREATE TABLE old_log (id INT AUTO_INCREMENT PRIMARY KEY, time_since_epoch DECIMAL(15,3))")
    with db.connect() as session, pytest.raises(PreconditionError, match="lacks the column"):
        refresh_daily(session, "old_log", "old_daily")


def test_rotate_counts_months_into_the_rollup_before_it_archives_them(db) -> None:  # type: ignore[no-untyped-def]
    """Rows loaded after the last refresh (here: before the first) must not leave the log
    table uncounted: rotate refreshes the rollup before archiving (or dropping) a month."""
    from sqlops.rollup.daily import RollupTarget

    with db.connect() as session:
        create_log_table(session)
        partition_like_migrate(session, "access_log", D(2025, 10, 1), D(2025, 12, 1), premake=1)
        daily.ensure_tables(session, "access_log_daily")  # the rollup exists, never refreshed
        insert_rows(session, traffic([D(2025, 9, 20), D(2025, 10, 5), D(2025, 11, 5), D(2025, 12, 5)], 25))
        everything = expected(session)
    (tgt,) = targets(
        Config(partitions={"access_log": PartitionTableConfig(premake_months=1, retention_months=1)})
    )
    outcome = run_rotate(
        db.settings(),
        tgt,
        today=D(2025, 12, 10),
        rollup=RollupTarget("access_log", "access_log_daily"),
    )
    assert [p for p, _ in outcome.rotate_plan.archived] == ["p2025m10"]
    with db.connect() as session:
        assert session.scalar("SELECT COUNT(*) FROM access_log_2025m10") == 25
        assert rollup(session) == everything  # October was counted before it left
        runs = session.query_dicts("SELECT job, status, summary FROM sqlops_job_runs ORDER BY id")
    assert sorted((r["job"], r["status"]) for r in runs) == [
        ("partition-rotate", "ok"),
        ("rollup-refresh", "ok"),
    ]
    assert "p2025m10" in next(r["summary"] for r in runs if r["job"] == "rollup-refresh")
