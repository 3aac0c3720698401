"""Rendering a DigestReport: a pt-query-digest-like text report and the JSON document whose
schema is ``digest.schema.json`` (next to this file; README "Query digest")."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from sqlops.querylog.digest import (
    METRICS,
    TIME_METRICS,
    DigestReport,
    ExtraMetric,
    MetricSummary,
    QueryClass,
    QueryExample,
    ServerShare,
)

SCHEMA_VERSION = 1
# Examples in the text report are cut here (pt-query-digest's default too); JSON keeps them.
EXAMPLE_SHOWN = 1024
HISTOGRAM_LABELS = ("1us", "10us", "100us", "1ms", "10ms", "100ms", "1s", "10s+")
# Yes/No fields of MariaDB and Percona Server: shown as the share of statements with Yes.
BOOLEAN_EXTRAS = frozenset(
    (
        "qc_hit",
        "full_scan",
        "full_join",
        "tmp_table",
        "tmp_table_on_disk",
        "filesort",
        "filesort_on_disk",
        "priority_queue",
    )
)
# Statements EXPLAIN accepts (MySQL 8+/MariaDB 10.x), by their first keyword.
_EXPLAINABLE = frozenset(("SELECT", "INSERT", "REPLACE", "UPDATE", "DELETE", "TABLE", "WITH"))
_FIRST_WORD = re.compile(r"(?:\s+|/\*(?!!).*?\*/|--[^\n]*\n|#[^\n]*\n|\()*([A-Za-z]+)", re.S)
_LABELS = {
    "query_time": "Query time",
    "lock_time": "Lock time",
    "rows_sent": "Rows sent",
    "rows_examined": "Rows examined",
    "rows_affected": "Rows affected",
    "bytes_sent": "Bytes sent",
}


def _iso(value: dt.datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def _metric_json(m: MetricSummary | None) -> dict[str, Any] | None:
    if m is None:
        return None
    return {
        "count": m.count,
        "total": m.total,
        "min": m.min,
        "max": m.max,
        "avg": m.avg,
        "p50": m.p50,
        "p95": m.p95,
        "p99": m.p99,
    }


def _servers_json(shares: tuple[ServerShare, ...]) -> list[dict[str, Any]]:
    return [{"name": s.name, "count": s.count, "query_time": s.query_time} for s in shares]


def class_json(c: QueryClass) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": c.id,
        "fingerprint": c.fingerprint,
        "count": c.count,
    }
    for name in METRICS:
        out[name] = _metric_json(c.metrics.get(name))
    out.update(
        {
            "rows_examined_per_sent": c.rows_examined_per_sent,
            "first_seen": _iso(c.first_seen),
            "last_seen": _iso(c.last_seen),
            "databases": c.databases,
            "users": c.users,
            "hosts": c.hosts,
            "not_using_indexes": c.not_using_indexes,
            "no_index_count": c.no_index_count,
            "no_index_unknown": c.no_index_unknown,
            "errors": c.errors,
            "extra": {e.name: {"count": e.count, "total": e.total, "max": e.max} for e in c.extra},
            "server_digest": c.server_digest,
            "servers": _servers_json(c.servers),
            "query_time_histogram": None
            if c.query_time_histogram is None
            else dict(zip(HISTOGRAM_LABELS, c.query_time_histogram, strict=True)),
            "example": None
            if c.example is None
            else {
                "sql": c.example.sql,
                "database": c.example.database,
                "timestamp": _iso(c.example.timestamp),
                "query_time": c.example.query_time,
                "source": c.example.source,
                "line": c.example.line,
                "truncated": c.example.truncated,
                "explain": c.example.explain,
            },
        }
    )
    return out


def report_json(report: DigestReport, top: int) -> dict[str, Any]:
    """The JSON document (see digest.schema.json); `classes` holds the first `top` classes."""
    return {
        "schema_version": SCHEMA_VERSION,
        "sort": report.sort,
        "sources": [
            {
                "name": s.name,
                "kind": s.kind,
                "bytes": s.bytes,
                "entries": s.entries,
                "server_headers": s.server_headers,
            }
            for s in report.sources
        ],
        "queries": report.queries,
        "class_count": report.class_count,
        "first_seen": _iso(report.first_seen),
        "last_seen": _iso(report.last_seen),
        "totals": {name: _metric_json(report.totals.get(name)) for name in METRICS},
        "skipped": {
            "total": report.skipped_total,
            "by_reason": report.skipped_by_reason,
            "items": [{"source": s.source, "line": s.line, "reason": s.reason} for s in report.skipped],
        },
        "classes": [class_json(c) for c in report.classes[: max(top, 0)]],
        "outside_time_window": report.outside_window,
        "servers": _servers_json(report.servers),
        "classes_beyond_cap": None
        if report.beyond_cap is None
        else {
            "classes": report.beyond_cap.classes,
            "statements": report.beyond_cap.statements,
            "query_time": report.beyond_cap.query_time,
        },
    }


# --------------------------------------------------------------------------------------------
# Text


# (at least, divide by, unit, decimals), largest first; below the last: the bare number.
_TIME_UNITS = ((1.0, 1.0, "s", 2), (1e-3, 1e-3, "ms", 1), (0.0, 1e-6, "us", 0))
_COUNT_UNITS = ((1e9, 1e9, "G", 2), (1e6, 1e6, "M", 2), (1e4, 1e3, "k", 1))


def _scaled(value: float | None, units: tuple[tuple[float, float, str, int], ...]) -> str:
    if value is None:
        return "-"
    for least, divisor, unit, decimals in units:
        if value >= least:
            return f"{value / divisor:.{decimals}f}{unit}"
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.2f}"


def _fmt_time(seconds: float | None) -> str:
    return _scaled(seconds, _TIME_UNITS)


def _fmt(name: str, value: float | None) -> str:
    return _scaled(value, _TIME_UNITS if name in TIME_METRICS else _COUNT_UNITS)


def _attribute_table(metrics: dict[str, MetricSummary | None]) -> list[str]:
    header = (
        f"# {'Attribute':<14}{'total':>10}{'min':>10}{'max':>10}{'avg':>10}{'p50':>10}{'p95':>10}{'p99':>10}"
    )
    lines = [header, "# " + "=" * (len(header) - 2)]
    for name in METRICS:
        m = metrics.get(name)
        if m is None:
            continue
        cells = [m.total, m.min, m.max, m.avg, m.p50, m.p95, m.p99]
        lines.append(f"# {_LABELS[name]:<14}" + "".join(f"{_fmt(name, v):>10}" for v in cells))
    return lines


def report_text(report: DigestReport, top: int, example_length: int = EXAMPLE_SHOWN) -> str:
    """The text report; examples longer than `example_length` characters are shortened (0:
    never)."""
    lines: list[str] = []
    names = ", ".join(s.name for s in report.sources) or "(none)"
    lines.append(f"# sqlops digest of {names}")
    lines.append(
        f"# {report.queries} statements in {report.class_count} classes; "
        f"{report.skipped_total} input items skipped; ranked by {report.sort}"
    )
    if report.first_seen is not None:
        lines.append(f"# Time range: {_iso(report.first_seen)} to {_iso(report.last_seen)}")
    if report.outside_window:
        lines.append(
            f"# {report.outside_window} statements outside --since/--until (or without a timestamp) left out"
        )
    if any(m is not None for m in report.totals.values()):
        lines += _attribute_table(report.totals)
    several = len(report.sources) > 1
    if several:
        lines += _server_table(report.servers, report.queries, _query_time_total(report.totals))
    if report.skipped_total:
        lines.append("#")
        lines.append("# Skipped input (first 10; --format json lists up to 1000):")
        for s in report.skipped[:10]:
            lines.append(f"#   {s.source}:{s.line}: {s.reason}")
    shown = report.classes[: max(top, 0)]
    if not shown:
        lines.append("#")
        lines.append("# No statements found.")
        return "\n".join(lines) + "\n"
    total_time = sum(m.total for c in report.classes if (m := c.metrics.get("query_time")) is not None)
    lines += [
        "",
        "# Profile",
        f"# {'Rank':>4} {'Query ID':<16} {'Response time':>18} {'Calls':>8} {'R/Call':>9} Fingerprint",
    ]
    lines.append(
        "# " + "=" * 4 + " " + "=" * 16 + " " + "=" * 18 + " " + "=" * 8 + " " + "=" * 9 + " " + "=" * 30
    )
    for rank, c in enumerate(shown, start=1):
        qt = c.metrics.get("query_time")
        share = f"{qt.total / total_time * 100:5.1f}%" if qt is not None and total_time else "     -"
        response = f"{qt.total:10.4f} {share}" if qt is not None else f"{'-':>10} {share}"
        per_call = f"{qt.avg:9.4f}" if qt is not None else f"{'-':>9}"
        flag = " [no index]" if c.not_using_indexes else ""
        lines.append(
            f"# {rank:>4} {c.id:<16} {response:>18} {c.count:>8} {per_call} {_short(c.fingerprint)}{flag}"
        )
    if len(report.classes) > len(shown):
        lines.append(f"# ({len(report.classes) - len(shown)} more classes; raise --top to see them)")
    if report.beyond_cap is not None:
        b = report.beyond_cap
        lines.append(
            f"# (and {b.classes} classes beyond the cap of {len(report.classes)} kept in full: "
            f"{b.statements} statements, {b.query_time:.4f} s together; the classes with the "
            "least total time were folded first)"
        )
    for rank, c in enumerate(shown, start=1):
        lines.append("")
        lines += _class_detail(rank, c, example_length, several)
    return "\n".join(lines) + "\n"


def _short(text: str, width: int = 70) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def _counts(values: dict[str, int], total: int, limit: int = 5) -> str:
    """``name count (share)``, most first; the share is of the class's statements."""
    items = list(values.items())
    text = ", ".join(f"{k} {n} ({_share(n, total)})" for k, n in items[:limit])
    return text + (f", +{len(items) - limit} more" if len(items) > limit else "") if text else "-"


def _share(n: float, total: float) -> str:
    return f"{n / total * 100:.0f}%" if total else "-"


def _extra_lines(extras: tuple[ExtraMetric, ...]) -> list[str]:
    """Server-specific fields as an aligned table; Yes/No fields as the share of Yes."""
    if not extras:
        return []
    lines = [f"# {'Extra attribute':<22}{'total':>10}{'max':>10}{'statements':>12}"]
    for e in extras:
        if e.name.lower() in BOOLEAN_EXTRAS:
            label = e.name.replace("_", " ")
            lines.append(f"# {label:<22}{_share(e.total, e.count):>10}{'':>10}{e.count:>12}")
            continue
        unit = "query_time" if e.name.lower().endswith(("_time", "_wait")) else "rows_sent"
        lines.append(f"# {e.name:<22}{_fmt(unit, e.total):>10}{_fmt(unit, e.max):>10}{e.count:>12}")
    return lines


def _histogram_lines(counts: tuple[int, ...] | None) -> list[str]:
    if not counts or not any(counts):
        return []
    top = max(counts)
    lines = ["# Query_time distribution"]
    for label, n in zip(HISTOGRAM_LABELS, counts, strict=True):
        bar = "#" * max(1, round(n / top * 50)) if n else ""
        lines.append(f"# {label:>6} {n:>8}  {bar}".rstrip())
    return lines


def explain_statement(ex: QueryExample) -> str | None:
    """A ready-to-run EXPLAIN of the example, or None when EXPLAIN does not take it (not a
    SELECT/INSERT/REPLACE/UPDATE/DELETE/TABLE/WITH statement, or the example is cut)."""
    m = _FIRST_WORD.match(ex.sql)
    if ex.truncated or m is None or m.group(1).upper() not in _EXPLAINABLE:
        return None
    sql = ex.sql.rstrip().rstrip(";")
    use = f"USE `{ex.database.replace('`', '``')}`; " if ex.database else ""
    return f"{use}EXPLAIN {sql};"


def _example_lines(ex: QueryExample, example_length: int) -> list[str]:
    where = f"{ex.source}:{ex.line}" if ex.line else ex.source
    label = "Worst example" if ex.query_time is not None else "Example (first seen; the log has no timings)"
    lines = [
        f"# {label} ({where}; db {ex.database or '-'}; {_iso(ex.timestamp) or 'time unknown'}; "
        f"{_fmt_time(ex.query_time)}){' [truncated]' if ex.truncated else ''}:"
    ]
    if ex.explain:
        lines += [f"# explain: {row}" for row in ex.explain.splitlines()]
    sql = ex.sql
    if example_length and len(sql) > example_length:
        size = f"{'more than ' if ex.truncated else ''}{len(sql):,}"
        lines.append(sql[:example_length] + " ...")
        lines.append(
            f"# (example shortened to {example_length:,} of {size} characters; "
            "--example-length 0 shows it whole, --format json keeps it)"
        )
        return lines
    lines.append(sql if sql.endswith(";") else sql + ";")
    explain = explain_statement(ex)
    if explain is not None:
        lines.append("# EXPLAIN (ready to run):")
        lines.append(explain)
    return lines


def _query_time_total(metrics: dict[str, MetricSummary | None]) -> float:
    m = metrics.get("query_time")
    return m.total if m is not None else 0.0


def _server_table(shares: tuple[ServerShare, ...], count: int, query_time: float) -> list[str]:
    """Executions and time per server (log file or --server), with their shares."""
    width = max([len("Server"), *(len(s.name) for s in shares)])
    lines = [f"# {'Server':<{width}} {'calls':>9} {'share':>6} {'time':>10} {'share':>6}"]
    for s in shares:
        lines.append(
            f"# {s.name:<{width}} {s.count:>9} {_share(s.count, count):>6} "
            f"{_fmt_time(s.query_time):>10} {_share(s.query_time, query_time):>6}"
        )
    return lines


def _class_detail(
    rank: int, c: QueryClass, example_length: int = EXAMPLE_SHOWN, several: bool = False
) -> list[str]:
    lines = [f"# Query {rank}: ID {c.id}, {c.count} statements"]
    if c.first_seen is not None:
        lines.append(f"# Time range: {_iso(c.first_seen)} to {_iso(c.last_seen)}")
    if any(m is not None for m in c.metrics.values()):
        lines += _attribute_table(c.metrics)
    lines += _extra_lines(c.extra)
    if c.rows_examined_per_sent is not None:
        lines.append(f"# Rows examined per row sent: {c.rows_examined_per_sent}")
    lines.append(f"# Databases: {_counts(c.databases, c.count)}")
    lines.append(f"# Users: {_counts(c.users, c.count)}")
    lines.append(f"# Hosts: {_counts(c.hosts, c.count)}")
    if c.not_using_indexes:
        lines.append(
            f"# Not using indexes: {c.no_index_count} of {c.count} statements"
            + (f" ({c.no_index_unknown} without that information)" if c.no_index_unknown else "")
        )
    if c.errors:
        lines.append(f"# Failed statements: {c.errors}")
    if several:
        lines += _server_table(c.servers, c.count, _query_time_total(c.metrics))
    lines += _histogram_lines(c.query_time_histogram)
    if c.server_digest:
        lines.append(f"# Server digest: {c.server_digest}")
    lines.append(f"# Fingerprint: {c.fingerprint}")
    if c.example is not None:
        lines += _example_lines(c.example, example_length)
    return lines
