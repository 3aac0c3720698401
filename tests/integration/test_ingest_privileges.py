"""The grants README documents for the daemon's and the backfill's database user are enough
(and are all they need), on both flavours."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parents[1]))
from e2e.ingest_harness import DaemonProcess, write_config

from sqlops.cli import main as sqlops_main
from sqlops.squid.protocol import encode_line

# Exactly what README's "Squid logging" section tells admins to grant.
DAEMON_GRANTS = [
    "GRANT INSERT ON `{db}`.`access_log` TO {user}",
    "GRANT SELECT, INSERT, UPDATE, DELETE ON `{db}`.`sqlops_ingest_checkpoint` TO {user}",
    "GRANT INSERT ON `{db}`.`sqlops_ingest_quarantine` TO {user}",
]
LOAD_GRANTS = [
    "GRANT INSERT ON `{db}`.`access_log` TO {user}",
    "GRANT SELECT, INSERT, UPDATE ON `{db}`.`sqlops_ingest_load` TO {user}",
    "GRANT INSERT ON `{db}`.`sqlops_ingest_quarantine` TO {user}",
]


def account(db: Any, grants: list[str]) -> tuple[str, str]:
    name, password = f"sqlops_t_{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    db.sql(f"CREATE USER '{name}'@'{db.server.client_host}' IDENTIFIED BY '{password}'")
    for grant in grants:
        db.sql(grant.format(db=db.name, user=f"'{name}'@'{db.server.client_host}'"))
    return name, password


def line(i: int) -> bytes:
    return (
        b"1700000000.%03d      4 192.0.2.1 TCP_MISS/200 639 GET http://h/%d - HIER_DIRECT/192.0.2.9 text/html"
        % (
            i,
            i,
        )
    )


def test_daemon_and_backfill_accounts(db: Any, tmp_path: Path) -> None:
    server = db.server
    admin = tmp_path / "admin.toml"
    admin.write_text(
        f'[database]\nhost = "{server.host}"\nport = {server.port}\nuser = "{server.user}"\ndatabase = "{db.name}"\n'
    )
    assert sqlops_main(["--config", str(admin), "schema", "init"]) == 0
    users = []
    try:
        daemon_user, daemon_pw = account(db, DAEMON_GRANTS)
        users.append(daemon_user)
        option_file = tmp_path / "squidlog.cnf"
        option_file.write_text(f"[client]\npassword = {daemon_pw}\n")
        config = write_config(
            tmp_path / "daemon.toml",
            host=server.host,
            port=server.port,
            user=daemon_user,
            database=db.name,
            spool=tmp_path / "spool",
        )
        config.write_text(
            config.read_text().replace("[ingest]", f'option_file = "{option_file}"\n\n[ingest]')
        )
        daemon = DaemonProcess(str(config), log=tmp_path / "cache.log")
        daemon.send(b"".join(encode_line(line(i)) for i in range(50)) + encode_line(b"bad line"))
        assert daemon.stop() == 0, daemon.stderr()
        assert "everything written (50 rows" in daemon.stderr(), daemon.stderr()
        assert db.sql("SELECT COUNT(*) FROM access_log") == [(50,)]
        assert db.sql("SELECT COUNT(*) FROM sqlops_ingest_quarantine") == [(1,)]
        assert db.sql("SELECT COUNT(*) FROM sqlops_ingest_checkpoint") == [(0,)]  # DELETE was granted

        load_user, load_pw = account(db, LOAD_GRANTS)
        users.append(load_user)
        log = tmp_path / "old.log"
        log.write_bytes(b"".join(line(i) + b"\n" for i in range(100, 130)))
        loader = tmp_path / "load.toml"
        loader.write_text(
            f'[database]\nhost = "{server.host}"\nport = {server.port}\nuser = "{load_user}"\n'
            f'password = "{load_pw}"\ndatabase = "{db.name}"\n'
        )
        assert sqlops_main(["--config", str(loader), "ingest", "load", str(log)]) == 0
        assert sqlops_main(["--config", str(loader), "ingest", "load", str(log)]) == 0
        assert db.sql("SELECT COUNT(*) FROM access_log") == [(80,)]
    finally:
        for user in users:
            db.sql(f"DROP USER IF EXISTS '{user}'@'{db.server.client_host}'")
