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


@dataclass(frozen=True)
class ChunkOrigin:
    """Rows encoded from every line of `text` that starts with `prefix` (block path)."""

    text: bytes
    base: int  # offset of text[0] in the source
    prefix: bytes

    def sources(self) -> list[tuple[int, bytes]]:
        out = []
        offset = self.base
        skip = len(self.prefix)
        for line in self.text[:-1].split(b"\n"):
            if line.startswith(self.prefix):
                out.append((offset, line[skip:]))
            offset += len(line) + 1
        return out


@dataclass(frozen=True)
class LinesOrigin:
    """Rows encoded line by line."""

    lines: tuple[tuple[int, bytes], ...]

    def sources(self) -> list[tuple[int, bytes]]:
        return list(self.lines)


@dataclass
class Batch:
    """Encoded rows and quarantined lines of the source range [start, end)."""

    stream: str
    start: int
    end: int = 0
    mode: Mode = "tsv"
    columns: tuple[str, ...] = ()  # table columns of each encoded row
    blocks: list[bytes] = field(default_factory=list)  # rows, each ending in \n (tsv) or ,\n (sql)
    origins: list[ChunkOrigin | LinesOrigin] = field(default_factory=list)  # one per block
    rows: int = 0
    quarantine: list[Quarantined] = field(default_factory=list)
    lines: int = 0  # log lines in the range (rows + quarantined)
    born: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self.end = max(self.end, self.start)

    @property
    def size(self) -> int:
        return self.rows + len(self.quarantine)

    @property
    def terminator(self) -> bytes:
        return b"\n" if self.mode == "tsv" else b",\n"

    def row_list(self) -> list[bytes]:
        """Each encoded row without its terminator (rows never contain a raw newline)."""
        rows = [row for block in self.blocks for row in block[:-1].split(b"\n")]
        return rows if self.mode == "tsv" else [row[:-1] for row in rows]

    def sources(self) -> list[tuple[int, bytes]]:
        """(offset, raw line) of each row, in row order."""
        return [item for origin in self.origins for item in origin.sources()]


class BatchBuilder:
    """Accumulates lines into the current batch; `take()` hands it over and starts the next."""

    def __init__(
        self, stream: str, start: int, encoder: RowEncoder, max_rows: int, exact: bool = False
    ) -> None:
        self.stream = stream
        self.encoder = encoder
        self.max_rows = max(1, max_rows)
        # exact: never more than max_rows lines in a batch (a Galera writeset limit), so a read
        # that would overfill the batch is added line by line; otherwise a whole read is added
        # at once and a batch may end a little past max_rows.
        self.exact = exact
        self.batch = self._new(start)
        self._encode_line = encoder.encode_line
        self._rows: list[bytes] = []
        self._lines: list[tuple[int, bytes]] = []
        self.consumed = 0  # source bytes seen, for sizing reads
        self.seen_lines = 0

    @property
    def bytes_per_line(self) -> int:
        return max(64, self.consumed // self.seen_lines) if self.seen_lines else 256

    def add_block(self, text: bytes, base: int, prefix: bytes) -> bool:
        """Encode all lines of `text` at once (see RowEncoder.encode_block); False when the
        caller must add them one by one."""
        # Squid sends F after every line (buffered_logs off): those lines are expected not to
        # match. Consecutive F lines are counted short, which only sends the text line by line.
        if self.exact and self.batch.size + text.count(b"\n") > self.max_rows:
            return False
        flushes = text.count(b"\nF\n") + text.startswith(b"F\n") if prefix else 0
        encoded = self.encoder.encode_block(text, prefix, flushes)
        if encoded is None:
            return False
        self._flush_lines()
        data, count = encoded
        batch = self.batch
        batch.blocks.append(data)
        batch.origins.append(ChunkOrigin(text, base, prefix))
        batch.rows += count
        batch.lines += count
        self.seen_lines += count
        return True

    def add_chunk(
        self, body: bytes, base: int, prefix: bytes, one: Callable[[BatchBuilder, int, bytes], None]
    ) -> Iterator[Batch]:
        """Add `body` (whole lines found at offset `base`) at once when possible, else line by
        line through `one(builder, offset, line)`; yields the batches that fill up."""
        if not self.add_block(body, base, prefix):
            offset = base
            for raw in body[:-1].split(b"\n"):
                one(self, offset, raw)
                offset += len(raw) + 1
                if self.full:
                    self.advance(offset)
                    yield self.take()
        self.advance(base + len(body))
        self.consumed += len(body)
        if self.full:
            yield self.take()

    def add_line(self, position: int, line: bytes, start: int = 0) -> None:
        """Add `line[start:]` (start=1 skips the protocol's `L`), found at `position`."""
        self.batch.lines += 1
        self.seen_lines += 1
        try:
            row = self._encode_line(line, start)
        except LineError as exc:
            self._quarantine(position, line[start:], str(exc))
            return
        except Exception as exc:  # a parser bug must not lose the line or stop the daemon
            self._quarantine(
                position, line[start:], f"internal error while parsing: {type(exc).__name__}: {exc}"
            )
            return
        self._rows.append(row)
        self._lines.append((position, line if start == 0 else line[start:]))
        self.batch.rows += 1

    def _flush_lines(self) -> None:
        if self._rows:
            terminator = self.batch.terminator
            self.batch.blocks.append(terminator.join(self._rows) + terminator)
            self.batch.origins.append(LinesOrigin(tuple(self._lines)))
            self._rows, self._lines = [], []

    def _quarantine(self, position: int, raw: bytes, reason: str) -> None:
        self.batch.quarantine.append(Quarantined(position, raw[:QUARANTINE_RAW_MAX], reason[:MAX_REASON]))

    def add_garbage(self, position: int, raw: bytes, reason: str) -> None:
        self.batch.lines += 1
        self._quarantine(position, raw, reason)

    def advance(self, end: int) -> None:
        self.batch.end = max(self.batch.end, end)

    @property
    def full(self) -> bool:
        return self.batch.size >= self.max_rows

    @property
    def pending(self) -> bool:
        return self.batch.end > self.batch.start

    def take(self) -> Batch:
        self._flush_lines()
        done = self.batch
        self.batch = self._new(done.end)
        return done

    def _new(self, start: int) -> Batch:
        return Batch(self.stream, start, mode=self.encoder.mode, columns=self.encoder.columns)


EncoderFactory = Callable[[list[bytes]], RowEncoder]
# Reads are parsed in one C call each; short ones let the writer thread (which needs the GIL
# for every round trip to the server) in often. With Python's 5 ms switch interval the writer
# waited that long per round trip; the daemon and the backfill lower it to FAST_SWITCH.
CHUNK = 1 << 17
FAST_SWITCH = 0.0005
MAX_MESSAGE = 64 << 20


def journal_batches(
    journal: Journal,
    start: int,
    make_encoder: EncoderFactory,
    *,
    max_rows: int,
    max_seconds: float,
    stopping: threading.Event,
    exact: bool = False,
) -> Iterator[Batch]:
    """Batches from `journal` starting at the committed offset `start`. For a live journal
    this waits for new data; it ends once the journal is closed and fully consumed."""
    builder: BatchBuilder | None = None
    pos = start
    chunk = 0  # > 0 while growing the read for one very long message
    while not stopping.is_set():
        size = chunk or _read_size(builder, max_rows)
        data = journal.read(pos, size)
        complete = data.rfind(b"\n") + 1
        if complete == 0 and data:
            at_end = pos + len(data) >= journal.end
            if not at_end and len(data) == size and size < MAX_MESSAGE:
                chunk = size * 2  # one message longer than a read: read more of it
                continue
            if (journal.closed and at_end) or len(data) >= MAX_MESSAGE:
                # a message cut short by a dying daemon, or an absurdly long one
                if builder is None:
                    builder = BatchBuilder(journal.id, start, make_encoder([]), max_rows, exact)
                reason = "incomplete message: the stream ended in the middle of it"
                if len(data) >= MAX_MESSAGE:
                    reason = f"message longer than {MAX_MESSAGE} bytes"
                builder.add_garbage(pos, data, reason)
                pos += len(data)
                builder.advance(pos)
                continue
        if complete:
            body = data if complete == len(data) else data[:complete]
            del data
            if builder is None:
                builder = BatchBuilder(journal.id, start, make_encoder(_sample(body)), max_rows, exact)
            yield from builder.add_chunk(body, pos, b"L", _journal_message)
            pos += complete
            chunk = 0
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


def _read_size(builder: BatchBuilder | None, max_rows: int) -> int:
    """Read about as many bytes as the rest of the batch needs, so batches stay near
    `max_rows` although whole reads are encoded at once."""
    if builder is None:
        return min(CHUNK, max(4096, max_rows * 128))
    remaining = max(1, max_rows - builder.batch.size)
    return min(CHUNK, max(2048, remaining * builder.bytes_per_line))


def _journal_message(builder: BatchBuilder, offset: int, raw: bytes) -> None:
    command = raw[0] if raw else -1
    if command == LOG:
        builder.add_line(offset, raw, 1)
    elif command not in KNOWN_COMMANDS:
        builder.add_garbage(offset, raw, "not a logfile-daemon message (unknown command byte)")


def _file_line(builder: BatchBuilder, offset: int, raw: bytes) -> None:
    line = raw[:-1] if raw.endswith(b"\r") else raw
    if line.strip():
        builder.add_line(offset, line)


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
    unterminated: list[int] | None = None,
    exact: bool = False,
) -> Iterator[Batch]:
    """Batches of plain log lines (a log file; no protocol bytes) from offset `start` of
    `stream`, which is already positioned there. A last line without a newline is left out
    (Squid may be writing it); its length goes into `unterminated`."""
    builder: BatchBuilder | None = None
    pos = start
    tail = b""
    while True:
        data = stream.read(_read_size(builder, max_rows))
        if not data:
            break
        data = tail + data
        complete = data.rfind(b"\n") + 1
        if complete == 0:
            tail = data
            continue
        tail = data[complete:]
        body = data[:complete]
        del data
        if builder is None:
            builder = BatchBuilder(
                stream_id, start, make_encoder(body[: 256 * 1024].split(b"\n")[:200]), max_rows, exact
            )
        yield from builder.add_chunk(body, pos, b"", _file_line)
        pos += complete
    if unterminated is not None:
        unterminated.append(len(tail))  # a last line without newline may still be being written
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

    def __init__(
        self, factory: Callable[[threading.Event], Iterator[T]], depth: int = 2, name: str = ""
    ) -> None:
        self.stopping = threading.Event()
        self._queue: queue.Queue[object] = queue.Queue(maxsize=max(1, depth))
        self._thread = threading.Thread(
            target=self._run, args=(factory,), name=name or "prefetch", daemon=True
        )
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
