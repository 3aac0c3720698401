"""What `access_log daemon:<ARG>` means: a config file, a [targets.NAME], or log_db_daemon's form."""

from __future__ import annotations

from pathlib import Path

import pytest

from sqlops.errors import ConfigError
from sqlops.squid.target import LEGACY_DEFAULTS, resolve_target, target_key

CONFIG = """
[database]
host = "db.example"
user = "loguser"
database = "squid"
time_zone = "+01:00"

[ingest]
spool_dir = "{spool}"
format = "squid"
batch_rows = 500

[targets.proxy1]
dsn = "mysql://writer@10.0.0.5:3307/logs"
table = "access_log_p1"
format = "%ts.%03tu\\t%>a\\t%ru"

[targets.proxy2]
spool_dir = "/srv/spool2"
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "sqlops.toml"
    path.write_text(CONFIG.format(spool=tmp_path / "spool"))
    return path


def test_existing_file_is_a_config_file(config: Path, tmp_path: Path) -> None:
    target = resolve_target(str(config), env={})
    assert target.kind == "file"
    assert (target.database.host, target.database.database, target.table) == (
        "db.example",
        "squid",
        "access_log",
    )
    assert target.format == "squid" and target.ingest.batch_rows == 500
    assert target.spool_dir == tmp_path / "spool" / target_key(str(config))
    assert target.key.startswith("file-sqlops-")


def test_name_is_a_target_section_of_the_default_config(config: Path) -> None:
    env = {"SQLOPS_CONFIG": str(config)}
    target = resolve_target("proxy1", env=env)
    assert target.kind == "name" and target.key == "target-proxy1"
    db = target.database
    assert (db.host, db.port, db.user, db.database) == ("10.0.0.5", 3307, "writer", "logs")
    assert db.time_zone == "+01:00"  # the rest comes from [database]
    assert target.table == "access_log_p1"
    assert target.format == "%ts.%03tu\t%>a\t%ru"
    other = resolve_target("proxy2", env=env)
    assert other.database.host == "db.example" and other.table == "access_log" and other.format == "squid"
    assert other.spool_dir == Path("/srv/spool2/target-proxy2")
    with pytest.raises(ConfigError, match=r"no \[targets.proxy3\] section"):
        resolve_target("proxy3", env=env)


def test_log_db_daemon_form(config: Path) -> None:
    env = {"SQLOPS_CONFIG": str(config)}
    target = resolve_target("/db1.example:3307/squid_log/access_log/squid/s3cret/with/slash", env=env)
    db = target.database
    assert target.kind == "legacy" and target.format is None  # detected from the first lines
    assert (db.host, db.port, db.database, db.user) == ("db1.example", 3307, "squid_log", "squid")
    assert db.password == "s3cret/with/slash"  # log_db_daemon's regex gives the rest to the password
    assert target.table == "access_log"
    assert "visible in ps" in target.warnings[0]
    assert "s3cret" not in target.key and "s3cret" not in target.description
    assert target.ingest.batch_rows == 500  # [ingest] still comes from the default config


@pytest.mark.parametrize("arg", ["/", "/////", "/localhost////"])
def test_log_db_daemon_defaults(arg: str) -> None:
    target = resolve_target(arg, env={})
    db = target.database
    assert db.database == LEGACY_DEFAULTS["database"] and db.user == LEGACY_DEFAULTS["user"]
    assert target.table == LEGACY_DEFAULTS["table"] and db.password is None
    assert not any("visible in ps" in w for w in target.warnings)
    # log_db_daemon connects to localhost over the socket; so do we when it exists
    assert db.host == "localhost"
    assert (db.unix_socket is not None) == Path("/run/mysqld/mysqld.sock").exists()


def test_errors_say_what_to_write(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        resolve_target(str(tmp_path / "missing.toml"), env={})
    with pytest.raises(ConfigError, match="cannot tell"):
        resolve_target("host:db", env={})
    with pytest.raises(ConfigError, match="no target"):
        resolve_target("", env={})


def test_keys_depend_on_the_argument_only(config: Path) -> None:
    assert target_key("proxy1") == "target-proxy1"
    assert target_key("/h/d/t/u/pw") == target_key("/h/d/t/u/other") == "legacy-h_d_t_u"
    assert target_key("/h:3307/d/t/u/") == "legacy-h_3307_d_t_u"
    assert target_key(str(config)) == target_key(str(config))


def test_named_target_from_an_explicit_config_file_and_the_destination(config: Path) -> None:
    """The CLI's --config reaches the target resolution as a path (no SQLOPS_CONFIG copy)."""
    from sqlops.config import load_config
    from sqlops.squid.target import ingest_destination

    env = {"HOME": "/nonexistent"}  # neither SQLOPS_CONFIG nor /etc/sqlops/sqlops.toml
    target = resolve_target("proxy1", env=env, config_path=config)
    assert (target.table, target.database.port) == ("access_log_p1", 3307)
    loaded = load_config(config, env=env)
    dest = ingest_destination(loaded, "proxy1", None, None)
    assert (dest.table, dest.format, dest.database.host) == (
        "access_log_p1",
        "%ts.%03tu\t%>a\t%ru",
        "10.0.0.5",
    )
    plain = ingest_destination(loaded, None, "t2", "auto")
    assert (plain.table, plain.format, plain.database.host) == ("t2", "auto", "db.example")


def test_spool_roots_cover_every_target_once(config: Path, tmp_path: Path) -> None:
    from sqlops.config import load_config
    from sqlops.squid.status import spool_roots

    roots = spool_roots(load_config(config, env={"HOME": "/nonexistent"}).config)
    assert roots[:2] == [tmp_path / "spool", Path("/srv/spool2")] and len(roots) == len(set(roots))


def test_the_daemon_machinery_no_longer_shadows_the_service_package() -> None:
    import importlib.util

    assert importlib.util.find_spec("sqlops.squid.service") is None
    assert importlib.util.find_spec("sqlops.squid.daemon_loop") is not None
