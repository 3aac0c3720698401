"""sqlops-logfile-daemon against real servers (both flavours), fed as Squid feeds it."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parents[1]))
from e2e.ingest_harness import DaemonProcess, config_for, status_files, wait_for

from sqlops.cli import main as sqlops_main
from sqlops.squid.protocol import encode_line, iter_log_lines, opening

DATA = Path(__file__).parents[1] / "data" / "squid"
COLUMNS = (
    "time_since_epoch, time_response, ip_client, ip_server, http_status_code, http_reply_size, http_method, "
    "http_url, http_url_raw, http_username, http_mime_type, squid_request_status, squid_hier_status, date_day"
)


@pytest.fixture
def setup(db: Any, tmp_path: Path) -> tuple[Any, Path]:
    config = config_for(db, tmp_path)
    assert sqlops_main(["--config", str(config), "schema", "init"]) == 0
    return db, config


def native(
    i: int, *, url: bytes | None = None, client: bytes = b"192.0.2.1", seconds: int = 1700000000
) -> bytes:
    url = url if url is not None else b"http://example.com/item/%d" % i
    return b"%d.%03d      4 %s TCP_MISS/200 %d GET %s - HIER_DIRECT/192.0.2.9 text/html" % (
        seconds + i // 1000,
        i % 1000,
        client,
        1000 + i,
        url,
    )


def urls(db: Any) -> list[bytes]:
    return [
        bytes(r[0])
        for r in db.sql("SELECT COALESCE(http_url_raw, CONVERT(http_url USING binary)) FROM access_log")
    ]


def test_squids_capture_lands_field_by_field(setup: tuple[Any, Path], tmp_path: Path) -> None:
    db, config = setup
    daemon = DaemonProcess(str(config), log=tmp_path / "cache.log")
    daemon.send((DATA / "native-squid-5.7.bin").read_bytes())
    assert daemon.stop() == 0
    rows = db.sql(f"SELECT {COLUMNS} FROM access_log ORDER BY id")
    assert [tuple(str(v) if v is not None else None for v in r) for r in rows] == [
        (
            "1795781685.727",
            "4",
            "127.0.0.1",
            "127.0.0.1",
            "404",
            "639",
            "GET",
            "http://127.0.0.1:8099/caf\\xe9/latin1",
            "b'http://127.0.0.1:8099/caf\\xe9/latin1'",
            "-",
            "text/html",
            "TCP_MISS",
            "HIER_DIRECT",
            "2026-11-27",
        ),
        (
            "1795781685.757",
            "5",
            "127.0.0.1",
            "127.0.0.1",
            "404",
            "639",
            "GET",
            "http://127.0.0.1:8099/café/utf8",
            None,
            "-",
            "text/html",
            "TCP_MISS",
            "HIER_DIRECT",
            "2026-11-27",
        ),
        (
            "1795781685.797",
            "1",
            "127.0.0.1",
            "127.0.0.1",
            "404",
            "639",
            "GET",
            "http://127.0.0.1:8099/user",
            None,
            "-",
            "text/html",
            "TCP_MISS",
            "HIER_DIRECT",
            "2026-11-27",
        ),
    ]
    # the latin-1 URL's exact bytes are recoverable
    assert urls(db)[0] == b"http://127.0.0.1:8099/caf\xe9/latin1"
    # everything written: the journal and its checkpoint row are gone
    assert db.sql("SELECT COUNT(*) FROM sqlops_ingest_checkpoint") == [(0,)]
    assert not list((tmp_path / "spool").glob("*/j-*"))
    log = daemon.stderr()
    assert "writing to config file" in log and "everything written (3 rows" in log


def test_edge_values_and_malformed_lines(setup: tuple[Any, Path], tmp_path: Path) -> None:
    db, config = setup
    good = [
        native(1, client=b"::ffff:192.168.100.200"),
        b"1700000000.002 100000 192.0.2.1 TCP_MISS/200 3221225472 GET http://big.example/iso - HIER_DIRECT/2001:db8::1 "
        b"application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        b"1700000000.003      4 192.0.2.1 TCP_MISS/200 5 GET http://h/ "
        + b"u" * 40
        + b" HIER_DIRECT/192.0.2.9 text/html",
        native(4, url=b"http://h/caf\xe9/latin1"),
        native(5, url=b"http://h/caf\xc3\xa9/utf8"),
        native(6, url=b"http://h/back\\slash'quote\"dq"),
    ]
    bad = [
        b"garbage",
        native(7).replace(b" 1007 ", b" lots "),
        b"1700000000.008      4 192.0.2.1 TCP_MISS/200 5 GET http://h/ "
        + b"u" * 300
        + b" HIER_DIRECT/192.0.2.9 x",
    ]
    daemon = DaemonProcess(str(config), log=tmp_path / "cache.log")
    daemon.send(opening(0))
    for line in [good[0], bad[0], *good[1:4], bad[1], good[4], bad[2], good[5]]:
        daemon.send(encode_line(line))
    daemon.send(b"?not a command\n")
    assert daemon.stop() == 0
    stored = db.sql(
        "SELECT ip_client, http_reply_size, http_username, http_mime_type, ip_server FROM access_log ORDER BY id"
    )
    assert len(stored) == 6
    assert stored[0][0] == "::ffff:192.168.100.200"
    assert stored[1][1] == 3221225472 and len(stored[1][3]) == 71 and stored[1][4] == "2001:db8::1"
    assert stored[2][2] == "u" * 40
    assert sorted(urls(db)) == sorted(line.split(b" GET ")[1].split(b" ")[0] for line in good)
    quarantine = db.sql("SELECT raw_line, reason FROM sqlops_ingest_quarantine ORDER BY position")
    assert [(bytes(raw), reason) for raw, reason in quarantine] == [
        (b"garbage", "does not match log format 'squid'"),
        (bad[1], "does not match log format 'squid'"),
        (bad[2], "http_username: 300 characters, the column holds 255"),
        (b"?not a command", "not a logfile-daemon message (unknown command byte)"),
    ]


def test_kill_9_then_restart_writes_every_read_line_once(setup: tuple[Any, Path], tmp_path: Path) -> None:
    db, config = setup
    first = DaemonProcess(str(config), log=tmp_path / "first.log")
    for i in range(3000):
        first.send(encode_line(native(i)))
        if i == 1500:
            wait_for(lambda: db.sql("SELECT COUNT(*) FROM access_log")[0][0] > 0, 30, "the first rows")
    time.sleep(0.2)
    first.kill()
    # What the killed daemon had read is exactly what its journal holds.
    (journal,) = (tmp_path / "spool").glob("*/j-*")
    (segment,) = journal.glob("*.seg")  # one 64 MB segment: nothing released yet
    assert segment.name == "00000000000000000000.seg"
    read = segment.read_bytes()
    assert 1500 * 100 < len(read) <= len(b"".join(encode_line(native(i)) for i in range(3000)))
    assert db.sql("SELECT position FROM sqlops_ingest_checkpoint"), "the killed daemon had committed"
    second = DaemonProcess(str(config), log=tmp_path / "second.log")
    for i in range(3000, 3500):
        second.send(encode_line(native(i)))
    assert second.stop() == 0
    assert "adopting journal" in second.stderr()
    got = urls(db)
    assert len(got) == len(set(got)), "duplicates"
    # nothing lost of what was read: the journal's lines plus the second daemon's
    expected = {line.split(b" GET ")[1].split(b" ")[0] for _, line in iter_log_lines(read, 0)}
    expected |= {b"http://example.com/item/%d" % i for i in range(3000, 3500)}
    assert set(got) == expected
    assert not list((tmp_path / "spool").glob("*/j-*"))


def test_backlog_left_at_shutdown_is_written_by_the_next_start(
    setup: tuple[Any, Path], tmp_path: Path
) -> None:
    db, config = setup
    good_config = config.read_text()
    # the database is unreachable: the daemon journals, waits, and exits at its deadline
    config.write_text(
        good_config.replace(f"port = {db.server.port}", "port = 1").replace(
            "shutdown_seconds = 10.0", "shutdown_seconds = 1.0"
        )
    )
    daemon = DaemonProcess(str(config), log=tmp_path / "first.log")
    for i in range(200):
        daemon.send(encode_line(native(i)))

    def waiting() -> dict[str, Any] | None:
        found = status_files(tmp_path / "spool")
        return found[0] if found and found[0]["state"] == "waiting for the database" else None

    status = wait_for(waiting, 10, "the status file to say it waits for the database")
    assert status["backlog_bytes"] > 0
    assert status["last_error"]
    started = time.monotonic()
    assert daemon.stop() == 0
    assert time.monotonic() - started < 8
    assert "not yet written; the next start writes them" in daemon.stderr()
    # the connect failure carries its cause on the same cache.log line
    (line, *_) = [x for x in daemon.stderr().splitlines() if "cannot connect to" in x]
    assert "Can't connect to MySQL server" in line and "journaling continues" in line, line
    assert db.sql("SELECT COUNT(*) FROM access_log") == [(0,)]
    config.write_text(good_config)
    again = DaemonProcess(str(config), log=tmp_path / "second.log")
    assert again.stop() == 0
    assert sorted(urls(db)) == sorted(b"http://example.com/item/%d" % i for i in range(200))


def test_log_db_daemon_argument_with_squid_mysql_lines(setup: tuple[Any, Path], tmp_path: Path) -> None:
    db, config = setup
    server = db.server
    arg = f"/{server.host}:{server.port}/{db.name}/access_log/{server.user}/{server.password}"
    daemon = DaemonProcess(arg, env={"SQLOPS_CONFIG": str(config)}, log=tmp_path / "cache.log")
    daemon.send((DATA / "squid_mysql-squid-5.7.bin").read_bytes())
    assert daemon.stop() == 0
    log = daemon.stderr()
    assert "log format detected from the first lines: squid_mysql" in log
    assert "switch to `access_log daemon:NAME`" in log
    assert (
        db.sql("SELECT squid_request_status, http_status_code, squid_hier_status, ip_server FROM access_log")
        == [("TCP_MISS", "404", "HIER_DIRECT", "127.0.0.1")] * 3
    )


def test_custom_tab_format_from_config(setup: tuple[Any, Path], tmp_path: Path) -> None:
    db, config = setup
    spec = "%ts.%03tu\\t%tr\\t%>a\\t%Ss\\t%>Hs\\t%<st\\t%rm\\t%ru\\t%[un\\t%Sh\\t%<a\\t%mt"
    config.write_text(config.read_text().replace("[ingest]", f'[ingest]\nformat = "{spec}"'))
    daemon = DaemonProcess(str(config), log=tmp_path / "cache.log")
    daemon.send((DATA / "tsv-squid-5.7.bin").read_bytes())
    assert daemon.stop() == 0
    assert len(urls(db)) == 3 and urls(db)[1] == b"http://127.0.0.1:8099/caf\xc3\xa9/utf8"


def test_rotate_starts_a_new_segment_and_status_shows_the_daemon(
    setup: tuple[Any, Path], tmp_path: Path
) -> None:
    db, config = setup
    daemon = DaemonProcess(str(config), log=tmp_path / "cache.log")
    daemon.send(opening(3) + encode_line(native(1)) + b"R\n" + encode_line(native(2)))
    wait_for(lambda: db.sql("SELECT COUNT(*) FROM access_log")[0][0] == 2, 30, "two rows")
    wait_for(
        lambda: status_files(tmp_path / "spool") and status_files(tmp_path / "spool")[0]["rows_written"] == 2,
        10,
        "status",
    )
    out = tmp_path / "status.json"
    with out.open("w") as handle, _redirect_stdout(handle):
        assert sqlops_main(["--config", str(config), "ingest", "status", "--format", "json"]) == 0
    report = json.loads(out.read_text())
    (entry,) = report["daemons"]
    assert entry["running"] and entry["pid"] == daemon.pid and entry["rows_written"] == 2
    assert report["database"]["quarantine"]["total"] == 0
    assert report["database"]["journals"][0]["rows_written"] == 2
    assert daemon.stop() == 0
    assert "rotate: starting a new journal segment" in daemon.stderr()


def test_without_the_quarantine_table_bad_lines_go_to_a_file_and_rotate(
    setup: tuple[Any, Path], tmp_path: Path
) -> None:
    db, config = setup
    db.sql("DROP TABLE sqlops_ingest_quarantine")
    daemon = DaemonProcess(str(config), log=tmp_path / "cache.log")
    daemon.send(
        opening(3) + encode_line(native(1)) + encode_line(b"not a squid line") + encode_line(native(2))
    )
    wait_for(lambda: db.sql("SELECT COUNT(*) FROM access_log")[0][0] == 2, 30, "two rows")
    files = lambda: sorted((tmp_path / "spool").glob("*/quarantine.jsonl*"))  # noqa: E731
    wait_for(lambda: len(files()) == 1, 10, "the quarantine file")
    (record,) = [json.loads(line) for line in files()[0].read_text().splitlines()]
    assert record["text"] == "not a squid line" and record["reason"]
    out = tmp_path / "status.json"
    with out.open("w") as handle, _redirect_stdout(handle):
        assert sqlops_main(["--config", str(config), "ingest", "status", "--format", "json"]) == 0
    assert [q["lines"] for q in json.loads(out.read_text())["quarantine_files"]] == [1]
    daemon.send(b"R\n" + encode_line(native(3)))
    wait_for(lambda: db.sql("SELECT COUNT(*) FROM access_log")[0][0] == 3, 30, "three rows")
    wait_for(lambda: [f.name for f in files()] != ["quarantine.jsonl"], 10, "the rotated file")
    assert files()[0].name.startswith("quarantine.jsonl.")
    assert daemon.stop() == 0
    assert "quarantined lines go to" in daemon.stderr()


class _redirect_stdout:
    def __init__(self, handle: Any) -> None:
        self.handle = handle

    def __enter__(self) -> None:
        import contextlib

        self._cm = contextlib.redirect_stdout(self.handle)
        self._cm.__enter__()

    def __exit__(self, *exc: object) -> None:
        self._cm.__exit__(*exc)


def test_a_wrong_target_journals_until_the_configuration_is_fixed(
    setup: tuple[Any, Path], tmp_path: Path
) -> None:
    """An unknown target name must not make the daemon exit (Squid would give up): it
    journals, says what is wrong, and writes once the section exists."""
    db, config = setup
    env = {"SQLOPS_CONFIG": str(config)}
    daemon = DaemonProcess("proxy9", env=env, log=tmp_path / "cache.log")
    daemon.send(b"".join(encode_line(native(i)) for i in range(20)))
    wait_for(lambda: "no [targets.proxy9] section" in daemon.stderr(), 20, "the configuration error")
    assert daemon.proc.poll() is None
    # [ingest] spool_dir of the same file is still used
    wait_for(lambda: list((tmp_path / "spool" / "target-proxy9").glob("j-*")), 10, "the journal")
    config.write_text(config.read_text() + '\n[targets.proxy9]\ntable = "access_log"\n')
    wait_for(lambda: db.sql("SELECT COUNT(*) FROM access_log")[0][0] == 20, 30, "the rows after the fix")
    assert daemon.stop() == 0


def test_an_unwritable_spool_falls_back_to_var_tmp(setup: tuple[Any, Path], tmp_path: Path) -> None:
    db, config = setup
    config.write_text(config.read_text().replace(str(tmp_path / "spool"), "/proc/sqlops-cannot-write-here"))
    daemon = DaemonProcess(str(config), log=tmp_path / "cache.log")
    try:
        daemon.send(b"".join(encode_line(native(i)) for i in range(5)))
        assert daemon.stop() == 0
        log = daemon.stderr()
        assert "cannot create the journal in /proc/sqlops-cannot-write-here" in log
        assert "using /var/tmp/sqlops-spool/" in log
        assert db.sql("SELECT COUNT(*) FROM access_log") == [(5,)]
    finally:
        import shutil

        from sqlops.squid.target import target_key

        shutil.rmtree(Path("/var/tmp/sqlops-spool") / target_key(str(config)), ignore_errors=True)


def test_files_holding_log_data_are_private_under_umask_022(setup: tuple[Any, Path], tmp_path: Path) -> None:
    """Started from a root shell (umask 022): spool folders, journals, status and the
    quarantine fallback file are never readable by other users."""
    import os
    import stat

    db, config = setup
    db.sql("DROP TABLE sqlops_ingest_quarantine")  # bad lines go to quarantine.jsonl
    spool = tmp_path / "spool"
    assert not spool.exists()
    old = os.umask(0o022)
    try:
        daemon = DaemonProcess(str(config), log=tmp_path / "cache.log")
    finally:
        os.umask(old)
    daemon.send(opening(3) + encode_line(native(1)) + encode_line(b"jos\xe9 not a squid line"))
    wait_for(lambda: db.sql("SELECT COUNT(*) FROM access_log")[0][0] == 1, 30, "one row")
    wait_for(lambda: bool(list(spool.glob("*/quarantine.jsonl"))), 10, "the quarantine file")
    wait_for(lambda: bool(list(spool.glob("*/status-*.json"))), 10, "the status file")
    created = [spool, *spool.rglob("*")]
    kinds = {p.name.split("-")[0].split(".")[-1] for p in created}
    assert {"quarantine", "jsonl", "status", "j", "lock", "seg"} & kinds
    try:
        for path in created:
            mode = stat.S_IMODE(path.lstat().st_mode)
            assert mode & 0o007 == 0, f"{path} is {oct(mode)}"
            assert mode == (0o750 if path.is_dir() else 0o640), f"{path} is {oct(mode)}"
    finally:
        assert daemon.stop() == 0
