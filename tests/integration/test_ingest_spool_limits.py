"""The journal's disk limits: past spool_max_mb the daemon complains but keeps journaling; at
the free-space reserve it stops reading from Squid, and resumes when space comes back.
Uses a small tmpfs (needs root, as the whole suite does)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1]))
from e2e.ingest_harness import DaemonProcess, status_files, wait_for, write_config

from sqlops.squid.protocol import encode_line

MB = 1 << 20


@pytest.fixture
def small_fs(tmp_path: Path):  # type: ignore[no-untyped-def]
    if os.geteuid() != 0:
        pytest.fail("this test mounts a tmpfs: run the suite as root (.ci/run does)")
    mount = tmp_path / "fs"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_cap_warns_and_reserve_pauses_reading(small_fs: Path, tmp_path: Path) -> None:
    filler = small_fs / "filler"
    filler.write_bytes(b"\0" * (10 * MB))  # 14 MB free, reserve 12 MB: about 2 MB of journal fit
    config = write_config(
        tmp_path / "sqlops.toml",
        host="127.0.0.1",
        port=1,  # no database: nothing drains, everything stays in the journal
        user="nobody",
        database="squid",
        spool=small_fs / "spool",
        spool_max_mb=1,
        spool_reserve_mb=12,
        fsync_seconds=0.0,
        shutdown_seconds=1.0,
    )
    daemon = DaemonProcess(str(config), log=tmp_path / "cache.log")
    line = encode_line(b"1700000000.000      4 192.0.2.1 TCP_MISS/200 639 GET http://h/" + b"x" * 900)
    total = 6 * MB // len(line) * len(line)
    payload = line * (total // len(line))
    sent = [0]

    def send() -> None:
        view = memoryview(payload)
        while sent[0] < len(payload):
            sent[0] += daemon.sock.send(view[sent[0] : sent[0] + 65536])

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    wait_for(lambda: "not reading from Squid" in daemon.stderr(), 30, "the daemon to stop reading")
    time.sleep(1.0)
    assert sender.is_alive(), "Squid's side must block (it queues) while the daemon does not read"
    log = daemon.stderr()
    assert "is over ingest.spool_max_mb = 1 MB" in log
    status = wait_for(
        lambda: [s for s in status_files(small_fs / "spool") if s["reading_paused"]], 10, "a paused status"
    )[0]
    assert status["over_cap"] and status["backlog_bytes"] > MB
    journaled = sum(p.stat().st_size for p in (small_fs / "spool").glob("*/j-*/*.seg"))
    assert MB < journaled < 4 * MB and sent[0] < len(payload)

    filler.unlink()  # space comes back: reading resumes and everything arrives
    sender.join(60)
    assert not sender.is_alive()
    wait_for(lambda: "reading from Squid again" in daemon.stderr(), 10, "reading to resume")
    daemon.close_input()
    daemon.wait(60)  # no database: it leaves the journal for the next start
    (journal,) = (small_fs / "spool").glob("*/j-*")
    assert b"".join(p.read_bytes() for p in sorted(journal.glob("*.seg"))) == payload
