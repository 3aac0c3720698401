"""What kind of server a session talks to: a Galera node, a replica, a primary with replicas,
or a server on its own. Read-only: every function here only runs SHOW / SELECT.

Both flavours answer the same questions through different statements: MySQL 8.4+ has only
``SHOW REPLICA STATUS`` / ``SHOW REPLICAS``; MariaDB 10.5+ has ``SHOW REPLICA STATUS`` as
well and ``SHOW SLAVE HOSTS`` for the replicas. A statement the server lacks (1064) or the
account may not run (1227, 1142) leaves that part unknown instead of failing: read_only alone
still identifies a replica.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import pymysql

from sqlops.db import Session, errno_of

log = logging.getLogger("sqlops.cluster")

# Syntax error (statement unknown to this flavour), access denied variants.
_UNAVAILABLE = frozenset({1064, 1227, 1142, 1045, 1370})


@dataclass(frozen=True)
class GaleraState:
    """The wsrep status of one Galera node."""

    node_name: str
    cluster_size: int
    ready: bool
    state: str  # wsrep_local_state_comment: Synced, Donor/Desynced, Joining, ...
    cluster_status: str  # Primary or non-Primary

    @property
    def healthy(self) -> bool:
        """In the primary component, synced and accepting queries."""
        return self.ready and self.state == "Synced" and self.cluster_status == "Primary"

    def describe(self) -> str:
        return (
            f"Galera node {self.node_name} ({self.state}, {self.cluster_status} component, "
            f"cluster size {self.cluster_size}{'' if self.ready else ', NOT ready'})"
        )


@dataclass(frozen=True)
class ReplicationState:
    """What SHOW REPLICA STATUS says on a replica (the first channel)."""

    source: str  # host:port it replicates from
    io_running: bool
    sql_running: bool
    seconds_behind: int | None  # None: the SQL thread is stopped or the lag is unknown
    last_error: str

    def describe(self) -> str:
        lag = "lag unknown" if self.seconds_behind is None else f"{self.seconds_behind} s behind"
        threads = "running" if self.io_running and self.sql_running else "NOT running"
        return f"replica of {self.source} (replication {threads}, {lag})"


@dataclass(frozen=True)
class Topology:
    flavour: str
    read_only: bool
    super_read_only: bool
    galera: GaleraState | None = None
    replication: ReplicationState | None = None
    # host:port of the replicas this server reports (SHOW REPLICAS / SHOW SLAVE HOSTS).
    replicas: tuple[str, ...] = field(default=())

    @property
    def is_galera(self) -> bool:
        return self.galera is not None

    @property
    def is_replica(self) -> bool:
        """A server sqlops must not change: read-only, or applying another server's changes.
        A Galera node is never a replica here (every node takes writes)."""
        if self.is_galera:
            return False
        return self.read_only or self.super_read_only or self.replication is not None

    @property
    def role(self) -> str:
        if self.is_galera:
            return "galera"
        if self.is_replica:
            return "replica"
        return "primary" if self.replicas else "standalone"

    def describe(self) -> str:
        if self.galera is not None:
            return self.galera.describe()
        parts = []
        if self.replication is not None:
            parts.append(self.replication.describe())
        if self.super_read_only:
            parts.append("super_read_only=ON")
        elif self.read_only:
            parts.append("read_only=ON")
        if self.replicas:
            parts.append(f"primary of {', '.join(self.replicas)}")
        return "; ".join(parts) or "a server on its own"


def _optional_dicts(session: Session, sql: str) -> list[dict[str, Any]] | None:
    """Rows of a SHOW statement, or None when this server or account cannot run it."""
    try:
        return session.query_dicts(sql)
    except pymysql.MySQLError as exc:
        if errno_of(exc) in _UNAVAILABLE:
            log.debug("%s: not available here (%s)", sql, exc)
            return None
        raise


def _variables(session: Session, names: tuple[str, ...]) -> dict[str, str]:
    marks = ", ".join(["%s"] * len(names))
    rows = session.query(f"SHOW GLOBAL VARIABLES WHERE Variable_name IN ({marks})", list(names))
    return {str(k).lower(): str(v) for k, v in rows}


def _status(session: Session, pattern: str) -> dict[str, str]:
    return {str(k).lower(): str(v) for k, v in session.query("SHOW GLOBAL STATUS LIKE %s", (pattern,))}


def inspect_galera(session: Session) -> GaleraState | None:
    """The node's wsrep state, or None when the server is no (active) Galera node."""
    if not session.info.is_mariadb:
        return None  # Galera is MariaDB's (MySQL's Group Replication is another thing)
    if _variables(session, ("wsrep_on",)).get("wsrep_on", "OFF").upper() != "ON":
        return None
    status = _status(session, "wsrep%")
    if not status.get("wsrep_cluster_size"):
        return None  # wsrep_on without a provider: a plain server
    name = _variables(session, ("wsrep_node_name",)).get("wsrep_node_name", "")
    return GaleraState(
        node_name=name,
        cluster_size=int(status.get("wsrep_cluster_size") or 0),
        ready=status.get("wsrep_ready", "OFF").upper() == "ON",
        state=status.get("wsrep_local_state_comment", ""),
        cluster_status=status.get("wsrep_cluster_status", ""),
    )


def inspect_replication(session: Session) -> ReplicationState | None:
    """The replica's own status, or None when it replicates from nobody (or may not say)."""
    rows = _optional_dicts(session, "SHOW REPLICA STATUS")
    if rows is None and session.info.is_mariadb:
        rows = _optional_dicts(session, "SHOW SLAVE STATUS")
    if not rows:
        return None
    row = rows[0]

    def pick(*names: str) -> Any:
        for name in names:
            if name in row:
                return row[name]
        return None

    lag = pick("Seconds_Behind_Source", "Seconds_Behind_Master")
    return ReplicationState(
        source=f"{pick('Source_Host', 'Master_Host')}:{pick('Source_Port', 'Master_Port')}",
        io_running=pick("Replica_IO_Running", "Slave_IO_Running") == "Yes",
        sql_running=pick("Replica_SQL_Running", "Slave_SQL_Running") == "Yes",
        seconds_behind=None if lag is None else int(lag),
        last_error=str(pick("Last_Error", "Last_SQL_Error") or ""),
    )


def reported_replicas(session: Session) -> tuple[str, ...]:
    """host:port of every replica registered with this server. A replica without
    report_host is listed by the address of its replication connection, on port 3306."""
    rows = _optional_dicts(session, "SHOW REPLICAS")
    if rows is None:
        rows = _optional_dicts(session, "SHOW SLAVE HOSTS") or []
    found = []
    for row in rows:
        host, port = row.get("Host") or "", row.get("Port") or 3306
        if host:
            found.append(f"{host}:{port}")
    if rows and len(found) == len(rows):
        return tuple(found)
    # Some replicas gave no report_host: fall back to their dump threads' client addresses.
    dumps = _optional_dicts(
        session,
        "SELECT HOST FROM information_schema.PROCESSLIST "
        "WHERE COMMAND IN ('Binlog Dump', 'Binlog Dump GTID')",
    )
    for row in dumps or []:
        address = str(row["HOST"]).rsplit(":", 1)[0]
        if not any(f.startswith(address + ":") for f in found):
            found.append(f"{address}:3306")
    return tuple(found)


def inspect_topology(session: Session, *, with_replicas: bool = False) -> Topology:
    """What this server is. `with_replicas` also lists the replicas it reports (for lag)."""
    names = ("read_only", "super_read_only") if not session.info.is_mariadb else ("read_only",)
    values = _variables(session, names)
    galera = inspect_galera(session)
    return Topology(
        flavour=session.info.flavour,
        read_only=values.get("read_only", "OFF").upper() in ("ON", "1"),
        super_read_only=values.get("super_read_only", "OFF").upper() in ("ON", "1"),
        galera=galera,
        replication=None if galera is not None else inspect_replication(session),
        replicas=reported_replicas(session) if with_replicas else (),
    )
