"""Metadata locks: who would make a DDL wait, and a watchdog that bounds one DDL attempt.

While an ALTER or RENAME waits for its exclusive metadata lock, every new insert into the table
queues behind it (DESIGN.md §4). So maintenance first looks for sessions that hold a metadata
lock on the table and will not let go soon — idle inside a transaction, or running a statement
for a second or more — and waits for them *without* queueing anything (it only reads the
server's lock lists). Only then does it send the DDL, and a watchdog on a second connection
ends that attempt (``KILL QUERY``) once it has waited ``limit`` seconds for its lock, so one
attempt never holds the writer up longer than that.

Why a watchdog: ``lock_wait_timeout`` takes whole seconds only, at least 1 on MySQL 9.7 (0 is
raised to 1), and MariaDB 10.11 waits twice that long on partition DDL; MariaDB's
``WAIT n``/``NOWAIT`` also take whole seconds (``WAIT 0.3`` acts as ``NOWAIT``) and MySQL has no
such clause. Verified on both servers: a ``KILL QUERY`` of an ALTER in state "Waiting for table
metadata lock" ends it with 1317 after ~0.3 s, having changed nothing.

Where the lock lists come from (the best available):

* ``performance_schema.metadata_locks`` (MySQL; MariaDB when performance_schema is on) — exact;
* MariaDB's ``information_schema.METADATA_LOCK_INFO`` (plugin ``metadata_lock_info``) — exact;
* otherwise InnoDB's transaction list (``information_schema.INNODB_TRX``) joined to the process
  list: transactions that are idle or long-running, on *some* table. Not exact, so maintenance
  still tries (each try bounded by the watchdog), just less often.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Literal

import pymysql

from sqlops.db import Session, connect

log = logging.getLogger("sqlops.mdl")

Source = Literal["performance_schema", "metadata_lock_info", "innodb_trx"]

# A holder counts as a blocker when it will not release its lock within one short attempt:
# idle inside a transaction (or LOCK TABLES), or in a statement running this long.
LONG_STATEMENT_SECONDS = 1

_WAITING = "Waiting for % metadata lock"  # table, schema, trigger … (both flavours)


@dataclass(frozen=True)
class Blocker:
    connection_id: int
    user: str
    host: str
    command: str
    seconds: int
    exact: bool  # known to hold a lock on the table (False: an open transaction somewhere)

    def describe(self) -> str:
        what = "idle in a transaction" if self.command == "Sleep" else f"running a statement ({self.command})"
        held = "holds a metadata lock on it" if self.exact else "has an open transaction"
        return (
            f"connection {self.connection_id} ({self.user}@{self.host}) {held}, {what} for {self.seconds} s"
        )


def lock_source(session: Session) -> Source:
    """Which lock list this server offers (read once per session)."""
    if session.mdl_source is not None:
        return session.mdl_source  # type: ignore[return-value]
    source: Source = "innodb_trx"
    try:
        if session.scalar("SELECT @@performance_schema") and session.scalar(
            "SELECT ENABLED = 'YES' FROM performance_schema.setup_instruments "
            "WHERE NAME = 'wait/lock/metadata/sql/mdl'"
        ):
            source = "performance_schema"
        elif session.info.is_mariadb and session.scalar(
            "SELECT COUNT(*) FROM information_schema.PLUGINS "
            "WHERE PLUGIN_NAME = 'METADATA_LOCK_INFO' AND PLUGIN_STATUS = 'ACTIVE'"
        ):
            source = "metadata_lock_info"
    except pymysql.err.MySQLError as exc:  # no access to performance_schema: fall back
        log.debug("metadata lock list unavailable: %s", exc)
    session.mdl_source = source
    return source


def _placeholders(values: tuple[str, ...]) -> str:
    return ", ".join(["%s"] * len(values))


def inspect_blockers(
    session: Session, tables: tuple[str, ...], *, ignore: tuple[int, ...] = ()
) -> list[Blocker]:
    """Sessions that would make DDL on `tables` (in the session's database) wait. Read-only."""
    source = lock_source(session)
    long = LONG_STATEMENT_SECONDS
    if source == "performance_schema":
        sql = (
            "SELECT DISTINCT t.PROCESSLIST_ID, t.PROCESSLIST_USER, t.PROCESSLIST_HOST, "
            "t.PROCESSLIST_COMMAND, t.PROCESSLIST_TIME FROM performance_schema.metadata_locks m "
            "JOIN performance_schema.threads t ON t.THREAD_ID = m.OWNER_THREAD_ID "
            "WHERE m.OBJECT_TYPE = 'TABLE' AND m.OBJECT_SCHEMA = DATABASE() AND m.LOCK_STATUS = 'GRANTED' "
            f"AND m.OBJECT_NAME IN ({_placeholders(tables)}) AND t.PROCESSLIST_ID <> CONNECTION_ID() "
            "AND (t.PROCESSLIST_COMMAND = 'Sleep' OR t.PROCESSLIST_TIME >= %s)"
        )
    elif source == "metadata_lock_info":
        sql = (
            "SELECT DISTINCT p.ID, p.USER, p.HOST, p.COMMAND, p.TIME "
            "FROM information_schema.METADATA_LOCK_INFO m "
            "JOIN information_schema.PROCESSLIST p ON p.ID = m.THREAD_ID "
            f"WHERE m.TABLE_SCHEMA = DATABASE() AND m.TABLE_NAME IN ({_placeholders(tables)}) "
            "AND p.ID <> CONNECTION_ID() AND (p.COMMAND = 'Sleep' OR p.TIME >= %s)"
        )
    else:
        sql = (
            "SELECT DISTINCT p.ID, p.USER, p.HOST, p.COMMAND, p.TIME FROM information_schema.INNODB_TRX x "
            "JOIN information_schema.PROCESSLIST p ON p.ID = x.trx_mysql_thread_id "
            "WHERE p.ID <> CONNECTION_ID() AND (p.COMMAND = 'Sleep' OR p.TIME >= %s)"
        )
    params: tuple[object, ...] = (long,) if source == "innodb_trx" else (*tables, long)
    rows = session.query(sql, params)
    exact = source != "innodb_trx"
    return [
        Blocker(int(r[0]), str(r[1] or ""), str(r[2] or ""), str(r[3] or ""), int(r[4] or 0), exact)
        for r in rows
        if r[0] is not None and int(r[0]) not in ignore
    ]


class Watchdog:
    """Ends a DDL attempt of `session` that waits longer than `limit` s for a metadata lock.

    Runs on its own connection (same account: ``KILL QUERY`` of one's own sessions needs no
    privilege). Use ``with watchdog.guard():`` around one statement; ``fired`` says whether
    it was this watchdog that ended it."""

    POLL = 0.05

    def __init__(self, session: Session, limit: float) -> None:
        self.target = session.connection_id
        self.limit = limit
        self._conn = connect(session.settings, with_database=False, zone_in_python=True)
        self.connection_id = self._conn.connection_id
        self.fired = False

    def close(self) -> None:
        self._conn.close()

    def guard(self) -> _Guard:
        self.fired = False
        return _Guard(self)

    def _watch(self, stop: threading.Event) -> None:
        waiting_since: float | None = None
        while not stop.wait(self.POLL):
            try:
                waiting = bool(
                    self._conn.scalar(
                        "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = %s AND STATE LIKE %s",
                        (self.target, _WAITING),
                    )
                )
            except pymysql.err.MySQLError as exc:
                log.warning("lock watchdog cannot read the process list: %s", exc)
                return
            now = time.monotonic()
            if not waiting:
                waiting_since = None
                continue
            waiting_since = waiting_since or now - self.POLL / 2
            if now - waiting_since >= self.limit and not stop.is_set():
                self.fired = True
                self._conn.execute(f"KILL QUERY {int(self.target)}")
                return


class _Guard:
    def __init__(self, watchdog: Watchdog) -> None:
        self.watchdog = watchdog
        self.stop = threading.Event()
        self.thread = threading.Thread(target=watchdog._watch, args=(self.stop,), daemon=True)

    def __enter__(self) -> Watchdog:
        self.thread.start()
        return self.watchdog

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()
