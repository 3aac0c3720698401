"""Plans: ordered, reasoned statements, rendered as a SQL script or executed — one path for both.

Every schema change in sqlops is a :class:`Plan` built from inspected state before anything runs.
``render()`` turns it into a script a DBA can review (``--dry-run > change.sql``); ``execute()``
is the only function that sends DDL: it tags each statement ``/* sqlops:<job> */``, logs it
with its duration, retries metadata-lock timeouts and deadlocks, and stops at the first error,
reporting what already ran. Destructive statements run only when the caller allows them.

With a :class:`LockWait`, DDL on a table the logging daemon writes never holds the writer up
for more than ``attempt_seconds``: the executor waits for sessions that hold the table's
metadata lock without queueing (it polls the server's lock lists, see :mod:`sqlops.mdl`), then
sends each attempt under a watchdog, backing off between attempts until an overall deadline.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import pymysql

from sqlops.config import DatabaseConfig
from sqlops.db import RETRYABLE, Session, errno_of
from sqlops.errors import SqlopsError
from sqlops.mdl import Blocker, Watchdog, inspect_blockers

log = logging.getLogger("sqlops.plan")


@dataclass(frozen=True)
class Statement:
    sql: str
    reason: str
    destructive: bool = False
    # Statements that take a metadata lock are retried after lock-wait timeouts (1205) and
    # deadlocks (1213) instead of failing the run.
    retry: bool = True


@dataclass(frozen=True)
class Plan:
    job: str
    target: str
    statements: tuple[Statement, ...] = ()
    notes: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.statements)

    def __len__(self) -> int:
        return len(self.statements)

    def extend(self, statements: Iterable[Statement], notes: Iterable[str] = ()) -> Plan:
        return Plan(self.job, self.target, self.statements + tuple(statements), self.notes + tuple(notes))

    @property
    def destructive(self) -> tuple[Statement, ...]:
        return tuple(s for s in self.statements if s.destructive)


def tag(job: str, sql: str) -> str:
    return f"/* sqlops:{job} */ {sql}"


def render(plan: Plan, *, generated_at: dt.datetime | None = None) -> str:
    """The plan as a SQL script. Statements with a `;` inside (trigger bodies) are wrapped in
    DELIMITER lines so that the mysql client runs the script as-is."""
    when = (generated_at or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%d %H:%M:%S UTC")
    lines = [f"-- sqlops {plan.job} plan for {plan.target}, generated {when}"]
    for note in plan.notes:
        lines.append(f"-- note: {note}")
    if not plan.statements:
        lines.append("-- nothing to do")
    for number, statement in enumerate(plan.statements, start=1):
        lines.append("")
        flag = " [destructive]" if statement.destructive else ""
        for i, reason_line in enumerate(statement.reason.splitlines() or [""]):
            prefix = f"-- {number}.{flag} " if i == 0 else "--    "
            lines.append(prefix + reason_line)
        sql = statement.sql.strip().rstrip(";")
        if _has_inner_semicolon(sql):
            lines += ["DELIMITER $$", sql + " $$", "DELIMITER ;"]
        else:
            lines.append(sql + ";")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Executed:
    statement: Statement
    seconds: float
    attempts: int


@dataclass
class ExecutionResult:
    plan: Plan
    executed: list[Executed] = field(default_factory=list)
    skipped: list[Statement] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return sum(e.seconds for e in self.executed)


# Advice for server errors a maintenance user meets first; see README "Privileges".
_FIXES = {
    1419: "the account may not create triggers while binary logging is on: GRANT SUPER to it "
    "or SET GLOBAL log_bin_trust_function_creators = 1; then ",
    1142: "the account lacks a privilege for this statement (README, Privileges); grant it, then ",
    1044: "the account has no access to this database (README, Privileges); grant it, then ",
    1205: "another session held a metadata lock the whole time (see SHOW PROCESSLIST); ",
}


class PlanExecutionError(SqlopsError):
    """A statement failed; carries what already ran so the user knows the state."""

    def __init__(self, result: ExecutionResult, failed: Statement, error: BaseException) -> None:
        done = len(result.executed)
        total = len(result.plan.statements)
        ran = "; ".join(e.statement.reason for e in result.executed) or "nothing"
        errno = errno_of(error)
        detail = f"({errno}) {error.args[1]}" if errno is not None and len(error.args) > 1 else str(error)
        super().__init__(
            f"{result.plan.job}: statement {done + 1} of {total} failed: {detail}",
            why=f"it was: {failed.reason}. Already done ({done}): {ran}",
            fix=_FIXES.get(errno or 0, "")
            + "fix the cause and run the command again: plans are rebuilt from the current state",
        )
        self.result = result
        self.failed = failed
        self.error = error


@dataclass(frozen=True)
class LockWait:
    """How the executor gets metadata locks for DDL without stalling the tables' writers."""

    # The tables (in the session's database) whose lock holders would make the DDL wait.
    tables: tuple[str, ...]
    # One attempt waits at most this long for its lock; new inserts queue behind it meanwhile.
    attempt_seconds: float = 0.2
    # Give up (LockWaitExpired) when the locks could not be had within this long, in all.
    deadline_seconds: float = 600.0
    # The session's lock_wait_timeout during the attempts: a backstop behind the watchdog
    # (whole seconds, at least 1 on MySQL).
    session_timeout: int = 1

    @classmethod
    def for_tables(cls, settings: DatabaseConfig, *tables: str) -> LockWait:
        return cls(tuple(tables), settings.ddl_lock_wait, settings.ddl_deadline)


class LockWaitExpired(PlanExecutionError):
    """The DDL could not get its metadata lock by the deadline without stalling writers."""

    def __init__(
        self, result: ExecutionResult, failed: Statement, wait: LockWait, blockers: list[Blocker]
    ) -> None:
        done = len(result.executed)
        ran = "; ".join(e.statement.reason for e in result.executed) or "nothing"
        tables = ", ".join(wait.tables)
        holders = "; ".join(b.describe() for b in blockers) or "a session that has let go since"
        kills = " or ".join(f"KILL {b.connection_id}" for b in blockers)
        SqlopsError.__init__(
            self,
            f"{result.plan.job}: statement {done + 1} of {len(result.plan.statements)} could not get the "
            f"metadata lock on {tables} within {wait.deadline_seconds:g} s (database.ddl_deadline)",
            why=f"{holders}. DDL waiting behind it would stall every insert, so sqlops waited without "
            f"queueing. It was: {failed.reason}. Already done ({done}): {ran}",
            fix="end that transaction (commit or roll back in its client"
            + (f", or {kills}" if kills else "")
            + "), or raise database.ddl_deadline; then run the command again: plans are rebuilt "
            "from the current state",
        )
        self.result = result
        self.failed = failed
        self.error = TimeoutError("metadata lock wait")
        self.blockers = blockers


_ER_QUERY_INTERRUPTED = 1317


class _LockedDDL:
    """Runs statements under a LockWait: wait without queueing, bounded attempts, backoff."""

    def __init__(self, session: Session, wait: LockWait) -> None:
        self.session = session
        self.wait = wait
        self.deadline = time.monotonic() + wait.deadline_seconds
        self.previous = session.scalar("SELECT @@SESSION.lock_wait_timeout")
        session.execute("SET SESSION lock_wait_timeout = %s", (wait.session_timeout,))
        self.watchdog = Watchdog(session, wait.attempt_seconds)

    def close(self) -> None:
        self.watchdog.close()
        self.session.execute("SET SESSION lock_wait_timeout = %s", (self.previous,))

    def _pause(self, delay: float, result: ExecutionResult, statement: Statement) -> None:
        # Use the whole deadline: the last pause is cut to what is left and one more attempt
        # follows it (giving up when the next backoff step would overshoot left up to a whole
        # step of the deadline unused, and the run failed early under a lock about to go).
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise LockWaitExpired(result, statement, self.wait, self._blockers())
        time.sleep(min(delay, remaining))

    def _blockers(self) -> list[Blocker]:
        return inspect_blockers(self.session, self.wait.tables, ignore=(self.watchdog.connection_id,))

    def run(self, statement: Statement, sql: str, result: ExecutionResult) -> Executed:
        delay, attempt, reported = 0.05, 0, frozenset[int]()
        while True:
            blockers = self._blockers()
            ids = frozenset(b.connection_id for b in blockers)
            if blockers and ids != reported:
                log.info(
                    "%s: waiting without queueing: %s",
                    statement.reason,
                    "; ".join(b.describe() for b in blockers),
                )
            reported = ids
            if blockers and all(b.exact for b in blockers):
                self._pause(delay, result, statement)
                delay = min(delay * 1.5, 1.0)
                continue
            attempt += 1
            started = time.monotonic()
            # Holders not known exactly (MariaDB without a lock list): probe with NOWAIT where
            # the statement takes it, so a try that cannot succeed queues nothing at all.
            probe = with_nowait(sql) if blockers and self.session.info.is_mariadb else None
            try:
                with self.watchdog.guard() as dog:
                    self.session.execute(probe or sql)
            except pymysql.err.MySQLError as exc:
                errno = errno_of(exc)
                if errno not in RETRYABLE and not (errno == _ER_QUERY_INTERRUPTED and dog.fired):
                    raise PlanExecutionError(result, statement, exc) from exc
                # Not exact (InnoDB's list only): try again, but seldom.
                delay = max(delay, 2.0) if blockers else delay
                log.warning(
                    "%s: no metadata lock within %.1f s (attempt %d); retrying in %.1f s",
                    statement.reason,
                    time.monotonic() - started,
                    attempt,
                    delay,
                )
                self._pause(delay, result, statement)
                delay = min(delay * 2, 5.0)
                continue
            if dog.fired:  # the kill raced the statement's end: absorb it before the next one
                with contextlib.suppress(pymysql.err.MySQLError):
                    self.session.execute("DO 0")
            return Executed(statement, time.monotonic() - started, attempt)


_NOWAIT_ABLE = re.compile(r"^(/\*.*?\*/\s*)?((?:ALTER|RENAME) TABLE\s+(?:`(?:[^`]|``)+`|\w+))(\s)", re.S)


def with_nowait(sql: str) -> str | None:
    """MariaDB's ``ALTER TABLE t NOWAIT …`` / ``RENAME TABLE t NOWAIT TO …``, else None."""
    match = _NOWAIT_ABLE.match(sql)
    if not match:
        return None
    return sql[: match.end(2)] + " NOWAIT" + sql[match.end(2) :]


def execute(
    session: Session,
    plan: Plan,
    *,
    allow_destructive: bool = False,
    attempts: int = 6,
    first_delay: float = 0.5,
    on_statement: Callable[[Executed], None] | None = None,
    lock_wait: LockWait | None = None,
) -> ExecutionResult:
    """Run the plan statement by statement (the only DDL path in sqlops).

    Without `lock_wait`, lock-wait timeouts and deadlocks are retried `attempts` times; with
    it, statements that take metadata locks (`Statement.retry`) wait for the lock's holders
    without queueing and retry until `lock_wait.deadline_seconds`."""
    result = ExecutionResult(plan)
    runnable = [s for s in plan.statements if allow_destructive or not s.destructive]
    locked = _LockedDDL(session, lock_wait) if lock_wait is not None and runnable else None
    try:
        for statement in plan.statements:
            if statement.destructive and not allow_destructive:
                log.warning("skipped (destructive steps not allowed): %s", statement.reason)
                result.skipped.append(statement)
                continue
            sql = tag(plan.job, statement.sql.strip().rstrip(";"))
            if locked is not None and statement.retry:
                executed = locked.run(statement, sql, result)
            else:
                executed = _run(session, statement, sql, result, attempts, first_delay)
            result.executed.append(executed)
            log.info("%.3f s  %s", executed.seconds, _one_line(sql))
            if on_statement:
                on_statement(executed)
    finally:
        if locked is not None:
            locked.close()
    return result


def _run(
    session: Session,
    statement: Statement,
    sql: str,
    result: ExecutionResult,
    attempts: int,
    first_delay: float,
) -> Executed:
    delay = first_delay
    for attempt in range(1, attempts + 1):
        started = time.monotonic()
        try:
            session.execute(sql)
        except pymysql.err.MySQLError as exc:
            if statement.retry and errno_of(exc) in RETRYABLE and attempt < attempts:
                log.warning(
                    "%s: %s; retrying in %.1f s (%d/%d)",
                    statement.reason,
                    exc.args[1],
                    delay,
                    attempt,
                    attempts,
                )
                time.sleep(delay)
                delay = min(delay * 2, 15)
                continue
            raise PlanExecutionError(result, statement, exc) from exc
        return Executed(statement, time.monotonic() - started, attempt)
    raise AssertionError("unreachable")  # pragma: no cover


_LITERAL = re.compile(r"'(?:[^'\\]|\\.|'')*'|\"(?:[^\"\\]|\\.)*\"|`[^`]*`")


def _has_inner_semicolon(sql: str) -> bool:
    """A `;` outside string literals and quoted identifiers (a compound trigger body)."""
    return ";" in _LITERAL.sub("", sql)


def _one_line(sql: str, limit: int = 200) -> str:
    flat = " ".join(sql.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."
