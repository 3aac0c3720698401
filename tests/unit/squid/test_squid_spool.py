"""The journal: appends cut at message boundaries, reads, releases, locks and adoption."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from sqlops.squid.spool import Journal, JournalLocked, adopt_orphans, journal_dirs


def segments(journal: Journal) -> list[bytes]:
    return [p.read_bytes() for p in sorted(journal.path.glob("*.seg"))]


def test_append_read_and_segments_end_on_message_boundaries(tmp_path: Path) -> None:
    journal = Journal.create(tmp_path, {"target": "t"}, segment_bytes=4096)
    data = b"".join(b"Lline %05d %s\nF\n" % (i, b"x" * 100) for i in range(200))
    for start in range(0, len(data), 1000):  # chunks that cut lines in the middle
        journal.append(data[start : start + 1000])
    assert journal.end == len(data)
    parts = segments(journal)
    assert len(parts) > 3 and b"".join(parts) == data
    assert all(part.endswith(b"\n") for part in parts[:-1])
    assert all(len(part) <= 4096 + 1000 for part in parts)
    # reads never cross a segment end, and give back exactly what was appended
    got, position = b"", 0
    while position < journal.end:
        piece = journal.read(position, 10_000)
        assert piece
        got += piece
        position += len(piece)
    assert got == data
    assert journal.meta()["target"] == "t"


def test_release_deletes_only_wholly_committed_segments(tmp_path: Path) -> None:
    journal = Journal.create(tmp_path, {}, segment_bytes=4096)
    for _ in range(10):
        journal.append(b"L" + b"y" * 2000 + b"\n")
    files = sorted(journal.path.glob("*.seg"))
    second_start = int(files[1].name.split(".")[0])
    journal.release(second_start - 1)
    assert sorted(journal.path.glob("*.seg")) == files  # the first is not complete yet
    journal.release(second_start)
    assert sorted(journal.path.glob("*.seg")) == files[1:]
    assert journal.start == second_start
    journal.release(journal.end)  # the last (open) segment always stays
    assert len(list(journal.path.glob("*.seg"))) == 1
    with pytest.raises(ValueError, match="before the journal start"):
        journal.read(0, 10)


def test_rotation_request_starts_a_new_segment_after_the_next_append(tmp_path: Path) -> None:
    journal = Journal.create(tmp_path, {}, segment_bytes=1 << 20)
    journal.append(b"Lone\nF\nLtw")
    journal.request_rotation()
    journal.append(b"o\nR\nLthr")  # cut after its last whole message
    journal.append(b"ee\n")
    assert segments(journal) == [b"Lone\nF\nLtwo\nR\n", b"Lthree\n"]


def test_lock_and_adoption(tmp_path: Path) -> None:
    live = Journal.create(tmp_path, {}, segment_bytes=4096)
    live.append(b"Lx\n")
    with pytest.raises(JournalLocked):
        Journal.adopt(live.path, segment_bytes=4096)  # its owner (this process) holds the lock
    assert list(adopt_orphans(tmp_path, set(), segment_bytes=4096)) == []
    live.close_input()
    live.release_lock()
    orphan = Journal.adopt(live.path, segment_bytes=4096)
    assert orphan.closed and not orphan.live and orphan.end == 3
    assert orphan.read(0, 10) == b"Lx\n"
    orphan.destroy()
    assert journal_dirs(tmp_path) == []


def test_a_killed_owner_leaves_an_adoptable_journal(tmp_path: Path) -> None:
    code = (
        "import sys, os, time\n"
        "from pathlib import Path\n"
        "from sqlops.squid.spool import Journal\n"
        "j = Journal.create(Path(sys.argv[1]), {}, segment_bytes=4096)\n"
        "j.append(b'Lkilled\\n')\n"
        "print(j.path, flush=True)\n"
        "time.sleep(60)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    path = Path(proc.stdout.readline().strip())
    with pytest.raises(JournalLocked):
        Journal.adopt(path, segment_bytes=4096)
    proc.kill()
    proc.wait()
    (adopted,) = adopt_orphans(tmp_path, set(), segment_bytes=4096)
    assert adopted.path == path and adopted.read(0, 100) == b"Lkilled\n"


def test_wait_wakes_on_append_and_close(tmp_path: Path) -> None:
    journal = Journal.create(tmp_path, {}, segment_bytes=4096)
    started = time.monotonic()
    assert journal.wait(0, 0.05) is False
    timer = threading.Timer(0.1, journal.append, args=(b"Lz\n",))
    timer.start()
    assert journal.wait(0, 5) is True
    assert time.monotonic() - started < 4
    threading.Timer(0.1, journal.close_input).start()
    assert journal.wait(journal.end, 5) is False
    assert journal.closed
    with pytest.raises(ValueError):
        journal.append(b"Lafter\n")


def test_lag_is_the_age_of_the_oldest_unwritten_byte(tmp_path: Path) -> None:
    journal = Journal.create(tmp_path, {}, segment_bytes=4096)
    journal.append(b"La\n")
    time.sleep(0.3)
    journal.append(b"Lb\n")
    assert journal.oldest_unwritten_age(0) >= 0.3
    assert journal.oldest_unwritten_age(journal.end) == 0
    journal.release(3)
    assert journal.oldest_unwritten_age(3) < 0.3


def test_permissions(tmp_path: Path) -> None:
    journal = Journal.create(tmp_path, {}, segment_bytes=4096)
    assert oct(os.stat(journal.path).st_mode & 0o777) == "0o750"
