"""The slow-query-log settings a profile wants, per server flavour, and how a server has them.

Flavours differ, and a wrong name is not harmless: mysqld and mariadbd refuse to start on an
unknown option in my.cnf. MySQL has ``log_slow_extra`` (8.0.14+) and
``log_throttle_queries_not_using_indexes``; MariaDB has neither and uses ``log_slow_verbosity``
instead. Values are read from the live server when a DSN is given, else from the my.cnf files
under --root (falling back to the server defaults).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlops.tuning import sources
from sqlops.tuning.facts import Root, mysql_server_options
from sqlops.tuning.findings import Finding
from sqlops.tuning.profiles import Profile, ProfileValue

if TYPE_CHECKING:
    from sqlops.db import Session

# Server defaults (MySQL 8.4 / MariaDB 10.11) for a variable no option file sets.
DEFAULTS = {
    "slow_query_log": "OFF",
    "long_query_time": "10",
    "log_queries_not_using_indexes": "OFF",
    "log_throttle_queries_not_using_indexes": "0",
    "log_slow_extra": "OFF",
    "log_slow_verbosity": "",
    "log_output": "FILE",
}
# Other spellings accepted in option files, mapped to the variable the server reports.
ALIASES = {
    "log_slow_query": "slow_query_log",  # MariaDB >= 10.11
    "log_slow_query_time": "long_query_time",  # MariaDB >= 10.11
}
_TRUE = {"1", "on", "true", "yes"}
_NAMES = {"mariadb": "MariaDB", "mysql": "MySQL"}


def _on(value: str) -> bool:
    return value.strip().lower() in _TRUE


@dataclass(frozen=True)
class Wanted:
    """One variable with the value to render and the test an observed value must pass."""

    variable: str
    render: str
    expected: str
    accepts: Callable[[str], bool]
    why: str
    sources: tuple[str, ...]


def wanted(profile: Profile, flavour: str, version: tuple[int, int, int] | None = None) -> list[Wanted]:
    """The profile's [mysql] settings that exist on `flavour` (and `version`, when known)."""
    out: list[Wanted] = []

    def add(pv: ProfileValue | None, render: str, expected: str, accepts: Callable[[str], bool]) -> None:
        if pv is not None:
            out.append(Wanted(pv.key, render, expected, accepts, pv.why, pv.sources))

    def switch(key: str) -> None:
        pv = profile.get("mysql", key)
        if pv is not None:
            on = bool(pv.value)
            add(pv, "ON" if on else "OFF", "ON" if on else "OFF", lambda v: _on(v) == on)

    mysql = flavour == "mysql"
    switch("slow_query_log")
    limit = profile.get("mysql", "long_query_time")
    if limit is not None:
        seconds = float(limit.value)
        add(limit, f"{seconds:g}", f"<= {seconds:g}", lambda v: _float(v, default=seconds + 1) <= seconds)
    switch("log_queries_not_using_indexes")
    throttle = profile.get("mysql", "log_throttle_queries_not_using_indexes")
    if mysql and throttle is not None:
        most = int(throttle.value)
        add(throttle, str(most), f"1..{most}", lambda v: v.isdigit() and 1 <= int(v) <= most)
    if mysql and (version is None or version >= (8, 0, 14)):
        switch("log_slow_extra")
    verbosity = profile.get("mysql", "log_slow_verbosity")
    if not mysql and verbosity is not None:
        items = {i.strip().lower() for i in str(verbosity.value).split(",") if i.strip()}
        add(
            verbosity,
            ",".join(sorted(items)),
            "includes " + ",".join(sorted(items)),
            lambda v: items <= {i.strip().lower() for i in v.split(",")} or "all" in v.lower(),
        )
    return out


def _float(text: str, default: float) -> float:
    try:
        return float(text)
    except ValueError:
        return default


@dataclass(frozen=True)
class Observed:
    value: str
    fact: str  # "server ...: @@GLOBAL.x", "/etc/mysql/...cnf:12" or "default (not set in my.cnf)"


def from_server(session: Session, names: list[str]) -> dict[str, Observed]:
    where = f"server {session.info.describe()}"
    out: dict[str, Observed] = {}
    for name in names:
        rows = session.query("SHOW GLOBAL VARIABLES LIKE %s", (name,))
        if rows:
            out[name] = Observed(str(rows[0][1]), f"{where}: SHOW GLOBAL VARIABLES LIKE '{name}'")
    return out


def from_option_files(root: Root, names: list[str]) -> dict[str, Observed]:
    found = {ALIASES.get(k, k): v for k, v in mysql_server_options(root).items()}
    out: dict[str, Observed] = {}
    for name in names:
        setting = found.get(name)
        if setting is not None:
            out[name] = Observed(setting.value, setting.where)
        elif name in DEFAULTS:
            out[name] = Observed(DEFAULTS[name], "server default (not set in the option files)")
    return out


def check(
    profile: Profile, flavour: str, observed: dict[str, Observed], version: tuple[int, int, int] | None
) -> list[Finding]:
    out = []
    for want in wanted(profile, flavour, version):
        seen = observed.get(want.variable)
        if seen is None:
            out.append(
                Finding(
                    check=f"mysql:{want.variable}",
                    title=f"{_NAMES[flavour]} {want.variable}",
                    status="UNKNOWN",
                    observed=None,
                    expected=want.expected,
                    reason=f"the server does not report {want.variable}. {want.why}",
                    sources=want.sources,
                    fact="server",
                )
            )
            continue
        out.append(
            Finding(
                check=f"mysql:{want.variable}",
                title=f"{_NAMES[flavour]} {want.variable}",
                status="OK" if want.accepts(seen.value) else "WARNING",
                observed=seen.value if seen.value != "" else "(empty)",
                expected=want.expected,
                reason=want.why,
                sources=want.sources,
                fact=seen.fact,
            )
        )
    output = observed.get("log_output")
    if output is not None:
        has_file = "file" in output.value.lower().split(",")
        out.append(
            Finding(
                check="mysql:log_output",
                title=f"{_NAMES[flavour]} log_output",
                status="OK" if has_file else "WARNING",
                observed=output.value,
                expected="includes FILE",
                reason="sqlops advise --log reads the slow log file; with TABLE only there is no file, "
                "and MariaDB writes EXPLAIN and query-plan details to the file only.",
                sources=(sources.MYSQL_SLOW_LOG, sources.MARIADB_SLOW_LOG),
                fact=output.fact,
            )
        )
    return out


def variables(profile: Profile, flavour: str, version: tuple[int, int, int] | None = None) -> list[str]:
    return [w.variable for w in wanted(profile, flavour, version)] + ["log_output"]
