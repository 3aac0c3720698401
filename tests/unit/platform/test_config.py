"""Configuration: precedence, provenance, validation with file:line, DSNs, option files."""

from __future__ import annotations

from pathlib import Path

import pytest

from sqlops.config import effective_items, load_config, mask_dsn, parse_dsn
from sqlops.errors import ConfigError

NO_ENV: dict[str, str] = {"HOME": "/nonexistent"}


def write(tmp_path: Path, text: str, name: str = "sqlops.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_defaults_without_any_source() -> None:
    loaded = load_config(env=NO_ENV)
    assert loaded.config.database.port == 3306
    assert loaded.config.database.time_zone == "+00:00"
    assert loaded.source_of("database.port").kind == "default"
    assert loaded.path is None


def test_precedence_flag_over_sqlops_env_over_mysql_env_over_file_over_option_file(tmp_path: Path) -> None:
    mycnf = write(
        tmp_path, "[client]\nhost = opt-host\nuser = opt-user\npassword = 'opt pw'\nport=1\n", "my.cnf"
    )
    cfg = write(
        tmp_path,
        f'[database]\noption_file = "{mycnf}"\nhost = "file-host"\nuser = "file-user"\nport = 2\n',
    )
    env = {**NO_ENV, "MYSQL_HOST": "mysql-env-host", "MYSQL_TCP_PORT": "3", "SQLOPS_DATABASE_PORT": "4"}
    loaded = load_config(cfg, env=env, dsn="mysql://flag-user@flag-host/")
    db = loaded.config.database
    assert (db.host, db.user, db.port, db.password) == ("flag-host", "flag-user", 4, "opt pw")
    assert loaded.source_of("database.host").kind == "flag"
    assert loaded.source_of("database.port").detail == "SQLOPS_DATABASE_PORT"
    assert loaded.source_of("database.password").kind == "option-file"
    # Without the flag and the SQLOPS_* variable, the MYSQL_* variables win over the file.
    loaded = load_config(cfg, env={**NO_ENV, "MYSQL_HOST": "mysql-env-host", "MYSQL_TCP_PORT": "3"})
    assert (loaded.config.database.host, loaded.config.database.port) == ("mysql-env-host", 3)
    assert loaded.config.database.user == "file-user"


def test_unknown_key_names_file_key_and_line(tmp_path: Path) -> None:
    cfg = write(tmp_path, '# comment\n[database]\nhost = "db1"\n\nprot = 3306\n')
    with pytest.raises(ConfigError) as err:
        load_config(cfg, env=NO_ENV)
    assert f"{cfg}:5" in str(err.value)
    assert "'database.prot'" in str(err.value)


def test_wrong_type_names_file_key_and_line(tmp_path: Path) -> None:
    cfg = write(tmp_path, '[database]\nport = "3306"\n')
    with pytest.raises(ConfigError) as err:
        load_config(cfg, env=NO_ENV)
    assert f"{cfg}:2" in str(err.value) and "must be an integer" in str(err.value)


def test_unknown_section_is_an_error(tmp_path: Path) -> None:
    cfg = write(tmp_path, "[databse]\nhost = 'x'\n")
    with pytest.raises(ConfigError, match="databse"):
        load_config(cfg, env=NO_ENV)


def test_invalid_toml_says_where(tmp_path: Path) -> None:
    cfg = write(tmp_path, "[database]\nhost = db1\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(cfg, env=NO_ENV)


def test_missing_explicit_config_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.toml", env=NO_ENV)


def test_env_values_are_converted_and_checked() -> None:
    loaded = load_config(env={**NO_ENV, "SQLOPS_DATABASE_TLS_VERIFY": "no", "SQLOPS_SCHEMA_TABLE": "log2"})
    assert loaded.config.database.tls.verify is False
    assert loaded.config.schema.table == "log2"
    with pytest.raises(ConfigError, match="SQLOPS_DATABASE_PORT"):
        load_config(env={**NO_ENV, "SQLOPS_DATABASE_PORT": "many"})
    with pytest.raises(ConfigError, match="must be one of"):
        load_config(env={**NO_ENV, "SQLOPS_LOGGING_LEVEL": "loud"})


def test_dsn_in_config_file_and_in_env(tmp_path: Path) -> None:
    cfg = write(tmp_path, '[database]\ndsn = "mysql://u@h:3307/db?unix_socket=/run/x.sock"\n')
    loaded = load_config(cfg, env=NO_ENV)
    db = loaded.config.database
    assert (db.user, db.host, db.port, db.database, db.unix_socket) == ("u", "h", 3307, "db", "/run/x.sock")
    assert loaded.source_of("database.port").detail == f"{cfg}:2"
    loaded = load_config(env={**NO_ENV, "SQLOPS_DSN": "mysql+pymysql://e@envhost/envdb"})
    assert loaded.config.database.host == "envhost"


def test_parse_dsn_variants_and_errors() -> None:
    assert parse_dsn("mysql://a:p%40ss@h:1/d") == {
        "host": "h",
        "port": 1,
        "user": "a",
        "password": "p@ss",
        "database": "d",
    }
    assert parse_dsn("mysql://h?ssl_ca=/ca.pem&ssl_verify=false") == {
        "host": "h",
        "tls.ca": "/ca.pem",
        "tls.verify": "false",
    }
    with pytest.raises(ConfigError, match="scheme"):
        parse_dsn("postgresql://h/d")
    with pytest.raises(ConfigError, match="unknown DSN parameter"):
        parse_dsn("mysql://h/d?charset=latin1")
    assert mask_dsn("mysql://u:secret@h/d") == "mysql://u:********@h/d"


def test_option_file_include_and_quotes(tmp_path: Path) -> None:
    extra = write(tmp_path, "[client]\nsocket=/run/inc.sock\n", "extra.cnf")
    main = write(
        tmp_path, f'[mysqld]\nuser=mysql\n[client]\nuser="reader"\n!include {extra}\nssl-ca=/ca\n', "m.cnf"
    )
    loaded = load_config(env={**NO_ENV, "SQLOPS_DATABASE_OPTION_FILE": str(main)})
    db = loaded.config.database
    assert (db.user, db.unix_socket, db.tls.ca) == ("reader", "/run/inc.sock", "/ca")


def test_home_my_cnf_is_read_when_present(tmp_path: Path) -> None:
    write(tmp_path, "[client]\npassword=fromhome\n", ".my.cnf")
    loaded = load_config(env={"HOME": str(tmp_path)})
    assert loaded.config.database.password == "fromhome"


def test_effective_items_mask_secrets() -> None:
    loaded = load_config(env={**NO_ENV, "MYSQL_PWD": "s3cret"})
    items = {k: (v, str(o)) for k, v, o in effective_items(loaded)}
    assert items["database.password"] == ("********", "mysql-env MYSQL_PWD")
    assert "s3cret" not in repr(items)


def test_named_time_zone_is_validated_in_python() -> None:
    from sqlops.timezones import python_zone

    with pytest.raises(ConfigError, match="unknown time zone"):
        python_zone("Mars/Olympus")
    with pytest.raises(ConfigError, match="SYSTEM"):
        python_zone("SYSTEM")
