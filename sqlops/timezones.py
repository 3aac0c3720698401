"""The configured time zone, on both sides of the wire.

The zone decides which day (and so which monthly partition) a request belongs to. The server
session is pinned to it (``SET time_zone``) and Python computes the same dates with
:mod:`zoneinfo`, so the daemon, the backfill and the SQL expressions agree (DESIGN.md §4).

Offsets such as ``+02:00`` always work on the server but do not follow DST; named zones need
the server's time-zone tables (``mysql_tzinfo_to_sql``). ``UTC`` is treated as ``+00:00`` so
that the common choice works without those tables.
"""

from __future__ import annotations

import datetime as dt
import re
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlops.errors import ConfigError

_OFFSET = re.compile(r"^([+-])(\d{1,2}):(\d{2})$")
_UTC_NAMES = {"utc", "z", "etc/utc", "gmt", "etc/gmt", "universal", "zulu"}


def server_zone(name: str) -> str:
    """The value for ``SET time_zone``: offsets as given, UTC spelled as an offset."""
    if name.strip().lower() in _UTC_NAMES:
        return "+00:00"
    return name.strip()


@lru_cache(maxsize=32)
def python_zone(name: str) -> dt.tzinfo:
    """The Python tzinfo for a configured zone; raises ConfigError for an unknown one."""
    zone = server_zone(name)
    match = _OFFSET.match(zone)
    if match:
        sign, hours, minutes = match.groups()
        delta = dt.timedelta(hours=int(hours), minutes=int(minutes))
        if delta > dt.timedelta(hours=14):
            raise ConfigError(f"time zone offset {name!r} is out of range (-13:59 .. +14:00)")
        return dt.timezone(-delta if sign == "-" else delta)
    if zone.upper() == "SYSTEM":
        raise ConfigError(
            "database.time_zone = 'SYSTEM' is not a pinned zone",
            why="SYSTEM follows each server's OS setting, so the same request could land on "
            "different days on different servers",
            fix="set an IANA name such as 'Europe/Berlin' or an offset such as '+01:00'",
        )
    try:
        return ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"unknown time zone {name!r}",
            fix="use an IANA name such as 'Europe/Berlin' (see /usr/share/zoneinfo) "
            "or an offset such as '+01:00'",
        ) from None


def is_offset(name: str) -> bool:
    return bool(_OFFSET.match(server_zone(name)))


def local_date_of_epoch(epoch: float, zone: str) -> dt.date:
    """The calendar day of a Unix time in the configured zone (what `date_day` stores)."""
    return dt.datetime.fromtimestamp(int(epoch // 1), python_zone(zone)).date()


def date_day_sql(epoch_expr: str, zone: str) -> str:
    """SQL for the day of a Unix-time expression in `zone`, independent of the session's own
    time zone: the epoch becomes a UTC datetime by plain arithmetic, then CONVERT_TZ moves it
    into the zone. Works on MySQL and MariaDB; named zones need the server's zone tables."""
    quoted = "'" + server_zone(zone).replace("'", "''") + "'"
    return (
        f"DATE(CONVERT_TZ(TIMESTAMP'1970-01-01 00:00:00' + INTERVAL FLOOR({epoch_expr}) SECOND, "
        f"'+00:00', {quoted}))"
    )
