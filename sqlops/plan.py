"""Plans: ordered, reasoned statements, rendered as a SQL script or executed — one path for both.

Every schema change in sqlops is a :class:`Plan` built from inspected state before anything runs.
``render()`` turns it into a script a DBA can review (``--dry-run > change.sql``); ``execute()``
is the only function that sends DDL: it tags each statement ``/* sqlops:<job> */``, logs it
with its duration, retries metadata-lock timeouts and deadlocks, and stops at the first error,
reporting what already ran. Destructive statements run only when the caller allows them.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import pymysql

from sqlops.db import RETRYABLE, Session, errno_of
from sqlops.errors import SqlopsError

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


def execute(
    session: Session,
    plan: Plan,
    *,
    allow_destructive: bool = False,
    attempts: int = 6,
    first_delay: float = 0.5,
    on_statement: Callable[[Executed], None] | None = None,
) -> ExecutionResult:
    """Run the plan statement by statement (the only DDL path in sqlops)."""
    result = ExecutionResult(plan)
    for statement in plan.statements:
        if statement.destructive and not allow_destructive:
            log.warning("skipped (destructive steps not allowed): %s", statement.reason)
            result.skipped.append(statement)
            continue
        sql = tag(plan.job, statement.sql.strip().rstrip(";"))
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
            seconds = time.monotonic() - started
            executed = Executed(statement, seconds, attempt)
            result.executed.append(executed)
            log.info("%.3f s  %s", seconds, _one_line(sql))
            if on_statement:
                on_statement(executed)
            break
    return result


_LITERAL = re.compile(r"'(?:[^'\\]|\\.|'')*'|\"(?:[^\"\\]|\\.)*\"|`[^`]*`")


def _has_inner_semicolon(sql: str) -> bool:
    """A `;` outside string literals and quoted identifiers (a compound trigger body)."""
    return ";" in _LITERAL.sub("", sql)


def _one_line(sql: str, limit: int = 200) -> str:
    flat = " ".join(sql.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."
