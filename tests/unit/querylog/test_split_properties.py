"""Properties of reading: a log split at any entry boundary into two files digests to the same
aggregate as the whole file, and the parallel byte-range reader gives exactly what one process
gives (same classes, statistics, sketches, databases, worst examples and line numbers)."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sqlops.querylog import reader
from sqlops.querylog.digest import DigestAccumulator, build_report
from sqlops.querylog.fingerprint import Fingerprinter
from sqlops.querylog.reader import ReadOptions, entry_start_at_or_after, merge_ranges, read_one, read_ranges
from sqlops.querylog.render import report_json

from .summary import accumulator_state

HEADER = (
    b"/usr/sbin/mysqld, Version: 8.4.3 (MySQL Community Server - GPL). started with:\n"
    b"Tcp port: 3306  Unix socket: /run/mysqld/mysqld.sock\nTime                 Id Command    Argument\n"
)


def _entry(i: int, kind: str, value: int, use: str | None) -> bytes:
    # MariaDB writes "# Time:" only when the second changes: some entries go without it.
    time_line = (
        "" if value % 3 == 0 else f"# Time: 2026-11-27T10:{i // 60 % 60:02d}:{i % 60:02d}.{value:06d}Z\n"
    )
    head = (
        f"{time_line}# User@Host: u{value % 3}[u{value % 3}] @  [10.0.0.{value % 5}]  Id: {i}\n"
        f"# Query_time: {value % 997 / 1000:.6f}  Lock_time: 0.000001 Rows_sent: {value % 7}  "
        f"Rows_examined: {value % 1009}\n"
    ).encode()
    if use:
        head += f"use {use};\n".encode()
    head += f"SET timestamp={1795770000 + i};\n".encode()
    bodies = {
        "select": f"SELECT * FROM t{value % 4} WHERE id = {value};\n",
        "in": "SELECT * FROM u WHERE id IN (" + ", ".join(str(v) for v in range(value % 9 + 1)) + ");\n",
        "multi": f"SELECT a,\n  b\nFROM t WHERE c = '{value}'\n  AND d = {value};\n",
        "fake": (
            f"INSERT INTO notes VALUES ({value}, 'log:\n# Time: 2020-01-01T00:00:00.000000Z\n"
            "# User@Host: x[x] @ y []  Id: 1\n# Query_time: 99.000000  Lock_time: 0.000000 Rows_sent: 0  "
            "Rows_examined: 0\nSELECT 1;\n');\n"
        ),
        "empty": "",
        "admin": "# administrator command: Quit;\n",
        "junk": f"SELECT {value} FROM dual WHERE x = 'no terminator'\n",
    }
    return head + bodies[kind].encode()


KINDS = ["select", "select", "in", "multi", "fake", "empty", "admin", "junk", "header"]
entries_strategy = st.lists(
    st.tuples(st.sampled_from(KINDS), st.integers(0, 10**6), st.sampled_from([None, None, "a", "b"])),
    min_size=1,
    max_size=40,
)


def build(entries: list[tuple[str, int, str | None]], *, every_entry_has_db: bool) -> list[bytes]:
    out = []
    for i, (kind, value, use) in enumerate(entries):
        if kind == "header":
            out.append(HEADER)
            continue
        out.append(_entry(i, kind, value, (use or "a") if every_entry_has_db else use))
    return out


def read(paths: list[Path]) -> DigestAccumulator:
    return reader.read_logs([str(p) for p in paths], ReadOptions(jobs=1))


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(entries_strategy, st.data())
def test_split_at_any_entry_boundary(
    tmp_path: Path, entries: list[tuple[str, int, str | None]], data
) -> None:  # type: ignore[no-untyped-def]
    # Each entry names its database, as the server does after it reopens a log file.
    chunks = build(entries, every_entry_has_db=True)
    cut = data.draw(st.integers(0, len(chunks)))
    whole, first, second = tmp_path / "whole.log", tmp_path / "a.log", tmp_path / "b.log"
    whole.write_bytes(b"".join(chunks))
    first.write_bytes(b"".join(chunks[:cut]))
    second.write_bytes(b"".join(chunks[cut:]))
    assert accumulator_state(read([whole]), positions=False) == accumulator_state(
        read([first, second]), positions=False
    )


# Entries with occasional `use` lines, or none at all (a MySQL log of a single database).
entries_with_sparse_or_no_use = st.one_of(
    entries_strategy,
    st.lists(st.tuples(st.sampled_from(KINDS), st.integers(0, 10**6), st.none()), min_size=1, max_size=40),
)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(entries_with_sparse_or_no_use, st.lists(st.floats(0, 1), max_size=6))
def test_byte_range_reader_equals_one_process(
    tmp_path: Path, entries: list[tuple[str, int, str | None]], cuts: list[float]
) -> None:
    # Databases only from occasional `use` lines: ranges must inherit them from the range before.
    path = tmp_path / "slow.log"
    path.write_bytes(b"".join(build(entries, every_entry_has_db=False)))
    size = path.stat().st_size
    single = read([path])

    starts = sorted({0} | {entry_start_at_or_after(str(path), int(c * size)) for c in cuts})
    starts = [s for s in starts if s < size] or [0]
    # Worker results cross a process boundary: pickle them as the pool does.
    results = [pickle.loads(pickle.dumps(r)) for r in read_ranges(str(path), starts, size, None, jobs=1)]
    parallel = DigestAccumulator()
    source = parallel.add_source(str(path), "slow")
    merge_ranges(parallel, source, results)
    assert accumulator_state(parallel) == accumulator_state(single)


@pytest.mark.parametrize("jobs", [2, 3, 5])
@pytest.mark.parametrize("use_lines", [True, False], ids=["sparse-use", "no-use"])
def test_parallel_processes_on_a_larger_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, jobs: int, use_lines: bool
) -> None:
    import random

    rng = random.Random(7)
    kinds = ["select", "select", "in", "multi", "select", "fake", "admin", "empty"]
    dbs = [None] * 20 + (["a", "b"] if use_lines else [])
    chunks = build(
        [(rng.choice(kinds), rng.randrange(10**6), rng.choice(dbs)) for _ in range(20000)],
        every_entry_has_db=False,
    )
    path = tmp_path / "slow.log"
    path.write_bytes(b"".join(chunks))
    single = read([path])
    monkeypatch.setattr(reader, "PARALLEL_MIN_BYTES", 0)
    acc = DigestAccumulator()
    read_one(str(path), acc, Fingerprinter(), ReadOptions(jobs=jobs))
    assert accumulator_state(acc) == accumulator_state(single)
    assert acc.sources[0].entries == single.sources[0].entries
    # The report a user sees: same JSON, and no internal marker anywhere in it.
    as_json = json.dumps(report_json(build_report(acc), 1000))
    assert as_json == json.dumps(report_json(build_report(single), 1000))
    assert "inherit" not in as_json
