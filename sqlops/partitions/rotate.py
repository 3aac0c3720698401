"""Running partition maintenance for configured tables: what the CLI and the scheduler call.

Each run: take the table's named lock (one partition job per table at a time), record the run
in ``sqlops_job_runs``, *re-inspect under the lock*, plan, execute (DESIGN.md §3) with a
:class:`~sqlops.plan.LockWait`, so the DDL waits for open transactions without queueing the
logger's inserts behind it. A plan that cannot do everything safely (the catch-all
holds rows) executes what it can and then fails loudly, so cron mails it, the run is recorded
as failed and `partition check` reports it.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlops.cluster.guard import job_lock
from sqlops.cluster.stall import ROTATE_FIX, refuse_cluster_stall
from sqlops.config import Config, DatabaseConfig, PartitionTableConfig
from sqlops.db import Session, connect, lock_name
from sqlops.errors import LockHeldError, PreconditionError, SqlopsError
from sqlops.jobruns import recorded_run
from sqlops.online.copy import read_state
from sqlops.partitions.inspect import count_rows, inspect_partitions, server_today
from sqlops.partitions.planner import ROTATE_JOB, Policy, RotatePlan, plan_rotate, rows_to_count
from sqlops.plan import ExecutionResult, LockWait, PlanExecutionError, execute
from sqlops.rollup.daily import RollupTarget, refresh_before_removal
from sqlops.schema.inspect import table_exists

log = logging.getLogger("sqlops.partitions")

# One lock for every partition job on a table: migrate and rotate must never overlap.
LOCK_JOB = "partition"


@dataclass(frozen=True)
class Target:
    """A table under partition maintenance with its policy."""

    table: str
    section: PartitionTableConfig
    policy: Policy

    @property
    def column(self) -> str:
        return self.section.column


def targets(config: Config, table: str | None = None) -> list[Target]:
    """`--table` alone, else every `[partitions.<table>]` in the config, else schema.table
    with the defaults."""
    names = [table] if table else (sorted(config.partitions) or [config.schema.table])
    out = []
    for name in names:
        section = config.partitions.get(name, PartitionTableConfig())
        out.append(Target(name, section, Policy.from_config(name, section)))
    return out


def partition_lock(session: Session, table: str) -> str:
    return lock_name(LOCK_JOB, session.database, table)


def refuse_during_copy(session: Session, table: str) -> None:
    state = read_state(session, table)
    if state is not None:
        raise PreconditionError(
            f"an unfinished {state.job} of {table} exists (phase {state.phase})",
            why="rotating while a table is being rebuilt would change what the copy has to match",
            fix=f"finish it first: sqlops {state.job.replace('-', ' ')} --table {table} "
            "(or undo it with --abort)",
        )


def rotate_plan_for(
    session: Session,
    target: Target,
    zone: str,
    *,
    today: dt.date | None = None,
    split_catchall: bool = False,
    repair: bool = False,
) -> RotatePlan:
    """Inspect and plan one table (read-only)."""
    state = inspect_partitions(session, target.table, target.column)
    if state is None:
        raise PreconditionError(
            f"table {target.table!r} does not exist in {session.database!r}",
            fix="check --table / [partitions.<table>] in the config, or create it with `sqlops schema init`",
        )
    day = today or server_today(session, zone)
    if state.managed:
        state = count_rows(session, state, rows_to_count(state, target.policy, day))
    return plan_rotate(state, target.policy, day, split_catchall=split_catchall, repair=repair)


class RotateIncomplete(SqlopsError):
    """Rotate did what it safely could; something needs the admin (exit 1)."""

    def __init__(self, outcome: RotateOutcome) -> None:
        problems = outcome.rotate_plan.problems
        super().__init__(
            f"rotate of {outcome.target} is incomplete: " + "; ".join(problems),
            why=f"{len(outcome.executed)} statement(s) ran; the step(s) above need a decision",
        )
        self.outcome = outcome


@dataclass
class RotateOutcome:
    target: str
    rotate_plan: RotatePlan
    result: ExecutionResult | None = None
    today: dt.date | None = None
    executed: list[str] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return self.result.seconds if self.result else 0.0

    def summary(self) -> dict[str, object]:
        rp = self.rotate_plan
        return {
            "today": self.today,
            "created": list(rp.created),
            "archived": [{"partition": p, "table": t} for p, t in rp.archived],
            "dropped": list(rp.dropped),
            "problems": list(rp.problems),
            "skipped_destructive": len(self.result.skipped) if self.result else 0,
        }


def run_rotate(
    settings: DatabaseConfig,
    target: Target,
    *,
    origin: str = "cli",
    today: dt.date | None = None,
    split_catchall: bool = False,
    repair: bool = False,
    before_execute: Callable[[RotatePlan], None] | None = None,
    rollup: RollupTarget | None = None,
) -> RotateOutcome:
    """Lock, record, re-inspect, plan and execute rotate for one table. With `rollup` (the
    rollup that counts this table), months are archived or dropped only after it has counted
    them: rotate refreshes it first when its table exists, and stops when it cannot."""
    # Rotate sends only dates, computed in Python: a named zone needs no server zone tables.
    with connect(settings, maintenance=True, zone_in_python=True) as session:
        where = f"{session.database}.{target.table}"
        lock = partition_lock(session, target.table)
        with job_lock(session, lock) as topology, recorded_run(settings, ROTATE_JOB, where, origin) as run:
            refuse_during_copy(session, target.table)
            day = today or server_today(session, settings.time_zone)
            rp = rotate_plan_for(
                session, target, settings.time_zone, today=day, split_catchall=split_catchall, repair=repair
            )
            refuse_cluster_stall(topology, settings, rp.lock_seconds, f"rotate of {where}", ROTATE_FIX)
            for note in rp.plan.notes:
                log.info("%s: %s", target.table, note)
            if before_execute is not None:
                before_execute(rp)
            if (
                rollup is not None
                and rollup.source == target.table
                and rp.removes_rows
                and table_exists(session, rollup.table)
            ):
                try:
                    refresh_before_removal(settings, rollup, rp.removes_rows, origin=origin)
                except SqlopsError as exc:
                    raise PreconditionError(
                        f"rotate of {where} did nothing: the rollup {rollup.table} could not count "
                        f"{', '.join(rp.removes_rows)} before they leave the table",
                        why=exc.what,
                        fix=f"run `sqlops rollup refresh` once it can, then rotate again ({exc.fix or ''})",
                    ) from exc
            outcome = RotateOutcome(where, rp, today=day)
            allow = target.policy.allow_destructive
            try:
                outcome.result = execute(
                    session,
                    rp.plan,
                    allow_destructive=allow,
                    lock_wait=LockWait.for_tables(settings, target.table),
                )
            except PlanExecutionError as exc:
                outcome.result = exc.result
                raise
            finally:
                done = outcome.result.executed if outcome.result else []
                run.statements = len(done)
                outcome.executed = [e.statement.sql for e in done]
                run.note(**outcome.summary())
            if rp.problems:
                raise RotateIncomplete(outcome)
            return outcome


@dataclass
class TableRotate:
    """How the rotate of one table of a multi-table run ended."""

    table: str
    outcome: RotateOutcome | None = None  # also set when incomplete (it did what it safely could)
    error: SqlopsError | None = None
    skipped: bool = False  # another run held the table's lock: not a failure

    @property
    def failed(self) -> bool:
        return self.error is not None and not self.skipped


@dataclass
class RotateRun:
    tables: list[TableRotate] = field(default_factory=list)
    stopped: bool = False

    @property
    def failed(self) -> int:
        return sum(1 for t in self.tables if t.failed)

    @property
    def exit_code(self) -> int:
        return max((t.error.exit_code for t in self.tables if t.error is not None), default=0)

    def raise_single_table_error(self) -> None:
        """A run of one table that failed outright re-raises its error, so the CLI's error
        boundary shows it with its why and fix; an incomplete rotate was reported already."""
        (first,) = self.tables if len(self.tables) == 1 else (None,)
        if first is not None and first.error is not None and not isinstance(first.error, RotateIncomplete):
            raise first.error


def describe_rotate(outcome: RotateOutcome) -> str:
    """The one-line summary of a rotate, for the terminal and the service log."""
    rp = outcome.rotate_plan
    if not outcome.executed and not rp.plan:
        if rp.problems:
            return f"partition rotate of {outcome.target}: nothing done; it needs a decision (see stderr)"
        return f"partition rotate of {outcome.target}: nothing to do"
    parts = [f"{len(outcome.executed)} statement(s) in {outcome.seconds:.2f} s"]
    if rp.created:
        parts.append("created " + ", ".join(rp.created))
    if rp.archived:
        parts.append("archived " + ", ".join(f"{p} -> {t}" for p, t in rp.archived))
    if rp.dropped:
        parts.append("dropped " + ", ".join(rp.dropped))
    return f"partition rotate of {outcome.target}: " + "; ".join(parts)


def rotate_tables(
    config: Config,
    chosen: list[Target] | None = None,
    *,
    origin: str = "cli",
    split_catchall: bool = False,
    repair: bool = False,
    before_execute: Callable[[RotatePlan], None] | None = None,
    stop: threading.Event | None = None,
    on_table: Callable[[TableRotate], None] | None = None,
) -> RotateRun:
    """`partition rotate` for each target (default: every configured table), one error policy
    for the CLI and the scheduler: a table that fails never stops the others; a lock held by
    another run skips the table; an unexpected error (a bug) is logged with its traceback and
    counted as a failure. `on_table` hears about each table as it ends."""
    run = RotateRun()
    rollup = RollupTarget.from_config(config)
    for target in chosen if chosen is not None else targets(config):
        if stop is not None and stop.is_set():
            run.stopped = True
            break
        entry = TableRotate(target.table)
        try:
            entry.outcome = run_rotate(
                config.database,
                target,
                origin=origin,
                split_catchall=split_catchall,
                repair=repair,
                before_execute=before_execute,
                rollup=rollup,
            )
        except RotateIncomplete as exc:
            entry.outcome, entry.error = exc.outcome, exc
        except LockHeldError as exc:
            entry.error, entry.skipped = exc, True
        except SqlopsError as exc:
            entry.error = exc
        except Exception as exc:  # a bug must not stop the other tables or the scheduler
            # The traceback goes to the service log; on the terminal only with --debug.
            trace = origin != "cli" or log.isEnabledFor(logging.DEBUG)
            log.error("rotate of %s failed unexpectedly", target.table, exc_info=trace)
            entry.error = SqlopsError(f"rotate of {target.table} failed unexpectedly: {exc!r}")
        run.tables.append(entry)
        if on_table is not None:
            on_table(entry)
    return run


@dataclass(frozen=True)
class RotatePreview:
    """What `partition rotate --dry-run` shows for one table: the plan and what to mention."""

    table: str
    rotate_plan: RotatePlan
    notes: tuple[str, ...]  # e.g. the rollup refresh the run would do first
    warnings: tuple[str, ...]  # the problems the run would stop at


def preview_rotate(
    config: Config,
    chosen: list[Target],
    *,
    today: dt.date | None = None,
    split_catchall: bool = False,
    repair: bool = False,
) -> list[RotatePreview]:
    """Inspect and plan every target (read-only, no lock): the ``--dry-run`` of rotate."""
    rollup = RollupTarget.from_config(config)
    out = []
    with connect(config.database, maintenance=True, zone_in_python=True) as session:
        for target in chosen:
            rp = rotate_plan_for(
                session,
                target,
                config.database.time_zone,
                today=today,
                split_catchall=split_catchall,
                repair=repair,
            )
            notes: tuple[str, ...] = ()
            if rp.removes_rows and rollup.source == target.table and table_exists(session, rollup.table):
                notes = (
                    f"before removing {', '.join(rp.removes_rows)}, rotate refreshes the rollup "
                    f"{rollup.table} so that their rows are counted",
                )
            out.append(RotatePreview(target.table, rp, notes, rp.problems))
    return out
