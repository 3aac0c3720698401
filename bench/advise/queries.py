"""The report queries the admin pages of a Squid reporting UI run (issue #9), as *shapes*.

Each shape has a weight (how often its page runs, relative: runs per hour of a busy day), a
parameter generator drawing realistic values from the workload model (Zipf-popular users,
clients, sites and weekdays, seeded), and a column annotation per table used by the naive and
oracle index sets of `bench/advise/run.py`:

- ``where``: every column the WHERE clause mentions (also inside functions / LIKE '%x%');
- ``eq`` / ``range``: the sargable equality / range (or LIKE 'prefix%') columns;
- ``join``: columns this table is joined on; ``order`` / ``group``: ORDER BY / GROUP BY columns.

Good and bad patterns are mixed on purpose: functions on columns, a string column compared with
a number, OR across columns, NOT IN (subquery), ORDER BY RAND(), SELECT * pages, leading
wildcards, aggregates that access_log_daily answers, and lookups on non-indexed side-table
columns. All of it is real syntax on MariaDB 10.11 and MySQL 9.7.

    .venv/bin/python -m bench.advise.queries          # print one rendered statement per shape
"""

from __future__ import annotations

import bisect
import datetime as dt
import random
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pymysql.converters

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.advise.workload import DAYS, DEPARTMENTS, Model  # noqa: E402


class Draw:
    """Realistic parameter values, drawn with the same skew as the data."""

    def __init__(self, model: Model, rng: random.Random) -> None:
        self.m = model
        self.rng = rng
        self._http = [h for h in model.hosts if not h.https]
        self._http_cum = _cum(1.0 / h.rank**1.05 for h in self._http)
        self._users_cum = _cum(1.0 / (i + 1) ** 0.8 for i in range(len(model.logged_users)))
        self._weekdays = [d for d in range(DAYS) if model.day(d).weekday() < 5]

    def user(self) -> str:
        return _pick(self.rng, self.m.logged_users, self._users_cum)

    def ip(self) -> str:
        return _pick(self.rng, self.m.clients, self.m.client_cum).ip

    def day_index(self) -> int:
        # Mostly recent weekdays (yesterday's report), sometimes any day.
        if self.rng.random() < 0.7:
            return self._weekdays[-1 - int(len(self._weekdays) * self.rng.random() ** 3)]
        return self.rng.randrange(DAYS)

    def day(self) -> str:
        return self.m.day(self.day_index()).isoformat()

    def week(self) -> tuple[str, str]:
        d = min(self.day_index(), DAYS - 7)
        return self.m.day(d).isoformat(), self.m.day(d + 6).isoformat()

    def month(self) -> tuple[str, str]:
        first = self.m.day(self.rng.randrange(DAYS)).replace(day=1)
        nxt = (first + dt.timedelta(days=32)).replace(day=1)
        return first.isoformat(), nxt.isoformat()

    def epoch_range(self, seconds: int) -> tuple[str, str]:
        d = self.day_index()
        start = (dt.datetime.combine(self.m.day(d), dt.time(self.rng.randrange(8, 17)), dt.UTC)).timestamp()
        return f"{start:.3f}", f"{start + seconds:.3f}"

    def http_host(self) -> str:
        return _pick(self.rng, self._http, self._http_cum).name

    def host(self) -> str:
        return _pick(self.rng, self.m.hosts, self.m.host_cum).name

    def https_host(self) -> str:
        while True:
            h = _pick(self.rng, self.m.hosts, self.m.host_cum)
            if h.https:
                return h.name

    def department(self) -> str:
        return self.rng.choice(DEPARTMENTS)

    def email(self) -> str:
        return self.rng.choice([u for u in self.m.users if u.known]).email

    def admin(self) -> str:
        return self.rng.choice([self.m.departments[-1][3], "admin", "root", self.m.users[3].username])

    def word(self) -> str:
        return self.rng.choice(("facebook", "youtube", "video", "download", "login", "api/v2", ".deb", "news/2026"))

    def blocked_or_not(self) -> str:
        blocked = [h.name for h in self.m.hosts if h.blocked]
        return self.rng.choice(blocked) if self.rng.random() < 0.2 else self.host()


def _cum(weights) -> list[float]:  # type: ignore[no-untyped-def]
    out, total = [], 0.0
    for w in weights:
        total += w
        out.append(total)
    return out


def _pick(rng: random.Random, items, cum):  # type: ignore[no-untyped-def]
    return items[bisect.bisect_left(cum, rng.random() * cum[-1])]


Cols = dict[str, dict[str, tuple[str, ...]]]


@dataclass(frozen=True)
class Shape:
    name: str
    weight: float
    sql: str  # pymysql %s placeholders
    params: Callable[[Draw], tuple]
    cols: Cols = field(default_factory=dict)
    note: str = ""

    def tables(self) -> set[str]:
        return set(self.cols)

    def columns(self, table: str) -> set[str]:
        return {c for role in self.cols.get(table, {}).values() for c in role}


def c(**roles: tuple[str, ...] | str) -> dict[str, tuple[str, ...]]:
    return {k: (v,) if isinstance(v, str) else tuple(v) for k, v in roles.items()}


HOST_EXPR = "SUBSTRING_INDEX(SUBSTRING_INDEX(a.http_url, '/', 3), '/', -1)"

SHAPES: tuple[Shape, ...] = (
    # --- per-user pages -------------------------------------------------------------------
    Shape("user_traffic_by_day", 40,
          "SELECT date_day, COUNT(*) AS requests, SUM(http_reply_size) AS bytes FROM access_log "
          "WHERE http_username = %s AND date_day BETWEEN %s AND %s GROUP BY date_day ORDER BY date_day",
          lambda d: (d.user(), *d.week()),
          {"access_log": c(where=("http_username", "date_day"), eq="http_username", range="date_day", group="date_day")}),
    Shape("user_latest_requests", 50,
          "SELECT time_since_epoch, ip_client, http_method, http_url, http_status_code FROM access_log "
          "WHERE http_username = %s ORDER BY time_since_epoch DESC LIMIT 20",
          lambda d: (d.user(),),
          {"access_log": c(where="http_username", eq="http_username", order="time_since_epoch")}),
    Shape("user_denied", 15,
          "SELECT time_since_epoch, http_url FROM access_log WHERE http_username = %s "
          "AND squid_request_status = 'TCP_DENIED' ORDER BY time_since_epoch DESC LIMIT 50",
          lambda d: (d.user(),),
          {"access_log": c(where=("http_username", "squid_request_status"), eq=("http_username", "squid_request_status"),
                           order="time_since_epoch")}),
    Shape("user_page_select_star", 10,
          "SELECT * FROM access_log WHERE http_username = %s AND date_day BETWEEN %s AND %s "
          "ORDER BY time_since_epoch DESC LIMIT 50",
          lambda d: (d.user(), *d.week()),
          {"access_log": c(where=("http_username", "date_day"), eq="http_username", range="date_day",
                           order="time_since_epoch")}),
    Shape("user_month_total", 15,
          "SELECT SUM(http_reply_size) AS bytes, COUNT(*) AS requests FROM access_log "
          "WHERE http_username = %s AND date_day >= %s AND date_day < %s",
          lambda d: (d.user(), *d.month()),
          {"access_log": c(where=("http_username", "date_day"), eq="http_username", range="date_day")},
          "access_log_daily answers it"),
    Shape("user_tunnels_day", 6,
          "SELECT http_url, COUNT(*) AS n, SUM(http_reply_size) AS bytes FROM access_log "
          "WHERE http_method = 'CONNECT' AND http_username = %s AND date_day = %s "
          "GROUP BY http_url ORDER BY n DESC LIMIT 20",
          lambda d: (d.user(), d.day()),
          {"access_log": c(where=("http_method", "http_username", "date_day"),
                           eq=("http_username", "date_day", "http_method"))}),
    Shape("user_or_client", 6,
          "SELECT id, time_since_epoch, http_url FROM access_log WHERE http_username = %s OR ip_client = %s "
          "ORDER BY id DESC LIMIT 100",
          lambda d: (d.user(), d.ip()),
          {"access_log": c(where=("http_username", "ip_client"), eq=("http_username",), order="id")},
          "OR across two columns: needs an index on each (index merge) or a UNION"),
    # --- per-client pages -----------------------------------------------------------------
    Shape("client_page_select_star", 25,
          "SELECT * FROM access_log WHERE ip_client = %s ORDER BY id DESC LIMIT 100",
          lambda d: (d.ip(),),
          {"access_log": c(where="ip_client", eq="ip_client", order="id")}),
    Shape("client_last_seen", 10,
          "SELECT MAX(time_since_epoch) FROM access_log WHERE ip_client = %s",
          lambda d: (d.ip(),),
          {"access_log": c(where="ip_client", eq="ip_client", order="time_since_epoch")}),
    Shape("client_day_with_workstation", 8,
          "SELECT w.hostname, w.location, COUNT(*) AS requests, SUM(a.http_reply_size) AS bytes "
          "FROM access_log a JOIN workstations w ON w.ip_address = a.ip_client "
          "WHERE a.ip_client = %s AND a.date_day = %s GROUP BY w.hostname, w.location",
          lambda d: (d.ip(), d.day()),
          {"access_log": c(where=("ip_client", "date_day"), eq=("ip_client", "date_day")),
           "workstations": c(join="ip_address")}),
    # --- per-day / per-site reports -------------------------------------------------------
    Shape("top_sites_day", 30,
          f"SELECT {HOST_EXPR} AS host, COUNT(*) AS hits, SUM(a.http_reply_size) AS bytes FROM access_log a "
          "WHERE a.date_day = %s GROUP BY host ORDER BY bytes DESC LIMIT 20",
          lambda d: (d.day(),),
          {"access_log": c(where="date_day", eq="date_day")}),
    Shape("top_sites_week", 10,
          f"SELECT {HOST_EXPR} AS host, COUNT(*) AS hits, SUM(a.http_reply_size) AS bytes FROM access_log a "
          "WHERE a.date_day BETWEEN %s AND %s GROUP BY host ORDER BY hits DESC LIMIT 50",
          lambda d: d.week(),
          {"access_log": c(where="date_day", range="date_day")}),
    Shape("traffic_by_hour", 20,
          "SELECT HOUR(FROM_UNIXTIME(time_since_epoch)) AS hour, COUNT(*) AS requests, SUM(http_reply_size) AS bytes "
          "FROM access_log WHERE date_day = %s GROUP BY hour ORDER BY hour",
          lambda d: (d.day(),),
          {"access_log": c(where="date_day", eq="date_day")}),
    Shape("day_by_function", 12,
          "SELECT COUNT(*) AS requests, SUM(http_reply_size) AS bytes, COUNT(DISTINCT http_username) AS users "
          "FROM access_log WHERE DATE(FROM_UNIXTIME(time_since_epoch)) = %s",
          lambda d: (d.day(),),
          {"access_log": c(where="time_since_epoch")},
          "function on the column: rewrite to date_day = D"),
    Shape("year_by_function", 2,
          "SELECT MONTH(date_day) AS month, COUNT(*) AS requests, SUM(http_reply_size) AS bytes "
          "FROM access_log WHERE YEAR(date_day) = %s GROUP BY month ORDER BY month",
          lambda d: (2026,),
          {"access_log": c(where="date_day")},
          "YEAR(col) = N: rewrite to a date_day range"),
    Shape("status_as_number", 4,
          "SELECT http_username, COUNT(*) AS n FROM access_log WHERE http_status_code = %s "
          "GROUP BY http_username ORDER BY n DESC LIMIT 20",
          lambda d: (d.rng.choice((403, 502, 503, 404)),),
          {"access_log": c(where="http_status_code")},
          "VARCHAR column compared with a number: no index can be used"),
    Shape("errors_day", 5,
          "SELECT http_status_code, squid_request_status, COUNT(*) AS n FROM access_log "
          "WHERE date_day = %s AND (http_status_code LIKE '5%%' OR http_status_code = '000') "
          "GROUP BY http_status_code, squid_request_status ORDER BY n DESC",
          lambda d: (d.day(),),
          {"access_log": c(where=("date_day", "http_status_code"), eq="date_day")}),
    Shape("cache_status_day", 6,
          "SELECT squid_request_status, COUNT(*) AS n, SUM(http_reply_size) AS bytes FROM access_log "
          "WHERE date_day = %s GROUP BY squid_request_status ORDER BY n DESC",
          lambda d: (d.day(),),
          {"access_log": c(where="date_day", eq="date_day", group="squid_request_status")}),
    Shape("mime_week", 3,
          "SELECT http_mime_type, COUNT(*) AS n, SUM(http_reply_size) AS bytes FROM access_log "
          "WHERE date_day BETWEEN %s AND %s GROUP BY http_mime_type ORDER BY bytes DESC LIMIT 15",
          lambda d: d.week(),
          {"access_log": c(where="date_day", range="date_day", group="http_mime_type")}),
    Shape("slow_responses_day", 3,
          "SELECT http_url, http_username, time_response FROM access_log WHERE date_day = %s "
          "AND time_response > %s ORDER BY time_response DESC LIMIT 20",
          lambda d: (d.day(), d.rng.choice((20000, 60000, 120000))),
          {"access_log": c(where=("date_day", "time_response"), eq="date_day", range="time_response",
                           order="time_response")}),
    Shape("big_downloads", 2,
          "SELECT http_username, http_url, http_reply_size FROM access_log WHERE http_reply_size > %s "
          "AND date_day >= %s ORDER BY http_reply_size DESC LIMIT 20",
          lambda d: (d.rng.choice((50_000_000, 100_000_000)), d.week()[0]),
          {"access_log": c(where=("http_reply_size", "date_day"), range=("http_reply_size", "date_day"),
                           order="http_reply_size")}),
    Shape("last_hour_epoch", 6,
          "SELECT COUNT(*) AS requests, SUM(http_reply_size) AS bytes FROM access_log "
          "WHERE time_since_epoch BETWEEN %s AND %s",
          lambda d: d.epoch_range(3600),
          {"access_log": c(where="time_since_epoch", range="time_since_epoch")}),
    Shape("day_page_select_star", 20,
          "SELECT * FROM access_log WHERE date_day = %s ORDER BY id DESC LIMIT 50 OFFSET %s",
          lambda d: (d.day(), d.rng.choice((0, 0, 0, 50, 100, 500))),
          {"access_log": c(where="date_day", eq="date_day", order="id")}),
    Shape("denied_random_sample", 2,
          "SELECT http_username, http_url FROM access_log WHERE date_day = %s "
          "AND squid_request_status = 'TCP_DENIED' ORDER BY RAND() LIMIT 10",
          lambda d: (d.day(),),
          {"access_log": c(where=("date_day", "squid_request_status"), eq=("date_day", "squid_request_status"))},
          "ORDER BY RAND()"),
    Shape("unknown_users_day", 3,
          "SELECT http_username, COUNT(*) AS n FROM access_log WHERE date_day = %s "
          "AND http_username NOT IN (SELECT username FROM users WHERE active = 1) "
          "GROUP BY http_username ORDER BY n DESC",
          lambda d: (d.day(),),
          {"access_log": c(where=("date_day", "http_username"), eq="date_day", group="http_username"),
           "users": c(where="active", join="username")},
          "NOT IN (subquery)"),
    # --- URLs -----------------------------------------------------------------------------
    Shape("url_prefix", 10,
          "SELECT COUNT(*) AS requests, SUM(http_reply_size) AS bytes, COUNT(DISTINCT http_username) AS users "
          "FROM access_log WHERE http_url LIKE %s",
          lambda d: (f"http://{d.http_host()}/%",),
          {"access_log": c(where="http_url", range="http_url")}),
    Shape("url_prefix_day", 8,
          "SELECT time_since_epoch, http_username, http_url, http_status_code FROM access_log "
          "WHERE http_url LIKE %s AND date_day = %s ORDER BY time_since_epoch LIMIT 200",
          lambda d: (f"http://{d.http_host()}/%", d.day()),
          {"access_log": c(where=("http_url", "date_day"), eq="date_day", range="http_url")}),
    Shape("tunnel_host_users", 6,
          "SELECT http_username, COUNT(*) AS n FROM access_log WHERE http_url = %s AND date_day BETWEEN %s AND %s "
          "GROUP BY http_username ORDER BY n DESC LIMIT 20",
          lambda d: (f"{d.https_host()}:443", *d.week()),
          {"access_log": c(where=("http_url", "date_day"), eq="http_url", range="date_day")}),
    Shape("url_contains", 5,
          "SELECT id, time_since_epoch, http_username, http_url FROM access_log WHERE http_url LIKE %s "
          "ORDER BY id DESC LIMIT 100",
          lambda d: (f"%{d.word()}%",),
          {"access_log": c(where="http_url", order="id")},
          "leading wildcard"),
    # --- joins to the side tables ---------------------------------------------------------
    Shape("department_day", 10,
          "SELECT d.name, COUNT(*) AS requests, SUM(a.http_reply_size) AS bytes FROM access_log a "
          "JOIN users u ON u.username = a.http_username JOIN departments d ON d.id = u.department_id "
          "WHERE a.date_day = %s GROUP BY d.name ORDER BY bytes DESC",
          lambda d: (d.day(),),
          {"access_log": c(where="date_day", eq="date_day", join="http_username"),
           "users": c(join=("username", "department_id")), "departments": c(join="id")}),
    Shape("department_top_users", 6,
          "SELECT u.username, u.full_name, SUM(a.http_reply_size) AS bytes FROM users u "
          "JOIN departments d ON d.id = u.department_id JOIN access_log a ON a.http_username = u.username "
          "WHERE d.name = %s AND a.date_day BETWEEN %s AND %s GROUP BY u.username, u.full_name "
          "ORDER BY bytes DESC LIMIT 25",
          lambda d: (d.department(), *d.week()),
          {"access_log": c(where="date_day", join="http_username", range="date_day"),
           "users": c(join=("username", "department_id")), "departments": c(where="name", eq="name", join="id")}),
    Shape("user_categories_day", 4,
          "SELECT COALESCE((SELECT c.category FROM site_categories c "
          f"WHERE c.domain = SUBSTRING_INDEX({HOST_EXPR}, ':', 1)), 'uncategorized') AS category, "
          "COUNT(*) AS requests, SUM(a.http_reply_size) AS bytes FROM access_log a "
          "WHERE a.http_username = %s AND a.date_day = %s GROUP BY category ORDER BY bytes DESC",
          lambda d: (d.user(), d.day()),
          {"access_log": c(where=("http_username", "date_day"), eq=("http_username", "date_day")),
           "site_categories": c(join="domain")},
          "a dependent subquery per row on a non-indexed column"),
    Shape("category_of_domain", 30,
          "SELECT category FROM site_categories WHERE domain = %s",
          lambda d: (d.host(),),
          {"site_categories": c(where="domain", eq="domain")}),
    Shape("blocked_check", 40,
          "SELECT id, reason FROM blocked_sites WHERE domain = %s",
          lambda d: (d.blocked_or_not(),),
          {"blocked_sites": c(where="domain", eq="domain")}),
    Shape("blocked_hits_week", 3,
          "SELECT b.domain, COUNT(*) AS attempts FROM access_log a JOIN blocked_sites b "
          "ON a.http_url = CONCAT(b.domain, ':443') WHERE a.date_day BETWEEN %s AND %s "
          "AND a.squid_request_status = 'TCP_DENIED' GROUP BY b.domain ORDER BY attempts DESC LIMIT 20",
          lambda d: d.week(),
          {"access_log": c(where=("date_day", "squid_request_status"), range="date_day", eq="squid_request_status",
                           join="http_url"),
           "blocked_sites": c(join="domain")}),
    Shape("user_by_email", 15,
          "SELECT id, username, full_name, department_id FROM users WHERE email = %s",
          lambda d: (d.email(),),
          {"users": c(where="email", eq="email")}),
    Shape("department_members", 10,
          "SELECT u.username, u.full_name, u.email FROM users u JOIN departments d ON d.id = u.department_id "
          "WHERE d.name = %s ORDER BY u.full_name",
          lambda d: (d.department(),),
          {"users": c(join="department_id", order="full_name"), "departments": c(where="name", eq="name", join="id")}),
    Shape("workstation_of_ip", 20,
          "SELECT hostname, location FROM workstations WHERE ip_address = %s",
          lambda d: (d.ip(),),
          {"workstations": c(where="ip_address", eq="ip_address")}),
    Shape("bookmarks_of_user", 20,
          "SELECT id, title, report, params FROM report_bookmarks WHERE username = %s ORDER BY created_at DESC",
          lambda d: (d.user(),),
          {"report_bookmarks": c(where="username", eq="username", order="created_at")}),
    Shape("audit_recent", 3,
          "SELECT * FROM admin_audit WHERE admin_user = %s AND created_at >= %s ORDER BY created_at DESC LIMIT 50",
          lambda d: (d.admin(), d.day()),
          {"admin_audit": c(where=("admin_user", "created_at"), eq="admin_user", range="created_at",
                            order="created_at")}),
    Shape("audit_target", 2,
          "SELECT created_at, admin_user, details FROM admin_audit WHERE action = %s AND target = %s",
          lambda d: (d.rng.choice(("block_site", "unblock_site")), d.host()),
          {"admin_audit": c(where=("action", "target"), eq=("target", "action"))}),
    # --- the heavy views and the rollup ---------------------------------------------------
    Shape("view_user_day", 12,
          "SELECT time_since_epoch, ip_client, http_url, http_status_code, http_reply_size FROM v_user_traffic "
          "WHERE username = %s AND day = %s ORDER BY time_since_epoch",
          lambda d: (d.user(), d.day()),
          {"access_log": c(where=("http_username", "time_since_epoch"), eq="http_username", order="time_since_epoch"),
           "users": c(join="username"), "departments": c(join="id")},
          "the view computes day from the epoch: read date_day instead"),
    Shape("view_department_day", 4,
          "SELECT department, COUNT(*) AS requests, SUM(http_reply_size) AS bytes FROM v_user_traffic "
          "WHERE day = %s GROUP BY department ORDER BY bytes DESC",
          lambda d: (d.day(),),
          {"access_log": c(where="time_since_epoch", join="http_username"), "users": c(join="username"),
           "departments": c(join="id")}),
    Shape("daily_totals_view", 5,
          "SELECT date_day, requests, bytes, users FROM v_daily_traffic WHERE date_day BETWEEN %s AND %s "
          "ORDER BY date_day",
          lambda d: d.week(),
          {"access_log": c(where="date_day", range="date_day", group="date_day")},
          "a GROUP BY view over access_log: access_log_daily answers it"),
    Shape("daily_totals_scan", 8,
          "SELECT date_day, COUNT(*) AS requests, SUM(http_reply_size) AS bytes, "
          "SUM(squid_request_status = 'TCP_DENIED') AS denied FROM access_log "
          "WHERE date_day BETWEEN %s AND %s GROUP BY date_day ORDER BY date_day",
          lambda d: d.month(),
          {"access_log": c(where="date_day", range="date_day", group="date_day")},
          "access_log_daily answers it"),
    Shape("rollup_user_days", 10,
          "SELECT date_day, SUM(requests) AS requests, SUM(bytes) AS bytes, SUM(denied) AS denied "
          "FROM access_log_daily WHERE http_username = %s GROUP BY date_day ORDER BY date_day DESC LIMIT 30",
          lambda d: (d.user(),),
          {"access_log_daily": c(where="http_username", eq="http_username", group="date_day", order="date_day")}),
    Shape("rollup_top_users_month", 8,
          "SELECT http_username, SUM(bytes) AS bytes, SUM(requests) AS requests FROM access_log_daily "
          "WHERE date_day >= %s AND date_day < %s GROUP BY http_username ORDER BY bytes DESC LIMIT 20",
          lambda d: d.month(),
          {"access_log_daily": c(where="date_day", range="date_day", group="http_username")}),
)


def by_name() -> dict[str, Shape]:
    return {s.name: s for s in SHAPES}


def render(sql: str, params: tuple) -> str:
    """The statement with its literals, as a PHP page would send it (and the slow log shows it)."""
    return sql % tuple(pymysql.converters.escape_item(p, "utf8mb4") for p in params)


def parameter_sets(model: Model, shape: Shape, n: int, seed: int) -> list[tuple]:
    """`n` seeded parameter sets for `shape` (the same for every arm of a benchmark)."""
    rng = random.Random(f"{seed}:{shape.name}")
    draw = Draw(model, rng)
    return [shape.params(draw) for _ in range(n)]


def draw_statements(model: Model, count: int, seed: int) -> list[tuple[Shape, str]]:
    """`count` statements drawn by weight, each with fresh parameters (for a slow-log capture)."""
    rng = random.Random(seed)
    draw = Draw(model, rng)
    cum = _cum(s.weight for s in SHAPES)
    out = []
    for _ in range(count):
        shape = _pick(rng, SHAPES, cum)
        out.append((shape, render(shape.sql, shape.params(draw))))
    return out


if __name__ == "__main__":
    model = Model.build()
    for shape in SHAPES:
        (params,) = parameter_sets(model, shape, 1, 1)
        print(f"-- {shape.name} (weight {shape.weight:g}) {shape.note}")
        print(render(shape.sql, params) + ";")
    print(f"-- {len(SHAPES)} shapes", file=sys.stderr)
