"""Squid's own log_db_daemon as a test peer, and a concurrent writer that behaves like it.

`create_with_log_db_daemon` lets the real daemon (Debian's squid package) create its table
from a few native-format lines, so upgrade tests start from exactly what admins have.
"""

from __future__ import annotations

import random
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pymysql

from support.servers import ServerHandle

LOG_DB_DAEMON = Path("/usr/lib/squid/log_db_daemon")

# The columns log_db_daemon inserts (it never sends date_day).
LEGACY_COLUMNS = (
    "time_since_epoch, time_response, ip_client, squid_request_status, http_status_code, "
    "http_reply_size, http_method, http_url, http_username, squid_hier_status, ip_server, http_mime_type"
)


def native_line(epoch: float, client: str = "192.168.1.10", url: str = "http://example.com/") -> str:
    """One access.log line in Squid's native format, as Squid hands it to a logfile daemon."""
    return f"{epoch:.3f}    150 {client} TCP_MISS/200 1234 GET {url} - HIER_DIRECT/93.184.216.34 text/html"


def create_with_log_db_daemon(
    server: ServerHandle, database: str, table: str, epochs: list[float], url_bytes: int = 0
) -> None:
    """`url_bytes` pads the URLs (real proxy URLs average a few hundred bytes: a 2M-row table
    of them is ~600 MB, which is what makes a plain ALTER slow)."""
    if not LOG_DB_DAEMON.exists():
        raise AssertionError("Squid's log_db_daemon is missing: apt-get install squid libdbd-mysql-perl")
    rng = random.Random(5)

    def url(i: int) -> str:
        base = f"http://example.com/{i}"
        pad = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789/") for _ in range(url_bytes))
        return base + ("/" + pad if url_bytes else "")

    payload = "".join(f"L{native_line(e, url=url(i))}\n" for i, e in enumerate(epochs))
    dsn = f"/{server.host}:{server.port}/{database}/{table}/{server.user}/{server.password}"
    out = subprocess.run([str(LOG_DB_DAEMON), dsn], input=payload.encode(), capture_output=True, timeout=120)
    assert out.returncode == 0, out.stderr.decode(errors="replace")


def grow(server: ServerHandle, database: str, table: str, rows: int, seed: int = 7) -> int:
    """Double the table with INSERT ... SELECT (shifting epochs by up to 40 days, so rows fall
    on many days and some near midnight) until it has at least `rows` rows."""
    conn = server.admin(database)
    try:
        with conn.cursor() as cur:
            while True:
                cur.execute(f"SELECT COUNT(*) FROM `{table}`")
                count = cur.fetchone()[0]
                if count >= rows:
                    return int(count)
                cur.execute(
                    f"INSERT INTO `{table}` ({LEGACY_COLUMNS}) SELECT time_since_epoch + FLOOR(RAND({seed}) * 3456000), "
                    f"time_response, ip_client, squid_request_status, http_status_code, http_reply_size, "
                    f"http_method, http_url, http_username, squid_hier_status, ip_server, http_mime_type "
                    f"FROM `{table}` LIMIT %s",
                    (rows - count,),
                )
                seed += 1
    finally:
        conn.close()


@dataclass
class LegacyWriter:
    """Inserts log_db_daemon-style rows (no date_day) one autocommit INSERT at a time, at about
    `rate` rows/s, recording every error and the longest time one INSERT took."""

    server: ServerHandle
    database: str
    table: str
    rate: float = 200.0
    inserted: int = 0
    errors: list[str] = field(default_factory=list)
    max_wait: float = 0.0
    latencies: list[float] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> LegacyWriter:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> LegacyWriter:
        self._stop.set()
        if self._thread:
            self._thread.join(60)
        return self

    def _run(self) -> None:
        conn = self.server.admin(self.database)
        rng = random.Random(11)
        interval = 1.0 / self.rate
        sql = (
            f"INSERT INTO `{self.table}` ({LEGACY_COLUMNS}) "
            "VALUES (%s, 10, '10.1.2.3', 'TCP_MISS', '200', 512, 'GET', %s, '-', 'HIER_DIRECT', '10.9.9.9', 'text/html')"
        )
        try:
            while not self._stop.is_set():
                epoch = 1_764_543_600 + rng.randrange(0, 40 * 86400)
                started = time.monotonic()
                try:
                    with conn.cursor() as cur:
                        cur.execute(sql, (epoch, f"http://writer/{self.inserted}"))
                    self.inserted += 1
                except pymysql.MySQLError as exc:
                    self.errors.append(repr(exc))
                elapsed = time.monotonic() - started
                self.latencies.append(elapsed)
                self.max_wait = max(self.max_wait, elapsed)
                time.sleep(max(0.0, interval - elapsed))
        finally:
            conn.close()
