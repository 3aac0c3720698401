"""Partition plans: inspected state + policy + today → Plan (pure: no I/O, no clock).

The layout sqlops keeps (DESIGN.md §4, issue 4)::

    pfirst      VALUES LESS THAN (TO_DAYS('<first month>'))   always empty: range queries on
                                                              TO_DAYS(...) also read it
    p2026m10    VALUES LESS THAN (TO_DAYS('2026-11-01'))      one partition per month
    ...
    p2027m01    ...                                           `premake_months` ahead of today
    pcatchall   VALUES LESS THAN MAXVALUE                     kept empty by premaking

Rotate premakes months by splitting the *empty* catch-all (``REORGANIZE PARTITION``; ``ADD
PARTITION`` after MAXVALUE fails with 1481) and applies retention: months older than
`retention_months` are archived into ``<table>_YYYYmMM`` (``CONVERT PARTITION`` where the
server has it, else ``EXCHANGE PARTITION`` with an empty clone) or, when archiving is off and
destructive steps are allowed, dropped. Everything is planned from the inspected bounds, never
from names or from what the last run did, so a second plan after a successful run is empty.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass, field

from sqlops.config import PartitionTableConfig
from sqlops.errors import ConfigError, PreconditionError
from sqlops.partitions import ddl
from sqlops.partitions.ddl import PartitionSpec
from sqlops.partitions.inspect import PartitionInfo, PartitionState
from sqlops.partitions.months import (
    add_months,
    archive_name,
    month_label,
    month_start,
    months_between,
    parse_partition_name,
    partition_name,
)
from sqlops.plan import Plan, Statement

ROTATE_JOB = "partition-rotate"
FIRST = "pfirst"
CATCHALL = "pcatchall"
MAX_PARTITIONS = 8192
# Splitting a catch-all that holds rows copies them while writes wait: about 100k rows/s here
# (DESIGN.md §4: ~1 s for 100k rows).
SPLIT_ROWS_PER_SECOND = 100_000.0
# A catch-all split never creates more months than this beyond the premake horizon: rows
# dated further ahead are bad data to fix, not months to create.
MAX_SPLIT_AHEAD_MONTHS = 24


@dataclass(frozen=True)
class Policy:
    premake_months: int = 3
    retention_months: int | None = None
    archive: bool = True
    allow_destructive: bool = False

    @classmethod
    def from_config(cls, table: str, section: PartitionTableConfig) -> Policy:
        prefix = f"partitions.{table}"
        if section.premake_months < 0 or section.premake_months > 120:
            raise ConfigError(
                f"{prefix}.premake_months must be between 0 and 120, not {section.premake_months}"
            )
        if section.retention_months is not None and section.retention_months < 0:
            raise ConfigError(
                f"{prefix}.retention_months must be 0 or more (leave it unset to keep everything)"
            )
        return cls(
            section.premake_months, section.retention_months, section.archive, section.allow_destructive
        )

    def describe(self) -> str:
        keep = "everything" if self.retention_months is None else f"{self.retention_months} month(s)"
        fate = (
            "archive" if self.archive else ("drop" if self.allow_destructive else "keep (drop not allowed)")
        )
        return f"premake {self.premake_months} month(s), retention {keep}, expired months: {fate}"


@dataclass(frozen=True)
class RotatePlan:
    plan: Plan
    # What rotate could not do safely on its own; the run fails (loudly) after the rest.
    problems: tuple[str, ...] = ()
    # Expected time writes wait while a catch-all holding rows is split (only with the flag).
    lock_seconds: float | None = None
    created: tuple[str, ...] = ()
    archived: tuple[tuple[str, str], ...] = ()  # (partition, archive table)
    dropped: tuple[str, ...] = ()
    # Partitions whose rows leave the table (archived, or dropped while holding rows).
    removes_rows: tuple[str, ...] = ()


def _unique(name: str, taken: set[str]) -> str:
    """Partition names are case-insensitive; a clash gets a suffix instead of error 1517."""
    candidate, n = name, 1
    while candidate.lower() in taken:
        n += 1
        candidate = f"{name}_{n}"
    taken.add(candidate.lower())
    return candidate


def month_specs(
    start: dt.date, end: dt.date, taken: Collection[str] = (), *, expired_before: dt.date | None = None
) -> list[PartitionSpec]:
    """One partition per month covering [start, end), each named after the month it ends in.
    `start` may be mid-month. Months ending on or before `expired_before` (the retention cutoff)
    get no partition of their own: the first one created also covers them, so rotate never
    creates a month only to archive it next time."""
    used = {n.lower() for n in taken}
    out: list[PartitionSpec] = []
    upper = add_months(start, 1)
    if expired_before is not None:
        upper = max(upper, add_months(expired_before, 1))
    assert end.day == 1, "partitions end on month starts"
    while upper <= end:
        out.append(PartitionSpec(_unique(partition_name(month_label(upper)), used), upper))
        upper = add_months(upper, 1)
    return out


def plan_layout(
    oldest: dt.date | None, newest: dt.date | None, today: dt.date, premake_months: int
) -> tuple[PartitionSpec, ...]:
    """The partitions `migrate` creates: the empty first partition, every month from the oldest
    row's to `premake_months` after today's (and past the newest row), and the catch-all."""
    current = month_start(today)
    start = month_start(min(oldest or today, today))
    end = add_months(current, premake_months + 1)
    if newest is not None:
        end = max(end, add_months(newest, 1))
    months = month_specs(start, end, taken=(FIRST, CATCHALL))
    specs = (PartitionSpec(FIRST, start), *months, PartitionSpec(CATCHALL, None))
    if len(specs) > MAX_PARTITIONS:
        raise PreconditionError(
            f"the rows span {len(months)} months ({start} to {end}), more than the server's "
            f"{MAX_PARTITIONS} partitions",
            fix="check the oldest and newest dates in the partition column; fix rows with bogus dates first",
        )
    return specs


@dataclass(frozen=True)
class Anomaly:
    """A month partition that is not one month of the layout: it spans several (a month was
    dropped by hand, leaving its rows to the next one), or its pYYYYmMM name says another month."""

    partition: str
    lower: dt.date
    upper: dt.date
    months: int

    def describe(self) -> str:
        if self.months > 1:
            return (
                f"{self.partition} spans {self.months} months ({self.lower} to {self.upper}, excl.): "
                "a month partition is missing"
            )
        return f"{self.partition} holds {self.lower} to {self.upper} (excl.), not the month its name says"


def layout_anomalies(state: PartitionState, cutoff: dt.date | None = None) -> list[Anomaly]:
    """Month partitions (not the first, not the catch-all) out of the one-month scheme. A
    partition whose extra months are all past retention (`cutoff`) is rotate's own doing after
    downtime (it never creates a month only to archive it) and is not reported."""
    out: list[Anomaly] = []
    for index, part in enumerate(state.partitions):
        if index == 0 or part.upper is None or part.lower is None:
            continue
        if part.upper.day != 1 or part.lower.day != 1:
            continue  # an admin's own bounds: not a layout sqlops made
        own = add_months(part.upper, -1)
        months = months_between(part.lower, part.upper)
        if part.lower < own and (cutoff is None or own > cutoff):
            out.append(Anomaly(part.name, part.lower, part.upper, months))
            continue
        named = parse_partition_name(part.name)
        if named is not None and part.lower >= own and named != month_label(part.upper):
            out.append(Anomaly(part.name, part.lower, part.upper, 1))
    return out


def _repair_steps(
    state: PartitionState, anomalies: list[Anomaly], taken: set[str], scheme: ddl.Scheme
) -> tuple[list[Statement], list[str], float]:
    """Split each spanning partition into its months (the last keeps its name)."""
    statements: list[Statement] = []
    created: list[str] = []
    seconds = 0.0
    for anomaly in anomalies:
        if anomaly.months < 2:
            continue
        part = state.partition(anomaly.partition)
        assert part is not None
        specs = month_specs(anomaly.lower, add_months(anomaly.upper, -1), taken)
        for spec in specs:
            taken.add(spec.name.lower())
        rows = part.exact_rows if part.exact_rows is not None else part.estimated_rows
        wait = rows / SPLIT_ROWS_PER_SECOND
        seconds += wait
        into = [*specs, PartitionSpec(part.name, anomaly.upper)]
        statements.append(
            Statement(
                ddl.reorganize(state.table, [part.name], into, scheme, state.flavour),
                f"repair: split {part.name} ({rows} row(s)) back into {len(into)} months; writes to "
                f"{state.table} wait about {wait:.1f} s",
            )
        )
        created += [s.name for s in specs]
    return statements, created, seconds


def _rows(p: PartitionInfo) -> str:
    size = f"{(p.data_bytes + p.index_bytes) / 1048576:.1f} MiB (est.)"
    if p.exact_rows is not None:
        return f"{p.exact_rows} row(s) (exact), {size}"
    return f"~{p.estimated_rows} row(s) (est.), {size}"


def rows_to_count(state: PartitionState, policy: Policy, today: dt.date) -> list[str]:
    """The partitions whose exact row counts a rotate decision needs: those holding rows that
    retention archives or drops, and those out of the scheme (a split copies their rows)."""
    current = month_start(today)
    cutoff = None if policy.retention_months is None else add_months(current, -policy.retention_months)
    names = {a.partition for a in layout_anomalies(state, cutoff)}
    if cutoff is not None:
        names |= {
            p.name
            for i, p in enumerate(state.partitions)
            if i > 0 and p.upper is not None and p.upper <= cutoff and p.has_rows
        }
    return sorted(names)


@dataclass
class _Draft:
    """A rotate plan being built, phase by phase (repair, premake, retention)."""

    state: PartitionState
    policy: Policy
    today: dt.date
    scheme: ddl.Scheme
    statements: list[Statement] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    created: list[str] = field(default_factory=list)
    archived: list[tuple[str, str]] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    lock_seconds: float | None = None
    taken: set[str] = field(default_factory=set)

    @property
    def current(self) -> dt.date:
        return month_start(self.today)

    @property
    def cutoff(self) -> dt.date | None:
        if self.policy.retention_months is None:
            return None
        return add_months(self.current, -self.policy.retention_months)

    def plan(self, job: str) -> RotatePlan:
        state = self.state
        plan = Plan(
            job,
            state.table,
            tuple(self.statements),
            tuple(self.notes + [f"problem: {p}" for p in self.problems]),
        )
        holding = {p.name for p in state.partitions if p.has_rows}
        removes = tuple(n for n in [*(p for p, _ in self.archived), *self.dropped] if n in holding)
        return RotatePlan(
            plan,
            tuple(self.problems),
            self.lock_seconds,
            tuple(self.created),
            tuple(self.archived),
            tuple(self.dropped),
            removes,
        )


def _refuse_unmanaged(state: PartitionState) -> None:
    if not state.partitioned:
        raise PreconditionError(
            f"{state.table} is not partitioned",
            fix=f"partition it first: sqlops partition migrate --table {state.table} (review with --dry-run)",
        )
    if not state.managed:
        raise PreconditionError(
            f"{state.table} is partitioned by {state.expression!r}, not by month on {state.column}",
            why="rotate only maintains RANGE (TO_DAYS(column)) or RANGE COLUMNS (column) layouts",
            fix=f"set partitions.{state.table}.column to the partitioning column, or repartition the table",
        )


def _repair(d: _Draft, repair: bool) -> None:
    """Phase 0: month partitions out of the scheme (a month dropped by hand), split on request."""
    state, table = d.state, d.state.table
    anomalies = layout_anomalies(state, d.cutoff)
    if anomalies and repair:
        steps, repaired, seconds = _repair_steps(state, anomalies, d.taken, d.scheme)
        d.statements += steps
        d.created += repaired
        d.lock_seconds = seconds if steps else None
    for anomaly in anomalies:
        if anomaly.months > 1 and not repair:
            part = state.partition(anomaly.partition)
            rows = part.exact_rows if part is not None and part.exact_rows is not None else 0
            d.problems.append(
                f"{anomaly.describe()}. Splitting it copies its {rows} row(s) while writes to {table} wait, "
                f"about {rows / SPLIT_ROWS_PER_SECOND:.1f} s; run `sqlops partition rotate --table {table} "
                "--repair` when that is acceptable"
            )
        elif anomaly.months == 1:
            d.notes.append(f"{anomaly.describe()}; rotate plans from bounds, so it is left as it is")


def _premake_until(d: _Draft, split_catchall: bool) -> dt.date | None:
    """How far months must exist: the premake horizon, past the catch-all's rows when it is split;
    None when a catch-all holding rows may not be split now."""
    state, table, policy = d.state, d.state.table, d.policy
    horizon = add_months(d.current, policy.premake_months + 1)
    catchall = state.catchall
    if catchall is None or not catchall.has_rows:
        return horizon
    low, high = state.catchall_range or (d.today, d.today)
    seconds = state.catchall_rows / SPLIT_ROWS_PER_SECOND
    what = (
        f"the catch-all partition {catchall.name} holds {state.catchall_rows} row(s) dated {low} to "
        f"{high}: rotations were missed or rows carry future dates"
    )
    if not split_catchall:
        d.problems.append(
            f"{what}. Splitting it copies those rows while every write to {table} waits, about "
            f"{seconds:.1f} s; run `sqlops partition rotate --table {table} --split-catchall` when "
            "that is acceptable"
        )
        return None
    if high >= add_months(d.current, policy.premake_months + MAX_SPLIT_AHEAD_MONTHS):
        d.problems.append(
            f"{what}. The newest is more than {MAX_SPLIT_AHEAD_MONTHS} months past the premake horizon; "
            f"fix or delete those rows (SELECT ... FROM {table} PARTITION ({catchall.name})) first"
        )
        return None
    d.lock_seconds = (d.lock_seconds or 0.0) + seconds
    d.notes.append(
        f"splitting {catchall.name} with {state.catchall_rows} row(s): writes wait about {seconds:.1f} s"
    )
    return max(horizon, add_months(high, 1))


def _premake(d: _Draft, cover_to: dt.date | None) -> None:
    """Phase 1: premake months up to `cover_to` by splitting the catch-all (or adding one)."""
    state, table, flavour, taken = d.state, d.state.table, d.state.flavour, d.taken
    catchall = state.catchall
    last_bound = state.last_bound
    if cover_to is not None and (last_bound is None or last_bound < cover_to):
        start = last_bound
        new: list[PartitionSpec] = []
        if start is None:
            # Only a catch-all: give it an empty first partition below the oldest row.
            low_row = state.catchall_range[0] if state.catchall_range else d.today
            start = month_start(min(low_row, d.today))
            new.append(PartitionSpec(_unique(FIRST, taken), start))
        new += month_specs(start, cover_to, taken, expired_before=d.cutoff)
        for spec in new:
            taken.add(spec.name.lower())
        d.created += [s.name for s in new]
        span = f"{new[0].name}..{new[-1].name}" if len(new) > 1 else new[0].name
        if catchall is not None:
            sql = ddl.reorganize(
                table, [catchall.name], [*new, PartitionSpec(catchall.name, None)], d.scheme, flavour
            )
            if catchall.has_rows:
                reason = (
                    f"split {catchall.name} ({state.catchall_rows} row(s)) into {len(new)} month(s) {span}: "
                    f"writes to {table} wait about {d.lock_seconds or 0:.1f} s"
                )
            else:
                reason = (
                    f"premake {len(new)} month(s) {span} by splitting the empty {catchall.name} "
                    "(metadata only)"
                )
        else:
            name = _unique(CATCHALL, taken)
            sql = ddl.add_partitions(table, [*new, PartitionSpec(name, None)], d.scheme, flavour)
            reason = (
                f"premake {len(new)} month(s) {span} and add the catch-all {name}, so an insert past the "
                "last month never fails (1526)"
            )
        d.statements.append(Statement(sql, reason))
    elif catchall is None and state.partitions:
        name = _unique(CATCHALL, taken)
        d.statements.append(
            Statement(
                ddl.add_partitions(table, [PartitionSpec(name, None)], d.scheme, flavour),
                f"add the catch-all {name}, so an insert past the last month never fails (1526)",
            )
        )
        d.created.append(name)
    if len(state.partitions) + len(d.created) > MAX_PARTITIONS:
        raise PreconditionError(f"{table} would have more than {MAX_PARTITIONS} partitions")


def _retention(d: _Draft) -> None:
    """Phase 2: whole months before the cutoff; never the first partition or the catch-all."""
    state, table, policy, cutoff = d.state, d.state.table, d.policy, d.cutoff
    if cutoff is None:
        return
    for index, part in enumerate(state.partitions):
        if index == 0 or part.upper is None or part.upper > cutoff:
            continue
        month = month_label(part.upper)
        last_day = part.upper - dt.timedelta(days=1)
        expired = f"{part.name} (up to {last_day}) is older than {policy.retention_months} month(s)"
        if not part.has_rows:
            d.statements.append(
                Statement(
                    ddl.drop_partition(table, part.name), f"{expired} and empty: drop it (no rows to keep)"
                )
            )
            d.dropped.append(part.name)
        elif policy.archive:
            steps = _archive_steps(state, part, archive_name(table, month), expired, d.problems)
            if steps:
                d.statements += steps
                d.archived.append((part.name, archive_name(table, month)))
        elif policy.allow_destructive:
            d.statements.append(
                Statement(
                    ddl.drop_partition(table, part.name),
                    f"{expired}: drop it and its rows ({_rows(part)}); archive = false",
                    destructive=True,
                )
            )
            d.dropped.append(part.name)
        else:
            d.notes.append(
                f"{expired} and holds rows; archive = false and allow_destructive = false, so it is kept "
                f"(set partitions.{table}.allow_destructive = true to drop, or archive = true)"
            )


def plan_rotate(
    state: PartitionState,
    policy: Policy,
    today: dt.date,
    *,
    split_catchall: bool = False,
    repair: bool = False,
    job: str = ROTATE_JOB,
) -> RotatePlan:
    """Premake and retention for one table, from its inspected state: repair (on request),
    premake, retention, in that order."""
    _refuse_unmanaged(state)
    scheme: ddl.Scheme = "columns" if state.scheme == "columns" else "to_days"
    d = _Draft(state, policy, today, scheme, taken={p.name.lower() for p in state.partitions})
    d.notes.append(f"policy for {state.table}: {policy.describe()}; today is {today}")
    _repair(d, repair)
    _premake(d, _premake_until(d, split_catchall))
    _retention(d)
    first = state.first
    if first is not None and first.has_rows and first.upper is not None:
        d.notes.append(
            f"the first partition {first.name} holds rows dated before {first.upper}: every "
            "range query on the partition column reads them too"
        )
    return d.plan(job)


def _archive_steps(
    state: PartitionState, part: PartitionInfo, archive: str, expired: str, problems: list[str]
) -> list[Statement]:
    table = state.table
    existing = state.archives.get(archive)
    if existing is not None and existing.has_rows:
        problems.append(
            f"cannot archive {part.name}: the table {archive} already exists and holds rows; "
            f"rename it (RENAME TABLE {archive} TO {archive}_old) and run rotate again"
        )
        return []
    if existing is None and state.convert_partition:
        return [
            Statement(
                ddl.convert_partition(table, part.name, archive),
                f"{expired}: move it out to the table {archive} ({_rows(part)}; metadata only)",
            )
        ]
    steps: list[Statement] = []
    if existing is None:
        steps.append(
            Statement(ddl.create_like(archive, table), f"empty clone of {table} to archive {part.name} into")
        )
    if existing is None or existing.partitioned:
        steps.append(
            Statement(ddl.remove_partitioning(archive), f"{archive} must be a plain table to exchange with")
        )
    steps += [
        Statement(
            ddl.exchange_partition(table, part.name, archive),
            f"{expired}: swap its rows ({_rows(part)}) into {archive} (metadata only)",
        ),
        Statement(
            ddl.drop_partition(table, part.name), f"drop the emptied {part.name} (its rows are in {archive})"
        ),
    ]
    return steps
