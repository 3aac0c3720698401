"""Configuration: frozen dataclasses filled from layered sources, with provenance.

Precedence, highest first (DESIGN.md §3): command-line flags > ``SQLOPS_*`` environment >
the standard ``MYSQL_HOST`` / ``MYSQL_TCP_PORT`` / ``MYSQL_USER`` / ``MYSQL_PWD`` /
``MYSQL_UNIX_PORT`` variables > the TOML file > a my.cnf-style option file > defaults.

Every resolved value remembers where it came from so ``sqlops config show`` can say so, and a
wrong key or type in the TOML file is an error naming the file, the key and its line.

Sections are plain dataclasses; a field whose type is a dataclass is a TOML table, and a
``dict[str, SomeDataclass]`` field is a table of named tables (``[partitions.access_log]``).
Other areas of sqlops add their sections to :class:`Config` below.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from sqlops.errors import ConfigError
from sqlops.mycnf import read_option_file

DEFAULT_CONFIG_PATH = Path("/etc/sqlops/sqlops.toml")
SECRET = {"secret": True}
# A value that may carry a password inside it (a DSN): shown with the password masked.
SECRET_DSN = {"secret_dsn": True}


def bounded(default: Any, low: float | None = 0, high: float | None = None, *, above: bool = False) -> Any:
    """A numeric setting with its allowed range (checked for every source: file, env, flag),
    so that e.g. ``batch_rows = -5`` is refused with a message instead of misbehaving later.
    `above`: the value must be strictly greater than `low`."""
    return field(default=default, metadata={"range": (low, high, above)})


# --------------------------------------------------------------------------------------------
# Sections


@dataclass(frozen=True)
class TlsConfig:
    ca: str | None = None
    cert: str | None = None
    key: str | None = None
    # Verify the server certificate (against `ca`) and its host name. Only used when TLS is on,
    # i.e. when `ca` (or cert/key) is set.
    verify: bool = True


@dataclass(frozen=True)
class DatabaseConfig:
    host: str = "localhost"
    port: int = bounded(3306, 1, 65535)
    user: str | None = None
    password: str | None = field(default=None, metadata=SECRET)
    database: str = "squid"
    unix_socket: str | None = None
    option_file: str | None = None
    option_group: str = "client"
    # Pinned session time zone: it decides which day (and month partition) a row belongs to.
    time_zone: str = "+00:00"
    connect_timeout: int = bounded(10, 1)
    read_timeout: int = bounded(3600, 1)
    write_timeout: int = bounded(3600, 1)
    # Maintenance sessions' lock_wait_timeout for anything but their DDL (MariaDB's default
    # is 86400 s). Their DDL waits the way ddl_lock_wait and ddl_deadline say.
    lock_wait_timeout: int = bounded(5, 1)
    # Maintenance DDL (rotate, migrate, upgrade) on a table with an open transaction would make
    # every new insert queue behind it. So it first waits, without queueing, for sessions that
    # hold the table's metadata lock; then each attempt waits at most ddl_lock_wait seconds for
    # the lock (inserts queue for that long at most) and is retried with backoff, until
    # ddl_deadline seconds have passed: then the run fails naming the blocking connection.
    ddl_lock_wait: float = bounded(0.2, 0, above=True)
    ddl_deadline: float = bounded(600.0)
    # A primary's chunked copies (online migrate, schema upgrade, rollup) pause while a replica
    # is more than this many seconds behind, and resume when it has caught up.
    max_replica_lag: float = bounded(5.0)
    # Replicas whose lag is watched, as host[:port] (same user and password); empty: the ones
    # the primary reports (SHOW REPLICAS / SHOW SLAVE HOSTS).
    replicas: tuple[str, ...] = ()
    # Servers the logging daemon tries in order (host[:port]), writing to the first healthy
    # one and failing over to the next (a Galera node out of the primary component, a
    # read-only replica or a dead server is skipped). Empty: host and port above.
    hosts: tuple[str, ...] = ()
    # On a Galera cluster, DDL that copies rows stalls every node's writes: operations expected
    # to stall the cluster longer than this many seconds are refused with guidance.
    max_stall: float = bounded(1.0)
    tls: TlsConfig = field(default_factory=TlsConfig)


@dataclass(frozen=True)
class SchemaConfig:
    # The Squid log table sqlops writes and maintains.
    table: str = "access_log"
    # Fill date_day with a BEFORE INSERT trigger, for writers other than sqlops
    # (Squid's log_db_daemon, scripts). `schema upgrade` always installs it.
    date_day_trigger: bool = False


@dataclass(frozen=True)
class DigestConfig:
    # `sqlops digest` defaults; flags win.
    top: int = bounded(20)
    sort: Literal["total", "avg", "count", "rows_examined"] = "total"
    # The server's long_query_time in seconds (0 = unknown): faster entries in the slow log
    # were written because of log_queries_not_using_indexes.
    long_query_time: float = bounded(0.0)
    # Parallel readers for large plain files; 0 = one per CPU core.
    jobs: int = bounded(0)


@dataclass(frozen=True)
class TuneConfig:
    # Profile for `sqlops tune check|render|prefork` when --profile is not given; unset means
    # detect it from the machine (Proxmox node, database or web guest).
    profile: str | None = None
    # A folder of extra profiles (*.toml); a file there wins over a shipped one of that name.
    profile_dir: str | None = None


@dataclass(frozen=True)
class PartitionTableConfig:
    """One `[partitions.<table>]` table: monthly RANGE partitions kept by `partition rotate`."""

    # The DATE or DATETIME column the table is partitioned on (RANGE (TO_DAYS(column))).
    column: str = "date_day"
    # Months kept ready ahead of the current one, split off the empty catch-all partition.
    premake_months: int = bounded(3)
    # Keep the current month and this many before it; older months are archived or dropped.
    # Unset (the default) keeps everything.
    retention_months: int | None = bounded(None)
    # Expired months become tables named <table>_YYYYmMM (CONVERT PARTITION on MariaDB >= 10.7,
    # EXCHANGE PARTITION elsewhere) instead of being dropped.
    archive: bool = True
    # With archive = false, expired months holding rows are dropped only when this is true.
    allow_destructive: bool = False
    # `partition check`: WARNING / CRITICAL when fewer days than this remain before rows start
    # landing in the catch-all partition.
    headroom_warning_days: int = bounded(20)
    headroom_critical_days: int = bounded(7)
    # `partition check`: WARNING when the last successful rotate is older than this.
    max_run_age_hours: int = bounded(36, 1)


@dataclass(frozen=True)
class ServeConfig:
    """`sqlops serve`: the maintenance scheduler (crontab expressions; "" disables a job)."""

    rotate_schedule: str = "17 3 * * *"
    rollup_schedule: str = "7 * * * *"
    # Zone the schedules are read in (default: database.time_zone).
    time_zone: str | None = None
    # Run every enabled job once right after start, so a restart never skips a day.
    run_at_start: bool = True
    # A run that could not start on time (host suspended, scheduler busy) still runs if it is
    # at most this late; runs missed in a row are coalesced into one.
    misfire_grace_seconds: int = bounded(3600, 1)


@dataclass(frozen=True)
class RollupConfig:
    """The daily traffic rollup maintained by `sqlops rollup refresh` and `sqlops serve`."""

    table: str = "access_log_daily"
    # The log table it reads (default: schema.table).
    source: str | None = None
    # Log rows read per transaction.
    chunk_rows: int = bounded(50_000, 1)


@dataclass(frozen=True)
class LoggingConfig:
    level: Literal["debug", "info", "warning", "error"] = "info"


@dataclass(frozen=True)
class IngestConfig:
    """[ingest]: sqlops-logfile-daemon and `sqlops ingest load` (README, Squid logging)."""

    # Log format: squid, squid_mysql, common, combined, or a logformat spec as in squid.conf.
    format: str = "squid"
    # Journal folder; the daemon (Squid's cache_effective_user, usually proxy) must own it.
    spool_dir: str = "/var/spool/sqlops"
    # A batch is written when it has this many lines or its oldest line is this old.
    batch_rows: int = bounded(20000, 1)
    batch_seconds: float = bounded(1.0, 0, above=True)
    # auto: LOAD DATA LOCAL INFILE when the server allows it, else multi-row INSERT.
    method: Literal["auto", "load-data", "insert"] = "auto"
    segment_mb: int = bounded(64, 1)
    # Past this journal size the daemon warns (stderr, `ingest status`) but keeps journaling.
    spool_max_mb: int = bounded(2048, 1)
    # Below this much free space on the journal's filesystem the daemon stops reading stdin.
    spool_reserve_mb: int = bounded(256)
    # fsync the journal at most this often (0 = leave it to the kernel).
    fsync_seconds: float = bounded(1.0)
    # Reconnect backoff cap, and how long SIGTERM/EOF may spend draining before exiting.
    retry_max_seconds: float = bounded(10.0, 0, above=True)
    shutdown_seconds: float = bounded(10.0)
    # `ingest load` fails (exit 1, the file not marked complete) when more than this share of
    # a file's lines is quarantined.
    max_quarantine_ratio: float = bounded(0.05, 0, 1)


@dataclass(frozen=True)
class TargetConfig:
    """[targets.NAME]: what `access_log daemon:NAME` writes to; unset keys come from
    [database], [schema] and [ingest]."""

    dsn: str | None = field(default=None, metadata=SECRET_DSN)
    option_file: str | None = None
    password: str | None = field(default=None, metadata=SECRET)
    database: str | None = None
    table: str | None = None
    format: str | None = None
    spool_dir: str | None = None


@dataclass(frozen=True)
class Config:
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    schema: SchemaConfig = field(default_factory=SchemaConfig)
    digest: DigestConfig = field(default_factory=DigestConfig)
    tune: TuneConfig = field(default_factory=TuneConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    ingest: IngestConfig = field(default_factory=IngestConfig)
    targets: dict[str, TargetConfig] = field(default_factory=dict)
    partitions: dict[str, PartitionTableConfig] = field(default_factory=dict)
    serve: ServeConfig = field(default_factory=ServeConfig)
    rollup: RollupConfig = field(default_factory=RollupConfig)


# --------------------------------------------------------------------------------------------
# Provenance


@dataclass(frozen=True)
class Origin:
    """Where a value came from, shown by `sqlops config show`."""

    kind: Literal["default", "option-file", "file", "mysql-env", "env", "flag"]
    detail: str = ""

    def __str__(self) -> str:
        return self.kind if not self.detail else f"{self.kind} {self.detail}"


DEFAULT = Origin("default")
_RANK = {"default": 0, "option-file": 1, "file": 2, "mysql-env": 3, "env": 4, "flag": 5}


@dataclass(frozen=True)
class LoadedConfig:
    config: Config
    path: Path | None
    sources: Mapping[str, Origin]
    # Problems worth a warning but not a failure (unknown SQLOPS_* variables).
    warnings: tuple[str, ...] = ()

    def source_of(self, dotted: str) -> Origin:
        return self.sources.get(dotted, DEFAULT)


# --------------------------------------------------------------------------------------------
# DSN


_DSN_SCHEMES = {"mysql", "mysql+pymysql", "mariadb", "mariadb+pymysql"}
_DSN_QUERY_KEYS = {
    "unix_socket": "unix_socket",
    "ssl_ca": "tls.ca",
    "ssl_cert": "tls.cert",
    "ssl_key": "tls.key",
    "ssl_verify": "tls.verify",
    "time_zone": "time_zone",
}


def parse_dsn(dsn: str) -> dict[str, Any]:
    """Split ``mysql://user[:password]@host[:port]/database?unix_socket=...`` into
    `database.*` keys (dotted, relative to [database]). Only the parts present are returned.
    """
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        url = make_url(dsn)
    except ArgumentError as exc:
        raise ConfigError(
            f"cannot parse DSN {mask_dsn(dsn)!r}",
            why=str(exc),
            fix="write it as mysql://user@host:3306/database (add ?unix_socket=/path for a socket)",
        ) from None
    if url.drivername not in _DSN_SCHEMES:
        raise ConfigError(
            f"DSN scheme {url.drivername!r} is not a MySQL/MariaDB URL",
            fix="start the DSN with mysql:// (or mysql+pymysql://)",
        )
    out: dict[str, Any] = {}
    if url.host:
        out["host"] = url.host
    if url.port:
        out["port"] = url.port
    if url.username:
        out["user"] = url.username
    if url.password is not None:
        out["password"] = url.password
    if url.database:
        out["database"] = url.database
    for key, value in url.query.items():
        if key not in _DSN_QUERY_KEYS:
            raise ConfigError(
                f"unknown DSN parameter {key!r}",
                fix=f"use one of: {', '.join(sorted(_DSN_QUERY_KEYS))}",
            )
        out[_DSN_QUERY_KEYS[key]] = value if isinstance(value, str) else value[-1]
    return out


def dsn_has_password(dsn: str) -> bool:
    try:
        return "password" in parse_dsn(dsn)
    except ConfigError:
        return False


def mask_dsn(dsn: str) -> str:
    """The DSN with its password replaced, safe for logs and error messages."""
    # Everything between the user's colon and the last "@" of the authority is the password,
    # even when it holds "@", "/" or ":" that the user forgot to percent-encode.
    return re.sub(r"(://[^:/@]*:).*@", r"\1********@", dsn.split("?", 1)[0]) + (
        "?" + dsn.split("?", 1)[1] if "?" in dsn else ""
    )


# --------------------------------------------------------------------------------------------
# Loading


def load_config(
    path: str | os.PathLike[str] | None = None,
    *,
    dsn: str | None = None,
    overrides: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
) -> LoadedConfig:
    """Resolve the effective configuration.

    `path` is ``--config`` (an error if it does not exist); without it ``SQLOPS_CONFIG`` and
    then ``/etc/sqlops/sqlops.toml`` are used when present. `dsn` is ``--dsn`` and `overrides`
    are other flags as dotted keys (``{"schema.table": "log2"}``).
    """
    env = os.environ if env is None else env
    layers: dict[str, tuple[Any, Origin]] = {}

    def put(dotted: str, value: Any, origin: Origin) -> None:
        old = layers.get(dotted)
        if old is None or _RANK[origin.kind] >= _RANK[old[1].kind]:
            layers[dotted] = (value, origin)

    config_path = _choose_path(path, env)
    text = ""
    if config_path is not None:
        text = _read_text(config_path)
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(
                f"{config_path}: not valid TOML",
                why=str(exc),
                fix="correct the syntax at the line shown (strings need quotes)",
            ) from None
        locate = _Locator(config_path, text)
        if "database" in data and isinstance(data["database"], dict) and "dsn" in data["database"]:
            db = dict(data["database"])
            dsn_value = db.pop("dsn")
            if not isinstance(dsn_value, str):
                raise locate.error("database.dsn", "must be a string")
            for key, value in parse_dsn(dsn_value).items():
                put(f"database.{key}", value, Origin("file", f"{config_path}:{locate.line('database.dsn')}"))
            data = {**data, "database": db}
        for dotted, value in _flatten(data):
            put(dotted, value, Origin("file", f"{config_path}:{locate.line(dotted)}"))
    else:
        locate = None

    for dotted, value, origin in _mysql_env(env):
        put(dotted, value, origin)
    named = {k.split(".")[1] for k in layers if k.count(".") >= 2 and k.split(".")[0] in _NAMED_SECTIONS}
    env_values, warnings = _sqlops_env(env, named)
    for dotted, value, origin in env_values:
        put(dotted, value, origin)
    if dsn:
        for key, value in parse_dsn(dsn).items():
            put(f"database.{key}", value, Origin("flag", "--dsn"))
    for dotted, value in (overrides or {}).items():
        if value is not None:
            put(dotted, value, Origin("flag", f"--{dotted.rsplit('.', 1)[-1].replace('_', '-')}"))

    # The option file is the lowest layer but its path is itself configurable.
    option_file = layers.get("database.option_file", (None, DEFAULT))[0]
    group = layers.get("database.option_group", ("client", DEFAULT))[0]
    implicit = option_file is None
    if implicit:
        option_file = str(Path(env.get("HOME", "~")).expanduser() / ".my.cnf")
    if option_file and (not implicit or Path(option_file).is_file()):
        for key, value in read_option_file(Path(option_file).expanduser(), str(group)).items():
            put(f"database.{key}", value, Origin("option-file", f"{option_file} [{group}]"))

    sources: dict[str, Origin] = {}
    config = _build(Config, "", {k: v for k, v in layers.items()}, sources, locate)
    return LoadedConfig(config=config, path=config_path, sources=sources, warnings=tuple(warnings))


def _choose_path(path: str | os.PathLike[str] | None, env: Mapping[str, str]) -> Path | None:
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(
                f"config file {p} does not exist",
                fix="pass an existing file to --config, or copy configs/sqlops.example.toml there",
            )
        return p
    if env.get("SQLOPS_CONFIG"):
        p = Path(env["SQLOPS_CONFIG"])
        if not p.is_file():
            raise ConfigError(f"SQLOPS_CONFIG names {p}, which does not exist")
        return p
    return DEFAULT_CONFIG_PATH if DEFAULT_CONFIG_PATH.is_file() else None


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}", why=str(exc)) from None


def _flatten(data: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """Dotted keys for every leaf; named tables (`partitions.access_log.x`) flatten too and the
    builder recovers the names from the keys."""
    out: list[tuple[str, Any]] = []
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict):
            out.extend(_flatten(value, dotted + "."))
        else:
            out.append((dotted, value))
    return out


_MYSQL_ENV = {
    "MYSQL_HOST": "database.host",
    "MYSQL_TCP_PORT": "database.port",
    "MYSQL_USER": "database.user",
    "MYSQL_PWD": "database.password",
    "MYSQL_UNIX_PORT": "database.unix_socket",
}


def _mysql_env(env: Mapping[str, str]) -> list[tuple[str, Any, Origin]]:
    return [
        (dotted, env[name], Origin("mysql-env", name)) for name, dotted in _MYSQL_ENV.items() if env.get(name)
    ]


def env_name(dotted: str) -> str:
    return "SQLOPS_" + dotted.upper().replace(".", "_")


# SQLOPS_* variables that are not settings: read elsewhere (the daemon, the test suite, the
# compose file and image scripts), so they are not reported as unknown.
_OTHER_SQLOPS_VARS = frozenset(
    {
        "SQLOPS_CONFIG",
        "SQLOPS_DSN",
        "SQLOPS_DAEMON_LOG_LEVEL",
        "SQLOPS_UPDATE_GOLDEN",
        "SQLOPS_IMAGE",
        "SQLOPS_BASE_IMAGE",
        "SQLOPS_WHEELS",
        "SQLOPS_DB_ROOT_PASSWORD",
        "SQLOPS_MARIADB_IMAGE",
        "SQLOPS_MYSQL_IMAGE",
        "SQLOPS_MARIADB_PORT",
        "SQLOPS_MYSQL_PORT",
    }
)
_OTHER_SQLOPS_PREFIXES = ("SQLOPS_TEST_",)
_NAMED_SECTIONS = ("partitions", "targets")


def _sqlops_env(env: Mapping[str, str], named: set[str]) -> tuple[list[tuple[str, Any, Origin]], list[str]]:
    """Settings from SQLOPS_* variables, and warnings about variables that name none.

    Keys of named tables are ``SQLOPS_<SECTION>_<NAME>_<KEY>`` (``SQLOPS_TARGETS_PROXY1_DSN``,
    ``SQLOPS_PARTITIONS_ACCESS_LOG_RETENTION_MONTHS``): the key is the longest known key at
    the end, the name is what is left, matched case-insensitively against the names the file
    defines (else lower-cased)."""
    out: list[tuple[str, Any, Origin]] = []
    warnings: list[str] = []
    if env.get("SQLOPS_DSN"):
        out.extend(
            (f"database.{k}", v, Origin("env", "SQLOPS_DSN")) for k, v in parse_dsn(env["SQLOPS_DSN"]).items()
        )
    plain = {env_name(dotted): dotted for dotted in scalar_keys(Config)}
    for name in sorted(env):
        if not name.startswith("SQLOPS_") or name in _OTHER_SQLOPS_VARS:
            continue
        if name.startswith(_OTHER_SQLOPS_PREFIXES):
            continue
        dotted = plain.get(name) or _named_env_key(name, named)
        if dotted is None:
            warnings.append(_unknown_env(name, [*plain, *_named_env_patterns()]))
            continue
        out.append((dotted, env[name], Origin("env", name)))
    return out, warnings


def _named_env_key(name: str, named: set[str]) -> str | None:
    hints = typing.get_type_hints(Config)
    for section in _NAMED_SECTIONS:
        head = f"SQLOPS_{section.upper()}_"
        if not name.startswith(head):
            continue
        rest = name[len(head) :]
        item = typing.get_args(hints[section])[1]
        keys = sorted(scalar_keys(item), key=len, reverse=True)
        for key in keys:
            tail = "_" + key.upper()
            if rest.endswith(tail) and len(rest) > len(tail):
                table = rest[: -len(tail)]
                spelled = next((n for n in sorted(named) if n.upper() == table), table.lower())
                return f"{section}.{spelled}.{key}"
    return None


def _named_env_patterns() -> list[str]:
    hints = typing.get_type_hints(Config)
    return [
        f"SQLOPS_{section.upper()}_<NAME>_{key.upper()}"
        for section in _NAMED_SECTIONS
        for key in scalar_keys(typing.get_args(hints[section])[1])
    ]


def _unknown_env(name: str, known: list[str]) -> str:
    import difflib

    close = difflib.get_close_matches(name, known, n=1, cutoff=0.75)
    hint = f"; did you mean {close[0]}?" if close else "; `sqlops config show` lists the settings"
    return f"environment variable {name} is not a sqlops setting and is ignored{hint}"


def scalar_keys(cls: type, prefix: str = "", *, named: bool = False) -> list[str]:
    """Dotted names of every scalar key. Keys inside named tables (`dict[str, Section]`) are
    listed as ``section.*.key`` when `named` is true and left out otherwise (environment
    variables cannot address them)."""
    out: list[str] = []
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        tp = hints[f.name]
        if dataclasses.is_dataclass(tp):
            out.extend(scalar_keys(tp, f"{prefix}{f.name}.", named=named))  # type: ignore[arg-type]
        elif typing.get_origin(tp) is dict:
            if named:
                out.extend(scalar_keys(typing.get_args(tp)[1], f"{prefix}{f.name}.*.", named=True))
        else:
            out.append(f"{prefix}{f.name}")
    return out


# --------------------------------------------------------------------------------------------
# Validation and construction


class _Locator:
    """Finds the line of a dotted key in the TOML text, for error messages."""

    _header = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
    _assign = re.compile(r"^\s*([A-Za-z0-9_.\"' -]+?)\s*=")

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.lines = text.splitlines()

    def line(self, dotted: str) -> int:
        table = ""
        for number, raw in enumerate(self.lines, start=1):
            header = self._header.match(raw)
            if header:
                table = header.group(1).replace('"', "").replace("'", "").replace(" ", "")
                if table == dotted:
                    return number
                continue
            assign = self._assign.match(raw)
            if assign:
                key = assign.group(1).replace('"', "").replace("'", "").replace(" ", "")
                full = f"{table}.{key}" if table else key
                if full == dotted or dotted.startswith(full + "."):
                    return number
        return 0

    def error(self, dotted: str, problem: str, fix: str | None = None) -> ConfigError:
        line = self.line(dotted)
        where = f"{self.path}:{line}" if line else str(self.path)
        return ConfigError(f"{where}: key {dotted!r} {problem}", fix=fix)


def _build(
    cls: type,
    prefix: str,
    layers: Mapping[str, tuple[Any, Origin]],
    sources: dict[str, Origin],
    locate: _Locator | None,
) -> Any:
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    # Unknown keys at this level.
    for dotted, (_, origin) in layers.items():
        if not dotted.startswith(prefix):
            continue
        head = dotted[len(prefix) :].split(".", 1)[0]
        if head not in known:
            _fail(dotted, f"is not a known setting (known here: {', '.join(sorted(known))})", origin, locate)

    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        tp = hints[f.name]
        dotted = f"{prefix}{f.name}"
        if dataclasses.is_dataclass(tp):
            kwargs[f.name] = _build(tp, dotted + ".", layers, sources, locate)  # type: ignore[arg-type]
            continue
        if typing.get_origin(tp) is dict:
            item_type = typing.get_args(tp)[1]
            names = sorted(
                {k[len(dotted) + 1 :].split(".", 1)[0] for k in layers if k.startswith(dotted + ".")}
            )
            kwargs[f.name] = {
                name: _build(item_type, f"{dotted}.{name}.", layers, sources, locate) for name in names
            }
            continue
        if dotted in layers:
            value, origin = layers[dotted]
            kwargs[f.name] = _coerce(value, tp, dotted, origin, locate)
            _check_range(kwargs[f.name], f.metadata.get("range"), dotted, origin, locate)
            sources[dotted] = origin
        else:
            sources[dotted] = DEFAULT
    return cls(**kwargs)


def _fail(dotted: str, problem: str, origin: Origin, locate: _Locator | None) -> typing.NoReturn:
    if origin.kind == "file" and locate is not None:
        raise locate.error(dotted, problem)
    raise ConfigError(f"{origin}: setting {dotted!r} {problem}")


def _check_range(
    value: Any,
    bounds: tuple[float | None, float | None, bool] | None,
    dotted: str,
    origin: Origin,
    locate: _Locator | None,
) -> None:
    if bounds is None or value is None:
        return
    low, high, above = bounds
    if low is not None and (value <= low if above else value < low):
        wanted = f"greater than {low:g}" if above else f"at least {low:g}"
        if high is not None:
            wanted += f" and at most {high:g}"
        _fail(dotted, f"must be {wanted}, not {value!r}", origin, locate)
    if high is not None and value > high:
        _fail(dotted, f"must be at most {high:g}, not {value!r}", origin, locate)


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _coerce(value: Any, tp: Any, dotted: str, origin: Origin, locate: _Locator | None) -> Any:
    """Check `value` against the annotation `tp`. Environment values arrive as strings and are
    converted; TOML values must already have the right type."""
    from_text = origin.kind in {"env", "mysql-env", "option-file", "flag"} and isinstance(value, str)
    origin_type = typing.get_origin(tp)
    args = typing.get_args(tp)

    if origin_type in (types.UnionType, typing.Union):
        non_none = [a for a in args if a is not type(None)]
        if value is None or (from_text and value == "" and type(None) in args):
            return None
        return _coerce(value, non_none[0], dotted, origin, locate)
    if origin_type is Literal:
        if value not in args:
            _fail(dotted, f"must be one of {', '.join(map(repr, args))}, not {value!r}", origin, locate)
        return value
    if origin_type in (list, tuple):
        item = args[0]
        if from_text:
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, list):
            _fail(dotted, f"must be a list, not {type(value).__name__}", origin, locate)
        items = [_coerce(v, item, dotted, origin, locate) for v in value]
        return tuple(items) if origin_type is tuple else items
    if tp is bool:
        if from_text:
            low = value.strip().lower()
            if low in _TRUE:
                return True
            if low in _FALSE:
                return False
        if isinstance(value, bool):
            return value
        _fail(dotted, f"must be true or false, not {value!r}", origin, locate)
    if tp is int:
        if from_text:
            try:
                return int(value.strip())
            except ValueError:
                pass
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        _fail(dotted, f"must be an integer, not {value!r}", origin, locate)
    if tp is float:
        if from_text:
            try:
                return float(value.strip())
            except ValueError:
                pass
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        _fail(dotted, f"must be a number, not {value!r}", origin, locate)
    if tp is str:
        if isinstance(value, str):
            return value
        _fail(dotted, f"must be a string, not {type(value).__name__} {value!r}", origin, locate)
    raise TypeError(f"unsupported config type {tp!r} for {dotted}")  # a bug in a section class


def effective_items(loaded: LoadedConfig) -> list[tuple[str, Any, Origin]]:
    """(dotted key, value, origin) for every setting, secrets masked; for `config show`."""
    out: list[tuple[str, Any, Origin]] = []

    def walk(obj: Any, prefix: str) -> None:
        for f in dataclasses.fields(obj):
            value = getattr(obj, f.name)
            dotted = f"{prefix}{f.name}"
            if dataclasses.is_dataclass(value):
                walk(value, dotted + ".")
            elif isinstance(value, dict):
                for name, section in sorted(value.items()):
                    walk(section, f"{dotted}.{name}.")
            else:
                if f.metadata.get("secret") and value is not None:
                    value = "********"
                elif f.metadata.get("secret_dsn") and isinstance(value, str):
                    value = mask_dsn(value)
                out.append((dotted, value, loaded.source_of(dotted)))

    walk(loaded.config, "")
    return out
