"""Real MySQL/MariaDB servers for tests and benchmarks.

A server for a flavour comes from, in order (DESIGN.md §5):

1. ``SQLOPS_TEST_MARIADB_DSN`` / ``SQLOPS_TEST_MYSQL_DSN`` (or ``SQLOPS_TEST_DSN``, used for
   whichever flavour it turns out to be);
2. a testcontainers container when a Docker engine answers: the locally built
   ``sqlops/mariadb:10.11`` / ``sqlops/mysql:9`` (docker/build-images.sh) when they exist, else
   the official ``mariadb:11.4`` / ``mysql:8.4``; ``SQLOPS_TEST_MARIADB_IMAGE`` /
   ``SQLOPS_TEST_MYSQL_IMAGE`` choose another;
3. a throwaway server started from local binaries: ``mariadb-install-db`` + ``mariadbd`` in a
   temp dir, or Oracle MySQL from the debootstrap chroot that ``.ci/mysql-chroot.sh`` keeps.

``SQLOPS_TEST_PROVIDER=container`` or ``=local`` allows only that one for 2–3 (CI sets it, so a
broken engine fails the run instead of falling back). Private servers (:func:`start_private`,
for tests that change globals, restart, kill or lock a server) come from the same provider.

Every container carries the labels ``sqlops.test=1`` and ``sqlops.run=<run id>``
(``SQLOPS_TEST_RUN_ID``, else a random one); :func:`remove_run_containers` removes what a run
left, and the session teardown calls it. Ryuk, the reaper image, cannot be pulled here, so it is
disabled. If no provider works, :class:`ServerUnavailable` says how to get one; the fixtures
turn that into a test *failure*, never a skip.
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
RUN_ID = os.environ.get("SQLOPS_TEST_RUN_ID") or uuid.uuid4().hex[:12]
LABELS = {"sqlops.test": "1", "sqlops.run": RUN_ID}
# The socket of the engine .ci/docker-engine.sh starts, used when DOCKER_HOST is not set.
OUR_ENGINE = Path("/run/sqlops-docker.sock")
IMAGES = {
    "mariadb": ("sqlops/mariadb:10.11", "mariadb:11.4"),
    "mysql": ("sqlops/mysql:9", "mysql:8.4"),
}
# Server options the tests rely on, the same for containers and local servers.
SERVER_ARGS = {
    "mariadb": ("--innodb-buffer-pool-size=128M", "--max-connections=300"),
    "mysql": ("--innodb-buffer-pool-size=256M", "--max-connections=500", "--mysqlx=OFF"),
}
os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")
# (flavour, version, source, purpose) of every server this process started, for the summary.
STARTED: list[tuple[str, str, str, str]] = []


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
    _halt: Any = field(default=None, repr=False)
    _resume: Any = field(default=None, repr=False)
    _tool: Any = field(default=None, repr=False)
    _client_host: str | None = field(default=None, repr=False)

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

    @property
    def private(self) -> bool:
        """Started for this run (may be halted, resumed, reconfigured), not a user's DSN."""
        return self._halt is not None

    def halt(self) -> None:
        """Stop the server process, keeping its data and port (only private servers)."""
        if self._halt is None:
            raise ServerUnavailable(f"{self.source} is not a private server: cannot stop it")
        self._halt()

    def resume(self, seconds: float = 60) -> None:
        """Start a halted private server again and wait until it accepts connections."""
        if self._resume is None:
            raise ServerUnavailable(f"{self.source} is not a private server: cannot start it")
        self._resume()
        deadline = time.monotonic() + seconds
        while True:
            try:
                self.admin().close()
                return
            except pymysql.MySQLError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def tool(self, args: list[str]) -> bytes:
        """Run one of the server's own programs (mysql_tzinfo_to_sql ...) where the server's
        binaries are: in its container, its chroot or on this host. Returns stdout."""
        if self._tool is not None:
            return bytes(self._tool(args))
        return subprocess.run(args, check=True, capture_output=True).stdout

    @property
    def client_host(self) -> str:
        """The host part the server sees for our connections (for CREATE USER 'u'@'HOST'):
        127.0.0.1 for a local server, the bridge gateway for a container behind a published port."""
        if self._client_host is None:
            conn = self.admin()
            try:
                with conn.cursor() as cur:
                    cur.execute("SELECT SUBSTRING_INDEX(USER(), '@', -1)")
                    self._client_host = str(cur.fetchone()[0])
            finally:
                conn.close()
        return self._client_host


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
    running = [proc]

    def halt() -> None:
        current = running[0]
        if current.poll() is None:
            current.terminate()
            try:
                current.wait(60)
            except subprocess.TimeoutExpired:
                current.kill()
                current.wait(10)

    def resume() -> None:
        running[0] = subprocess.Popen(
            args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )

    def stop() -> None:
        halt()
        shutil.rmtree(base, ignore_errors=True)

    handle._stop, handle._halt, handle._resume = stop, halt, resume
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

    def halt() -> None:
        subprocess.run(["bash", str(CHROOT_SCRIPT), "stop", name], check=True, capture_output=True)

    def resume() -> None:
        subprocess.run(
            ["bash", str(CHROOT_SCRIPT), "start", name, str(port)], check=True, capture_output=True
        )

    def tool(args: list[str]) -> bytes:
        return subprocess.run(["chroot", str(CHROOT_ROOT), *args], check=True, capture_output=True).stdout

    handle._stop, handle._halt, handle._resume, handle._tool = stop, halt, resume, tool
    handle.chroot_name = name  # type: ignore[attr-defined]
    return handle


def _docker_client(timeout: int = 10) -> Any:
    import docker  # type: ignore[import-not-found,unused-ignore]

    if "DOCKER_HOST" not in os.environ and OUR_ENGINE.exists():
        os.environ["DOCKER_HOST"] = f"unix://{OUR_ENGINE}"
    return docker.from_env(timeout=timeout)


def docker_available() -> bool:
    try:
        _docker_client(3).ping()
    except Exception:
        return False
    return True


def container_image(flavour: str) -> str:
    chosen = os.environ.get(f"SQLOPS_TEST_{flavour.upper()}_IMAGE")
    if chosen:
        return chosen
    local, official = IMAGES[flavour]
    try:
        _docker_client().images.get(local)
        return local
    except Exception:
        return official


class _AcceptsConnections:
    """testcontainers wait strategy: ready when the server accepts a real login and answers
    SELECT VERSION(); fails at once when the container exits (with its log)."""

    def __init__(self, host: str, port: int, seconds: float = 180) -> None:
        self.host, self.port, self.seconds = host, port, seconds
        self.version = ""

    def wait_until_ready(self, container: Any) -> None:
        deadline = time.monotonic() + self.seconds
        last: Exception | None = None
        while time.monotonic() < deadline:
            try:
                _, self.version = _probe(self.host, self.port, "root", "")
                return
            except pymysql.MySQLError as exc:
                last = exc
            wrapped = container.get_wrapped_container()
            wrapped.reload()
            if wrapped.status in ("exited", "dead"):
                break
            time.sleep(0.3)
        logs = container.get_wrapped_container().logs(tail=40).decode(errors="replace")
        raise ServerUnavailable(
            f"container {container.image} on 127.0.0.1:{self.port} did not accept connections: {last}\n{logs}"
        )


def _wait_strategy(host: str, port: int) -> Any:
    from testcontainers.core.waiting_utils import WaitStrategy

    class Strategy(_AcceptsConnections, WaitStrategy):  # type: ignore[misc,unused-ignore]
        def __init__(self) -> None:
            WaitStrategy.__init__(self)
            _AcceptsConnections.__init__(self, host, port)

    return Strategy()


def start_container(flavour: str, extra_args: tuple[str, ...] = (), purpose: str = "shared") -> ServerHandle:
    """A server in a testcontainers container on 127.0.0.1:<free port>, root without a password.

    The environment is the one the official images and ours both understand. The host port is
    fixed at creation, so halt()/resume() (docker stop/start) keep the DSN."""
    from testcontainers.core.container import DockerContainer

    _docker_client()  # sets DOCKER_HOST for our own engine
    image = container_image(flavour)
    port = free_port()
    container = (
        DockerContainer(image)
        .with_envs(MARIADB_ALLOW_EMPTY_ROOT_PASSWORD="1", MYSQL_ALLOW_EMPTY_PASSWORD="yes")
        .with_command([*SERVER_ARGS[flavour], *extra_args])
        .with_kwargs(labels={**LABELS, "sqlops.purpose": purpose})
    )
    container.ports["3306/tcp"] = ("127.0.0.1", port)
    strategy = _wait_strategy("127.0.0.1", port)
    container.waiting_for(strategy)
    try:
        container.start()
    except BaseException:
        with contextlib.suppress(Exception):
            container.stop()
        raise
    flavour_seen, version = _probe("127.0.0.1", port, "root", "")
    short = container.get_wrapped_container().short_id
    handle = ServerHandle(
        flavour_seen, "127.0.0.1", port, "root", "", version, f"testcontainers {image} ({short})"
    )
    wrapped = container.get_wrapped_container()

    def tool(args: list[str]) -> bytes:
        result = wrapped.exec_run(args, demux=True)
        if result.exit_code != 0:
            raise subprocess.CalledProcessError(result.exit_code, args, result.output[0], result.output[1])
        return bytes(result.output[0] or b"")

    handle._stop = container.stop
    handle._halt = lambda: wrapped.stop(timeout=60)
    handle._resume = wrapped.start
    handle._tool = tool
    handle.container = container  # type: ignore[attr-defined]
    return handle


def remove_run_containers(run_id: str = RUN_ID) -> list[str]:
    """Remove every container (and its anonymous volumes) labelled with this run id."""
    if not docker_available():
        return []
    client = _docker_client()
    removed = []
    for container in client.containers.list(all=True, filters={"label": f"sqlops.run={run_id}"}):
        with contextlib.suppress(Exception):
            container.remove(force=True, v=True)
            removed.append(container.short_id)
    return removed


def _provider() -> str:
    provider = os.environ.get("SQLOPS_TEST_PROVIDER", "auto")
    if provider not in ("auto", "container", "local"):
        raise ServerUnavailable(f"SQLOPS_TEST_PROVIDER={provider}: use auto, container or local")
    return provider


def start_private(flavour: str, extra_args: tuple[str, ...] = (), purpose: str = "private") -> ServerHandle:
    """A throwaway server of `flavour` for this caller alone: a container when an engine
    answers (SQLOPS_TEST_PROVIDER permitting), else local binaries. Raises ServerUnavailable."""
    handle = _start_private(flavour, extra_args, purpose)
    STARTED.append((handle.flavour, handle.version, handle.source, purpose))
    return handle


def _start_private(flavour: str, extra_args: tuple[str, ...], purpose: str) -> ServerHandle:
    provider = _provider()
    problems: list[str] = []
    if provider in ("auto", "container"):
        if docker_available():
            try:
                return start_container(flavour, extra_args, purpose)
            except Exception as exc:  # a container failure is one more reason, not a crash
                problems.append(f"testcontainers: {exc}")
        else:
            problems.append(
                "testcontainers: no Docker engine answers (DOCKER_HOST="
                + os.environ.get("DOCKER_HOST", "unset")
                + "; start one with `.ci/docker-engine.sh start`)"
            )
    if provider in ("auto", "local"):
        try:
            if flavour == "mariadb":
                return start_mariadb(extra_args=extra_args)
            if extra_args:
                raise ServerUnavailable(f"the chroot MySQL takes no extra server options ({extra_args})")
            return start_mysql_chroot()
        except (ServerUnavailable, subprocess.CalledProcessError, OSError) as exc:
            problems.append(f"local binaries: {exc}")
    raise ServerUnavailable(
        f"no {flavour} server for the tests:\n  - "
        + "\n  - ".join(problems)
        + f"\nGet one: export SQLOPS_TEST_{flavour.upper()}_DSN=mysql://root@127.0.0.1:PORT/ , "
        + "start Docker (`sudo .ci/docker-engine.sh start && sudo docker/build-images.sh`), or "
        + ("install mariadb-server" if flavour == "mariadb" else "run `sudo .ci/mysql-chroot.sh start`")
        + ". Run everything with `.ci/run`."
    )


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
    try:
        return start_private(flavour, purpose="shared")
    except ServerUnavailable as exc:
        if not problems:
            raise
        raise ServerUnavailable("\n  - ".join([str(exc), *problems])) from None


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
