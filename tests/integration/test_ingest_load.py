"""`sqlops ingest load` on both flavours: plain, gzip and stdin, idempotent and resumable."""

from __future__ import annotations

import datetime
import gzip
import json
import os
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from sqlops.cli import main as sqlops_main

SQLOPS = str(Path(sys.executable).with_name("sqlops"))


@pytest.fixture
def config(db: Any, tmp_path: Path) -> Path:
    server = db.server
    path = tmp_path / "sqlops.toml"
    path.write_text(
        f'[database]\nhost = "{server.host}"\nport = {server.port}\nuser = "{server.user}"\n'
        f'database = "{db.name}"\n'
    )
    assert sqlops_main(["--config", str(path), "schema", "init"]) == 0
    return path


def native(i: int) -> bytes:
    return (
        b"%d.%03d %6d 10.1.%d.%d TCP_MISS/200 %d GET http://example.com/%d - HIER_DIRECT/192.0.2.9 text/html"
        % (
            1700000000 + i // 7,
            i % 1000,
            i % 5000,
            i % 256,
            i // 256 % 256,
            i * 3,
            i,
        )
    )


def write_log(path: Path, numbers: range, extra: bytes = b"") -> Path:
    path.write_bytes(b"".join(native(i) + b"\n" for i in numbers) + extra)
    return path


def load(config: Path, capsys: Any, *args: str, notes: list[str] | None = None) -> list[dict[str, Any]]:
    capsys.readouterr()
    assert sqlops_main(["--config", str(config), "ingest", "load", "--format", "json", *args]) == 0
    captured = capsys.readouterr()
    if notes is not None:
        notes.append(captured.err)
    return json.loads(captured.out)


def count(db: Any) -> tuple[int, int]:
    return db.sql("SELECT COUNT(*), COUNT(DISTINCT http_url) FROM access_log")[0]


def test_plain_gzip_and_rerun(db: Any, config: Path, tmp_path: Path, capsys: Any) -> None:
    log = write_log(tmp_path / "access.log", range(5000))
    gz = tmp_path / "access.log.1.gz"
    gz.write_bytes(gzip.compress(log.read_bytes()))
    (first,) = load(config, capsys, str(log))
    assert (first["status"], first["rows"], first["quarantined"]) == ("loaded", 5000, 0)
    assert count(db) == (5000, 5000)
    # the same content again, gzipped and renamed: recognised, nothing added
    again, plain = load(config, capsys, str(gz), str(log))
    assert again["status"] == plain["status"] == "already loaded"
    assert again["load_id"] == first["load_id"]
    assert count(db) == (5000, 5000)
    rows = db.sql("SELECT path, position, rows_written, complete FROM sqlops_ingest_load")
    assert rows == [(str(log), log.stat().st_size, 5000, 1)]
    # field check of one row
    assert db.sql(
        "SELECT time_since_epoch, time_response, ip_client, http_reply_size, date_day FROM access_log "
        "WHERE http_url = 'http://example.com/4999'"
    ) == [(Decimal("1700000714.999"), 4999, "10.1.135.19", 14997, datetime.date(2023, 11, 14))]


def test_grown_file_resumes_and_stdin_works(db: Any, config: Path, tmp_path: Path, capsys: Any) -> None:
    log = write_log(tmp_path / "access.log", range(3000))
    load(config, capsys, str(log))
    with log.open("ab") as handle:
        handle.write(b"".join(native(i) + b"\n" for i in range(3000, 3500)))
    (resumed,) = load(config, capsys, str(log))
    assert resumed["status"] == "resumed" and resumed["rows"] == 500
    assert resumed["started_at_byte"] == len(b"".join(native(i) + b"\n" for i in range(3000)))
    assert count(db) == (3500, 3500)
    other = write_log(tmp_path / "other.log", range(10000, 10100))
    code = subprocess.run(
        [SQLOPS, "--config", str(config), "ingest", "load", "-"],
        input=other.read_bytes(),
        capture_output=True,
    )
    assert code.returncode == 0, code.stderr
    assert b"100 rows, 0 quarantined" in code.stdout
    assert count(db) == (3600, 3600)


def test_bad_lines_formats_and_an_unfinished_last_line(
    db: Any, config: Path, tmp_path: Path, capsys: Any
) -> None:
    log = tmp_path / "mixed.log"
    log.write_bytes(native(1) + b"\nthis is not a log line\n" + native(2) + b"\n" + native(3)[:40])
    notes: list[str] = []
    (result,) = load(config, capsys, "--max-quarantine-ratio", "0.5", str(log), notes=notes)
    assert (result["rows"], result["quarantined"]) == (2, 1)
    assert "the last line (40 bytes) has no newline yet" in notes[0]
    assert "1 line(s) quarantined" in notes[0]
    assert db.sql("SELECT reason FROM sqlops_ingest_quarantine") == [("does not match log format 'squid'",)]
    with log.open("ab") as handle:
        handle.write(native(3)[40:] + b"\n")
    (finished,) = load(config, capsys, str(log))
    assert (finished["status"], finished["rows"]) == ("resumed", 1)
    assert count(db) == (3, 3)
    # a log_db_daemon-style custom format, detected with --format auto, and a spec
    mysql_style = tmp_path / "mysql.log"
    mysql_style.write_bytes(
        b"1700000000.001      4 10.0.0.1 TCP_MISS 200 639 GET http://m/1 - HIER_DIRECT 192.0.2.1 text/html\n"
    )
    (auto,) = load(config, capsys, "--log-format", "auto", str(mysql_style))
    assert (auto["format"], auto["rows"]) == ("squid_mysql", 1)
    tsv = tmp_path / "tsv.log"
    tsv.write_bytes(b"http://t/1\t10.0.0.9\t1700000000.5\n")
    (spec,) = load(config, capsys, "--log-format", "%ru\t%>a\t%ts.%tu", str(tsv))
    assert spec["rows"] == 1
    assert db.sql("SELECT ip_client, time_since_epoch FROM access_log WHERE http_url = 'http://t/1'") == [
        ("10.0.0.9", Decimal("1700000000.005"))
    ]


def test_killed_load_resumes_exactly_once(db: Any, config: Path, tmp_path: Path) -> None:
    log = write_log(tmp_path / "big.log", range(60000))
    command = [SQLOPS, "--config", str(config), "ingest", "load", "--batch-rows", "500", str(log)]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        rows = db.sql("SELECT COALESCE(MAX(position), 0) FROM sqlops_ingest_load")[0][0]
        if rows > 0:
            break
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    position = db.sql("SELECT position FROM sqlops_ingest_load")[0][0]
    stored = count(db)[0]
    assert 0 < position < log.stat().st_size, "killed in the middle"
    assert stored == log.read_bytes()[:position].count(b"\n"), "rows and progress moved together"
    finished = subprocess.run(command, capture_output=True, text=True)
    assert finished.returncode == 0, finished.stderr
    assert f"resumed at byte {position}" in finished.stdout
    assert count(db) == (60000, 60000)


def test_target_option_uses_the_named_section(db: Any, config: Path, tmp_path: Path, capsys: Any) -> None:
    db.sql("CREATE TABLE other_log LIKE access_log")
    config.write_text(config.read_text() + '\n[targets.p2]\ntable = "other_log"\nformat = "squid"\n')
    log = write_log(tmp_path / "p2.log", range(10))
    (result,) = load(config, capsys, "--target", "p2", str(log))
    assert result["rows"] == 10
    assert db.sql("SELECT COUNT(*) FROM other_log") == [(10,)] and count(db) == (0, 0)


def test_damaged_gzip_gzip_on_stdin_and_an_out_of_range_timestamp(
    db: Any, config: Path, tmp_path: Path, capsys: Any
) -> None:
    data = write_log(tmp_path / "access.log", range(3000)).read_bytes()
    bad = tmp_path / "bad.gz"
    bad.write_bytes(gzip.compress(data)[:-4000] + b"\x00" * 100)
    capsys.readouterr()
    assert sqlops_main(["--config", str(config), "ingest", "load", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "bad.gz: the compressed file is damaged" in err and "fix:" in err and "internal error" not in err
    # gzip data on stdin is read transparently
    piped = subprocess.run(
        [SQLOPS, "--config", str(config), "ingest", "load", "--format", "json", "-"],
        input=gzip.compress(b"".join(native(i) + b"\n" for i in range(5000, 5010))),
        capture_output=True,
    )
    assert piped.returncode == 0, piped.stderr
    assert json.loads(piped.stdout)[0]["rows"] == 10
    # a timestamp past year 9999 is quarantined with a plain reason
    far = tmp_path / "far.log"
    far.write_bytes(native(1).replace(b"1700000000.001", b"300000000000.001") + b"\n")
    (result,) = load(config, capsys, "--max-quarantine-ratio", "1", str(far))
    assert result["quarantined"] == 1
    (reason,) = db.sql("SELECT reason FROM sqlops_ingest_quarantine")[0]
    assert reason.startswith("timestamp 300000000000 is out of range (year 11476)"), reason


def _fails(config: Path, capsys: Any, *args: str) -> tuple[int, str]:
    capsys.readouterr()
    status = sqlops_main(["--config", str(config), "ingest", "load", *args])
    return status, capsys.readouterr().err


def test_wrong_input_fails_and_is_not_marked_loaded(
    db: Any, config: Path, tmp_path: Path, capsys: Any
) -> None:
    noise = tmp_path / "random.bin"
    noise.write_bytes(os.urandom(100_000))
    slow = tmp_path / "slow.log"
    slow.write_bytes(
        b"# Time: 2024-01-01T00:00:00.000000Z\n# User@Host: u[u] @ localhost []\n"
        b"# Query_time: 1.0  Lock_time: 0.0 Rows_sent: 1  Rows_examined: 1\nSELECT 1;\n" * 20
    )
    mysql_lines = tmp_path / "access.log"
    write_log(mysql_lines, range(200))
    for path, args, seen in (
        (noise, (), "binary data"),
        (slow, (), "looks like a MySQL slow query log"),
        (mysql_lines, ("--log-format", "squid_mysql"), "looks like the squid format"),
    ):
        status, err = _fails(config, capsys, *args, str(path))
        assert status == 2 and seen in err and "fix:" in err, err
    assert db.sql("SELECT COUNT(*) FROM sqlops_ingest_load") == [(0,)]
    # the right format now loads everything (nothing was recorded as loaded)
    (result,) = load(config, capsys, str(mysql_lines))
    assert (result["status"], result["rows"]) == ("loaded", 200)
    # a file with too many bad lines: exit 1, not complete; --force reloads, --forget drops the record
    mixed = tmp_path / "mixed.log"
    mixed.write_bytes(
        b"".join(native(i) + b"\n" + (b"garbage line\n" if i % 5 == 0 else b"") for i in range(1000, 1100))
    )
    status, err = _fails(config, capsys, str(mixed))
    assert status == 1 and "20 of 120 line(s) quarantined" in err and "--force" in err, err
    assert db.sql("SELECT complete FROM sqlops_ingest_load ORDER BY id DESC LIMIT 1") == [(0,)]
    status, _ = _fails(config, capsys, "--max-quarantine-ratio", "0.5", "--force", str(mixed))
    assert status == 0
    assert db.sql("SELECT complete FROM sqlops_ingest_load ORDER BY id DESC LIMIT 1") == [(1,)]
    status, err = _fails(config, capsys, "--forget", str(mixed))
    capsys.readouterr()
    assert status == 0
    assert db.sql("SELECT COUNT(*) FROM sqlops_ingest_load") == [(1,)]
