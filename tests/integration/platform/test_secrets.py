"""No secret reaches stdout, stderr or logs: every source a password can come from, each target,
through `config show` (text and JSON), `--debug` logs and a connect failure's error message."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BASE = {**os.environ, "HOME": "/nonexistent", "SQLOPS_CONFIG": ""}
for _name in list(BASE):
    if _name.startswith(("SQLOPS_", "MYSQL_")) and _name != "SQLOPS_CONFIG":
        del BASE[_name]


def run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sqlops", *args], capture_output=True, text=True, env=env, input=""
    )


def _sources(tmp_path: Path) -> list[tuple[str, str, list[str], dict[str, str]]]:
    """(name, secret, global args, extra env) for each way a password can enter sqlops."""
    mycnf = tmp_path / "my.cnf"
    mycnf.write_text("[client]\nhost = 127.0.0.1\nport = 1\npassword = optfileSECRET1\n")
    mycnf.chmod(0o600)

    def toml(name: str, text: str) -> Path:
        path = tmp_path / f"{name}.toml"
        path.write_text(text)
        return path

    db = '[database]\nhost = "127.0.0.1"\nport = 1\nuser = "u"\n'
    return [
        (
            "toml password",
            "tomlSECRET2",
            ["--config", str(toml("pw", db + 'password = "tomlSECRET2"\n'))],
            {},
        ),
        ("--dsn", "flagSECRET3", ["--dsn", "mysql://u:flagSECRET3@127.0.0.1:1/x"], {}),
        ("SQLOPS_DSN", "envdsnSECRET4", [], {"SQLOPS_DSN": "mysql://u:envdsnSECRET4@127.0.0.1:1/x"}),
        (
            "SQLOPS_DATABASE_PASSWORD",
            "envpwSECRET5",
            [],
            {
                "SQLOPS_DATABASE_PASSWORD": "envpwSECRET5",
                "SQLOPS_DATABASE_PORT": "1",
                "SQLOPS_DATABASE_HOST": "127.0.0.1",
            },
        ),
        (
            "MYSQL_PWD",
            "mysqlpwdSECRET6",
            [],
            {"MYSQL_PWD": "mysqlpwdSECRET6", "MYSQL_TCP_PORT": "1", "MYSQL_HOST": "127.0.0.1"},
        ),
        (
            "option file",
            "optfileSECRET1",
            ["--config", str(toml("opt", f'[database]\noption_file = "{mycnf}"\n'))],
            {},
        ),
        (
            "targets dsn",
            "targetdsnSECRET7",
            [
                "--config",
                str(toml("tdsn", db + '[targets.t1]\ndsn = "mysql://u:targetdsnSECRET7@127.0.0.1:1/x"\n')),
            ],
            {},
        ),
        (
            "targets password",
            "targetpwSECRET8",
            ["--config", str(toml("tpw", db + '[targets.t2]\npassword = "targetpwSECRET8"\n'))],
            {},
        ),
        (
            "targets dsn with @ in the password",
            "tgt@SECRET9",
            [
                "--config",
                str(toml("tat", db + '[targets.t3]\ndsn = "mysql://u:tgt@SECRET9@127.0.0.1:1/x"\n')),
            ],
            {},
        ),
    ]


@pytest.mark.parametrize("index", range(9))
def test_no_source_leaks_its_secret(tmp_path: Path, index: int) -> None:
    name, secret, global_args, extra = _sources(tmp_path)[index]
    env = {**BASE, **extra}
    log = tmp_path / "access.log"
    log.write_text("1700000000.000      1 127.0.0.1 TCP_MISS/200 10 GET http://a/ - HIER_NONE/- text/html\n")
    target = [
        a
        for a in ("t1", "t2", "t3")
        if any(f"targets.{a}" in Path(g).read_text() for g in global_args if g.endswith(".toml"))
    ]
    runs = [
        run(*global_args, "config", "show", env=env),
        run(*global_args, "config", "show", "--format", "json", env=env),
        run("--debug", *global_args, "schema", "status", env=env),  # a connect failure, with logs
        run("--debug", *global_args, "ingest", "load", str(log), env=env),
    ]
    if target:
        runs.append(run("--debug", *global_args, "ingest", "load", "--target", target[0], str(log), env=env))
    shown = runs[0].stdout
    assert "********" in shown, f"{name}: config show does not show the masked secret\n{shown}"
    for out in runs:
        assert secret not in out.stdout + out.stderr, f"{name}: {out.args} printed the secret\n{out.stderr}"
    assert runs[2].returncode == 1 and "cannot connect" in runs[2].stderr, runs[2].stderr
