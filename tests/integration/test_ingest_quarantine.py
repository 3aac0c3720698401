"""`sqlops ingest quarantine list|show|replay|purge` on both flavours, and non-UTF-8 values.

Replay must store each line exactly once: replaying twice, a failure part-way, a crash inside
the transaction and a crash between adopting a fallback file and rewriting it all leave every
line stored once (checked by counting rows per URL).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from e2e.ingest_harness import config_for

from sqlops.cli import main as sqlops_main
from sqlops.config import load_config
from sqlops.squid import quarantine
from sqlops.squid.batcher import Quarantined
from sqlops.squid.quarantine import QuarantineFilter, replay
from sqlops.squid.writer import QUARANTINE_FILE, append_quarantine_file


@pytest.fixture
def config(db: Any, tmp_path: Path) -> Path:
    path = config_for(db, tmp_path)  # ingest.spool_dir = tmp_path/spool
    assert sqlops_main(["--config", str(path), "schema", "init"]) == 0
    return path


def native(i: int, user: bytes = b"-") -> bytes:
    return (
        b"1700000000.%03d      4 10.0.0.1 TCP_MISS/200 639 GET http://n/%d %s HIER_DIRECT/192.0.2.9 text/html"
        % (
            i,
            i,
            user,
        )
    )


def mysql_style(i: int) -> bytes:
    return (
        b"1700000000.%03d      4 10.0.0.1 TCP_MISS 200 639 GET http://m/%d - HIER_DIRECT 192.0.2.1 text/html"
        % (
            i,
            i,
        )
    )


def run(config: Path, capsys: Any, *args: str, status: int = 0) -> str:
    capsys.readouterr()
    assert sqlops_main(["--config", str(config), *args]) == status, capsys.readouterr()
    return str(capsys.readouterr().out)


def run_json(config: Path, capsys: Any, *args: str) -> Any:
    return json.loads(run(config, capsys, *args, "--format", "json"))


def per_url(db: Any, prefix: str) -> dict[str, int]:
    rows = db.sql(
        "SELECT http_url, COUNT(*) FROM access_log WHERE http_url LIKE %s GROUP BY http_url", (prefix + "%",)
    )
    return {url: int(n) for url, n in rows}


def quarantined_mixed_file(config: Path, capsys: Any, tmp_path: Path, mysql_lines: int = 20) -> None:
    """A native log with lines in log_db_daemon's format among them, loaded as native: the
    mysql-style lines are quarantined."""
    log = tmp_path / "mixed.log"
    lines = [native(i) for i in range(10)] + [mysql_style(i) for i in range(mysql_lines)]
    log.write_bytes(b"".join(line + b"\n" for line in lines))
    (result,) = run_json(config, capsys, "ingest", "load", "--max-quarantine-ratio", "1", str(log))
    assert (result["rows"], result["quarantined"]) == (10, mysql_lines)


def test_non_utf8_user_name_is_quarantined_exactly_and_replays_into_a_varbinary_column(
    db: Any, config: Path, tmp_path: Path, capsys: Any
) -> None:
    log = tmp_path / "users.log"
    log.write_bytes(
        native(1, b"jos\xe9") + b"\n" + native(2, b"jos\xc3\xa9") + b"\n" + native(3, b"jos\\xe9") + b"\n"
    )
    (result,) = run_json(config, capsys, "ingest", "load", "--max-quarantine-ratio", "1", str(log))
    assert (result["rows"], result["quarantined"]) == (2, 1)
    # valid UTF-8 is text; a real backslash sequence stays what it was, never confused with bytes
    assert sorted(db.sql("SELECT http_username FROM access_log")) == [("jos\\xe9",), ("josé",)]
    (line,) = run_json(config, capsys, "ingest", "quarantine", "list")["lines"]
    assert "http_username: not valid UTF-8 (byte 0xe9 at offset 3)" in line["reason"]
    shown = run_json(config, capsys, "ingest", "quarantine", "show", line["ref"])
    assert __import__("base64").b64decode(shown["raw_base64"]) == native(1, b"jos\xe9")
    # the admin makes the column binary, as the reason says, and replays
    db.sql("ALTER TABLE access_log MODIFY http_username VARBINARY(255) NULL")
    replayed = run_json(config, capsys, "ingest", "quarantine", "replay")
    assert (replayed["stored"], replayed["still_quarantined"]) == (1, 0)
    assert db.sql("SELECT http_username FROM access_log WHERE http_url = 'http://n/1'") == [(b"jos\xe9",)]
    assert run_json(config, capsys, "ingest", "quarantine", "list")["lines"] == []


def test_replay_twice_stores_each_line_once(db: Any, config: Path, tmp_path: Path, capsys: Any) -> None:
    quarantined_mixed_file(config, capsys, tmp_path)
    # with the wrong format nothing fits: the lines stay, with the new reason
    same = run_json(config, capsys, "ingest", "quarantine", "replay", "--log-format", "common")
    assert (same["selected"], same["stored"], same["still_quarantined"]) == (20, 0, 20)
    assert db.sql("SELECT COUNT(*) FROM sqlops_ingest_quarantine") == [(20,)]
    first = run_json(config, capsys, "ingest", "quarantine", "replay", "--log-format", "squid_mysql")
    assert (first["stored"], first["still_quarantined"]) == (20, 0)
    second = run_json(config, capsys, "ingest", "quarantine", "replay", "--log-format", "squid_mysql")
    assert (second["selected"], second["stored"]) == (0, 0)
    assert per_url(db, "http://m/") == {f"http://m/{i}": 1 for i in range(20)}
    assert db.sql("SELECT COUNT(*) FROM sqlops_ingest_quarantine") == [(0,)]


def test_replay_after_a_failure_part_way_or_inside_the_transaction_never_duplicates(
    db: Any, config: Path, tmp_path: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    quarantined_mixed_file(config, capsys, tmp_path)
    loaded = load_config(config)
    settings, roots = loaded.config.database, [tmp_path / "spool"]

    def stop_after_first(stored: int) -> None:
        raise RuntimeError("killed after the first group")

    with pytest.raises(RuntimeError):
        replay(
            settings,
            "access_log",
            "squid_mysql",
            roots,
            QuarantineFilter(),
            group_rows=6,
            on_group=stop_after_first,
        )
    assert len(per_url(db, "http://m/")) == 6
    # a crash after the rows are sent but before the commit: nothing of that group stays
    original = quarantine._ReplayCheckpoint.advance

    def crash(self: Any, session: Any, batch: Any, rows: int, quarantined: int) -> None:
        original(self, session, batch, rows, quarantined)
        raise ConnectionError("connection lost before COMMIT")

    monkeypatch.setattr(quarantine._ReplayCheckpoint, "advance", crash)
    with pytest.raises(ConnectionError):
        replay(settings, "access_log", "squid_mysql", roots, QuarantineFilter(), group_rows=6)
    assert len(per_url(db, "http://m/")) == 6
    monkeypatch.setattr(quarantine._ReplayCheckpoint, "advance", original)
    done = replay(settings, "access_log", "squid_mysql", roots, QuarantineFilter(), group_rows=6)
    assert (done.selected, done.stored) == (14, 14)
    assert per_url(db, "http://m/") == {f"http://m/{i}": 1 for i in range(20)}


def test_fallback_file_lines_are_listed_adopted_and_replayed_once(
    db: Any, config: Path, tmp_path: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    quarantined_mixed_file(config, capsys, tmp_path, mysql_lines=2)  # two lines in the table
    db.sql("UPDATE sqlops_ingest_quarantine SET stream = 'load:x'")
    folder = tmp_path / "spool" / "target-proxy1"
    items = [Quarantined(100 * i, mysql_style(i + 10), "does not match log format 'squid'") for i in range(5)]
    append_quarantine_file(folder / QUARANTINE_FILE, "j-file", "access_log", items)
    append_quarantine_file(folder / QUARANTINE_FILE, "j-file", "access_log", items[:2])  # a daemon replay
    listed = run_json(config, capsys, "ingest", "quarantine", "list", "--source", "file")["lines"]
    assert [(q["source"], q["position"]) for q in listed] == [
        ("file", p) for p in (0, 100, 200, 300, 400, 0, 100)
    ]
    assert (
        run_json(config, capsys, "ingest", "quarantine", "show", listed[1]["ref"])["text"]
        == mysql_style(11).decode()
    )
    # a crash between adopting (committed) and rewriting the file
    monkeypatch.setattr(
        quarantine, "_rewrite_without", lambda path, drop: (_ for _ in ()).throw(OSError("crash"))
    )
    with pytest.raises(OSError):
        replay(
            load_config(config).config.database,
            "access_log",
            "squid_mysql",
            [tmp_path / "spool"],
            QuarantineFilter(),
        )
    monkeypatch.undo()
    assert db.sql("SELECT COUNT(*) FROM sqlops_ingest_quarantine") == [(2 + 5,)]
    only_files = ["ingest", "quarantine", "replay", "--source", "file", "--log-format", "squid_mysql"]
    result = run_json(config, capsys, *only_files)
    assert (result["adopted"], result["stored"]) == (0, 5)  # found in the table already
    assert (folder / QUARANTINE_FILE).read_text() == ""
    assert per_url(db, "http://m/") == {f"http://m/{i}": 1 for i in range(10, 15)}  # not the table's two
    again = run_json(config, capsys, "ingest", "quarantine", "replay", "--log-format", "squid_mysql")
    assert (again["adopted"], again["stored"]) == (0, 2)
    assert per_url(db, "http://m/") == {f"http://m/{i}": 1 for i in [0, 1, *range(10, 15)]}


def test_file_lines_of_an_uncommitted_journal_stay_in_the_file(
    db: Any, config: Path, tmp_path: Path, capsys: Any
) -> None:
    folder = tmp_path / "spool" / "target-x"
    append_quarantine_file(folder / QUARANTINE_FILE, "j-live", "access_log", [Quarantined(500, b"junk", "r")])
    db.sql(
        "INSERT INTO sqlops_ingest_checkpoint (stream, target_table, position, created_at, updated_at) "
        "VALUES ('j-live', 'access_log', 500, UTC_TIMESTAMP(), UTC_TIMESTAMP())"
    )
    result = run_json(config, capsys, "ingest", "quarantine", "replay")
    assert result["adopted"] == 0 and (folder / QUARANTINE_FILE).read_text().count("\n") == 1
    db.sql("UPDATE sqlops_ingest_checkpoint SET position = 600 WHERE stream = 'j-live'")
    assert run_json(config, capsys, "ingest", "quarantine", "replay")["adopted"] == 1


def test_purge_by_reason_age_and_id_with_dry_run(db: Any, config: Path, tmp_path: Path, capsys: Any) -> None:
    quarantined_mixed_file(config, capsys, tmp_path, mysql_lines=4)
    folder = tmp_path / "spool" / "target-y"
    append_quarantine_file(
        folder / QUARANTINE_FILE, "j-y", "access_log", [Quarantined(1, b"junk line", "odd bytes")]
    )
    run(config, capsys, "ingest", "quarantine", "purge", status=2)  # no filter: refused
    dry = run_json(config, capsys, "ingest", "quarantine", "purge", "--reason", "DOES NOT MATCH", "--dry-run")
    assert (dry["dry_run"], dry["purged"], dry["from_table"]) == (True, 4, 4)
    assert db.sql("SELECT COUNT(*) FROM sqlops_ingest_quarantine") == [(4,)]
    young = run_json(config, capsys, "ingest", "quarantine", "purge", "--older-than", "1d")
    assert young["purged"] == 0
    first_id = db.sql("SELECT MIN(id) FROM sqlops_ingest_quarantine")[0][0]
    by_id = run_json(config, capsys, "ingest", "quarantine", "purge", "--id", str(first_id))
    assert (by_id["from_table"], by_id["from_files"]) == (1, 0)
    by_reason = run_json(config, capsys, "ingest", "quarantine", "purge", "--reason", "odd")
    assert (by_reason["from_table"], by_reason["from_files"]) == (0, 1)
    assert (folder / QUARANTINE_FILE).read_text() == ""
    assert db.sql("SELECT COUNT(*) FROM sqlops_ingest_quarantine") == [(3,)]
    run(config, capsys, "ingest", "quarantine", "purge", "--older-than", "soon", status=2)


def test_missing_quarantine_table_gives_clear_messages(
    db: Any, config: Path, tmp_path: Path, capsys: Any
) -> None:
    db.sql("DROP TABLE sqlops_ingest_quarantine")
    folder = tmp_path / "spool" / "target-z"
    append_quarantine_file(folder / QUARANTINE_FILE, "j-z", "access_log", [Quarantined(1, b"junk", "r")])
    listed = run_json(config, capsys, "ingest", "quarantine", "list")
    assert [q["source"] for q in listed["lines"]] == ["file"]
    capsys.readouterr()
    assert sqlops_main(["--config", str(config), "ingest", "quarantine", "list", "--source", "table"]) != 0
    err = capsys.readouterr().err
    assert (
        "sqlops_ingest_quarantine does not exist" in err and "sqlops schema init" in err and "1146" not in err
    )
    assert sqlops_main(["--config", str(config), "ingest", "quarantine", "replay"]) != 0
    assert "sqlops schema init" in capsys.readouterr().err
    capsys.readouterr()
    assert (
        sqlops_main(
            ["--config", str(config), "ingest", "quarantine", "purge", "--reason", "r", "--format", "json"]
        )
        == 0
    )
    out = capsys.readouterr()
    assert json.loads(out.out)["from_files"] == 1 and "sqlops schema init" in out.err
    status = run_json(config, capsys, "ingest", "status")
    assert status["database_error"] is None
    assert status["database"]["missing_tables"] == ["sqlops_ingest_quarantine"]
    text = run(config, capsys, "ingest", "status")
    assert "table sqlops_ingest_quarantine does not exist; `sqlops schema init` creates it" in text
    assert "1146" not in text
