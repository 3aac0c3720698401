"""`partition migrate` against real servers: the online PK rewrite + partitioning under a
concurrent writer (no insert may fail), resume after a crash, --abort, the one-ALTER method,
the refusals, and a table other than access_log with a DATETIME column."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.legacy import LegacyWriter
from support.logtable import create_log_table, insert_days, partition_rows
from support.scripts import normal, statements_in

from sqlops.config import Config, PartitionTableConfig
from sqlops.errors import PreconditionError
from sqlops.online.copy import read_state
from sqlops.partitions.inspect import inspect_partitions
from sqlops.partitions.migrate import analyse_migrate, migrate_table, run_migrate
from sqlops.partitions.rotate import Target, run_rotate, targets
from sqlops.schema.inspect import inspect_table

D = dt.date
ENV = {**os.environ, "HOME": "/nonexistent", "SQLOPS_CONFIG": ""}


def sqlops(*args: str, config: Path | None = None) -> subprocess.CompletedProcess[str]:
    pre = ["--config", str(config)] if config else []
    return subprocess.run(
        [sys.executable, "-m", "sqlops", *pre, *args], capture_output=True, text=True, env=ENV
    )


def target(table: str = "access_log", **policy: object) -> Target:
    (t,) = targets(Config(partitions={table: PartitionTableConfig(**policy)}))  # type: ignore[arg-type]
    return t


def spread(session, rows_per_day: int = 20) -> int:  # type: ignore[no-untyped-def]
    """Rows on days over five months, some near month ends."""
    days = [D(2025, 8, 1) + dt.timedelta(days=d) for d in range(0, 150, 3)] + [
        D(2025, 10, 31),
        D(2025, 11, 30),
    ]
    return insert_days(session, days, per_day=rows_per_day)


def test_online_migrate_under_a_concurrent_writer_loses_nothing_and_fails_no_insert(db) -> None:  # type: ignore[no-untyped-def]
    with db.connect() as session:
        # The date_day trigger fills date_day for writers that do not send it (log_db_daemon).
        create_log_table(session, trigger=True)
        before = spread(session, rows_per_day=600)  # ~31k rows: the copy takes a few seconds
        today = session.scalar("SELECT UTC_DATE()")
    writer = LegacyWriter(db.server, db.name, "access_log", rate=200).start()

    def slow(progress) -> None:  # type: ignore[no-untyped-def]
        time.sleep(0.4)  # between chunks (no locks held): stretch the copy so the writer overlaps it

    try:
        outcome = migrate_table(db.settings(), target(), method="online", progress=slow)
    finally:
        writer.stop()
    assert writer.errors == [], writer.errors[:3]
    assert writer.inserted > 0
    # The copy took the rows up to MAX(id) read once the triggers existed (some of the writer's
    # among them); the triggers mirrored the rest.
    assert outcome.action == "online-copy" and before <= outcome.rows_copied < before + writer.inserted
    assert outcome.seconds > 1, "the copy was too short to overlap the writer"
    # Generous bound for a shared CI machine; the benchmark measures the real figure.
    assert writer.max_wait < 2.0, f"an insert waited {writer.max_wait:.2f} s"
    with db.connect() as session:
        live = inspect_table(session, "access_log")
        assert live.primary_key == ("id", "date_day") and live.partitioned
        assert session.scalar("SELECT COUNT(*) FROM access_log") == before + writer.inserted
        assert session.scalar("SELECT COUNT(*) FROM access_log WHERE date_day IS NULL") == 0
        # The trigger moved to the new table (under its alternate name) and still fills date_day.
        assert [t[0] for t in live.triggers] == ["access_log_sqlops_date_day_b"]
        session.execute("INSERT INTO access_log (time_since_epoch, http_url) VALUES (1764547200, 'after')")
        assert session.scalar("SELECT date_day FROM access_log WHERE http_url = 'after'") == D(2025, 12, 1)
        state = inspect_partitions(session, "access_log", "date_day")
        names = [p.name for p in state.partitions]
        months_ahead = f"p{D(today.year + (today.month + 2) // 12, (today.month + 2) % 12 + 1, 1):%Ym%m}"
        assert names[0] == "pfirst" and names[1] == "p2025m08" and names[-1] == "pcatchall"
        assert months_ahead in names  # three months premade after today's
        rows = partition_rows(session)
        assert rows["pfirst"] == 0 and rows["pcatchall"] == 0
        assert [r[0] for r in session.query("SHOW TABLES") if not r[0].startswith("sqlops_")] == [
            "access_log"
        ]
        run = session.query_dicts("SELECT job, status FROM sqlops_job_runs")
    assert run == [{"job": "partition-migrate", "status": "ok"}]
    # Partitioned by month now: a second migrate has nothing to do, rotate keeps it current.
    assert migrate_table(db.settings(), target(), method="online").action == "none"
    assert not run_rotate(db.settings(), target()).executed


class Crash(Exception):
    pass


def crash_mid_copy(db, today: D, premake: int) -> None:  # type: ignore[no-untyped-def]
    """Start an online migrate planned on `today` and kill it after the first chunks."""

    def crash(progress) -> None:  # type: ignore[no-untyped-def]
        if progress.copied_up_to >= 2000:
            raise Crash

    with db.connect() as session, pytest.raises(Crash):
        analysis = analyse_migrate(session, "access_log", "date_day")
        run_migrate(session, analysis, method="online", today=today, premake_months=premake, progress=crash)


def test_a_crashed_online_migrate_resumes_with_the_same_layout(db) -> None:  # type: ignore[no-untyped-def]
    with db.connect() as session:
        create_log_table(session)
        before = spread(session, rows_per_day=100)
    # The first run planned its months for a day long ago; the resume must keep them.
    crash_mid_copy(db, D(2025, 12, 15), premake=1)
    with db.connect() as session:
        state = read_state(session, "access_log")
        assert state is not None and state.job == "partition-migrate" and state.phase == "copying"
        session.execute("INSERT INTO access_log (date_day, http_url) VALUES ('2025-09-09', 'during')")
    out = sqlops("--dsn", db.dsn, "partition", "status")
    assert "unfinished partition-migrate" in out.stdout
    dry = sqlops("--dsn", db.dsn, "partition", "migrate", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    outcome = migrate_table(db.settings(), target(), method="online")
    assert outcome.resumed and outcome.rows_copied == before
    # The resume's script leaves out the steps done (no CREATE TABLE of the shadow) and is what ran.
    assert statements_in(dry.stdout) == [normal(s) for s in outcome.statements]
    assert not any(s.startswith("CREATE TABLE `_access_log_sqlops_new`") for s in outcome.statements)
    assert outcome.statements[0].startswith("SET @sqlops_low = ")
    with db.connect() as session:
        names = [p.name for p in inspect_partitions(session, "access_log", "date_day").partitions]
        assert names[-3:] == ["p2025m12", "p2026m01", "pcatchall"]  # the first run's layout
        assert session.scalar("SELECT COUNT(*) FROM access_log") == before + 1
        assert read_state(session, "access_log") is None


KILLED_MIGRATE = """
import pathlib, sys, time
from sqlops.config import Config, DatabaseConfig
from sqlops.partitions.migrate import migrate_table
from sqlops.partitions.rotate import targets

host, port, user, password, database, marker = sys.argv[1:]
settings = DatabaseConfig(host=host, port=int(port), user=user, password=password or None, database=database)

def stall(progress):
    pathlib.Path(marker).write_text("copying")
    time.sleep(600)

(target,) = targets(Config(), "access_log")
migrate_table(settings, target, progress=stall)
"""


def test_a_migrate_killed_with_9_is_recorded_as_died_and_its_resume_links_to_it(db, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import signal

    from sqlops.jobruns import recent_runs

    with db.connect() as session:
        create_log_table(session)
        spread(session, rows_per_day=60)
    marker = tmp_path / "copying"
    s = db.settings()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            KILLED_MIGRATE,
            s.host,
            str(s.port),
            s.user or "",
            s.password or "",
            db.name,
            str(marker),
        ],
        env=ENV,
    )
    try:
        for _ in range(300):
            if marker.exists() or proc.poll() is not None:
                break
            time.sleep(0.1)
        assert marker.exists(), "the migrate never reached its copy"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    time.sleep(0.5)  # the server notices the closed connection
    with db.connect() as session:
        (run,) = recent_runs(session, job="partition-migrate", create=False)
        assert run["status"] == "died" and f"connection {run['connection_id']} is gone" in run["error"]
    out = sqlops("--dsn", db.dsn, "jobs", "--failed", "--format", "json")
    assert out.returncode == 0 and '"died"' in out.stdout, out.stdout + out.stderr
    outcome = migrate_table(db.settings(), target(), method="online")
    assert outcome.resumed
    with db.connect() as session:
        rows = session.query_dicts("SELECT id, status, resumes FROM sqlops_job_runs ORDER BY id")
    assert [(r["status"], r["resumes"]) for r in rows] == [("died", None), ("ok", rows[0]["id"])]


def test_abort_undoes_an_unfinished_migrate_and_leaves_the_table_untouched(db) -> None:  # type: ignore[no-untyped-def]
    with db.connect() as session:
        create_log_table(session, trigger=True)
        before = spread(session, rows_per_day=100)
    crash_mid_copy(db, D(2026, 1, 1), premake=3)
    dry = sqlops("--dsn", db.dsn, "partition", "migrate", "--abort", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "DROP TRIGGER IF EXISTS `access_log_sqlops_copy_ins`" in dry.stdout
    assert "DROP TABLE IF EXISTS `_access_log_sqlops_new`" in dry.stdout
    assert "CREATE TABLE" not in dry.stdout and "RENAME" not in dry.stdout  # not the migrate plan
    out = sqlops("--dsn", db.dsn, "partition", "migrate", "--abort")
    assert out.returncode == 0, out.stderr
    assert "aborted: 4 statement(s)" in out.stdout
    again = sqlops("--dsn", db.dsn, "partition", "migrate", "--abort")
    assert again.returncode == 0, again.stderr
    assert "nothing to abort" in again.stdout and "statement(s)" not in again.stdout
    dry = sqlops("--dsn", db.dsn, "partition", "migrate", "--abort", "--dry-run")
    assert "nothing to abort" in dry.stdout and "DROP" not in dry.stdout
    with db.connect() as session:  # every run is recorded, aborts too
        runs = session.query_dicts("SELECT status, statements, summary FROM sqlops_job_runs ORDER BY id")
    aborts = [r for r in runs if '"aborted"' in (r["summary"] or "")]
    assert [(r["status"], r["statements"]) for r in aborts] == [("ok", 4), ("ok", 0)], runs
    with db.connect() as session:
        live = inspect_table(session, "access_log")
        assert live.primary_key == ("id",) and not live.partitioned
        assert [t[0] for t in live.triggers] == ["access_log_sqlops_date_day"]
        assert session.scalar("SELECT COUNT(*) FROM access_log") == before
        assert "_access_log_sqlops_new" not in {r[0] for r in session.query("SHOW TABLES")}
        assert read_state(session, "access_log") is None


def test_alter_method_prints_the_expected_lock_time_first(db) -> None:  # type: ignore[no-untyped-def]
    with db.connect() as session:
        create_log_table(session, trigger=True)
        spread(session)
    dry = sqlops("--dsn", db.dsn, "partition", "migrate", "--method", "alter", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "ALTER TABLE `access_log` DROP PRIMARY KEY, ADD PRIMARY KEY (`id`, `date_day`)" in dry.stdout
    assert "PARTITION BY RANGE (TO_DAYS(`date_day`))" in dry.stdout and "every write waits" in dry.stdout
    with db.connect() as session:
        assert not inspect_table(session, "access_log").partitioned  # the dry run changed nothing
    out = sqlops("--dsn", db.dsn, "partition", "migrate", "--method", "alter")
    assert out.returncode == 0, out.stderr
    assert "every write to it waits until it finishes, expected about" in out.stderr
    assert out.stderr.index("expected about") < out.stderr.index("ALTER TABLE `access_log` DROP PRIMARY KEY")
    with db.connect() as session:
        live = inspect_table(session, "access_log")
        assert live.partitioned and live.primary_key == ("id", "date_day")
        assert [t[0] for t in live.triggers] == ["access_log_sqlops_date_day"]  # ALTER keeps it


def test_online_dry_run_is_a_reviewable_script(db) -> None:  # type: ignore[no-untyped-def]
    with db.connect() as session:
        create_log_table(session, trigger=True)
        spread(session)
    out = sqlops("--dsn", db.dsn, "partition", "migrate", "--dry-run")
    assert out.returncode == 0, out.stderr
    script = out.stdout
    for needle in (
        "CREATE TABLE `_access_log_sqlops_new` LIKE `access_log`;",
        "ALTER TABLE `_access_log_sqlops_new` DROP PRIMARY KEY, ADD PRIMARY KEY (`id`, `date_day`);",
        "PARTITION `pfirst` VALUES LESS THAN (TO_DAYS('2025-08-01')),",
        "PARTITION `pcatchall` VALUES LESS THAN MAXVALUE",
        "CREATE TRIGGER `access_log_sqlops_date_day_b` BEFORE INSERT ON `_access_log_sqlops_new`",
        "RENAME TABLE `access_log` TO `_access_log_sqlops_old`, `_access_log_sqlops_new` TO `access_log`;",
    ):
        assert needle in script, needle
    with db.connect() as session:
        assert [r[0] for r in session.query("SHOW TABLES") if not r[0].startswith("sqlops_")] == [
            "access_log"
        ]
        assert read_state(session, "access_log") is None
    outcome = migrate_table(db.settings(), target(), method="online")
    assert outcome.action == "online-copy"
    assert statements_in(script) == [normal(s) for s in outcome.statements]  # the script is what ran


def test_refusals_say_what_is_wrong_and_how_to_fix_it(db) -> None:  # type: ignore[no-untyped-def]
    db.sql("CREATE TABLE legacy (id INT NOT NULL AUTO_INCREMENT PRIMARY KEY, time_since_epoch DECIMAL(15,3))")
    out = sqlops("--dsn", db.dsn, "partition", "migrate", "--table", "legacy")
    assert out.returncode == 1 and "has no column 'date_day'" in out.stderr
    assert "sqlops schema upgrade" in out.stderr and "Traceback" not in out.stderr

    db.sql("CREATE TABLE nulls (id INT NOT NULL AUTO_INCREMENT PRIMARY KEY, date_day DATE NULL)")
    db.sql("INSERT INTO nulls (date_day) VALUES ('2026-01-01'), (NULL), (NULL)")
    with (
        db.connect() as session,
        pytest.raises(PreconditionError, match="2 row\\(s\\) of nulls have no usable date_day") as err,
    ):
        run_migrate(
            session,
            analyse_migrate(session, "nulls", "date_day"),
            method="online",
            today=D(2026, 1, 1),
            premake_months=1,
        )
    assert "UPDATE `nulls` SET `date_day`" in str(err.value)

    db.sql(
        "CREATE TABLE uniq (id INT NOT NULL AUTO_INCREMENT PRIMARY KEY, date_day DATE NOT NULL, u INT, UNIQUE KEY uk_u (u))"
    )
    with (
        db.connect() as session,
        pytest.raises(PreconditionError, match="unique key\\(s\\) without date_day: uk_u"),
    ):
        run_migrate(
            session,
            analyse_migrate(session, "uniq", "date_day"),
            method="alter",
            today=D(2026, 1, 1),
            premake_months=1,
        )

    db.sql(
        "CREATE TABLE stamps (id INT NOT NULL AUTO_INCREMENT PRIMARY KEY, ts TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP)"
    )
    with db.connect() as session, pytest.raises(PreconditionError, match="DATE or DATETIME"):
        run_migrate(
            session,
            analyse_migrate(session, "stamps", "ts"),
            method="alter",
            today=D(2026, 1, 1),
            premake_months=1,
        )


def test_any_configured_table_with_a_datetime_column(db, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    db.sql(
        "CREATE TABLE events (id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY, "
        "created DATETIME NOT NULL, what VARCHAR(20), KEY (created))"
    )
    db.sql(
        "INSERT INTO events (created, what) VALUES ('2026-01-31 23:59:59', 'a'), ('2026-02-01 00:00:00', 'b')"
    )
    config = tmp_path / "sqlops.toml"
    config.write_text('[partitions.events]\ncolumn = "created"\npremake_months = 1\nretention_months = 0\n')
    out = sqlops("--dsn", db.dsn, "partition", "migrate", "--table", "events", config=config)
    assert out.returncode == 0, out.stderr
    with db.connect() as session:
        rows = partition_rows(session, "events")
        assert rows["p2026m01"] == 1 and rows["p2026m02"] == 1 and rows["pfirst"] == 0
    # Without --table, rotate works on the configured tables: retention 0 archives every past month.
    out = sqlops("--dsn", db.dsn, "partition", "rotate", config=config)
    assert out.returncode == 0, out.stderr
    assert "archived p2026m01 -> events_2026m01, p2026m02 -> events_2026m02" in out.stdout
    with db.connect() as session:
        assert session.query("SELECT what FROM events_2026m02") == [("b",)]


def test_a_table_without_the_date_column_is_pointed_at_schema_upgrade_only_when_it_is_a_squid_table(
    db,
) -> None:  # type: ignore[no-untyped-def]
    db.sql("CREATE TABLE plain (id INT AUTO_INCREMENT PRIMARY KEY, x INT)")
    db.sql("CREATE TABLE events (id INT AUTO_INCREMENT PRIMARY KEY, created DATETIME NOT NULL)")
    db.sql("CREATE TABLE squidlog (id INT AUTO_INCREMENT PRIMARY KEY, time_since_epoch DECIMAL(15,3))")
    out = sqlops("--dsn", db.dsn, "partition", "migrate", "--table", "plain")
    assert out.returncode == 1 and "has no column 'date_day'" in out.stderr, out.stderr
    assert "schema upgrade" not in out.stderr and "add a DATE column to plain" in out.stderr
    out = sqlops("--dsn", db.dsn, "partition", "migrate", "--table", "events")
    assert "schema upgrade" not in out.stderr and "column = 'created'" in out.stderr, out.stderr
    out = sqlops("--dsn", db.dsn, "partition", "migrate", "--table", "squidlog")
    assert "sqlops schema upgrade --table squidlog" in out.stderr, out.stderr
