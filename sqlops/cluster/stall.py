"""The Galera stall guard. DDL on a Galera node runs in total order isolation: every node
stops applying (and so committing) writes until it finishes. Metadata-only DDL (splitting an
empty catch-all, RENAME, CREATE TRIGGER) takes milliseconds; DDL that copies rows (a catch-all
split with rows in it, `partition migrate --method alter`) stalls the whole cluster for as
long as the copy takes. Such an operation is refused up front when its expected stall exceeds
``database.max_stall``."""

from __future__ import annotations

from sqlops.cluster.topology import Topology
from sqlops.config import DatabaseConfig
from sqlops.errors import PreconditionError

ROTATE_FIX = (
    "split the catch-all at a quiet hour with a higher limit for that one run "
    "(SQLOPS_DATABASE_MAX_STALL=SECONDS sqlops partition rotate ...), and keep premake_months "
    "high enough that the catch-all stays empty"
)
MIGRATE_FIX = "use --method online (the default): its triggers and chunked copy never stall the cluster"


def refuse_cluster_stall(
    topology: Topology, settings: DatabaseConfig, seconds: float | None, what: str, instead: str
) -> None:
    """Raise when `what` would stall a Galera cluster for more than database.max_stall."""
    if topology.galera is None or seconds is None or seconds <= settings.max_stall:
        return
    raise PreconditionError(
        f"{what} refused: it would stall every node of the Galera cluster for about {seconds:.1f} s",
        why=f"DDL that copies rows runs in total order isolation on Galera, so writes on all "
        f"{topology.galera.cluster_size} nodes wait for it; database.max_stall is {settings.max_stall:g} s",
        fix=instead,
    )
