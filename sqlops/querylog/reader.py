"""Opening log inputs and running the readers over them: plain files, ``.gz``, ``-`` (stdin),
several files in one run, and large plain files split by byte ranges over all CPU cores.

The parallel split: the file is cut at nominal offsets, each cut moved to the next entry start;
each worker reads its range (and on past its end to finish its last entry) and returns its
accumulator, the offset where the entry after its range starts, its line count and the `use`
database in effect at its end. If a worker's "next entry" is not where the following worker
started (a header-like line inside a literal fooled the cut), the following range is read
again from the right place. So the result is exactly that of one process.
"""

from __future__ import annotations

import gzip
import multiprocessing
import os
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal

from sqlops.compressed import GZIP_ERRORS, GZIP_MAGIC, damaged, transparent_stdin
from sqlops.errors import InputError
from sqlops.querylog.digest import INHERIT, DigestAccumulator, DigestReport, build_report
from sqlops.querylog.fingerprint import Fingerprinter
from sqlops.querylog.generallog import RECORD_START, GeneralLogScanner
from sqlops.querylog.slowlog import SlowLogScanner, entry_starts

BLOCK = 4 * 1024 * 1024
_SLOW_MARK = re.compile(rb"^# (?:User@Host|Query_time): ", re.M)
_START_HEADER = re.compile(rb"^[^\n]*, Version: [^\n]*started with:\r?$", re.M)
# Below this size one process is faster than starting workers.
PARALLEL_MIN_BYTES = 16 * 1024 * 1024
LogType = Literal["auto", "slow", "general"]


@dataclass(frozen=True)
class ReadOptions:
    """How to read: log type (auto-detected by default), the server's long_query_time (to
    recognise entries logged only for not using indexes), and parallel workers (0 = cores)."""

    log_type: LogType = "auto"
    long_query_time: float | None = None
    jobs: int = 0
    # Only statements with a timestamp at or after `since` and before `until` (epoch seconds).
    since: float | None = None
    until: float | None = None

    @property
    def window(self) -> tuple[float | None, float | None] | None:
        return None if self.since is None and self.until is None else (self.since, self.until)

    @property
    def long_query_time_us(self) -> int | None:
        if not self.long_query_time:
            return None
        return int(self.long_query_time * 1e6 + 0.5)

    def worker_count(self) -> int:
        return self.jobs if self.jobs > 0 else (os.cpu_count() or 1)


def digest_logs(
    paths: Sequence[str], options: ReadOptions | None = None, sort: str = "total"
) -> DigestReport:
    """Read every log in `paths` (``-`` is stdin) into one ranked report."""
    acc = read_logs(paths, options or ReadOptions())
    return build_report(acc, sort)


def read_logs(paths: Sequence[str], options: ReadOptions) -> DigestAccumulator:
    if not paths:
        raise InputError("no log file given", fix="pass --log FILE (or --log - for standard input)")
    acc = DigestAccumulator(options.window)
    fingerprinter = Fingerprinter()
    for path in paths:
        read_one(path, acc, fingerprinter, options)
    acc.flush()
    return acc


def read_one(path: str, acc: DigestAccumulator, fingerprinter: Fingerprinter, options: ReadOptions) -> None:
    name = "<stdin>" if path == "-" else path
    source = acc.add_source(name)
    stream, plain = _open(path)
    try:
        first = _read(stream, name, BLOCK)
        kind = detect_type(first, name) if options.log_type == "auto" else options.log_type
        if options.log_type != "auto":
            check_forced_type(first, name, kind)
        acc.sources[source].kind = kind
        size = os.fstat(stream.fileno()).st_size if plain else 0
        if kind == "slow" and plain and size >= PARALLEL_MIN_BYTES and options.worker_count() > 1:
            stream.close()
            _read_parallel(path, acc, source, options, size)
            return
        if kind == "slow":
            scanner: SlowLogScanner | GeneralLogScanner = SlowLogScanner(
                acc, source, fingerprinter, long_query_time_us=options.long_query_time_us
            )
        else:
            scanner = GeneralLogScanner(acc, source, fingerprinter)
        acc.sources[source].bytes_read = _pump(stream, name, scanner, first, 0, 1)
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()


def detect_type(head: bytes, name: str) -> Literal["slow", "general"]:
    """Slow or general log, from the first block. Empty input counts as a slow log."""
    if not head.strip():
        return "slow"
    slow_marks = len(_SLOW_MARK.findall(head))
    general_marks = len(RECORD_START.findall(head))
    if slow_marks or general_marks:
        # Either kind can quote the other inside a statement; the majority decides.
        return "slow" if slow_marks >= general_marks else "general"
    if _START_HEADER.search(head):
        return "slow"  # only a server start header so far: a log with no entries yet
    if b"\x00" in head[:512] and head.count(b"\x00") > len(head) // 4:
        why = "it is mostly binary data"
    else:
        why = "it has no '# User@Host:' / '# Query_time:' lines and no general-log records"
    raise InputError(
        f"{name}: not a MySQL/MariaDB slow or general query log",
        why=why,
        fix="pass the slow_query_log_file or general_log_file of the server (or --type slow|general)",
    )


def check_forced_type(head: bytes, name: str, kind: str) -> None:
    """Refuse a --type that the first block plainly contradicts (a general log read as a slow
    log would otherwise give an empty report and exit 0)."""
    slow_marks = len(_SLOW_MARK.findall(head))
    general_marks = len(RECORD_START.findall(head))
    # Either kind can quote the other in a statement: only a clear majority contradicts --type.
    if kind == "slow" and general_marks > 4 * slow_marks:
        looks, other = "a general query log", "general"
    elif kind == "general" and slow_marks > 4 * general_marks:
        looks, other = "a slow query log", "slow"
    else:
        return
    raise InputError(
        f"{name}: --type {kind} was given, but the file looks like {looks}",
        why=f"its first {len(head)} bytes hold {slow_marks} slow-log header line(s) "
        f"('# User@Host:', '# Query_time:') and {general_marks} general-log record(s) (Query, Connect, ...)",
        fix=f"use --type {other} (or --type auto, the default)",
    )


def _open(path: str) -> tuple[BinaryIO, bool]:
    """The byte stream of `path` and whether it is a plain (seekable, uncompressed) file."""
    if path == "-":
        return transparent_stdin(sys.stdin.buffer), False
    p = Path(path)
    try:
        raw = p.open("rb")
    except FileNotFoundError:
        raise InputError(f"log file {path} does not exist", fix="check the path (and --log)") from None
    except IsADirectoryError:
        raise InputError(
            f"{path} is a directory, not a log file", fix="pass the log file inside it"
        ) from None
    except PermissionError:
        raise InputError(
            f"cannot read {path}: permission denied",
            fix="run as a user that can read it (e.g. in group mysql/adm) or copy it",
        ) from None
    magic = raw.read(2)
    raw.seek(0)
    if magic == GZIP_MAGIC:
        return gzip.GzipFile(fileobj=raw, mode="rb"), False  # type: ignore[return-value]
    return raw, True


def _read(stream: BinaryIO, name: str, size: int) -> bytes:
    try:
        return stream.read(size)
    except GZIP_ERRORS as exc:
        raise damaged(name, exc, "digest") from None
    except OSError as exc:
        raise InputError(f"cannot read {name}", why=str(exc)) from None


def _pump(
    stream: BinaryIO,
    name: str,
    scanner: SlowLogScanner | GeneralLogScanner,
    buf: bytes,
    base_pos: int,
    base_line: int,
) -> int:
    """Feed `stream` to `scanner` block by block until the end (or, for a range worker, until
    it has found the entry after its range); returns the bytes read."""
    total = len(buf)
    while True:
        block = _read(stream, name, BLOCK)
        final = not block
        if block:
            total += len(block)
            buf = buf + block if buf else block
        used = scanner.feed(buf, base_pos, base_line, final)
        if final or (isinstance(scanner, SlowLogScanner) and scanner.next_start is not None):
            return total
        base_line += buf.count(b"\n", 0, used)
        base_pos += used
        buf = buf[used:]


# --------------------------------------------------------------------------------------------
# Byte ranges


@dataclass(frozen=True)
class RangeResult:
    start: int
    next_start: int
    lines: int  # newlines in [start, next_start)
    final_database: bytes | None
    acc: DigestAccumulator


def _read_range(
    path: str,
    start: int,
    stop: int,
    long_query_time_us: int | None,
    window: tuple[float | None, float | None] | None = None,
    max_classes: int | None = None,
) -> RangeResult:
    acc = DigestAccumulator(window)
    if max_classes is not None:
        acc.MAX_CLASSES = max_classes
    source = acc.add_source(path, "slow")
    scanner = SlowLogScanner(
        acc, source, Fingerprinter(), long_query_time_us=long_query_time_us, inherit_database=start > 0
    )
    scanner.stop_at = stop
    with open(path, "rb") as stream:
        stream.seek(start)
        _pump(stream, path, scanner, b"", start, 1)
        next_start = scanner.next_start if scanner.next_start is not None else stop
        stream.seek(start)
        lines = _count_newlines(stream, next_start - start)
    acc.flush()
    acc.sources[source].bytes_read = next_start - start
    return RangeResult(start, next_start, lines, scanner.database, acc)


def _count_newlines(stream: BinaryIO, length: int) -> int:
    count = 0
    while length > 0:
        block = stream.read(min(BLOCK, length))
        if not block:
            break
        count += block.count(b"\n")
        length -= len(block)
    return count


def entry_start_at_or_after(path: str, offset: int) -> int:
    """The offset of the first entry start at or after `offset`, as a reader going through
    the file from the start sees entries (a "# User@Host:" line right after "# Time:" is not
    a start of its own), so the search begins one line before the line holding `offset`."""
    with open(path, "rb") as stream:
        size = os.fstat(stream.fileno()).st_size
        if offset <= 0:
            return 0
        back = max(0, offset - 65536)
        stream.seek(back)
        before = stream.read(offset - back)
        line_start = back + before.rfind(b"\n") + 1 if b"\n" in before else back
        previous = (
            back + before.rfind(b"\n", 0, max(line_start - back - 1, 0)) + 1 if line_start > back else back
        )
        position = previous
        while position < size:
            stream.seek(position)
            block = stream.read(BLOCK)
            found = [position + s for s in entry_starts(block) if position + s >= line_start]
            # A start found near the end of a block might be the "# User@Host:" half of an entry
            # whose "# Time:" line ends the block: only trust starts well inside the block.
            trusted = [s for s in found if s - position < len(block) - 65536 or len(block) < BLOCK]
            if trusted:
                return trusted[0]
            if len(block) < BLOCK:
                return size
            position += BLOCK - 65536
        return size


def split_ranges(path: str, size: int, parts: int) -> list[int]:
    """Range starts: 0 and the entry starts nearest after each nominal cut (no duplicates)."""
    starts = [0]
    for i in range(1, parts):
        at = entry_start_at_or_after(path, size * i // parts)
        if starts[-1] < at < size:
            starts.append(at)
    return starts


def read_ranges(
    path: str,
    starts: list[int],
    size: int,
    long_query_time_us: int | None,
    jobs: int,
    window: tuple[float | None, float | None] | None = None,
) -> list[RangeResult]:
    """Read the ranges (in `jobs` processes) and repair any range that began at a false start."""
    bounds = [*starts[1:], size]
    # The parent holds every range's classes while merging: share the class cap between them.
    share = max(DigestAccumulator.MAX_CLASSES // len(starts), 100)
    tasks = [(path, s, e, long_query_time_us, window, share) for s, e in zip(starts, bounds, strict=True)]
    if jobs > 1 and len(tasks) > 1:
        # forkserver: workers fork from a clean single-threaded server. A plain fork copies the
        # locks of this process's threads (a Pool's own handler threads among them) and a
        # worker could hang on one; spawn would import everything again in each worker.
        methods = multiprocessing.get_all_start_methods()
        ctx = multiprocessing.get_context("forkserver" if "forkserver" in methods else None)
        with ctx.Pool(min(jobs, len(tasks))) as pool:
            results = pool.starmap(_read_range, tasks)
    else:
        results = [_read_range(*t) for t in tasks]
    fixed: list[RangeResult] = []
    for i, result in enumerate(results):
        if fixed and fixed[-1].next_start != result.start:
            expected = fixed[-1].next_start
            if expected >= bounds[i]:
                continue  # the previous range already read through this one
            result = _read_range(path, expected, bounds[i], long_query_time_us, window, share)
        fixed.append(result)
    return fixed


def _read_parallel(path: str, acc: DigestAccumulator, source: int, options: ReadOptions, size: int) -> None:
    jobs = options.worker_count()
    starts = split_ranges(path, size, jobs * 2)
    results = read_ranges(path, starts, size, options.long_query_time_us, jobs, options.window)
    merge_ranges(acc, source, results)
    acc.sources[source].bytes_read = size


def merge_ranges(acc: DigestAccumulator, source: int, results: list[RangeResult]) -> None:
    """Fold range results (in file order) into `acc` as one source."""
    database: bytes | None = None
    line_offset = 0
    stats = acc.sources[source]
    for result in results:
        part = result.acc
        part.flush()
        for cls in part.classes.values():
            cls.resolve_inherited(database)
            cls.shift_lines(0, line_offset)
        part.skipped = [(s, pos, line + line_offset, reason) for s, pos, line, reason in part.skipped]
        acc.merge(part, source_map={0: source})
        stats.entries += part.sources[0].entries
        stats.server_headers += part.sources[0].server_headers
        stats.nul_bytes += part.sources[0].nul_bytes
        if result.final_database != INHERIT:  # by value: results come back pickled
            database = result.final_database
        line_offset += result.lines
