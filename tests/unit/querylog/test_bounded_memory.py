"""Bounded memory: huge statements keep a bounded example and get their fingerprint from a
bounded amount of tokenizer work; runs with more distinct classes than MAX_CLASSES fold the
smallest ones together and still count everything."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from sqlops.querylog.digest import EXAMPLE_LIMIT, SQL, DigestAccumulator
from sqlops.querylog.fingerprint import fingerprint, fingerprint_big
from sqlops.querylog.reader import ReadOptions, digest_logs, read_logs
from sqlops.querylog.render import report_json, report_text

# The module (sqlops.querylog exports a function of the same name).
fp_module = importlib.import_module("sqlops.querylog.fingerprint")


def _entry(i: int, sql: str, query_time: float = 0.5) -> str:
    return (
        f"# Time: 2026-11-27T10:00:{i % 60:02d}.000000Z\n# User@Host: app[app] @  [10.0.0.1]  Id: 1\n"
        f"# Query_time: {query_time:.6f}  Lock_time: 0.000010 Rows_sent: 1  Rows_examined: 1\n"
        f"SET timestamp={1795770000 + i};\n{sql};\n"
    )


def _bulk(rows: int, tail: str = "") -> str:
    values = ",".join(f"({i}, 'name {i}', {i % 100}.5, NULL)" for i in range(rows))
    return f"INSERT INTO big (id, name, price, note) VALUES {values}{tail}"


@pytest.mark.parametrize(
    "sql",
    [
        _bulk(40_000),
        _bulk(40_000, " ON DUPLICATE KEY UPDATE name = VALUES(name)"),
        "INSERT INTO t VALUES (1, '" + "x" * 1_500_000 + "')",
        "SELECT * FROM t WHERE `id` IN (" + ",".join(str(i) for i in range(250_000)) + ")",
    ],
    ids=["bulk", "bulk-upsert", "long-string", "in-list"],
)
def test_big_statement_fingerprint_is_bounded_and_stable(sql: str) -> None:
    data = sql.encode()
    assert len(data) > fp_module.BIG_FINGERPRINT
    big = fingerprint_big(data)
    assert big.complete
    assert len(big.text) < 2 * fp_module.PREFIX
    # Other values, same shape: the same class.
    other = data.replace(b"'name ", b"'other name ").replace(b"xxx", b"yyy")
    assert fingerprint_big(other).key == big.key


def test_uniform_bulk_insert_gets_the_tokenizers_fingerprint(monkeypatch: pytest.MonkeyPatch) -> None:
    data = _bulk(3000).encode()
    monkeypatch.setattr(fp_module, "PREFIX", 4096)
    assert fingerprint_big(data) == fingerprint(data)
    # Different trailing clauses stay apart.
    upsert = _bulk(3000, " ON DUPLICATE KEY UPDATE name = VALUES(name)").encode()
    assert fingerprint_big(upsert).key != fingerprint_big(data).key
    assert (
        fingerprint_big(upsert).key
        != fingerprint_big(_bulk(3000, " ON DUPLICATE KEY UPDATE price = 1").encode()).key
    )


def test_open_literal_in_a_big_statement_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fp_module, "PREFIX", 4096)
    assert not fingerprint_big(_bulk(3000).encode() + b", (1, 'never closed").complete


def test_a_huge_entry_keeps_a_bounded_example(tmp_path: Path) -> None:
    log = tmp_path / "slow.log"
    log.write_text(_entry(1, "SELECT 1") + _entry(2, _bulk(60_000), 9.0) + _entry(3, "SELECT 2"))
    acc = read_logs([str(log)], ReadOptions(jobs=1))
    (big,) = [c for c in acc.classes.values() if c.text.startswith(b"INSERT")]
    assert big.worst is not None and len(big.worst[SQL]) == EXAMPLE_LIMIT + 1
    report = digest_logs([str(log)], ReadOptions(jobs=1))
    example = next(c.example for c in report.classes if c.fingerprint.startswith("INSERT"))
    assert example is not None and example.truncated and example.query_time == 9.0


def test_classes_beyond_the_cap_are_folded_and_counted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "slow.log"
    # 400 distinct classes; class i takes i ms, and the heaviest ones come last.
    log.write_text("".join(_entry(i, f"SELECT c{i} FROM t WHERE id = {i}", i / 1000) for i in range(400)))
    full = digest_logs([str(log)], ReadOptions(jobs=1))
    monkeypatch.setattr(DigestAccumulator, "MAX_CLASSES", 100)
    monkeypatch.setattr(DigestAccumulator, "FLUSH_ROWS", 50)
    capped = digest_logs([str(log)], ReadOptions(jobs=1))
    assert capped.class_count == full.class_count == 400
    assert capped.queries == full.queries == 400
    assert capped.totals == full.totals
    assert capped.beyond_cap is not None
    assert len(capped.classes) + capped.beyond_cap.classes == 400
    assert len(capped.classes) <= 100
    # The heaviest classes are kept, with exactly their statistics.
    assert [c.id for c in capped.classes[:20]] == [c.id for c in full.classes[:20]]
    assert capped.classes[0] == full.classes[0]
    data = report_json(capped, 20)
    assert data["classes_beyond_cap"]["classes"] == capped.beyond_cap.classes
    assert "beyond the cap" in report_text(capped, 20)


def test_joining_across_header_like_lines_scans_each_byte_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A literal holding 60 header-like lines: the reader checks the statement line by line,
    and each check reads only the new text (checking the whole text again was quadratic)."""
    from sqlops.querylog import slowlog

    fake = "".join(
        f"# Time: 2020-01-01T00:00:{k:02d}.000000Z\n# User@Host: x[x] @ y [10.0.0.1]  Id: {k}\nSELECT 1;\n"
        for k in range(60)
    )
    text = "".join(_entry(i, f"INSERT INTO notes VALUES ({i}, 'pasted:\n{fake}')") for i in range(5))
    log = tmp_path / "slow.log"
    log.write_text(text)
    scanned = []
    real = slowlog.lexical_state

    def counting(data: bytes, start: int, end: int, state: bytes = b"") -> bytes:
        scanned.append(end - start)
        return real(data, start, end, state)

    monkeypatch.setattr(slowlog, "lexical_state", counting)
    report = digest_logs([str(log)], ReadOptions(jobs=1))
    assert report.queries == 5 and report.class_count == 1 and report.skipped_total == 0
    assert sum(scanned) <= len(text)
