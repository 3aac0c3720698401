"""Maintenance never holds the logger up behind a metadata lock (issue #10).

A writer thread inserts continuously and measures every insert; another session holds an open
transaction that touched the table; maintenance DDL (rotate's partition splits, the online
copy's triggers and final RENAME) must wait for that transaction *without queueing* the writer:
no insert may take 0.5 s or more, the DDL runs once the transaction ends, and a run that cannot
get in by its deadline fails with a message naming the blocking connection."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import pymysql
import pytest
from support.logtable import create_log_table, insert_days, partition_like_migrate

from sqlops.config import Config, PartitionTableConfig
from sqlops.partitions.inspect import inspect_partitions
from sqlops.partitions.rotate import Target, run_rotate, targets

D = dt.date
LIMIT = 0.5  # the most maintenance may hold one insert of the logger up, in seconds


def target(**policy: object) -> Target:
    (t,) = targets(Config(partitions={"access_log": PartitionTableConfig(**policy)}))  # type: ignore[arg-type]
    return t


@dataclass
class Writer:
    """Inserts one row every ~20 ms on its own connection and records each insert's latency.

    Like the logging daemon's writer it sends a statement again after a deadlock (1213: InnoDB
    rolled it back; the mirror triggers of an online copy can make a RENAME and an insert pick
    each other): the latency counts the retry, `deadlocks` how often it happened."""

    connect: Callable[[], pymysql.connections.Connection]
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    deadlocks: int = 0
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        conn = self.connect()
        try:
            while not self.stop.is_set():
                started = time.monotonic()
                for attempt in range(3):
                    try:
                        with conn.cursor() as cur:
                            cur.execute(
                                "INSERT INTO access_log (date_day, http_url) VALUES ('2026-01-02', 'w')"
                            )
                        break
                    except pymysql.MySQLError as exc:
                        if exc.args and exc.args[0] == 1213 and attempt < 2:
                            self.deadlocks += 1
                            continue
                        self.errors.append(repr(exc))
                        break
                self.latencies.append(time.monotonic() - started)
                time.sleep(0.02)
        finally:
            conn.close()

    @property
    def worst(self) -> float:
        return max(self.latencies)


@contextmanager
def writing(db) -> Iterator[Writer]:  # type: ignore[no-untyped-def]
    writer = Writer(lambda: db.server.admin(db.name))
    thread = threading.Thread(target=writer.run)
    thread.start()
    try:
        yield writer
    finally:
        writer.stop.set()
        thread.join(10)
    print(
        f"{db.flavour}: {len(writer.latencies)} inserts, worst {writer.worst:.3f} s, {writer.deadlocks} deadlock(s)"
    )


def open_transaction(db):  # type: ignore[no-untyped-def]
    """A session idle inside a transaction that read the table: it holds a shared metadata lock."""
    conn = db.server.admin(db.name)
    conn.begin()
    with conn.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM access_log")
        cur.execute("SELECT CONNECTION_ID()")
        conn_id = cur.fetchone()[0]
    return conn, conn_id


def partitioned_log(db) -> None:  # type: ignore[no-untyped-def]
    with db.connect() as session:
        create_log_table(session)
        partition_like_migrate(session, "access_log", D(2026, 1, 1), D(2026, 1, 1), premake=0)
        insert_days(session, [D(2026, 1, 3)], per_day=50)


def test_rotate_waits_for_an_open_transaction_without_stalling_the_writer(db) -> None:  # type: ignore[no-untyped-def]
    partitioned_log(db)
    blocker, _ = open_transaction(db)
    result: dict[str, object] = {}

    def rotate() -> None:
        try:
            result["outcome"] = run_rotate(
                db.settings(ddl_deadline=60), target(premake_months=3), today=D(2026, 1, 10)
            )
        except Exception as exc:
            result["error"] = exc

    with writing(db) as writer:
        time.sleep(0.3)
        rotator = threading.Thread(target=rotate)
        rotator.start()
        time.sleep(4)  # several polls and attempts while the transaction stays open
        assert rotator.is_alive(), f"rotate did not wait for the open transaction: {result}"
        blocker.commit()
        blocker.close()
        rotator.join(60)
        time.sleep(0.3)
    assert "error" not in result, result["error"]
    assert result["outcome"].rotate_plan.created == ("p2026m02", "p2026m03", "p2026m04")  # type: ignore[attr-defined]
    assert writer.errors == []
    assert writer.worst < LIMIT, f"an insert waited {writer.worst:.2f} s behind rotate's DDL"


def test_rotate_that_cannot_get_in_fails_clearly_at_its_deadline(db) -> None:  # type: ignore[no-untyped-def]
    from sqlops.plan import LockWaitExpired

    partitioned_log(db)
    blocker, blocker_id = open_transaction(db)
    try:
        with writing(db) as writer:
            started = time.monotonic()
            with pytest.raises(LockWaitExpired) as caught:
                run_rotate(db.settings(ddl_deadline=3), target(premake_months=2), today=D(2026, 1, 10))
            took = time.monotonic() - started
    finally:
        blocker.rollback()
        blocker.close()
    message = str(caught.value)
    assert f"connection {blocker_id}" in message, message
    assert "ddl_deadline" in message and f"KILL {blocker_id}" in message, message
    assert 2.5 < took < 10, took
    assert writer.errors == [] and writer.worst < LIMIT, writer.worst
    with db.connect() as session:
        state = inspect_partitions(session, "access_log", "date_day")
        assert [p.name for p in state.partitions][-1] == "pcatchall"
        assert "p2026m02" not in [p.name for p in state.partitions]


def test_online_copy_swap_waits_for_an_open_transaction_without_stalling_the_writer(db) -> None:  # type: ignore[no-untyped-def]
    """The final RENAME of migrate (and schema upgrade: same engine) waits the same way."""
    from sqlops.online.copy import run_online_copy
    from sqlops.partitions.migrate import analyse_migrate, migrate_layout, migrate_spec

    with db.connect() as session:
        create_log_table(session)
        insert_days(session, [D(2026, 1, 3), D(2026, 2, 3)], per_day=200)
    holder: dict[str, object] = {}

    def block_the_swap(_session: object) -> None:
        holder["conn"], _ = open_transaction(db)
        timer = threading.Timer(3.0, lambda: (holder["conn"].commit(), holder["conn"].close()))  # type: ignore[attr-defined]
        timer.start()
        holder["timer"] = timer

    with writing(db) as writer, db.connect(ddl_deadline=60) as session:
        analysis = analyse_migrate(session, "access_log", "date_day")
        layout = migrate_layout(analysis, D(2026, 2, 10), 1)
        started = time.monotonic()
        result = run_online_copy(
            session, migrate_spec(analysis, layout, keep_old=False), before_swap=block_the_swap
        )
        took = time.monotonic() - started
    holder["timer"].join()  # type: ignore[attr-defined]
    assert took > 2.5, "the RENAME did not wait for the open transaction"
    assert result.verified_rows >= 400
    with db.connect() as session:
        assert inspect_partitions(session, "access_log", "date_day").partitioned
    assert writer.errors == []
    assert writer.worst < LIMIT, f"an insert waited {writer.worst:.2f} s behind the RENAME"
