"""Calendar arithmetic for monthly partitions (pure).

A partition ``pYYYYmMM`` holds the days of that month: ``VALUES LESS THAN (TO_DAYS(<first
day of the next month>))``. `date_day` is already the request's day in the configured zone,
so bounds are plain dates; the zone only decides which day *today* is, from the server's
clock (DESIGN.md §4).
"""

from __future__ import annotations

import datetime as dt
import re

from sqlops.timezones import python_zone

# TO_DAYS('0001-01-01') = 366 while date(1, 1, 1).toordinal() = 1.
_TO_DAYS_OFFSET = 365
_MONTHLY_NAME = re.compile(r"^p(\d{4})m(\d{2})$")


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def add_months(day: dt.date, months: int) -> dt.date:
    """The first day of the month `months` after (or before) `day`'s month."""
    index = day.year * 12 + (day.month - 1) + months
    return dt.date(index // 12, index % 12 + 1, 1)


def months_between(start: dt.date, end: dt.date) -> int:
    """Whole months from `start`'s month to `end`'s month."""
    return (end.year - start.year) * 12 + (end.month - start.month)


def month_label(upper: dt.date) -> dt.date:
    """The month a partition with this (exclusive) upper bound is named after: the month of its
    last day."""
    return month_start(upper - dt.timedelta(days=1))


def partition_name(month: dt.date) -> str:
    return f"p{month.year:04d}m{month.month:02d}"


def parse_partition_name(name: str) -> dt.date | None:
    match = _MONTHLY_NAME.match(name)
    if not match or not 1 <= int(match.group(2)) <= 12:
        return None
    return dt.date(int(match.group(1)), int(match.group(2)), 1)


def archive_name(table: str, month: dt.date) -> str:
    """The table an expired month is archived to: ``access_log_2025m10``."""
    return f"{table}_{month.year:04d}m{month.month:02d}"


def to_days(day: dt.date) -> int:
    """MySQL's TO_DAYS()."""
    return day.toordinal() + _TO_DAYS_OFFSET


def from_days(number: int) -> dt.date:
    """MySQL's FROM_DAYS() for the dates partitions use."""
    return dt.date.fromordinal(number - _TO_DAYS_OFFSET)


def today_in_zone(now_utc: dt.datetime, zone: str) -> dt.date:
    """The calendar day in the configured zone at the UTC instant `now_utc` (naive = UTC)."""
    if now_utc.tzinfo is None:
        now_utc = now_utc.replace(tzinfo=dt.UTC)
    return now_utc.astimezone(python_zone(zone)).date()
