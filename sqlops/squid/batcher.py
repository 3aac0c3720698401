"""Lines → batches: parse, encode, quarantine, and cut by size and age.

A :class:`Batch` covers a byte range ``[start, end)`` of its source (a journal or a log file)
and holds the encoded rows plus the quarantined lines of that range. The writer commits the
rows, the quarantine records and ``end`` as the new checkpoint in one transaction, so every
byte of the source is accounted for exactly once.

Batches are produced on a helper thread (:class:`Prefetcher`) so that parsing the next batch
overlaps with the server working on the current one.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO, Generic, TypeVar

from sqlops.squid.logformat import LineError
from sqlops.squid.protocol import KNOWN_COMMANDS, LOG
from sqlops.squid.rows import Mode, RowEncoder
from sqlops.squid.spool import Journal

MAX_REASON = 1000
QUARANTINE_RAW_MAX = 1 << 20  # keep at most 1 MiB of one garbage message


@dataclass(frozen=True)
class Quarantined:
    position: int  # byte offset of the line in its source
    raw: bytes
    reason: str


@dataclass
class Batch:
    stream: str
    start: int
    end: int = 0
    mode: Mode = "tsv"
    columns: tuple[str, ...] = ()  # table columns of each encoded row
    rows: list[bytes] = field(default_factory=list)
    raw: list[bytes] = field(default_factory=list)  # source line of each row
    positions: list[int] = field(default_factory=list)  # and its offset
    quarantine: list[Quarantined] = field(default_factory=list)
    lines: int = 0  # log lines in the range (rows + quarantined)
    born: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self.end = max(self.end, self.start)

    @property
    def size(self) -> int:
        return len(self.rows) + len(self.quarantine)


class BatchBuilder:
    """Accumulates lines into the current batch; `take()` hands it over and starts the next."""

    def __init__(self, stream: str, start: int, encoder: RowEncoder, max_rows: int) -> None:
        self.stream = stream
        self.encoder = encoder
        self.max_rows = max(1, max_rows)
        self.batch = self._new(start)
        self._parse = encoder.format.parse
        self._encode = encoder.encode

    def add_line(self, position: int, line: bytes) -> None:
        batch = self.batch
        batch.lines += 1
        try:
            row = self._encode(self._parse(line))
        except LineError as exc:
            batch.quarantine.append(Quarantined(position, line[:QUARANTINE_RAW_MAX], str(exc)[:MAX_REASON]))
            return
        except Exception as exc:  # a parser bug must not lose the line or stop the daemon
            reason = f"internal error while parsing: {type(exc).__name__}: {exc}"[:MAX_REASON]
            batch.quarantine.append(Quarantined(position, line[:QUARANTINE_RAW_MAX], reason))
            return
        batch.rows.append(row)
        batch.raw.append(line)
        batch.positions.append(position)

    def add_garbage(self, position: int, raw: bytes, reason: str) -> None:
        self.batch.lines += 1
        self.batch.quarantine.append(Quarantined(position, raw[:QUARANTINE_RAW_MAX], reason[:MAX_REASON]))

    def advance(self, end: int) -> None:
        self.batch.end = max(self.batch.end, end)

    @property
    def full(self) -> bool:
        return self.batch.size >= self.max_rows

    @property
    def pending(self) -> bool:
        return self.batch.end > self.batch.start

    def take(self) -> Batch:
        done = self.batch
        self.batch = self._new(done.end)
        return done

    def _new(self, start: int) -> Batch:
        return Batch(self.stream, start, mode=self.encoder.mode, columns=self.encoder.columns)


EncoderFactory = Callable[[list[bytes]], RowEncoder]
CHUNK = 4 << 20
MAX_MESSAGE = 64 << 20


def journal_batches(
    journal: Journal,
    start: int,
    make_encoder: EncoderFactory,
    *,
    max_rows: int,
    max_seconds: float,
    stopping: threading.Event,
) -> Iterator[Batch]:
    """Batches from `journal` starting at the committed offset `start`. For a live journal
    this waits for new data; it ends once the journal is closed and fully consumed."""
    builder: BatchBuilder | None = None
    pos = start
    chunk = CHUNK
    while not stopping.is_set():
        data = journal.read(pos, chunk)
        complete = data.rfind(b"\n") + 1
        if complete == 0 and data:
            at_end = pos + len(data) >= journal.end
            if not at_end and len(data) == chunk and chunk < MAX_MESSAGE:
                chunk *= 2  # one message longer than a chunk: read more of it
                continue
            if journal.closed and at_end or len(data) >= MAX_MESSAGE:
                # a message cut short by a dying daemon, or an absurdly long one
                if builder is None:
                    builder = BatchBuilder(journal.id, start, make_encoder([]), max_rows)
                reason = "incomplete message: the stream ended in the middle of it"
                if len(data) >= MAX_MESSAGE:
                    reason = f"message longer than {MAX_MESSAGE} bytes"
                builder.add_garbage(pos, data, reason)
                pos += len(data)
                builder.advance(pos)
                continue
        if complete:
            body = data[:complete]
            if builder is None:
                builder = BatchBuilder(journal.id, start, make_encoder(_sample(body)), max_rows)
            offset = pos
            for raw in body[:-1].split(b"\n"):
                command = raw[0] if raw else -1
                if command == LOG:
                    builder.add_line(offset, raw[1:])
                elif command not in KNOWN_COMMANDS:
                    builder.add_garbage(offset, raw, "not a logfile-daemon message (unknown command byte)")
                offset += len(raw) + 1
                if builder.full:
                    builder.advance(offset)
                    yield builder.take()
            pos += complete
            builder.advance(pos)
            chunk = CHUNK
            if builder.full:
                yield builder.take()
            continue
        # Caught up with the journal (`data` is empty or a message still being written).
        known = pos + len(data)
        if builder is not None and builder.pending:
            age = time.monotonic() - builder.batch.born
            if journal.closed or age >= max_seconds:
                yield builder.take()
                continue
            journal.wait(known, max(0.01, max_seconds - age))
            continue
        if journal.closed and pos >= journal.end:
            return
        journal.wait(known, 0.5)
        if builder is not None and not builder.pending:
            builder.batch.born = time.monotonic()


def _sample(body: bytes, limit: int = 200) -> list[bytes]:
    lines = []
    for raw in body[: 256 * 1024].split(b"\n"):
        if raw[:1] == b"L":
            lines.append(raw[1:])
            if len(lines) >= limit:
                break
    return lines


def stream_batches(
    stream: BinaryIO,
    stream_id: str,
    start: int,
    make_encoder: EncoderFactory,
    *,
    max_rows: int,
    progress: Callable[[int], None] | None = None,
) -> Iterator[Batch]:
    """Batches of plain log lines (a log file; no protocol bytes) from offset `start` of
    `stream`, which is already positioned there."""
    builder: BatchBuilder | None = None
    pos = start
    tail = b""
    while True:
        data = stream.read(CHUNK)
        if progress is not None:
            progress(len(data))
        if not data:
            break
        data = tail + data
        complete = data.rfind(b"\n") + 1
        if complete == 0:
            tail = data
            continue
        tail = data[complete:]
        body = data[:complete]
        if builder is None:
            builder = BatchBuilder(stream_id, start, make_encoder(body[: 256 * 1024].split(b"\n")[:200]), max_rows)
        offset = pos
        for raw in body[:-1].split(b"\n"):
            line = raw[:-1] if raw.endswith(b"\r") else raw
            if line.strip():
                builder.add_line(offset, line)
            offset += len(raw) + 1
            if builder.full:
                builder.advance(offset)
                yield builder.take()
        pos += complete
        builder.advance(pos)
    if tail:
        if builder is None:
            builder = BatchBuilder(stream_id, start, make_encoder([tail]), max_rows)
        if tail.strip():
            builder.add_line(pos, tail.rstrip(b"\r"))
        pos += len(tail)
        builder.advance(pos)
    if builder is not None and builder.pending:
        yield builder.take()


# --------------------------------------------------------------------------------------------
# Prefetching on a helper thread


T = TypeVar("T")
_END = object()


class _Failure:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


class Prefetcher(Generic[T]):
    """Runs `factory(stopping)` on a daemon thread, `depth` items ahead of the consumer.
    Exceptions in the producer are re-raised in the consumer; `close()` stops it."""

    def __init__(self, factory: Callable[[threading.Event], Iterator[T]], depth: int = 2, name: str = "") -> None:
        self.stopping = threading.Event()
        self._queue: queue.Queue[object] = queue.Queue(maxsize=max(1, depth))
        self._thread = threading.Thread(target=self._run, args=(factory,), name=name or "prefetch", daemon=True)
        self._thread.start()

    def _run(self, factory: Callable[[threading.Event], Iterator[T]]) -> None:
        try:
            for item in factory(self.stopping):
                if not self._put(item):
                    return
            self._put(_END)
        except BaseException as exc:
            self._put(_Failure(exc))

    def _put(self, item: object) -> bool:
        while not self.stopping.is_set():
            try:
                self._queue.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def __iter__(self) -> Iterator[T]:
        return self

    def __next__(self) -> T:
        while True:
            try:
                item = self._queue.get(timeout=0.5)
            except queue.Empty:
                if not self._thread.is_alive() and self._queue.empty():
                    raise StopIteration from None
                continue
            if item is _END:
                raise StopIteration
            if isinstance(item, _Failure):
                raise item.exc
            return item  # type: ignore[return-value]

    def close(self) -> None:
        self.stopping.set()
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        self._thread.join(timeout=5)
