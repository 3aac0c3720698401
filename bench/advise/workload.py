"""A realistic Squid reporting database for the `sqlops advise` benchmark (issue #9).

`access_log` exactly as `sql/access_log.sql` (only its PK and `idx_date_day`), filled with
skewed traffic, plus the side tables and views a legacy PHP/Perl report UI keeps beside it
(primary keys only, no helpful secondary index), and `access_log_daily` (`sql/access_log_daily.sql`)
filled with the same counting rules as `sqlops rollup refresh`.

- sites: ~3,000 hosts, Zipf-distributed (s=1.05); ~60 % of them https-only, logged as
  `CONNECT host:443` / `TCP_TUNNEL/200`; the http ones have a Zipf-skewed pool of paths each;
- clients: ~320 addresses in 10.x subnets (one /16 per department), Zipf (s=1.0); most carry a
  user name, ~15 % log `-` (servers, printers, kiosks), a few users have left the company (in
  the log, not in `users`);
- time: 60 days ending 2026-11-29 (UTC), weekday/weekend and office-hours cycles; ids grow
  with time, `date_day` is the UTC day of `time_since_epoch`;
- status mix: TCP_MISS/200, TCP_HIT, TCP_MEM_HIT, refreshes and 304s, TCP_DENIED/403 (always
  for `blocked_sites`), redirects, 404, some 5xx and TCP_MISS_ABORTED/000; lognormal sizes and
  response times; MIME types from the path.

Everything is deterministic for a seed. Loads with LOAD DATA LOCAL INFILE when the server
allows it (MySQL ships local_infile=0: it is switched on for the load and restored, or, with
--no-set-global, multi-row INSERTs are used), else multi-row INSERT batches.

    .venv/bin/python -m bench.advise.workload load --dsn mysql://root@127.0.0.1:3306/sqlops_bench_advise --rows 1000000
"""

from __future__ import annotations

import argparse
import bisect
import contextlib
import datetime as dt
import itertools
import os
import random
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import pymysql

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from sqlops.config import parse_dsn  # noqa: E402
from sqlops.rollup.daily import merge_sql  # noqa: E402

DEFAULT_DATABASE = "sqlops_bench_advise"
DEFAULT_ROWS = 1_000_000
DEFAULT_SEED = 9
LAST_DAY = dt.date(2026, 11, 29)
DAYS = 60
FIRST_DAY = LAST_DAY - dt.timedelta(days=DAYS - 1)
EPOCH0 = int(dt.datetime.combine(FIRST_DAY, dt.time(), dt.UTC).timestamp())

LOG_COLUMNS = (
    "time_since_epoch",
    "time_response",
    "ip_client",
    "ip_server",
    "http_status_code",
    "http_reply_size",
    "http_method",
    "http_url",
    "http_url_raw",
    "http_username",
    "http_mime_type",
    "squid_request_status",
    "squid_hier_status",
    "date_day",
)

# ---------------------------------------------------------------------------------------------
# Side tables: what a legacy report UI keeps next to the log (primary keys only).

SIDE_DDL = {
    "departments": """CREATE TABLE departments (
  id INT NOT NULL AUTO_INCREMENT,
  name VARCHAR(100) NOT NULL,
  cost_center VARCHAR(20) NULL,
  manager_username VARCHAR(64) NULL,
  PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4""",
    "users": """CREATE TABLE users (
  id INT NOT NULL AUTO_INCREMENT,
  username VARCHAR(64) NOT NULL,
  full_name VARCHAR(128) NOT NULL,
  department_id INT NULL,
  email VARCHAR(190) NULL,
  active TINYINT NOT NULL DEFAULT 1,
  created_at DATETIME NOT NULL,
  PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4""",
    "workstations": """CREATE TABLE workstations (
  id INT NOT NULL AUTO_INCREMENT,
  ip_address VARCHAR(45) NOT NULL,
  hostname VARCHAR(128) NOT NULL,
  location VARCHAR(64) NULL,
  PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4""",
    "site_categories": """CREATE TABLE site_categories (
  id INT NOT NULL AUTO_INCREMENT,
  domain VARCHAR(255) NOT NULL,
  category VARCHAR(64) NOT NULL,
  updated_at DATETIME NULL,
  PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4""",
    "blocked_sites": """CREATE TABLE blocked_sites (
  id INT NOT NULL AUTO_INCREMENT,
  domain VARCHAR(255) NOT NULL,
  reason VARCHAR(255) NULL,
  added_by VARCHAR(64) NULL,
  added_at DATETIME NULL,
  PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4""",
    "report_bookmarks": """CREATE TABLE report_bookmarks (
  id INT NOT NULL AUTO_INCREMENT,
  username VARCHAR(64) NOT NULL,
  title VARCHAR(200) NOT NULL,
  report VARCHAR(64) NOT NULL,
  params TEXT NULL,
  created_at DATETIME NOT NULL,
  PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4""",
    "admin_audit": """CREATE TABLE admin_audit (
  id INT NOT NULL AUTO_INCREMENT,
  admin_user VARCHAR(64) NOT NULL,
  action VARCHAR(32) NOT NULL,
  target VARCHAR(255) NULL,
  details TEXT NULL,
  created_at DATETIME NOT NULL,
  PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4""",
}

VIEWS = {
    # The heavy view every "user traffic" page reads: a join on non-indexed columns and the
    # day computed from the epoch (not the indexed date_day).
    "v_user_traffic": """CREATE VIEW v_user_traffic AS
SELECT a.id, a.http_username AS username, u.full_name, d.name AS department,
       DATE(FROM_UNIXTIME(a.time_since_epoch)) AS day, a.time_since_epoch, a.ip_client,
       a.http_method, a.http_url, a.http_status_code, a.squid_request_status, a.http_reply_size
FROM access_log a
LEFT JOIN users u ON u.username = a.http_username
LEFT JOIN departments d ON d.id = u.department_id""",
    # A per-day aggregate over the whole log that access_log_daily answers.
    "v_daily_traffic": """CREATE VIEW v_daily_traffic AS
SELECT date_day, COUNT(*) AS requests, SUM(http_reply_size) AS bytes,
       COUNT(DISTINCT http_username) AS users
FROM access_log GROUP BY date_day""",
}

TABLES = ("access_log", "access_log_daily", *SIDE_DDL)

# ---------------------------------------------------------------------------------------------
# The model: who browses what, deterministic for a seed.

FIRST_NAMES = ["anna", "ben", "carla", "david", "eva", "felix", "greta", "hans", "ines", "jonas", "karin", "lukas", "maria", "nils", "olga", "paul", "quentin", "rita", "stefan", "tina", "uwe", "vera", "walter", "xenia", "yusuf", "zoe", "alex", "birgit", "conrad", "dana", "emil", "frieda", "georg", "hanna", "ivan", "julia", "kai", "lena", "moritz", "nora", "oskar", "petra"]
LAST_NAMES = ["schmidt", "mueller", "schneider", "fischer", "weber", "meyer", "wagner", "becker", "schulz", "hoffmann", "koch", "richter", "klein", "wolf", "schroeder", "neumann", "schwarz", "braun", "zimmermann", "krueger", "hartmann", "lange", "werner", "krause", "lehmann", "koehler", "herrmann", "walter", "maier", "koenig", "mayer", "huber", "kaiser", "fuchs", "peters", "lang", "scholz", "moeller", "weiss", "jung", "hahn"]
DEPARTMENTS = (
    "Accounting", "Sales", "Marketing", "Engineering", "Support", "Human Resources", "Legal",
    "Facilities", "Management", "Logistics", "Research", "IT Operations",
)  # fmt: skip
CATEGORIES = (
    "search", "news", "social", "video", "shopping", "business", "software-updates", "ads", "cdn",
    "webmail", "banking", "gaming", "streaming", "travel", "education", "government", "weather",
)  # fmt: skip
POPULAR = (
    ("www.google.com", True, "search"), ("fonts.gstatic.com", True, "cdn"),
    ("www.youtube.com", True, "video"), ("outlook.office365.com", True, "webmail"),
    ("login.microsoftonline.com", True, "business"), ("download.windowsupdate.com", False, "software-updates"),
    ("www.facebook.com", True, "social"), ("ajax.googleapis.com", True, "cdn"),
    ("ocsp.digicert.com", False, "business"), ("www.heise.de", True, "news"),
    ("security.debian.org", False, "software-updates"), ("deb.debian.org", False, "software-updates"),
    ("www.amazon.de", True, "shopping"), ("www.spiegel.de", True, "news"),
    ("ctldl.windowsupdate.com", False, "software-updates"), ("www.linkedin.com", True, "social"),
    ("www.wetter.de", False, "weather"), ("www.bahn.de", True, "travel"),
    ("pagead2.googlesyndication.com", True, "ads"), ("www.netflix.com", True, "streaming"),
    ("news.example-intranet.de", False, "news"), ("www.tagesschau.de", False, "news"),
    ("cdn.jsdelivr.net", True, "cdn"), ("www.ebay.de", True, "shopping"),
    ("steamcommunity.com", True, "gaming"), ("www.twitch.tv", True, "streaming"),
    ("apt.example-mirror.org", False, "software-updates"), ("www.wikipedia.org", True, "education"),
)  # fmt: skip
WORDS = ["alpha", "beta", "cloud", "data", "edge", "fast", "global", "home", "info", "jet", "key", "lab", "media", "net", "open", "portal", "quick", "river", "shop", "tech", "union", "value", "web", "xpress", "yard", "zone", "blue", "green", "red", "north", "south", "east", "west", "city", "metro", "star", "sun", "moon", "sky", "sea", "lake", "hill"]
TLDS = ("com", "de", "net", "org", "io", "eu", "info", "co.uk", "fr", "nl")

HOURS = (0.4, 0.25, 0.2, 0.2, 0.25, 0.5, 1.2, 3.5, 7.5, 9.5, 9.5, 8.5, 5.5, 7.5, 9.5, 9.0, 8.0,
         6.0, 3.0, 2.0, 1.6, 1.3, 1.0, 0.7)  # fmt: skip
# (squid_request_status, http_status_code, weight) for plain http requests
HTTP_STATUS = (
    ("TCP_MISS", "200", 52.0), ("TCP_HIT", "200", 8.0), ("TCP_MEM_HIT", "200", 7.0),
    ("TCP_REFRESH_UNMODIFIED", "304", 5.0), ("TCP_IMS_HIT", "304", 3.0), ("TCP_MISS", "304", 4.0),
    ("TCP_REFRESH_MODIFIED", "200", 2.0), ("TCP_MISS", "302", 4.0), ("TCP_MISS", "301", 1.5),
    ("TCP_MISS", "404", 3.0), ("TCP_DENIED", "403", 3.0), ("TCP_MISS", "500", 0.5),
    ("TCP_MISS", "502", 0.6), ("TCP_MISS", "503", 0.5), ("TCP_MISS", "504", 0.3),
    ("TCP_MISS_ABORTED", "000", 1.0), ("NONE_NONE", "000", 0.2),
)  # fmt: skip
CONNECT_STATUS = (
    ("TCP_TUNNEL", "200", 94.0), ("TCP_DENIED", "403", 3.0), ("TCP_TUNNEL_ABORTED", "000", 1.5),
    ("NONE_NONE", "503", 1.0), ("TCP_MISS", "000", 0.5),
)  # fmt: skip
MIME = {
    ".js": "application/javascript", ".css": "text/css", ".png": "image/png", ".jpg": "image/jpeg",
    ".gif": "image/gif", ".svg": "image/svg+xml", ".html": "text/html", ".json": "application/json",
    ".deb": "application/vnd.debian.binary-package", ".cab": "application/vnd.ms-cab-compressed",
    ".pdf": "application/pdf", ".woff2": "font/woff2", ".mp4": "video/mp4", ".xml": "text/xml",
    "/": "text/html",
}  # fmt: skip


def zipf_cum(n: int, s: float) -> list[float]:
    return list(itertools.accumulate(1.0 / (rank**s) for rank in range(1, n + 1)))


def pick(rng: random.Random, items: Sequence, cum: Sequence[float]):  # type: ignore[no-untyped-def]
    return items[bisect.bisect_left(cum, rng.random() * cum[-1])]


@dataclass(frozen=True)
class Host:
    rank: int
    name: str
    https: bool
    category: str | None
    blocked: bool


@dataclass(frozen=True)
class User:
    username: str
    full_name: str
    department_id: int
    email: str
    active: int
    known: bool  # in the users table (False: left the company, still in the log)


@dataclass(frozen=True)
class Client:
    ip: str
    username: str  # '-' for none
    hostname: str
    location: str


@dataclass
class Model:
    """The population the rows and the query parameters are drawn from."""

    seed: int = DEFAULT_SEED
    hosts: list[Host] = field(default_factory=list)
    users: list[User] = field(default_factory=list)
    clients: list[Client] = field(default_factory=list)
    host_cum: list[float] = field(default_factory=list)
    client_cum: list[float] = field(default_factory=list)
    day_cum: list[float] = field(default_factory=list)

    @classmethod
    def build(cls, seed: int = DEFAULT_SEED, n_hosts: int = 3000, n_clients: int = 320) -> Model:
        rng = random.Random(seed)
        m = cls(seed)
        names: set[str] = set()
        for rank, (name, https, cat) in enumerate(POPULAR, 1):
            m.hosts.append(Host(rank, name, https, cat, False))
            names.add(name)
        while len(m.hosts) < n_hosts:
            prefix = rng.choice(("www", "www", "www", "cdn", "static", "api", "img", "m", "shop", "mail"))
            name = f"{prefix}.{rng.choice(WORDS)}{rng.choice(WORDS)}{rng.randrange(100)}.{rng.choice(TLDS)}"
            if name in names:
                continue
            names.add(name)
            cat = rng.choice(CATEGORIES) if rng.random() < 0.7 else None
            blocked = (cat in ("gaming", "streaming") and rng.random() < 0.25) or rng.random() < 0.01
            m.hosts.append(Host(len(m.hosts) + 1, name, rng.random() < 0.6, cat, blocked))
        m.host_cum = zipf_cum(len(m.hosts), 1.05)

        taken: set[str] = set()
        for i in range(260):
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            username = base = f"{first[0]}{last}"
            n = 1
            while username in taken:
                n += 1
                username = f"{base}{n}"
            taken.add(username)
            dept = 1 + min(len(DEPARTMENTS) - 1, int(len(DEPARTMENTS) * rng.random() ** 1.6))
            known = i < 250
            email = f"{first}.{last}{'' if n == 1 else n}@corp.example.com"
            m.users.append(User(username, f"{first.title()} {last.title()}", dept, email, int(rng.random() < 0.95), known))

        ips: set[str] = set()
        while len(m.clients) < n_clients:
            user = rng.choice(m.users) if rng.random() < 0.85 else None
            dept = user.department_id if user else rng.randrange(1, len(DEPARTMENTS) + 1)
            ip = f"10.{10 + dept}.{rng.randrange(1, 8)}.{rng.randrange(10, 250)}"
            if ip in ips:
                continue
            ips.add(ip)
            kind = "pc" if user else rng.choice(("srv", "prn", "kiosk"))
            m.clients.append(Client(ip, user.username if user else "-", f"{kind}{len(m.clients):04d}.corp.example.com",
                                    f"building {1 + dept % 3}, floor {rng.randrange(1, 5)}"))
        rng.shuffle(m.clients)
        m.client_cum = zipf_cum(len(m.clients), 1.0)

        weights = []
        for d in range(DAYS):
            weekday = (FIRST_DAY + dt.timedelta(days=d)).weekday()
            w = 1.0 if weekday < 5 else (0.18 if weekday == 5 else 0.12)
            weights.append(w * (0.9 + 0.2 * d / DAYS) * (0.85 + 0.3 * rng.random()))
        m.day_cum = list(itertools.accumulate(weights))
        return m

    # -- things the query parameters need -------------------------------------------------
    @cached_property
    def departments(self) -> list[tuple[int, str, str, str]]:
        rng = random.Random(self.seed + 1)
        out = []
        for i, name in enumerate(DEPARTMENTS, 1):
            members = [u.username for u in self.users if u.department_id == i] or [self.users[0].username]
            out.append((i, name, f"CC{100 + i * 10}", rng.choice(members)))
        return out

    @cached_property
    def logged_users(self) -> list[str]:
        """User names in the log, most active first (client popularity)."""
        seen: dict[str, None] = {}
        for c in self.clients:
            if c.username != "-":
                seen.setdefault(c.username)
        return list(seen)

    def day(self, d: int) -> dt.date:
        return FIRST_DAY + dt.timedelta(days=d)

    @cached_property
    def path_pools(self) -> dict[int, list[str]]:
        return {}

    def paths(self, host: Host) -> list[str]:
        pool = self.path_pools.get(host.rank)
        if pool is None:
            rng = random.Random(self.seed * 1_000_003 + host.rank)
            size = max(4, int(400 / host.rank**0.6))
            pool = ["/"]
            while len(pool) < size:
                word, n = rng.choice(WORDS), rng.randrange(1, 9999)
                kind = rng.random()
                if kind < 0.2:
                    p = f"/static/js/{word}.{rng.getrandbits(32):08x}.js"
                elif kind < 0.3:
                    p = f"/css/{word}.css"
                elif kind < 0.5:
                    p = f"/images/{word}/{n}.{rng.choice(('png', 'jpg', 'gif', 'svg'))}"
                elif kind < 0.65:
                    p = f"/api/v{rng.randrange(1, 4)}/{word}/{n}.json?ts={rng.getrandbits(40)}"
                elif kind < 0.85:
                    p = f"/news/2026/{rng.randrange(9, 12)}/{word}-{rng.choice(WORDS)}-{n}.html"
                elif kind < 0.92:
                    p = f"/pool/main/{word[0]}/{word}/{word}_{n % 10}.{n % 7}-{n % 3}_amd64.deb"
                elif kind < 0.96:
                    p = f"/fonts/{word}.woff2"
                else:
                    p = f"/video/{rng.getrandbits(48):012x}.mp4"
                pool.append(p)
            self.path_pools[host.rank] = pool
        return pool

    def url(self, host: Host, rng: random.Random) -> str:
        if host.https:
            return f"{host.name}:443"
        pool = self.paths(host)
        return f"http://{host.name}{pool[int(len(pool) * rng.random() ** 3)]}"

    # -- rows -----------------------------------------------------------------------------
    def rows(self, n: int, seed: int | None = None) -> Iterator[tuple]:
        """`n` access_log rows in time order (ids grow with time), as LOG_COLUMNS tuples."""
        rng = random.Random(self.seed * 7919 + (seed or 0))
        hour_cum = list(itertools.accumulate(HOURS))
        days = rng.choices(range(DAYS), cum_weights=self.day_cum, k=n)
        hours = rng.choices(range(24), cum_weights=hour_cum, k=n)
        times = sorted(
            EPOCH0 + d * 86400 + h * 3600 + rng.randrange(3600) + rng.randrange(1000) / 1000
            for d, h in zip(days, hours, strict=True)
        )
        del days, hours
        clients = rng.choices(self.clients, cum_weights=self.client_cum, k=n)
        hosts = rng.choices(self.hosts, cum_weights=self.host_cum, k=n)
        http_cum = list(itertools.accumulate(w for *_, w in HTTP_STATUS))
        conn_cum = list(itertools.accumulate(w for *_, w in CONNECT_STATUS))
        lognorm = rng.lognormvariate
        day_names = [self.day(d).isoformat() for d in range(DAYS)]
        for t, client, host in zip(times, clients, hosts, strict=True):
            url = self.url(host, rng)
            if host.https:
                method = "CONNECT"
                status, code, _ = pick(rng, CONNECT_STATUS, conn_cum)
                mime = "-"
            else:
                r = rng.random()
                method = "GET" if r < 0.92 else ("POST" if r < 0.98 else "HEAD")
                status, code, _ = pick(rng, HTTP_STATUS, http_cum)
                path = url.split("?", 1)[0]
                dot = path.rfind(".")
                ext = path[dot:] if dot > path.rfind("/") else "/"
                mime = MIME.get(ext, "text/html")
            if host.blocked:
                status, code = "TCP_DENIED", "403"
            if status == "TCP_DENIED":
                size, resp, server, hier, mime = 3900 + rng.randrange(200), rng.randrange(0, 3), "-", "HIER_NONE", "text/html"
            elif "HIT" in status:
                size = int(lognorm(8.5, 1.8)) if code == "200" else 250 + rng.randrange(150)
                resp, server, hier = int(lognorm(1.5, 1.0)), "-", "HIER_NONE"
            else:
                if code == "304":
                    size = 250 + rng.randrange(150)
                elif code == "000":
                    size = 0
                elif host.https:
                    size = int(lognorm(9.5, 2.3))
                else:
                    size = int(lognorm(8.8, 2.0))
                resp = int(lognorm(5.0, 1.3)) if not host.https else int(lognorm(8.0, 1.6))
                server = f"{93 + host.rank % 90}.{(host.rank * 7) % 256}.{(host.rank * 13) % 256}.{host.rank % 250 + 1}"
                hier = "HIER_DIRECT" if code != "000" or status != "NONE_NONE" else "HIER_NONE"
            day = int((t - EPOCH0) // 86400)
            yield (
                f"{t:.3f}", min(resp, 3_600_000), client.ip, server, code, min(size, 8 * 1024**3), method,
                url, None, client.username, mime, status, hier, day_names[day],
            )


# ---------------------------------------------------------------------------------------------
# Loading


def connect(dsn: str, database: str | None = None, **kw) -> pymysql.connections.Connection:  # type: ignore[no-untyped-def]
    parts = parse_dsn(dsn)
    args = dict(
        host=parts.get("host", "127.0.0.1"),
        port=int(parts.get("port", 3306)),
        user=parts.get("user", "root"),
        password=parts.get("password", ""),
        charset="utf8mb4",
        autocommit=True,
        local_infile=True,
    )
    if parts.get("unix_socket"):
        args["unix_socket"] = parts["unix_socket"]
    if database is None:
        database = parts.get("database")
    if database:
        args["database"] = database
    args.update(kw)
    return pymysql.connect(**args)


def database_of(dsn: str, default: str = DEFAULT_DATABASE) -> str:
    return str(parse_dsn(dsn).get("database") or default)


def with_database(dsn: str, database: str) -> str:
    base = dsn.split("?", 1)
    head = base[0].rstrip("/")
    scheme, rest = head.split("://", 1)
    hostpart = rest.split("/", 1)[0]
    return f"{scheme}://{hostpart}/{database}" + (f"?{base[1]}" if len(base) > 1 else "")


def is_mariadb(conn: pymysql.connections.Connection) -> bool:
    return "mariadb" in conn.get_server_info().lower()


def q(conn: pymysql.connections.Connection, sql: str, args=None) -> list[tuple]:  # type: ignore[no-untyped-def]
    with conn.cursor() as cur:
        cur.execute(sql, args)
        return list(cur.fetchall())


def sql_file(name: str) -> str:
    text = (REPO / "sql" / name).read_text()
    body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("--"))
    return body.strip().rstrip(";")


@contextlib.contextmanager
def local_infile_allowed(conn: pymysql.connections.Connection, may_set_global: bool) -> Iterator[bool]:
    """True if LOAD DATA LOCAL works; switches the global on (and back) when allowed to."""
    (value,) = q(conn, "SELECT @@GLOBAL.local_infile")[0]
    if int(value):
        yield True
        return
    if not may_set_global:
        yield False
        return
    try:
        q(conn, "SET GLOBAL local_infile = 1")
    except pymysql.MySQLError:
        yield False
        return
    try:
        yield True
    finally:
        q(conn, "SET GLOBAL local_infile = 0")


def _tsv(value: object) -> str:
    if value is None:
        return "\\N"
    return str(value).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def bulk_insert(
    conn: pymysql.connections.Connection,
    table: str,
    columns: Sequence[str],
    rows: Iterator[tuple] | Sequence[tuple],
    *,
    local: bool,
    batch: int = 200_000,
) -> int:
    """LOAD DATA LOCAL INFILE in files of `batch` rows when `local`, else multi-row INSERTs."""
    cols = ", ".join(f"`{c}`" for c in columns)
    total = 0
    it = iter(rows)
    if local:
        with tempfile.TemporaryDirectory(prefix="sqlops-advise-") as tmp:
            path = Path(tmp) / f"{table}.tsv"
            while True:
                chunk = list(itertools.islice(it, batch))
                if not chunk:
                    break
                with path.open("w", encoding="utf-8") as fh:
                    fh.writelines("\t".join(map(_tsv, r)) + "\n" for r in chunk)
                q(conn, f"LOAD DATA LOCAL INFILE %s INTO TABLE `{table}` CHARACTER SET utf8mb4 ({cols})", (str(path),))
                total += len(chunk)
        return total
    sql = f"INSERT INTO `{table}` ({cols}) VALUES ({', '.join(['%s'] * len(columns))})"
    with conn.cursor() as cur:
        while True:
            chunk = list(itertools.islice(it, 5000))
            if not chunk:
                break
            cur.executemany(sql, chunk)
            total += len(chunk)
    return total


def side_rows(model: Model) -> dict[str, tuple[Sequence[str], list[tuple]]]:
    rng = random.Random(model.seed + 2)
    start = dt.datetime(2024, 1, 8, 9, 0)
    out: dict[str, tuple[Sequence[str], list[tuple]]] = {}
    out["departments"] = (("id", "name", "cost_center", "manager_username"), list(model.departments))
    out["users"] = (
        ("username", "full_name", "department_id", "email", "active", "created_at"),
        [
            (u.username, u.full_name, u.department_id, u.email, u.active, start + dt.timedelta(days=rng.randrange(900)))
            for u in model.users
            if u.known
        ],
    )
    out["workstations"] = (
        ("ip_address", "hostname", "location"), [(c.ip, c.hostname, c.location) for c in model.clients]
    )
    out["site_categories"] = (
        ("domain", "category", "updated_at"),
        [(h.name, h.category, start + dt.timedelta(days=rng.randrange(900))) for h in model.hosts if h.category],
    )
    admins = [model.departments[-1][3], "admin", "root", model.users[3].username]
    out["blocked_sites"] = (
        ("domain", "reason", "added_by", "added_at"),
        [
            (h.name, f"category {h.category}" if h.category else "policy", rng.choice(admins),
             start + dt.timedelta(days=rng.randrange(900)))
            for h in model.hosts
            if h.blocked
        ],
    )
    reports = ("user_traffic", "top_sites", "denied", "hourly", "department", "categories", "client")
    bookmarks = []
    for _ in range(3000):
        user = rng.choice(model.logged_users[:120])
        report = rng.choice(reports)
        day = model.day(rng.randrange(DAYS))
        bookmarks.append((user, f"{report} {day:%b %d}", report, f"day={day}&user={user}",
                          dt.datetime.combine(day, dt.time(rng.randrange(8, 18), rng.randrange(60)))))
    out["report_bookmarks"] = (("username", "title", "report", "params", "created_at"), bookmarks)
    actions = ("login", "view_report", "export_csv", "block_site", "unblock_site", "edit_user", "reset_password")
    audit = []
    for i in range(20000):
        day = model.day(int(DAYS * i / 20000))
        action = rng.choice(actions)
        target = rng.choice(model.hosts[:400]).name if "site" in action else rng.choice(model.users).username
        audit.append((rng.choice(admins), action, target, f"{{\"ip\": \"{rng.choice(model.clients).ip}\"}}",
                      dt.datetime.combine(day, dt.time(rng.randrange(24), rng.randrange(60), rng.randrange(60)))))
    out["admin_audit"] = (("admin_user", "action", "target", "details", "created_at"), audit)
    return out


def create_schema(conn: pymysql.connections.Connection) -> None:
    for view in VIEWS:
        q(conn, f"DROP VIEW IF EXISTS `{view}`")
    for table in TABLES:
        q(conn, f"DROP TABLE IF EXISTS `{table}`")
    q(conn, sql_file("access_log.sql"))
    q(conn, sql_file("access_log_daily.sql"))
    for ddl in SIDE_DDL.values():
        q(conn, ddl)
    for ddl in VIEWS.values():
        q(conn, ddl)


def fill_daily(conn: pymysql.connections.Connection) -> None:
    """access_log_daily from access_log with the rollup's own aggregate (sqlops.rollup.daily)."""
    q(conn, "DELETE FROM access_log_daily")
    q(conn, merge_sql("access_log", "access_log_daily", "1 = 1"))


@dataclass
class LoadResult:
    rows: int
    seconds: float
    method: str
    mib: float


def load(
    dsn: str,
    rows: int = DEFAULT_ROWS,
    *,
    seed: int = DEFAULT_SEED,
    database: str | None = None,
    may_set_global: bool = True,
    say=print,  # type: ignore[no-untyped-def]
) -> LoadResult:
    """(Re)create the whole reporting database `database` and fill it."""
    database = database or database_of(dsn)
    started = time.monotonic()
    admin = connect(dsn, database="")
    try:
        q(admin, f"CREATE DATABASE IF NOT EXISTS `{database}` CHARACTER SET utf8mb4")
    finally:
        admin.close()
    conn = connect(dsn, database=database)
    try:
        q(conn, "SET SESSION time_zone = '+00:00'")
        create_schema(conn)
        model = Model.build(seed)
        with local_infile_allowed(conn, may_set_global) as local:
            for table, (columns, data) in side_rows(model).items():
                bulk_insert(conn, table, columns, data, local=False)
            n = bulk_insert(conn, "access_log", LOG_COLUMNS, model.rows(rows), local=local)
        fill_daily(conn)
        for table in TABLES:
            q(conn, f"ANALYZE TABLE `{table}`")
        mib = table_mib(conn, "access_log")
    finally:
        conn.close()
    seconds = time.monotonic() - started
    method = "LOAD DATA LOCAL INFILE" if local else "multi-row INSERT"
    say(f"loaded {n} rows into {database}.access_log ({mib:.0f} MiB) and the side tables in {seconds:.1f} s ({method})")
    return LoadResult(n, seconds, method, mib)


def table_mib(conn: pymysql.connections.Connection, table: str) -> float:
    if not is_mariadb(conn):
        q(conn, "SET SESSION information_schema_stats_expiry = 0")
    ((value,),) = q(
        conn,
        "SELECT DATA_LENGTH + INDEX_LENGTH FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() "
        "AND TABLE_NAME = %s",
        (table,),
    )
    return float(value or 0) / 1048576


def sample_copy(conn: pymysql.connections.Connection, source: str, target: str, every: int) -> int:
    """`target`: the same schema with every `every`-th access_log row (by id) and all side tables,
    access_log_daily recomputed from the sample (the oracle searches on it)."""
    q(conn, f"DROP DATABASE IF EXISTS `{target}`")
    q(conn, f"CREATE DATABASE `{target}` CHARACTER SET utf8mb4")
    q(conn, f"USE `{target}`")
    q(conn, "SET SESSION time_zone = '+00:00'")
    create_schema(conn)
    for table in SIDE_DDL:
        q(conn, f"INSERT INTO `{table}` SELECT * FROM `{source}`.`{table}`")
    q(conn, f"INSERT INTO access_log SELECT * FROM `{source}`.access_log WHERE id % {every} = 0")
    fill_daily(conn)
    for table in TABLES:
        q(conn, f"ANALYZE TABLE `{table}`")
    ((n,),) = q(conn, "SELECT COUNT(*) FROM access_log")
    return int(n)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.advise.workload", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    lp = sub.add_parser("load", help="(re)create and fill the reporting database")
    lp.add_argument("--dsn", default=os.environ.get("BENCH_MARIADB_DSN", "mysql://root@127.0.0.1:3306/"),
                    help=f"server URL; its database part names the database (default {DEFAULT_DATABASE})")
    lp.add_argument("--rows", type=int, default=DEFAULT_ROWS)
    lp.add_argument("--seed", type=int, default=DEFAULT_SEED)
    lp.add_argument("--no-set-global", action="store_true",
                    help="never SET GLOBAL local_infile (use multi-row INSERT where it is off)")
    args = ap.parse_args(argv)
    if args.cmd == "load":
        load(args.dsn, args.rows, seed=args.seed, may_set_global=not args.no_set_global)
    return 0


if __name__ == "__main__":
    sys.exit(main())

