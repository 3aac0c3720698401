"""`sqlops ingest load`: old access.log files (plain, gzip, stdin) into the log table.

Same parser, encoder, quarantine and writer as the daemon. Progress is a row per file in
``sqlops_ingest_load``, moved in the same transaction as each batch, so a load that is
interrupted resumes where it stopped and loading the same file again adds nothing.

A file is recognised by the SHA-256 of its first bytes (up to 64 KiB, after decompression):
``access.log.1`` and ``access.log.1.gz`` are the same file, and a file that grew since the
last run (today's access.log) continues at the stored offset.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import logging
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from sqlops.compressed import GZIP_ERRORS, GZIP_MAGIC, damaged, transparent_stdin
from sqlops.config import DatabaseConfig
from sqlops.db import Session, connect, lock_name, named_lock
from sqlops.errors import InputError, SqlopsError
from sqlops.squid.batcher import FAST_SWITCH, Batch, Prefetcher, stream_batches
from sqlops.squid.logformat import compile_format, detect_format
from sqlops.squid.rows import RowEncoder
from sqlops.squid.writer import LOAD_TABLE, Checkpoint, CheckpointMoved, LogWriter

log = logging.getLogger("sqlops.squid.backfill")

HEAD_BYTES = 64 * 1024
READ_SIZE = 1 << 20


@dataclass
class FileResult:
    path: str
    load_id: int
    status: str  # loaded, resumed, already loaded, empty
    started_at_byte: int
    bytes_read: int
    lines: int
    rows: int
    quarantined: int
    seconds: float
    format: str

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, object]:
        """The `ingest load --format json` record of this file (README, JSON output)."""
        return {
            "file": self.path,
            "load_id": self.load_id,
            "status": self.status,
            "format": self.format,
            "started_at_byte": self.started_at_byte,
            "bytes_read": self.bytes_read,
            "lines": self.lines,
            "rows": self.rows,
            "quarantined": self.quarantined,
            "seconds": round(self.seconds, 3),
            "rows_per_second": round(self.rows_per_second, 1),
        }


class LoadCheckpoint(Checkpoint):
    def __init__(self, load_id: int, path: str) -> None:
        self.load_id = load_id
        self.path = path[-1024:]

    def advance(self, session: Session, batch: Batch, rows: int, quarantined: int) -> None:
        changed = session.execute(
            f"UPDATE {LOAD_TABLE} SET position = %s, rows_written = rows_written + %s, "
            "lines_quarantined = lines_quarantined + %s, path = %s, updated_at = UTC_TIMESTAMP(3) "
            "WHERE id = %s AND position = %s",
            (batch.end, rows, quarantined, self.path, self.load_id, batch.start),
        )
        if changed != 1:
            raise CheckpointMoved(f"load {self.load_id}: progress is no longer at byte {batch.start}")


class _Counting(io.RawIOBase):
    """Counts the bytes read from the underlying file (for the progress bar of .gz files)."""

    def __init__(self, raw: BinaryIO, on_read: Callable[[int], None] | None) -> None:
        self.raw = raw
        self.on_read = on_read

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self.raw.read(len(buffer))
        buffer[: len(data)] = data
        if self.on_read is not None and data:
            self.on_read(len(data))
        return len(data)


@contextlib.contextmanager
def open_log(path: str, on_read: Callable[[int], None] | None = None) -> Iterator[BinaryIO]:
    """A binary stream of the log's (decompressed) bytes; gzip is recognised by its magic."""
    if path == "-":
        yield transparent_stdin(sys.stdin.buffer)
        return
    try:
        raw = open(path, "rb")  # noqa: SIM115 (closed below)
    except OSError as exc:
        raise InputError(
            f"cannot open {path}", why=exc.strerror, fix="check the path and its permissions"
        ) from None
    try:
        magic = raw.read(2)
        raw.seek(0)
        counted = io.BufferedReader(_Counting(raw, on_read), buffer_size=READ_SIZE)
        if magic == GZIP_MAGIC:
            with gzip.GzipFile(fileobj=counted) as stream:
                yield stream  # type: ignore[misc]
        else:
            yield counted
    finally:
        raw.close()


def _read_exactly(stream: BinaryIO, size: int) -> bytes:
    parts, left = [], size
    while left > 0:
        data = stream.read(left)
        if not data:
            break
        parts.append(data)
        left -= len(data)
    return b"".join(parts)


class _Prefixed(io.RawIOBase):
    """`head` followed by the rest of `stream` (so the head read for identification is not lost)."""

    def __init__(self, head: bytes, stream: BinaryIO) -> None:
        self.head = head
        self.stream = stream

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        if self.head:
            cut = len(self.head) if size is None or size < 0 else size
            out, self.head = self.head[:cut], self.head[cut:]
            return out
        return self.stream.read(-1 if size is None else size)


class Loader:
    """Loads files into one table over one connection."""

    def __init__(
        self,
        settings: DatabaseConfig,
        table: str,
        format_spec: str,
        *,
        method: str = "auto",
        batch_rows: int = 10000,
        max_quarantine_ratio: float = 0.05,
        force: bool = False,
    ) -> None:
        self.max_quarantine_ratio = max_quarantine_ratio
        self.force = force
        self.settings = settings
        self.table = table
        self.format_spec = format_spec
        self.batch_rows = batch_rows
        self.writer = LogWriter(settings, table, method)

    def __enter__(self) -> Loader:
        self.writer.connect()
        self.meta = connect(self.settings)  # bookkeeping outside the batch transactions
        self._switch = sys.getswitchinterval()
        sys.setswitchinterval(FAST_SWITCH)
        return self

    def __exit__(self, *exc: object) -> None:
        sys.setswitchinterval(self._switch)
        self.meta.close()
        self.writer.close()

    @property
    def mode_description(self) -> str:
        return "LOAD DATA LOCAL INFILE" if self.writer.mode == "tsv" else "multi-row INSERT"

    def load(
        self,
        path: str,
        *,
        progress: Callable[[int], None] | None = None,
        notes: Callable[[str], None] | None = None,
    ) -> FileResult:
        try:
            return self._load(path, progress=progress, notes=notes)
        except GZIP_ERRORS as exc:
            raise damaged(path, exc, "load") from None

    def _load(
        self,
        path: str,
        *,
        progress: Callable[[int], None] | None = None,
        notes: Callable[[str], None] | None = None,
    ) -> FileResult:
        session = self.meta
        started = time.monotonic()
        with open_log(path, progress) as stream:
            head = _read_exactly(stream, HEAD_BYTES)
            spec = self.format_spec
            if spec == "auto":
                spec = detect_format(head.split(b"\n")[:200]) or "squid"
            fmt = compile_format(spec)
            if not head:
                return FileResult(path, 0, "empty", 0, 0, 0, 0, 0, 0.0, fmt.name)
            check_head(path, fmt.name, fmt.matches, head)
            load_id, position = self._identify(session, path, head)
            if self.force:
                session.execute(
                    f"UPDATE {LOAD_TABLE} SET position = 0, rows_written = 0, lines_quarantined = 0, "
                    "complete = 0, updated_at = UTC_TIMESTAMP(3) WHERE id = %s",
                    (load_id,),
                )
            with named_lock(session, lock_name(f"ingest-load-{load_id}", self.settings.database, self.table)):
                position = int(session.scalar(f"SELECT position FROM {LOAD_TABLE} WHERE id = %s", (load_id,)))
                rest: BinaryIO = _Prefixed(head, stream)  # type: ignore[assignment]
                skipped = _skip(rest, position)
                if skipped < position and notes is not None:
                    notes(
                        f"{path} is a shorter copy ({skipped} bytes) of a file loaded up to byte {position}"
                    )
                encoder_notes: list[str] = []

                def make_encoder(sample: list[bytes]) -> RowEncoder:
                    encoder = RowEncoder(fmt, self.writer.columns, self.settings.time_zone, self.writer.mode)
                    encoder_notes.extend(encoder.describe_gaps())
                    return encoder

                stats = {"rows": 0, "quarantined": 0, "lines": 0, "end": position}
                unterminated: list[int] = []
                if skipped == position:
                    self._write_all(rest, load_id, path, position, make_encoder, stats, unterminated)
                if unterminated and unterminated[0] and notes is not None:
                    notes(
                        f"{path}: the last line ({unterminated[0]} bytes) has no newline yet; "
                        "it is loaded by the next run once complete"
                    )
                for note in encoder_notes:
                    if notes is not None:
                        notes(note)
                too_many = stats["lines"] > 0 and (
                    stats["quarantined"] / stats["lines"] > self.max_quarantine_ratio
                )
                session.execute(
                    f"UPDATE {LOAD_TABLE} SET complete = %s, updated_at = UTC_TIMESTAMP(3) WHERE id = %s",
                    (int(not (unterminated and unterminated[0]) and not too_many), load_id),
                )
                if too_many:
                    raise SqlopsError(
                        f"{path}: {stats['quarantined']} of {stats['lines']} line(s) quarantined "
                        f"(more than {self.max_quarantine_ratio:.0%}); {stats['rows']} row(s) stored; "
                        "the file is not marked complete",
                        why="the format (--log-format) or the table does not fit this file",
                        fix="check the reasons with `sqlops ingest quarantine list`; after fixing, "
                        "store them with `sqlops ingest quarantine replay`, or load the file again "
                        "with --force (or `sqlops ingest load --forget FILE`), or raise "
                        "--max-quarantine-ratio / ingest.max_quarantine_ratio",
                    )
        status = "loaded" if position == 0 else ("resumed" if stats["lines"] else "already loaded")
        return FileResult(
            path,
            load_id,
            status,
            position,
            stats["end"] - position,
            stats["lines"],
            stats["rows"],
            stats["quarantined"],
            time.monotonic() - started,
            fmt.name,
        )

    def _write_all(
        self,
        stream: BinaryIO,
        load_id: int,
        path: str,
        position: int,
        make_encoder: Callable[[list[bytes]], RowEncoder],
        stats: dict[str, int],
        unterminated: list[int],
    ) -> None:
        checkpoint = LoadCheckpoint(load_id, os.path.abspath(path) if path != "-" else "(stdin)")
        max_rows, exact = self.writer.batch_lines(self.batch_rows)
        prefetch: Prefetcher[Batch] = Prefetcher(
            lambda stopping: stream_batches(
                stream,
                f"load:{load_id}",
                position,
                make_encoder,
                max_rows=max_rows,
                unterminated=unterminated,
                exact=exact,
            ),
            name=f"load-{load_id}",
        )
        try:
            for batch in prefetch:
                try:
                    result = self.writer.write(batch, checkpoint)
                except CheckpointMoved as exc:
                    raise SqlopsError(
                        f"{path}: another load of the same file moved its progress ({exc})",
                        fix="let the other `sqlops ingest load` finish, then run this one again",
                    ) from None
                stats["rows"] += result.rows
                stats["quarantined"] += result.quarantined
                stats["lines"] += batch.lines
                stats["end"] = batch.end
        finally:
            prefetch.close()

    def forget(self, path: str) -> int:
        """Remove the load record of this file (its first bytes); how many were removed."""
        with open_log(path) as stream:
            head = _read_exactly(stream, HEAD_BYTES)
        if not head:
            return 0
        load_id, _ = self._identify(self.meta, path, head, create=False)
        return int(self.meta.execute(f"DELETE FROM {LOAD_TABLE} WHERE id = %s", (load_id,)))

    def _identify(self, session: Session, path: str, head: bytes, *, create: bool = True) -> tuple[int, int]:
        """The load row of this file (matching its first bytes), created if new."""
        candidates = session.query(
            f"SELECT id, head_len, head_sha256, position FROM {LOAD_TABLE} WHERE target_table = %s "
            "ORDER BY head_len DESC",
            (self.table,),
        )
        digests: dict[int, str] = {}
        for load_id, head_len, digest, position in candidates:
            head_len = int(head_len)
            if head_len > len(head):
                continue
            if head_len not in digests:
                digests[head_len] = hashlib.sha256(head[:head_len]).hexdigest()
            if digests[head_len] == digest:
                return int(load_id), int(position)
        if not create:
            return 0, 0
        digest = hashlib.sha256(head).hexdigest()
        name = os.path.abspath(path) if path != "-" else "(stdin)"
        try:
            session.execute(
                f"INSERT INTO {LOAD_TABLE} (target_table, head_len, head_sha256, path, position, started_at, "
                "updated_at) VALUES (%s, %s, %s, %s, 0, UTC_TIMESTAMP(3), UTC_TIMESTAMP(3))",
                (self.table, len(head), digest, name[-1024:]),
            )
        except Exception:
            rows = session.query(
                f"SELECT id, position FROM {LOAD_TABLE} WHERE target_table = %s AND head_len = %s "
                "AND head_sha256 = %s",
                (self.table, len(head), digest),
            )
            if not rows:
                raise
            return int(rows[0][0]), int(rows[0][1])
        return int(session.scalar("SELECT LAST_INSERT_ID()")), 0


SNIFF_LINES = 50
_OTHER_FORMATS = ("squid", "squid_mysql", "common", "combined")


def looks_like(lines: list[bytes]) -> str:
    """A short description of what these first lines of a file look like."""
    text = b"\n".join(lines[:20])
    if text.startswith(GZIP_MAGIC):
        return "gzip data"
    if b"# Query_time:" in text or b"# User@Host:" in text or b"# Time:" in text:
        return "a MySQL slow query log"
    if b"\tQuery\t" in text or b" Connect\t" in text or b"started with:" in text:
        return "a MySQL general query log"
    found = detect_format(lines, _OTHER_FORMATS)
    if found:
        return f"the {found} format"
    printable = sum(32 <= b < 127 or b in (9, 10, 13) for b in text[:4096])
    if text and printable < 0.9 * len(text[:4096]):
        return "binary data, not text"
    return "no known access.log format"


def check_head(path: str, fmt_name: str, matches: Callable[[bytes], bool], head: bytes) -> None:
    """Stop before writing anything when the first lines are clearly not in the chosen format."""
    lines = [line for line in head.split(b"\n")[:SNIFF_LINES] if line.strip()]
    if head.endswith(b"\n") is False and len(head) >= HEAD_BYTES:
        lines = lines[:-1]  # the head may cut the last line
    if not lines or any(matches(line) for line in lines):
        return
    seen = looks_like(lines)
    raise InputError(
        f"{path}: none of the first {len(lines)} line(s) is in the {fmt_name} format; it looks like {seen}",
        why="loading it would quarantine every line and store nothing",
        fix="pass the right --log-format (squid, squid_mysql, common, combined or a logformat spec), "
        "or the right file",
    )


def _skip(stream: BinaryIO, count: int) -> int:
    """Read and drop `count` bytes; returns how many there were."""
    left = count
    while left > 0:
        data = stream.read(min(left, READ_SIZE))
        if not data:
            break
        left -= len(data)
    return count - left
