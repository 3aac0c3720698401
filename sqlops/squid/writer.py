"""Batches → the log table, with the checkpoint in the same transaction.

One :class:`LogWriter` owns one connection. ``write(batch, checkpoint)`` runs::

    BEGIN
      LOAD DATA LOCAL INFILE ... (or multi-row INSERTs)     the rows
      INSERT INTO sqlops_ingest_quarantine ...              lines that could not be stored
      UPDATE <checkpoint> SET position = end WHERE position = start
    COMMIT

so after a crash anywhere the checkpoint says exactly which bytes of the source are in the
table. ``LOAD DATA LOCAL`` turns data errors into warnings; a batch with warnings is rolled
back to a savepoint and sent again as INSERTs under the strict sql_mode, where the server
rejects bad rows. A rejected INSERT is split in halves until the rejected rows are isolated;
they go to quarantine with the server's message. Connection problems, deadlocks and lock
timeouts propagate: the caller rolls back, reconnects and replays from the checkpoint.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import fcntl
import json
import logging
import os
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pymysql

from sqlops.cluster.failover import connect_healthy
from sqlops.cluster.writeset import WritesetLimits, writeset_limits
from sqlops.config import DatabaseConfig
from sqlops.db import Session, errno_of, quote_ident
from sqlops.errors import ConnectError, PreconditionError
from sqlops.plan import tag
from sqlops.private import open_private, private_dir
from sqlops.squid import localinfile
from sqlops.squid.batcher import MAX_REASON, Batch, Quarantined
from sqlops.squid.localinfile import rows_file
from sqlops.squid.rows import ColumnSpec, Mode, sql_hex, sql_literal, tsv_unescape

log = logging.getLogger("sqlops.squid.writer")

CHECKPOINT_TABLE = "sqlops_ingest_checkpoint"
LOAD_TABLE = "sqlops_ingest_load"
QUARANTINE_TABLE = "sqlops_ingest_quarantine"
QUARANTINE_FILE = "quarantine.jsonl"  # in the spool folder, used when the table cannot be written
JOB = "ingest"  # the tag plan.tag puts on every statement of this writer, as for every job

# The quarantine table is missing (1146) or this account may not write it (1142).
QUARANTINE_UNAVAILABLE = frozenset({1146, 1142})

# Errors that belong to one row's data: isolate the row, quarantine it, keep the rest.
ROW_ERRORS = frozenset(
    {
        1048,  # column cannot be null
        1062,  # duplicate entry
        1264,  # out of range
        1265,  # data truncated
        1292,  # incorrect date/time value
        1300,  # invalid character string
        1366,  # incorrect string/integer value
        1367,  # illegal value
        1406,  # data too long
        1411,  # incorrect value for function
        1452,  # foreign key
        1526,  # no partition for value
        1690,  # value out of range
        3819,  # check constraint (MySQL)
        4025,  # check constraint (MariaDB)
    }
)
LOCAL_INFILE_REFUSED = frozenset({1148, 3948, 2068})
MAX_STATEMENT = 4 << 20


class CheckpointMoved(Exception):
    """The checkpoint row is not where this writer expected it (another writer, or a replay
    after an ambiguous commit): resynchronise from the database."""


class TableMissing(PreconditionError):
    pass


@dataclass
class WriteResult:
    rows: int
    quarantined: int


class Checkpoint:
    """Where a source's committed offset lives; implementations run inside the batch
    transaction."""

    def advance(self, session: Session, batch: Batch, rows: int, quarantined: int) -> None:
        raise NotImplementedError


class JournalCheckpoint(Checkpoint):
    """One row per daemon journal in sqlops_ingest_checkpoint."""

    def __init__(self, stream: str, table: str, spool_path: str) -> None:
        self.stream = stream
        self.table = table
        self.spool_path = spool_path
        self.exists = False

    def read(self, session: Session) -> int:
        rows = session.query(f"SELECT position FROM {CHECKPOINT_TABLE} WHERE stream = %s", (self.stream,))
        session.commit()  # the writer's session does not autocommit: end the snapshot
        self.exists = bool(rows)
        return int(rows[0][0]) if rows else 0

    def advance(self, session: Session, batch: Batch, rows: int, quarantined: int) -> None:
        if not self.exists:
            if batch.start != 0:
                raise CheckpointMoved(f"{self.stream}: no checkpoint row but batch starts at {batch.start}")
            try:
                session.execute(
                    f"INSERT INTO {CHECKPOINT_TABLE} (stream, target_table, host, spool_path, position, "
                    "rows_written, lines_quarantined, created_at, updated_at) "
                    "VALUES (%s, %s, %s, %s, %s, %s, %s, UTC_TIMESTAMP(3), UTC_TIMESTAMP(3))",
                    (
                        self.stream,
                        self.table,
                        socket.gethostname(),
                        self.spool_path,
                        batch.end,
                        rows,
                        quarantined,
                    ),
                )
            except pymysql.err.IntegrityError:
                raise CheckpointMoved(f"{self.stream}: checkpoint row appeared concurrently") from None
            self.exists = True
            return
        changed = session.execute(
            f"UPDATE {CHECKPOINT_TABLE} SET position = %s, rows_written = rows_written + %s, "
            "lines_quarantined = lines_quarantined + %s, updated_at = UTC_TIMESTAMP(3) "
            "WHERE stream = %s AND position = %s",
            (batch.end, rows, quarantined, self.stream, batch.start),
        )
        if changed != 1:
            raise CheckpointMoved(f"{self.stream}: checkpoint is not at {batch.start}")

    def forget(self, session: Session) -> None:
        session.execute(f"DELETE FROM {CHECKPOINT_TABLE} WHERE stream = %s", (self.stream,))
        session.commit()


def _ranges(sizes: list[int], overhead: int, limit: int) -> list[tuple[int, int]]:
    """Split items with these byte sizes into consecutive runs of at most `limit` bytes."""
    out: list[tuple[int, int]] = []
    start, total = 0, overhead
    for index, size in enumerate(sizes):
        if index > start and total + size > limit:
            out.append((start, index))
            start, total = index, overhead
        total += size
    if start < len(sizes):
        out.append((start, len(sizes)))
    return out


def _split_block(block: bytes, limit: int) -> list[bytes]:
    """Cut a block of ``,\n``-terminated rows into pieces of about `limit` bytes."""
    pieces = []
    while len(block) > limit:
        cut = block.rfind(b",\n", 0, limit) + 2
        if cut <= 1:
            cut = block.find(b",\n") + 2
        pieces.append(block[:cut])
        block = block[cut:]
    if block:
        pieces.append(block)
    return pieces


class LogWriter:
    """One connection that writes batches into `table` (see module doc)."""

    def __init__(
        self, settings: DatabaseConfig, table: str, method: str = "auto", fallback: Path | None = None
    ) -> None:
        self.settings = settings
        self.table = table
        self.method = method
        # Where quarantined lines go when the quarantine table is missing or not writable, so
        # a misconfigured grant does not stall the stream (None: fail and retry instead).
        self.fallback = fallback
        self.session: Session | None = None
        self.columns: dict[str, ColumnSpec] = {}
        self.mode: Mode = "tsv"
        self._packet_size = 1 << 20
        self._notes: set[str] = set()
        # On a Galera node: the writeset limits a batch must stay under (sqlops.cluster.writeset).
        self.writeset: WritesetLimits | None = None

    # ------------------------------------------------------------------ connection

    def connect(self) -> Session:
        self.close()
        # Without autocommit a batch is LOAD DATA, UPDATE checkpoint, COMMIT: three round trips.
        session = connect_healthy(self.settings, autocommit=False)  # database.hosts: fail-over
        try:
            self.columns = inspect_columns(session, self.table)
            self.mode = self._choose_mode(session)
            server_limit = int(session.scalar("SELECT @@max_allowed_packet") or 0)
            self._packet_size = max(1024, min(1 << 20, server_limit - 4096))
            self.writeset = writeset_limits(session)
            session.commit()
        except BaseException:
            session.close()
            raise
        self.session = session
        return session

    def _choose_mode(self, session: Session) -> Mode:
        if self.method == "insert":
            return "sql"
        allowed = str(session.scalar("SELECT @@GLOBAL.local_infile")).upper() in ("1", "ON")
        if not allowed:
            if self.method == "load-data":
                raise PreconditionError(
                    "ingest.method = load-data but the server has local_infile=OFF",
                    fix="SET GLOBAL local_infile=1 on the server, or set ingest.method = auto",
                )
            # With method = auto this is the expected choice (MySQL ships local_infile=OFF), and
            # `ingest load` and the daemon's start line name the write method anyway: no warning.
            self._note(
                "the server refuses LOAD DATA LOCAL (local_infile=OFF); writing with multi-row INSERT",
                level=logging.DEBUG,
            )
            return "sql"
        if not localinfile.supported():
            self._note(
                "this PyMySQL has no hook for in-memory LOAD DATA; writing with multi-row INSERT",
                level=logging.DEBUG,
            )
            return "sql"
        return "tsv"

    def batch_lines(self, wanted: int) -> tuple[int, bool]:
        """Lines per batch: `wanted` (ingest.batch_rows), or fewer on a Galera node whose
        writeset limits one batch's transaction would exceed (said once in the log); and
        whether that number is a hard limit (then no batch may hold one line more)."""
        if self.writeset is None:
            return wanted, False
        lines, reason = self.writeset.batch_lines(wanted)
        if reason is None:
            return wanted, False
        self._note(
            f"batches of at most {lines} lines instead of {wanted}: one batch is one Galera "
            f"writeset and {reason}"
        )
        return lines, True

    def _note(self, message: str, level: int = logging.WARNING) -> None:
        if message not in self._notes:
            self._notes.add(message)
            log.log(level, "%s", message)

    def close(self) -> None:
        if self.session is not None:
            self.session.close()
            self.session = None

    def require(self) -> Session:
        if self.session is None:
            raise ConnectError("not connected")
        return self.session

    # ------------------------------------------------------------------ writing

    def write(
        self,
        batch: Batch,
        checkpoint: Checkpoint,
        *,
        quarantine: Callable[[Session, str, list[Quarantined]], None] | None = None,
    ) -> WriteResult:
        """Write one batch and advance the checkpoint, all in one transaction. `quarantine`
        replaces storing the lines that could not be stored (a replay keeps their rows)."""
        session = self.require()
        store_rejected = quarantine or self._quarantine_somewhere
        try:
            rejected: list[Quarantined] = []
            if batch.rows:
                rejected = self._store_rows(session, batch)
            failed = [*batch.quarantine, *rejected]
            if failed:
                store_rejected(session, batch.stream, failed)
            stored = batch.rows - len(rejected)
            checkpoint.advance(session, batch, stored, len(failed))
            session.commit()
        except BaseException:
            with contextlib.suppress(Exception):
                session.rollback()
            raise
        return WriteResult(stored, len(failed))

    def _store_rows(self, session: Session, batch: Batch) -> list[Quarantined]:
        """Store the rows the fast way; on any row-level trouble roll back (the rows are the
        first statements of the transaction) and send them again as INSERTs that isolate the
        rejected rows. Returns those rows as quarantine records."""
        columns = batch.columns
        if batch.mode == "tsv" and self.mode == "tsv":
            try:
                loaded, warnings = self._load_data(session, batch.blocks, columns)
            except pymysql.MySQLError as exc:
                code = errno_of(exc)
                if code in LOCAL_INFILE_REFUSED:
                    self.mode = "sql"
                    self._note(f"LOAD DATA LOCAL refused ({exc.args[-1]}); switching to multi-row INSERT")
                elif code not in ROW_ERRORS:
                    raise
                session.rollback()
            else:
                if warnings == 0 and loaded == batch.rows:
                    return []
                session.rollback()
                log.info(
                    "LOAD DATA of %d rows gave %d warning(s) (%d rows loaded); re-sending as INSERT "
                    "to find the rows the server rejects",
                    batch.rows,
                    warnings,
                    loaded,
                )
        elif batch.mode == "sql":
            try:
                self._insert_blocks(session, batch.blocks, columns)
                return []
            except pymysql.MySQLError as exc:
                if errno_of(exc) not in ROW_ERRORS:
                    raise
                session.rollback()
        rows = batch.row_list()
        if batch.mode == "tsv":
            rows = [self._tsv_to_sql(row, columns) for row in rows]
        sources = batch.sources()
        if len(sources) != len(rows):  # cannot happen; never guess which line a row came from
            raise AssertionError(f"batch has {len(rows)} rows but {len(sources)} source lines")
        head = self._insert_head(columns)
        rejected: list[Quarantined] = []
        for start, stop in _ranges([len(r) + 1 for r in rows], len(head), MAX_STATEMENT):
            rejected.extend(self._insert_range(session, head, rows, sources, start, stop))
        return rejected

    def _load_data(self, session: Session, blocks: list[bytes], columns: Sequence[str]) -> tuple[int, int]:
        column_list = ", ".join(quote_ident(c) for c in columns)
        sql = tag(
            JOB,
            f"LOAD DATA LOCAL INFILE %s INTO TABLE {quote_ident(self.table)} CHARACTER SET binary "
            f"FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' ({column_list})",
        )
        with rows_file(blocks, self._packet_size) as name, session.raw.cursor() as cur:
            loaded = cur.execute(sql, (name,))
            return int(loaded), int(cur.warning_count)

    def _insert_head(self, columns: Sequence[str]) -> bytes:
        names = ", ".join(quote_ident(c) for c in columns)
        return tag(JOB, f"INSERT INTO {quote_ident(self.table)} ({names}) VALUES ").encode()

    def _insert_blocks(self, session: Session, blocks: list[bytes], columns: Sequence[str]) -> None:
        """Multi-row INSERTs of whole blocks (each row ends in ``,\n``), up to MAX_STATEMENT."""
        head = self._insert_head(columns)
        pending: list[bytes] = []
        size = len(head)
        for block in blocks:
            pieces = (
                [block]
                if len(block) + len(head) <= MAX_STATEMENT
                else _split_block(block, MAX_STATEMENT // 2)
            )
            for piece in pieces:
                if pending and size + len(piece) > MAX_STATEMENT:
                    self._send_insert(session, head, pending)
                    pending, size = [], len(head)
                pending.append(piece)
                size += len(piece)
        if pending:
            self._send_insert(session, head, pending)

    @staticmethod
    def _send_insert(session: Session, head: bytes, pieces: list[bytes]) -> None:
        body = b"".join(pieces)
        with session.raw.cursor() as cur:
            # pymysql sends a bytes statement as it is (no encoding pass); the stubs say str.
            cur.execute(head + body[:-2])  # type: ignore[call-overload]  # drop the last ",\n"

    def _insert_range(
        self,
        session: Session,
        head: bytes,
        rows: list[bytes],
        sources: list[tuple[int, bytes]],
        start: int,
        stop: int,
    ) -> list[Quarantined]:
        try:
            with session.raw.cursor() as cur:
                cur.execute(head + b",".join(rows[start:stop]))  # type: ignore[call-overload]
            return []
        except pymysql.MySQLError as exc:
            if errno_of(exc) not in ROW_ERRORS:
                raise
            if stop - start == 1:
                position, raw = sources[start]
                reason = f"server rejected the row: ({errno_of(exc)}) {exc.args[-1]}"[:MAX_REASON]
                return [Quarantined(position, raw, reason)]
        middle = (start + stop) // 2
        return self._insert_range(session, head, rows, sources, start, middle) + self._insert_range(
            session, head, rows, sources, middle, stop
        )

    def _tsv_to_sql(self, row: bytes, columns: Sequence[str]) -> bytes:
        values = []
        for name, field in zip(columns, row.split(b"\t"), strict=True):
            value = tsv_unescape(field)
            if value is None:
                values.append(b"NULL")
            elif self.columns.get(name) is not None and self.columns[name].kind == "binary":
                values.append(sql_hex(value))
            else:
                values.append(sql_literal(value))
        return b"(" + b",".join(values) + b")"

    def _quarantine_somewhere(self, session: Session, stream: str, items: list[Quarantined]) -> None:
        try:
            self._quarantine(session, stream, items)
        except pymysql.MySQLError as exc:
            # A failed statement is rolled back alone: the batch's rows stay in the transaction.
            if errno_of(exc) not in QUARANTINE_UNAVAILABLE or self.fallback is None:
                raise
            self._note(
                f"cannot write {QUARANTINE_TABLE} ({exc.args[1]}); quarantined lines go to {self.fallback} "
                "until `sqlops schema init` creates it and the daemon's user may insert into it"
            )
            append_quarantine_file(self.fallback, stream, self.table, items)

    def _quarantine(self, session: Session, stream: str, items: list[Quarantined]) -> None:
        sql = tag(
            JOB,
            f"INSERT INTO {QUARANTINE_TABLE} (stream, position, target_table, reason, raw_line, created_at) "
            "VALUES (%s, %s, %s, %s, %s, UTC_TIMESTAMP(3))",
        )
        with session.raw.cursor() as cur:
            cur.executemany(sql, [(stream, q.position, self.table, q.reason, q.raw) for q in items])


def append_quarantine_file(path: Path, stream: str, table: str, items: list[Quarantined]) -> None:
    """Append quarantined lines as JSON lines and fsync before the batch commits. `raw` is the
    exact bytes in base64; `text` is for reading. A crash between this append and the commit
    appends the same lines again on replay: (stream, position) identifies them."""
    records = [
        json.dumps(
            {
                "stream": stream,
                "position": item.position,
                "table": table,
                "reason": item.reason,
                "raw": base64.b64encode(item.raw).decode("ascii"),
                "text": item.raw.decode("utf-8", "backslashreplace"),
                "at": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"),
            }
        )
        for item in items
    ]
    private_dir(path.parent)
    while True:
        with open_private(path, "a", encoding="utf-8") as out:
            # `sqlops ingest quarantine` rewrites the file under this lock and replaces it:
            # appending to the replaced inode would lose the lines, so check and re-open.
            fcntl.flock(out.fileno(), fcntl.LOCK_EX)
            try:
                current = os.stat(path).st_ino
            except FileNotFoundError:
                current = -1
            if current != os.fstat(out.fileno()).st_ino:
                continue
            out.write("".join(r + "\n" for r in records))
            out.flush()
            os.fsync(out.fileno())
            return


def rotate_quarantine_file(path: Path) -> Path | None:
    """On Squid's `R`: move a non-empty fallback quarantine file aside with a timestamp, as
    logrotate would expect of a log. Appends reopen the file by name, so none is lost."""
    try:
        if path.stat().st_size == 0:
            return None
    except FileNotFoundError:
        return None
    target = path.with_name(f"{path.name}.{dt.datetime.now(dt.UTC).strftime('%Y%m%dT%H%M%S.%fZ')}")
    path.rename(target)
    return target


def inspect_columns(session: Session, table: str) -> dict[str, ColumnSpec]:
    """The live table's writable columns (auto-increment and generated columns left out)."""
    rows = session.query(
        "SELECT COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, CHARACTER_MAXIMUM_LENGTH, NUMERIC_PRECISION, "
        "NUMERIC_SCALE, IS_NULLABLE, EXTRA FROM information_schema.COLUMNS "
        "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s ORDER BY ORDINAL_POSITION",
        (table,),
    )
    if not rows:
        raise TableMissing(
            f"table {session.database}.{table} does not exist (or this user may not see it)",
            fix="create it with `sqlops schema init` (it also creates the sqlops_ingest_* tables) "
            "and grant the daemon's user INSERT on it",
        )
    out: dict[str, ColumnSpec] = {}
    for name, data_type, column_type, length, precision, scale, nullable, extra in rows:
        extra = (extra or "").lower()
        if "auto_increment" in extra or "generated" in extra or "virtual" in extra or "stored" in extra:
            continue
        out[name] = ColumnSpec.from_information_schema(
            name,
            data_type,
            column_type,
            int(length) if length is not None else None,
            int(precision) if precision is not None else None,
            int(scale) if scale is not None else None,
            nullable == "YES",
        )
    return out
