"""The slow-log part of `tune check` / `tune render` against real servers of both flavours.

Read only: the settings are read with SHOW GLOBAL VARIABLES and compared with what the server
reports through a separate connection; nothing is SET (the MariaDB server is shared).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sqlops.cli import main
from sqlops.db import connect
from sqlops.tuning import checks, profiles, render, slowlog
from sqlops.tuning.facts import Root
from sqlops.tuning.machine import Machine

DATA = Path(__file__).resolve().parents[2] / "data" / "tuning"

PROFILE = profiles.load("db-guest")
MYSQL_ONLY = {"log_slow_extra", "log_throttle_queries_not_using_indexes"}
MARIADB_ONLY = {"log_slow_verbosity"}


def global_value(server: Any, name: str) -> str:
    conn = server.admin()
    try:
        with conn.cursor() as cur:
            cur.execute("SHOW GLOBAL VARIABLES LIKE %s", (name,))
            row = cur.fetchone()
    finally:
        conn.close()
    assert row is not None, f"{server.flavour} has no {name}"
    return str(row[1])


def test_check_reads_the_live_slow_log_settings(server: Any) -> None:
    with connect(server.settings(""), with_database=False) as session:
        assert session.info.flavour == server.flavour
        report = checks.run(
            Machine(Root(DATA / "db-guest" / "root")), PROFILE, profile_source="test", session=session
        )
    found = {f.check.split(":", 1)[1]: f for f in report.findings if f.check.startswith("mysql:")}
    expected_vars = {"slow_query_log", "long_query_time", "log_queries_not_using_indexes", "log_output"}
    expected_vars |= MYSQL_ONLY if server.flavour == "mysql" else MARIADB_ONLY
    assert set(found) == expected_vars
    wanted = {w.variable: w for w in slowlog.wanted(PROFILE, server.flavour)}
    for name, finding in found.items():
        live = global_value(server, name)
        assert finding.observed == (live if live != "" else "(empty)")
        assert finding.fact.startswith("server ") and f"SHOW GLOBAL VARIABLES LIKE '{name}'" in finding.fact
        if name in wanted:
            assert finding.status == ("OK" if wanted[name].accepts(live) else "WARNING"), (name, live)


def test_render_takes_flavour_and_previous_values_from_the_server(server: Any, tmp_path: Path) -> None:
    with connect(server.settings(""), with_database=False) as session:
        rendering = render.render(Machine(Root(DATA / "db-guest" / "root")), PROFILE, session=session)
    snippet = next(f for f in rendering.files if f.path.endswith("90-sqlops-slowlog.cnf"))
    folder = "mariadb.conf.d" if server.flavour == "mariadb" else "mysql.conf.d"
    assert snippet.target == f"/etc/mysql/{folder}/90-sqlops-slowlog.cnf"
    settings = {c.setting: c for c in snippet.changes}
    absent = MARIADB_ONLY if server.flavour == "mysql" else MYSQL_ONLY
    assert not absent & set(settings) and not any(name in snippet.content for name in absent)
    for name, change in settings.items():
        assert change.previous == global_value(server, name)
        assert "SHOW GLOBAL VARIABLES" in change.previous_source


def test_cli_with_a_dsn(
    server: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", "/nonexistent")
    code = main(
        ["--dsn", server.dsn, "tune", "check", "--root", str(DATA / "db-guest" / "root"), "--format", "json"]
    )
    data = json.loads(capsys.readouterr().out)
    assert data["profile"] == "db-guest" and code == data["exit_code"]
    facts = {f["fact"] for f in data["findings"] if f["check"].startswith("mysql:")}
    assert facts and all("SHOW GLOBAL VARIABLES" in fact for fact in facts)
    code = main(["--dsn", server.dsn, "tune", "check", "--root", str(DATA / "db-guest" / "root"), "--no-db",
                 "--format", "json"])  # fmt: skip
    data = json.loads(capsys.readouterr().out)
    assert all("SHOW GLOBAL VARIABLES" not in f["fact"] for f in data["findings"])
