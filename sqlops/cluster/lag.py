"""Replica lag, and a throttle that pauses a primary's chunked copies while replicas lag.

A chunked copy (online migrate, schema upgrade, rollup refresh) writes as fast as the
primary allows; the replicas apply the same rows with one SQL thread and fall behind. Like
gh-ost, the copy calls the throttle before each chunk: while any watched replica is more than
``database.max_replica_lag`` seconds behind (``Seconds_Behind_Source``), or its replication
stopped, the throttle sleeps and checks again; it returns as soon as every replica is back
under the limit.

Which replicas: ``database.replicas`` when set, else the ones the primary reports. A replica
that cannot be measured when the copy starts (unreachable address, no privilege for SHOW
REPLICA STATUS) is named in a warning and not watched, so a wrong report_host cannot block
every copy forever; one that stops answering later throttles the copy, as a stopped replica
does.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlops.cluster.topology import inspect_replication, inspect_topology
from sqlops.config import DatabaseConfig
from sqlops.db import Session, connect
from sqlops.errors import SqlopsError

log = logging.getLogger("sqlops.cluster")


@dataclass(frozen=True)
class ReplicaLag:
    replica: str  # host:port
    seconds: int | None  # None: unknown (replication stopped, or the replica did not answer)
    problem: str = ""
    # False when the server shows no replication status at all (not a replica, or the account
    # lacks REPLICATION CLIENT / REPLICA MONITOR): such a server is not watched.
    shows_status: bool = True

    def over(self, limit: float) -> bool:
        return self.seconds is None or self.seconds > limit

    def describe(self) -> str:
        if self.seconds is not None:
            return f"{self.replica} is {self.seconds} s behind"
        return f"{self.replica}: lag unknown ({self.problem})"


def split_address(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":") if address.count(":") == 1 else (address, "", "")
    return (host, int(port)) if port else (address, 3306)


def replica_settings(settings: DatabaseConfig, address: str) -> DatabaseConfig:
    """The primary's settings (user, password, TLS) pointed at one replica."""
    host, port = split_address(address)
    return dataclasses.replace(settings, host=host, port=port, unix_socket=None, database="")


def measure(session: Session, address: str) -> ReplicaLag:
    state = inspect_replication(session)
    if state is None:
        problem = "it shows no replication status (not a replica, or no REPLICATION CLIENT / REPLICA MONITOR)"
        return ReplicaLag(address, None, problem, shows_status=False)
    if not (state.io_running and state.sql_running):
        return ReplicaLag(address, None, f"replication is stopped {state.last_error}".strip())
    problem = "" if state.seconds_behind is not None else "the replica shows no lag"
    return ReplicaLag(address, state.seconds_behind, problem)


def watched_replicas(session: Session) -> tuple[str, ...]:
    """database.replicas, else the replicas this server reports."""
    return session.settings.replicas or inspect_topology(session, with_replicas=True).replicas


def measure_at(settings: DatabaseConfig, address: str) -> ReplicaLag:
    """The lag of one replica on a short connection of its own."""
    with connect(replica_settings(settings, address), with_database=False) as session:
        return measure(session, address)


class ReplicaLagThrottle:
    """The per-chunk throttle: call it before each chunk (any arguments are ignored). It asks
    the replicas at most every `every` seconds while they keep up, every `interval` while
    it waits for them."""

    def __init__(
        self,
        settings: DatabaseConfig,
        replicas: tuple[str, ...],
        *,
        stop: threading.Event | None = None,
        interval: float = 0.5,
        every: float = 1.0,
        sleep: Callable[[float], object] | None = None,
    ) -> None:
        self.settings = settings
        self.limit = settings.max_replica_lag
        self.stop = stop
        self.interval, self.every = interval, every
        self.sleep = sleep or (stop.wait if stop is not None else time.sleep)
        self.watched: list[str] = []
        self.pauses = 0
        self.paused_seconds = 0.0
        self._checked = 0.0
        for address in replicas:
            try:
                lag = measure_at(settings, address)
            except SqlopsError as exc:
                lag = ReplicaLag(address, None, exc.what, shows_status=False)
            if not lag.shows_status:
                log.warning(
                    "replica %s cannot be measured (%s); its lag is not watched: list reachable replicas "
                    "in database.replicas",
                    address,
                    lag.problem,
                )
                continue
            self.watched.append(address)
            log.info("watching the lag of replica %s (now: %s)", address, lag.describe())

    @property
    def replicas(self) -> tuple[str, ...]:
        return tuple(self.watched)

    def lags(self) -> list[ReplicaLag]:
        out = []
        for address in self.watched:
            try:
                out.append(measure_at(self.settings, address))
            except Exception as exc:  # a replica that went away: unknown lag, so throttle
                out.append(ReplicaLag(address, None, f"it does not answer: {exc}"))
        return out

    def __call__(self, *_: object) -> None:
        if time.monotonic() - self._checked < self.every:
            return
        started: float | None = None
        last_said = ""
        while not (self.stop is not None and self.stop.is_set()):
            lagging = [lag for lag in self.lags() if lag.over(self.limit)]
            if not lagging:
                break
            said = "; ".join(lag.describe() for lag in lagging)
            if started is None:
                started = time.monotonic()
                self.pauses += 1
            if said != last_said:
                log.info("throttling the copy: %s (database.max_replica_lag = %g s)", said, self.limit)
                last_said = said
            self.sleep(self.interval)
        self._checked = time.monotonic()
        if started is not None:
            paused = self._checked - started
            self.paused_seconds += paused
            log.info("replicas caught up: the copy resumes after %.1f s", paused)


def replica_throttle(session: Session, stop: threading.Event | None = None) -> ReplicaLagThrottle | None:
    """The throttle for copies on this server, or None when there is no replica to wait for
    (a Galera node has none: its writesets are applied synchronously)."""
    replicas = watched_replicas(session)
    if not replicas:
        return None
    throttle = ReplicaLagThrottle(session.settings, replicas, stop=stop)
    return throttle if throttle.replicas else None
