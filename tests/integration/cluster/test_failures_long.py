"""The longest failure scenarios, marked `cluster_long` (CI runs them only with
SQLOPS_TEST_CLUSTER_LONG=1; see tests/integration/cluster/conftest.py), each with its counts
asserted: every line sent is in access_log exactly once, on every server.

- a Galera node restarted with a full state transfer (SST: its grastate.dat is gone, as after
  a crash that lost it) while two daemons write, one of them through that node;
- the primary of a primary/replica pair killed and its replica promoted while a daemon whose
  `database.hosts` lists both writes (both flavours; a topology of its own, since the
  promotion ends replication)."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import pymysql
import pytest
from support.topology import Node, Topology, database_on, proxy_line, wait_caught_up

sys.path.insert(0, str(Path(__file__).parents[2]))
from e2e.ingest_harness import DaemonProcess, wait_for, write_config

from sqlops.cli import main as sqlops_main
from sqlops.squid.protocol import encode_line

pytestmark = [pytest.mark.slow, pytest.mark.cluster_long]
LINES = 1500


def lines(proxy: int, start: int, stop: int) -> bytes:
    return b"".join(encode_line(proxy_line(proxy, i)) for i in range(start, stop))


def daemon_for(tmp: Path, name: str, nodes: list[Node], database: str, extra: str = "") -> DaemonProcess:
    hosts = ", ".join(f'"{n.ip}:3306"' for n in nodes)
    config = write_config(
        tmp / f"{name}.toml",
        host=nodes[0].ip,
        port=3306,
        user="root",
        database=database,
        spool=tmp / f"spool-{name}",
    )
    config.write_text(
        config.read_text().replace("[database]\n", f"[database]\nhosts = [{hosts}]\n{extra}", 1)
    )
    assert sqlops_main(["--config", str(config), "schema", "init"]) == 0
    return DaemonProcess(str(config), log=tmp / f"cache-{name}.log")


def count(node: Node, database: str) -> int:
    try:
        return int(node.sql("SELECT COUNT(*) FROM access_log", database=database)[0][0])
    except pymysql.MySQLError:
        return -1


def exactly_once(node: Node, database: str) -> list[tuple[Any, ...]]:
    return node.sql(
        "SELECT ip_client, COUNT(*), COUNT(DISTINCT http_url) FROM access_log GROUP BY ip_client ORDER BY 1",
        database=database,
    )


def _synced(node: Node, size: int = 3) -> bool:
    try:
        return node.status("wsrep_local_state_comment") == "Synced" and node.status(
            "wsrep_cluster_size"
        ) == str(size)
    except pymysql.MySQLError:
        return False


def test_node_restart_with_sst_while_daemons_write(galera: Topology, galera_db: str, tmp_path: Path) -> None:
    restarted, steady, other = galera.nodes[2], galera.nodes[0], galera.nodes[1]  # not the bootstrap node
    # Daemon 0 writes through the node that restarts (then fails over); daemon 1 through node 1.
    moving = daemon_for(tmp_path, "moving", [restarted, steady, other], galera_db, "read_timeout = 10\n")
    fixed = daemon_for(tmp_path, "fixed", [steady], galera_db)
    daemons = (moving, fixed)
    try:
        for proxy, daemon in enumerate(daemons):
            daemon.send(lines(proxy, 0, LINES))
        wait_for(lambda: count(steady, galera_db) == 2 * LINES, 90, "the first lines on the cluster")
        # No grastate.dat and a hard kill: on start the node cannot ask for an incremental
        # transfer and receives a full SST (rsync) from a donor.
        restarted.container.exec_run("rm -f /var/lib/mysql/grastate.dat")
        restarted.container.kill()
        for proxy, daemon in enumerate(daemons):
            daemon.send(lines(proxy, LINES, 2 * LINES))
        wait_for(lambda: count(steady, galera_db) == 4 * LINES, 120, "the lines written during the outage")
        restarted_at = int(time.time())
        restarted.container.start()
        for proxy, daemon in enumerate(daemons):  # written while the SST runs
            daemon.send(lines(proxy, 2 * LINES, 3 * LINES))
        wait_for(lambda: _synced(restarted), 240, f"{restarted.name} back after its SST", interval=1)
    finally:
        codes = [d.stop(timeout=180) for d in daemons]
    logs = "\n".join(p.read_text(errors="replace")[-2000:] for p in sorted(tmp_path.glob("cache-*.log")))
    assert codes == [0, 0], logs
    # It joined by a full transfer, not IST (its first join was an SST too: only this start's log).
    node_log = restarted.container.logs(since=restarted_at).decode(errors="replace")
    assert "Installed new state from SST" in node_log, node_log[-3000:]
    for node in galera.nodes:
        wait_for(lambda node=node: count(node, galera_db) == 6 * LINES, 60, f"every line on {node.name}")
        assert [
            (bytes(ip).decode() if not isinstance(ip, str) else ip, n, d)
            for ip, n, d in exactly_once(node, galera_db)
        ] == [(f"192.0.2.{p + 1}", 3 * LINES, 3 * LINES) for p in range(2)], (node.name, logs)


def promote(node: Node) -> None:
    """What an operator (or orchestrator) does: stop replicating, forget the source, writable."""
    if node.handle.flavour == "mariadb":
        node.sql("STOP SLAVE")
        node.sql("RESET SLAVE ALL")
        node.sql("SET GLOBAL read_only = OFF")
    else:
        node.sql("STOP REPLICA")
        node.sql("RESET REPLICA ALL")
        node.sql("SET GLOBAL super_read_only = OFF")
        node.sql("SET GLOBAL read_only = OFF")


def test_primary_failover_to_the_promoted_replica(own_replica_set: Topology, tmp_path: Path) -> None:
    primary, replica = own_replica_set.nodes[0], own_replica_set.nodes[1]
    with database_on(own_replica_set, "sqlops_fo") as database:
        daemon = daemon_for(tmp_path, "proxy", [primary, replica], database, "read_timeout = 10\n")
        try:
            daemon.send(lines(0, 0, LINES))
            wait_for(lambda: count(primary, database) == LINES, 60, "the first lines on the primary")
            # A planned or clean fail-over: the replica has everything the primary committed.
            # (With asynchronous replication a crash can lose the primary's last commits; the
            # checkpoint goes with them, but the journal may have dropped those bytes.)
            wait_caught_up(primary, replica)
            primary.container.kill()
            daemon.send(lines(0, LINES, 2 * LINES))  # the daemon has nowhere to write: journaled
            time.sleep(3)
            assert count(replica, database) == LINES  # read-only: the daemon did not write to it
            promote(replica)
            daemon.send(lines(0, 2 * LINES, 3 * LINES))
            wait_for(lambda: count(replica, database) == 3 * LINES, 120, "every line on the promoted replica")
        finally:
            code = daemon.stop(timeout=120)
        log_text = (tmp_path / "cache-proxy.log").read_text(errors="replace")
        assert code == 0, log_text[-3000:]
        assert f"writing through root@{replica.ip}:3306" in log_text, log_text[-3000:]
        rows = exactly_once(replica, database)
        assert [(bytes(ip).decode() if not isinstance(ip, str) else ip, n, d) for ip, n, d in rows] == [
            ("192.0.2.1", 3 * LINES, 3 * LINES)
        ], log_text[-3000:]
