"""``--from-server``: the class model from ``performance_schema.events_statements_summary_by_digest``
(MySQL 8+, MariaDB 10.6+ with performance_schema on), so advice needs no log file.

Rows are grouped by our fingerprint of DIGEST_TEXT (the server groups by schema and digest;
several schemas of one statement become one class with several databases). Timer columns are
picoseconds. What the table has: count, total/min/avg/max time, total lock time, rows sent /
examined / affected totals, errors, SUM_NO_INDEX_USED + SUM_NO_GOOD_INDEX_USED (the
not-using-indexes flag), first/last seen; MySQL 8 adds QUANTILE_95/99 and a sample statement.
Where several rows merge, the class takes the highest of their quantiles (an upper bound).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from typing import Any

from sqlops.db import Session
from sqlops.errors import PreconditionError
from sqlops.querylog.digest import (
    METRICS,
    DigestReport,
    MetricSummary,
    QueryClass,
    QueryExample,
    ServerShare,
    SourceSummary,
    sort_classes,
)
from sqlops.querylog.fingerprint import class_id, fingerprint

_BASE_COLUMNS = (
    "SCHEMA_NAME",
    "DIGEST",
    "DIGEST_TEXT",
    "COUNT_STAR",
    "SUM_TIMER_WAIT",
    "MIN_TIMER_WAIT",
    "MAX_TIMER_WAIT",
    "SUM_LOCK_TIME",
    "SUM_ERRORS",
    "SUM_ROWS_AFFECTED",
    "SUM_ROWS_SENT",
    "SUM_ROWS_EXAMINED",
    "SUM_NO_INDEX_USED",
    "SUM_NO_GOOD_INDEX_USED",
    "FIRST_SEEN",
    "LAST_SEEN",
)
_OPTIONAL_COLUMNS = (
    "QUANTILE_95",
    "QUANTILE_99",
    "QUERY_SAMPLE_TEXT",
    "QUERY_SAMPLE_SEEN",
    "QUERY_SAMPLE_TIMER_WAIT",
)
PS = 1e-12  # picoseconds -> seconds
# The key a row carries for the server it was read from (an index into the server names).
SERVER = "_server"


def read_digest_table(session: Session, source_name: str, sort: str = "total") -> DigestReport:
    """Read the digest summary table into a ranked report (all classes)."""
    return read_digest_tables([(session, source_name)], sort)


def read_digest_tables(servers: Sequence[tuple[Session, str]], sort: str = "total") -> DigestReport:
    """Read the digest summary tables of several servers (a cluster's nodes, a primary and its
    replicas) into one ranked report: classes are grouped across the servers, and each class
    says how many executions and how much time each server contributed."""
    rows: list[dict[str, Any]] = []
    counts: list[int] = []
    for index, (session, name) in enumerate(servers):
        mine = _digest_rows(session, name)
        for row in mine:
            row[SERVER] = index
        counts.append(sum(_int(r["COUNT_STAR"]) for r in mine))
        rows += mine
    names = [name for _session, name in servers]
    classes = build_classes(rows, names)
    count = sum(c.count for c in classes)
    seen = [c.first_seen for c in classes if c.first_seen] + [c.last_seen for c in classes if c.last_seen]
    totals = _totals(classes)
    return DigestReport(
        sources=tuple(
            SourceSummary(name, "performance_schema", 0, n, 0) for name, n in zip(names, counts, strict=True)
        ),
        queries=count,
        class_count=len(classes),
        skipped_total=0,
        skipped_by_reason={},
        skipped=(),
        first_seen=min(seen) if seen else None,
        last_seen=max(seen) if seen else None,
        totals=totals,
        sort=sort,
        classes=sort_classes(classes, sort),
        servers=_server_totals(rows, names),
    )


def _digest_rows(session: Session, source_name: str) -> list[dict[str, Any]]:
    enabled = session.scalar("SELECT @@performance_schema")
    if not enabled or str(enabled) in ("0", "OFF"):
        raise PreconditionError(
            f"performance_schema is off on {source_name}",
            why="--from-server reads performance_schema.events_statements_summary_by_digest",
            fix="set performance_schema=ON in the server's my.cnf and restart it, or digest a log (--log)",
        )
    present = {
        row[0].upper()
        for row in session.query(
            "SELECT COLUMN_NAME FROM information_schema.COLUMNS "
            "WHERE TABLE_SCHEMA = 'performance_schema' AND TABLE_NAME = 'events_statements_summary_by_digest'"
        )
    }
    columns = [c for c in _BASE_COLUMNS if c in present] + [c for c in _OPTIONAL_COLUMNS if c in present]
    return session.query_dicts(
        "SELECT " + ", ".join(columns) + " FROM performance_schema.events_statements_summary_by_digest"
    )


def _server_totals(rows: list[dict[str, Any]], names: list[str]) -> tuple[ServerShare, ...]:
    """Executions and time per server, over the given rows (all of one class, or all)."""
    count: Counter[int] = Counter()
    wait: Counter[int] = Counter()
    for row in rows:
        count[row.get(SERVER, 0)] += _int(row["COUNT_STAR"])
        wait[row.get(SERVER, 0)] += _int(row["SUM_TIMER_WAIT"])
    return tuple(ServerShare(names[i], count[i], round(wait[i] * PS, 6)) for i in sorted(count) if count[i])


def build_classes(
    rows: list[dict[str, Any]], server_names: Sequence[str] = ("performance_schema",)
) -> list[QueryClass]:
    """Group digest-table rows (dicts keyed by column name; SERVER: the index into
    `server_names` of the server a row came from) into classes."""
    groups: dict[bytes, list[dict[str, Any]]] = {}
    texts: dict[bytes, str] = {}
    for row in rows:
        text = row.get("DIGEST_TEXT")
        if text is None:  # the overflow row once the table is full
            text = "(statements not digested: performance_schema_digests_size reached)"
            fp_text, key = text, text.encode()
        else:
            fp = fingerprint(text)
            fp_text, key = fp.text.decode("utf-8", "replace"), fp.key
        groups.setdefault(key, []).append(row)
        texts.setdefault(key, fp_text)
    return [_to_class(key, texts[key], members, list(server_names)) for key, members in groups.items()]


def _int(value: Any) -> int:
    return int(value or 0)


def _to_class(key: bytes, text: str, rows: list[dict[str, Any]], server_names: list[str]) -> QueryClass:
    count = sum(_int(r["COUNT_STAR"]) for r in rows)
    timed = [r for r in rows if _int(r["COUNT_STAR"])]
    total = sum(_int(r["SUM_TIMER_WAIT"]) for r in rows) * PS

    def quantile(column: str) -> float | None:
        values = [_int(r[column]) * PS for r in rows if r.get(column) is not None]
        return round(max(values), 6) if values else None

    query_time = None
    if count:
        query_time = MetricSummary(
            count=count,
            total=round(total, 6),
            min=round(min(_int(r["MIN_TIMER_WAIT"]) for r in timed) * PS, 6) if timed else None,
            max=round(max(_int(r["MAX_TIMER_WAIT"]) for r in timed) * PS, 6) if timed else None,
            avg=round(total / count, 6),
            p50=None,
            p95=quantile("QUANTILE_95"),
            p99=quantile("QUANTILE_99"),
        )

    def totals_only(column: str, scale: float = 1.0) -> MetricSummary | None:
        if not count or column not in rows[0]:
            return None
        value = sum(_int(r[column]) for r in rows) * scale
        value = round(value, 6) if scale != 1.0 else value
        return MetricSummary(count, value, None, None, round(value / count, 6), None, None, None)

    metrics: dict[str, MetricSummary | None] = dict.fromkeys(METRICS)
    metrics["query_time"] = query_time
    metrics["lock_time"] = totals_only("SUM_LOCK_TIME", PS)
    metrics["rows_sent"] = totals_only("SUM_ROWS_SENT")
    metrics["rows_examined"] = totals_only("SUM_ROWS_EXAMINED")
    metrics["rows_affected"] = totals_only("SUM_ROWS_AFFECTED")
    sent, examined = metrics["rows_sent"], metrics["rows_examined"]
    ratio = round(examined.total / sent.total, 2) if sent and examined and sent.total else None
    no_index = sum(_int(r.get("SUM_NO_INDEX_USED")) + _int(r.get("SUM_NO_GOOD_INDEX_USED")) for r in rows)
    databases: Counter[str] = Counter()
    for r in rows:
        if r.get("SCHEMA_NAME"):
            databases[r["SCHEMA_NAME"]] += _int(r["COUNT_STAR"])
    first = [t for r in rows if (t := _utc(r.get("FIRST_SEEN"))) is not None]
    last = [t for r in rows if (t := _utc(r.get("LAST_SEEN"))) is not None]
    example = None
    samples = [r for r in rows if r.get("QUERY_SAMPLE_TEXT")]
    if samples:
        worst = max(samples, key=lambda r: _int(r.get("QUERY_SAMPLE_TIMER_WAIT")))
        example = QueryExample(
            sql=worst["QUERY_SAMPLE_TEXT"],
            database=worst.get("SCHEMA_NAME"),
            timestamp=_utc(worst.get("QUERY_SAMPLE_SEEN")),
            query_time=round(_int(worst.get("QUERY_SAMPLE_TIMER_WAIT")) * PS, 6),
            source=server_names[worst.get(SERVER, 0)],
            line=0,
            truncated=False,
        )
    digests = sorted({str(r["DIGEST"]) for r in rows if r.get("DIGEST")})
    return QueryClass(
        id=class_id(key),
        fingerprint=text,
        count=count,
        metrics=metrics,
        rows_examined_per_sent=ratio,
        first_seen=min(first) if first else None,
        last_seen=max(last) if last else None,
        databases=dict(sorted(databases.items(), key=lambda kv: (-kv[1], kv[0]))),
        users={},
        hosts={},
        not_using_indexes=no_index > 0,
        no_index_count=min(no_index, count),
        no_index_unknown=0,
        errors=sum(_int(r.get("SUM_ERRORS")) for r in rows),
        extra=(),
        example=example,
        server_digest=",".join(digests) or None,
        servers=_server_totals(rows, server_names),
    )


def _utc(value: Any) -> dt.datetime | None:
    if not isinstance(value, dt.datetime):
        return None
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def _totals(classes: list[QueryClass]) -> dict[str, MetricSummary | None]:
    out: dict[str, MetricSummary | None] = {}
    for name in METRICS:
        parts = [m for c in classes if (m := c.metrics.get(name)) is not None]
        if not parts:
            out[name] = None
            continue
        n = sum(p.count for p in parts)
        total = sum(p.total for p in parts)
        mins = [p.min for p in parts if p.min is not None]
        maxs = [p.max for p in parts if p.max is not None]
        out[name] = MetricSummary(
            n,
            round(total, 6),
            min(mins) if mins else None,
            max(maxs) if maxs else None,
            round(total / n, 6) if n else 0.0,
            None,
            None,
            None,
        )
    return out
