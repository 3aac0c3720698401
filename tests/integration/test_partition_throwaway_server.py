"""Tests that need a server of their own: month boundaries in a named zone with DST
(Europe/Berlin), and the privileges README documents for the maintenance and monitoring users.

The shared servers have no time-zone tables (and must keep it that way: another test asserts
the clear error when they are missing) and must not collect test users, so this module starts
one throwaway server per flavour and loads only Europe/Berlin into it with that flavour's own
mysql_tzinfo_to_sql.

Decision: "today" is computed in Python (zoneinfo) from the server's UTC clock, so rotate
needs no zone tables; date_day is computed by the server (the BEFORE INSERT trigger's
CONVERT_TZ). These tests check that both agree at the DST-shifted month boundaries and that a
row written just after local midnight on the 1st lands in the new month's partition, which
rotate premade because *its* today was already the 1st.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
from collections.abc import Iterator

import pytest
from support.logtable import create_log_table, partition_like_migrate, partition_rows
from support.servers import ServerHandle, ServerUnavailable, create_database, start_private

from sqlops.config import Config, PartitionTableConfig
from sqlops.db import connect
from sqlops.partitions.inspect import server_today
from sqlops.partitions.months import today_in_zone
from sqlops.partitions.rotate import run_rotate, targets
from sqlops.timezones import local_date_of_epoch

ZONE = "Europe/Berlin"
FLAVOURS = [f for f in os.environ.get("SQLOPS_TEST_FLAVOURS", "mariadb,mysql").split(",") if f]


def _load_zone(handle: ServerHandle) -> None:
    # The server's own mysql_tzinfo_to_sql, where its binaries are (container, chroot or host).
    if handle.flavour == "mariadb":
        sql_bytes = handle.tool(["mariadb-tzinfo-to-sql", f"/usr/share/zoneinfo/{ZONE}", ZONE])
        subprocess.run(
            ["mariadb", "--protocol=tcp", "-h", handle.host, "-P", str(handle.port), "-u", handle.user]
            + ([f"--password={handle.password}"] if handle.password else [])
            + ["mysql"],
            input=sql_bytes,
            check=True,
            capture_output=True,
        )
        return
    sql = handle.tool(["mysql_tzinfo_to_sql", f"/usr/share/zoneinfo/{ZONE}", ZONE]).decode()
    conn = handle.admin("mysql")
    try:
        with conn.cursor() as cur:
            for statement in sql.split(";\n"):
                if statement.strip():
                    cur.execute(statement)
    finally:
        conn.close()


@pytest.fixture(scope="module", params=FLAVOURS)
def tz_server(request: pytest.FixtureRequest) -> Iterator[ServerHandle]:
    try:
        handle = start_private(request.param, purpose="time zones, grants")
    except ServerUnavailable as exc:
        pytest.fail(
            f"cannot start a throwaway {request.param} server for the DST tests: {exc}", pytrace=False
        )
    try:
        _load_zone(handle)
        yield handle
    finally:
        handle.stop()


def epoch(text: str) -> float:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC).timestamp()


# Instants either side of local midnight on the 1st, in summer time (+02:00) and winter time.
BOUNDARIES = {
    "2026-03-31T21:59:59": dt.date(2026, 3, 31),  # 23:59:59 CEST (DST began on 29 March)
    "2026-03-31T22:00:00": dt.date(2026, 4, 1),
    "2026-10-31T22:59:59": dt.date(2026, 10, 31),  # 23:59:59 CET (DST ended on 25 October)
    "2026-10-31T23:00:00": dt.date(2026, 11, 1),
}


def test_server_trigger_and_python_agree_on_the_day_and_rotate_premakes_the_zone_month(
    tz_server: ServerHandle,
) -> None:
    name = create_database(tz_server, "sqlops_dst")
    settings = tz_server.settings(name, time_zone=ZONE)
    (target,) = targets(Config(partitions={"access_log": PartitionTableConfig(premake_months=0)}))
    with connect(settings) as session:
        assert session.scalar("SELECT @@SESSION.time_zone") == ZONE
        # The server's today and ours, from the server's clock.
        assert server_today(session, ZONE) == session.scalar(
            "SELECT DATE(CONVERT_TZ(UTC_TIMESTAMP(), '+00:00', %s))", (ZONE,)
        )
        create_log_table(session, trigger=True)
        partition_like_migrate(session, "access_log", dt.date(2026, 3, 1), dt.date(2026, 3, 15), premake=0)

    # Rotate on 31 March, 22:30 UTC: in Berlin it is already 1 April, so April is premade.
    # (With a fixed +01:00 it would still be 31 March and April would not exist yet.)
    late_march = dt.datetime(2026, 3, 31, 22, 30)
    assert today_in_zone(late_march, "+01:00") == dt.date(2026, 3, 31)
    outcome = run_rotate(settings, target, today=today_in_zone(late_march, ZONE))
    assert outcome.rotate_plan.created == ("p2026m04",)

    with connect(settings) as session:
        for instant, day in BOUNDARIES.items():
            # Python (zoneinfo) and the server (zone tables) agree on each side of the boundary.
            assert local_date_of_epoch(epoch(instant), ZONE) == day
            session.execute(
                "INSERT INTO access_log (time_since_epoch, http_url) VALUES (%s, %s)",
                (epoch(instant), instant),
            )
        got = dict(session.query("SELECT http_url, date_day FROM access_log"))
        assert got == BOUNDARIES
        rows = partition_rows(session)
        # The April row is in April's partition; October's and November's are beyond it.
        assert (rows["p2026m03"], rows["p2026m04"], rows["pcatchall"]) == (1, 1, 2)

    # Rotate on 31 October, 23:30 UTC (Berlin: 1 November 00:30, winter time) with the
    # catch-all holding those two rows: splitting them is explicit and lands each in its month.
    late_october = dt.datetime(2026, 10, 31, 23, 30)
    outcome = run_rotate(settings, target, today=today_in_zone(late_october, ZONE), split_catchall=True)
    assert outcome.rotate_plan.created[-2:] == ("p2026m10", "p2026m11")
    with connect(settings) as session:
        rows = partition_rows(session)
        assert (rows["p2026m10"], rows["p2026m11"], rows["pcatchall"]) == (1, 1, 0)


# Exactly the statements in README ("Privileges"), with the database name filled in and the
# host the server sees us from (127.0.0.1, or the bridge gateway for a container).
GRANTS = """
CREATE USER 'sqlops'@'{host}' IDENTIFIED BY 'maint-pw';
GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, ALTER, INDEX, TRIGGER ON {db}.* TO 'sqlops'@'{host}';
GRANT PROCESS ON *.* TO 'sqlops'@'{host}';
CREATE USER 'monitor'@'{host}' IDENTIFIED BY 'mon-pw';
GRANT SELECT ON {db}.* TO 'monitor'@'{host}';
"""


def test_the_documented_privileges_are_enough(tz_server: ServerHandle) -> None:
    from support.logtable import insert_days

    from sqlops.errors import PreconditionError
    from sqlops.online.copy import read_state
    from sqlops.partitions.migrate import migrate_table
    from sqlops.partitions.status import evaluate_check, inspect_status
    from sqlops.rollup.daily import run_rollup

    name = create_database(tz_server, "sqlops_grants")
    admin = tz_server.admin()
    with admin.cursor() as cur:
        for statement in GRANTS.format(db=name, host=tz_server.client_host).strip().splitlines():
            cur.execute(statement)
    admin.close()
    with connect(tz_server.settings(name)) as session:  # root creates the table, as `schema init` would
        create_log_table(session, trigger=True)
        insert_days(session, [dt.date(2025, 9, 3), dt.date(2025, 10, 3)], per_day=5)
    maint = tz_server.settings(name, user="sqlops", password="maint-pw")
    policy = PartitionTableConfig(premake_months=1, retention_months=2)
    config = Config(database=maint, partitions={"access_log": policy})
    (target,) = targets(config)
    try:
        if tz_server.flavour == "mysql":  # binary logging is on by default: triggers need SUPER ...
            with pytest.raises(PreconditionError, match="log_bin_trust_function_creators = 1"):
                migrate_table(maint, target, method="online")
            with connect(tz_server.settings(name)) as session:  # ... unless the server trusts them
                assert read_state(session, "access_log") is None  # refused before any change
                session.execute("SET GLOBAL log_bin_trust_function_creators = 1")
        assert migrate_table(maint, target, method="online").action == "online-copy"
        outcome = run_rotate(maint, target, today=dt.date(2025, 12, 2))
        assert outcome.rotate_plan.archived  # CONVERT or CREATE LIKE + EXCHANGE + DROP PARTITION
        assert run_rollup(config).rows_read == 5  # October's rows (September was archived)
        monitor = tz_server.settings(name, user="monitor", password="mon-pw")
        with connect(monitor) as session:
            result = evaluate_check([inspect_status(session, target, "+00:00")])
        assert result.code in (0, 1, 2) and result.line.startswith("PARTITIONS ")
    finally:
        admin = tz_server.admin()
        with admin.cursor() as cur:
            host = tz_server.client_host
            cur.execute(f"DROP USER IF EXISTS 'sqlops'@'{host}', 'monitor'@'{host}'")
        admin.close()
