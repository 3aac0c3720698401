"""A cluster-wide job lock for Galera: a row with a lease and the holder's identity.

``GET_LOCK()`` is local to one Galera node, so two runs on two nodes would both hold it. A
row in ``sqlops_cluster_locks`` is different: taking it is a committed write, and Galera
certifies every commit against all the others cluster-wide, so of two runs that write the row
at once exactly one commits; the other gets deadlock 1213 at COMMIT (a certification failure)
or is aborted by the winner's replicated write, rolls back, reads again and sees the holder.
Reads for that decision wait for the node to apply everything committed before them
(``wsrep_sync_wait=1``), so a stale node cannot miss a live holder.

A holder that dies keeps the row: its lease (``expires_at``) then runs out, and the next run
takes the lock over. While a run is alive a thread renews the lease on its own connection
(the job's session is busy with DDL) every third of the lease.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pymysql

from sqlops.config import DatabaseConfig
from sqlops.db import Session, connect, errno_of, quote_ident
from sqlops.errors import LockHeldError
from sqlops.schema.inspect import table_exists

log = logging.getLogger("sqlops.cluster")

TABLE = "sqlops_cluster_locks"
DEFAULT_LEASE_SECONDS = 60.0
# Certification failure / brute-force abort (1213), lock wait (1205), a row inserted by
# another node between our read and our write (1062).
_RACE = frozenset({1213, 1205, 1062})

CREATE = f"""CREATE TABLE IF NOT EXISTS {quote_ident(TABLE)} (
  name VARCHAR(64) NOT NULL PRIMARY KEY,
  holder VARCHAR(255) NOT NULL COMMENT 'host:pid and the node it connected to',
  token CHAR(32) NOT NULL COMMENT 'one per acquisition: only its owner renews or frees the row',
  acquired_at DATETIME(6) NOT NULL COMMENT 'UTC',
  expires_at DATETIME(6) NOT NULL COMMENT 'UTC; a lock past this is free'
) ENGINE=InnoDB COMMENT='sqlops: cluster-wide job locks (Galera), see sqlops/cluster/lease.py'"""


@dataclass(frozen=True)
class Holder:
    holder: str
    acquired_at: object
    expires_at: object

    def describe(self) -> str:
        return f"{self.holder} since {self.acquired_at} UTC (lease until {self.expires_at} UTC)"


def holder_identity(session: Session, node: str = "") -> str:
    where = f" on node {node}" if node else ""
    return f"{socket.gethostname()}:{os.getpid()} (connection {session.connection_id}{where})"


def ensure_table(session: Session) -> None:
    # Checked first: on Galera even a no-op CREATE ... IF NOT EXISTS is a cluster-wide DDL.
    if not table_exists(session, TABLE):
        session.execute(CREATE)


def current_holder(session: Session, name: str) -> Holder | None:
    rows = session.query(
        f"SELECT holder, acquired_at, expires_at FROM {quote_ident(TABLE)} "
        "WHERE name = %s AND expires_at > UTC_TIMESTAMP(6)",
        (name,),
    )
    return Holder(*rows[0]) if rows else None


def _causal_reads(session: Session) -> None:
    """Reads on this Galera session wait until the node has applied what the cluster committed."""
    with contextlib.suppress(pymysql.MySQLError):
        session.execute("SET SESSION wsrep_sync_wait = 1")


def try_acquire(session: Session, name: str, holder: str, token: str, lease: float) -> Holder | None:
    """One attempt: take the row (free, expired or ours). Returns the live holder when another
    run has it, None when we now hold it. Raises the driver error on a race (see _RACE)."""
    session.execute("BEGIN")
    try:
        rows = session.query(
            f"SELECT holder, acquired_at, expires_at, token, expires_at > UTC_TIMESTAMP(6) "
            f"FROM {quote_ident(TABLE)} WHERE name = %s FOR UPDATE",
            (name,),
        )
        if rows and rows[0][4] and rows[0][3] != token:
            session.rollback()
            return Holder(*rows[0][:3])
        session.execute(
            f"INSERT INTO {quote_ident(TABLE)} (name, holder, token, acquired_at, expires_at) "
            "VALUES (%s, %s, %s, UTC_TIMESTAMP(6), UTC_TIMESTAMP(6) + INTERVAL %s MICROSECOND) "
            "ON DUPLICATE KEY UPDATE holder = VALUES(holder), token = VALUES(token), "
            "acquired_at = VALUES(acquired_at), expires_at = VALUES(expires_at)",
            (name, holder, token, int(lease * 1_000_000)),
        )
        session.commit()
    except BaseException:
        with contextlib.suppress(pymysql.MySQLError):
            session.rollback()
        raise
    return None


def acquire(session: Session, name: str, holder: str, token: str, lease: float, attempts: int = 10) -> None:
    """Take the lease or raise LockHeldError naming the holder."""
    _causal_reads(session)
    ensure_table(session)
    for attempt in range(1, attempts + 1):
        try:
            other = try_acquire(session, name, holder, token, lease)
        except pymysql.MySQLError as exc:
            if errno_of(exc) not in _RACE or attempt == attempts:
                raise
            log.info("cluster lock %s: lost a race (%s); reading again", name, exc.args[0])
            continue
        if other is None:
            return
        raise LockHeldError(
            f"another run holds the cluster-wide lock {name!r}: {other.describe()}",
            why="sqlops runs one maintenance job per table at a time across the whole Galera cluster",
            fix="wait for it to finish; a holder that died frees the lock when its lease runs out",
        )


def renew(session: Session, name: str, token: str, lease: float) -> bool:
    changed = session.execute(
        f"UPDATE {quote_ident(TABLE)} SET expires_at = UTC_TIMESTAMP(6) + INTERVAL %s MICROSECOND "
        "WHERE name = %s AND token = %s",
        (int(lease * 1_000_000), name, token),
    )
    return changed == 1


def release(session: Session, name: str, token: str) -> None:
    session.execute(f"DELETE FROM {quote_ident(TABLE)} WHERE name = %s AND token = %s", (name, token))


class _Renewer(threading.Thread):
    """Keeps the lease alive on its own connection while the job runs."""

    def __init__(self, settings: DatabaseConfig, name: str, token: str, lease: float) -> None:
        super().__init__(name=f"lease:{name}", daemon=True)
        self.settings, self.lock, self.token, self.lease = settings, name, token, lease
        self.done = threading.Event()
        self.lost = False

    def run(self) -> None:
        while not self.done.wait(self.lease / 3):
            try:
                with connect(self.settings) as session:
                    if not renew(session, self.lock, self.token, self.lease):
                        self.lost = True
                        log.error("cluster lock %s: the lease was taken over by another run", self.lock)
                        return
            except Exception as exc:  # a node restart: try again next period
                log.warning("cluster lock %s: could not renew the lease (%s)", self.lock, exc)


@contextlib.contextmanager
def cluster_lock(
    session: Session, name: str, *, node: str = "", lease: float = DEFAULT_LEASE_SECONDS
) -> Iterator[str]:
    """Hold the cluster-wide lease `name` for the block; yields the holder identity."""
    token = uuid.uuid4().hex
    holder = holder_identity(session, node)
    acquire(session, name, holder, token, lease)
    renewer = _Renewer(session.settings, name, token, lease)
    renewer.start()
    try:
        yield holder
    finally:
        renewer.done.set()
        renewer.join(5)
        with contextlib.suppress(pymysql.MySQLError):
            release(session, name, token)
