"""Multi-server topologies for tests: a MariaDB Galera cluster and a primary with replicas.

Every topology is a set of containers of the locally built images (docker/build-images.sh:
``sqlops/mariadb:10.11-*`` carries galera-4 and rsync, ``sqlops/mysql:9-*`` Oracle MySQL) on
one user-defined bridge network with fixed addresses, so the nodes find each other by IP
(``gcomm://ip1,ip2,ip3``, ``SOURCE_HOST=ip``) and the tests reach every node directly: the
engine runs on this host, so its bridge networks are routed from here.

The subnet is ``172.31.<random>.0/24`` (another is tried when the engine says it overlaps).
Containers and networks carry ``sqlops.test=1`` and ``sqlops.run=<RUN_ID>`` like
tests/support/servers.py; :meth:`Topology.remove` removes exactly what was created (the images
declare no VOLUME, so there are no volumes to leave behind).

Servers are small on purpose (the machine is shared): a 64 MiB buffer pool, no
performance_schema, a 32 MiB Galera cache.
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pymysql

from support.servers import (
    LABELS,
    RUN_ID,
    STARTED,
    ServerHandle,
    ServerUnavailable,
    _docker_client,
    container_image,
)

SMALL = ("--innodb-buffer-pool-size=64M", "--performance-schema=OFF", "--max-connections=100")
MYSQL_SMALL = (*SMALL, "--mysqlx=OFF", "--skip-log-bin")  # --log-bin comes back where needed
GALERA = (
    "--wsrep-on=ON",
    "--wsrep-provider=/usr/lib/galera/libgalera_smm.so",
    "--wsrep-cluster-name=sqlops-test",
    "--wsrep-sst-method=rsync",
    "--wsrep-provider-options=gcache.size=32M",
    "--binlog-format=ROW",
    "--innodb-autoinc-lock-mode=2",
    "--default-storage-engine=InnoDB",
)
REPL_USER, REPL_PASSWORD = "sqlops_repl", "sqlops_repl"


@dataclass
class Node:
    """One server of a topology: a ServerHandle on its bridge address plus its container."""

    name: str
    ip: str
    handle: ServerHandle
    container: Any = field(repr=False)

    def sql(self, statement: str, params: Any = None, database: str | None = None) -> list[tuple[Any, ...]]:
        conn = self.handle.admin(database)
        try:
            with conn.cursor() as cur:
                cur.execute(statement, params)
                return list(cur.fetchall())
        finally:
            conn.close()

    def status(self, name: str) -> str | None:
        rows = self.sql("SHOW GLOBAL STATUS LIKE %s", (name,))
        return str(rows[0][1]) if rows else None

    def dsn(self, database: str = "") -> str:
        return self.handle.dsn + database


@dataclass
class Topology:
    kind: str
    flavour: str
    subnet: str
    network: Any = field(repr=False)
    nodes: list[Node] = field(default_factory=list)

    def __getitem__(self, index: int) -> Node:
        return self.nodes[index]

    def remove(self) -> None:
        for node in self.nodes:
            with contextlib.suppress(Exception):
                node.container.remove(force=True, v=True)
        with contextlib.suppress(Exception):
            self.network.remove()


def _network(client: Any) -> tuple[Any, str]:
    import docker.types  # type: ignore[import-not-found,unused-ignore]

    problems = []
    for _ in range(8):
        third = random.randint(16, 250)
        subnet = f"172.31.{third}.0/24"
        ipam = docker.types.IPAMConfig(
            pool_configs=[docker.types.IPAMPool(subnet=subnet, gateway=f"172.31.{third}.1")]
        )
        try:
            net = client.networks.create(
                f"sqlops-{RUN_ID}-{uuid.uuid4().hex[:6]}", driver="bridge", ipam=ipam, labels=dict(LABELS)
            )
            return net, subnet
        except Exception as exc:  # "Pool overlaps with other one on this address space"
            problems.append(f"{subnet}: {exc}")
    raise ServerUnavailable("no free 172.31.x.0/24 subnet for a test network:\n" + "\n".join(problems))


def _start(client: Any, net: Any, image: str, name: str, ip: str, args: tuple[str, ...], purpose: str) -> Any:
    container = client.containers.create(
        image,
        command=list(args),
        name=f"sqlops-{RUN_ID}-{name}-{uuid.uuid4().hex[:4]}",
        hostname=name,
        environment={"MARIADB_ALLOW_EMPTY_ROOT_PASSWORD": "1", "MYSQL_ALLOW_EMPTY_PASSWORD": "yes"},
        labels={**LABELS, "sqlops.purpose": purpose},
        detach=True,
        mem_limit="512m",
        network=net.name,
        networking_config={net.name: client.api.create_endpoint_config(ipv4_address=ip)},
    )
    try:
        container.start()
    except BaseException:
        container.remove(force=True, v=True)
        raise
    return container


def _wait(container: Any, ip: str, seconds: float, ready: Any = None) -> tuple[str, str]:
    """Wait until the server on `ip` accepts root and `ready(conn)` (if given) is true."""
    deadline = time.monotonic() + seconds
    last: object = None
    while time.monotonic() < deadline:
        try:
            conn = pymysql.connect(host=ip, port=3306, user="root", password="", connect_timeout=3)
            try:
                with conn.cursor() as cur:
                    cur.execute("SELECT VERSION()")
                    version = str(cur.fetchone()[0])
                if ready is None or ready(conn):
                    return ("mariadb" if "mariadb" in version.lower() else "mysql"), version
                last = "not ready yet"
            finally:
                conn.close()
        except pymysql.MySQLError as exc:
            last = exc
        container.reload()
        if container.status in ("exited", "dead"):
            break
        time.sleep(0.5)
    logs = container.logs(tail=40).decode(errors="replace")
    raise ServerUnavailable(f"{container.name} on {ip} did not come up: {last}\n{logs}")


def _node(name: str, ip: str, container: Any, flavour: str, version: str, purpose: str) -> Node:
    handle = ServerHandle(flavour, ip, 3306, "root", "", version, f"container {container.name} ({ip})")

    def stop() -> None:
        with contextlib.suppress(Exception):
            container.stop(timeout=30)

    handle._halt = stop
    handle._resume = container.start
    STARTED.append((flavour, version, handle.source, purpose))
    return Node(name, ip, handle, container)


def _synced(size: int) -> Any:
    def ready(conn: Any) -> bool:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT VARIABLE_NAME, VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE "
                "VARIABLE_NAME IN ('WSREP_READY', 'WSREP_LOCAL_STATE_COMMENT', 'WSREP_CLUSTER_SIZE')"
            )
            values = {k.lower(): v for k, v in cur.fetchall()}
        return (
            values.get("wsrep_ready") == "ON"
            and values.get("wsrep_local_state_comment") == "Synced"
            and int(values.get("wsrep_cluster_size") or 0) >= size
        )

    return ready


def start_galera(size: int = 3, seconds: float = 180) -> Topology:
    """A `size`-node MariaDB Galera cluster, every node Synced. The first node bootstraps the
    cluster (--wsrep-new-cluster); the others join it by rsync SST."""
    client = _docker_client(60)
    image = container_image("mariadb")
    net, subnet = _network(client)
    base = subnet.rsplit(".", 1)[0]
    ips = [f"{base}.{10 + i}" for i in range(size)]
    topo = Topology("galera", "mariadb", subnet, net)
    try:
        address = "--wsrep-cluster-address=gcomm://" + ",".join(ips)
        for i, ip in enumerate(ips):
            name = f"galera{i + 1}"
            args = (*SMALL, *GALERA, address, f"--wsrep-node-address={ip}", f"--wsrep-node-name={name}")
            args += ("--wsrep-new-cluster",) if i == 0 else ()
            container = _start(client, net, image, name, ip, args, "galera")
            # Joiners one at a time: the donor serves one rsync SST at once.
            flavour, version = _wait(container, ip, seconds, _synced(i + 1))
            topo.nodes.append(_node(name, ip, container, flavour, version, "galera"))
        for node in topo.nodes:
            _wait(node.container, node.ip, seconds, _synced(size))
    except BaseException:
        topo.remove()
        raise
    return topo


def _server_args(flavour: str, server_id: int, ip: str, replica: bool) -> tuple[str, ...]:
    common = (f"--server-id={server_id}", f"--report-host={ip}", "--binlog-format=ROW")
    if flavour == "mariadb":
        args = (*SMALL, *common, "--log-bin=mysql-bin", "--log-slave-updates=ON")
        return (*args, "--read-only=ON") if replica else args
    args = (
        *MYSQL_SMALL,
        *common,
        "--log-bin=binlog",
        "--gtid-mode=ON",
        "--enforce-gtid-consistency=ON",
    )
    return (*args, "--read-only=ON", "--super-read-only=ON") if replica else args


def start_replica_set(flavour: str, replicas: int = 1, seconds: float = 180) -> Topology:
    """A primary with `replicas` read-only replicas replicating by GTID (MariaDB's
    MASTER_USE_GTID, MySQL's GTID auto-positioning)."""
    client = _docker_client(60)
    image = container_image(flavour)
    net, subnet = _network(client)
    base = subnet.rsplit(".", 1)[0]
    topo = Topology("replica", flavour, subnet, net)
    try:
        containers = []
        for i in range(replicas + 1):
            ip = f"{base}.{10 + i}"
            name = "primary" if i == 0 else f"replica{i}"
            args = _server_args(flavour, i + 1, ip, replica=i > 0)
            containers.append((name, ip, _start(client, net, image, name, ip, args, "replica set")))
        for name, ip, container in containers:
            found, version = _wait(container, ip, seconds)
            topo.nodes.append(_node(name, ip, container, found, version, "replica set"))
        primary = topo.nodes[0]
        # Forget what initialising the datadirs wrote, so replicas start from an empty history.
        reset = "RESET MASTER" if flavour == "mariadb" else "RESET BINARY LOGS AND GTIDS"
        for node in topo.nodes:
            node.sql(reset)
        primary.sql(f"CREATE USER '{REPL_USER}'@'%' IDENTIFIED BY '{REPL_PASSWORD}'")
        primary.sql(f"GRANT REPLICATION SLAVE ON *.* TO '{REPL_USER}'@'%'")
        for node in topo.nodes[1:]:
            if flavour == "mariadb":
                node.sql("SET GLOBAL gtid_slave_pos = ''")
                node.sql(
                    f"CHANGE MASTER TO MASTER_HOST='{primary.ip}', MASTER_PORT=3306, MASTER_USER='{REPL_USER}', "
                    f"MASTER_PASSWORD='{REPL_PASSWORD}', MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1"
                )
                node.sql("START SLAVE")
            else:
                node.sql(
                    f"CHANGE REPLICATION SOURCE TO SOURCE_HOST='{primary.ip}', SOURCE_PORT=3306, "
                    f"SOURCE_USER='{REPL_USER}', SOURCE_PASSWORD='{REPL_PASSWORD}', SOURCE_AUTO_POSITION=1, "
                    "GET_SOURCE_PUBLIC_KEY=1, SOURCE_CONNECT_RETRY=1"
                )
                node.sql("START REPLICA")
        for node in topo.nodes[1:]:
            wait_replicating(node, seconds)
    except BaseException:
        topo.remove()
        raise
    return topo


def replica_status(node: Node) -> dict[str, Any]:
    conn = node.handle.admin()
    try:
        with conn.cursor(pymysql.cursors.DictCursor) as cur:
            cur.execute("SHOW REPLICA STATUS" if node.handle.flavour == "mysql" else "SHOW SLAVE STATUS")
            row = cur.fetchone()
    finally:
        conn.close()
    return dict(row or {})


def wait_replicating(node: Node, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    status: dict[str, Any] = {}
    while time.monotonic() < deadline:
        status = replica_status(node)
        io = status.get("Replica_IO_Running", status.get("Slave_IO_Running"))
        sql = status.get("Replica_SQL_Running", status.get("Slave_SQL_Running"))
        if io == "Yes" and sql == "Yes":
            return
        time.sleep(0.5)
    raise ServerUnavailable(f"{node.name} does not replicate: {status}")


def wait_caught_up(primary: Node, replica: Node, seconds: float = 60) -> None:
    """Wait until `replica` has applied everything `primary` has written so far (GTIDs)."""
    if primary.handle.flavour == "mariadb":
        pos = primary.sql("SELECT @@gtid_binlog_pos")[0][0]
        got = replica.sql("SELECT MASTER_GTID_WAIT(%s, %s)", (pos, seconds))[0][0]
    else:
        executed = primary.sql("SELECT @@gtid_executed")[0][0]
        got = replica.sql("SELECT WAIT_FOR_EXECUTED_GTID_SET(%s, %s)", (executed, seconds))[0][0]
    if got != 0:
        raise AssertionError(f"{replica.name} did not catch up with {primary.name} in {seconds} s: {got}")


def proxy_line(proxy: int, i: int) -> bytes:
    """Line `i` of proxy `proxy` in Squid's native format: the client address names the
    proxy (192.0.2.<proxy + 1>) and the URL is unique per line, so a test can count each
    proxy's lines and find duplicates."""
    return (
        b"%d.%03d      4 192.0.2.%d TCP_MISS/200 %d GET http://proxy%d.example/%d - HIER_DIRECT/192.0.2.9 text/html"
        % (
            1700000000 + i // 1000,
            i % 1000,
            proxy + 1,
            1000 + i,
            proxy,
            i,
        )
    )


@contextlib.contextmanager
def database_on(topo: Topology, prefix: str = "sqlops_c") -> Iterator[str]:
    """A fresh database created on the first node (it reaches the others by replication)."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    topo.nodes[0].sql(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    try:
        yield name
    finally:
        with contextlib.suppress(pymysql.MySQLError):
            topo.nodes[0].sql(f"DROP DATABASE IF EXISTS `{name}`")


class Writers:
    """One writer thread per node inserting log rows (autocommit, one row per statement, as
    Squid's log_db_daemon does) until stopped. Each counts what it committed and times every
    insert; a certification failure (1213) is retried, as the daemon does."""

    def __init__(self, topo: Topology, database: str, day: Any, pace: float = 0.01) -> None:
        from support.logtable import COLUMNS, row

        self.topo, self.database, self.day, self.pace = topo, database, day, pace
        self.columns, self.row = COLUMNS, row
        self.stop = threading.Event()
        self.committed = [0] * len(topo.nodes)
        self.retries = [0] * len(topo.nodes)
        self.latencies: list[list[float]] = [[] for _ in topo.nodes]
        self.errors: list[str] = []
        self.threads = [
            threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(len(topo.nodes))
        ]

    def _run(self, index: int) -> None:
        marks = ", ".join(["%s"] * 13)
        sql = f"INSERT INTO access_log ({self.columns}) VALUES ({marks})"
        try:
            conn = self.topo.nodes[index].handle.admin(self.database)
        except pymysql.MySQLError as exc:
            self.errors.append(f"writer {index}: {exc}")
            return
        n = 0
        with conn, conn.cursor() as cur:
            while not self.stop.is_set():
                values = self.row(self.day, n, user=f"w{index}")
                started = time.monotonic()
                try:
                    cur.execute(sql, values)
                except pymysql.MySQLError as exc:
                    if exc.args and exc.args[0] == 1213:
                        self.retries[index] += 1
                        continue
                    self.errors.append(f"writer {index}: {exc}")
                    return
                self.latencies[index].append(time.monotonic() - started)
                self.committed[index] += 1
                n += 1
                self.stop.wait(self.pace)

    def __enter__(self) -> Writers:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(30)

    def max_latency(self, index: int, since: int = 0) -> float:
        return max(self.latencies[index][since:], default=0.0)
