"""The `sqlops` command: help, version, exit codes, errors without tracebacks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ENV = {**os.environ, "HOME": "/nonexistent", "SQLOPS_CONFIG": ""}


def sqlops(
    *args: str, env: dict[str, str] | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sqlops", *args], capture_output=True, text=True, env=env or ENV, input=stdin
    )


def test_help_lists_groups_and_version() -> None:
    out = sqlops("--help")
    assert out.returncode == 0
    for group in ("config", "schema"):
        assert group in out.stdout
    version = sqlops("--version")
    assert version.returncode == 0 and "sqlops, version" in version.stdout


def test_schema_init_dry_run_needs_no_server() -> None:
    env = {**ENV, "SQLOPS_DATABASE_PORT": "1"}  # a server is "configured" but unreachable
    out = sqlops("schema", "init", "--dry-run", "--flavour", "mysql", env=env)
    assert out.returncode == 0, out.stderr
    assert "CREATE TABLE IF NOT EXISTS access_log" in out.stdout
    plain = sqlops("schema", "init", "--dry-run")
    assert plain.returncode == 0 and "valid on MariaDB 10.6+ and MySQL 8.0+" in plain.stdout


def test_usage_error_exits_2_and_bad_config_exits_2(tmp_path: Path) -> None:
    assert sqlops("schema", "init", "--flavour", "oracle").returncode == 2
    bad = tmp_path / "bad.toml"
    bad.write_text("[database]\nport = 'x'\n")
    out = sqlops("--config", str(bad), "config", "show")
    assert out.returncode == 2
    assert f"{bad}:2" in out.stderr and "Traceback" not in out.stderr


def test_connection_failure_exits_1_with_a_fix_and_no_traceback() -> None:
    out = sqlops("--dsn", "mysql://root@127.0.0.1:1/x", "schema", "status")
    assert out.returncode == 1
    assert "cannot connect" in out.stderr and "fix:" in out.stderr and "Traceback" not in out.stderr
    debug = sqlops("--debug", "--dsn", "mysql://root@127.0.0.1:1/x", "schema", "status")
    assert "Traceback" in debug.stderr


def test_password_in_dsn_warns_and_is_masked() -> None:
    out = sqlops("--dsn", "mysql://u:topsecret@127.0.0.1:1/x", "config", "show", "--format", "json")
    assert out.returncode == 0
    assert "visible to every local user" in out.stderr
    settings = json.loads(out.stdout)["settings"]
    assert settings["database.password"] == {"value": "********", "source": "flag --dsn"}
    assert "topsecret" not in out.stdout + out.stderr


@pytest.mark.usefixtures("db")
def test_schema_commands_against_a_real_server(db) -> None:  # type: ignore[no-untyped-def]
    init = sqlops("--dsn", db.dsn, "schema", "init")
    assert init.returncode == 0, init.stderr
    assert "/* sqlops:schema-init */ CREATE TABLE" in init.stderr  # every statement is logged, tagged
    status = sqlops("--dsn", db.dsn, "schema", "status", "--format", "json")
    report = json.loads(status.stdout)
    assert report["up_to_date"] is True and report["table"]["exists"] is True
    again = sqlops("--dsn", db.dsn, "schema", "init", "--dry-run")
    assert "-- nothing to do" in again.stdout
