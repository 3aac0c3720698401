"""`sqlops digest` end to end through the CLI entry point: text and JSON (validated against the
published schema), empty input, bad input and its exit codes, stdin, .gz, several files."""

from __future__ import annotations

import gzip
import io
import json
import re
import shutil
import sys
from pathlib import Path

import jsonschema
import pytest

from sqlops.cli import main

DATA = Path(__file__).parents[1] / "data" / "querylog"
SCHEMA = json.loads((Path(__file__).parents[2] / "sqlops" / "querylog" / "digest.schema.json").read_text())
MYSQL = str(DATA / "mysql97-slow.log")
MARIADB = str(DATA / "mariadb1011-slow-default.log")


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["digest", *args])
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict:
    code, out, err = run(capsys, *args, "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    jsonschema.validate(data, SCHEMA)
    return data


def test_text_report(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--log", MYSQL, "--top", "3")
    assert code == 0
    assert "403 statements in 12 classes" in out
    assert len(re.findall(r"^# Query \d+: ID ", out, re.M)) == 3
    assert "(9 more classes; raise --top to see them)" in out
    assert "SELECT http_username, COUNT(*) AS n FROM squid.access_log" in out


def test_json_report_follows_the_schema(capsys: pytest.CaptureFixture[str]) -> None:
    data = run_json(capsys, "--log", MARIADB, "--top", "5", "--sort", "count")
    assert data["queries"] == 1254 and data["class_count"] == 70
    assert len(data["classes"]) == 5
    counts = [c["count"] for c in data["classes"]]
    assert counts == sorted(counts, reverse=True)
    first = data["classes"][0]
    assert first["query_time"]["p95"] is not None
    assert first["example"]["source"].endswith("mariadb1011-slow-default.log")


@pytest.mark.parametrize("sort,field", [("total", "total"), ("avg", "avg")])
def test_sort_orders(capsys: pytest.CaptureFixture[str], sort: str, field: str) -> None:
    data = run_json(capsys, "--log", MARIADB, "--top", "1000", "--sort", sort)
    values = [c["query_time"][field] for c in data["classes"]]
    assert values == sorted(values, reverse=True)


def test_rows_examined_sort(capsys: pytest.CaptureFixture[str]) -> None:
    data = run_json(capsys, "--log", MARIADB, "--top", "1000", "--sort", "rows_examined")
    values = [c["rows_examined"]["total"] for c in data["classes"]]
    assert values == sorted(values, reverse=True)


def test_empty_input_gives_an_empty_report(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    empty = tmp_path / "slow.log"
    empty.write_bytes(b"")
    data = run_json(capsys, "--log", str(empty))
    assert data["queries"] == 0 and data["classes"] == [] and data["skipped"]["total"] == 0
    code, out, _ = run(capsys, "--log", str(empty))
    assert code == 0 and "No statements found." in out


def test_missing_file_is_a_usage_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, err = run(capsys, "--log", str(tmp_path / "nope.log"))
    assert code == 2 and out == ""
    assert "does not exist" in err and "fix:" in err


def test_not_a_log_is_a_usage_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    junk = tmp_path / "notes.txt"
    junk.write_text("shopping list\nmilk\n")
    code, _, err = run(capsys, "--log", str(junk))
    assert code == 2 and "not a MySQL/MariaDB slow or general query log" in err


def test_damaged_gzip_is_a_usage_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    damaged = tmp_path / "slow.log.gz"
    damaged.write_bytes(gzip.compress(Path(MYSQL).read_bytes())[:5000])
    code, _, err = run(capsys, "--log", str(damaged))
    assert code == 2 and "damaged" in err


def test_log_and_from_server_together_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "--log", MYSQL, "--from-server")
    assert code == 2 and "either --log" in err
    code, _, err = run(capsys)
    assert code == 2


def test_unknown_option_value_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, _ = run(capsys, "--log", MYSQL, "--sort", "fastest")
    assert code == 2


def test_stdin(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    fake = io.TextIOWrapper(io.BytesIO(Path(MYSQL).read_bytes()))
    monkeypatch.setattr(sys, "stdin", fake)
    data = run_json(capsys, "--log", "-")
    assert data["sources"][0]["name"] == "<stdin>"
    assert data["queries"] == 403


def test_gzip_on_stdin_is_read_transparently(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`zcat` forgotten: `digest --log - < slow.log.gz` reads the gzip data by its magic bytes."""
    fake = io.TextIOWrapper(io.BytesIO(gzip.compress(Path(MYSQL).read_bytes())))
    monkeypatch.setattr(sys, "stdin", fake)
    data = run_json(capsys, "--log", "-")
    assert data["queries"] == 403 and data["class_count"] == 12


def test_gzip_equals_plain(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    packed = tmp_path / "mysql97-slow.log.gz"
    packed.write_bytes(gzip.compress(Path(MYSQL).read_bytes()))
    plain = run_json(capsys, "--log", MYSQL, "--top", "100")
    zipped = run_json(capsys, "--log", str(packed), "--top", "100")
    for a, b in zip(plain["classes"], zipped["classes"], strict=True):
        a["example"]["source"] = b["example"]["source"] = ""
        for share in a["servers"] + b["servers"]:  # the file's name, and nothing else, differs
            share["name"] = ""
        assert a == b


def test_several_files_add_up(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    copy = tmp_path / "again.log"
    shutil.copy(MYSQL, copy)
    both = run_json(capsys, "--log", MYSQL, "--log", str(copy), "--top", "100")
    one = run_json(capsys, "--log", MYSQL, "--top", "100")
    assert both["queries"] == 2 * one["queries"]
    assert [s["name"] for s in both["sources"]] == [MYSQL, str(copy)]
    assert {c["id"]: c["count"] for c in both["classes"]} == {c["id"]: 2 * c["count"] for c in one["classes"]}


def test_skipped_input_is_listed(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--log", str(DATA / "pathological-handwritten.log"))
    assert code == 0
    assert "pathological-handwritten.log:45: truncated entry" in out
    data = run_json(capsys, "--log", str(DATA / "pathological-handwritten.log"))
    assert data["skipped"]["total"] == 4
    assert {i["line"] for i in data["skipped"]["items"]} == {1, 7, 27, 45}


def test_general_log_and_type_option(capsys: pytest.CaptureFixture[str]) -> None:
    data = run_json(capsys, "--log", str(DATA / "mariadb1011-general.log"))
    assert data["sources"][0]["kind"] == "general"
    assert data["classes"][0]["query_time"] is None
    forced = run_json(capsys, "--log", str(DATA / "mysql97-general.log"), "--type", "general")
    assert forced["sources"][0]["kind"] == "general" and forced["queries"] > 0


@pytest.mark.parametrize(
    "log,forced,looks",
    [
        ("mariadb1011-general.log", "slow", "looks like a general query log"),
        ("mysql97-general.log", "slow", "looks like a general query log"),
        ("mysql97-slow.log", "general", "looks like a slow query log"),
    ],
)
def test_wrong_type_option_is_refused(
    capsys: pytest.CaptureFixture[str], log: str, forced: str, looks: str
) -> None:
    code, out, err = run(capsys, "--log", str(DATA / log), "--type", forced)
    assert code == 2 and out == ""
    assert looks in err and "--type auto" in err


def test_config_defaults(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    config = tmp_path / "sqlops.toml"
    config.write_text('[digest]\ntop = 2\nsort = "count"\n')
    code = main(["--config", str(config), "digest", "--log", MYSQL, "--format", "json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0 and len(data["classes"]) == 2 and data["sort"] == "count"


def test_help_has_an_example(capsys: pytest.CaptureFixture[str]) -> None:
    main(["digest", "--help"])
    assert "Example: sqlops digest --log" in capsys.readouterr().out


def test_long_query_time_option(capsys: pytest.CaptureFixture[str]) -> None:
    noindex = str(DATA / "mysql97-slow-noindex.log")
    plain = run_json(capsys, "--log", noindex, "--top", "100")
    assert not any(c["not_using_indexes"] for c in plain["classes"])
    flagged = run_json(capsys, "--log", noindex, "--top", "100", "--long-query-time", "0.5")
    by_fp = {c["fingerprint"]: c for c in flagged["classes"]}
    assert by_fp["SELECT COUNT(*) FROM items WHERE price > ?"]["not_using_indexes"] is True
    assert by_fp["SELECT SLEEP(?)"]["not_using_indexes"] is False
    code, out, _ = run(capsys, "--log", noindex, "--long-query-time", "0.5")
    assert code == 0 and "[no index]" in out and "Not using indexes: 3 of 3 statements" in out


def _entry(i: int, sql: str, query_time: float, ts: int) -> str:
    return (
        f"# Time: {ts}\n# User@Host: app[app] @  [10.0.0.{i % 2}]  Id: 1\n"
        f"# Query_time: {query_time:.6f}  Lock_time: 0.000010 Rows_sent: 1  Rows_examined: 1\n"
        f"use shop;\nSET timestamp={ts};\n{sql};\n"
    )


def test_long_examples_are_shortened_in_text(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    log = tmp_path / "slow.log"
    long_sql = "INSERT INTO t VALUES " + ",".join(f"({i}, 'v{i}')" for i in range(8_000))
    log.write_text(_entry(1, long_sql, 1.0, 1795770000))
    code, out, _ = run(capsys, "--log", str(log))
    assert code == 0
    assert max(len(line) for line in out.splitlines()) < 1100
    assert f"# (example shortened to 1,024 of {len(long_sql):,} characters" in out
    code, out, _ = run(capsys, "--log", str(log), "--example-length", "0")
    assert long_sql + ";" in out.splitlines()
    assert run_json(capsys, "--log", str(log))["classes"][0]["example"]["sql"] == long_sql


def test_text_report_details(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--log", str(DATA / "mariadb1011-slow-queryplan-explain.log"), "--top", "1")
    assert code == 0
    assert "%g" not in out and not re.search(r"\d e[+-]\d|\de[+-]\d\d", out)
    assert re.search(r"^# Full scan +100% +30$", out, re.M)  # a Yes/No field as a share
    assert re.search(r"^# Tmp_tables +102 +4 +30$", out, re.M)  # aligned: total, max, statements
    assert "# Databases: squid 30 (100%)" in out and "# Users: report 30 (100%)" in out
    histogram = re.findall(r"^# +(1us|10us|100us|1ms|10ms|100ms|1s|10s\+) +(\d+)", out, re.M)
    assert [label for label, _ in histogram] == ["1us", "10us", "100us", "1ms", "10ms", "100ms", "1s", "10s+"]
    assert sum(int(n) for _, n in histogram) == 30
    assert "# EXPLAIN (ready to run):\nUSE `squid`; EXPLAIN WITH r AS (SELECT" in out


def test_histogram_in_json(capsys: pytest.CaptureFixture[str]) -> None:
    data = run_json(capsys, "--log", MYSQL, "--top", "100")
    for c in data["classes"]:
        assert sum(c["query_time_histogram"].values()) == c["query_time"]["count"]


def test_explain_only_for_statements_explain_accepts(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    log = tmp_path / "slow.log"
    log.write_text(
        _entry(1, "SELECT * FROM t WHERE id = 1", 3.0, 1795770000)
        + _entry(2, "/* app */ (SELECT a FROM t) UNION (SELECT b FROM u)", 2.0, 1795770001)
        + _entry(3, "SET NAMES utf8mb4", 1.0, 1795770002)
        + _entry(4, "CALL p(1)", 0.5, 1795770003)
    )
    code, out, _ = run(capsys, "--log", str(log))
    assert code == 0
    explains = re.findall(r"^# EXPLAIN \(ready to run\):\n(.*)$", out, re.M)
    assert explains == [
        "USE `shop`; EXPLAIN SELECT * FROM t WHERE id = 1;",
        "USE `shop`; EXPLAIN /* app */ (SELECT a FROM t) UNION (SELECT b FROM u);",
    ]


def test_since_and_until(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    log = tmp_path / "slow.log"
    base = 1795770000  # 2026-11-27T09:00:00Z; entries at 09:00, 10:00, ... 14:00
    log.write_text("".join(_entry(i, f"SELECT {i}", 0.1, base + 3600 * i) for i in range(6)))
    everything = run_json(capsys, "--log", str(log))
    assert everything["queries"] == 6 and everything["outside_time_window"] == 0
    window = run_json(
        capsys, "--log", str(log), "--since", "2026-11-27T10:00:00Z", "--until", "2026-11-27 13:00"
    )
    assert window["queries"] == 3 and window["outside_time_window"] == 3  # 10:00, 11:00, 12:00
    assert window["first_seen"] == "2026-11-27T10:00:00Z" and window["last_seen"] == "2026-11-27T12:00:00Z"
    # With a zone: 14:00+02:00 is 12:00Z (excluded: --until is the first second left out).
    zoned = run_json(capsys, "--log", str(log), "--until", "2026-11-27T14:00:00+02:00")
    assert zoned["queries"] == 3
    code, out, _ = run(capsys, "--log", str(log), "--since", "2026-11-27T10:00:00Z")
    assert code == 0 and "# 1 statements outside --since/--until" in out


@pytest.mark.parametrize(
    "args,message",
    [
        (["--since", "yesterday"], "--since 'yesterday' is not a time"),
        (["--until", "2026-13-01"], "--until '2026-13-01' is not a time"),
        (["--since", "2026-11-28", "--until", "2026-11-27"], "--since is not before --until"),
    ],
)
def test_bad_time_window(capsys: pytest.CaptureFixture[str], args: list[str], message: str) -> None:
    code, out, err = run(capsys, "--log", MYSQL, *args)
    assert code == 2 and out == ""
    assert message in err and "fix:" in err
