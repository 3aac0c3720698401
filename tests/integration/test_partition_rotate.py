"""`partition rotate` against real servers: premake by splitting the catch-all, retention with
archive (CONVERT PARTITION on MariaDB, EXCHANGE PARTITION on MySQL), a catch-all holding rows,
destructive drops, the named lock, metadata-lock waits, and idempotence + gap-freedom as a
property over dates and policies."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pymysql
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.logtable import create_log_table, insert_days, partition_like_migrate, partition_rows
from support.partition_model import layout_violations
from support.servers import create_database, drop_database

from sqlops.config import Config, PartitionTableConfig
from sqlops.partitions.inspect import inspect_partitions
from sqlops.partitions.months import add_months, month_start
from sqlops.partitions.rotate import RotateIncomplete, Target, rotate_plan_for, run_rotate, targets
from sqlops.plan import execute

D = dt.date
ENV = {**os.environ, "HOME": "/nonexistent", "SQLOPS_CONFIG": ""}


def target(**policy: object) -> Target:
    (t,) = targets(Config(partitions={"access_log": PartitionTableConfig(**policy)}))  # type: ignore[arg-type]
    return t


def sqlops(*args: str, config: Path | None = None) -> subprocess.CompletedProcess[str]:
    pre = ["--config", str(config)] if config else []
    return subprocess.run(
        [sys.executable, "-m", "sqlops", *pre, *args], capture_output=True, text=True, env=ENV
    )


def names(session) -> list[str]:  # type: ignore[no-untyped-def]
    state = inspect_partitions(session, "access_log", "date_day")
    return [p.name for p in state.partitions]


def test_rotate_premakes_by_splitting_the_catchall_and_is_idempotent(db) -> None:  # type: ignore[no-untyped-def]
    with db.connect() as session:
        create_log_table(session)
        partition_like_migrate(session, "access_log", D(2026, 1, 3), D(2026, 1, 20), premake=1)
        insert_days(session, [D(2026, 1, 3), D(2026, 2, 27)], per_day=5)
        assert names(session)[-3:] == ["p2026m01", "p2026m02", "pcatchall"]
    outcome = run_rotate(db.settings(), target(premake_months=2), today=D(2026, 3, 15))
    assert outcome.rotate_plan.created == ("p2026m03", "p2026m04", "p2026m05")
    sql = outcome.executed[0]
    assert "REORGANIZE PARTITION `pcatchall` INTO" in sql
    assert sql.startswith("ALTER TABLE `access_log` ALGORITHM=INPLACE, ") == (db.flavour == "mysql")
    with db.connect() as session:
        assert names(session) == ["pfirst", *(f"p2026m{m:02d}" for m in range(1, 6)), "pcatchall"]
        assert partition_rows(session)["p2026m02"] == 5
        again = rotate_plan_for(session, target(premake_months=2), "+00:00", today=D(2026, 3, 15))
        assert not again.plan
        run = session.query_dicts("SELECT job, status, statements, origin FROM sqlops_job_runs")
    assert run == [{"job": "partition-rotate", "status": "ok", "statements": 1, "origin": "cli"}]


def test_retention_archives_expired_months_into_tables(db) -> None:  # type: ignore[no-untyped-def]
    with db.connect() as session:
        create_log_table(session, trigger=True)  # a trigger on the table must not get in the way
        partition_like_migrate(session, "access_log", D(2025, 9, 1), D(2025, 9, 1), premake=3)
        insert_days(session, [D(2025, 9, 5), D(2025, 9, 30)], per_day=3)
        insert_days(session, [D(2025, 10, 1), D(2025, 12, 24)], per_day=2)
        # The decision to archive rests on exact counts, never on the server's estimate (0 for
        # full partitions right after migrate): the plan says which is which.
        reasons = [
            s.reason
            for s in rotate_plan_for(
                session, target(premake_months=1, retention_months=2), "+00:00", today=D(2026, 1, 10)
            ).plan.statements
        ]
        assert any("p2025m09" in r and "6 row(s) (exact)" in r for r in reasons), reasons
        assert any("p2025m10" in r and "2 row(s) (exact)" in r for r in reasons), reasons
        assert not any("~" in r for r in reasons), reasons
    outcome = run_rotate(db.settings(), target(premake_months=1, retention_months=2), today=D(2026, 1, 10))
    assert outcome.rotate_plan.archived == (
        ("p2025m09", "access_log_2025m09"),
        ("p2025m10", "access_log_2025m10"),
    )
    used = " ".join(outcome.executed)
    if db.flavour == "mariadb":  # MariaDB 10.11 has CONVERT PARTITION: a metadata move
        assert "CONVERT PARTITION `p2025m09` TO TABLE `access_log_2025m09`" in used and "EXCHANGE" not in used
    else:
        assert "EXCHANGE PARTITION `p2025m09` WITH TABLE `access_log_2025m09`" in used
        assert "REMOVE PARTITIONING" in used and "CONVERT" not in used
    with db.connect() as session:
        assert names(session) == ["pfirst", "p2025m11", "p2025m12", "p2026m01", "p2026m02", "pcatchall"]
        assert session.scalar("SELECT COUNT(*) FROM access_log_2025m09") == 6
        assert session.query("SELECT DISTINCT date_day FROM access_log_2025m10") == [(D(2025, 10, 1),)]
        assert session.scalar("SELECT COUNT(*) FROM access_log") == 2
        options = session.scalar(
            "SELECT CREATE_OPTIONS FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() "
            "AND TABLE_NAME = 'access_log_2025m09'"
        )
        assert "partitioned" not in (options or "").lower()
        assert not rotate_plan_for(
            session, target(premake_months=1, retention_months=2), "+00:00", today=D(2026, 1, 10)
        ).plan


def test_rotate_adopts_an_admins_own_layout(db) -> None:  # type: ignore[no-untyped-def]
    """The layout from the issue, named after each partition's upper bound (y2013m01 holds
    December 2012): rotate plans from bounds, not names, and carries on with pYYYYmMM months."""
    with db.connect() as session:
        create_log_table(session)
        session.execute(
            "ALTER TABLE access_log DROP PRIMARY KEY, ADD PRIMARY KEY (id, date_day) "
            "PARTITION BY RANGE (TO_DAYS(date_day)) ("
            "PARTITION y2013m01 VALUES LESS THAN (TO_DAYS('2013-01-01')), "
            "PARTITION y2013m02 VALUES LESS THAN (TO_DAYS('2013-02-01')), "
            "PARTITION pcatchall VALUES LESS THAN (MAXVALUE))"
        )
        insert_days(session, [D(2012, 12, 24), D(2013, 1, 15)])
    outcome = run_rotate(db.settings(), target(premake_months=1, retention_months=0), today=D(2013, 2, 10))
    assert outcome.rotate_plan.created == ("p2013m02", "p2013m03")
    # y2013m02 (January) is past retention (keep only the current month) and is archived under
    # its month's name; y2013m01 is the first partition and is never touched.
    assert outcome.rotate_plan.archived == (("y2013m02", "access_log_2013m01"),)
    with db.connect() as session:
        assert names(session) == ["y2013m01", "p2013m02", "p2013m03", "pcatchall"]
        assert session.query("SELECT date_day FROM access_log_2013m01") == [(D(2013, 1, 15),)]


def test_an_interrupted_exchange_is_finished_by_the_next_rotate(db) -> None:  # type: ignore[no-untyped-def]
    """A clone created (CREATE ... LIKE) but not yet exchanged: the next run reuses it."""
    with db.connect() as session:
        create_log_table(session)
        partition_like_migrate(session, "access_log", D(2025, 9, 1), D(2025, 12, 1), premake=1)
        insert_days(session, [D(2025, 9, 9)], per_day=4)
        session.execute("CREATE TABLE access_log_2025m09 LIKE access_log")  # still partitioned
    outcome = run_rotate(db.settings(), target(premake_months=1, retention_months=2), today=D(2025, 12, 2))
    assert outcome.executed == [
        "ALTER TABLE `access_log_2025m09` REMOVE PARTITIONING",
        "ALTER TABLE `access_log` EXCHANGE PARTITION `p2025m09` WITH TABLE `access_log_2025m09`",
        "ALTER TABLE `access_log` DROP PARTITION `p2025m09`",
    ]
    with db.connect() as session:
        assert session.scalar("SELECT COUNT(*) FROM access_log_2025m09") == 4
        assert session.scalar("SELECT COUNT(*) FROM access_log") == 0


def test_an_archive_name_holding_rows_is_a_problem_not_an_overwrite(db) -> None:  # type: ignore[no-untyped-def]
    with db.connect() as session:
        create_log_table(session)
        partition_like_migrate(session, "access_log", D(2025, 9, 1), D(2025, 12, 1), premake=1)
        insert_days(session, [D(2025, 9, 9)], per_day=2)
        session.execute("CREATE TABLE access_log_2025m09 (x INT)")
        session.execute("INSERT INTO access_log_2025m09 VALUES (1)")
    with pytest.raises(RotateIncomplete, match="access_log_2025m09 already exists and holds rows"):
        run_rotate(db.settings(), target(premake_months=1, retention_months=2), today=D(2025, 12, 2))
    with db.connect() as session:
        assert "p2025m09" in names(session) and partition_rows(session)["p2025m09"] == 2


def test_a_catchall_with_rows_fails_loudly_and_is_split_only_with_the_flag(db, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with db.connect() as session:
        today = session.scalar("SELECT UTC_DATE()")
        create_log_table(session)
        partition_like_migrate(session, "access_log", add_months(today, -2), add_months(today, -2), premake=0)
        # Rotations were missed: last month's and today's rows pile up in the catch-all.
        insert_days(session, [add_months(today, -1), today], per_day=3)
        assert partition_rows(session)["pcatchall"] == 6
    out = sqlops("--dsn", db.dsn, "partition", "rotate")
    assert out.returncode == 1, out.stderr
    assert "pcatchall holds 6 row(s)" in out.stderr and "--split-catchall" in out.stderr
    assert "Traceback" not in out.stderr
    assert "nothing to do" not in out.stdout and "needs a decision" in out.stdout, out.stdout
    check = sqlops("--dsn", db.dsn, "partition", "check")
    assert check.returncode == 2 and check.stdout.startswith("PARTITIONS CRITICAL - ")
    assert "pcatchall holds 6 row(s)" in check.stdout and "last rotate failed" in check.stdout
    with db.connect() as session:
        assert partition_rows(session)["pcatchall"] == 6  # nothing was split
        failed = session.query_dicts("SELECT status, error FROM sqlops_job_runs")
    assert failed[0]["status"] == "failed" and "pcatchall holds 6 row(s)" in failed[0]["error"]

    out = sqlops("--dsn", db.dsn, "partition", "rotate", "--split-catchall")
    assert out.returncode == 0, out.stderr
    assert "writes wait about 0.0 s" in out.stderr
    with db.connect() as session:
        rows = partition_rows(session)
        assert rows["pcatchall"] == 0
        assert rows[f"p{add_months(today, -1):%Ym%m}"] == 3 and rows[f"p{today:%Ym%m}"] == 3
    check = sqlops("--dsn", db.dsn, "partition", "check")
    assert check.returncode == 0, check.stdout


def test_expired_months_with_rows_are_dropped_only_when_allowed(db) -> None:  # type: ignore[no-untyped-def]
    with db.connect() as session:
        create_log_table(session)
        partition_like_migrate(session, "access_log", D(2025, 9, 1), D(2025, 12, 1), premake=1)
        insert_days(session, [D(2025, 9, 9), D(2025, 12, 1)], per_day=2)
    keep = target(premake_months=1, retention_months=1, archive=False)
    outcome = run_rotate(db.settings(), keep, today=D(2025, 12, 2))
    assert outcome.rotate_plan.dropped == ("p2025m10",)  # empty: dropping loses nothing
    assert any("allow_destructive = true" in n for n in outcome.rotate_plan.plan.notes)
    with db.connect() as session:
        assert partition_rows(session)["p2025m09"] == 2
    drop = target(premake_months=1, retention_months=1, archive=False, allow_destructive=True)
    outcome = run_rotate(db.settings(), drop, today=D(2025, 12, 2))
    assert outcome.rotate_plan.dropped == ("p2025m09",)
    with db.connect() as session:
        assert "p2025m09" not in names(session) and session.scalar("SELECT COUNT(*) FROM access_log") == 2
        assert not [r for r in session.query("SHOW TABLES") if r[0].startswith("access_log_")]


def test_a_second_run_waits_for_the_named_lock_and_exits_4_naming_the_holder(db) -> None:  # type: ignore[no-untyped-def]
    with db.connect() as session:
        create_log_table(session)
        partition_like_migrate(session, "access_log", D(2026, 1, 1), D(2026, 1, 1))
    holder = db.server.admin(db.name)
    with holder.cursor() as cur:
        cur.execute("SELECT GET_LOCK(%s, 0), CONNECTION_ID()", (f"sqlops:partition:{db.name}.access_log",))
        (got, holder_id) = cur.fetchone()
    assert got == 1
    try:
        out = sqlops("--dsn", db.dsn, "partition", "rotate")
    finally:
        holder.close()
    assert out.returncode == 4, out.stderr
    assert f"connection {holder_id}" in out.stderr and "Traceback" not in out.stderr


def test_partition_ddl_behind_an_open_transaction_gives_up_quickly_and_retries(db) -> None:  # type: ignore[no-untyped-def]
    """A long transaction holds a metadata lock on the table; rotate's ALTER must not queue the
    writer behind it for more than the short lock_wait_timeout, and it succeeds on a retry."""
    with db.connect() as session:
        create_log_table(session)
        partition_like_migrate(session, "access_log", D(2026, 1, 1), D(2026, 1, 1), premake=0)
    reader = db.server.admin(db.name)
    reader.begin()
    with reader.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM access_log")  # the open transaction holds a shared MDL
    waits: list[float] = []
    errors: list[str] = []
    stop = threading.Event()

    def write() -> None:
        conn = db.server.admin(db.name)
        while not stop.is_set():
            started = time.monotonic()
            try:
                with conn.cursor() as cur:
                    cur.execute("INSERT INTO access_log (date_day, http_url) VALUES ('2026-01-02', 'w')")
            except pymysql.MySQLError as exc:
                errors.append(repr(exc))
            waits.append(time.monotonic() - started)
            time.sleep(0.02)
        conn.close()

    writer = threading.Thread(target=write)
    writer.start()
    result: dict[str, object] = {}

    def rotate() -> None:
        try:
            result["outcome"] = run_rotate(
                db.settings(lock_wait_timeout=1), target(premake_months=2), today=D(2026, 1, 10)
            )
        except Exception as exc:  # pragma: no cover - reported below
            result["error"] = exc

    rotator = threading.Thread(target=rotate)
    rotator.start()
    time.sleep(2.5)  # at least one 1-second attempt times out (1205) and is retried
    reader.commit()
    reader.close()
    rotator.join(60)
    stop.set()
    writer.join(10)
    assert "error" not in result, result
    assert result["outcome"].rotate_plan.created == ("p2026m02", "p2026m03")  # type: ignore[attr-defined]
    assert errors == []
    # An insert waits at most one attempt's lock wait (database.ddl_lock_wait, see LockWait)
    # plus the ALTER's own run once it has the lock, never for the reader's whole transaction.
    ddl = max(e.seconds for e in result["outcome"].result.executed)  # type: ignore[attr-defined]
    assert max(waits) < 1.0 + ddl + 0.5, f"an insert waited {max(waits):.2f} s behind the ALTER ({ddl:.2f} s)"


# -- property: idempotence and gap-freedom on the real server


policies = st.builds(
    PartitionTableConfig,
    premake_months=st.integers(0, 3),
    retention_months=st.one_of(st.none(), st.integers(0, 4)),
    archive=st.booleans(),
    allow_destructive=st.booleans(),
)


@settings(
    max_examples=int(os.environ.get("SQLOPS_PROPERTY_EXAMPLES", "6")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    start=st.dates(min_value=D(2024, 1, 1), max_value=D(2026, 12, 31)),
    section=policies,
    steps=st.lists(st.tuples(st.integers(0, 120), st.integers(0, 3)), min_size=1, max_size=3),
)
def test_property_rotate_again_plans_nothing_and_the_layout_has_no_gaps(
    server, start: D, section: PartitionTableConfig, steps: list[tuple[int, int]]
) -> None:  # type: ignore[no-untyped-def]
    from sqlops.db import connect

    name = create_database(server, "sqlops_prop")
    settings_ = server.settings(name)
    (tgt,) = targets(Config(partitions={"access_log": section}))
    try:
        with connect(settings_) as session:
            create_log_table(session)
            partition_like_migrate(session, "access_log", start, start, premake=section.premake_months)
        today, written = start, 0
        for advance, per_day in steps:
            today += dt.timedelta(days=advance)
            with connect(settings_) as session:
                rp = rotate_plan_for(session, tgt, "+00:00", today=today, split_catchall=True)
                execute(session, rp.plan, allow_destructive=section.allow_destructive)
                again = rotate_plan_for(session, tgt, "+00:00", today=today, split_catchall=True)
                assert not again.plan, f"second plan on {today}: {[s.sql for s in again.plan.statements]}"
                state = inspect_partitions(session, "access_log", "date_day")
                cutoff = None
                if section.retention_months is not None:
                    cutoff = add_months(month_start(today), -section.retention_months)
                removed = section.archive or section.allow_destructive
                assert layout_violations(state, today, section.premake_months, cutoff, removed) == []
                written += insert_days(session, [today], per_day)
                assert partition_rows(session)["pcatchall"] == 0
                archived = sum(
                    session.scalar(f"SELECT COUNT(*) FROM `{t}`")
                    for (t,) in session.query("SHOW TABLES LIKE 'access\\_log\\_%'")
                )
                kept = session.scalar("SELECT COUNT(*) FROM access_log") + archived
                assert kept == written or (not section.archive and section.allow_destructive)
    finally:
        drop_database(server, name)


def test_status_json_lists_partitions_with_exact_emptiness(db) -> None:  # type: ignore[no-untyped-def]
    with db.connect() as session:
        today = session.scalar("SELECT UTC_DATE()")
        create_log_table(session)
        partition_like_migrate(session, "access_log", today, today, premake=2)
        insert_days(session, [today], per_day=2)
    assert sqlops("--dsn", db.dsn, "partition", "rotate").returncode == 0
    out = sqlops("--dsn", db.dsn, "partition", "status", "--format", "json")
    assert out.returncode == 0, out.stderr
    (report,) = json.loads(out.stdout)["tables"]
    current = f"p{today:%Ym%m}"
    by_name = {p["name"]: p for p in report["partitions"]}
    # migrate's layout had 2 months ahead; rotate (default premake_months = 3) added the third
    assert [p["kind"] for p in report["partitions"]] == [
        "first",
        "month",
        "month",
        "month",
        "month",
        "catchall",
    ]
    assert by_name[current]["empty"] is False and by_name["pfirst"]["empty"] is True
    assert report["catchall"]["empty"] is True and report["catchall"]["since"] == str(add_months(today, 4))
    assert report["headroom_days"] == (add_months(today, 4) - today).days
    assert report["last_rotate"]["status"] == "ok" and report["policy"]["premake_months"] == 3
    text = sqlops("--dsn", db.dsn, "partition", "status")
    assert f"headroom: {report['headroom_days']} day(s)" in text.stdout and "last rotate: ok" in text.stdout


def test_rotate_status_and_check_work_with_a_named_zone_without_the_servers_zone_tables(
    db, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """Rotate needs only dates, computed with zoneinfo: no zone tables on the server needed."""
    with db.connect() as session:
        today = session.scalar("SELECT UTC_DATE()")
        create_log_table(session)
        partition_like_migrate(session, "access_log", add_months(today, -1), add_months(today, -1), premake=0)
    config = tmp_path / "sqlops.toml"
    config.write_text('[database]\ntime_zone = "Pacific/Kiritimati"\n')
    dry = sqlops("--dsn", db.dsn, "partition", "rotate", "--dry-run", config=config)
    assert dry.returncode == 0, dry.stderr
    assert "REORGANIZE PARTITION `pcatchall`" in dry.stdout
    out = sqlops("--dsn", db.dsn, "partition", "rotate", config=config)
    assert out.returncode == 0, out.stderr
    status = sqlops("--dsn", db.dsn, "partition", "status", "--format", "json", config=config)
    assert status.returncode == 0, status.stderr
    report = json.loads(status.stdout)["tables"][0]
    assert report["time_zone"] == "Pacific/Kiritimati" and report["headroom_days"] > 0
    check = sqlops("--dsn", db.dsn, "partition", "check", config=config)
    assert check.returncode == 0, check.stdout + check.stderr


def test_rotate_tables_goes_on_after_a_failed_table_and_skips_a_locked_one(db) -> None:  # type: ignore[no-untyped-def]
    """The one multi-table policy the CLI and the scheduler share."""
    import dataclasses

    from sqlops.db import named_lock
    from sqlops.partitions.rotate import partition_lock, rotate_tables

    with db.connect() as session:
        create_log_table(session)
        partition_like_migrate(session, "access_log", D(2025, 10, 1), D(2025, 12, 1), premake=1)
    sections = {"access_log": PartitionTableConfig(premake_months=1), "a_missing": PartitionTableConfig()}
    config = dataclasses.replace(Config(), database=db.settings(), partitions=sections)
    run = rotate_tables(config)
    by = {t.table: t for t in run.tables}
    assert [t.table for t in run.tables] == ["a_missing", "access_log"]  # the failure came first
    assert by["a_missing"].failed and "does not exist" in by["a_missing"].error.what  # type: ignore[union-attr]
    assert by["access_log"].error is None and by["access_log"].outcome is not None
    assert run.failed == 1 and run.exit_code == 1
    with db.connect() as session, named_lock(session, partition_lock(session, "access_log")):
        locked = rotate_tables(config, targets(config, "access_log"))
    (entry,) = locked.tables
    assert entry.skipped and not entry.failed and locked.failed == 0 and locked.exit_code == 4
