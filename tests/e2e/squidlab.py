"""A real Squid 5.7 (Debian package) whose logfile_daemon is sqlops-logfile-daemon, a local
origin server on 127.0.0.1 and curl through the proxy: the end-to-end tests' laboratory.

Each Squid runs from its own folder with its own port, service name (-n, so shared-memory
segments do not clash), pid file and logs, and writes Squid's own plain access.log next to the
daemon's, so tests count lines against what Squid itself logged. It never touches the system
Squid service.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
import uuid
from collections.abc import Iterable, Sequence
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

SQUID = shutil.which("squid") or "/usr/sbin/squid"
SQUID_USER = "proxy"  # Debian's cache_effective_user
BIG = 3 * 1024**3  # the "3 GB reply"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def workdir(prefix: str) -> Path:
    """A folder Squid's user can write (pytest's tmp_path is private to root)."""
    path = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    user = pwd.getpwnam(SQUID_USER)
    os.chown(path, user.pw_uid, user.pw_gid)
    path.chmod(0o755)
    return path


def daemon_wrapper(folder: Path) -> Path:
    """An executable that Squid's user can run and that starts sqlops-logfile-daemon from
    this checkout's environment. The venv's own interpreter may live where that user cannot
    go (/root/.pyenv); then Debian's python3 runs it with the venv's site-packages."""
    site = sysconfig.get_paths()["purelib"]
    probe = "import sqlops.squid.daemon"
    candidates = [sys.executable, "/usr/bin/python3"]
    for python in candidates:
        code = f"import site; site.addsitedir({site!r}); {probe}"
        ok = subprocess.run(
            ["runuser", "-u", SQUID_USER, "--", python, "-c", code],
            cwd="/",
            capture_output=True,
        )
        if ok.returncode == 0:
            break
    else:
        raise AssertionError(
            f"no Python that user {SQUID_USER} can run imports sqlops: {ok.stderr.decode()[-500:]}"
        )
    script = folder / "sqlops-logfile-daemon"
    script.write_text(
        "#!/bin/sh\ncd /\nexec "
        + python
        + " -c 'import site, sys; site.addsitedir(\""
        + site
        + '"); from sqlops.squid.daemon import main; sys.exit(main(sys.argv[1:]))\' "$@"\n'
    )
    script.chmod(0o755)
    return script


# ---------------------------------------------------------------------------------------------
# Origin server


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Origin

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        path = self.path
        if "/mime/" in path:
            mime = path.split("/mime/", 1)[1].split("?")[0]
            self._reply(200, b"ok\n", mime)
        elif "/big" in path:
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(BIG))
            self.end_headers()
            self.wfile.flush()
            with open(self.server.sparse, "rb") as body:
                self.connection.sendfile(body)
        elif "/status/" in path:
            self._reply(int(path.split("/status/", 1)[1][:3]), b"status\n", "text/plain")
        else:
            self._reply(200, b"hello\n", "text/plain")

    def _reply(self, code: int, body: bytes, mime: str) -> None:
        self.send_response(code)
        self.send_header("Content-Type", mime)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class Origin(ThreadingHTTPServer):
    """An HTTP server on 127.0.0.1: /mime/<type>, /big (3 GB of zeros), anything else 200."""

    daemon_threads = True

    def __init__(self, folder: Path) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.sparse = folder / "big.sparse"
        with open(self.sparse, "wb") as handle:
            handle.truncate(BIG)  # a hole: no disk used, reads give zeros
        self.port = int(self.server_address[1])
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)
        self._thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


# ---------------------------------------------------------------------------------------------
# Squid


class Squid:
    def __init__(
        self,
        folder: Path,
        daemon_arg: str,
        *,
        logformat: str | None = None,
        auth: bool = False,
        ipv6: bool = False,
    ) -> None:
        self.folder = folder
        self.port = free_port()
        self.name = f"sqlopse2e{uuid.uuid4().hex[:8]}"
        self.conf = folder / "squid.conf"
        self.access_log = folder / "access.log"
        self.cache_log = folder / "cache.log"
        self.pid_file = folder / "squid.pid"
        wrapper = daemon_wrapper(folder)
        fmt = "squid"
        lines = [
            f"http_port 127.0.0.1:{self.port}",
            *([f"http_port [::1]:{self.port}"] if ipv6 else []),
            f"pid_filename {self.pid_file}",
            f"cache_log {self.cache_log}",
            f"coredump_dir {folder}",
            "cache deny all",
            "cache_mem 8 MB",
            "netdb_filename none",
            "pinger_enable off",
            "shutdown_lifetime 1 seconds",
            "logfile_rotate 0",
            f"logfile_daemon {wrapper}",
        ]
        if logformat is not None:
            lines.append(f"logformat e2e {logformat}")
            fmt = "e2e"
        if auth:
            lines += [
                "auth_param basic program /usr/lib/squid/basic_fake_auth",
                "auth_param basic realm e2e",
                "acl authed proxy_auth REQUIRED",
                "http_access allow authed",
            ]
        lines += [
            "http_access allow localhost",
            "http_access deny all",
            f"access_log stdio:{self.access_log} {fmt}",
            f"access_log daemon:{daemon_arg} {fmt}",
        ]
        self.conf.write_text("\n".join(lines) + "\n")
        self.process: subprocess.Popen[bytes] | None = None

    # -- lifecycle

    def start(self, timeout: float = 30) -> None:
        """Start Squid in its usual daemon mode (a master that restarts a crashed kid). Waits
        for cache.log to say it listens (probing the port would log a request)."""
        accepting = self.cache_text().count("Accepting HTTP Socket connections")
        opened = self.cache_text().count("Logfile Daemon: opening log")
        subprocess.run([SQUID, "-n", self.name, "-f", str(self.conf)], check=True, capture_output=True)
        self.wait_for_log("Accepting HTTP Socket connections", timeout, count=accepting + 1)
        self.wait_for_log("Logfile Daemon: opening log", timeout, count=opened + 1)

    def master_pid(self) -> int | None:
        try:
            return int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None

    def running(self) -> bool:
        pid = self.master_pid()
        if pid is None:
            return False
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True

    def shutdown(self, timeout: float = 60) -> None:
        """`squid -k shutdown`: Squid closes the daemon's stdin, sends SIGTERM and exits."""
        pid = self.master_pid()
        subprocess.run([SQUID, "-n", self.name, "-f", str(self.conf), "-k", "shutdown"], capture_output=True)
        deadline = time.monotonic() + timeout
        while pid is not None and time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.1)
        else:
            if pid is not None:
                raise AssertionError("Squid did not stop")
        # the logfile daemons are not Squid's to wait for; give them their shutdown deadline
        deadline = time.monotonic() + timeout
        while self.daemon_pids() and time.monotonic() < deadline:
            time.sleep(0.1)

    def kill_everything(self) -> None:
        for pid in self.daemon_pids() + self._squid_pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def _squid_pids(self) -> list[int]:
        return self._pids(lambda cmd: self.name in cmd and "squid" in cmd)

    def daemon_pids(self) -> list[int]:
        """sqlops-logfile-daemon processes started by this Squid (by their argument)."""
        return self._pids(lambda cmd: "sqlops.squid.daemon" in cmd and str(self.folder) in cmd)

    @staticmethod
    def _pids(match: Any) -> list[int]:
        out = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if match(cmd):
                out.append(int(entry.name))
        return out

    # -- traffic

    def proxy(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def fetch(
        self,
        urls: Sequence[str | bytes],
        *,
        parallel: int = 8,
        user: str | None = None,
        ipv6: bool = False,
        timeout: float = 600,
    ) -> list[int]:
        """Fetch every URL through the proxy with one curl (a config file, --parallel);
        returns the HTTP codes in order."""
        config = self.folder / f"curl-{uuid.uuid4().hex[:6]}.cfg"
        with config.open("wb") as handle:
            for url in urls:
                raw = url.encode() if isinstance(url, str) else url
                handle.write(b'url = "' + raw.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"\n')
                handle.write(b'output = "/dev/null"\n')
        proxy = f"http://[::1]:{self.port}" if ipv6 else self.proxy()
        command = [
            "curl",
            "-s",
            "--path-as-is",
            "-x",
            proxy,
            "-K",
            str(config),
            "-w",
            "%{http_code}\\n",
            "--parallel",
            "--parallel-max",
            str(parallel),
            "--max-time",
            "120",
        ]
        if user:
            command += ["--proxy-user", user]
        out = subprocess.run(command, capture_output=True, timeout=timeout)
        config.unlink()
        return [int(code) for code in out.stdout.split()]

    # -- logs

    def cache_text(self) -> str:
        try:
            return self.cache_log.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def wait_for_log(self, text: str, timeout: float, count: int = 1) -> None:
        deadline = time.monotonic() + timeout
        while self.cache_text().count(text) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"cache.log never said {text!r}:\n{self.cache_text()[-3000:]}")
            time.sleep(0.1)

    def plain_lines(self) -> list[bytes]:
        """What Squid itself logged (its own access.log, written in parallel)."""
        try:
            data = self.access_log.read_bytes()
        except FileNotFoundError:
            return []
        return [line for line in data.split(b"\n") if line]


# ---------------------------------------------------------------------------------------------
# Comparing the table with Squid's own log

ROW_COLUMNS = (
    "time_since_epoch, time_response, ip_client, squid_request_status, http_status_code, http_reply_size, "
    "http_method, COALESCE(http_url_raw, CONVERT(http_url USING binary)), http_username, squid_hier_status, "
    "ip_server, http_mime_type"
)


def native_line(row: Sequence[Any]) -> bytes:
    """A table row written back in Squid's native layout (FormatSquidNative.cc):
    "%9ld.%03d %6ld %s %s/%03d %lld %s %s %s %s/%s %s"."""
    epoch, elapsed, client, status, code, size, method, url, user, hier, server, mime = row
    seconds, _, millis = f"{Decimal(epoch):.3f}".partition(".")
    text = (
        f"{int(seconds):9d}.{millis} {elapsed:6d} {client} {status}/{int(code):03d} {size} {method} "
    ).encode()
    return text + bytes(url) + f" {user} {hier}/{server} {mime}".encode()


def compare(plain: Iterable[bytes], stored: Iterable[bytes]) -> dict[str, Any]:
    """Lines of Squid's own log against lines rebuilt from the table."""
    from collections import Counter

    plain_count, stored_count = Counter(plain), Counter(stored)
    lost = plain_count - stored_count
    extra = stored_count - plain_count
    duplicated = sum(n - 1 for n in stored_count.values() if n > 1)
    return {
        "sent": sum(plain_count.values()),
        "stored": sum(stored_count.values()),
        "lost": sum(lost.values()),
        "extra": sum(extra.values()),
        "duplicated": duplicated,
        "lost_lines": list(lost.elements())[:5],
        "extra_lines": list(extra.elements())[:5],
    }


_QUEUE_TOO_LARGE = re.compile(r"queue is too large", re.I)


def queue_overflows(cache_text: str) -> int:
    return len(_QUEUE_TOO_LARGE.findall(cache_text))
