"""Real MySQL/MariaDB servers for tests and benchmarks.

A server for a flavour comes from, in order (DESIGN.md §5):

1. ``SQLOPS_TEST_MARIADB_DSN`` / ``SQLOPS_TEST_MYSQL_DSN`` (or ``SQLOPS_TEST_DSN``, used for
   whichever flavour it turns out to be);
2. a throwaway server started from local binaries: ``mariadb-install-db`` + ``mariadbd`` in a
   temp dir, or Oracle MySQL from the debootstrap chroot that ``.ci/mysql-chroot.sh`` keeps;
3. a testcontainers MySQL 8.4 / MariaDB 11.4 when a Docker engine answers.

If none works, :class:`ServerUnavailable` says how to get one; the fixtures turn that into a
test *failure*, never a skip.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pymysql

from sqlops.config import DatabaseConfig, parse_dsn

REPO = Path(__file__).resolve().parents[2]
CHROOT_SCRIPT = REPO / ".ci" / "mysql-chroot.sh"
CHROOT_ROOT = Path(os.environ.get("SQLOPS_MYSQL_CHROOT", "/var/cache/sqlops/mysql-sid"))
FLAVOURS = ("mariadb", "mysql")


class ServerUnavailable(RuntimeError):
    pass


@dataclass
class ServerHandle:
    flavour: str
    host: str
    port: int
    user: str
    password: str
    version: str
    source: str
    _stop: Any = field(default=None, repr=False)

    @property
    def dsn(self) -> str:
        auth = self.user + (f":{self.password}" if self.password else "")
        return f"mysql://{auth}@{self.host}:{self.port}/"

    def settings(self, database: str = "", **overrides: Any) -> DatabaseConfig:
        values: dict[str, Any] = dict(
            host=self.host, port=self.port, user=self.user, password=self.password or None, database=database
        )
        values.update(overrides)
        return DatabaseConfig(**values)

    def admin(self, database: str | None = None) -> pymysql.connections.Connection:
        return pymysql.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            database=database,
            autocommit=True,
            charset="utf8mb4",
            local_infile=True,
        )

    def stop(self) -> None:
        if self._stop is not None:
            self._stop()
            self._stop = None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _probe(host: str, port: int, user: str, password: str) -> tuple[str, str]:
    conn = pymysql.connect(host=host, port=port, user=user, password=password, connect_timeout=5)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT VERSION()")
            version = cur.fetchone()[0]
    finally:
        conn.close()
    return ("mariadb" if "mariadb" in version.lower() else "mysql"), version


def from_dsn(dsn: str, source: str) -> ServerHandle:
    parts = parse_dsn(dsn)
    host, port = parts.get("host", "127.0.0.1"), int(parts.get("port", 3306))
    user, password = parts.get("user", "root"), parts.get("password", "")
    try:
        flavour, version = _probe(host, port, user, password)
    except pymysql.MySQLError as exc:
        raise ServerUnavailable(f"{source} = {dsn}: cannot connect ({exc})") from None
    return ServerHandle(flavour, host, port, user, password, version, source)


def _wait_ready(host: str, port: int, user: str, password: str, seconds: float, log: Path) -> tuple[str, str]:
    deadline = time.monotonic() + seconds
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            return _probe(host, port, user, password)
        except pymysql.MySQLError as exc:
            last = exc
            time.sleep(0.3)
    tail = log.read_text(errors="replace")[-3000:] if log.exists() else "(no log)"
    raise ServerUnavailable(f"server on port {port} did not come up: {last}\n{tail}")


def start_mariadb(extra_args: tuple[str, ...] = (), port: int | None = None) -> ServerHandle:
    """A private mariadbd in a temp dir (for tests that change globals, restart or kill it)."""
    install = shutil.which("mariadb-install-db") or shutil.which("mysql_install_db")
    daemon = shutil.which("mariadbd") or "/usr/sbin/mariadbd"
    if not install or not Path(daemon).exists():
        raise ServerUnavailable("mariadb-install-db/mariadbd not found (apt-get install mariadb-server)")
    base = Path(tempfile.mkdtemp(prefix="sqlops-mariadb-"))
    data = base / "data"
    as_root = os.geteuid() == 0
    user_args = ["--user=mysql"] if as_root else []
    if as_root:
        shutil.chown(base, "mysql", "mysql")
        base.chmod(0o755)
    subprocess.run(
        [
            install,
            "--no-defaults",
            f"--datadir={data}",
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
            *user_args,
        ],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    port = port or free_port()
    sock = base / "mysqld.sock"
    log = base / "error.log"
    args = [
        daemon,
        "--no-defaults",
        f"--datadir={data}",
        f"--port={port}",
        "--bind-address=127.0.0.1",
        f"--socket={sock}",
        f"--pid-file={base / 'mysqld.pid'}",
        f"--log-error={log}",
        "--innodb-buffer-pool-size=128M",
        "--max-connections=300",
        *user_args,
        *extra_args,
    ]
    proc = subprocess.Popen(
        args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    # root@localhost only exists after install; make TCP root from 127.0.0.1 work as well.
    deadline = time.monotonic() + 60
    while True:
        try:
            conn = pymysql.connect(unix_socket=str(sock), user="root", autocommit=True)
            break
        except pymysql.MySQLError:
            if proc.poll() is not None or time.monotonic() > deadline:
                tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
                raise ServerUnavailable(f"mariadbd did not start:\n{tail}") from None
            time.sleep(0.3)
    with conn.cursor() as cur:
        cur.execute("CREATE USER IF NOT EXISTS 'root'@'127.0.0.1'")
        cur.execute("GRANT ALL ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION")
    conn.close()
    flavour, version = _wait_ready("127.0.0.1", port, "root", "", 60, log)

    handle = ServerHandle(flavour, "127.0.0.1", port, "root", "", version, f"throwaway mariadbd in {base}")
    handle.datadir = base  # type: ignore[attr-defined]
    handle.process = proc  # type: ignore[attr-defined]
    handle.command = args  # type: ignore[attr-defined]

    def stop() -> None:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(base, ignore_errors=True)

    handle._stop = stop
    return handle


def mysql_chroot_ready() -> bool:
    return (CHROOT_ROOT / ".sqlops-mysql-ok").exists() and os.geteuid() == 0


def start_mysql_chroot(name: str | None = None, port: int | None = None, fresh: bool = True) -> ServerHandle:
    """Oracle MySQL from the cached chroot (see .ci/mysql-chroot.sh) on a free loopback port."""
    if not mysql_chroot_ready():
        raise ServerUnavailable(
            f"no MySQL chroot at {CHROOT_ROOT} (run: sudo .ci/mysql-chroot.sh start) or not root"
        )
    name = name or f"t{uuid.uuid4().hex[:8]}"
    port = port or free_port()
    out = subprocess.run(
        ["bash", str(CHROOT_SCRIPT), "start", name, str(port)],
        check=False,
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        raise ServerUnavailable(f"mysql-chroot.sh start failed:\n{out.stderr[-3000:]}")
    values = dict(line.split("=", 1) for line in out.stdout.splitlines() if "=" in line)
    handle = from_dsn(values["DSN"], f"chroot mysqld {name}")

    def stop() -> None:
        subprocess.run(
            ["bash", str(CHROOT_SCRIPT), "destroy" if fresh else "stop", name],
            check=False,
            capture_output=True,
        )

    handle._stop = stop
    handle.chroot_name = name  # type: ignore[attr-defined]
    return handle


def docker_available() -> bool:
    try:
        import docker  # type: ignore[import-not-found,unused-ignore]

        docker.from_env(timeout=3).ping()
    except Exception:
        return False
    return True


def start_container(flavour: str) -> ServerHandle:
    from testcontainers.mysql import MySqlContainer

    image = "mariadb:11.4" if flavour == "mariadb" else "mysql:8.4"
    container = MySqlContainer(image, username="root", password="sqlops", dbname="mysql")
    container.start()
    host, port = container.get_container_host_ip(), int(container.get_exposed_port(3306))
    flavour_seen, version = _probe(host, port, "root", "sqlops")
    handle = ServerHandle(flavour_seen, host, port, "root", "sqlops", version, f"testcontainers {image}")
    handle._stop = container.stop
    return handle


def acquire(flavour: str) -> ServerHandle:
    """A server of `flavour` from the first source that works (see module doc)."""
    problems: list[str] = []
    for var in (f"SQLOPS_TEST_{flavour.upper()}_DSN", "SQLOPS_TEST_DSN"):
        dsn = os.environ.get(var)
        if not dsn:
            continue
        try:
            handle = from_dsn(dsn, var)
        except ServerUnavailable as exc:
            problems.append(str(exc))
            continue
        if handle.flavour == flavour:
            return handle
        problems.append(f"{var} points at {handle.flavour}, not {flavour}")
    starters = {"mariadb": start_mariadb, "mysql": start_mysql_chroot}
    try:
        return starters[flavour]()
    except (ServerUnavailable, subprocess.CalledProcessError, OSError) as exc:
        problems.append(f"local binaries: {exc}")
    if docker_available():
        try:
            return start_container(flavour)
        except Exception as exc:  # a container failure is one more reason, not a crash
            problems.append(f"testcontainers: {exc}")
    else:
        problems.append("testcontainers: no Docker engine reachable")
    raise ServerUnavailable(
        f"no {flavour} server for the tests:\n  - "
        + "\n  - ".join(problems)
        + f"\nGet one: export SQLOPS_TEST_{flavour.upper()}_DSN=mysql://root@127.0.0.1:PORT/ , "
        + ("install mariadb-server" if flavour == "mariadb" else "run `sudo .ci/mysql-chroot.sh start`")
        + ", or start Docker. Run everything with `.ci/run`."
    )


def create_database(handle: ServerHandle, prefix: str = "sqlops_t") -> str:
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    conn = handle.admin()
    try:
        with conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    finally:
        conn.close()
    return name


def drop_database(handle: ServerHandle, name: str) -> None:
    with contextlib.suppress(pymysql.MySQLError):
        conn = handle.admin()
        try:
            with conn.cursor() as cur:
                cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        finally:
            conn.close()
