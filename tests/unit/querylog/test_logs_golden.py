"""Every log format and pathological case, digested and compared with a hand-checked golden
summary; plus checks computed independently from the raw files (counts, sums)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from support.golden import assert_golden

from sqlops.querylog.reader import ReadOptions, digest_logs

from .summary import summarize

DATA = Path(__file__).parents[2] / "data" / "querylog"
LOGS = sorted(p.name for p in DATA.glob("*.log"))


def digest(name: str, **options: object) -> object:
    return digest_logs([str(DATA / name)], ReadOptions(jobs=1, **options))  # type: ignore[arg-type]


@pytest.mark.parametrize("name", LOGS)
def test_golden(name: str) -> None:
    report = digest(name)
    assert_golden(summarize(report).replace(str(DATA) + "/", ""), DATA / "golden" / (name + ".txt"))


def _query_time_sum(text: str) -> float:
    return sum(float(v) for v in re.findall(r"^# Query_time: ([0-9.]+)", text, re.M))


@pytest.mark.parametrize(
    "name,fake_entries",
    [
        ("mariadb1011-slow-default.log", 1),  # one INSERT holds a fake "# User@Host:" line in a literal
        ("mariadb1011-slow-queryplan-explain.log", 1),
        ("mariadb1011-slow-restart.log", 2),
        ("mysql97-slow.log", 0),
    ],
)
def test_counts_and_sums_match_the_raw_file(name: str, fake_entries: int) -> None:
    text = (DATA / name).read_text(encoding="utf-8", errors="replace")
    report = digest(name)
    entries = len(re.findall(r"^# User@Host: ", text, re.M)) - fake_entries
    assert report.queries == entries
    assert report.skipped_total == 0
    qt = report.totals["query_time"]
    assert qt is not None
    assert qt.total == pytest.approx(_query_time_sum(text), abs=1e-6)


def test_restart_headers_split_entries() -> None:
    report = digest("mariadb1011-slow-restart.log")
    assert report.sources[0].server_headers == 2
    # pt-query-digest merges the entry before the mid-file header with the header lines.
    assert all("Version:" not in (c.example.sql if c.example else "") for c in report.classes)


def test_fake_header_inside_a_literal_is_not_an_entry() -> None:
    report = digest("pathological-handwritten.log")
    qt = report.totals["query_time"]
    assert qt is not None and qt.max == pytest.approx(0.007)  # no 99 s query appears
    insert = next(c for c in report.classes if c.fingerprint.startswith("INSERT INTO notes"))
    assert insert.count == 1
    assert insert.example is not None and "# Query_time: 99" in insert.example.sql


def test_pathological_items_are_reported_with_lines() -> None:
    report = digest("pathological-handwritten.log")
    reasons = {(s.line, s.reason.split(":")[0]) for s in report.skipped}
    assert (7, "entry without a statement") in reasons
    assert (45, "truncated entry") in reasons
    assert report.queries == 6
    assert report.sources[0].server_headers == 1


def test_mariadb_milliseconds_and_full_scan() -> None:
    report = digest("mariadb1011-slow-queryplan-explain.log")
    scans = [c for c in report.classes if c.not_using_indexes]
    assert scans, "Full_scan: Yes entries must flag their classes"
    distinct = next(c for c in report.classes if c.fingerprint.startswith("SELECT DISTINCT domain"))
    assert distinct.no_index_count == distinct.count
    assert distinct.example is not None and distinct.example.explain is not None
    assert "ALL" in distinct.example.explain.split("\n")[1].split("\t")


def test_percona_fields() -> None:
    report = digest("percona80-handwritten.log")
    like = next(c for c in report.classes if "LIKE" in c.fingerprint)
    assert like.no_index_count == 2
    extra = {e.name: e for e in like.extra}
    assert extra["InnoDB_IO_r_ops"].total == 5
    assert extra["Tmp_disk_tables"].total == 1
    bytes_sent = like.metrics["bytes_sent"]
    assert bytes_sent is not None and bytes_sent.total == 4348
    insert = next(c for c in report.classes if c.fingerprint.startswith("INSERT"))
    assert insert.errors == 1  # Last_errno: 1062


def test_long_query_time_flags_fast_entries() -> None:
    plain = digest("mysql57-handwritten.log")
    assert not any(c.not_using_indexes for c in plain.classes)
    flagged = digest("mysql57-handwritten.log", long_query_time=0.3)
    by_fp = {c.fingerprint: c for c in flagged.classes}
    counts = by_fp["SELECT COUNT(*) FROM orders WHERE status = ?"]
    assert counts.no_index_count == 1  # 0.25 s < 0.3 s: logged only for not using an index
    assert counts.no_index_unknown == 1  # 0.512 s: slow anyway, the log does not say


def test_sticky_use_database() -> None:
    report = digest("mysql57-handwritten.log")
    quit_class = next(c for c in report.classes if c.fingerprint.startswith("administrator command"))
    assert quit_class.databases == {"reports": 1}  # MySQL writes `use` only when it changes


def test_general_log_counts_query_and_execute_records() -> None:
    text = (DATA / "mariadb1011-general.log").read_text(encoding="utf-8", errors="replace")
    records = len(re.findall(r"^(?:\d{6} [ \d]\d:\d\d:\d\d)?\t+ *\d+ (?:Query|Execute)\t", text, re.M))
    report = digest("mariadb1011-general.log")
    assert report.sources[0].kind == "general"
    assert report.queries == records
    execute = next(c for c in report.classes if c.fingerprint == "SELECT name FROM departments WHERE id = ?")
    assert execute.example is not None and "WHERE id = 3" in execute.example.sql


def test_mysql_log_slow_extra_capture() -> None:
    report = digest("mysql97-slow-extra.log")
    assert report.sources[0].server_headers == 2  # start of file and the restart
    failed = next(c for c in report.classes if "no_such_column" in c.fingerprint)
    assert failed.errors == 1  # Errno: 1054
    scan = next(c for c in report.classes if c.fingerprint == "SELECT COUNT(*) FROM items WHERE price > ?")
    assert scan.no_index_count == scan.count == 3  # Read_rnd_next 301 for 300 rows examined
    lookup = next(c for c in report.classes if c.fingerprint == "SELECT * FROM items WHERE id = ?")
    assert lookup.no_index_count == 0
    sent = scan.metrics["bytes_sent"]
    assert sent is not None and sent.count == 3
    fake = next(c for c in report.classes if c.fingerprint.startswith("INSERT INTO notes"))
    assert fake.count == 1
    qt = report.totals["query_time"]
    assert qt is not None and qt.max < 1  # the literal's "Query_time: 99" is not an entry


def test_not_using_indexes_from_long_query_time() -> None:
    report = digest("mysql97-slow-noindex.log", long_query_time=0.5)
    by_fp = {c.fingerprint: c for c in report.classes}
    for scan in ("SELECT COUNT(*) FROM items WHERE price > ?", "SELECT sku FROM items WHERE note = ?"):
        assert by_fp[scan].no_index_count == by_fp[scan].count == 3
    sleep = by_fp["SELECT SLEEP(?)"]
    assert sleep.no_index_count == 0 and sleep.no_index_unknown == 1  # logged for its 0.6 s


def test_mariadb_engine_times_are_milliseconds() -> None:
    report = digest("mariadb1011-slow-all.log")
    checked = 0
    for c in report.classes:
        engine = {e.name: e for e in c.extra}.get("Engine_time")
        qt = c.metrics["query_time"]
        if engine is None or qt is None or engine.total == 0:
            continue
        # Engine time is part of the query time; read as seconds it would exceed it.
        assert engine.total <= qt.total
        checked += 1
    assert checked >= 5
    assert any(c.not_using_indexes for c in report.classes)


def test_mysql_general_log_capture() -> None:
    text = (DATA / "mysql97-general.log").read_text(encoding="utf-8")
    records = len(re.findall(r"^\S+\t +\d+ (?:Query|Execute)\t", text, re.M))
    report = digest("mysql97-general.log")
    assert report.sources[0].kind == "general"
    assert report.queries == records
    multi_line = next(c for c in report.classes if c.fingerprint.startswith("SELECT sku, price FROM items"))
    assert multi_line.count == 3
    assert multi_line.databases == {"shop": 3}


def _big_insert(rows: int, seed: int) -> bytes:
    return b"INSERT INTO bulk (id, note, ts) VALUES " + b",\n".join(
        b"(%d, 'row %d; # Time: not a header', NOW(3))" % (seed + i, seed + i) for i in range(rows)
    )


def test_statements_over_a_megabyte(tmp_path: Path) -> None:
    entry = (
        b"# Time: 2026-11-27T10:00:0%dZ\n# User@Host: app[app] @  [10.0.0.1]  Id: 1\n"
        b"# Query_time: %d.000000  Lock_time: 0.000000 Rows_sent: 0  Rows_examined: 0\n"
        b"SET timestamp=1795773600;\n"
    )
    big_a, big_b = _big_insert(40000, 0), _big_insert(40000, 7)
    assert len(big_a) > 1024 * 1024
    log = tmp_path / "big.log"
    log.write_bytes(
        entry % (1, 2) + big_a + b";\n" + entry % (2, 1) + b"SELECT 1;\n" + entry % (3, 3) + big_b + b";\n"
    )
    report = digest_logs([str(log)], ReadOptions(jobs=1))
    assert report.queries == 3 and report.skipped_total == 0
    bulk = next(c for c in report.classes if c.fingerprint.startswith("INSERT INTO bulk"))
    assert bulk.fingerprint == "INSERT INTO bulk (id, note, ts) VALUES (?, ?, NOW(?))"
    assert bulk.count == 2
    # The 3 s entry is the worst: 4 header lines + 40000 rows, then 5 lines, so it starts on line 40010.
    assert bulk.example is not None and bulk.example.truncated and bulk.example.line == 40010
    assert len(bulk.example.sql) == 256 * 1024


def test_wrong_type_reports_instead_of_buffering(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A slow log forced through the general-log reader (and the reverse) yields no statements
    and reports its text block by block, without holding the file in memory. (The CLI refuses
    such a --type up front when the first block contradicts it; the readers must still cope
    with a file that changes its kind after the first block.)"""
    from sqlops.querylog import reader

    monkeypatch.setattr(reader, "check_forced_type", lambda *_: None)

    slow = (DATA / "mariadb1011-slow-default.log").read_bytes()
    big = tmp_path / "slow.log"
    big.write_bytes(slow * 20)  # ~10 MB: several blocks
    report = digest_logs([str(big)], ReadOptions(jobs=1, log_type="general"))
    assert report.queries == 0
    assert report.skipped_total >= big.stat().st_size // reader.BLOCK
    general = digest_logs([str(DATA / "mariadb1011-general.log")], ReadOptions(jobs=1, log_type="slow"))
    assert general.queries == 0 and general.skipped_total >= 1
