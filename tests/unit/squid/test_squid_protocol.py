"""The logfile-daemon protocol, checked against bytes Squid 5.7 really sent (tests/data/squid)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sqlops.squid.protocol import (
    LOG,
    ROTATE,
    complete_length,
    encode_line,
    has_rotate,
    iter_log_lines,
    opening,
    scan,
)

DATA = Path(__file__).parents[2] / "data" / "squid"


def test_native_capture_messages() -> None:
    data = (DATA / "native-squid-5.7.bin").read_bytes()
    messages, end = scan(data, 1000)
    assert end == 1000 + len(data)
    commands = bytes(m.command for m in messages)
    # Squid opens with the rotate count, the buffering flag and a flush, then sends each line
    # followed by F (buffered_logs off).
    assert commands == b"rbFLFLFLF"
    assert messages[0].payload == b"3" and messages[1].payload == b"0"
    lines = [m for m in messages if m.command == LOG]
    assert [m.offset for m in lines] == [1000 + p + 1 for p in _all(data, b"\nL")]
    assert lines[0].payload.startswith(b"1795781685.727      4 127.0.0.1 TCP_MISS/404 639 GET")
    assert b"caf\xe9/latin1" in lines[0].payload  # a raw Latin-1 byte, as Squid sent it
    assert b"caf\xc3\xa9/utf8" in lines[1].payload


def _all(data: bytes, needle: bytes) -> list[int]:
    out, start = [], 0
    while (i := data.find(needle, start)) >= 0:
        out.append(i)
        start = i + 1
    return out


def test_iter_log_lines_offsets_point_at_the_L() -> None:
    data = (DATA / "tsv-squid-5.7.bin").read_bytes()
    found = list(iter_log_lines(data, 50))
    assert len(found) == 3
    for offset, line in found:
        assert data[offset - 50 : offset - 50 + 1] == b"L"
        assert data[offset - 50 + 1 :].startswith(line)
        assert b"\t" in line


def test_partial_message_is_left_for_later() -> None:
    data = b"Lfirst\nF\nLsec"
    messages, end = scan(data, 0)
    assert [m.payload for m in messages] == [b"first", b""]
    assert end == len(b"Lfirst\nF\n") == complete_length(data)
    assert list(iter_log_lines(data, 0)) == [(0, b"first")]
    assert scan(b"Lno newline yet", 7) == ([], 7)


@pytest.mark.parametrize(
    ("tail", "chunk", "expected"),
    [
        (b"", b"R\nLx\n", True),  # at the very start of the stream
        (b"x\n", b"R\n", True),
        (b"\nR", b"\nLx\n", True),  # split between reads
        (b"x\n", b"RLy\n", False),  # not a whole message
        (b"", b"Lx\nLRy\n", False),  # R inside a log line
        (b"Lx", b"R\n", False),  # continues a log line
        (b"x\n", b"Lx\nF\nR\nF\n", True),
    ],
)
def test_rotate_detection(tail: bytes, chunk: bytes, expected: bool) -> None:
    assert has_rotate(tail, chunk) is expected


def test_encoding_matches_what_squid_sends() -> None:
    data = (DATA / "native-squid-5.7.bin").read_bytes()
    lines = [line for _, line in iter_log_lines(data, 0)]
    assert opening(3, False) + b"".join(encode_line(line) for line in lines) == data
    assert encode_line(b"x", flush=False) == b"Lx\n"
    assert ord("R") == ROTATE
