"""The job lock every maintenance job takes (rotate, migrate, rollup, schema upgrade).

It adds two things to :func:`sqlops.db.named_lock`:

- on a **replica** (read_only, super_read_only, or a server applying another one's changes)
  the job does nothing and says so: :class:`ReplicaSkip`. Its changes arrive from the
  primary by replication; DDL or bookkeeping written here would diverge from it (or fail
  with 1290). The CLI prints the message and exits 0; the scheduler logs the run as skipped,
  as for a lock held elsewhere.
- on a **Galera node** the node-local GET_LOCK is joined by the cluster-wide lease of
  :mod:`sqlops.cluster.lease`, so two runs on two nodes exclude each other.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

from sqlops.cluster.lease import cluster_lock
from sqlops.cluster.topology import Topology, inspect_topology
from sqlops.db import Session, named_lock
from sqlops.errors import EXIT_OK, LockHeldError, PreconditionError

log = logging.getLogger("sqlops.cluster")


class ReplicaSkip(LockHeldError):
    """The server is a replica: the job did nothing (exit 0). A LockHeldError so that every
    caller that already treats "someone else does this" as a skip treats it the same way."""

    exit_code = EXIT_OK

    def __init__(self, job: str, topology: Topology) -> None:
        name = job.replace("-", " ")
        super().__init__(
            f"{name} job: nothing to do on this server: it is a replica ({topology.describe()})",
            why="maintenance runs on the primary; its changes reach the replicas by replication",
            fix="run it against the primary (a replica's jobs start working once it is promoted)",
        )
        self.topology = topology


def refuse_on_replica(session: Session, job: str) -> Topology:
    """Raise ReplicaSkip on a replica; returns what the server is otherwise."""
    topology = inspect_topology(session)
    if topology.is_replica:
        raise ReplicaSkip(job, topology)
    return topology


def job_name(lock: str) -> str:
    """The job part of a lock name ``sqlops:<job>:<db>.<table>``."""
    parts = lock.split(":")
    return parts[1] if len(parts) > 2 else lock


@contextlib.contextmanager
def job_lock(session: Session, name: str, *, wait_seconds: float = 0) -> Iterator[Topology]:
    """Hold the job lock `name` (see module doc); yields what the server is."""
    topology = refuse_on_replica(session, job_name(name))
    if topology.galera is not None and not topology.galera.healthy:
        raise PreconditionError(
            f"{job_name(name)} job: this node cannot take part: {topology.galera.describe()}",
            why="a Galera node outside the primary component, or not Synced, refuses or delays writes",
            fix="run it on a synced node of the primary component (see wsrep_cluster_status on each node)",
        )
    with contextlib.ExitStack() as stack:
        stack.enter_context(named_lock(session, name, wait_seconds=wait_seconds))
        if topology.galera is not None:
            holder = stack.enter_context(cluster_lock(session, name, node=topology.galera.node_name))
            log.debug("cluster lock %s held by %s", name, holder)
        yield topology
