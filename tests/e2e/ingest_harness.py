"""Shared helpers for the ingest integration and end-to-end tests: a sqlops config for a test
database, sqlops-logfile-daemon run the way Squid runs it (a socketpair on stdin), waiting."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

DAEMON = [sys.executable, "-m", "sqlops.squid.daemon"]


def write_config(
    path: Path,
    *,
    host: str,
    port: int,
    user: str,
    database: str,
    spool: Path,
    password: str | None = None,
    extra: str = "",
    **ingest: Any,
) -> Path:
    """A sqlops config file for one test database; `ingest` keys go to [ingest]."""
    settings = {"batch_seconds": 0.1, "shutdown_seconds": 10.0, "retry_max_seconds": 1.0, **ingest}
    lines = [
        "[database]",
        f'host = "{host}"',
        f"port = {port}",
        f'user = "{user}"',
        f'database = "{database}"',
    ]
    if password:
        lines.append(f'password = "{password}"')
    lines += ["", "[ingest]", f'spool_dir = "{spool}"']
    for key, value in settings.items():
        lines.append(f"{key} = {json.dumps(value)}")
    path.write_text("\n".join(lines) + "\n" + extra)
    return path


def config_for(db: Any, tmp: Path, name: str = "sqlops.toml", **ingest: Any) -> Path:
    """Config for the `db` fixture's database (tests/conftest.py)."""
    server = db.server
    return write_config(
        tmp / name,
        host=server.host,
        port=server.port,
        user=server.user,
        password=server.password or None,
        database=db.name,
        spool=tmp / "spool",
        **ingest,
    )


class DaemonProcess:
    """sqlops-logfile-daemon with a socketpair on stdin, as Squid starts it."""

    def __init__(self, arg: str, *, env: dict[str, str] | None = None, log: Path | None = None) -> None:
        ours, theirs = socket.socketpair()
        self.sock = ours
        self.log_path = log
        self._log = open(log, "ab") if log else subprocess.PIPE  # noqa: SIM115
        self.proc = subprocess.Popen(
            [*DAEMON, arg],
            stdin=theirs,
            stdout=subprocess.DEVNULL,
            stderr=self._log,
            env={**os.environ, **(env or {})},
        )
        theirs.close()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def close_input(self) -> None:
        """What Squid does on shutdown and reconfigure: close its end of the socket."""
        self.sock.close()

    def wait(self, timeout: float = 60) -> int:
        code = self.proc.wait(timeout)
        if hasattr(self._log, "close"):
            self._log.close()  # type: ignore[union-attr]
        return code

    def wait_until_catching_sigterm(self, timeout: float = 20) -> None:
        """Until the daemon has its SIGTERM handler (its first statement): a SIGTERM before that,
        while the interpreter still starts (slow on a loaded 2-core CI machine), kills it."""
        deadline = time.monotonic() + timeout
        bit = 1 << (signal.SIGTERM - 1)
        while self.proc.poll() is None and time.monotonic() < deadline:
            try:
                status = Path(f"/proc/{self.proc.pid}/status").read_text()
            except OSError:
                return
            caught = next(
                (line.split()[1] for line in status.splitlines() if line.startswith("SigCgt:")), "0"
            )
            if int(caught, 16) & bit:
                return
            time.sleep(0.02)

    def stop(self, timeout: float = 60) -> int:
        """Close stdin, then SIGTERM, as Squid does."""
        self.wait_until_catching_sigterm()
        self.close_input()
        time.sleep(0.05)
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.wait(timeout)

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(30)
        self.sock.close()

    def stderr(self) -> str:
        if self.log_path is not None:
            return self.log_path.read_text(errors="replace")
        if self.proc.stderr is not None and self.proc.poll() is not None:
            return self.proc.stderr.read().decode(errors="replace")
        return ""


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def status_files(spool: Path) -> list[dict[str, Any]]:
    out = []
    for path in spool.glob("*/status-*.json"):
        try:
            out.append(json.loads(path.read_text()))
        except ValueError:
            continue
    return out
