"""How many log lines one ingest transaction may carry on a Galera node.

A Galera transaction is replicated as one writeset at commit, and the node refuses a writeset
with more rows than ``wsrep_max_ws_rows`` (0: no limit) or more bytes than
``wsrep_max_ws_size`` (at most 2 GiB). An ingest batch is one transaction: its rows in
``access_log``, one quarantine row per rejected line and the checkpoint row. So a batch of N
lines writes at most N + 1 rows, and the batch is capped at ``wsrep_max_ws_rows - 1`` lines.
Bytes are capped with a deliberately pessimistic size per line (a Squid line is 150 to 300
bytes; its row image with the index entries is several times that): ``wsrep_max_ws_size //
WRITESET_BYTES_PER_LINE`` lines.

LOAD DATA or INSERT: both are one writeset per transaction and certify the same way, so the
daemon keeps LOAD DATA LOCAL (it is the faster one on Galera as on a single server). The one
difference is ``wsrep_load_data_splitting``: when it is ON, MariaDB commits a LOAD DATA every
10,000 rows on its own, which would commit part of a batch without its checkpoint (a restart
would then write those rows again). With it ON batches stay at LOAD_DATA_SPLIT_ROWS lines or
fewer, so no LOAD DATA is ever split.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlops.cluster.topology import inspect_galera
from sqlops.db import Session

WRITESET_BYTES_PER_LINE = 16 * 1024
LOAD_DATA_SPLIT_ROWS = 10_000


@dataclass(frozen=True)
class WritesetLimits:
    max_rows: int  # wsrep_max_ws_rows; 0 = no limit
    max_bytes: int  # wsrep_max_ws_size
    load_data_splitting: bool

    def batch_lines(self, wanted: int) -> tuple[int, str | None]:
        """The lines per batch to use instead of `wanted`, and why (None: `wanted` fits)."""
        caps: list[tuple[int, str]] = []
        if self.max_rows:
            caps.append((self.max_rows - 1, f"wsrep_max_ws_rows = {self.max_rows}"))
        caps.append((self.max_bytes // WRITESET_BYTES_PER_LINE, f"wsrep_max_ws_size = {self.max_bytes}"))
        if self.load_data_splitting:
            caps.append((LOAD_DATA_SPLIT_ROWS, "wsrep_load_data_splitting = ON"))
        lines, reason = min(caps)
        if lines >= wanted:
            return wanted, None
        return max(1, lines), reason


def writeset_limits(session: Session) -> WritesetLimits | None:
    """The limits of the Galera node `session` is on; None on a server that is no Galera node."""
    if inspect_galera(session) is None:
        return None
    rows, size, splitting = session.query(
        "SELECT @@wsrep_max_ws_rows, @@wsrep_max_ws_size, @@wsrep_load_data_splitting"
    )[0]
    return WritesetLimits(int(rows or 0), int(size or 0), str(splitting).upper() in ("1", "ON"))
