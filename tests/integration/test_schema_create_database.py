"""`schema init --create-database` on both flavours: the database, then its tables; idempotent."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from e2e.ingest_harness import write_config
from support.servers import drop_database

from sqlops.cli import main as sqlops_main


def test_init_creates_the_missing_database_when_asked(db: Any, tmp_path: Path, capsys: Any) -> None:
    server = db.server
    name = db.name + "_new"
    config = write_config(
        tmp_path / "sqlops.toml",
        host=server.host,
        port=server.port,
        user=server.user,
        password=server.password or None,
        database=name,
        spool=tmp_path / "spool",
    )
    base = ["--config", str(config), "schema", "init"]
    try:
        capsys.readouterr()
        assert sqlops_main(base) == 1
        assert "--create-database" in capsys.readouterr().err  # the fix names the option
        assert sqlops_main([*base, "--create-database", "--dry-run"]) == 0
        script = capsys.readouterr().out
        assert f"CREATE DATABASE IF NOT EXISTS `{name}`" in script and f"USE `{name}`;" in script
        assert db.sql("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s", (name,)) == [
            (0,)
        ]
        assert sqlops_main([*base, "--create-database"]) == 0
        assert f"created database {name}" in capsys.readouterr().out
        tables = db.sql("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s", (name,))
        assert {"access_log", "sqlops_ingest_quarantine"} <= {t for (t,) in tables}
        assert sqlops_main([*base, "--create-database"]) == 0  # again: nothing to create
        assert "created database" not in capsys.readouterr().out
    finally:
        drop_database(server, name)
