"""Timestamps in reports: RFC 3339 in UTC with its zone (``2026-12-02T17:40:00.123Z``), the one
format every JSON report uses (`digest`, `jobs`, `ingest status`, `ingest quarantine`)."""

from __future__ import annotations

import datetime as dt
from typing import Any


def rfc3339(value: dt.datetime) -> str:
    """Naive values are UTC: sqlops stores UTC in its tables."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def epoch_rfc3339(seconds: float | None) -> str | None:
    return None if seconds is None else rfc3339(dt.datetime.fromtimestamp(seconds, dt.UTC))


def times_rfc3339(value: Any) -> Any:
    """`value` (dicts and lists nested) with every datetime as RFC 3339."""
    if isinstance(value, dict):
        return {k: times_rfc3339(v) for k, v in value.items()}
    if isinstance(value, list):
        return [times_rfc3339(v) for v in value]
    return rfc3339(value) if isinstance(value, dt.datetime) else value
