"""End to end: a real Squid 5.7 logs through sqlops-logfile-daemon into a private MariaDB that
the tests stop, lock and restart (never the shared server). Every scenario counts the table
against Squid's own plain access.log, written in parallel: lines sent, stored, lost,
duplicated. Each test prints its counts (run with -s to see them).
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pymysql
import pytest

sys.path.insert(0, str(Path(__file__).parents[1]))
from e2e.ingest_harness import write_config
from e2e.squidlab import (
    BIG,
    ROW_COLUMNS,
    Origin,
    Squid,
    compare,
    native_line,
    queue_overflows,
    workdir,
)
from support.servers import ServerHandle, ServerUnavailable, create_database, drop_database, start_private

from sqlops.cli import main as sqlops_main

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


# ---------------------------------------------------------------------------------------------
# A private MariaDB the tests may stop, restart and lock


class PrivateServer:
    """A private MariaDB from the test provider (a container, or mariadbd from local binaries)."""

    def __init__(self) -> None:
        try:
            self.handle: ServerHandle = start_private("mariadb", purpose="squid e2e: stop, lock, restart")
        except ServerUnavailable as exc:
            pytest.fail(str(exc), pytrace=False)
        self.up = True

    def stop(self) -> None:
        self.handle.halt()
        self.up = False

    def start(self) -> None:
        self.handle.resume()
        self.up = True

    def close(self) -> None:
        self.handle.stop()


@pytest.fixture(scope="module")
def server() -> Iterator[PrivateServer]:
    private = PrivateServer()
    try:
        yield private
    finally:
        private.close()


@dataclass
class Lab:
    server: PrivateServer
    folder: Path
    database: str
    config: Path
    origin: Origin
    squids: list[Squid] = field(default_factory=list)

    def squid(self, **kwargs: Any) -> Squid:
        squid = Squid(self.folder, str(self.config), **kwargs)
        self.squids.append(squid)
        return squid

    def sql(self, statement: str) -> list[tuple[Any, ...]]:
        conn = self.server.handle.admin(self.database)
        try:
            with conn.cursor() as cur:
                cur.execute(statement)
                return list(cur.fetchall())
        finally:
            conn.close()

    def count(self) -> int:
        return int(self.sql("SELECT COUNT(*) FROM access_log")[0][0])

    def native_rows(self) -> list[bytes]:
        return [native_line(row) for row in self.sql(f"SELECT {ROW_COLUMNS} FROM access_log")]

    def wait_rows(self, expected: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                got = self.count()
            except pymysql.MySQLError:
                got = -1
            if got >= expected:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"{got} rows after {timeout} s, expected {expected}")
            time.sleep(0.25)

    def url(self, tag: str, i: int, pad: int = 0) -> str:
        return self.origin.url(f"/{tag}/{i}" + ("/" + "p" * pad if pad else ""))


@pytest.fixture
def lab(server: PrivateServer) -> Iterator[Lab]:
    folder = workdir("sqlops-e2e-")
    database = create_database(server.handle, "sqlops_e2e")
    spool = folder / "spool"
    spool.mkdir()
    shutil.chown(spool, "proxy", "proxy")
    config = write_config(
        folder / "sqlops.toml",
        host="127.0.0.1",
        port=server.handle.port,
        user="root",
        database=database,
        spool=spool,
        batch_seconds=0.2,
        shutdown_seconds=3.0,
        retry_max_seconds=1.0,
    )
    config.chmod(0o644)
    assert sqlops_main(["--config", str(config), "schema", "init"]) == 0
    origin = Origin(folder)
    state = Lab(server, folder, database, config, origin)
    try:
        yield state
    finally:
        for squid in state.squids:
            with contextlib.suppress(Exception):
                squid.shutdown(timeout=15)
            squid.kill_everything()
        origin.stop()
        if server.up:
            drop_database(server.handle, database)
        shutil.rmtree(folder, ignore_errors=True)


def report(name: str, counts: dict[str, Any], **extra: Any) -> None:
    shown = {k: v for k, v in counts.items() if not k.endswith("_lines")}
    print(f"\nE2E {name}: {json.dumps({**shown, **extra})}")


def traffic(squid: Squid, lab: Lab, tag: str, stop: threading.Event, per_round: int = 5) -> threading.Thread:
    """Requests in the background until `stop` is set."""

    def run() -> None:
        i = 0
        while not stop.is_set():
            squid.fetch([lab.url(tag, i + k) for k in range(per_round)], parallel=per_round)
            i += per_round
            time.sleep(0.05)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


# ---------------------------------------------------------------------------------------------
# 1. N requests → N rows, field by field equal to Squid's own log


def test_requests_arrive_field_by_field(lab: Lab) -> None:
    squid = lab.squid()
    squid.start()
    urls = [lab.url("plain", i) for i in range(150)]
    urls += [lab.origin.url(f"/status/404/{i}") for i in range(25)]
    urls += [lab.origin.url(f"/mime/image/png/{i}") for i in range(25)]
    codes = squid.fetch(urls)
    assert sorted(set(codes)) == [200, 404]
    lab.wait_rows(200, 30)
    time.sleep(0.5)
    counts = compare(squid.plain_lines(), lab.native_rows())
    report("1 field by field", counts)
    assert counts["sent"] == 200 and counts["stored"] == 200
    assert counts["lost"] == counts["extra"] == counts["duplicated"] == 0, counts


# ---------------------------------------------------------------------------------------------
# 2. database restarted mid-stream (down >= 10 s): 0 lost, 0 duplicated, Squid stays up


def test_database_restart_mid_stream(lab: Lab) -> None:
    squid = lab.squid()
    squid.start()
    stop = threading.Event()
    sender = traffic(squid, lab, "restart", stop)
    time.sleep(3)
    lab.server.stop()
    down_at = time.monotonic()
    time.sleep(10.5)
    assert squid.running(), "Squid must stay up while the database is down"
    lab.server.start()
    down = time.monotonic() - down_at
    time.sleep(3)
    stop.set()
    sender.join(60)
    plain = squid.plain_lines()
    lab.wait_rows(len(plain), 60)
    time.sleep(0.5)
    counts = compare(squid.plain_lines(), lab.native_rows())
    report("2 database restart", counts, database_down_seconds=round(down, 1))
    assert squid.running()
    assert counts["sent"] > 100
    assert counts["lost"] == counts["extra"] == counts["duplicated"] == 0, counts
    log = squid.cache_text()
    assert "database reachable again" in log and "journaling continues" in log


# ---------------------------------------------------------------------------------------------
# 3. database down when Squid starts: Squid stays up; rows arrive once it is started


def test_database_down_when_squid_starts(lab: Lab) -> None:
    lab.server.stop()
    try:
        squid = lab.squid()
        squid.start()
        codes = squid.fetch([lab.url("down", i) for i in range(100)])
        assert codes.count(200) == 100
        time.sleep(4)
        assert squid.running() and len(squid.daemon_pids()) == 1
        assert "FATAL" not in squid.cache_text()
        statuses = [json.loads(p.read_text()) for p in (lab.folder / "spool").glob("*/status-*.json")]
        assert statuses and statuses[0]["state"] == "waiting for the database"
    finally:
        lab.server.start()
    lab.wait_rows(100, 60)
    time.sleep(0.5)
    counts = compare(squid.plain_lines(), lab.native_rows())
    report("3 database down at start", counts)
    assert counts["lost"] == counts["extra"] == counts["duplicated"] == 0, counts


# ---------------------------------------------------------------------------------------------
# 4. table write-locked 40 s while 3,000 requests with ~3 KB URLs pass


def test_write_locked_table_for_40_seconds(lab: Lab) -> None:
    squid = lab.squid()
    squid.start()
    locker = lab.server.handle.admin(lab.database)
    locker.cursor().execute("LOCK TABLES access_log WRITE")
    locked_at = time.monotonic()
    try:
        urls = [lab.url("lock", i, pad=3000) for i in range(3000)]
        codes = squid.fetch(urls, parallel=16)
        assert codes.count(200) == 3000
        sent_in = time.monotonic() - locked_at
        time.sleep(max(0.0, 40 - (time.monotonic() - locked_at)))
        held = time.monotonic() - locked_at
    finally:
        locker.cursor().execute("UNLOCK TABLES")
        locker.close()
    lab.wait_rows(3000, 120)
    time.sleep(0.5)
    counts = compare(squid.plain_lines(), lab.native_rows())
    overflows = queue_overflows(squid.cache_text())
    report(
        "4 write lock 40 s",
        counts,
        lock_held_seconds=round(held, 1),
        requests_sent_in_seconds=round(sent_in, 1),
        queue_too_large=overflows,
    )
    assert held >= 40
    assert overflows == 0
    assert counts["sent"] == 3000
    assert counts["lost"] == counts["extra"] == counts["duplicated"] == 0, counts


# ---------------------------------------------------------------------------------------------
# 5. squid -k shutdown with a backlog; kill -9 of the daemon mid-stream


def test_shutdown_with_backlog_then_next_start(lab: Lab) -> None:
    squid = lab.squid()
    squid.start()
    locker = lab.server.handle.admin(lab.database)
    locker.cursor().execute("LOCK TABLES access_log WRITE")  # nothing can be written: a backlog
    try:
        assert squid.fetch([lab.url("backlog", i) for i in range(500)]).count(200) == 500
        time.sleep(1)
        squid.shutdown()
        assert not squid.daemon_pids()
        log = squid.cache_text()
        assert "not yet written; the next start writes them" in log
    finally:
        locker.cursor().execute("UNLOCK TABLES")
        locker.close()
    assert lab.count() == 0
    journals = list((lab.folder / "spool").glob("*/j-*"))
    assert len(journals) == 1
    squid.start()  # same squid.conf: the new daemon adopts the journal
    lab.wait_rows(500, 60)
    assert squid.fetch([lab.url("after", i) for i in range(20)]).count(200) == 20
    lab.wait_rows(520, 30)
    time.sleep(0.5)
    counts = compare(squid.plain_lines(), lab.native_rows())
    report("5a shutdown with backlog", counts)
    assert counts["lost"] == counts["extra"] == counts["duplicated"] == 0, counts
    assert "adopting journal" in squid.cache_text()


def test_kill_9_of_the_daemon_mid_stream(lab: Lab) -> None:
    squid = lab.squid()
    squid.start()
    stop = threading.Event()
    sender = traffic(squid, lab, "beforekill", stop)
    time.sleep(3)
    stop.set()
    sender.join(60)
    (daemon,) = squid.daemon_pids()
    subprocess.run(["kill", "-9", str(daemon)], check=True)
    # What the killed daemon had read is in its journal; keep a copy before it is adopted.
    (journal,) = (lab.folder / "spool").glob("*/j-*")
    read = b"".join(p.read_bytes() for p in sorted(journal.glob("*.seg")))
    first_segment = min(int(p.name.split(".")[0]) for p in journal.glob("*.seg"))
    stop = threading.Event()
    sender = traffic(squid, lab, "afterkill", stop)  # Squid notices at its next write
    squid.wait_for_log("Logfile Daemon: opening log", 30, count=2)
    time.sleep(3)
    stop.set()
    sender.join(60)
    time.sleep(1)
    plain = squid.plain_lines()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and lab.count() < len(plain) - 50:
        time.sleep(0.25)
    time.sleep(2)
    stored = lab.native_rows()
    counts = compare(plain, stored)
    in_journal = [line[1:] for line in read.split(b"\n") if line.startswith(b"L")]
    stored_set = set(stored)
    journal_missing = [line for line in in_journal if line not in stored_set]
    report(
        "5b kill -9",
        counts,
        lines_in_killed_daemons_journal=len(in_journal),
        journal_lines_missing=len(journal_missing),
        lost_by_squid=counts["lost"],
        journal_started_at_byte=first_segment,
    )
    assert squid.running(), "Squid's master restarts its kid, which starts a new daemon"
    assert counts["duplicated"] == 0 and counts["extra"] == 0, counts
    assert journal_missing == [], "every line the killed daemon had read arrives"
    # What Squid lost: lines it had not handed over when its kid died on the broken pipe.
    assert "FATAL: I don't handle this error well!" in squid.cache_text()
    assert counts["lost"] <= 20, counts


# ---------------------------------------------------------------------------------------------
# 6. edge values through Squid


def test_edge_values_are_stored_intact(lab: Lab) -> None:
    squid = lab.squid(auth=True, ipv6=True)
    squid.start()
    user = "u" * 36 + "edge"  # a 40-character user name (basic_fake_auth accepts any)
    assert len(user) == 40
    mime = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    assert len(mime) == 71
    urls: list[str | bytes] = [
        lab.origin.url(f"/mime/{mime}"),
        lab.origin.url("/caf").encode() + b"\xe9/latin1",
        lab.origin.url("/caf").encode() + b"\xc3\xa9/utf8",
    ]
    assert squid.fetch(urls, user=f"{user}:secret") == [200, 200, 200]
    assert squid.fetch([lab.url("ipv6", 1)], user=f"{user}:secret", ipv6=True) == [200]
    started = time.monotonic()
    assert squid.fetch([lab.origin.url("/big")], user=f"{user}:secret", timeout=300) == [200]
    big_seconds = time.monotonic() - started
    lab.wait_rows(5, 60)
    time.sleep(0.5)
    counts = compare(squid.plain_lines(), lab.native_rows())
    report("6 edge values", counts, three_gb_reply_seconds=round(big_seconds, 1))
    assert counts["lost"] == counts["extra"] == counts["duplicated"] == 0, counts
    got = lab.sql(
        "SELECT http_username, http_mime_type, ip_client, http_reply_size, "
        "COALESCE(http_url_raw, CONVERT(http_url USING binary)) FROM access_log"
    )
    assert {r[0] for r in got} == {user}
    assert mime in {r[1] for r in got}
    assert "::1" in {r[2] for r in got}
    assert max(r[3] for r in got) > BIG
    assert {bytes(r[4]) for r in got} >= {urls[1], urls[2]}


# ---------------------------------------------------------------------------------------------
# 7. a custom logformat (tab-separated, different field order) end to end

CUSTOM = "%>a\t%ts.%03tu\t%rm\t%ru\t%>Hs\t%<st\t%tr\t%un\t%Ss\t%Sh\t%<a\t%mt"


def test_custom_tab_separated_format(lab: Lab) -> None:
    lab.config.write_text(
        lab.config.read_text().replace("[ingest]", f"[ingest]\nformat = {json.dumps(CUSTOM)}")
    )
    squid = lab.squid(logformat=CUSTOM)
    squid.start()
    assert squid.fetch([lab.url("custom", i) for i in range(100)]).count(200) == 100
    lab.wait_rows(100, 30)
    time.sleep(0.5)
    rows = lab.sql(
        "SELECT ip_client, time_since_epoch, http_method, COALESCE(http_url_raw, CONVERT(http_url USING binary)), "
        "http_status_code, http_reply_size, time_response, http_username, squid_request_status, "
        "squid_hier_status, ip_server, http_mime_type FROM access_log"
    )
    rebuilt = [
        b"\t".join(bytes(v) if isinstance(v, bytes | bytearray) else str(v).encode() for v in row)
        for row in rows
    ]
    counts = compare(squid.plain_lines(), rebuilt)
    report("7 custom tab format", counts)
    assert all(line.count(b"\t") == 11 for line in squid.plain_lines())
    assert counts["sent"] == 100
    assert counts["lost"] == counts["extra"] == counts["duplicated"] == 0, counts
