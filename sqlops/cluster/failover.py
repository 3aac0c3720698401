"""Connect to the first healthy server of a list (the logging daemon's fail-over).

``database.hosts`` lists the servers to try in order (``host[:port]``; user, password, TLS and
database as configured). A server counts as healthy when it accepts the connection and, if it
is a Galera node, is in the primary component and Synced (``wsrep_ready``,
``wsrep_local_state_comment``); a read-only replica is never written to. Each candidate gets
a short connect timeout, so a dead first node costs seconds, not the full timeout. Without
``database.hosts`` this is plain :func:`sqlops.db.connect`.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from sqlops.cluster.lag import split_address
from sqlops.cluster.topology import inspect_topology
from sqlops.config import DatabaseConfig
from sqlops.db import Session, connect, describe_target
from sqlops.errors import ConnectError

log = logging.getLogger("sqlops.cluster")
CANDIDATE_CONNECT_TIMEOUT = 3


def candidates(settings: DatabaseConfig) -> list[DatabaseConfig]:
    out = []
    for address in settings.hosts:
        host, port = split_address(address)
        out.append(dataclasses.replace(settings, host=host, port=port, unix_socket=None, hosts=()))
    return out


def unhealthy_reason(session: Session) -> str | None:
    topology = inspect_topology(session)
    if topology.galera is not None and not topology.galera.healthy:
        return topology.galera.describe()
    if topology.is_replica:
        return f"a replica ({topology.describe()})"
    return None


def connect_healthy(settings: DatabaseConfig, **kwargs: Any) -> Session:
    """A session on the first healthy server of database.hosts (see module doc)."""
    if not settings.hosts:
        return connect(settings, **kwargs)
    problems = []
    for candidate in candidates(settings):
        quick = dataclasses.replace(
            candidate, connect_timeout=min(candidate.connect_timeout, CANDIDATE_CONNECT_TIMEOUT)
        )
        try:
            session = connect(quick, **kwargs)
        except ConnectError as exc:
            problems.append(f"{candidate.host}:{candidate.port}: {exc.why or exc.what}")
            continue
        try:
            reason = unhealthy_reason(session)
        except Exception as exc:
            session.close()
            problems.append(f"{candidate.host}:{candidate.port}: {exc}")
            continue
        if reason is not None:
            session.close()
            problems.append(f"{candidate.host}:{candidate.port}: {reason}")
            continue
        if problems:
            log.warning("writing through %s; skipped %s", describe_target(candidate), "; ".join(problems))
        return session
    raise ConnectError(
        f"no healthy server among database.hosts ({', '.join(settings.hosts)})",
        why="; ".join(problems),
        fix="start a server (or bring a Galera node back into the primary component); "
        "the journal keeps every line meanwhile",
    )
