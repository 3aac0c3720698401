"""Fixtures shared by every test: real servers of both flavours, one database per test.

`server` is parametrised over the flavours (MariaDB and MySQL), so any test that uses `db`
runs on both. Set SQLOPS_TEST_FLAVOURS=mariadb to narrow a local run; CI runs both.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from support.servers import (
    FLAVOURS,
    RUN_ID,
    STARTED,
    ServerHandle,
    ServerUnavailable,
    acquire,
    create_database,
    drop_database,
    remove_run_containers,
)

from sqlops.config import DatabaseConfig
from sqlops.db import Session, connect

DATA = Path(__file__).parent / "data"


def _selected_flavours() -> list[str]:
    chosen = [f.strip() for f in os.environ.get("SQLOPS_TEST_FLAVOURS", ",".join(FLAVOURS)).split(",")]
    unknown = [f for f in chosen if f not in FLAVOURS]
    if unknown:
        raise pytest.UsageError(f"SQLOPS_TEST_FLAVOURS: unknown flavour(s) {unknown}; use {FLAVOURS}")
    return [f for f in chosen if f]


class _Servers:
    def __init__(self) -> None:
        self.handles: dict[str, ServerHandle] = {}
        self.errors: dict[str, str] = {}

    def get(self, flavour: str) -> ServerHandle:
        if flavour in self.errors:
            pytest.fail(self.errors[flavour], pytrace=False)
        if flavour not in self.handles:
            try:
                self.handles[flavour] = acquire(flavour)
            except ServerUnavailable as exc:
                self.errors[flavour] = str(exc)
                pytest.fail(str(exc), pytrace=False)
        return self.handles[flavour]

    def stop_all(self) -> None:
        for handle in self.handles.values():
            handle.stop()
        # Whatever a crashed fixture or an interrupted test left: every container of this run.
        self.leftovers = remove_run_containers()


_servers = _Servers()


@pytest.fixture(scope="session", params=_selected_flavours())
def server(request: pytest.FixtureRequest) -> ServerHandle:
    return _servers.get(request.param)


@dataclass
class TestDatabase:
    server: ServerHandle
    name: str

    __test__ = False  # not a test class

    @property
    def flavour(self) -> str:
        return self.server.flavour

    @property
    def dsn(self) -> str:
        return self.server.dsn + self.name

    def settings(self, **overrides: object) -> DatabaseConfig:
        database = str(overrides.pop("database", self.name))
        return self.server.settings(database, **overrides)

    def connect(self, **overrides: object) -> Session:
        return connect(self.settings(**overrides))

    def sql(self, statement: str, params: object = None) -> list[tuple]:
        conn = self.server.admin(self.name)
        try:
            with conn.cursor() as cur:
                cur.execute(statement, params)
                return list(cur.fetchall())
        finally:
            conn.close()


@pytest.fixture
def db(server: ServerHandle) -> Iterator[TestDatabase]:
    name = create_database(server)
    try:
        yield TestDatabase(server, name)
    finally:
        drop_database(server, name)


def _terminate(signum: int, frame: object) -> None:
    # SIGTERM (CI's timeout, `kill`) as an interrupt, so the session teardown still removes
    # this run's containers.
    raise KeyboardInterrupt(f"signal {signum}")


def pytest_configure(config: pytest.Config) -> None:
    signal.signal(signal.SIGTERM, _terminate)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    _servers.stop_all()


def _provider(source: str) -> str:
    if source.startswith("testcontainers"):
        return "testcontainers"
    if source.startswith("container "):  # tests/support/topology.py (docker SDK)
        return "docker"
    if source.startswith("SQLOPS_TEST_"):
        return "DSN"
    return "local binaries"


def pytest_terminal_summary(terminalreporter) -> None:  # type: ignore[no-untyped-def]
    if not _servers.handles and not _servers.errors and not STARTED:
        return
    terminalreporter.section("database servers used")
    for flavour, handle in sorted(_servers.handles.items()):
        terminalreporter.write_line(
            f"{flavour}: {handle.version} via {_provider(handle.source)}: {handle.source}"
        )
    for flavour, error in sorted(_servers.errors.items()):
        terminalreporter.write_line(f"{flavour}: UNAVAILABLE: {error.splitlines()[0]}")
    private = [entry for entry in STARTED if entry[3] != "shared"]
    if private:
        terminalreporter.write_line(f"private servers started for destructive tests: {len(private)}")
        for flavour, version, source, purpose in private:
            terminalreporter.write_line(
                f"  {flavour} {version} via {_provider(source)} ({purpose}): {source}"
            )
    leftovers = getattr(_servers, "leftovers", [])
    terminalreporter.write_line(
        f"leftover containers of run {RUN_ID} removed at teardown: {len(leftovers)}"
        + (f" ({', '.join(leftovers)})" if leftovers else "")
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Everything that reaches a server carries the `db` marker, so `-m "not db"` gives a quick
    # unit run; CI runs all of it.
    for item in items:
        if "server" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.db)
