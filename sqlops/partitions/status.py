"""`partition status` and `partition check`: the layout, its headroom and the last rotate runs.

Read-only (a monitoring account with SELECT and PROCESS is enough): the job-run table is read
only if it exists. Emptiness of the catch-all is exact (EXISTS); row counts and sizes are the
server's estimates and are labelled so.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlops.config import Config
from sqlops.db import Session, connect
from sqlops.errors import NAGIOS_CRITICAL, NAGIOS_OK, NAGIOS_UNKNOWN, NAGIOS_WARNING, UsageError
from sqlops.jobruns import recent_runs
from sqlops.online.copy import read_state
from sqlops.partitions.inspect import PartitionInfo, PartitionState, count_rows, inspect_partitions
from sqlops.partitions.months import add_months, month_start, today_in_zone
from sqlops.partitions.planner import ROTATE_JOB, Anomaly, layout_anomalies, rows_to_count
from sqlops.partitions.rotate import Target
from sqlops.textfmt import table

# A rotate still "running" after this long crashed or hangs.
STALE_RUN = dt.timedelta(hours=1)


@dataclass
class TableStatus:
    target: Target
    database: str
    zone: str
    now_utc: dt.datetime
    today: dt.date
    state: PartitionState | None
    unfinished_copy: str | None = None
    runs: list[dict[str, Any]] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{self.database}.{self.target.table}"

    @property
    def headroom_days(self) -> int | None:
        """Days left before rows start landing in the catch-all (or fail, without one)."""
        if self.state is None or not self.state.managed or self.state.last_bound is None:
            return None
        return (self.state.last_bound - self.today).days

    @property
    def last_run(self) -> dict[str, Any] | None:
        return self.runs[0] if self.runs else None

    @property
    def last_ok(self) -> dict[str, Any] | None:
        return next((r for r in self.runs if r["status"] == "ok"), None)

    def cutoff(self) -> dt.date | None:
        months = self.target.policy.retention_months
        return None if months is None else add_months(month_start(self.today), -months)

    def anomalies(self) -> list[Anomaly]:
        if self.state is None or not self.state.managed:
            return []
        return layout_anomalies(self.state, self.cutoff())

    def _partition(self, index: int, p: PartitionInfo) -> dict[str, Any]:
        assert self.state is not None
        kind = "first" if index == 0 else ("catchall" if p.is_catchall else "month")
        cutoff = self.cutoff()
        anomaly = next((a for a in self.anomalies() if a.partition == p.name), None)
        return {
            "name": p.name,
            "kind": kind,
            "from": p.lower,
            "to": p.upper,
            "empty": not p.has_rows,
            # Exact where it is known (empty partitions, the catch-all, anything rotate decides
            # on), else the server's estimate; rows_exact says which.
            "rows": p.exact_rows if p.exact_rows is not None else p.estimated_rows,
            "rows_exact": p.exact_rows is not None,
            "estimated_rows": p.estimated_rows,
            "anomaly": anomaly.describe() if anomaly else None,
            "size_bytes": p.data_bytes + p.index_bytes,
            "expired": bool(
                kind == "month" and cutoff is not None and p.upper is not None and p.upper <= cutoff
            ),
        }

    def as_dict(self) -> dict[str, Any]:
        policy = self.target.policy
        out: dict[str, Any] = {
            "database": self.database,
            "table": self.target.table,
            "column": self.target.column,
            "exists": self.state is not None,
            "partitioned": bool(self.state and self.state.partitioned),
            "scheme": self.state.scheme if self.state else None,
            "today": self.today,
            "time_zone": self.zone,
            "policy": {
                "premake_months": policy.premake_months,
                "retention_months": policy.retention_months,
                "archive": policy.archive,
                "allow_destructive": policy.allow_destructive,
            },
            "headroom_days": self.headroom_days,
            "catchall": None,
            "partitions": [],
            "archives": [],
            "unfinished_copy": self.unfinished_copy,
            "last_rotate": _run_dict(self.last_run),
            "last_successful_rotate": _run_dict(self.last_ok),
        }
        state = self.state
        if state is not None and state.managed:
            out["partitions"] = [self._partition(i, p) for i, p in enumerate(state.partitions)]
            if state.catchall is not None:
                rng = state.catchall_range
                out["catchall"] = {
                    "name": state.catchall.name,
                    "empty": not state.catchall.has_rows,
                    "rows": state.catchall_rows,
                    "from": rng[0] if rng else None,
                    "to": rng[1] if rng else None,
                    "since": state.catchall.lower,
                }
        if state is not None:
            out["archives"] = [{"table": a.name, "empty": not a.has_rows} for a in state.archives.values()]
        return out


def _run_dict(run: dict[str, Any] | None) -> dict[str, Any] | None:
    if run is None:
        return None
    keys = ("id", "status", "started_at", "finished_at", "statements", "error", "origin")
    return {k: run.get(k) for k in keys}


def describe_run(run: dict[str, Any] | None) -> str:
    if run is None:
        return "none recorded"
    when = run["finished_at"] or run["started_at"]
    text = (
        f"{run['status']} at {when:%Y-%m-%d %H:%M:%S} UTC ({run['origin']}), {run['statements']} statement(s)"
    )
    if run.get("error"):
        text += ": " + str(run["error"]).splitlines()[0]
    return text


def inspect_status(
    session: Session, target: Target, zone: str, *, now_utc: dt.datetime | None = None
) -> TableStatus:
    now = now_utc or session.scalar("SELECT UTC_TIMESTAMP()")
    today = today_in_zone(now, zone)
    state = inspect_partitions(session, target.table, target.column)
    if state is not None and state.managed:
        state = count_rows(session, state, rows_to_count(state, target.policy, today))
    copy = read_state(session, target.table)
    return TableStatus(
        target=target,
        database=session.database,
        zone=zone,
        now_utc=now,
        today=today,
        state=state,
        unfinished_copy=copy.job if copy else None,
        runs=recent_runs(session, job=ROTATE_JOB, target=f"{session.database}.{target.table}"),
    )


# --------------------------------------------------------------------------------------------
# The Nagios-style check


@dataclass(frozen=True)
class CheckResult:
    code: int
    line: str


_LABEL = {NAGIOS_OK: "OK", NAGIOS_WARNING: "WARNING", NAGIOS_CRITICAL: "CRITICAL", NAGIOS_UNKNOWN: "UNKNOWN"}


def validate_thresholds(target: Target) -> None:
    """A warning threshold below the critical one reads backwards: refuse it (UNKNOWN)."""
    section = target.section
    warning, critical = section.headroom_warning_days, section.headroom_critical_days
    if warning < critical:
        raise UsageError(
            f"{target.table}: the warning threshold ({warning} days) is below the critical one "
            f"({critical} days)",
            why="headroom below the critical threshold is already CRITICAL, so no headroom would ever be "
            "a WARNING",
            fix="give --warning-days (headroom_warning_days) a value at least --critical-days "
            "(headroom_critical_days), e.g. --warning-days 20 --critical-days 7",
        )


def _findings(status: TableStatus) -> list[tuple[int, str]]:
    section = status.target.section
    state = status.state
    if state is None:
        return [(NAGIOS_CRITICAL, "table does not exist")]
    if not state.partitioned:
        return [(NAGIOS_CRITICAL, "not partitioned (run sqlops partition migrate)")]
    if not state.managed:
        return [(NAGIOS_UNKNOWN, f"partitioned by {state.expression}, not monthly on {status.target.column}")]
    out: list[tuple[int, str]] = []
    catchall = state.catchall
    if catchall is None:
        out.append((NAGIOS_WARNING, f"no catch-all partition: inserts after {state.last_bound} fail"))
    elif catchall.has_rows:
        low, high = state.catchall_range or (None, None)
        rows = state.catchall_rows
        out.append((NAGIOS_CRITICAL, f"{catchall.name} holds {rows} row(s) dated {low}..{high}"))
    headroom = status.headroom_days
    if headroom is not None and headroom < section.headroom_critical_days:
        out.append((NAGIOS_CRITICAL, f"headroom {headroom} day(s) < {section.headroom_critical_days}"))
    elif headroom is not None and headroom < section.headroom_warning_days:
        out.append((NAGIOS_WARNING, f"headroom {headroom} day(s) < {section.headroom_warning_days}"))
    for anomaly in status.anomalies():
        out.append((NAGIOS_WARNING, anomaly.describe()))
    first = state.first
    if first is not None and first.has_rows and not first.is_catchall:
        out.append((NAGIOS_WARNING, f"first partition {first.name} is not empty"))
    if status.unfinished_copy:
        out.append((NAGIOS_WARNING, f"unfinished {status.unfinished_copy}"))
    out += _run_findings(status)
    return out


def _run_findings(status: TableStatus) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []
    now, last, ok = status.now_utc, status.last_run, status.last_ok
    if last is not None and last["status"] == "running" and now - last["started_at"] > STALE_RUN:
        since = f"{last['started_at']:%Y-%m-%d %H:%M}"
        out.append((NAGIOS_WARNING, f"rotate #{last['id']} 'running' since {since} UTC (crashed?)"))
    elif last is not None and last["status"] in ("failed", "interrupted", "died"):
        error = str(last.get("error") or "").splitlines()
        text = f"last rotate {last['status']} at {last['started_at']:%Y-%m-%d %H:%M} UTC"
        out.append((NAGIOS_WARNING, text + (f": {error[0][:160]}" if error else "")))
    if ok is None:
        out.append((NAGIOS_WARNING, "no successful rotate recorded"))
    else:
        hours = (now - (ok["finished_at"] or ok["started_at"])).total_seconds() / 3600
        limit = status.target.section.max_run_age_hours
        if hours > limit:
            out.append((NAGIOS_WARNING, f"last successful rotate {hours:.0f} h ago (> {limit} h)"))
    return out


def _severity(code: int) -> int:
    return {NAGIOS_OK: 0, NAGIOS_UNKNOWN: 1, NAGIOS_WARNING: 2, NAGIOS_CRITICAL: 3}[code]


def evaluate_check(statuses: list[TableStatus]) -> CheckResult:
    """One status line (with performance data) for all tables; the worst finding decides."""
    code = NAGIOS_OK
    parts: list[str] = []
    perf: list[str] = []
    for status in statuses:
        findings = _findings(status)
        for finding_code, _ in findings:
            if _severity(finding_code) > _severity(code):
                code = finding_code
        label = status.target.table
        if findings:
            parts.append(f"{status.name}: " + ", ".join(text for _, text in findings))
        else:
            parts.append(f"{status.name}: ok, headroom {status.headroom_days} day(s)")
        section = status.target.section
        if status.headroom_days is not None:
            perf.append(
                f"'{label}_headroom_days'={status.headroom_days};{section.headroom_warning_days};"
                f"{section.headroom_critical_days}"
            )
        if status.state is not None and status.state.managed:
            perf.append(f"'{label}_catchall_rows'={status.state.catchall_rows};;1")
            perf.append(f"'{label}_partitions'={len(status.state.partitions)}")
    line = f"PARTITIONS {_LABEL[code]} - " + "; ".join(parts)
    if perf:
        line += " | " + " ".join(perf)
    return CheckResult(code, line)


def run_check(config: Config, table: str | None = None) -> CheckResult:
    """`partition check`: validate the thresholds, inspect every target, one Nagios result."""
    from sqlops.partitions.rotate import targets

    chosen = targets(config, table)
    for target in chosen:
        validate_thresholds(target)
    with connect(config.database, zone_in_python=True) as session:
        return evaluate_check([inspect_status(session, t, config.database.time_zone) for t in chosen])


def status_text(report: TableStatus) -> str:
    """The terminal form of `partition status` for one table."""
    state = report.state
    lines = [f"{report.name} (column {report.target.column}, today {report.today} in {report.zone})"]
    if state is None:
        return lines[0] + "\n  the table does not exist"
    if not state.partitioned:
        lines.append(f"  not partitioned: sqlops partition migrate --table {report.target.table}")
    elif not state.managed:
        lines.append(f"  partitioned by {state.expression!r}, not monthly on {report.target.column}")
    else:
        lines.append(f"  policy: {report.target.policy.describe()}")
        catchall = state.catchall
        if catchall is None:
            days, bound = report.headroom_days, state.last_bound
            lines.append(f"  headroom: {days} day(s); NO catch-all: inserts after {bound} fail")
        else:
            days, bound = report.headroom_days, state.last_bound
            lines.append(f"  headroom: {days} day(s): rows land in {catchall.name} from {bound}")
            if catchall.has_rows and state.catchall_range:
                low, high = state.catchall_range
                lines.append(
                    f"  catch-all {catchall.name}: NOT EMPTY, {state.catchall_rows} row(s) dated "
                    f"{low} to {high}; "
                    f"split it with: sqlops partition rotate --table {report.target.table} --split-catchall"
                )
            else:
                lines.append(f"  catch-all {catchall.name}: empty")
        rows = []
        for p in report.as_dict()["partitions"]:
            rows.append(
                (
                    p["name"],
                    p["kind"] + (" (expired)" if p["expired"] else ""),
                    p["from"] or "",
                    p["to"] or "MAXVALUE",
                    "yes" if p["empty"] else "no",
                    _rows_cell(p),
                    f"{p['size_bytes'] / 1048576:.1f}",
                )
            )
        body = table(rows, ["partition", "kind", "from", "to (excl.)", "empty", "rows", "MiB (est.)"])
        lines += ["  " + line for line in body.splitlines()]
        lines.append("  rows: exact where shown plain, ~ marks the server's estimate")
        for p in report.as_dict()["partitions"]:
            if p["anomaly"]:
                lines.append(
                    f"  WARNING: {p['anomaly']}; split it with: "
                    f"sqlops partition rotate --table {report.target.table} --repair"
                )
    if state.archives:
        names = [a.name + ("" if a.has_rows else " (empty)") for a in state.archives.values()]
        lines.append("  archives: " + ", ".join(names))
    if report.unfinished_copy:
        lines.append(
            f"  unfinished {report.unfinished_copy}: run it again to finish, or undo it with --abort"
        )
    lines.append("  last rotate: " + describe_run(report.last_run))
    if report.last_ok is not None and report.last_ok is not report.last_run:
        lines.append("  last successful rotate: " + describe_run(report.last_ok))
    return "\n".join(lines)


def _rows_cell(p: dict[str, Any]) -> str:
    if p["rows_exact"]:
        return str(p["rows"])
    if not p["empty"] and not p["rows"]:
        return "~? (stale estimate 0; ANALYZE TABLE refreshes it)"
    return f"~{p['rows']}"
