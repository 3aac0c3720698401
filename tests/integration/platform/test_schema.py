"""`schema init`, `schema status` and `schema upgrade` on real servers of both flavours."""

from __future__ import annotations

import datetime as dt
import subprocess
import time

import pytest
from support.legacy import LegacyWriter, create_with_log_db_daemon, grow

from sqlops.db import connect
from sqlops.jobruns import recent_runs
from sqlops.plan import execute, render
from sqlops.schema.init import plan_init
from sqlops.schema.inspect import existing_tables, inspect_table
from sqlops.schema.status import inspect_status
from sqlops.schema.upgrade import analyse_upgrade, run_upgrade, upgrade_plan

ZONE = "+03:00"  # not UTC on purpose: the day of an epoch depends on it


def _init_plan(session, database: str):  # type: ignore[no-untyped-def]
    return plan_init(
        "access_log",
        database=database,
        existing=existing_tables(session),
        flavour=session.info.flavour,
        date_day_trigger_on=True,
        time_zone=ZONE,
    )


def test_init_creates_tables_and_is_idempotent(db) -> None:  # type: ignore[no-untyped-def]
    with db.connect() as session:
        execute(session, _init_plan(session, db.name))
        assert {"access_log", "sqlops_job_runs", "sqlops_online_copy"} <= existing_tables(session)
        status = inspect_status(session, "access_log", want_trigger=True)
        assert status.up_to_date, status.as_text()
        assert not _init_plan(session, db.name)


def test_table_fits_real_traffic(db) -> None:  # type: ignore[no-untyped-def]
    with db.connect(time_zone=ZONE) as session:
        execute(session, _init_plan(session, db.name))
        session.execute(
            "INSERT INTO access_log (time_since_epoch, ip_client, http_reply_size, http_mime_type, "
            "http_username, squid_request_status, http_url) VALUES (%s, %s, %s, %s, %s, %s, %s)",
            (
                1764543600.123,
                "::ffff:192.168.100.200",
                3 * 2**30,
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                "u" * 40,
                "TIMEOUT_FIRSTUP_PARENT",
                "http://example.com/" + "x" * 70000,
            ),
        )
        row = session.query("SELECT ip_client, http_reply_size, date_day, LENGTH(http_url) FROM access_log")[
            0
        ]
        # 1764543600 is 2025-11-30 23:00 UTC, so already Dec 1st at +03:00 (set by the trigger).
        assert row == ("::ffff:192.168.100.200", 3 * 2**30, dt.date(2025, 12, 1), 70019)


def test_dry_run_script_runs_in_the_mysql_client(db) -> None:  # type: ignore[no-untyped-def]
    """The rendered plan is a script a DBA can pipe into the client as it is."""
    plan = plan_init(
        "access_log", database=db.name, existing=None, flavour=None, date_day_trigger_on=True, time_zone=ZONE
    )
    script = render(plan)
    out = subprocess.run(
        ["mysql", "-h", db.server.host, "-P", str(db.server.port), "-u", db.server.user, db.name],
        input=script.encode(),
        capture_output=True,
    )
    assert out.returncode == 0, out.stderr.decode()
    tables = {r[0] for r in db.sql("SHOW TABLES")}
    assert {"access_log", "sqlops_job_runs", "sqlops_online_copy"} <= tables
    triggers = {r[0] for r in db.sql("SHOW TRIGGERS")}
    assert "access_log_sqlops_date_day" in triggers


def _legacy_table(db, rows: int) -> int:  # type: ignore[no-untyped-def]
    # Epochs around midnight at +03:00 (21:00 UTC) so that the zone matters.
    epochs = [1_764_536_400 + d * 86400 + s for d in range(5) for s in (-1, 0, 1)]
    create_with_log_db_daemon(db.server, db.name, "access_log", epochs)
    return grow(db.server, db.name, "access_log", rows)


def test_status_reports_a_log_db_daemon_table(db) -> None:  # type: ignore[no-untyped-def]
    _legacy_table(db, 20)
    with db.connect() as session:
        report = inspect_status(session, "access_log").as_dict()
    columns = {c["name"]: c for c in report["table"]["columns"]}
    assert report["up_to_date"] is False
    assert columns["id"]["verdict"] == "narrower"
    assert columns["ip_client"]["current"] == "char(15)"
    assert columns["date_day"]["verdict"] == "missing"
    assert columns["time_since_epoch"]["verdict"] == "ok"
    assert any("schema upgrade" in line for line in report["advice"])


def test_upgrade_refuses_rows_without_epoch_unless_given_a_day(db) -> None:  # type: ignore[no-untyped-def]
    _legacy_table(db, 10)
    db.sql("INSERT INTO access_log (http_url) VALUES ('http://no-epoch/')")
    with db.connect(time_zone=ZONE) as session:
        analysis = analyse_upgrade(session, "access_log")
        assert analysis.null_epoch_rows == 1
        with pytest.raises(Exception, match=r"1 row.*no time_since_epoch"):
            run_upgrade(session, analysis, zone=ZONE, default_day=None, keep_old=False)
        outcome = run_upgrade(session, analysis, zone=ZONE, default_day=dt.date(2001, 2, 3), keep_old=False)
        assert outcome.action == "online-copy"
    assert db.sql("SELECT date_day FROM access_log WHERE time_since_epoch IS NULL") == [
        (dt.date(2001, 2, 3),)
    ]


def test_upgrade_of_a_log_db_daemon_table_under_a_concurrent_writer(db) -> None:  # type: ignore[no-untyped-def]
    """The issue's acceptance test: >= 100k rows, every row kept, date_day right in a non-UTC
    zone, and a writer inserting the whole time without a single error."""
    before = _legacy_table(db, 100_000)
    assert before >= 100_000
    max_id_before = db.sql("SELECT MAX(id) FROM access_log")[0][0]
    writer = LegacyWriter(db.server, db.name, "access_log", rate=150).start()
    time.sleep(1.0)
    try:
        with connect(db.settings(time_zone=ZONE), maintenance=True) as session:
            analysis = analyse_upgrade(session, "access_log")
            outcome = run_upgrade(session, analysis, zone=ZONE, default_day=None, keep_old=False)
        time.sleep(1.0)  # keep writing after the swap too: the trigger must fill date_day
    finally:
        writer.stop()
    assert writer.errors == []
    assert writer.inserted > 100
    assert outcome.action == "online-copy" and outcome.verified_rows >= before
    total, distinct_ids = db.sql("SELECT COUNT(*), COUNT(DISTINCT id) FROM access_log")[0]
    assert total == before + writer.inserted == distinct_ids
    assert db.sql("SELECT COUNT(*) FROM access_log WHERE id <= %s", (max_id_before,))[0][0] == before
    conn = db.server.admin(db.name)
    with conn.cursor() as cur:
        cur.execute("SET time_zone = %s", (ZONE,))
        cur.execute("SELECT COUNT(*) FROM access_log WHERE date_day <> DATE(FROM_UNIXTIME(time_since_epoch))")
        assert cur.fetchone()[0] == 0
        cur.execute("SELECT COUNT(DISTINCT date_day) FROM access_log")
        assert cur.fetchone()[0] > 5
    conn.close()
    with db.connect() as session:
        live = inspect_table(session, "access_log")
        assert live is not None
        assert live.column("id").type == "bigint unsigned"  # type: ignore[union-attr]
        assert live.column("ip_client").type == "varchar(255)"  # type: ignore[union-attr]
        assert inspect_status(session, "access_log").analysis.up_to_date  # type: ignore[union-attr]
        assert {r[0] for r in session.query("SHOW TABLES")} == {"access_log", "sqlops_online_copy"}
    # IPv6 clients now fit, which the old CHAR(15) rejected.
    db.sql(
        "INSERT INTO access_log (time_since_epoch, ip_client) VALUES (1764543600, '::ffff:192.168.100.200')"
    )


def test_upgrade_is_recorded_and_second_run_does_nothing(db) -> None:  # type: ignore[no-untyped-def]
    from click.testing import CliRunner

    from sqlops.cli.app import cli

    _legacy_table(db, 50)
    runner = CliRunner()
    args = ["--dsn", db.dsn, "schema", "upgrade"]
    first = runner.invoke(cli, args, env={"SQLOPS_DATABASE_TIME_ZONE": ZONE})
    assert first.exit_code == 0, first.output
    assert "online-copy" in first.output
    second = runner.invoke(cli, args, env={"SQLOPS_DATABASE_TIME_ZONE": ZONE})
    assert second.exit_code == 0 and "up to date" in second.output
    with db.connect() as session:
        runs = recent_runs(session, job="schema-upgrade")
    assert [r["status"] for r in runs] == ["ok"]
    assert runs[0]["target"] == f"{db.name}.access_log" and runs[0]["statements"] > 5


def test_dry_run_of_upgrade_changes_nothing(db) -> None:  # type: ignore[no-untyped-def]
    _legacy_table(db, 10)
    with db.connect() as session:
        plan = upgrade_plan(
            session, analyse_upgrade(session, "access_log"), zone=ZONE, default_day=None, keep_old=False
        )
        text = render(plan)
    assert "RENAME TABLE `access_log` TO `_access_log_sqlops_old`" in text
    assert {r[0] for r in db.sql("SHOW TABLES")} == {"access_log"}
    assert db.sql("SHOW TRIGGERS") == []


def test_upgrade_dry_run_is_what_the_upgrade_sends(db) -> None:  # type: ignore[no-untyped-def]
    from support.scripts import normal, statements_in

    from sqlops.schema.upgrade import upgrade_table

    _legacy_table(db, 40)
    env = {"SQLOPS_DATABASE_TIME_ZONE": ZONE}
    from click.testing import CliRunner

    from sqlops.cli.app import cli

    dry = CliRunner().invoke(cli, ["--dsn", db.dsn, "schema", "upgrade", "--dry-run"], env=env)
    assert dry.exit_code == 0, dry.output
    settings = db.settings(time_zone=ZONE)
    outcome = upgrade_table(settings, "access_log")
    assert outcome.action == "online-copy" and outcome.target == f"{db.name}.access_log"
    assert statements_in(dry.output) == [normal(s) for s in outcome.statements]
    kinds = [s.split(" ", 2)[:2] for s in outcome.statements]
    assert ["RENAME", "TABLE"] in kinds and ["INSERT", "INTO"] in kinds  # swap and chunked copy
    assert upgrade_table(settings, "access_log").summary() == f"{db.name}.access_log is up to date"


def test_model_triggers_carry_their_bodies_in_firing_order(db) -> None:  # type: ignore[no-untyped-def]
    """The online copy re-creates a table's own triggers from the model: body, timing, event,
    and the firing order (ACTION_ORDER) when two share a timing and event, whatever the names."""
    db.sql("CREATE TABLE trig (id INT PRIMARY KEY, a INT, b INT)")
    db.sql("CREATE TRIGGER z_first BEFORE INSERT ON trig FOR EACH ROW SET NEW.a = 1")
    db.sql("CREATE TRIGGER a_second BEFORE INSERT ON trig FOR EACH ROW FOLLOWS z_first SET NEW.b = NEW.a + 1")
    db.sql("CREATE TRIGGER m_update AFTER UPDATE ON trig FOR EACH ROW SET @seen = OLD.id")
    with db.connect() as session:
        live = inspect_table(session, "trig")
    assert live is not None
    inserts = [(t.name, t.timing, t.event, t.statement) for t in live.triggers if t.event == "INSERT"]
    assert inserts == [
        ("z_first", "BEFORE", "INSERT", "SET NEW.a = 1"),
        ("a_second", "BEFORE", "INSERT", "SET NEW.b = NEW.a + 1"),
    ]
    (update,) = (t for t in live.triggers if t.event == "UPDATE")
    assert (update.name, update.timing, update.statement) == ("m_update", "AFTER", "SET @seen = OLD.id")
