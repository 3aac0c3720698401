"""Plans of typed steps — DDL, state write, chunked copy, verify, swap — rendered or run by one
executor, so what ``--dry-run`` prints is what runs.

A :class:`~sqlops.plan.Plan` is a list of statements each sent once. The online copy and the
rollup also copy rows in chunks, compare checksums and record their progress; those steps are
typed here, and each knows the statements it sends. :func:`render_steps` turns a step list into a
Plan for :func:`sqlops.plan.render` (a valid script: a chunked step is shown as one chunk over the
whole range, with the user variables it reads set first); :func:`run_steps` sends the very same
statements — DDL through :func:`sqlops.plan.execute` (tagged, logged, lock-wait), the rest in
transactions, tagged and logged the same way.

Chunked statements read their key range from ``@sqlops_low`` / ``@sqlops_high`` (constants to
the optimizer, so the range scan stays a range scan) and may leave a row count in
``@sqlops_rows``: the statement text is then identical in the script and in every chunk sent.
Resuming is the planners' job: they read their progress and leave out the steps already done,
starting a chunked step at the key it had reached.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlops.db import Session, quote_ident, retry_transaction
from sqlops.errors import PreconditionError
from sqlops.plan import LockWait, Plan, Statement, execute, tag

log = logging.getLogger("sqlops.steps")

LOW, HIGH, ROWS = "@sqlops_low", "@sqlops_high", "@sqlops_rows"


@dataclass(frozen=True)
class Ddl:
    """Schema statements, sent by :func:`sqlops.plan.execute`; with `lock_tables`, under a
    :class:`~sqlops.plan.LockWait` on those tables (writers never queue behind them)."""

    statements: tuple[Statement, ...]
    lock_tables: tuple[str, ...] = ()

    def rendered(self) -> tuple[Statement, ...]:
        return self.statements


@dataclass(frozen=True)
class Swap(Ddl):
    """The RENAME that puts the new table in place (the caller's `before_swap` runs first)."""


@dataclass(frozen=True)
class StateWrite:
    """Statements sent in one transaction (progress bookkeeping, a day recomputed)."""

    statements: tuple[Statement, ...]
    what: str = "state write"
    attempts: int = 8

    def rendered(self) -> tuple[Statement, ...]:
        return self.statements


@dataclass(frozen=True)
class ChunkSizing:
    initial_rows: int
    max_rows: int
    # Aim each chunk at this many seconds (rows grow or shrink by at most 2x); None: fixed size.
    target_seconds: float | None = None


@dataclass(frozen=True)
class Chunked:
    """Statements sent once per key range (`@sqlops_low`, `@sqlops_high`], each range in one
    transaction, from `low` up to the value of `cap_sql` (read when the step starts)."""

    reason: str
    table: str  # the table whose keys are walked
    key: str
    low: int
    cap_sql: str  # a scalar query; rendered as the value of @sqlops_high
    statements: tuple[Statement, ...]
    sizing: ChunkSizing
    # After the statements: "SELECT @sqlops_rows" counts the chunk's rows; None counts nothing.
    rows_sql: str | None = f"SELECT {ROWS}"
    attempts: int = 8
    rows_before: int = 0  # rows counted by the runs before this one (progress reports the sum)

    def rendered(self) -> tuple[Statement, ...]:
        bounds = Statement(
            f"SET {LOW} = {int(self.low)}, {HIGH} = ({self.cap_sql})",
            f"{self.reason}: the run sends the statements below once per chunk of {self.table}.{self.key} "
            f"(chunks of {_size_text(self.sizing)}, each one transaction); a script sends one chunk over "
            "the whole range",
        )
        return (bounds, *self.statements)


@dataclass(frozen=True)
class Verify:
    """Two scalar-pair queries (count, checksum) read in one consistent snapshot; unequal
    results stop the run before anything is swapped."""

    what: str
    source_sql: str
    copy_sql: str
    attempts: int = 5

    def rendered(self) -> tuple[Statement, ...]:
        return (
            Statement(self.source_sql, f"verify {self.what}: count and checksum of the original"),
            Statement(
                self.copy_sql, "... and of the copy, in the same consistent snapshot; they must be equal"
            ),
        )


Step = Ddl | StateWrite | Chunked | Verify


def _size_text(sizing: ChunkSizing) -> str:
    if sizing.target_seconds is None:
        return f"{sizing.initial_rows} rows"
    return f"about {sizing.target_seconds:g} s"


def render_steps(job: str, target: str, steps: Sequence[Step], notes: Sequence[str] = ()) -> Plan:
    """The steps as a Plan of statements, for :func:`sqlops.plan.render` (``--dry-run``)."""
    return Plan(job, target, tuple(s for step in steps for s in step.rendered()), tuple(notes))


def rendered_sql(steps: Sequence[Step]) -> list[str]:
    return [s.sql for step in steps for s in step.rendered()]


@dataclass(frozen=True)
class ChunkProgress:
    cap: int
    copied_up_to: int
    rows_copied: int
    chunk_rows: int
    seconds: float


class VerificationFailed(PreconditionError):
    pass


@dataclass
class StepsResult:
    # Every step run, as rendered (a chunked step once, however many chunks it took).
    statements: list[str] = field(default_factory=list)
    chunks: int = 0
    rows: int = 0  # rows the chunked steps counted
    cap: int = 0  # the last chunked step's upper bound
    reached: int = 0  # the key the last chunked step has copied up to
    verified_rows: int = 0
    stopped: bool = False
    seconds: float = 0.0


@dataclass
class StepHooks:
    progress: Callable[[ChunkProgress], None] | None = None
    # Called before every chunk: the one place a throttle (replica lag, load) waits.
    throttle: Callable[[], None] | None = None
    before_swap: Callable[[Session], None] | None = None
    stop: threading.Event | None = None
    # Filled in by the caller to hear about each step as it finishes (e.g. rows so far).
    on_step: Callable[[Step], None] | None = None


def run_steps(
    session: Session,
    job: str,
    target: str,
    steps: Sequence[Step],
    *,
    hooks: StepHooks | None = None,
    allow_destructive: bool = True,
) -> StepsResult:
    """Run the steps in order (the caller holds the job's named lock)."""
    hooks = hooks or StepHooks()
    started = time.monotonic()
    result = StepsResult()
    for step in steps:
        if hooks.stop is not None and hooks.stop.is_set():
            result.stopped = True
            break
        if isinstance(step, Ddl):
            if isinstance(step, Swap) and hooks.before_swap is not None:
                hooks.before_swap(session)
            wait = LockWait.for_tables(session.settings, *step.lock_tables) if step.lock_tables else None
            execute(
                session,
                Plan(job, target, step.statements),
                allow_destructive=allow_destructive,
                lock_wait=wait,
            )
        elif isinstance(step, StateWrite):
            retry_transaction(
                session,
                functools.partial(_send_all, session, job, step.statements),
                what=step.what,
                attempts=step.attempts,
            )
        elif isinstance(step, Chunked):
            _run_chunks(session, job, step, result, hooks, started)
            if result.stopped:
                break
        else:
            result.verified_rows = _verify(session, job, step)
        result.statements += [s.sql for s in step.rendered()]
        if hooks.on_step is not None:
            hooks.on_step(step)
    result.seconds = time.monotonic() - started
    return result


def _send(session: Session, job: str, sql: str, params: tuple[object, ...] | None = None) -> None:
    text = tag(job, sql.strip().rstrip(";"))
    t0 = time.monotonic()
    session.execute(text, params)
    log.debug("%.3f s  %s", time.monotonic() - t0, " ".join(text.split())[:200])


def _send_all(session: Session, job: str, statements: Sequence[Statement]) -> None:
    for statement in statements:
        _send(session, job, statement.sql)


def _run_chunks(
    session: Session, job: str, step: Chunked, result: StepsResult, hooks: StepHooks, started: float
) -> None:
    key, table = quote_ident(step.key), quote_ident(step.table)
    cap = int(session.scalar(step.cap_sql) or 0)
    last, rows = step.low, step.rows_before
    size = step.sizing.initial_rows
    result.cap, result.reached = cap, last
    log.info("%s: %s %s..%s", step.reason, step.key, last, cap)

    def chunk(low: int, high: int) -> int:
        _send(session, job, f"SET {LOW} = %s, {HIGH} = %s", (low, high))
        _send_all(session, job, step.statements)
        return int(session.scalar(step.rows_sql) or 0) if step.rows_sql else 0

    while last < cap:
        if hooks.throttle is not None:
            hooks.throttle()  # may wait (replica lag, load); a stop asked meanwhile wins
        if hooks.stop is not None and hooks.stop.is_set():
            result.stopped = True
            return
        upper_rows = session.query(
            f"SELECT {key} FROM {table} WHERE {key} > %s AND {key} <= %s ORDER BY {key} LIMIT 1 OFFSET %s",
            (last, cap, max(1, size) - 1),
        )
        upper = int(upper_rows[0][0]) if upper_rows else cap
        t0 = time.monotonic()
        low = last
        counted = retry_transaction(
            session,
            functools.partial(chunk, low, upper),
            what=f"{step.reason}, {step.key} {low}..{upper}",
            attempts=step.attempts,
        )
        elapsed = time.monotonic() - t0
        last, rows = upper, rows + counted
        result.reached = last
        result.chunks += 1
        result.rows += counted
        target = step.sizing.target_seconds
        # Aim each chunk at target_seconds: the writer's inserts can wait on the chunk's
        # auto-increment and gap locks for that long, never more.
        if target is not None and elapsed > 0:
            scale = max(0.5, min(2.0, target / elapsed))
            size = int(max(100, min(step.sizing.max_rows, size * scale)))
        if hooks.progress:
            hooks.progress(ChunkProgress(cap, last, rows, size, time.monotonic() - started))


def _verify(session: Session, job: str, step: Verify) -> int:
    def read() -> tuple[tuple[Any, ...], tuple[Any, ...]]:
        return (
            session.query(tag(job, step.source_sql))[0],
            session.query(tag(job, step.copy_sql))[0],
        )

    (src_count, src_sum), (dst_count, dst_sum) = retry_transaction(
        session,
        read,
        what=f"verifying {step.what}",
        attempts=step.attempts,
        start="START TRANSACTION WITH CONSISTENT SNAPSHOT",
    )
    if (src_count, src_sum) != (dst_count, dst_sum):
        raise VerificationFailed(
            f"verification of {step.what} failed: {src_count} rows (checksum {src_sum}) "
            f"in the table, {dst_count} rows (checksum {dst_sum}) in the shadow",
            why="something wrote to the shadow table, or a trigger was dropped during the copy",
            fix="nothing was swapped; undo with --abort and run the command again",
        )
    log.info("verified %s rows of %s (checksum %s)", src_count, step.what, src_sum)
    return int(src_count)
