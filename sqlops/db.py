"""Connections to MySQL/MariaDB: pinned session settings, flavour detection, quoting, named locks.

Every sqlops session uses utf8mb4, a strict sql_mode, explicit timeouts and the configured time
zone, so a row lands on the same day whichever process wrote it (DESIGN.md §4). Maintenance
sessions also get a bounded ``lock_wait_timeout``; their DDL waits for metadata locks the way
:class:`sqlops.plan.LockWait` says, so it never queues the logging daemon behind it for long.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import logging
import re
import ssl
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import pymysql
import pymysql.cursors

from sqlops.config import DatabaseConfig
from sqlops.errors import ConfigError, ConnectError, LockHeldError, ServerError
from sqlops.timezones import is_offset, python_zone, server_zone

log = logging.getLogger("sqlops.db")
T = TypeVar("T")

STRICT_SQL_MODE = (
    "STRICT_TRANS_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION"
)

# MySQL error numbers sqlops reacts to.
ER_LOCK_WAIT_TIMEOUT = 1205
ER_LOCK_DEADLOCK = 1213
ER_UNKNOWN_TIME_ZONE = 1298
ER_ACCESS_DENIED = 1045
ER_BAD_DB = 1049
ER_CANT_CONNECT = 2003
ER_SERVER_GONE = 2006
ER_SERVER_LOST = 2013
RETRYABLE = frozenset({ER_LOCK_WAIT_TIMEOUT, ER_LOCK_DEADLOCK})
CONNECTION_LOST = frozenset({ER_CANT_CONNECT, ER_SERVER_GONE, ER_SERVER_LOST, 2002, 2055, 0})


Flavour = Literal["mariadb", "mysql"]


@dataclass(frozen=True)
class ServerInfo:
    flavour: Flavour
    version: tuple[int, int, int]
    version_string: str

    @classmethod
    def parse(cls, version_string: str) -> ServerInfo:
        flavour: Flavour = "mariadb" if "mariadb" in version_string.lower() else "mysql"
        numbers = re.match(r"(\d+)\.(\d+)\.(\d+)", version_string)
        version = tuple(int(n) for n in numbers.groups()) if numbers else (0, 0, 0)
        return cls(flavour, version, version_string)  # type: ignore[arg-type]

    @property
    def is_mariadb(self) -> bool:
        return self.flavour == "mariadb"

    def at_least(self, major: int, minor: int = 0, patch: int = 0) -> bool:
        return self.version >= (major, minor, patch)

    # Feature switches live here so that callers never compare versions themselves.
    @property
    def has_convert_partition(self) -> bool:
        """ALTER TABLE ... CONVERT PARTITION p TO TABLE t (MariaDB >= 10.7)."""
        return self.is_mariadb and self.at_least(10, 7)

    @property
    def index_visibility_keyword(self) -> str:
        """MariaDB >= 10.6 IGNORED indexes, MySQL 8+ INVISIBLE indexes."""
        return "IGNORED" if self.is_mariadb else "INVISIBLE"

    @property
    def text_index_needs_prefix(self) -> bool:
        """MySQL rejects KEY(text_col) (1170); MariaDB silently prefixes it."""
        return not self.is_mariadb

    def describe(self) -> str:
        name = "MariaDB" if self.is_mariadb else "MySQL"
        return f"{name} {'.'.join(map(str, self.version))} ({self.version_string})"


def utc_now() -> dt.datetime:
    """Naive UTC for sqlops' DATETIME bookkeeping columns (documented as UTC), independent of
    the pinned session time zone."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def quote_ident(name: str) -> str:
    """Quote an identifier for MySQL: backticks, with embedded backticks doubled."""
    if not name or "\x00" in name:
        raise ConfigError(f"invalid identifier {name!r}", why="identifiers cannot be empty or contain NUL")
    return "`" + name.replace("`", "``") + "`"


def qualified(schema: str, table: str) -> str:
    return f"{quote_ident(schema)}.{quote_ident(table)}"


def quote_string(value: str) -> str:
    """A string literal, for the rare places a value cannot be a parameter (DDL, trigger
    bodies, rendered scripts). Escapes the characters that matter under any sql_mode."""
    escaped = value.replace("\\", "\\\\").replace("'", "''").replace("\x00", "\\0").replace("\n", "\\n")
    return "'" + escaped.replace("\r", "\\r").replace("\x1a", "\\Z") + "'"


class Session:
    """One pinned server connection with the flavour detected and sqlops' session settings."""

    def __init__(
        self, raw: pymysql.connections.Connection, info: ServerInfo, settings: DatabaseConfig
    ) -> None:
        self.raw = raw
        self.info = info
        self.settings = settings
        # Which metadata-lock list the server offers (sqlops.mdl.lock_source), once known.
        self.mdl_source: str | None = None

    @property
    def database(self) -> str:
        return self.settings.database

    @property
    def connection_id(self) -> int:
        return int(self.raw.thread_id())

    def execute(self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None) -> int:
        with self.raw.cursor() as cur:
            return int(cur.execute(sql, params))

    def query(self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        with self.raw.cursor() as cur:
            cur.execute(sql, params)
            return list(cur.fetchall())

    def query_dicts(
        self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        with self.raw.cursor(pymysql.cursors.DictCursor) as cur:
            cur.execute(sql, params)
            return list(cur.fetchall())

    def scalar(self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None) -> Any:
        rows = self.query(sql, params)
        return rows[0][0] if rows else None

    def begin(self) -> None:
        self.raw.begin()

    def commit(self) -> None:
        self.raw.commit()

    def rollback(self) -> None:
        self.raw.rollback()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Session]:
        self.raw.begin()
        try:
            yield self
        except BaseException:
            with contextlib.suppress(pymysql.MySQLError):
                self.raw.rollback()
            raise
        else:
            self.raw.commit()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.raw.close()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def connect_args(settings: DatabaseConfig, *, with_database: bool = True) -> dict[str, Any]:
    """Keyword arguments for :func:`pymysql.connect` from the configuration."""
    args: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "user": settings.user,
        "password": settings.password or "",
        "charset": "utf8mb4",
        "connect_timeout": settings.connect_timeout,
        "read_timeout": settings.read_timeout,
        "write_timeout": settings.write_timeout,
        "autocommit": True,
        "local_infile": True,
    }
    if settings.unix_socket:
        args["unix_socket"] = settings.unix_socket
    if with_database and settings.database:
        args["database"] = settings.database
    tls = settings.tls
    if tls.ca or tls.cert or tls.key:
        args["ssl_ca"] = tls.ca
        args["ssl_cert"] = tls.cert
        args["ssl_key"] = tls.key
        args["ssl_verify_cert"] = tls.verify
        args["ssl_verify_identity"] = tls.verify
    return args


def connect(
    settings: DatabaseConfig,
    *,
    maintenance: bool = False,
    with_database: bool = True,
    autocommit: bool = True,
    zone_in_python: bool = False,
) -> Session:
    """Open a session with sqlops' pinned settings. Raises ConnectError/ConfigError with a fix.

    `zone_in_python`: the caller computes every date in the configured zone in Python
    (zoneinfo) and sends only dates (partition rotate, status, check), so a named zone the
    server does not know (no zone tables) is no error: the session is pinned to UTC instead."""
    python_zone(settings.time_zone)  # rejects SYSTEM and unknown names before connecting
    args = connect_args(settings, with_database=with_database)
    args["autocommit"] = autocommit
    try:
        raw = pymysql.connect(**args)
    except pymysql.err.OperationalError as exc:
        raise _connect_error(settings, exc) from None
    except (ssl.SSLError, OSError) as exc:
        raise ConnectError(
            f"cannot connect to {describe_target(settings)}",
            why=str(exc),
            fix="check database.tls.* (ca, cert, key) and that the server speaks TLS",
        ) from None
    try:
        # The handshake shows MariaDB as "5.5.5-10.11..." (a replication-compat prefix).
        version = re.sub(r"^5\.5\.5-", "", raw.get_server_info())
        info = ServerInfo.parse(version)
        with raw.cursor() as cur:
            cur.execute("SET SESSION sql_mode = %s", (STRICT_SQL_MODE,))
            try:
                cur.execute("SET SESSION time_zone = %s", (server_zone(settings.time_zone),))
            except pymysql.err.MySQLError as exc:
                if exc.args and exc.args[0] == ER_UNKNOWN_TIME_ZONE and is_offset(settings.time_zone):
                    low, high = ("-12:59", "+13:00") if info.is_mariadb else ("-13:59", "+14:00")
                    raise ConfigError(
                        f"the server rejects the time zone offset {settings.time_zone!r}",
                        why=f"{info.describe()} accepts offsets from {low} to {high} only "
                        "(zone tables play no part for offsets)",
                        fix=f"set database.time_zone to an offset within {low}..{high}, or to a named zone "
                        "such as 'Pacific/Kiritimati' (which needs the server's zone tables)",
                    ) from None
                if exc.args and exc.args[0] == ER_UNKNOWN_TIME_ZONE and zone_in_python:
                    log.debug(
                        "the server has no zone tables for %s; dates are computed in Python, session in UTC",
                        settings.time_zone,
                    )
                    cur.execute("SET SESSION time_zone = '+00:00'")
                elif exc.args and exc.args[0] == ER_UNKNOWN_TIME_ZONE:
                    raise ConfigError(
                        f"the server does not know the time zone {settings.time_zone!r}",
                        why="its time-zone tables are empty (both MySQL and MariaDB ship that way)",
                        fix="load them: mysql_tzinfo_to_sql /usr/share/zoneinfo | mysql -u root mysql "
                        "(or set database.time_zone to an offset such as '+01:00', which ignores DST)",
                    ) from None
                else:
                    raise
            if maintenance:
                cur.execute("SET SESSION lock_wait_timeout = %s", (max(1, settings.lock_wait_timeout),))
    except BaseException:
        raw.close()
        raise
    return Session(raw, info, settings)


def describe_target(settings: DatabaseConfig) -> str:
    where = settings.unix_socket or f"{settings.host}:{settings.port}"
    return f"{settings.user or '(current user)'}@{where}/{settings.database}"


def _connect_error(settings: DatabaseConfig, exc: pymysql.err.OperationalError) -> ConnectError:
    errno = exc.args[0] if exc.args else 0
    message = exc.args[1] if len(exc.args) > 1 else str(exc)
    target = describe_target(settings)
    if errno == ER_ACCESS_DENIED:
        return ConnectError(
            f"the server refused {target}",
            why=str(message),
            fix="check the user and password (option file, MYSQL_PWD or database.password) "
            "and the account's host part",
        )
    if errno == ER_BAD_DB:
        return ConnectError(
            f"database {settings.database!r} does not exist on {target}",
            fix=f"create it (`sqlops schema init --create-database`, or CREATE DATABASE "
            f"{quote_ident(settings.database)}) or set database.database",
        )
    return ConnectError(
        f"cannot connect to {target}",
        why=str(message),
        fix="check that the server is running and database.host/port (or --dsn) point at it",
    )


def server_error(exc: pymysql.err.MySQLError, doing: str) -> ServerError:
    """Wrap a driver error raised while `doing` something, keeping the MySQL error number."""
    errno = exc.args[0] if exc.args and isinstance(exc.args[0], int) else None
    message = exc.args[1] if len(exc.args) > 1 else str(exc)
    return ServerError(f"{doing} failed: ({errno}) {message}", errno=errno)


def errno_of(exc: BaseException) -> int | None:
    if isinstance(exc, pymysql.err.MySQLError) and exc.args and isinstance(exc.args[0], int):
        return int(exc.args[0])
    return None


# --------------------------------------------------------------------------------------------
# Named locks


def lock_name(job: str, schema: str, table: str) -> str:
    """``sqlops:<job>:<db>.<table>``, shortened with a hash past MySQL's 64-character limit."""
    name = f"sqlops:{job}:{schema}.{table}"
    if len(name) <= 64:
        return name
    digest = hashlib.sha1(name.encode()).hexdigest()[:12]
    return f"{name[:51]}~{digest}"


@contextlib.contextmanager
def named_lock(session: Session, name: str, *, wait_seconds: float = 0) -> Iterator[None]:
    """Hold ``GET_LOCK(name)`` on this pinned session; raise LockHeldError naming the holder."""
    got = session.scalar("SELECT GET_LOCK(%s, %s)", (name, wait_seconds))
    if got != 1:
        holder = session.scalar("SELECT IS_USED_LOCK(%s)", (name,))
        who = f"connection {holder}"
        if holder is not None:
            rows = session.query(
                "SELECT USER, HOST, TIME FROM information_schema.PROCESSLIST WHERE ID = %s", (holder,)
            )
            if rows:
                user, host, seconds = rows[0]
                who += f" ({user}@{host}, connected for {seconds} s)"
        raise LockHeldError(
            f"another run holds the lock {name!r}: {who}",
            why="sqlops runs one maintenance job per table at a time",
            fix="wait for it to finish; if it hangs, KILL that connection on the server",
        )
    try:
        yield
    finally:
        with contextlib.suppress(pymysql.MySQLError):
            session.scalar("SELECT RELEASE_LOCK(%s)", (name,))


def retry_transaction(
    session: Session,
    work: Callable[[], T],
    *,
    what: str,
    attempts: int = 8,
    first_delay: float = 0.2,
    start: str = "BEGIN",
) -> T:
    """Run `work()` in one transaction (opened with `start`) and commit; after a deadlock
    (1213) or lock-wait timeout (1205) roll back and run it again, with backoff."""
    delay = first_delay
    for attempt in range(1, attempts + 1):
        try:
            session.execute(start)
            result = work()
            session.commit()
            return result
        except pymysql.err.MySQLError as exc:
            with contextlib.suppress(pymysql.MySQLError):
                session.rollback()
            if errno_of(exc) not in RETRYABLE or attempt == attempts:
                raise
            log.warning("%s: %s; retrying (%d/%d)", what, exc.args[1], attempt, attempts)
            time.sleep(delay)
            delay = min(delay * 2, 5)
    raise AssertionError("unreachable")
