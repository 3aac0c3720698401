"""A primary with a read-only replica, on MariaDB (GTID, MASTER_USE_GTID) and MySQL 9 (GTID
auto-positioning): topology detection, maintenance that leaves the replica alone (CLI and
`serve`), and partition DDL that replicates."""

from __future__ import annotations

import datetime as dt
import logging
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
from support.logtable import create_log_table, insert_days, partition_like_migrate
from support.topology import Topology, wait_caught_up, wait_replicating

from sqlops.cluster.guard import ReplicaSkip, refuse_on_replica
from sqlops.cluster.lag import ReplicaLagThrottle, replica_throttle
from sqlops.cluster.topology import inspect_topology
from sqlops.config import Config, DatabaseConfig, PartitionTableConfig
from sqlops.db import connect
from sqlops.partitions.inspect import inspect_partitions
from sqlops.partitions.migrate import migrate_table
from sqlops.partitions.rotate import run_rotate, targets
from sqlops.service.jobs import rollup, rotate_all

D = dt.date
ENV = {**os.environ, "HOME": "/nonexistent", "SQLOPS_CONFIG": ""}
pytestmark = pytest.mark.slow


def settings(topo: Topology, index: int, database: str, **overrides: object) -> DatabaseConfig:
    return topo[index].handle.settings(database, **overrides)


def sqlops(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sqlops", *args], capture_output=True, text=True, env=ENV, timeout=120
    )


def prepared(topo: Topology, database: str) -> None:
    """access_log partitioned on the primary, with rows, replicated to the replica."""
    with connect(settings(topo, 0, database)) as session:
        create_log_table(session)
        partition_like_migrate(session, "access_log", D(2026, 1, 3), D(2026, 1, 20), premake=1)
        insert_days(session, [D(2026, 1, 3), D(2026, 2, 2)], per_day=3)
    wait_caught_up(topo[0], topo[1])


def partitions_on(topo: Topology, index: int, database: str) -> list[tuple[str, object]]:
    with connect(settings(topo, index, database)) as session:
        state = inspect_partitions(session, "access_log", "date_day")
        return [(p.name, p.upper) for p in state.partitions]


def test_topology_tells_primary_and_replica_apart(replica_set: Topology, replica_db: str) -> None:
    with connect(settings(replica_set, 0, replica_db)) as session:
        primary = inspect_topology(session, with_replicas=True)
    with connect(settings(replica_set, 1, replica_db)) as session:
        replica = inspect_topology(session)
    assert primary.role == "primary" and not primary.is_replica
    assert primary.replicas == (f"{replica_set[1].ip}:3306",)
    assert replica.role == "replica" and replica.read_only
    assert replica.super_read_only == (replica_set.flavour == "mysql")
    assert replica.replication is not None
    assert replica.replication.source == f"{replica_set[0].ip}:3306"
    assert replica.replication.io_running and replica.replication.sql_running
    assert replica.replication.seconds_behind is not None and replica.replication.seconds_behind < 5


def test_rotate_on_the_primary_replicates_its_partitions(replica_set: Topology, replica_db: str) -> None:
    prepared(replica_set, replica_db)
    (target,) = targets(Config(partitions={"access_log": PartitionTableConfig(premake_months=2)}))
    outcome = run_rotate(settings(replica_set, 0, replica_db), target, today=D(2026, 3, 15))
    assert outcome.rotate_plan.created == ("p2026m03", "p2026m04", "p2026m05")
    wait_caught_up(replica_set[0], replica_set[1])
    on_primary = partitions_on(replica_set, 0, replica_db)
    assert [name for name, _ in on_primary][-4:] == ["p2026m03", "p2026m04", "p2026m05", "pcatchall"]
    assert partitions_on(replica_set, 1, replica_db) == on_primary
    rows = replica_set[1].sql("SELECT COUNT(*) FROM access_log", database=replica_db)
    assert rows == [(6,)]


def test_maintenance_commands_on_the_replica_do_nothing_and_say_so(
    replica_set: Topology, replica_db: str
) -> None:
    prepared(replica_set, replica_db)
    before = partitions_on(replica_set, 1, replica_db)
    dsn = replica_set[1].dsn(replica_db)
    for command in (
        ["partition", "rotate"],
        ["partition", "migrate"],
        ["rollup", "refresh"],
        ["schema", "upgrade"],
    ):
        done = sqlops("--dsn", dsn, *command)
        assert done.returncode == 0, (command, done.stderr)
        assert "nothing to do on this server: it is a replica" in done.stderr, (command, done.stderr)
        assert "read_only=ON" in done.stderr or "super_read_only=ON" in done.stderr
        assert "error" not in done.stderr.lower(), done.stderr
    assert partitions_on(replica_set, 1, replica_db) == before
    # Nothing was written there either (root may write despite read_only on MariaDB, and a
    # write would break replication): the same tables as the primary, no run recorded.
    tables = {t for (t,) in replica_set[1].sql("SHOW TABLES", database=replica_db)}
    assert tables == {t for (t,) in replica_set[0].sql("SHOW TABLES", database=replica_db)}
    assert "access_log_daily" not in tables
    assert replica_set[1].sql("SELECT COUNT(*) FROM sqlops_job_runs", database=replica_db) == [(0,)]
    wait_replicating(replica_set[1], 5)


def test_scheduler_jobs_skip_on_the_replica(replica_set: Topology, replica_db: str) -> None:
    prepared(replica_set, replica_db)
    config = Config(database=settings(replica_set, 1, replica_db))
    assert rotate_all(config) == 0  # no failure
    assert rollup(config) is True
    with connect(settings(replica_set, 1, replica_db)) as session, pytest.raises(ReplicaSkip) as raised:
        refuse_on_replica(session, "partition-rotate")
    assert raised.value.exit_code == 0


def test_serve_on_the_replica_keeps_running_and_skips_every_run(
    replica_set: Topology, replica_db: str
) -> None:
    prepared(replica_set, replica_db)
    proc = subprocess.Popen(
        [sys.executable, "-m", "sqlops", "--dsn", replica_set[1].dsn(replica_db), "serve"],
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
    )
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 60
        assert proc.stderr is not None
        while time.monotonic() < deadline and sum("it is a replica" in line for line in lines) < 2:
            lines.append(proc.stderr.readline())
        assert sum("it is a replica" in line and "skipped" in line for line in lines) == 2, lines
        assert proc.poll() is None  # still serving: a promoted replica's jobs start working
    finally:
        proc.send_signal(signal.SIGTERM)
        rest = proc.communicate(timeout=60)[1]
    assert proc.returncode == 0, "".join(lines) + rest
    assert "ERROR" not in "".join(lines) + rest


def _replication(node_index: int, topo: Topology, what: str) -> None:
    topo[node_index].sql(f"{what} REPLICA SQL_THREAD")


def test_throttle_waits_while_a_replica_is_stopped_and_resumes_when_it_runs(
    replica_set: Topology, replica_db: str
) -> None:
    with connect(settings(replica_set, 0, replica_db, max_replica_lag=1.0)) as session:
        throttle = replica_throttle(session)
    assert throttle is not None and throttle.replicas == (f"{replica_set[1].ip}:3306",)
    throttle()  # replicating, no lag: returns at once
    assert throttle.pauses == 0
    _replication(1, replica_set, "STOP")
    done = threading.Event()
    waiter = threading.Thread(target=lambda: (throttle(), done.set()))
    try:
        time.sleep(1.1)  # past the check interval
        waiter.start()
        assert not done.wait(2.5), "the throttle let a chunk through while replication was stopped"
    finally:
        _replication(1, replica_set, "START")
    assert done.wait(15)
    assert throttle.pauses == 1 and throttle.paused_seconds >= 2.5


def test_lag_is_measured_in_seconds_behind_the_primary(replica_set: Topology, replica_db: str) -> None:
    replica = replica_set[1]
    source = "MASTER" if replica_set.flavour == "mariadb" else "SOURCE"
    replica.sql("STOP REPLICA")
    replica.sql(f"CHANGE {source.replace('SOURCE', 'REPLICATION SOURCE')} TO {source}_DELAY = 4")
    replica.sql("START REPLICA")
    try:
        wait_replicating(replica)
        replica_set[0].sql("CREATE TABLE lagging (id INT PRIMARY KEY)", database=replica_db)
        throttle = ReplicaLagThrottle(settings(replica_set, 0, replica_db), (f"{replica.ip}:3306",))
        seen: list[int | None] = []
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline and not any(s is not None and s >= 2 for s in seen):
            seen += [lag.seconds for lag in throttle.lags()]
            time.sleep(0.3)
        assert any(s is not None and s >= 2 for s in seen), seen
    finally:
        replica.sql("STOP REPLICA")
        replica.sql(f"CHANGE {source.replace('SOURCE', 'REPLICATION SOURCE')} TO {source}_DELAY = 0")
        replica.sql("START REPLICA")
    wait_caught_up(replica_set[0], replica)


def test_online_migrate_on_the_primary_pauses_while_the_replica_lags(
    replica_set: Topology, replica_db: str, caplog: pytest.LogCaptureFixture
) -> None:
    with connect(settings(replica_set, 0, replica_db)) as session:
        create_log_table(session)
        insert_days(session, [D(2026, 1, 3), D(2026, 2, 2)], per_day=200)
    wait_caught_up(replica_set[0], replica_set[1])
    _replication(1, replica_set, "STOP")
    restart = threading.Timer(3.0, _replication, (1, replica_set, "START"))
    restart.start()
    try:
        with caplog.at_level(logging.INFO, logger="sqlops"):
            (target,) = targets(Config())
            started = time.monotonic()
            outcome = migrate_table(settings(replica_set, 0, replica_db, max_replica_lag=1.0), target)
            took = time.monotonic() - started
    finally:
        restart.join()
        _replication(1, replica_set, "START")
    assert outcome.action == "online-copy" and outcome.rows_copied == 400
    assert took >= 2.5
    assert "throttling the copy" in caplog.text and "replication is stopped" in caplog.text
    assert "the copy resumes after" in caplog.text
    wait_caught_up(replica_set[0], replica_set[1])
    assert partitions_on(replica_set, 1, replica_db) == partitions_on(replica_set, 0, replica_db)
    assert replica_set[1].sql("SELECT COUNT(*) FROM access_log", database=replica_db) == [(400,)]


def test_replicas_that_cannot_be_measured_are_named_and_not_watched(
    replica_set: Topology, replica_db: str, caplog: pytest.LogCaptureFixture
) -> None:
    # The primary itself shows no replication status; nothing listens on port 1. Neither may
    # hold up a copy forever, and the configured list wins over what the primary reports.
    listed = (f"{replica_set[0].ip}:3306", "127.0.0.1:1")
    with (
        caplog.at_level(logging.WARNING, logger="sqlops"),
        connect(settings(replica_set, 0, replica_db, replicas=listed)) as session,
    ):
        assert replica_throttle(session) is None
    assert (
        f"replica {replica_set[0].ip}:3306 cannot be measured (it shows no replication status" in caplog.text
    )
    assert "replica 127.0.0.1:1 cannot be measured" in caplog.text
    with connect(settings(replica_set, 0, replica_db, replicas=(f"{replica_set[1].ip}:3306",))) as session:
        throttle = replica_throttle(session)
    assert throttle is not None and throttle.replicas == (f"{replica_set[1].ip}:3306",)
