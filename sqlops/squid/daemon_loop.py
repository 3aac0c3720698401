"""sqlops-logfile-daemon's machinery (the entry point is :mod:`sqlops.squid.daemon`).

Squid starts it once per ``access_log daemon:<ARG> <format>`` line with argv[1] = ARG and a
socketpair on stdin (see :mod:`sqlops.squid.protocol`); stderr goes to cache.log.

Two threads, so that Squid is never slowed by the database:

* the **reader** (main thread) reads stdin in large chunks and appends the raw bytes to the
  journal (:mod:`sqlops.squid.spool`) — nothing else — whatever the database does. It stops
  reading only when the journal's filesystem is down to its free-space reserve.
* the **drainer** connects (with backoff, forever), adopts journals left by earlier processes,
  and writes batches (:mod:`sqlops.squid.batcher`) with the checkpoint in the same
  transaction (:mod:`sqlops.squid.writer`): exactly once, whatever crashes when.

EOF or SIGTERM: stop reading (after taking what is already in the socket), let the drainer
write for up to ``ingest.shutdown_seconds``, leave the rest in the journal for the next start.
The daemon never exits because of the database or bad input: Squid kills itself after a few
quick daemon deaths.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import select
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from sqlops.config import IngestConfig, load_config
from sqlops.db import errno_of
from sqlops.errors import ConfigError, SqlopsError
from sqlops.squid.batcher import FAST_SWITCH, Batch, Prefetcher, journal_batches
from sqlops.squid.logformat import compile_format, detect_format
from sqlops.squid.protocol import has_rotate
from sqlops.squid.rows import RowEncoder
from sqlops.squid.spool import FALLBACK_SPOOL, Journal, JournalLocked, free_bytes, journal_dirs
from sqlops.squid.status import DaemonStatus, StatusFile
from sqlops.squid.target import Target, resolve_target, target_key
from sqlops.squid.writer import (
    QUARANTINE_FILE,
    CheckpointMoved,
    JournalCheckpoint,
    LogWriter,
    rotate_quarantine_file,
)

log = logging.getLogger("sqlops.squid.daemon")

READ_SIZE = 1 << 20
MB = 1 << 20
RESCAN_SECONDS = 30.0


class Stats:
    """Counters shared by the threads (plain ints: the GIL makes single updates safe)."""

    def __init__(self) -> None:
        self.started = time.time()
        self.bytes_read = 0
        self.rows_written = 0
        self.lines_quarantined = 0
        self.batches = 0
        self.state = "starting"
        self.last_error: str | None = None
        self.last_error_at: float | None = None
        self.last_commit_at: float | None = None
        self.mode: str | None = None
        self.reading_paused = False
        self.over_cap = False
        self.orphan_backlog = 0
        self.committed_own = 0
        self.rotations = 0
        self.waiting_for_batches = 0.0  # seconds the writer waited for the parser (profiling)
        self.writing = 0.0  # seconds spent in batch transactions
        self._rate_window: list[tuple[float, int]] = []

    def commit(self, rows: int, quarantined: int) -> None:
        self.rows_written += rows
        self.lines_quarantined += quarantined
        self.batches += 1
        now = time.time()
        self.last_commit_at = now
        self._rate_window.append((now, self.rows_written))
        while len(self._rate_window) > 2 and now - self._rate_window[0][0] > 30:
            self._rate_window.pop(0)

    def rows_per_second(self) -> float:
        window = list(self._rate_window)
        if len(window) < 2:
            return 0.0
        (t0, r0), (t1, r1) = window[0], window[-1]
        if time.time() - t1 > 10:
            return 0.0
        return (r1 - r0) / (t1 - t0) if t1 > t0 else 0.0


class Drainer(threading.Thread):
    """Writes journals into the database (see module doc)."""

    def __init__(self, arg: str, target: Target | None, own: Journal, parent: Path, stats: Stats) -> None:
        super().__init__(name="drainer", daemon=True)
        self.arg = arg
        self.target = target
        self.own = own
        self.parent = parent
        self.stats = stats
        self.writer: LogWriter | None = None
        self.done = threading.Event()  # own journal closed and fully written
        self.abandon = threading.Event()  # shutdown deadline passed
        self._problem_key: str | None = None
        self._down_since: float | None = None
        self._backoff = 0.5
        self._next_scan = 0.0
        self._adopted: list[Journal] = []
        self._reported: set[str] = set()

    # ------------------------------------------------------------------ main loop

    def run(self) -> None:
        while not self.abandon.is_set():
            try:
                if self._cycle():
                    self.done.set()
                    return
            except Exception as exc:  # anything: report, back off, try again
                self._problem(exc)
                if self.writer is not None:
                    self.writer.close()
                self.abandon.wait(self._backoff)
                limit = self.target.ingest.retry_max_seconds if self.target else 10.0
                self._backoff = min(self._backoff * 2, max(0.5, limit))

    def _cycle(self) -> bool:
        """One pass; True once the own journal is closed and completely written."""
        target = self._resolve_target()
        if self.writer is None:
            self.writer = LogWriter(
                target.database, target.table, target.ingest.method, fallback=self.parent / QUARANTINE_FILE
            )
        if self.writer.session is None:
            self.writer.connect()
            self.stats.mode = "LOAD DATA LOCAL" if self.writer.mode == "tsv" else "multi-row INSERT"
            self._recovered()
        orphan = self._next_orphan()
        if orphan is not None:
            if self._drain(orphan):
                self._finish(orphan)
            return False
        if self._drain(self.own):
            self._finish(self.own)
            return True
        return False

    def _resolve_target(self) -> Target:
        if self.target is None:
            self.target = resolve_target(self.arg)
            for warning in self.target.warnings:
                log.warning("%s", warning)
        return self.target

    def _finish(self, journal: Journal) -> None:
        """Everything in `journal` is committed: delete it, then its checkpoint row."""
        journal.destroy()
        if journal in self._adopted:
            self._adopted.remove(journal)
            log.info("journal %s left by an earlier process is written and removed", journal.id)
        assert self.writer is not None and self.target is not None
        session = self.writer.require()
        with contextlib.suppress(Exception):  # a leftover row is harmless; DELETE may not be granted
            JournalCheckpoint(journal.id, self.target.table, str(journal.path)).forget(session)

    # ------------------------------------------------------------------ journals

    def _next_orphan(self) -> Journal | None:
        if not self._adopted and time.monotonic() >= self._next_scan:
            self._scan()
        return self._adopted[0] if self._adopted else None

    def _scan(self) -> None:
        self._next_scan = time.monotonic() + RESCAN_SECONDS
        assert self.target is not None
        held = {j.id for j in self._adopted} | {self.own.id}
        for path in journal_dirs(self.parent):
            if path.name in held:
                continue
            try:
                journal = Journal.adopt(path, segment_bytes=self.target.ingest.segment_mb * MB)
            except (JournalLocked, OSError):
                continue
            log.info(
                "adopting journal %s (%d bytes) left by an earlier process",
                journal.id,
                journal.end - journal.start,
            )
            self._adopted.append(journal)
        self.stats.orphan_backlog = sum(j.end - j.start for j in self._adopted)

    def _drain(self, journal: Journal) -> bool:
        """Write `journal` from its checkpoint on; True when it is closed and fully written,
        False when the caller should look around (orphans, a new write mode) and call again."""
        assert self.writer is not None and self.target is not None
        writer, target = self.writer, self.target
        checkpoint = JournalCheckpoint(journal.id, target.table, str(journal.path))
        position = checkpoint.read(writer.require())
        if position > journal.end:
            log.error(
                "journal %s ends at byte %d but its checkpoint says %d were written; "
                "treating it as fully written",
                journal.id,
                journal.end,
                position,
            )
            return journal.closed
        if position < journal.start:
            log.error(
                "journal %s lost bytes %d..%d before they were written", journal.id, position, journal.start
            )
            position = journal.start
        journal.release(position)
        if journal is self.own:
            self.stats.committed_own = position
        ingest = target.ingest
        max_rows, exact = writer.batch_lines(ingest.batch_rows)
        prefetch: Prefetcher[Batch] = Prefetcher(
            lambda stopping: journal_batches(
                journal,
                position,
                self._encoder,
                max_rows=max_rows,
                max_seconds=ingest.batch_seconds,
                stopping=stopping,
                exact=exact,
            ),
            name=f"batches-{journal.id}",
        )
        try:
            waited = time.monotonic()
            for batch in prefetch:
                self.stats.waiting_for_batches += time.monotonic() - waited
                if self.abandon.is_set():
                    return False
                started = time.monotonic()
                try:
                    result = writer.write(batch, checkpoint)
                except CheckpointMoved as exc:
                    log.warning("re-reading the checkpoint: %s", exc)
                    return False
                self.stats.writing += time.monotonic() - started
                journal.release(batch.end)
                self.stats.commit(result.rows, result.quarantined)
                self._backoff = 0.5
                if journal is self.own:
                    self.stats.committed_own = batch.end
                else:
                    self.stats.orphan_backlog = sum(j.end - j.start for j in self._adopted)
                if batch.mode != writer.mode:
                    return False  # re-encode the rest for the new write mode
                if journal is self.own and time.monotonic() >= self._next_scan:
                    self._scan()
                    if self._adopted:
                        return False
                waited = time.monotonic()
            return not self.abandon.is_set()
        finally:
            prefetch.close()

    def _encoder(self, sample: list[bytes]) -> RowEncoder:
        assert self.writer is not None and self.target is not None
        spec = self.target.format
        if spec is None:
            spec = detect_format(sample) or "squid"
            self._report_once(f"format:{spec}", f"log format detected from the first lines: {spec}")
        fmt = compile_format(spec)
        encoder = RowEncoder(fmt, self.writer.columns, self.target.database.time_zone, self.writer.mode)
        for note in encoder.describe_gaps():
            self._report_once(note, note)
        return encoder

    def _report_once(self, key: str, message: str) -> None:
        if key not in self._reported:
            self._reported.add(key)
            log.info("%s", message)

    # ------------------------------------------------------------------ state changes

    def _problem(self, exc: BaseException) -> None:
        code = errno_of(exc)
        key = f"{type(exc).__name__}:{code}"
        text = _one_line(exc)
        if code is not None and not text.startswith("("):
            text = f"({code}) {text}"
        self.stats.last_error = text
        self.stats.last_error_at = time.time()
        if isinstance(exc, ConfigError):
            self.target = None  # read the configuration again next time
            self.writer = None
        if self._down_since is None:
            self._down_since = time.monotonic()
        self.stats.state = (
            "waiting for the database" if not isinstance(exc, ConfigError) else "configuration error"
        )
        if key != self._problem_key:
            self._problem_key = key
            backlog = self.own.end - self.stats.committed_own + self.stats.orphan_backlog
            if isinstance(exc, SqlopsError | CheckpointMoved) or code is not None:
                log.error("%s; journaling continues (%d bytes waiting), retrying", _one_line(exc), backlog)
            else:
                log.exception("unexpected error; journaling continues (%d bytes waiting), retrying", backlog)

    def _recovered(self) -> None:
        self.stats.state = "writing"
        if self._down_since is not None:
            log.warning(
                "database reachable again after %.0f s; writing the backlog",
                time.monotonic() - self._down_since,
            )
        elif self._problem_key is None:
            assert self.target is not None
            log.info(
                "writing to %s table %s via %s",
                self.target.description,
                self.target.table,
                self.stats.mode,
            )
        self._down_since = None
        self._problem_key = None


# ---------------------------------------------------------------------------------------------
# The reader (main thread)


class Reader:
    """Copies stdin into the journal; pauses only when the disk reserve is reached."""

    def __init__(self, fd: int, journal: Journal, ingest: IngestConfig, stats: Stats) -> None:
        self.fd = fd
        self.journal = journal
        self.ingest = ingest
        self.stats = stats
        self.terminating = False
        self._tail = b""
        self._next_space_check = 0.0
        self._checked_at_bytes = 0
        self._next_cap_shout = 0.0

    def run(self, tick: Any) -> None:
        """Read until EOF or SIGTERM; `tick()` runs about twice a second (status file)."""
        poller = select.poll()
        poller.register(self.fd, select.POLLIN | select.POLLHUP | select.POLLERR)
        while not self.terminating:
            tick()
            self.journal.sync(self.ingest.fsync_seconds)
            self._check_cap()
            if self._reserve_reached():
                time.sleep(0.5)
                continue
            if not poller.poll(500):
                continue
            if not self._read_once():
                return
        self._take_what_is_buffered()

    def _read_once(self) -> bool:
        try:
            data = os.read(self.fd, READ_SIZE)
        except BlockingIOError:
            return True
        except OSError as exc:
            if exc.errno in (errno.EBADF, errno.ECONNRESET):
                return False
            raise
        if not data:
            return False
        self._append(data)
        return True

    def _take_what_is_buffered(self) -> None:
        """On SIGTERM: whatever Squid already wrote is in the socket; keep it."""
        with contextlib.suppress(OSError):
            flags = fcntl.fcntl(self.fd, fcntl.F_GETFL)
            fcntl.fcntl(self.fd, fcntl.F_SETFL, flags | os.O_NONBLOCK)
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            try:
                data = os.read(self.fd, READ_SIZE)
            except (BlockingIOError, OSError):
                return
            if not data:
                return
            self._append(data)

    def _append(self, data: bytes) -> None:
        if has_rotate(self._tail, data):
            self.journal.request_rotation()
            self.stats.rotations += 1
            log.info("rotate: starting a new journal segment")
            moved = rotate_quarantine_file(self.journal.path.parent / QUARANTINE_FILE)
            if moved is not None:
                log.info("rotate: quarantine file moved to %s", moved)
        self._tail = data[-2:]
        while True:
            try:
                self.journal.append(data)
                break
            except OSError as exc:
                # Disk full or similar: keep the bytes, stop reading (Squid queues), retry.
                self.stats.last_error = f"journal write failed: {exc}"
                self.stats.last_error_at = time.time()
                if not self.stats.reading_paused:
                    log.error("cannot write the journal (%s); not reading from Squid until it works", exc)
                self.stats.reading_paused = True
                time.sleep(1.0)
        self.stats.reading_paused = False
        self.stats.bytes_read += len(data)

    def _reserve_reached(self) -> bool:
        """Checked every second and after every MiB read (statvfs is cheap)."""
        now = time.monotonic()
        if now < self._next_space_check and self.stats.bytes_read - self._checked_at_bytes < MB:
            return self.stats.reading_paused
        self._next_space_check = now + 1.0
        self._checked_at_bytes = self.stats.bytes_read
        reserve = self.ingest.spool_reserve_mb * MB
        try:
            free = free_bytes(self.journal.path)
        except OSError:
            return False
        paused = free < reserve
        if paused and not self.stats.reading_paused:
            log.error(
                "only %d MB free on the journal's filesystem (reserve %d MB): not reading from Squid "
                "until space is freed; Squid queues and then drops lines",
                free // MB,
                self.ingest.spool_reserve_mb,
            )
        elif not paused and self.stats.reading_paused:
            log.warning("free space is back above the reserve: reading from Squid again")
        self.stats.reading_paused = paused
        return paused

    def _check_cap(self) -> None:
        backlog = self.journal.end - self.stats.committed_own + self.stats.orphan_backlog
        over = backlog > self.ingest.spool_max_mb * MB
        now = time.monotonic()
        if over and (not self.stats.over_cap or now >= self._next_cap_shout):
            self._next_cap_shout = now + 300
            log.error(
                "journal backlog %d MB is over ingest.spool_max_mb = %d MB (database writes are "
                "behind: %s); still journaling until the free-space reserve",
                backlog // MB,
                self.ingest.spool_max_mb,
                self.stats.last_error or "no error reported",
            )
        elif not over and self.stats.over_cap:
            log.warning("journal backlog is back under ingest.spool_max_mb")
        self.stats.over_cap = over


# ---------------------------------------------------------------------------------------------
# Entry point


def _thread_cpu() -> str:
    """CPU seconds (user+system) of each live thread, for profiling at DEBUG level."""
    names = {t.native_id: t.name for t in threading.enumerate()}
    tick = os.sysconf("SC_CLK_TCK")
    out = []
    for task in Path("/proc/self/task").iterdir():
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
            seconds = (int(fields[11]) + int(fields[12])) / tick
            out.append(f"{names.get(int(task.name), task.name)}={seconds:.2f}")
    return ", ".join(sorted(out))


def _limit_malloc_retention() -> None:
    """Few glibc malloc arenas for the daemon's few threads, so a long-running process does
    not keep a heap per thread that ever allocated (measured RSS stays flat either way)."""
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL("libc.so.6").mallopt(-8, 2)  # M_ARENA_MAX


def _setup_logging() -> None:
    logging.raiseExceptions = False
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        logging.Formatter(f"sqlops-logfile-daemon[{os.getpid()}]: %(levelname)s: %(message)s")
    )
    root = logging.getLogger("sqlops")
    root.handlers[:] = [handler]
    root.propagate = False
    level = os.environ.get("SQLOPS_DAEMON_LOG_LEVEL", "INFO").upper()
    root.setLevel(getattr(logging, level, logging.INFO))


def _ingest_settings_anyway() -> IngestConfig:
    """[ingest] of the default config when only the target is wrong, else the defaults."""
    try:
        return load_config(None).config.ingest
    except SqlopsError:
        return IngestConfig()


def _one_line(exc: BaseException) -> str:
    """An error on one cache.log line, its cause included."""
    if isinstance(exc, SqlopsError):
        return exc.one_line()
    return " ".join(str(exc).split()) or type(exc).__name__


def _open_journal(parent: Path, key: str, meta: dict[str, Any], segment_bytes: int) -> tuple[Journal, Path]:
    """The own journal; falls back to /var/tmp when the spool folder is not writable, since
    exiting would make Squid give up on logging (and then on itself)."""
    try:
        return Journal.create(parent, meta, segment_bytes=segment_bytes), parent
    except OSError as exc:
        fallback = FALLBACK_SPOOL / key
        log.error(
            "cannot create the journal in %s (%s); using %s instead. Fix: install -d -o proxy -g proxy %s",
            parent,
            exc,
            fallback,
            parent.parent,
        )
        return Journal.create(fallback, meta, segment_bytes=segment_bytes), fallback


def usage_and_check(args: list[str]) -> int:
    """--help (exit 0; no argument: exit 2) and --check: can Squid's user run this install?
    (exit 1 when not)."""
    from sqlops.squid.install_check import FIX, SQUID_USER, problem_for

    if not args or args[0] != "--check":
        sys.stderr.write(
            "usage: sqlops-logfile-daemon TARGET | --check [USER]\n"
            "Started by Squid (README, Setting it up):\n"
            "  logfile_daemon /usr/local/bin/sqlops-logfile-daemon\n"
            "  access_log daemon:TARGET squid\n"
            "TARGET: a [targets.NAME] name, a sqlops config file, or /host/db/table/user/pass\n"
            f"--check: whether USER (default {SQUID_USER}, Squid's user) can run this installation\n"
            f"This installation: {Path(sys.argv[0]).absolute()} on {sys.executable}\n"
        )
    user = args[1] if len(args) > 1 and args[0] == "--check" else SQUID_USER
    problem = problem_for(user)
    if problem is not None:
        sys.stderr.write(f"sqlops-logfile-daemon: WARNING: {problem}\n  fix: {FIX}\n")
    elif args and args[0] == "--check":
        sys.stderr.write(f"sqlops-logfile-daemon: user {user} can run {sys.executable} and sqlops\n")
    if args and args[0] == "--check":
        return 1 if problem else 0
    return 0 if args else 2


def run(args: list[str], stop_requested: list[bool]) -> int:
    """The daemon; `stop_requested` becomes [True] when SIGTERM/SIGINT arrived (the entry
    point catches them from its first instant)."""
    _limit_malloc_retention()
    sys.setswitchinterval(FAST_SWITCH)
    _setup_logging()
    if not args or args[0] in ("-h", "--help", "--check"):
        return usage_and_check(args)
    arg = args[0]
    if os.getuid() == 0:  # an admin trying it by hand: will it work when Squid starts it?
        from sqlops.squid.install_check import FIX, SQUID_USER, problem_for

        problem = problem_for(SQUID_USER)
        if problem is not None:
            log.warning("%s; fix: %s", problem, FIX)
    stats = Stats()
    target: Target | None
    try:
        target = resolve_target(arg)
        for warning in target.warnings:
            log.warning("%s", warning)
        ingest, parent = target.ingest, target.spool_dir
    except SqlopsError as exc:
        log.error("%s; journaling anyway and retrying the configuration", _one_line(exc))
        target, ingest = None, _ingest_settings_anyway()
        parent = Path(ingest.spool_dir) / target_key(arg)
    meta = {"target": target_key(arg), "table": target.table if target else None}
    own, parent = _open_journal(parent, target_key(arg), meta, ingest.segment_mb * MB)
    status = StatusFile(parent / f"status-{os.getpid()}.json")
    drainer = Drainer(arg, target, own, parent, stats)
    drainer.start()
    reader = Reader(0, own, ingest, stats)

    def on_signal(signum: int, frame: object) -> None:
        reader.terminating = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    reader.terminating = bool(stop_requested)

    def snapshot(state: str | None = None) -> DaemonStatus:
        return DaemonStatus(
            pid=os.getpid(),
            argument=target.description if target else f"(unresolved) {target_key(arg)}",
            table=target.table if target else None,
            journal=str(own.path),
            state=state or stats.state,
            mode=stats.mode,
            started_at=stats.started,
            updated_at=time.time(),
            bytes_read=stats.bytes_read,
            backlog_bytes=max(0, own.end - stats.committed_own) + stats.orphan_backlog,
            lag_seconds=round(own.oldest_unwritten_age(stats.committed_own), 3),
            rows_written=stats.rows_written,
            rows_per_second=round(stats.rows_per_second(), 1),
            lines_quarantined=stats.lines_quarantined,
            last_commit_at=stats.last_commit_at,
            last_error=stats.last_error,
            last_error_at=stats.last_error_at,
            reading_paused=stats.reading_paused,
            over_cap=stats.over_cap,
            spool_max_mb=ingest.spool_max_mb,
            journal_disk_bytes=own.disk_bytes(),
        )

    next_status = 0.0

    def tick() -> None:
        nonlocal next_status
        now = time.monotonic()
        if now >= next_status:
            next_status = now + 2.0
            status.write(snapshot())

    try:
        reader.run(tick)
    finally:
        own.close_input()
    deadline = time.monotonic() + ingest.shutdown_seconds
    while not drainer.done.is_set() and time.monotonic() < deadline:
        drainer.done.wait(0.5)
        tick()
    drainer.abandon.set()
    log.debug(
        "cpu seconds by thread: %s; writer waited %.2f s for batches, spent %.2f s writing %d batches",
        _thread_cpu(),
        stats.waiting_for_batches,
        stats.writing,
        stats.batches,
    )
    left = max(0, own.end - stats.committed_own)
    if drainer.done.is_set():
        log.info("stopping: everything written (%d rows this run)", stats.rows_written)
        status.write(snapshot("stopped"))
    else:
        log.warning(
            "stopping with %d journal bytes not yet written; the next start writes them (%s)", left, own.path
        )
        status.write(snapshot("stopped with backlog"))
    logging.shutdown()
    sys.stderr.flush()
    os._exit(0)
