"""The on-disk journal between Squid and the database.

Every byte the daemon reads from Squid is appended, unparsed, to a journal before anything
else happens, so a dead database or a killed daemon loses nothing that was read. A journal is
a directory of append-only segment files named by the global byte offset they start at::

    <spool>/<target>/j-20250101T120000-1234-9f3c2a/
        lock                     flock'd by the one process that owns the journal
        meta.json                who created it, for `ingest status`
        00000000000000000000.seg
        00000000000067108864.seg

Segments are cut only at message boundaries (after a ``\\n``), so every closed segment holds
whole protocol messages. A position in the journal is a global byte offset; the writer commits
the offset it has written up to in the same transaction as the rows (the checkpoint), and
segments wholly below the committed offset are deleted.

Each daemon process starts a fresh journal and holds its lock. A journal whose lock is free
belongs to a process that exited (killed, crashed or stopped with a backlog): the next daemon
for the same target adopts it, drains it and deletes it.
"""

from __future__ import annotations

import collections
import contextlib
import errno
import fcntl
import json
import os
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlops.private import open_private_fd, private_dir, write_private

SEGMENT_SUFFIX = ".seg"
LOCK_NAME = "lock"
META_NAME = "meta.json"
JOURNAL_PREFIX = "j-"
# Where a daemon journals when its spool folder cannot be created (it says so in cache.log).
FALLBACK_SPOOL = Path("/var/tmp/sqlops-spool")


def new_journal_id() -> str:
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    return f"{JOURNAL_PREFIX}{stamp}-{os.getpid()}-{secrets.token_hex(4)}"


def _segment_name(start: int) -> str:
    return f"{start:020d}{SEGMENT_SUFFIX}"


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class JournalLocked(Exception):
    """Another live process owns this journal."""


class Journal:
    """One journal directory. Appends come from one thread (the stdin reader); reads and
    releases from the writer's threads. Positions are global byte offsets."""

    def __init__(self, path: Path, lock_fd: int, *, segment_bytes: int, live: bool) -> None:
        self.path = path
        self.id = path.name
        self.segment_bytes = max(4096, segment_bytes)
        self.live = live  # True for the journal this process is filling from stdin
        self._lock_fd = lock_fd
        self._mutex = threading.Lock()
        self._grown = threading.Condition(self._mutex)
        self._starts: list[int] = []
        self._read_fds: dict[int, int] = {}
        self._append_fd: int | None = None
        self._segment_used = 0
        self._rotate_pending = False
        self._closed = not live
        self._end = 0
        self._last_sync = time.monotonic()
        self._unsynced = False
        self._samples: collections.deque[tuple[int, float]] = collections.deque()
        self.released_upto = 0
        self._load_segments()

    # ---------------------------------------------------------------- creation and adoption

    @classmethod
    def create(cls, parent: Path, meta: dict[str, Any], *, segment_bytes: int) -> Journal:
        private_dir(parent)
        path = private_dir(parent / new_journal_id())
        lock_fd = open_private_fd(path / LOCK_NAME, os.O_RDWR)
        fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        info = {"created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "pid": os.getpid()}
        info["host"] = socket.gethostname()
        write_private(path / META_NAME, json.dumps({**info, **meta}, indent=1) + "\n")
        journal = cls(path, lock_fd, segment_bytes=segment_bytes, live=True)
        journal._open_segment(0)
        _fsync_dir(parent)
        return journal

    @classmethod
    def adopt(cls, path: Path, *, segment_bytes: int) -> Journal:
        """Take over a journal whose owner is gone; JournalLocked if it is still owned."""
        try:
            lock_fd = open_private_fd(path / LOCK_NAME, os.O_RDWR)
        except FileNotFoundError:
            raise JournalLocked(f"{path} disappeared") from None
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(lock_fd)
            raise JournalLocked(f"{path} is owned by a running process") from None
        if not (path / LOCK_NAME).exists():  # destroyed by its owner while we waited
            os.close(lock_fd)
            raise JournalLocked(f"{path} was just removed")
        return cls(path, lock_fd, segment_bytes=segment_bytes, live=False)

    def _load_segments(self) -> None:
        starts = []
        for entry in self.path.iterdir():
            if entry.name.endswith(SEGMENT_SUFFIX):
                with contextlib.suppress(ValueError):
                    starts.append(int(entry.name[: -len(SEGMENT_SUFFIX)]))
        starts.sort()
        self._starts = starts
        if starts:
            last = starts[-1]
            self._end = last + (self.path / _segment_name(last)).stat().st_size
            self.released_upto = starts[0]

    def meta(self) -> dict[str, Any]:
        try:
            return dict(json.loads((self.path / META_NAME).read_text()))
        except (OSError, ValueError):
            return {}

    # ---------------------------------------------------------------- appending (stdin side)

    def _open_segment(self, start: int) -> None:
        if self._append_fd is not None:
            self._sync_fd(self._append_fd)
            os.close(self._append_fd)
        fd = open_private_fd(self.path / _segment_name(start), os.O_WRONLY | os.O_APPEND)
        self._append_fd = fd
        self._segment_used = 0
        with self._mutex:
            self._starts.append(start)
        _fsync_dir(self.path)

    def request_rotation(self) -> None:
        """Start a new segment after the last whole message of the next append (Squid's `R`)."""
        self._rotate_pending = True

    def append(self, data: bytes) -> None:
        """Append bytes read from Squid. Raises OSError (e.g. ENOSPC) with nothing written
        past the last whole write, so the caller can retry the same bytes."""
        if self._closed:
            raise ValueError("journal is closed for appends")
        if self._rotate_pending or self._segment_used + len(data) > self.segment_bytes:
            cut = data.rfind(b"\n") + 1
            if cut > 0:
                self._write(data[:cut])
                self._open_segment(self._end)
                self._rotate_pending = False
                data = data[cut:]
        if data:
            self._write(data)

    def _write(self, data: bytes) -> None:
        assert self._append_fd is not None
        view = memoryview(data)
        while view:
            written = os.write(self._append_fd, view)
            view = view[written:]
            self._segment_used += written
            with self._grown:
                self._end += written
                self._grown.notify_all()
        self._unsynced = True
        now = time.monotonic()
        if not self._samples or now - self._samples[-1][1] >= 0.25:
            self._samples.append((self._end, now))

    def sync(self, every: float) -> None:
        """fsync the open segment when `every` seconds passed since the last one (0: never)."""
        if every <= 0 or not self._unsynced or self._append_fd is None:
            return
        now = time.monotonic()
        if now - self._last_sync >= every:
            self._sync_fd(self._append_fd)
            self._last_sync = now
            self._unsynced = False

    @staticmethod
    def _sync_fd(fd: int) -> None:
        with contextlib.suppress(OSError):
            os.fsync(fd)

    def close_input(self) -> None:
        """No more appends (EOF from Squid or shutdown)."""
        if self._append_fd is not None:
            self._sync_fd(self._append_fd)
            os.close(self._append_fd)
            self._append_fd = None
        with self._grown:
            self._closed = True
            self._grown.notify_all()

    # ---------------------------------------------------------------- reading (writer side)

    @property
    def end(self) -> int:
        return self._end

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def start(self) -> int:
        with self._mutex:
            return self._starts[0] if self._starts else self._end

    def wait(self, pos: int, timeout: float) -> bool:
        """Wait until there are bytes past `pos` or the journal is closed; True if data."""
        with self._grown:
            if self._end <= pos and not self._closed:
                self._grown.wait(timeout)
            return self._end > pos

    def read(self, pos: int, limit: int) -> bytes:
        """Up to `limit` bytes from `pos`, never across a segment end."""
        with self._mutex:
            if pos >= self._end:
                return b""
            index = _bisect_right(self._starts, pos) - 1
            if index < 0:
                raise ValueError(f"position {pos} is before the journal start {self._starts[:1]}")
            start = self._starts[index]
            stop = self._starts[index + 1] if index + 1 < len(self._starts) else self._end
            fd = self._read_fds.get(start)
            if fd is None:
                fd = os.open(self.path / _segment_name(start), os.O_RDONLY)
                self._read_fds[start] = fd
        return os.pread(fd, min(limit, stop - pos), pos - start)

    def release(self, upto: int) -> None:
        """Delete segments that end at or before `upto` (committed); keeps the last one."""
        doomed: list[int] = []
        with self._mutex:
            while len(self._starts) > 1 and self._starts[1] <= upto:
                doomed.append(self._starts.pop(0))
            while self._samples and self._samples[0][0] <= upto:
                self._samples.popleft()
            self.released_upto = max(self.released_upto, upto)
        for start in doomed:
            fd = self._read_fds.pop(start, None)
            if fd is not None:
                os.close(fd)
            with contextlib.suppress(FileNotFoundError):
                (self.path / _segment_name(start)).unlink()

    def oldest_unwritten_age(self, committed: int) -> float:
        """Seconds since the oldest byte past `committed` was appended (0 when none)."""
        if self._end <= committed:
            return 0.0
        with self._mutex:
            for position, when in self._samples:
                if position > committed:
                    return max(0.0, time.monotonic() - when)
        return 0.0

    def disk_bytes(self) -> int:
        total = 0
        with self._mutex:
            starts = list(self._starts)
        for start in starts:
            with contextlib.suppress(OSError):
                total += (self.path / _segment_name(start)).stat().st_size
        return total

    # ---------------------------------------------------------------- teardown

    def release_lock(self) -> None:
        for fd in self._read_fds.values():
            with contextlib.suppress(OSError):
                os.close(fd)
        self._read_fds.clear()
        if self._append_fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._append_fd)
            self._append_fd = None
        with contextlib.suppress(OSError):
            os.close(self._lock_fd)

    def destroy(self) -> None:
        """Delete the whole journal (only once everything in it is committed)."""
        for entry in list(self.path.iterdir()):
            if entry.name != LOCK_NAME:
                with contextlib.suppress(FileNotFoundError):
                    entry.unlink()
        with contextlib.suppress(FileNotFoundError):
            (self.path / LOCK_NAME).unlink()
        self.release_lock()
        with contextlib.suppress(OSError):
            self.path.rmdir()


def _bisect_right(items: list[int], value: int) -> int:
    lo, hi = 0, len(items)
    while lo < hi:
        mid = (lo + hi) // 2
        if value < items[mid]:
            hi = mid
        else:
            lo = mid + 1
    return lo


def journal_dirs(parent: Path) -> list[Path]:
    """Journal directories under a target's spool folder, oldest first."""
    try:
        entries = [p for p in parent.iterdir() if p.is_dir() and p.name.startswith(JOURNAL_PREFIX)]
    except FileNotFoundError:
        return []
    return sorted(entries, key=lambda p: p.name)


def adopt_orphans(parent: Path, exclude: set[str], *, segment_bytes: int) -> Iterator[Journal]:
    """Lock and yield every journal under `parent` whose owner is gone."""
    for path in journal_dirs(parent):
        if path.name in exclude:
            continue
        try:
            yield Journal.adopt(path, segment_bytes=segment_bytes)
        except JournalLocked:
            continue
        except OSError as exc:  # unreadable leftovers must not stop the daemon
            if exc.errno not in (errno.ENOENT, errno.ENOTDIR):
                raise


def free_bytes(path: Path) -> int:
    """Bytes available to unprivileged writers on the filesystem holding `path`."""
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize
