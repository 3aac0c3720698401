"""Quarantined lines: list, show, replay and purge them (`sqlops ingest quarantine ...`).

Lines live in ``sqlops_ingest_quarantine`` and, when that table could not be written, in the
``quarantine.jsonl`` fallback files of the daemons' spool folders (and their rotated copies).

**Replay is exactly once.** A replay re-parses the exact bytes with the current format and
table and stores the rows through the daemon's writer, whose "checkpoint" here is the
``DELETE`` of the replayed quarantine rows in the same transaction: a commit stores the rows and
removes their quarantine rows together, a failure leaves both as they were, and a second
replay (or one running at the same time) finds nothing left to store. Lines that still fail
stay quarantined, in place, with the new reason.

File lines have no such transaction, so a replay first *adopts* them into the table: under an
exclusive lock on the file (the daemon takes it to append) it inserts every line not yet in
the table (by stream, position and table), commits, then rewrites the file without them.
A crash between the commit and the rewrite leaves lines that the next adoption finds in the
table already. Lines of a journal the daemon has not committed past yet are left in the file
(the daemon may still append them again).
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import fcntl
import json
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal

import pymysql

from sqlops.config import DatabaseConfig
from sqlops.db import Session, errno_of
from sqlops.errors import InputError, PreconditionError
from sqlops.private import open_private
from sqlops.squid.batcher import MAX_REASON, BatchBuilder, Quarantined
from sqlops.squid.logformat import compile_format, detect_format
from sqlops.squid.rows import RowEncoder
from sqlops.squid.writer import (
    CHECKPOINT_TABLE,
    QUARANTINE_FILE,
    QUARANTINE_TABLE,
    Checkpoint,
    CheckpointMoved,
    LogWriter,
)
from sqlops.timestamps import rfc3339

Source = Literal["all", "table", "file"]
_AGE = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class QuarantineTableMissing(PreconditionError):
    pass


def table_missing(database: str) -> QuarantineTableMissing:
    return QuarantineTableMissing(
        f"the quarantine table {database}.{QUARANTINE_TABLE} does not exist (or this account may not "
        "read it)",
        why="`sqlops schema init` creates it; until then the daemon writes quarantined lines to "
        f"{QUARANTINE_FILE} in its spool folder",
        fix="run `sqlops schema init` (it only creates what is missing) and grant the daemon's user "
        f"INSERT on {QUARANTINE_TABLE}",
    )


def parse_age(text: str) -> dt.timedelta:
    """`30m`, `12h`, `7d`, `2w` (or seconds as a plain number)."""
    value = text.strip().lower()
    match = _AGE.fullmatch(value)
    if match is None and value.replace(".", "", 1).isdigit():
        match = _AGE.fullmatch(value + "s")
    if match is None:
        raise InputError(f"cannot read the age {text!r}", fix="write a number and a unit: 30m, 12h, 7d or 2w")
    return dt.timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])


@dataclass(frozen=True)
class QuarantineFilter:
    """Which lines a command works on; every given condition must hold."""

    ids: tuple[int, ...] = ()
    reason: str | None = None  # a part of the reason, case-insensitive
    older_than: dt.timedelta | None = None
    source: Source = "all"

    def matches(self, line: QuarantinedLine, now: dt.datetime) -> bool:
        if self.ids and line.id not in self.ids:
            return False
        if self.reason and self.reason.lower() not in line.reason.lower():
            return False
        return self.older_than is None or line.created_at <= now - self.older_than


@dataclass(frozen=True)
class QuarantinedLine:
    source: Literal["table", "file"]
    id: int | None  # the table's id; None for a file line
    stream: str
    position: int
    table: str
    reason: str
    raw: bytes
    created_at: dt.datetime  # UTC
    file: str | None = None  # the fallback file and the line's number in it
    line: int | None = None

    @property
    def ref(self) -> str:
        """What `show` takes: the id, or FILE:LINE."""
        return str(self.id) if self.id is not None else f"{self.file}:{self.line}"

    def to_dict(self, *, with_raw: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "source": self.source,
            "ref": self.ref,
            "id": self.id,
            "file": self.file,
            "line": self.line,
            "stream": self.stream,
            "position": self.position,
            "table": self.table,
            "reason": self.reason,
            "created_at": rfc3339(self.created_at),
            "text": self.raw.decode("utf-8", "backslashreplace"),
        }
        if with_raw:
            out["raw_base64"] = base64.b64encode(self.raw).decode("ascii")
        return out


# --------------------------------------------------------------------------------------------
# Reading


_COLUMNS = "id, stream, position, target_table, reason, raw_line, created_at"


def _from_row(row: tuple[Any, ...]) -> QuarantinedLine:
    qid, stream, position, table, reason, raw, created = row
    return QuarantinedLine(
        "table", int(qid), stream, int(position), table, reason, bytes(raw), created.replace(tzinfo=dt.UTC)
    )


def _where(table: str, filt: QuarantineFilter) -> tuple[str, list[Any]]:
    clauses: list[str] = ["target_table = %s"]
    params: list[Any] = [table]
    if filt.ids:
        clauses.append(f"id IN ({', '.join(['%s'] * len(filt.ids))})")
        params.extend(filt.ids)
    if filt.reason:
        clauses.append("LOCATE(LOWER(%s), LOWER(reason)) > 0")
        params.append(filt.reason)
    if filt.older_than is not None:
        clauses.append("created_at <= UTC_TIMESTAMP(3) - INTERVAL %s SECOND")
        params.append(filt.older_than.total_seconds())
    return " AND ".join(clauses), params


def _missing_table(exc: pymysql.MySQLError) -> bool:
    return errno_of(exc) in (1146, 1142)


def read_table(
    session: Session, table: str, filt: QuarantineFilter, limit: int | None = None
) -> list[QuarantinedLine]:
    where, params = _where(table, filt)
    sql = f"SELECT {_COLUMNS} FROM {QUARANTINE_TABLE} WHERE {where} ORDER BY id"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    try:
        return [_from_row(r) for r in session.query(sql, params)]
    except pymysql.MySQLError as exc:
        if _missing_table(exc):
            raise table_missing(session.database) from None
        raise


def quarantine_files(spool_roots: list[Path]) -> list[Path]:
    """Fallback files (current and rotated) in the target folders under the spool roots."""
    found: list[Path] = []
    for root in spool_roots:
        found.extend(
            p
            for p in sorted(root.glob(f"*/{QUARANTINE_FILE}*"))
            if p.is_file() and not p.name.endswith(".tmp")
        )
    return list(dict.fromkeys(found))


def _file_lines(path: Path) -> Iterator[tuple[int, str, QuarantinedLine | None]]:
    """(line number, text, parsed record or None when the line is not a record)."""
    with path.open(encoding="utf-8", errors="replace") as handle:
        for number, text in enumerate(handle, start=1):
            try:
                record = json.loads(text)
                line = QuarantinedLine(
                    "file",
                    None,
                    str(record["stream"]),
                    int(record["position"]),
                    str(record["table"]),
                    str(record["reason"]),
                    base64.b64decode(record["raw"]),
                    dt.datetime.fromisoformat(record["at"]).astimezone(dt.UTC),
                    file=str(path),
                    line=number,
                )
            except (ValueError, KeyError, TypeError):
                yield number, text, None
                continue
            yield number, text, line


def read_files(spool_roots: list[Path], table: str, filt: QuarantineFilter) -> list[QuarantinedLine]:
    now = dt.datetime.now(dt.UTC)
    out: list[QuarantinedLine] = []
    for path in quarantine_files(spool_roots):
        with contextlib.suppress(OSError):
            out.extend(
                line
                for _, _, line in _file_lines(path)
                if line is not None and line.table == table and filt.matches(line, now)
            )
    return out


@dataclass
class Listing:
    lines: list[QuarantinedLine] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"lines": [line.to_dict(with_raw=False) for line in self.lines], "notes": self.notes}


def list_quarantine(
    session: Session | None,
    spool_roots: list[Path],
    table: str,
    filt: QuarantineFilter,
    limit: int | None = None,
) -> Listing:
    """Lines from the table (when `session` is given and the table exists) and the files."""
    listing = Listing()
    if filt.source in ("all", "table") and session is not None:
        try:
            listing.lines += read_table(session, table, filt, limit)
        except QuarantineTableMissing as exc:
            if filt.source == "table":
                raise
            listing.notes.append(exc.one_line())
    if filt.source in ("all", "file") and not (filt.ids and filt.source == "all"):
        listing.lines += read_files(spool_roots, table, QuarantineFilter((), filt.reason, filt.older_than))
    if limit is not None:
        listing.lines = listing.lines[:limit]
    return listing


def show(session: Session | None, spool_roots: list[Path], table: str, ref: str) -> QuarantinedLine:
    """One line by its id, or by FILE:LINE for a line in a fallback file."""
    if ref.isdigit():
        if session is None:
            raise InputError(f"line {ref} is in the quarantine table, which needs a database connection")
        found = read_table(session, table, QuarantineFilter(ids=(int(ref),)))
    else:
        path, _, number = ref.rpartition(":")
        try:
            found = [
                line
                for n, _, line in _file_lines(Path(path))
                if line is not None and str(n) == number and line.table == table
            ]
        except OSError as exc:
            raise InputError(f"cannot read {path}", why=exc.strerror) from None
    if not found:
        raise InputError(
            f"no quarantined line {ref} for table {table}",
            fix="`sqlops ingest quarantine list` shows the ids (and FILE:LINE for fallback files)",
        )
    return found[0]


# --------------------------------------------------------------------------------------------
# Changing files safely while the daemon may append


@contextlib.contextmanager
def locked_file(path: Path) -> Iterator[IO[str]]:
    """The file opened for appending and locked exclusively. The daemon's appender takes the
    same lock and re-opens the file when it was replaced meanwhile (see writer)."""
    while True:
        handle = open_private(path, "a", encoding="utf-8")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            if os.path.exists(path) and os.stat(path).st_ino == os.fstat(handle.fileno()).st_ino:
                yield handle
                return
        finally:
            handle.close()


def _rewrite_without(path: Path, drop: Callable[[int, QuarantinedLine | None], bool]) -> int:
    """Rewrite `path` (already locked by the caller) keeping lines for which `drop` is false;
    returns how many were dropped. The new file replaces the old one atomically."""
    kept: list[str] = []
    dropped = 0
    for number, text, line in _file_lines(path):
        if drop(number, line):
            dropped += 1
        else:
            kept.append(text)
    if dropped:
        tmp = path.with_name(path.name + ".tmp")
        with open_private(tmp, "w", encoding="utf-8") as out:
            out.write("".join(kept))
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    return dropped


def _committed_past(session: Session, stream: str, position: int) -> bool:
    """False while the daemon's checkpoint of `stream` has not passed `position` (the batch
    holding the line may still be replayed and append it again)."""
    rows = session.query(f"SELECT position FROM {CHECKPOINT_TABLE} WHERE stream = %s", (stream,))
    return not rows or int(rows[0][0]) > position


@dataclass
class Adoption:
    moved: int = 0  # lines inserted into the table
    keys: set[tuple[str, int]] = field(default_factory=set)  # (stream, position) taken from files


def adopt_files(session: Session, spool_roots: list[Path], table: str) -> Adoption:
    """Move the fallback files' lines for `table` into the quarantine table (see module doc).
    `session` must not autocommit."""
    done = Adoption()
    for path in quarantine_files(spool_roots):
        with locked_file(path):
            lines = [line for _, _, line in _file_lines(path) if line is not None and line.table == table]
            adopted: set[tuple[str, int]] = set()
            try:
                for line in lines:
                    key = (line.stream, line.position)
                    if key in adopted or not _committed_past(session, *key):
                        continue
                    adopted.add(key)
                    present = session.scalar(
                        f"SELECT COUNT(*) FROM {QUARANTINE_TABLE} WHERE stream = %s AND position = %s "
                        "AND target_table = %s",
                        (line.stream, line.position, table),
                    )
                    if not present:
                        session.execute(
                            f"INSERT INTO {QUARANTINE_TABLE} (stream, position, target_table, reason, "
                            "raw_line, created_at) VALUES (%s, %s, %s, %s, %s, %s)",
                            (
                                line.stream,
                                line.position,
                                table,
                                line.reason[:MAX_REASON],
                                line.raw,
                                line.created_at.replace(tzinfo=None),
                            ),
                        )
                        done.moved += 1
                session.commit()
            except pymysql.MySQLError as exc:
                session.rollback()
                if _missing_table(exc):
                    raise table_missing(session.database) from None
                raise
            _rewrite_without(path, _adopted_by(table, adopted))
            done.keys |= adopted
    return done


def _adopted_by(table: str, adopted: set[tuple[str, int]]) -> Callable[[int, QuarantinedLine | None], bool]:
    def drop(_number: int, line: QuarantinedLine | None) -> bool:
        return line is not None and line.table == table and (line.stream, line.position) in adopted

    return drop


# --------------------------------------------------------------------------------------------
# Replay


class _ReplayCheckpoint(Checkpoint):
    """The replay's "checkpoint": remove the quarantine rows of the lines stored, in the batch
    transaction; lines that fail again keep their row with the new reason."""

    def __init__(self, ids_by_position: dict[int, int]) -> None:
        self.ids_by_position = ids_by_position
        self.failed: dict[int, str] = {}

    def requarantine(self, session: Session, stream: str, items: list[Quarantined]) -> None:
        for item in items:
            qid = self.ids_by_position[item.position]
            self.failed[qid] = item.reason
            session.execute(f"UPDATE {QUARANTINE_TABLE} SET reason = %s WHERE id = %s", (item.reason, qid))

    def advance(self, session: Session, batch: Any, rows: int, quarantined: int) -> None:
        done = [qid for qid in self.ids_by_position.values() if qid not in self.failed]
        if not done:
            return
        deleted = session.execute(
            f"DELETE FROM {QUARANTINE_TABLE} WHERE id IN ({', '.join(['%s'] * len(done))})", done
        )
        if deleted != len(done):
            raise CheckpointMoved(f"{len(done) - deleted} of the lines were replayed or purged meanwhile")


@dataclass
class ReplayResult:
    adopted: int = 0  # lines moved from fallback files into the table first
    selected: int = 0
    stored: int = 0
    still_quarantined: int = 0
    reasons: dict[str, int] = field(default_factory=dict)  # new reasons of lines still failing

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def replay(
    settings: DatabaseConfig,
    table: str,
    format_spec: str,
    spool_roots: list[Path],
    filt: QuarantineFilter,
    *,
    method: str = "auto",
    group_rows: int = 5000,
    on_group: Callable[[int], None] | None = None,
) -> ReplayResult:
    """Store quarantined lines again (see module doc). `on_group(stored)` runs after each
    committed group (progress; tests use it to fail part-way)."""
    result = ReplayResult()
    writer = LogWriter(settings, table, method)
    session = writer.connect()
    try:
        adoption = Adoption()
        if filt.source in ("all", "file"):
            adoption = adopt_files(session, spool_roots, table)
            result.adopted = adoption.moved
        lines = read_table(session, table, QuarantineFilter(filt.ids, filt.reason, filt.older_than))
        session.commit()
        if filt.source == "file":  # only the lines that came from the files
            lines = [line for line in lines if (line.stream, line.position) in adoption.keys]
        result.selected = len(lines)
        by_stream: dict[str, list[QuarantinedLine]] = {}
        for line in lines:
            by_stream.setdefault(line.stream, []).append(line)
        for stream, group in by_stream.items():
            for start in range(0, len(group), group_rows):
                part = group[start : start + group_rows]
                stored = _replay_group(writer, stream, part, format_spec, settings.time_zone, result)
                if on_group is not None:
                    on_group(stored)
    finally:
        writer.close()
    return result


def _replay_group(
    writer: LogWriter,
    stream: str,
    lines: list[QuarantinedLine],
    format_spec: str,
    zone: str,
    result: ReplayResult,
) -> int:
    spec = format_spec
    if spec == "auto":
        spec = detect_format([line.raw for line in lines[:200]]) or "squid"
    encoder = RowEncoder(compile_format(spec), writer.columns, zone, writer.mode)
    builder = BatchBuilder(stream, 0, encoder, max_rows=len(lines) + 1)
    # Positions identify lines within a stream; a line quarantined twice (a daemon replay
    # after a crash) is replayed once and the other row removed with it.
    ids: dict[int, int] = {}
    duplicates: list[int] = []
    for line in lines:
        if line.position in ids:
            duplicates.append(line.id or 0)
            continue
        ids[line.position] = line.id or 0
        builder.add_line(line.position, line.raw)
    batch = builder.take()
    checkpoint = _ReplayCheckpoint(ids)
    session = writer.require()
    try:
        written = writer.write(batch, checkpoint, quarantine=checkpoint.requarantine)
        if duplicates:
            session.execute(
                f"DELETE FROM {QUARANTINE_TABLE} WHERE id IN ({', '.join(['%s'] * len(duplicates))})",
                duplicates,
            )
            session.commit()
    except CheckpointMoved as exc:
        raise PreconditionError(
            f"replay of {stream}: {exc}; nothing of this group was stored",
            fix="another replay or purge ran at the same time; run the replay again",
        ) from None
    result.stored += written.rows
    result.still_quarantined += len(checkpoint.failed)
    for reason in checkpoint.failed.values():
        result.reasons[reason] = result.reasons.get(reason, 0) + 1
    return written.rows


# --------------------------------------------------------------------------------------------
# Purge


@dataclass
class PurgeResult:
    dry_run: bool
    lines: list[QuarantinedLine] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "purged": len(self.lines),
            "from_table": sum(line.source == "table" for line in self.lines),
            "from_files": sum(line.source == "file" for line in self.lines),
            "lines": [line.to_dict(with_raw=False) for line in self.lines],
            "notes": self.notes,
        }


def purge(
    session: Session | None,
    spool_roots: list[Path],
    table: str,
    filt: QuarantineFilter,
    *,
    dry_run: bool,
) -> PurgeResult:
    """Delete the matching lines from the table and the fallback files (or, with `dry_run`,
    only say which)."""
    result = PurgeResult(dry_run)
    if filt.source in ("all", "table") and session is not None:
        try:
            lines = read_table(session, table, filt)
        except QuarantineTableMissing as exc:
            if filt.source == "table":
                raise
            result.notes.append(exc.one_line())
            lines = []
        if lines and not dry_run:
            ids = [line.id for line in lines]
            session.execute(
                f"DELETE FROM {QUARANTINE_TABLE} WHERE id IN ({', '.join(['%s'] * len(ids))})", ids
            )
            session.commit()
        result.lines += lines
    if filt.source in ("all", "file") and not (filt.ids and filt.source == "all"):
        now = dt.datetime.now(dt.UTC)
        file_filter = QuarantineFilter((), filt.reason, filt.older_than)
        for path in quarantine_files(spool_roots):

            def drop(_n: int, line: QuarantinedLine | None) -> bool:
                return line is not None and line.table == table and file_filter.matches(line, now)

            if dry_run:
                result.lines += [
                    line for _, _, line in _file_lines(path) if line is not None and drop(0, line)
                ]
                continue
            with locked_file(path):
                result.lines += [
                    line for _, _, line in _file_lines(path) if line is not None and drop(0, line)
                ]
                _rewrite_without(path, drop)
    return result
