"""Squid's logfile-daemon protocol (verified against Squid 5.7, see tests/data/squid/).

Squid writes newline-terminated messages to the daemon's stdin; the first byte is the command:

=========  ===================================================================
``L...``   a log line (the rest of the message, without the newline)
``R``      rotate (``squid -k rotate``)
``T``      truncate
``O``      reopen
``F``      flush; sent after every line when ``buffered_logs`` is off
``r<n>``   the ``logfile_rotate`` count, sent when the log is opened
``b<n>``   ``buffered_logs`` (0/1), sent when the log is opened
=========  ===================================================================

The daemon journals the raw bytes; :func:`scan` turns journal bytes back into messages with
their byte offsets (for checkpoints and quarantine records).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

LOG = 0x4C  # "L"
ROTATE = 0x52  # "R"
KNOWN_COMMANDS = frozenset(b"LRTOFrb")


@dataclass(frozen=True)
class Message:
    offset: int  # global byte offset of the message's first byte
    command: int  # the command byte (LOG, ROTATE, ...); 0 for an empty message
    payload: bytes  # the bytes after the command byte, without the newline


def scan(data: bytes, base: int) -> tuple[list[Message], int]:
    """Complete messages in `data` (which starts at global offset `base`) and the offset just
    past the last complete one; a trailing partial message is left for the next call."""
    end = data.rfind(b"\n") + 1
    messages: list[Message] = []
    offset = base
    for raw in data[: end - 1].split(b"\n") if end else ():
        messages.append(Message(offset, raw[0] if raw else 0, raw[1:]))
        offset += len(raw) + 1
    return messages, base + end


def iter_log_lines(data: bytes, base: int) -> Iterator[tuple[int, bytes]]:
    """(offset, line) for each complete ``L`` message in `data`; other commands skipped."""
    end = data.rfind(b"\n")
    if end < 0:
        return
    offset = base
    for raw in data[:end].split(b"\n"):
        if raw[:1] == b"L":
            yield offset, raw[1:]
        offset += len(raw) + 1


def complete_length(data: bytes) -> int:
    """Bytes of `data` that form complete messages."""
    return data.rfind(b"\n") + 1


def has_rotate(previous_tail: bytes, chunk: bytes) -> bool:
    """Whether an ``R`` message ends in `chunk`; `previous_tail` holds the last bytes read
    before it (empty at the start of the stream)."""
    head = (previous_tail[-2:] if previous_tail else b"\n") + chunk[:3]
    if b"\nR\n" in head:
        return True
    # Look for the rare "\nR" rather than "\nR\n": a needle ending in the newline, which is in
    # every line, makes the search several times slower on a megabyte read.
    found = chunk.find(b"\nR")
    while found >= 0:
        if chunk[found + 2 : found + 3] == b"\n":
            return True
        found = chunk.find(b"\nR", found + 2)
    return False


def encode_line(line: bytes, *, flush: bool = True) -> bytes:
    """How Squid sends one log line (with ``buffered_logs off``: followed by ``F``)."""
    return b"L" + line + b"\n" + (b"F\n" if flush else b"")


def opening(rotate_count: int = 0, buffered: bool = False) -> bytes:
    """What Squid sends when it opens a daemon log."""
    return b"r%d\nb%d\nF\n" % (rotate_count, int(buffered))
