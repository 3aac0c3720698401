"""Three sqlops-logfile-daemon instances (driven by the daemon protocol, as Squid drives
them) writing concurrently into one access_log, each through a different Galera node:
every line lands exactly once, on every node; and a daemon given several servers fails over when its node stops."""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import Any

import pymysql
import pytest
from support.topology import Topology, proxy_line

sys.path.insert(0, str(Path(__file__).parents[2]))
from e2e.ingest_harness import DaemonProcess, wait_for, write_config

from sqlops.cli import main as sqlops_main
from sqlops.squid.protocol import encode_line

pytestmark = pytest.mark.slow
LINES = 3000


def test_three_daemons_through_three_nodes_write_every_line_once(
    galera: Topology, galera_db: str, tmp_path: Path
) -> None:
    configs = []
    for i, node in enumerate(galera.nodes):
        configs.append(
            write_config(
                tmp_path / f"proxy{i}.toml",
                host=node.ip,
                port=3306,
                user="root",
                database=galera_db,
                spool=tmp_path / f"spool{i}",
                batch_rows=500,
            )
        )
    assert sqlops_main(["--config", str(configs[0]), "schema", "init"]) == 0
    daemons = [DaemonProcess(str(c), log=tmp_path / f"cache{i}.log") for i, c in enumerate(configs)]

    def feed(proxy: int) -> None:
        data = b"".join(encode_line(proxy_line(proxy, i)) for i in range(LINES))
        for start in range(0, len(data), 64 * 1024):
            daemons[proxy].send(data[start : start + 64 * 1024])

    feeders = [threading.Thread(target=feed, args=(p,)) for p in range(3)]
    for t in feeders:
        t.start()
    for t in feeders:
        t.join(120)
    codes = [d.stop() for d in daemons]
    logs = "\n".join((tmp_path / f"cache{i}.log").read_text(errors="replace") for i in range(3))
    assert codes == [0, 0, 0], logs
    for node in galera.nodes:
        rows = node.sql(
            "SELECT ip_client, COUNT(*), COUNT(DISTINCT http_url) FROM access_log GROUP BY ip_client ORDER BY 1",
            database=galera_db,
        )
        assert [(ip.decode() if isinstance(ip, bytes) else ip, n, d) for ip, n, d in rows] == [
            (f"192.0.2.{p + 1}", LINES, LINES) for p in range(3)
        ], (
            node.name,
            logs[-3000:],
        )
    # Galera interleaves auto-increment values per node: unique, not dense.
    ids = galera[0].sql("SELECT COUNT(DISTINCT id), COUNT(*) FROM access_log", database=galera_db)
    assert ids == [(3 * LINES, 3 * LINES)]


def _synced(node: Any) -> bool:
    try:
        return (
            node.status("wsrep_local_state_comment") == "Synced" and node.status("wsrep_cluster_size") == "3"
        )
    except pymysql.MySQLError:
        return False


def failover_daemon(galera: Topology, database: str, tmp_path: Path, extra: str = "") -> DaemonProcess:
    """A daemon whose database.hosts lists node 3 first, then nodes 1 and 2."""
    order = (galera.nodes[2], galera.nodes[0], galera.nodes[1])
    hosts = ", ".join(f'"{n.ip}:3306"' for n in order)
    config = write_config(
        tmp_path / "proxy.toml",
        host=order[0].ip,
        port=3306,
        user="root",
        database=database,
        spool=tmp_path / "spool",
    )
    config.write_text(
        config.read_text().replace("[database]\n", f"[database]\nhosts = [{hosts}]\n{extra}", 1)
    )
    assert sqlops_main(["--config", str(config), "schema", "init"]) == 0
    return DaemonProcess(str(config), log=tmp_path / "cache.log")


def test_a_daemon_fails_over_to_the_next_node_when_its_node_stops(
    galera: Topology, galera_db: str, tmp_path: Path
) -> None:
    first, *others = galera.nodes[2], galera.nodes[0], galera.nodes[1]
    daemon = failover_daemon(galera, galera_db, tmp_path)

    def count(node: Any) -> int:
        return int(node.sql("SELECT COUNT(*) FROM access_log", database=galera_db)[0][0])

    try:
        daemon.send(b"".join(encode_line(proxy_line(0, i)) for i in range(LINES)))
        wait_for(lambda: count(others[0]) == LINES, 60, "the first lines on the cluster")
        first.container.stop(timeout=30)  # the daemon's node goes away
        daemon.send(b"".join(encode_line(proxy_line(0, i)) for i in range(LINES, 2 * LINES)))
        wait_for(lambda: count(others[0]) == 2 * LINES, 90, "the lines written after the fail-over")
    finally:
        first.container.start()
        wait_for(lambda: _synced(first), 120, f"{first.name} back in the cluster", interval=1)
    assert daemon.stop() == 0
    log_text = (tmp_path / "cache.log").read_text(errors="replace")
    assert f"writing through root@{others[0].ip}:3306" in log_text, log_text[-3000:]
    for node in galera.nodes:
        rows = node.sql("SELECT COUNT(*), COUNT(DISTINCT http_url) FROM access_log", database=galera_db)
        assert rows == [(2 * LINES, 2 * LINES)], (node.name, log_text[-3000:])


def test_a_daemon_leaves_a_node_that_drops_out_of_the_primary_component(
    galera: Topology, galera_db: str, tmp_path: Path
) -> None:
    first, *others = galera.nodes[2], galera.nodes[0], galera.nodes[1]
    daemon = failover_daemon(galera, galera_db, tmp_path)

    def count(node: Any) -> int:
        return int(node.sql("SELECT COUNT(*) FROM access_log", database=galera_db)[0][0])

    try:
        daemon.send(b"".join(encode_line(proxy_line(0, i)) for i in range(LINES)))
        wait_for(lambda: count(others[0]) == LINES, 60, "the first lines on the cluster")
        # Cut the node off the cluster's group communication: it stays up and accepts
        # connections, but is no longer in the primary component (wsrep_ready=OFF).
        first.sql("SET GLOBAL wsrep_provider_options = 'gmcast.isolate=1'")
        wait_for(
            lambda: first.status("wsrep_ready") == "OFF", 30, f"{first.name} out of the primary component"
        )
        daemon.send(b"".join(encode_line(proxy_line(0, i)) for i in range(LINES, 2 * LINES)))
        wait_for(lambda: count(others[0]) == 2 * LINES, 90, "the lines written after the fail-over")
    finally:
        first.sql("SET GLOBAL wsrep_provider_options = 'gmcast.isolate=0'")
        wait_for(lambda: _synced(first), 120, f"{first.name} back in the cluster", interval=1)
    assert daemon.stop() == 0
    log_text = (tmp_path / "cache.log").read_text(errors="replace")
    assert f"writing through root@{others[0].ip}:3306" in log_text, log_text[-3000:]
    assert "not ready" in log_text or "non-Primary" in log_text, log_text[-3000:]
    for node in galera.nodes:
        rows = node.sql("SELECT COUNT(*), COUNT(DISTINCT http_url) FROM access_log", database=galera_db)
        assert rows == [(2 * LINES, 2 * LINES)], (node.name, log_text[-3000:])


def test_a_daemon_leaves_a_node_partitioned_away_within_its_read_timeout(
    galera: Topology, galera_db: str, tmp_path: Path
) -> None:
    # A node cut off the network answers nothing, not even a reset: only a read timeout ends
    # the daemon's wait, so the daemon's config sets a short one.
    first, *others = galera.nodes[2], galera.nodes[0], galera.nodes[1]
    daemon = failover_daemon(galera, galera_db, tmp_path, extra="read_timeout = 5\nwrite_timeout = 5\n")

    def count(node: Any) -> int:
        return int(node.sql("SELECT COUNT(*) FROM access_log", database=galera_db)[0][0])

    try:
        daemon.send(b"".join(encode_line(proxy_line(0, i)) for i in range(LINES)))
        wait_for(lambda: count(others[0]) == LINES, 60, "the first lines on the cluster")
        galera.network.disconnect(first.container)
        daemon.send(b"".join(encode_line(proxy_line(0, i)) for i in range(LINES, 2 * LINES)))
        wait_for(lambda: count(others[0]) == 2 * LINES, 120, "the lines written after the fail-over")
    finally:
        galera.network.connect(first.container, ipv4_address=first.ip)
        wait_for(lambda: _synced(first), 180, f"{first.name} back in the cluster", interval=1)
    assert daemon.stop() == 0
    log_text = (tmp_path / "cache.log").read_text(errors="replace")
    assert f"writing through root@{others[0].ip}:3306" in log_text, log_text[-3000:]
    for node in galera.nodes:
        rows = node.sql("SELECT COUNT(*), COUNT(DISTINCT http_url) FROM access_log", database=galera_db)
        assert rows == [(2 * LINES, 2 * LINES)], (node.name, log_text[-3000:])
