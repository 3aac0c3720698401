"""Writer latency on every Galera node while `partition rotate` runs on one of them (issue 13).

A 3-node cluster (tests/support/topology.py) with a writer on every node inserting one row
per statement (autocommit, like Squid's log_db_daemon) about 100 times a second. Each round,
on a fresh partitioned access_log, interleaved:

1. idle: the writers alone for as long as the rotate window (the noise floor);
2. sqlops: `partition rotate` premaking 6 months by splitting the *empty* catch-all (what
   sqlops does: metadata-only DDL under total order isolation);
3. peer: the same split of a catch-all holding ROWS rows, the plain REORGANIZE that sqlops
   refuses on Galera above database.max_stall (it copies the rows while every node waits).

Prints each node's max writer wait per phase, min-median-max over the rounds, and the target
(per-node max wait during rotate <= 0.5 s). Usage:

    DOCKER_HOST=unix:///run/sqlops-docker.sock .venv/bin/python bench/cluster/galera_rotate.py [--rounds 3] [--rows 50000]

Not a test: numbers depend on the machine; bench/README.md records what they were.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO))

from support.logtable import create_log_table, partition_like_migrate, row  # noqa: E402
from support.topology import Topology, Writers, database_on, start_galera  # noqa: E402

from sqlops.config import Config, PartitionTableConfig  # noqa: E402
from sqlops.db import connect  # noqa: E402
from sqlops.partitions.rotate import run_rotate, targets  # noqa: E402

D = dt.date
TODAY = D(2026, 3, 15)
SETTLE = 0.5  # seconds of writes measured after the DDL returns


def window(writers: Writers, action: object) -> tuple[float, list[float]]:
    """Run `action()` and return its duration and each node's max wait while it ran."""
    marks = [len(lat) for lat in writers.latencies]
    started = time.monotonic()
    action()  # type: ignore[operator]
    took = time.monotonic() - started
    time.sleep(SETTLE)
    return took, [writers.max_latency(i, marks[i]) for i in range(len(marks))]


def fill_catchall(topo: Topology, database: str, rows: int) -> None:
    from support.logtable import insert_rows

    with connect(topo[0].handle.settings(database)) as session:
        batch = [row(D(2026, 6, 1 + i % 28), i) for i in range(rows)]
        for start in range(0, rows, 5000):
            insert_rows(session, batch[start : start + 5000])


def one_round(topo: Topology, rows: int) -> dict[str, tuple[float, list[float]]]:
    out: dict[str, tuple[float, list[float]]] = {}
    (target,) = targets(Config(partitions={"access_log": PartitionTableConfig(premake_months=6)}))
    with database_on(topo, "bench_galera") as database:
        settings = topo[0].handle.settings(database)
        with connect(settings) as session:
            create_log_table(session)
            partition_like_migrate(session, "access_log", D(2026, 1, 3), D(2026, 1, 20), premake=1)
        with database_on(topo, "bench_peer") as peer_db:
            with connect(topo[0].handle.settings(peer_db)) as session:
                create_log_table(session)
                partition_like_migrate(session, "access_log", D(2026, 1, 3), D(2026, 1, 20), premake=1)
            fill_catchall(topo, peer_db, rows)
            with Writers(topo, database, D(2026, 1, 10), pace=0.01) as writers:
                time.sleep(2)
                out["idle"] = window(writers, lambda: time.sleep(0.2))
                out["sqlops"] = window(writers, lambda: run_rotate(settings, target, today=TODAY))
                split = (
                    "ALTER TABLE access_log REORGANIZE PARTITION pcatchall INTO ("
                    + ", ".join(
                        f"PARTITION p2026m{m:02d} VALUES LESS THAN (TO_DAYS('2026-{m + 1:02d}-01'))"
                        for m in range(3, 9)
                    )
                    + ", PARTITION pcatchall VALUES LESS THAN MAXVALUE)"
                )
                out["peer"] = window(writers, lambda: topo[0].sql(split, database=peer_db))
            if writers.errors:
                raise SystemExit(f"writer errors: {writers.errors}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rows", type=int, default=50_000, help="rows in the peer's catch-all")
    args = parser.parse_args()
    topo = start_galera(3)
    try:
        rounds = [one_round(topo, args.rows) for _ in range(args.rounds)]
    finally:
        topo.remove()
    print(f"{topo[0].handle.version}: 3-node Galera, a writer on every node, {args.rounds} rounds")
    print(
        "phase                              DDL s (min-med-max)    max writer wait per node, s (min-med-max)"
    )
    labels = {
        "idle": "idle (writers only)",
        "sqlops": "sqlops rotate (empty catch-all)",
        "peer": f"peer split ({args.rows} rows)",
    }
    worst: dict[str, float] = {}
    for phase, label in labels.items():
        took = sorted(r[phase][0] for r in rounds)
        nodes = []
        for i in range(3):
            waits = sorted(r[phase][1][i] for r in rounds)
            nodes.append(f"node{i + 1} {waits[0]:.3f}-{statistics.median(waits):.3f}-{waits[-1]:.3f}")
            worst[phase] = max(worst.get(phase, 0.0), waits[-1])
        print(f"{label:34} {took[0]:.3f}-{statistics.median(took):.3f}-{took[-1]:.3f}    " + "  ".join(nodes))
    print(f"worst per-node wait: sqlops {worst['sqlops']:.3f} s vs peer {worst['peer']:.3f} s")
    print(f"target per-node max wait during rotate <= 0.5 s: {'met' if worst['sqlops'] <= 0.5 else 'MISSED'}")


if __name__ == "__main__":
    main()
