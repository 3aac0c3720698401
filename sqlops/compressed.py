"""Reading logs that may be gzip-compressed (files and stdin), with one message for a damaged
file shared by `sqlops digest` and `sqlops ingest load`."""

from __future__ import annotations

import gzip
import io
import zlib
from typing import BinaryIO

from sqlops.errors import InputError

GZIP_MAGIC = b"\x1f\x8b"
# What reading a truncated or corrupt gzip stream raises.
GZIP_ERRORS = (gzip.BadGzipFile, EOFError, zlib.error)


def damaged(name: str, exc: BaseException, command: str) -> InputError:
    """The what/why/fix error for a compressed log that cannot be read to its end."""
    return InputError(
        f"{name}: the compressed file is damaged",
        why=str(exc) or "unexpected end of data",
        fix=f"decompress what can be recovered (zcat FILE > log) and {command} that",
    )


def transparent_stdin(stream: BinaryIO) -> BinaryIO:
    """`stream` (stdin), decompressed when it starts with gzip's magic bytes."""
    buffered: io.BufferedReader = (
        stream if isinstance(stream, io.BufferedReader) else io.BufferedReader(stream)  # type: ignore[arg-type]
    )
    if buffered.peek(2)[:2] == GZIP_MAGIC:
        return gzip.GzipFile(fileobj=buffered, mode="rb")  # type: ignore[return-value]
    return buffered
