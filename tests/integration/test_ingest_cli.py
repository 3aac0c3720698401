"""`ingest load` and `ingest status` output options and formats (both flavours)."""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import Any

import pytest
from e2e.ingest_harness import config_for

from sqlops.cli import main as sqlops_main
from sqlops.squid.status import DaemonStatus, StatusFile

RFC3339_UTC = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$"


@pytest.fixture
def config(db: Any, tmp_path: Path) -> Path:
    path = config_for(db, tmp_path)
    assert sqlops_main(["--config", str(path), "schema", "init"]) == 0
    return path


def a_log(tmp_path: Path, name: str, n: int) -> Path:
    path = tmp_path / name
    path.write_bytes(
        b"".join(
            b"1700000000.%03d 4 10.0.0.1 TCP_MISS/200 639 GET http://c/%s/%d - HIER_DIRECT/192.0.2.9 text/html\n"
            % (i, name.encode(), i)
            for i in range(n)
        )
    )
    return path


def test_load_output_option_is_format_like_everywhere_and_old_spellings_warn(
    config: Path, tmp_path: Path, capsys: Any
) -> None:
    base = ["--config", str(config), "ingest", "load"]
    assert (
        sqlops_main([*base, "--format", "json", "--log-format", "squid", str(a_log(tmp_path, "a", 3))]) == 0
    )
    out = capsys.readouterr()
    assert json.loads(out.out)[0]["rows"] == 3 and "deprecated" not in out.err
    # the old spellings: --format LOGFORMAT and --json
    assert sqlops_main([*base, "--format", "squid", str(a_log(tmp_path, "b", 2))]) == 0
    out = capsys.readouterr()
    assert "2 rows" in out.out and "the log format is now --log-format" in out.err
    assert sqlops_main([*base, "--json", str(a_log(tmp_path, "c", 1))]) == 0
    out = capsys.readouterr()
    assert json.loads(out.out)[0]["rows"] == 1 and "--json is deprecated; use --format json" in out.err
    assert (
        sqlops_main([*base, "--format", "squid", "--log-format", "squid", str(a_log(tmp_path, "d", 1))]) == 2
    )


def test_status_json_times_are_rfc3339_utc(config: Path, tmp_path: Path, capsys: Any) -> None:
    assert sqlops_main(["--config", str(config), "ingest", "load", str(a_log(tmp_path, "e", 2))]) == 0
    folder = tmp_path / "spool" / "target-t"
    folder.mkdir(parents=True)
    now = time.time()
    StatusFile(folder / "status-1.json").write(
        DaemonStatus(pid=os.getpid(), state="writing", started_at=now - 5, updated_at=now, last_commit_at=now)
    )
    capsys.readouterr()
    assert sqlops_main(["--config", str(config), "ingest", "status", "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    (daemon,) = report["daemons"]
    assert daemon["running"] and daemon["state"] == "writing"
    for key in ("started_at", "updated_at", "last_commit_at"):
        assert re.match(RFC3339_UTC, daemon[key]), daemon[key]
    assert daemon["last_error_at"] is None
    (load,) = report["database"]["loads"]
    assert re.match(RFC3339_UTC, load["updated_at"]), load["updated_at"]
    assert report["database"]["missing_tables"] == []


def test_status_file_of_another_version_is_read_without_failing(tmp_path: Path) -> None:
    from sqlops.squid.status import read_daemons

    folder = tmp_path / "target-old"
    folder.mkdir()
    (folder / "status-9.json").write_text(
        json.dumps({"pid": "9", "state": "stopped", "new_key": 1, "updated_at": 5})
    )
    (report,), _ = read_daemons([tmp_path])
    assert (report.status.pid, report.status.state, report.running) == (9, "stopped", False)


def test_method_auto_says_nothing_about_local_infile(
    db: Any, config: Path, tmp_path: Path, capsys: Any
) -> None:
    allowed = str(db.sql("SELECT @@GLOBAL.local_infile")[0][0]).upper() in ("1", "ON")
    capsys.readouterr()
    for name in ("f", "g"):  # every run
        assert sqlops_main(["--config", str(config), "ingest", "load", str(a_log(tmp_path, name, 2))]) == 0
        out = capsys.readouterr()
        assert "local_infile" not in out.err, out.err
        assert ("via LOAD DATA LOCAL INFILE" if allowed else "via multi-row INSERT") in out.out


def test_statements_are_tagged_by_the_one_mechanism_in_plan() -> None:
    """Only plan.tag writes the `/* sqlops:<job> */` marker (the writer used its own)."""
    root = Path(__file__).parents[2] / "sqlops"
    spelled = [
        str(path.relative_to(root))
        for path in root.rglob("*.py")
        if path.name != "plan.py" and "/* sqlops:" in path.read_text()
    ]
    assert spelled == []
    from sqlops.config import DatabaseConfig
    from sqlops.plan import tag
    from sqlops.squid.writer import LogWriter

    assert (
        LogWriter(DatabaseConfig(), "t")._insert_head(["a"])
        == tag("ingest", "INSERT INTO `t` (`a`) VALUES ").encode()
    )
