"""A 3-node MariaDB Galera cluster: detection, the cluster-wide job lock (GET_LOCK alone is
node-local), partition DDL reaching every node, and the stall guard."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import threading
import time

import pymysql
import pytest
from support.logtable import create_log_table, insert_days, partition_like_migrate
from support.topology import Topology, Writers

from sqlops.cluster.lease import TABLE, cluster_lock
from sqlops.cluster.topology import inspect_topology
from sqlops.config import Config, DatabaseConfig, PartitionTableConfig
from sqlops.db import connect, named_lock
from sqlops.errors import LockHeldError, PreconditionError
from sqlops.partitions.inspect import inspect_partitions
from sqlops.partitions.migrate import migrate_table
from sqlops.partitions.planner import RotatePlan
from sqlops.partitions.rotate import Target, run_rotate, targets

D = dt.date
ENV = {**os.environ, "HOME": "/nonexistent", "SQLOPS_CONFIG": ""}
pytestmark = pytest.mark.slow


def settings(topo: Topology, index: int, database: str, **overrides: object) -> DatabaseConfig:
    return topo[index].handle.settings(database, **overrides)


def rotate_target(premake: int = 2) -> Target:
    (target,) = targets(Config(partitions={"access_log": PartitionTableConfig(premake_months=premake)}))
    return target


def prepared(topo: Topology, database: str) -> None:
    with connect(settings(topo, 0, database)) as session:
        create_log_table(session)
        partition_like_migrate(session, "access_log", D(2026, 1, 3), D(2026, 1, 20), premake=1)
        insert_days(session, [D(2026, 1, 3), D(2026, 2, 2)], per_day=3)


def partitions_on(topo: Topology, index: int, database: str) -> list[str]:
    with connect(settings(topo, index, database)) as session:
        session.execute("SET SESSION wsrep_sync_wait = 1")
        return [p.name for p in inspect_partitions(session, "access_log", "date_day").partitions]


def test_every_node_is_a_synced_galera_node(galera: Topology, galera_db: str) -> None:
    for i, node in enumerate(galera.nodes):
        with connect(settings(galera, i, galera_db)) as session:
            topology = inspect_topology(session)
        assert topology.role == "galera" and not topology.is_replica
        assert topology.galera is not None and topology.galera.healthy
        assert topology.galera.cluster_size == 3
        assert topology.galera.node_name == node.name


def test_get_lock_alone_does_not_exclude_a_run_on_another_node(galera: Topology, galera_db: str) -> None:
    # Why the cluster-wide lease exists: both nodes grant the same named lock at once.
    with connect(settings(galera, 0, galera_db)) as one, connect(settings(galera, 1, galera_db)) as two:
        with (
            named_lock(one, "sqlops:partition:x.access_log"),
            named_lock(two, "sqlops:partition:x.access_log"),
        ):
            pass
        with (
            cluster_lock(one, "sqlops:partition:x.access_log", node="galera1") as holder,
            pytest.raises(LockHeldError) as held,
            cluster_lock(two, "sqlops:partition:x.access_log", node="galera2"),
        ):
            pass
    assert holder in held.value.what and "galera1" in held.value.what


def test_two_concurrent_rotates_on_two_nodes_one_runs_the_other_names_the_holder(
    galera: Topology, galera_db: str
) -> None:
    prepared(galera, galera_db)
    inside, leave = threading.Event(), threading.Event()
    results: dict[str, object] = {}

    def hold(_plan: RotatePlan) -> None:
        inside.set()
        leave.wait(60)

    def first() -> None:
        try:
            results["first"] = run_rotate(
                settings(galera, 0, galera_db), rotate_target(), today=D(2026, 3, 15), before_execute=hold
            )
        except Exception as exc:
            results["first"] = exc
            inside.set()

    runner = threading.Thread(target=first)
    runner.start()
    try:
        assert inside.wait(60)
        # The same rotate through another node, as a CLI run: exit 4, naming the holder.
        cli = subprocess.run(
            [sys.executable, "-m", "sqlops", "--dsn", galera[1].dsn(galera_db), "partition", "rotate"],
            capture_output=True,
            text=True,
            env=ENV,
            timeout=120,
        )
        with pytest.raises(LockHeldError) as held:
            run_rotate(settings(galera, 2, galera_db), rotate_target(), today=D(2026, 3, 15))
    finally:
        leave.set()
        runner.join(60)
    assert cli.returncode == 4, cli.stderr
    assert "cluster-wide lock 'sqlops:partition:" in cli.stderr and "on node galera1" in cli.stderr
    assert "on node galera1" in held.value.what
    outcome = results["first"]
    assert not isinstance(outcome, Exception), outcome
    assert outcome.rotate_plan.created == ("p2026m03", "p2026m04", "p2026m05")  # type: ignore[attr-defined]
    # The lease was released: a later run on another node gets the lock and has nothing to do.
    again = run_rotate(settings(galera, 1, galera_db), rotate_target(), today=D(2026, 3, 15))
    assert again.executed == []
    assert galera[1].sql(f"SELECT COUNT(*) FROM {TABLE}", database=galera_db) == [(0,)]


def test_two_racing_rotates_on_two_nodes_exactly_one_runs(galera: Topology, galera_db: str) -> None:
    prepared(galera, galera_db)
    start = threading.Barrier(2)
    results: dict[int, object] = {}

    def slow(_plan: RotatePlan) -> None:
        threading.Event().wait(1.5)  # overlap whatever the scheduling

    def run(index: int) -> None:
        start.wait()
        try:
            results[index] = run_rotate(
                settings(galera, index, galera_db), rotate_target(), today=D(2026, 3, 15), before_execute=slow
            )
        except Exception as exc:
            results[index] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in (0, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    held = [r for r in results.values() if isinstance(r, LockHeldError)]
    ran = [r for r in results.values() if not isinstance(r, Exception)]
    assert len(held) == 1 and len(ran) == 1, results
    names = partitions_on(galera, 1, galera_db)
    assert names[-4:] == ["p2026m03", "p2026m04", "p2026m05", "pcatchall"]


def test_a_dead_holders_lease_runs_out_and_is_taken_over(galera: Topology, galera_db: str) -> None:
    with connect(settings(galera, 0, galera_db)) as one, connect(settings(galera, 1, galera_db)) as two:
        with cluster_lock(one, "sqlops:t:lease", node="galera1"):
            pass  # creates the table
        one.execute(
            f"INSERT INTO {TABLE} VALUES ('sqlops:t:lease', 'a process that died', %s, "
            "UTC_TIMESTAMP(6) - INTERVAL 2 MINUTE, UTC_TIMESTAMP(6) - INTERVAL 1 MINUTE)",
            ("0" * 32,),
        )
        with cluster_lock(two, "sqlops:t:lease", node="galera2") as holder:
            rows = one.query(f"SELECT holder FROM {TABLE} WHERE name = 'sqlops:t:lease'")
            assert rows == [(holder,)]


def test_partition_ddl_on_one_node_reaches_every_node(galera: Topology, galera_db: str) -> None:
    prepared(galera, galera_db)
    run_rotate(settings(galera, 1, galera_db), rotate_target(premake=4), today=D(2026, 3, 15))
    layouts = [partitions_on(galera, i, galera_db) for i in range(3)]
    assert layouts[0] == layouts[1] == layouts[2]
    assert layouts[0][-3:] == ["p2026m06", "p2026m07", "pcatchall"]


def test_a_catchall_split_that_would_stall_the_cluster_is_refused(galera: Topology, galera_db: str) -> None:
    prepared(galera, galera_db)
    # Rows in the catch-all (dated after the last month): splitting it copies them under TOI.
    with connect(settings(galera, 0, galera_db)) as session:
        insert_days(session, [D(2026, 4, 2)], per_day=50)
    strict = settings(galera, 0, galera_db, max_stall=0.0001)
    with pytest.raises(PreconditionError) as refused:
        run_rotate(strict, rotate_target(), today=D(2026, 3, 15), split_catchall=True)
    assert "stall every node of the Galera cluster" in str(refused.value)
    assert "SQLOPS_DATABASE_MAX_STALL" in str(refused.value)
    assert partitions_on(galera, 0, galera_db)[-1:] == ["pcatchall"]
    assert "p2026m03" not in partitions_on(galera, 0, galera_db)  # nothing ran
    # Within the limit (the default 1 s for 50 rows) the same split runs.
    done = run_rotate(
        settings(galera, 0, galera_db), rotate_target(), today=D(2026, 3, 15), split_catchall=True
    )
    assert "p2026m04" in done.rotate_plan.created


def test_migrate_alter_on_galera_is_refused_with_the_online_method_as_the_fix(
    galera: Topology, galera_db: str
) -> None:
    with connect(settings(galera, 0, galera_db)) as session:
        create_log_table(session)
        insert_days(session, [D(2026, 1, 3)], per_day=20)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "sqlops",
            "--dsn",
            galera[0].dsn(galera_db),
            "partition",
            "migrate",
            "--method",
            "alter",
        ],
        capture_output=True,
        text=True,
        env={**ENV, "SQLOPS_DATABASE_MAX_STALL": "0.000001"},
        timeout=120,
    )
    assert done.returncode == 1, done.stderr
    assert "stall every node of the Galera cluster" in done.stderr and "--method online" in done.stderr
    with pytest.raises(pymysql.MySQLError):
        galera[0].sql("SELECT 1 FROM access_log PARTITION (pcatchall)", database=galera_db)


def test_online_migrate_works_on_galera_while_every_node_writes(galera: Topology, galera_db: str) -> None:
    # Triggers fire on the node that takes the write and their rows travel in its writeset;
    # each chunk is an ordinary transaction that certifies like any other (1213 is retried);
    # CREATE TRIGGER and RENAME are metadata-only DDL. So the online method needs no refusal.
    with connect(settings(galera, 0, galera_db)) as session:
        create_log_table(session)
        for month in (1, 2, 3):
            insert_days(session, [D(2026, month, d) for d in (3, 17)], per_day=250)
    with Writers(galera, galera_db, D(2026, 3, 20)) as writers:
        time.sleep(1)
        (target,) = targets(Config())
        outcome = migrate_table(settings(galera, 0, galera_db), target)
        time.sleep(1)
    assert not writers.errors, writers.errors
    assert outcome.action == "online-copy" and outcome.rows_copied >= 1500
    assert all(n > 0 for n in writers.committed), writers.committed
    expected = 1500 + sum(writers.committed)
    for i in range(3):
        with connect(settings(galera, i, galera_db)) as session:
            session.execute("SET SESSION wsrep_sync_wait = 1")
            assert session.scalar("SELECT COUNT(*) FROM access_log") == expected
            by_writer = dict(
                session.query(
                    "SELECT http_username, COUNT(*) FROM access_log WHERE http_username LIKE 'w%%' GROUP BY 1"
                )
            )
            assert by_writer == {f"w{j}": writers.committed[j] for j in range(3)}
            assert session.scalar("SELECT COUNT(DISTINCT id) FROM access_log") == expected
        assert partitions_on(galera, i, galera_db)[-1] == "pcatchall"


def test_a_live_holder_keeps_its_lease_past_the_lease_time(galera: Topology, galera_db: str) -> None:
    with connect(settings(galera, 0, galera_db)) as one, connect(settings(galera, 1, galera_db)) as two:
        with cluster_lock(one, "sqlops:t:renewed", node="galera1", lease=1.5):
            time.sleep(3.5)  # more than twice the lease: only the renewals keep it
            with (
                pytest.raises(LockHeldError),
                cluster_lock(two, "sqlops:t:renewed", node="galera2", lease=1.5),
            ):
                pass
        with cluster_lock(two, "sqlops:t:renewed", node="galera2", lease=1.5):
            pass  # released at the end of the block: free at once


def test_a_node_outside_the_primary_component_refuses_maintenance(galera: Topology, galera_db: str) -> None:
    prepared(galera, galera_db)
    node = galera[2]
    node.sql("SET GLOBAL wsrep_provider_options = 'gmcast.isolate=1'")
    try:
        deadline = time.monotonic() + 30
        while node.status("wsrep_ready") != "OFF" and time.monotonic() < deadline:
            time.sleep(0.2)
        with pytest.raises(PreconditionError) as refused:
            run_rotate(settings(galera, 2, galera_db), rotate_target(), today=D(2026, 3, 15))
    finally:
        node.sql("SET GLOBAL wsrep_provider_options = 'gmcast.isolate=0'")
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if (
                node.status("wsrep_local_state_comment") == "Synced"
                and node.status("wsrep_cluster_size") == "3"
            ):
                break
            time.sleep(1)
    assert "this node cannot take part" in refused.value.what and "NOT ready" in refused.value.what
    assert "p2026m03" not in partitions_on(galera, 0, galera_db)
