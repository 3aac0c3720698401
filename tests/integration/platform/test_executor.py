"""The executors' own semantics on real servers: plan.execute retries lock waits, stops at the
first error saying what ran, skips destructive statements unless allowed; the step executor
sends what it renders, calls the throttle once per chunk and stops between steps."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from support.scripts import normal, statements_in

from sqlops.plan import Plan, PlanExecutionError, Statement, execute, render
from sqlops.steps import Chunked, ChunkSizing, Ddl, StateWrite, StepHooks, render_steps, run_steps


def _tables(db) -> set[str]:  # type: ignore[no-untyped-def]
    return {r[0] for r in db.sql("SHOW TABLES")}


def test_execute_stops_at_the_first_error_and_says_what_ran(db) -> None:  # type: ignore[no-untyped-def]
    plan = Plan(
        "test",
        "t",
        (
            Statement("CREATE TABLE a (id INT PRIMARY KEY)", "first"),
            Statement("CREATE TABLE a (id INT PRIMARY KEY)", "second, fails: a exists"),
            Statement("CREATE TABLE c (id INT PRIMARY KEY)", "third, never sent"),
        ),
    )
    with db.connect() as session, pytest.raises(PlanExecutionError) as caught:
        execute(session, plan)
    assert [e.statement.reason for e in caught.value.result.executed] == ["first"]
    assert caught.value.failed.reason == "second, fails: a exists"
    assert (
        "statement 2 of 3 failed: (1050)" in caught.value.what
        and "Already done (1): first" in caught.value.why
    )
    assert _tables(db) == {"a"}


def test_destructive_statements_run_only_when_allowed(db) -> None:  # type: ignore[no-untyped-def]
    db.sql("CREATE TABLE a (id INT PRIMARY KEY)")
    plan = Plan(
        "test",
        "t",
        (Statement("DROP TABLE a", "drop", destructive=True), Statement("CREATE TABLE b (id INT)", "create")),
    )
    with db.connect() as session:
        result = execute(session, plan)
        assert [s.reason for s in result.skipped] == ["drop"] and len(result.executed) == 1
        assert _tables(db) == {"a", "b"}
        execute(session, Plan("test", "t", plan.statements[:1]), allow_destructive=True)
    assert _tables(db) == {"b"}


@contextlib.contextmanager
def _row_locked(db) -> Iterator[Any]:  # type: ignore[no-untyped-def]
    """Table `a` with one row another connection holds FOR UPDATE (yields that connection)."""
    db.sql("CREATE TABLE a (id INT PRIMARY KEY, v INT)")
    db.sql("INSERT INTO a VALUES (1, 0)")
    holder = db.server.admin(db.name)
    holder.begin()
    with holder.cursor() as cur:
        cur.execute("SELECT * FROM a WHERE id = 1 FOR UPDATE")
    try:
        yield holder
    finally:
        holder.close()


def test_a_lock_wait_timeout_is_retried_until_the_lock_is_free(db) -> None:  # type: ignore[no-untyped-def]
    plan = Plan("test", "a", (Statement("UPDATE a SET v = v + 1 WHERE id = 1", "bump"),))
    with _row_locked(db) as holder:
        release = threading.Timer(1.5, holder.commit)
        release.start()
        try:
            with db.connect() as session:
                session.execute("SET SESSION innodb_lock_wait_timeout = 1")
                result = execute(session, plan, attempts=6, first_delay=0.1)
        finally:
            release.join()
    assert result.executed[0].attempts >= 2  # the first attempt timed out (1205)
    assert db.sql("SELECT v FROM a") == [(1,)]


def test_without_retry_a_lock_wait_timeout_fails_at_once(db) -> None:  # type: ignore[no-untyped-def]
    plan = Plan("test", "a", (Statement("UPDATE a SET v = 1 WHERE id = 1", "bump", retry=False),))
    with _row_locked(db), db.connect() as session, pytest.raises(PlanExecutionError, match="1205"):
        session.execute("SET SESSION innodb_lock_wait_timeout = 1")
        execute(session, plan, attempts=6, first_delay=0.1)


def _copy_steps(low: int = 0) -> list:  # type: ignore[type-arg]
    return [
        Ddl((Statement("CREATE TABLE IF NOT EXISTS dst (id INT PRIMARY KEY, v INT)", "target"),)),
        StateWrite(
            (
                Statement("CREATE TABLE IF NOT EXISTS mark (n INT PRIMARY KEY, upto INT, total INT)", "mark"),
                Statement("INSERT IGNORE INTO mark VALUES (1, 0, 0)", "start"),
            )
        ),
        Chunked(
            reason="copy src",
            table="src",
            key="id",
            low=low,
            cap_sql="SELECT MAX(id) FROM src",
            statements=(
                Statement(
                    "INSERT INTO dst SELECT id, v FROM src WHERE id > @sqlops_low AND id <= @sqlops_high",
                    "copy",
                ),
                Statement("SET @sqlops_rows = ROW_COUNT()", "count"),
                Statement("UPDATE mark SET upto = @sqlops_high, total = total + @sqlops_rows", "mark"),
            ),
            sizing=ChunkSizing(7, 7),
        ),
    ]


def test_the_step_executor_sends_what_it_renders_and_throttles_each_chunk(db) -> None:  # type: ignore[no-untyped-def]
    db.sql("CREATE TABLE src (id INT PRIMARY KEY, v INT)")
    db.sql("INSERT INTO src SELECT seq, seq * 2 FROM (" + _seq(50) + ") AS s")
    steps = _copy_steps()
    script = render(render_steps("test", "src", steps))
    throttled: list[int] = []
    with db.connect() as session:
        hooks = StepHooks(throttle=lambda: throttled.append(1))
        result = run_steps(session, "test", "src", steps, hooks=hooks)
    assert statements_in(script) == [normal(s) for s in result.statements]
    assert result.chunks == 8 and len(throttled) == 8 and result.rows == 50  # ceil(50 / 7)
    assert db.sql("SELECT upto, total FROM mark") == [(50, 50)]
    assert db.sql("SELECT COUNT(*), SUM(v) FROM dst") == [(50, 2550)]


def test_the_script_runs_as_one_chunk_in_the_mysql_client(db) -> None:  # type: ignore[no-untyped-def]
    db.sql("CREATE TABLE src (id INT PRIMARY KEY, v INT)")
    db.sql("INSERT INTO src SELECT seq, seq FROM (" + _seq(20) + ") AS s")
    conn = db.server.admin(db.name)
    with conn.cursor() as cur:
        for statement in statements_in(render(render_steps("test", "src", _copy_steps()))):
            cur.execute(statement)
    conn.commit()
    conn.close()
    assert db.sql("SELECT upto, total FROM mark") == [(20, 20)]


def test_a_stop_between_chunks_keeps_the_progress_made(db) -> None:  # type: ignore[no-untyped-def]
    db.sql("CREATE TABLE src (id INT PRIMARY KEY, v INT)")
    db.sql("INSERT INTO src SELECT seq, seq FROM (" + _seq(30) + ") AS s")
    stop = threading.Event()
    with db.connect() as session:
        result = run_steps(
            session, "test", "src", _copy_steps(), hooks=StepHooks(throttle=stop.set, stop=stop)
        )
    # The throttle runs before the first chunk's bounds are read: set there, nothing is copied.
    assert result.stopped and result.chunks == 0
    assert db.sql("SELECT upto FROM mark") == [(0,)]
    with db.connect() as session:
        again = run_steps(session, "test", "src", _copy_steps(low=0))
    assert again.rows == 30 and db.sql("SELECT COUNT(*) FROM dst") == [(30,)]


def _seq(n: int) -> str:
    """SELECT 1..n AS seq without a sequence engine (MySQL has none)."""
    digits = "SELECT 0 AS d UNION ALL " + " UNION ALL ".join(f"SELECT {i}" for i in range(1, 10))
    return (
        f"SELECT a.d * 10 + b.d + 1 AS seq FROM ({digits}) AS a CROSS JOIN ({digits}) AS b "
        f"WHERE a.d * 10 + b.d + 1 <= {n}"
    )
