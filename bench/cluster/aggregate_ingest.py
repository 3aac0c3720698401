"""Aggregate ingest: 3 sqlops-logfile-daemon instances, each through its own node of a 3-node
Galera cluster, vs 1 daemon into a single MariaDB server (same image), rows/s and the ratio
(issue 13).

Each round writes the same number of lines in total into a fresh access_log: the cluster arm
sends LINES to each of its 3 daemons at once, the single arm sends 3 x LINES to its one
daemon. The time runs from the first line sent to every daemon having exited with all of its
lines committed (the stop waits for the journal to drain); every round then checks that the
table holds each line exactly once. Arms are interleaved (cluster, single, cluster, ...) and
reported as min-median-max over the rounds. Usage:

    DOCKER_HOST=unix:///run/sqlops-docker.sock .venv/bin/python bench/cluster/aggregate_ingest.py [--rounds 3] [--lines 30000]

Not a test: numbers depend on the machine (2 cores here: four servers' worth of work share
them); bench/README.md records what they were.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO))

from e2e.ingest_harness import DaemonProcess, status_files, wait_for, write_config  # noqa: E402
from support.servers import ServerHandle, create_database, drop_database, start_private  # noqa: E402
from support.topology import Topology, database_on, proxy_line, start_galera  # noqa: E402

from sqlops.cli import main as sqlops_main  # noqa: E402
from sqlops.squid.protocol import encode_line, opening  # noqa: E402


def run_daemons(targets: list[tuple[str, int]], database: str, lines: int, tmp: Path) -> tuple[float, str]:
    """One daemon per (host, port), each sent `lines` lines at once; seconds until all have
    drained and exited, and the write method they used."""
    configs = [
        write_config(
            tmp / f"proxy{i}.toml",
            host=host,
            port=port,
            user="root",
            database=database,
            spool=tmp / f"spool{i}",
            shutdown_seconds=600.0,  # stop waits until every line is committed
        )
        for i, (host, port) in enumerate(targets)
    ]
    assert sqlops_main(["--config", str(configs[0]), "schema", "init"]) == 0
    daemons = [DaemonProcess(str(c), log=tmp / f"cache{i}.log") for i, c in enumerate(configs)]
    for i in range(len(daemons)):
        wait_for(lambda i=i: status_files(tmp / f"spool{i}"), 30, f"daemon {i} to start")
    payloads = [
        opening(3) + b"".join(encode_line(proxy_line(p, i)) for i in range(lines))
        for p in range(len(daemons))
    ]

    def feed(p: int) -> None:
        data = payloads[p]
        for start in range(0, len(data), 256 * 1024):
            daemons[p].send(data[start : start + 256 * 1024])

    started = time.monotonic()
    feeders = [threading.Thread(target=feed, args=(p,)) for p in range(len(daemons))]
    for t in feeders:
        t.start()
    for t in feeders:
        t.join()
    codes = [d.stop(timeout=600) for d in daemons]
    took = time.monotonic() - started
    if codes != [0] * len(daemons):
        raise SystemExit(f"daemon exit codes {codes}: " + (tmp / "cache0.log").read_text()[-2000:])
    mode = str(status_files(tmp / "spool0")[0].get("mode"))
    return took, mode


def counted(handle: ServerHandle, database: str) -> list[tuple[object, ...]]:
    """COUNT(*) and distinct URLs; on a Galera node after waiting for every writeset the
    cluster has committed to be applied here (wsrep_sync_wait), so other nodes' rows count."""
    conn = handle.admin(database)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT @@wsrep_on")
            if str(cur.fetchone()[0]).upper() in ("1", "ON"):
                cur.execute("SET SESSION wsrep_sync_wait = 1")
            cur.execute("SELECT COUNT(*), COUNT(DISTINCT http_url) FROM access_log")
            return list(cur.fetchall())
    finally:
        conn.close()


def check(rows: list[tuple[object, ...]], expected: int, where: str, tmp: Path) -> None:
    total, distinct = int(rows[0][0]), int(rows[0][1])  # type: ignore[call-overload]
    if (total, distinct) != (expected, expected):
        logs = "\n".join(p.read_text(errors="replace")[-1500:] for p in sorted(tmp.glob("cache*.log")))
        raise SystemExit(
            f"{where}: expected {expected} rows once each, found {total} rows, {distinct} distinct\n{logs}"
        )


def cluster_round(topo: Topology, lines: int) -> tuple[float, str]:
    with database_on(topo, "bench_agg") as database, tempfile.TemporaryDirectory() as tmp:
        took, mode = run_daemons([(n.ip, 3306) for n in topo.nodes], database, lines, Path(tmp))
        for node in topo.nodes:  # every node holds every line once
            check(counted(node.handle, database), 3 * lines, node.name, Path(tmp))
    return took, mode


def single_round(server: ServerHandle, lines: int) -> tuple[float, str]:
    database = create_database(server, "bench_agg")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            took, mode = run_daemons([(server.host, server.port)], database, 3 * lines, Path(tmp))
            check(counted(server, database), 3 * lines, "single server", Path(tmp))
    finally:
        drop_database(server, database)
    return took, mode


def spread(values: list[float]) -> str:
    ordered = sorted(values)
    return f"{ordered[0]:,.0f}-{statistics.median(ordered):,.0f}-{ordered[-1]:,.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--lines", type=int, default=30_000, help="lines per cluster daemon (x3 in all)")
    args = parser.parse_args()
    topo = start_galera(3)
    single: ServerHandle | None = None
    results: dict[str, list[float]] = {"cluster": [], "single": []}
    modes: set[str] = set()
    try:
        single = start_private("mariadb", purpose="bench single server")
        for _ in range(args.rounds):
            took, mode = cluster_round(topo, args.lines)
            results["cluster"].append(3 * args.lines / took)
            modes.add(mode)
            took, mode = single_round(single, args.lines)
            results["single"].append(3 * args.lines / took)
            modes.add(mode)
    finally:
        topo.remove()
        if single is not None:
            single.stop()
    total = 3 * args.lines
    print(
        f"{topo[0].handle.version}; {total:,} lines per round, {args.rounds} interleaved rounds; write method {', '.join(sorted(modes))}"
    )
    print(f"3 daemons -> 3-node Galera (one node each): {spread(results['cluster'])} rows/s (min-median-max)")
    print(f"1 daemon  -> single server:                 {spread(results['single'])} rows/s (min-median-max)")
    ratios = [c / s for c, s in zip(results["cluster"], results["single"], strict=True)]
    ordered = sorted(ratios)
    print(
        f"ratio cluster/single per round: {ordered[0]:.2f}-{statistics.median(ordered):.2f}-{ordered[-1]:.2f}"
    )


if __name__ == "__main__":
    main()
