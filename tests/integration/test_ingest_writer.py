"""The batch writer on both flavours: write modes, rows the server rejects, checkpoints."""

from __future__ import annotations

import base64
import io
import json
import threading
from typing import Any

import pymysql
import pytest

from sqlops.cli import main as sqlops_main
from sqlops.errors import PreconditionError
from sqlops.squid.batcher import Batch, stream_batches
from sqlops.squid.logformat import compile_format
from sqlops.squid.rows import RowEncoder
from sqlops.squid.writer import (
    CheckpointMoved,
    JournalCheckpoint,
    LogWriter,
    TableMissing,
    rotate_quarantine_file,
)

LOG_DB_DAEMON_TABLE = """
CREATE TABLE access_log (
  id INTEGER NOT NULL AUTO_INCREMENT PRIMARY KEY,
  time_since_epoch DECIMAL(15,3), time_response INTEGER, ip_client CHAR(15), ip_server CHAR(15),
  http_status_code VARCHAR(10), http_reply_size INTEGER, http_method VARCHAR(20), http_url TEXT,
  http_username VARCHAR(20), http_mime_type VARCHAR(50), squid_request_status VARCHAR(20),
  squid_hier_status VARCHAR(20)
)"""


def native(i: int, status: int = 200, client: bytes = b"192.0.2.1", method: bytes = b"GET") -> bytes:
    return b"1700000000.%03d      4 %s TCP_MISS/%d 639 %s http://h/%d - HIER_DIRECT/192.0.2.9 text/html" % (
        i,
        client,
        status,
        method,
        i,
    )


def batches(
    writer: LogWriter, lines: list[bytes], stream: str = "j-test", max_rows: int = 1000
) -> list[Batch]:
    def make(sample: list[bytes]) -> RowEncoder:
        return RowEncoder(compile_format("squid"), writer.columns, "+00:00", writer.mode)

    text = b"".join(line + b"\n" for line in lines)
    return list(stream_batches(io.BytesIO(text), stream, 0, make, max_rows=max_rows))


@pytest.fixture
def schema(db: Any, tmp_path: Any) -> Any:
    config = tmp_path / "c.toml"
    server = db.server
    config.write_text(
        f'[database]\nhost = "{server.host}"\nport = {server.port}\nuser = "{server.user}"\ndatabase = "{db.name}"\n'
    )
    assert sqlops_main(["--config", str(config), "schema", "init"]) == 0
    return db


def test_write_mode_follows_local_infile(schema: Any) -> None:
    writer = LogWriter(schema.settings(), "access_log")
    writer.connect()
    # Read what the server allows (MySQL 9.7 ships local_infile=OFF, MariaDB ON; either may be changed).
    local_infile = bool(int(schema.sql("SELECT @@GLOBAL.local_infile")[0][0]))
    assert writer.mode == ("tsv" if local_infile else "sql")
    checkpoint = JournalCheckpoint("j-test", "access_log", "/spool")
    checkpoint.read(writer.require())
    for batch in batches(writer, [native(i) for i in range(25)], max_rows=10):
        result = writer.write(batch, checkpoint)
        assert result.quarantined == 0
    assert schema.sql("SELECT COUNT(*), COUNT(DISTINCT http_url) FROM access_log") == [(25, 25)]
    assert schema.sql("SELECT position, rows_written FROM sqlops_ingest_checkpoint") == [
        (sum(len(native(i)) + 1 for i in range(25)), 25)
    ]
    writer.close()
    forced = LogWriter(schema.settings(), "access_log", method="insert")
    forced.connect()
    assert forced.mode == "sql"
    forced.close()
    if not local_infile:
        with pytest.raises(PreconditionError, match="local_infile=OFF"):
            LogWriter(schema.settings(), "access_log", method="load-data").connect()


def test_a_stale_checkpoint_refuses_the_batch(schema: Any) -> None:
    writer = LogWriter(schema.settings(), "access_log")
    writer.connect()
    checkpoint = JournalCheckpoint("j-test", "access_log", "/spool")
    checkpoint.read(writer.require())
    first, second, *_ = batches(writer, [native(i) for i in range(200)], max_rows=2)
    writer.write(first, checkpoint)
    writer.write(second, checkpoint)
    stored = first.rows + second.rows
    with pytest.raises(CheckpointMoved):
        writer.write(second, checkpoint)  # a replay of what is already in: refused, rolled back
    assert schema.sql("SELECT COUNT(*) FROM access_log") == [(stored,)]
    fresh = JournalCheckpoint("j-test", "access_log", "/spool")
    assert fresh.read(writer.require()) == second.end
    other = JournalCheckpoint("j-new", "access_log", "/spool")
    other.read(writer.require())
    with pytest.raises(CheckpointMoved):
        writer.write(second, other)  # a new stream must start at byte 0


def test_rows_the_server_rejects_are_isolated_and_quarantined(schema: Any) -> None:
    schema.sql("ALTER TABLE access_log ADD CONSTRAINT no_teapots CHECK (http_status_code <> '418')")
    writer = LogWriter(schema.settings(), "access_log")
    writer.connect()
    checkpoint = JournalCheckpoint("j-test", "access_log", "/spool")
    checkpoint.read(writer.require())
    lines = [native(i, status=418 if i in (3, 50, 51, 99) else 200) for i in range(100)]
    (batch,) = batches(writer, lines)
    result = writer.write(batch, checkpoint)
    assert (result.rows, result.quarantined) == (96, 4)
    assert schema.sql("SELECT COUNT(*) FROM access_log WHERE http_status_code = '418'") == [(0,)]
    quarantined = schema.sql(
        "SELECT raw_line, reason, position FROM sqlops_ingest_quarantine ORDER BY position"
    )
    assert [bytes(r[0]) for r in quarantined] == [lines[i] for i in (3, 50, 51, 99)]
    assert all("server rejected the row" in r[1] and "no_teapots" in r[1] for r in quarantined)
    assert [r[2] for r in quarantined] == [sum(len(x) + 1 for x in lines[:i]) for i in (3, 50, 51, 99)]
    assert schema.sql("SELECT rows_written, lines_quarantined FROM sqlops_ingest_checkpoint") == [(96, 4)]


def test_without_a_quarantine_table_bad_lines_go_to_the_fallback_file(schema: Any, tmp_path: Any) -> None:
    """A missing or unwritable quarantine table must not stall the stream or lose a line."""
    schema.sql("ALTER TABLE access_log ADD CONSTRAINT no_teapots CHECK (http_status_code <> '418')")
    schema.sql("DROP TABLE sqlops_ingest_quarantine")
    fallback = tmp_path / "spool" / "quarantine.jsonl"
    writer = LogWriter(schema.settings(), "access_log", fallback=fallback)
    writer.connect()
    checkpoint = JournalCheckpoint("j-test", "access_log", "/spool")
    checkpoint.read(writer.require())
    lines = [native(i, status=418 if i in (7, 8) else 200) for i in range(20)]
    lines.insert(5, b"garbage \xff line")
    (batch,) = batches(writer, lines)
    result = writer.write(batch, checkpoint)
    assert (result.rows, result.quarantined) == (18, 3)
    assert schema.sql("SELECT COUNT(*) FROM access_log") == [(18,)]
    assert schema.sql("SELECT rows_written, lines_quarantined FROM sqlops_ingest_checkpoint") == [(18, 3)]
    records = [json.loads(line) for line in fallback.read_text().splitlines()]
    assert sorted(base64.b64decode(r["raw"]) for r in records) == sorted([lines[5], lines[8], lines[9]])
    assert all(r["stream"] == "j-test" and r["table"] == "access_log" and r["reason"] for r in records)
    moved = rotate_quarantine_file(fallback)
    assert moved is not None and moved.read_text().count("\n") == 3 and not fallback.exists()
    # Without a fallback the batch fails (and is retried by the daemon) rather than losing lines.
    strict = LogWriter(schema.settings(), "access_log")
    strict.connect()
    checkpoint = JournalCheckpoint("j-two", "access_log", "/spool")
    checkpoint.read(strict.require())
    (batch,) = batches(strict, lines, stream="j-two")
    with pytest.raises(pymysql.MySQLError):
        strict.write(batch, checkpoint)
    assert schema.sql("SELECT COUNT(*) FROM access_log") == [(18,)]


def test_load_data_warnings_fall_back_to_strict_inserts(schema: Any) -> None:
    """A column type the encoder does not check (ENUM): LOAD DATA LOCAL would store '' with a
    warning; the batch is re-sent as INSERTs and the bad row quarantined instead."""
    schema.sql("ALTER TABLE access_log MODIFY http_method ENUM('GET','POST','CONNECT') NULL")
    writer = LogWriter(schema.settings(), "access_log")
    writer.connect()
    checkpoint = JournalCheckpoint("j-test", "access_log", "/spool")
    checkpoint.read(writer.require())
    lines = [native(i, method=b"BREW" if i == 7 else b"GET") for i in range(20)]
    (batch,) = batches(writer, lines)
    result = writer.write(batch, checkpoint)
    assert (result.rows, result.quarantined) == (19, 1)
    assert schema.sql("SELECT COUNT(*) FROM access_log WHERE http_method = '' OR http_method IS NULL") == [
        (0,)
    ]
    ((raw, reason),) = schema.sql("SELECT raw_line, reason FROM sqlops_ingest_quarantine")
    assert bytes(raw) == lines[7] and "http_method" in reason


def test_log_db_daemon_table_takes_what_fits(db: Any) -> None:
    db.sql(LOG_DB_DAEMON_TABLE)
    db.sql(
        "CREATE TABLE sqlops_ingest_quarantine (id BIGINT AUTO_INCREMENT PRIMARY KEY, stream VARCHAR(128), "
        "position BIGINT, target_table VARCHAR(64), reason VARCHAR(1024), raw_line MEDIUMBLOB, created_at DATETIME(3))"
    )
    db.sql(
        "CREATE TABLE sqlops_ingest_checkpoint (stream VARCHAR(128) PRIMARY KEY, target_table VARCHAR(64), "
        "host VARCHAR(255), spool_path VARCHAR(1024), position BIGINT, rows_written BIGINT, "
        "lines_quarantined BIGINT, created_at DATETIME(3), updated_at DATETIME(3))"
    )
    writer = LogWriter(db.settings(), "access_log")
    writer.connect()
    assert "date_day" not in writer.columns and "http_url_raw" not in writer.columns
    checkpoint = JournalCheckpoint("j-test", "access_log", "/spool")
    checkpoint.read(writer.require())
    (batch,) = batches(writer, [native(1), native(2, client=b"::ffff:192.168.100.200")])
    assert writer.write(batch, checkpoint).rows == 1
    assert db.sql("SELECT reason FROM sqlops_ingest_quarantine") == [
        ("ip_client: 22 characters, the column holds 15",)
    ]


def test_missing_table_says_how_to_fix(db: Any) -> None:
    with pytest.raises(TableMissing, match="sqlops schema init"):
        LogWriter(db.settings(), "access_log").connect()


def test_concurrent_writers_of_one_stream_never_duplicate(schema: Any) -> None:
    """Two writers replaying the same journal (which the spool lock prevents) still cannot
    store a batch twice: the checkpoint moves in the same transaction."""
    lines = [native(i) for i in range(200)]
    errors: list[BaseException] = []

    def replay() -> None:
        writer = LogWriter(schema.settings(), "access_log")
        writer.connect()
        checkpoint = JournalCheckpoint("j-shared", "access_log", "/spool")
        try:
            for batch in batches(writer, lines, stream="j-shared", max_rows=20):
                checkpoint.read(writer.require())
                try:
                    writer.write(batch, checkpoint)
                except CheckpointMoved:
                    continue
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            writer.close()

    threads = [threading.Thread(target=replay) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors
    assert schema.sql("SELECT COUNT(*), COUNT(DISTINCT http_url) FROM access_log") == [(200, 200)]
