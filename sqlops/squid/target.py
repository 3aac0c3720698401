"""What `access_log daemon:<ARG> <format>` in squid.conf means: where the daemon writes.

Squid passes the text after ``daemon:`` as argv[1]. It is read, in this order, as

1. an existing file: a sqlops config file (its [database], [schema] and [ingest]);
2. a name: the ``[targets.NAME]`` section of the default config file;
3. Squid's ``log_db_daemon`` form ``/host[:port]/database/table/user/password`` (empty
   segments take log_db_daemon's defaults), accepted for a drop-in switch with a warning
   when it carries a password (argv is visible in ps).

Squid never says which logformat it uses, so the format comes from the config (default
native ``squid``); with the legacy form it is detected (``squid`` or ``squid_mysql``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlops.config import (
    DatabaseConfig,
    IngestConfig,
    LoadedConfig,
    TargetConfig,
    TlsConfig,
    load_config,
    parse_dsn,
)
from sqlops.errors import ConfigError
from sqlops.mycnf import read_option_file

# log_db_daemon's defaults for empty segments of its path-style DSN.
LEGACY_DEFAULTS = {"host": "localhost", "database": "squid_log", "table": "access_log", "user": "squid"}
_LEGACY = re.compile(r"/(.*?)/(.*?)/(.*?)/(.*?)/(.*?)", re.DOTALL)
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_DEFAULT_SOCKET = Path("/run/mysqld/mysqld.sock")


@dataclass(frozen=True)
class Target:
    kind: str  # "file", "name" or "legacy"
    key: str  # folder under the spool root; never contains a password
    description: str  # for logs and `ingest status`, never contains a password
    database: DatabaseConfig
    table: str
    format: str | None  # None: detect squid / squid_mysql from the first lines (also "auto")
    ingest: IngestConfig
    spool_root: Path
    warnings: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.format == "auto":
            object.__setattr__(self, "format", None)

    @property
    def spool_dir(self) -> Path:
        return self.spool_root / self.key


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_") or "default"


def target_key(arg: str) -> str:
    """The spool folder name for argv[1], computed from the argument alone (so the daemon can
    journal even while its configuration is broken)."""
    if os.path.isfile(arg):
        path = os.path.abspath(arg)
        return f"file-{_safe(Path(path).stem)}-{hashlib.sha1(path.encode()).hexdigest()[:8]}"
    if _NAME.fullmatch(arg):
        return f"target-{arg}"
    fields = _legacy_fields(arg)
    parts = [str(fields[k]) for k in ("host", "port", "database", "table", "user") if fields.get(k)]
    return "legacy-" + _safe("_".join(parts))


def _legacy_fields(arg: str) -> dict[str, Any]:
    match = _LEGACY.fullmatch(arg)
    parts = match.groups() if match else ("", "", "", "", "")
    host, database, table, user, password = parts
    out: dict[str, Any] = {
        "host": host or LEGACY_DEFAULTS["host"],
        "database": database or LEGACY_DEFAULTS["database"],
        "table": table or LEGACY_DEFAULTS["table"],
        "user": user or LEGACY_DEFAULTS["user"],
        "password": password or None,
    }
    if ":" in out["host"] and out["host"].count(":") == 1:
        host_part, port = out["host"].rsplit(":", 1)
        if port.isdigit():
            out["host"], out["port"] = host_part or LEGACY_DEFAULTS["host"], int(port)
    return out


def resolve_target(
    arg: str, *, env: Mapping[str, str] | None = None, config_path: Path | None = None
) -> Target:
    """Decide what argv[1] means (see module doc). Raises ConfigError with a fix.
    `config_path` is the file whose [targets.NAME] a name means (default: SQLOPS_CONFIG or
    /etc/sqlops/sqlops.toml), e.g. the CLI's --config."""
    if not arg:
        raise ConfigError(
            "no target given",
            fix="squid.conf: access_log daemon:NAME squid (NAME from [targets.NAME]) or "
            "daemon:/etc/sqlops/sqlops.toml",
        )
    key = target_key(arg)
    if os.path.isfile(arg):
        loaded = load_config(arg, env=env)
        config = loaded.config
        return Target(
            kind="file",
            key=key,
            description=f"config file {os.path.abspath(arg)}",
            database=config.database,
            table=config.schema.table,
            format=config.ingest.format,
            ingest=config.ingest,
            spool_root=Path(config.ingest.spool_dir),
            warnings=loaded.warnings,
        )
    if arg.endswith(".toml"):
        raise ConfigError(
            f"config file {arg} does not exist",
            fix="create it (see configs/sqlops.example.toml) or correct the access_log line",
        )
    if _NAME.fullmatch(arg):
        loaded = load_config(config_path, env=env)
        section = loaded.config.targets.get(arg)
        if section is None:
            where = loaded.path or "the default config (/etc/sqlops/sqlops.toml, none found)"
            raise ConfigError(
                f"no [targets.{arg}] section in {where}",
                fix=f"add [targets.{arg}] with dsn/table/format, or name an existing target",
            )
        return _named_target(arg, key, section, loaded)
    if arg.startswith("/"):
        return _legacy_target(arg, key, env, config_path)
    raise ConfigError(
        f"cannot tell what {arg!r} names",
        fix="use a target name ([targets.NAME]), a config file path, or /host/db/table/user/pass",
    )


def _named_target(name: str, key: str, section: TargetConfig, loaded: LoadedConfig) -> Target:
    config = loaded.config
    database = config.database
    if section.dsn:
        database = apply_settings(database, parse_dsn(section.dsn))
    if section.option_file:
        database = apply_settings(
            database,
            read_option_file(Path(section.option_file).expanduser(), database.option_group),
        )
    if section.database:
        database = dataclasses.replace(database, database=section.database)
    if section.password is not None:
        database = dataclasses.replace(database, password=section.password)
    warnings: tuple[str, ...] = loaded.warnings
    if section.dsn and "password" in parse_dsn(section.dsn):
        warnings += (f"[targets.{name}] dsn carries a password; prefer an option file",)
    return Target(
        kind="name",
        key=key,
        description=f"target {name}",
        database=database,
        table=section.table or config.schema.table,
        format=section.format or config.ingest.format,
        ingest=config.ingest,
        spool_root=Path(section.spool_dir or config.ingest.spool_dir),
        warnings=warnings,
    )


def _legacy_target(arg: str, key: str, env: Mapping[str, str] | None, config_path: Path | None) -> Target:
    fields = _legacy_fields(arg)
    try:
        loaded = load_config(config_path, env=env)
        base, ingest = loaded.config.database, loaded.config.ingest
    except ConfigError:
        base, ingest = DatabaseConfig(), IngestConfig()
    settings: dict[str, Any] = {k: fields[k] for k in ("host", "database", "user")}
    settings["port"] = fields.get("port", 3306)
    settings["password"] = fields["password"]
    settings["unix_socket"] = None
    if settings["host"] == "localhost" and _DEFAULT_SOCKET.exists():
        settings["unix_socket"] = str(_DEFAULT_SOCKET)  # what DBD::mysql does for localhost
    database = apply_settings(base, settings)
    warnings = ["log_db_daemon-style target: switch to `access_log daemon:NAME` with [targets.NAME]"]
    if fields["password"]:
        warnings.insert(
            0,
            "the database password is in squid.conf and in this process's argv (visible in ps); "
            "move it to the sqlops config or an option file and use access_log daemon:NAME",
        )
    described = f"{database.user}@{database.unix_socket or f'{database.host}:{database.port}'}"
    return Target(
        kind="legacy",
        key=key,
        description=f"log_db_daemon-style {described}/{database.database}.{fields['table']}",
        database=database,
        table=fields["table"],
        format=None,
        ingest=ingest,
        spool_root=Path(ingest.spool_dir),
        warnings=tuple(warnings),
    )


def apply_settings(database: DatabaseConfig, values: Mapping[str, Any]) -> DatabaseConfig:
    """`database` with dotted [database] keys (as parse_dsn/read_option_file return) set."""
    plain = {k: v for k, v in values.items() if not k.startswith("tls.")}
    if "port" in plain and plain["port"] is not None:
        plain["port"] = int(plain["port"])
    tls = {k[4:]: v for k, v in values.items() if k.startswith("tls.")}
    if "verify" in tls and isinstance(tls["verify"], str):
        tls["verify"] = tls["verify"].strip().lower() not in ("0", "false", "no", "off")
    out = dataclasses.replace(database, **plain)
    if tls:
        out = dataclasses.replace(out, tls=dataclasses.replace(database.tls or TlsConfig(), **tls))
    return out


@dataclass(frozen=True)
class Destination:
    """Where `sqlops ingest load|quarantine` writes: the connection, table and log format."""

    database: DatabaseConfig
    table: str
    format: str


def ingest_destination(
    loaded: LoadedConfig, target: str | None, table: str | None, log_format: str | None
) -> Destination:
    """From --target NAME (a [targets.NAME] of the same config file) or the configuration;
    --table and --format win over either."""
    if target:
        resolved = resolve_target(target, config_path=loaded.path)
        return Destination(
            resolved.database, table or resolved.table, log_format or resolved.format or "auto"
        )
    config = loaded.config
    return Destination(config.database, table or config.schema.table, log_format or config.ingest.format)
