"""`--since` / `--until` values: a date, a date and time, or an age ("2h" before now).

Times without a zone are UTC, as the report prints them (MySQL writes UTC `# Time:` lines by
default; MariaDB's local `# Time:` lines are read as UTC too, see slowlog.parse_log_time).
"""

from __future__ import annotations

import datetime as dt
import re
import time

from sqlops.errors import UsageError

_AGE = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_time_bound(option: str, value: str, now: float | None = None) -> float:
    """Epoch seconds for `value` (see the module doc); UsageError says what is accepted."""
    text = value.strip()
    age = _AGE.fullmatch(text)
    if age:
        return (time.time() if now is None else now) - float(age.group(1)) * _SECONDS[age.group(2)]
    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"{option} {value!r} is not a time",
            why="it is neither a date, a date and time, nor an age",
            fix=f"use e.g. {option} 2026-11-27, {option} '2026-11-27 10:00' (UTC unless a zone "
            f"is given: 2026-11-27T10:00+01:00) or {option} 2h (30m, 7d: that long before now)",
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.timestamp()


def check_window(since: float | None, until: float | None) -> None:
    if since is not None and until is not None and since >= until:
        raise UsageError(
            "--since is not before --until",
            why="no statement can be at or after --since and before --until",
            fix="swap the two values, or leave one out",
        )
