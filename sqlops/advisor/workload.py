"""The workload: query classes from every input, merged by class id.

Slow and general logs and performance_schema come through the digest (one class model, one
fingerprint); SQL found in application source comes from `advisor.sources`. A class seen in
both keeps the log's timings and example (real literals, so it can be executed) and the
source's file:line locations.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlops.advisor.model import WorkloadClass
from sqlops.querylog.digest import DigestReport, QueryClass


def from_digest(report: DigestReport) -> list[WorkloadClass]:
    kinds = {s.kind for s in report.sources}
    origin = ", ".join(sorted(k for k in kinds if k)) or "log"
    return [_from_class(c, origin) for c in report.classes]


def _from_class(c: QueryClass, origin: str) -> WorkloadClass:
    qt = c.metric("query_time")
    examined = c.metric("rows_examined")
    sent = c.metric("rows_sent")
    databases = sorted(c.databases.items(), key=lambda kv: -kv[1])
    example = c.example
    # performance_schema on MariaDB (and MySQL without a sample) gives only the digest text:
    # its `?` placeholders are analysed like SQL from source code (`IN (?+)` as one value).
    sql = example.sql if example is not None else c.fingerprint.replace("(?+)", "(?)")
    database = example.database if example is not None else None
    return WorkloadClass(
        id=c.id,
        fingerprint=c.fingerprint,
        example=sql,
        database=database or (databases[0][0] if databases else None),
        count=c.count,
        total_time=qt.total if qt else 0.0,
        rows_examined=int(examined.total) if examined else None,
        rows_sent=int(sent.total) if sent else None,
        not_using_indexes=c.not_using_indexes,
        origins=(origin,),
    )


def from_sources(paths: Iterable[str]) -> tuple[list[WorkloadClass], list[tuple[str, int, str]]]:
    """Classes of SQL found in application source, and the statements that could not be
    completed statically as (file, line, reason)."""
    from sqlops.advisor.sources import scan_sources
    from sqlops.advisor.sources.classes import source_classes

    scan = scan_sources(list(paths))
    out = [
        WorkloadClass(
            id=sc.id,
            fingerprint=sc.fingerprint,
            example=sc.example,
            database=None,
            count=len(sc.locations),
            total_time=0.0,
            rows_examined=None,
            rows_sent=None,
            not_using_indexes=False,
            origins=("source",),
            locations=tuple(sc.locations),
        )
        for sc in source_classes(scan)
    ]
    unresolved = [(u.file, u.line, u.reason) for u in scan.unresolved]
    return out, unresolved


def merge_classes(groups: Iterable[Iterable[WorkloadClass]]) -> list[WorkloadClass]:
    merged: dict[str, WorkloadClass] = {}
    for group in groups:
        for c in group:
            have = merged.get(c.id)
            merged[c.id] = c if have is None else _merge(have, c)
    return sorted(merged.values(), key=lambda c: (-c.total_time, -c.count, c.fingerprint))


def _merge(a: WorkloadClass, b: WorkloadClass) -> WorkloadClass:
    # Prefer an example with real literals (from a log) over one with placeholders.
    example, database = (a.example, a.database)
    if "?" in a.example and "?" not in b.example:
        example, database = b.example, b.database
    return WorkloadClass(
        id=a.id,
        fingerprint=a.fingerprint,
        example=example,
        database=database or a.database or b.database,
        count=a.count + b.count,
        total_time=a.total_time + b.total_time,
        rows_examined=_add(a.rows_examined, b.rows_examined),
        rows_sent=_add(a.rows_sent, b.rows_sent),
        not_using_indexes=a.not_using_indexes or b.not_using_indexes,
        origins=tuple(dict.fromkeys(a.origins + b.origins)),
        locations=tuple(dict.fromkeys(a.locations + b.locations)),
    )


def _add(x: int | None, y: int | None) -> int | None:
    if x is None and y is None:
        return None
    return (x or 0) + (y or 0)
