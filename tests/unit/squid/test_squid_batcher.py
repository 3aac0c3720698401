"""Journal and file bytes → batches: every byte accounted for once, cut by size and age."""

from __future__ import annotations

import io
import itertools
import threading
import time
from pathlib import Path

from sqlops.schema.definitions import access_log_def
from sqlops.squid.batcher import Batch, ChunkOrigin, Prefetcher, journal_batches, stream_batches
from sqlops.squid.logformat import compile_format
from sqlops.squid.protocol import encode_line, opening
from sqlops.squid.rows import RowEncoder, columns_from_definition
from sqlops.squid.spool import Journal

COLUMNS = columns_from_definition(access_log_def().columns)
DATA = Path(__file__).parents[2] / "data" / "squid"


def make_encoder(sample: list[bytes]) -> RowEncoder:
    return RowEncoder(compile_format("squid"), COLUMNS, "+00:00", "tsv")


def native(i: int, url: bytes = b"") -> bytes:
    head = b"1700000000.%03d      4 192.0.2.1 TCP_MISS/200 639 GET" % (i % 1000)
    return head + b" http://h/%d%s - HIER_DIRECT/192.0.2.9 text/html" % (i, url)


def closed_journal(tmp_path: Path, data: bytes, segment_bytes: int = 1 << 20) -> Journal:
    journal = Journal.create(tmp_path, {}, segment_bytes=segment_bytes)
    for start in range(0, len(data), 777):
        journal.append(data[start : start + 777])
    journal.close_input()
    return journal


def drain(journal: Journal, start: int = 0, max_rows: int = 100) -> list[Batch]:
    return list(
        journal_batches(
            journal, start, make_encoder, max_rows=max_rows, max_seconds=0.05, stopping=threading.Event()
        )
    )


def check_contiguous(batches: list[Batch], start: int, end: int) -> None:
    assert batches[0].start == start and batches[-1].end == end
    for before, after in itertools.pairwise(batches):
        assert before.end == after.start


def test_every_byte_of_the_capture_is_accounted_for(tmp_path: Path) -> None:
    data = (DATA / "native-squid-5.7.bin").read_bytes()
    batches = drain(closed_journal(tmp_path, data))
    check_contiguous(batches, 0, len(data))
    assert sum(b.rows for b in batches) == 3 and not any(b.quarantine for b in batches)
    rows = [r for b in batches for r in b.row_list()]
    assert rows[0].split(b"\t")[7] == b"http://127.0.0.1:8099/caf\\\\xe9/latin1"
    sources = [s for b in batches for s in b.sources()]
    assert [data[p : p + 1] for p, _ in sources] == [b"L", b"L", b"L"]  # offsets of the messages
    assert sources[2][1].startswith(b"1795781685.797")


def test_batches_are_cut_by_size_and_cover_everything(tmp_path: Path) -> None:
    data = opening(0) + b"".join(encode_line(native(i)) for i in range(1000))
    batches = drain(closed_journal(tmp_path, data, segment_bytes=8192), max_rows=100)
    check_contiguous(batches, 0, len(data))
    assert sum(b.rows for b in batches) == 1000
    assert max(b.size for b in batches) <= 200  # whole reads are encoded at once: near max_rows
    rows = [r for b in batches for r in b.row_list()]
    assert [r.split(b"\t")[7] for r in rows] == [b"http://h/%d" % i for i in range(1000)]


def test_bad_messages_are_quarantined_with_their_offsets(tmp_path: Path) -> None:
    good = encode_line(native(1))
    data = (
        good
        + b"Lgarbage\n"
        + b"Xweird command\n"
        + good
        + b"R\n"
        + encode_line(native(2, b"\xff"))
        + b"Lcut sh"
    )
    batches = drain(closed_journal(tmp_path, data))
    check_contiguous(batches, 0, len(data))
    quarantined = [q for b in batches for q in b.quarantine]
    assert [(q.position, q.raw, q.reason) for q in quarantined] == [
        (len(good), b"garbage", "does not match log format 'squid'"),
        (len(good) + 9, b"Xweird command", "not a logfile-daemon message (unknown command byte)"),
        (len(data) - 7, b"Lcut sh", "incomplete message: the stream ended in the middle of it"),
    ]
    assert sum(b.rows for b in batches) == 3  # the two good lines and the \xff URL
    assert sum(b.lines for b in batches) == 6


def test_resuming_from_a_checkpoint_skips_what_was_written(tmp_path: Path) -> None:
    messages = [encode_line(native(i)) for i in range(50)]
    journal = closed_journal(tmp_path, b"".join(messages))
    middle = len(b"".join(messages[:20]))
    again = drain(journal, start=middle, max_rows=20)
    assert again[0].start == middle
    rows = [r for b in again for r in b.row_list()]
    assert [r.split(b"\t")[7] for r in rows] == [b"http://h/%d" % i for i in range(20, 50)]


def test_a_live_journal_flushes_by_age_and_ends_when_closed(tmp_path: Path) -> None:
    journal = Journal.create(tmp_path, {}, segment_bytes=1 << 20)
    got: list[tuple[float, Batch]] = []

    def consume() -> None:
        for batch in journal_batches(
            journal, 0, make_encoder, max_rows=10_000, max_seconds=0.3, stopping=threading.Event()
        ):
            got.append((time.monotonic(), batch))

    thread = threading.Thread(target=consume)
    thread.start()
    appended = time.monotonic()
    journal.append(encode_line(native(1)))
    time.sleep(0.8)
    assert len(got) == 1 and got[0][1].rows == 1  # a lone line does not wait for 10,000 more
    assert 0.25 <= got[0][0] - appended < 0.75
    journal.append(encode_line(native(2))[:20])  # a message still being written
    time.sleep(0.5)
    assert len(got) == 1
    journal.append(encode_line(native(2))[20:])
    journal.close_input()
    thread.join(5)
    assert not thread.is_alive()
    assert [b.rows for _, b in got] == [1, 1]
    assert got[-1][1].end == journal.end


def test_file_batches(tmp_path: Path) -> None:
    text = b"".join(native(i) + b"\n" for i in range(30))
    text += b"\n" + native(30) + b"\r\n" + b"not a log line\n" + native(31)  # blank, CRLF, junk, no newline
    unterminated: list[int] = []
    batches = list(
        stream_batches(io.BytesIO(text), "load:1", 0, make_encoder, max_rows=7, unterminated=unterminated)
    )
    check_contiguous(batches, 0, len(text) - len(native(31)))
    assert sum(b.rows for b in batches) == 31
    assert [q.raw for b in batches for q in b.quarantine] == [b"not a log line"]
    assert unterminated == [len(native(31))]


def test_prefetcher_passes_errors_and_stops() -> None:
    def failing(stopping: threading.Event):  # type: ignore[no-untyped-def]
        yield 1
        raise RuntimeError("boom")

    fetched = Prefetcher(failing)
    assert next(fetched) == 1
    try:
        next(fetched)
    except RuntimeError as exc:
        assert str(exc) == "boom"
    else:
        raise AssertionError("the producer's error was lost")

    def endless(stopping: threading.Event):  # type: ignore[no-untyped-def]
        n = 0
        while not stopping.is_set():
            n += 1
            yield n

    numbers = Prefetcher(endless)
    assert next(numbers) == 1
    numbers.close()
    assert not numbers._thread.is_alive()


def test_file_batches_stay_near_max_rows_on_the_block_path() -> None:
    text = b"".join(native(i) + b"\n" for i in range(2000))
    batches = list(stream_batches(io.BytesIO(text), "load:1", 0, make_encoder, max_rows=100))
    check_contiguous(batches, 0, len(text))
    assert len(batches) >= 10 and max(b.size for b in batches) <= 200
    assert all(isinstance(origin, ChunkOrigin) for b in batches for origin in b.origins)
