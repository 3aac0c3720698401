#!/usr/bin/env python3
"""Writer latency during `schema upgrade` of a log_db_daemon table, next to a plain ALTER.

Both runs start from the same table, created by Squid's real log_db_daemon and grown with
INSERT ... SELECT, while a writer inserts log_db_daemon-style rows (autocommit, ~200 rows/s):

  peer:   one ALTER TABLE with the same column changes (date_day added as NULL: a plain ALTER
          cannot backfill it) — the table copy blocks the writer;
  sqlops: the online upgrade (shadow table + triggers + chunked copy + RENAME), which also
          backfills date_day.

Prints the writer's max and p99 wait and error count for each, and the ratio. Usage:

  python bench/platform/upgrade_writer_latency.py --rows 2000000 [--dsn mysql://root@127.0.0.1:3306/]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))

from support.legacy import LegacyWriter, create_with_log_db_daemon, grow  # noqa: E402
from support.servers import create_database, drop_database, from_dsn  # noqa: E402

from sqlops.db import connect  # noqa: E402
from sqlops.schema.upgrade import analyse_upgrade, run_upgrade, upgrade_spec  # noqa: E402

ZONE = "+02:00"


def prepare(server, rows: int) -> str:  # type: ignore[no-untyped-def]
    name = create_database(server, "sqlops_bench")
    epochs = [1_764_540_000 + i * 3600 for i in range(24)]
    create_with_log_db_daemon(server, name, "access_log", epochs, url_bytes=280)
    grow(server, name, "access_log", rows)
    return name


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98] if len(values) >= 100 else max(values, default=0.0)


def run_peer(server, name: str, rate: float) -> dict:  # type: ignore[no-untyped-def]
    with connect(server.settings(name, time_zone=ZONE)) as session:
        spec = upgrade_spec(
            analyse_upgrade(session, "access_log"), zone=ZONE, default_day=None, keep_old=False
        )
        clauses = spec.alterations[0].replace("date_day DATE NOT NULL", "date_day DATE NULL")
        writer = LegacyWriter(server, name, "access_log", rate=rate).start()
        time.sleep(2)
        started = time.monotonic()
        session.execute(f"ALTER TABLE access_log {clauses}")
        seconds = time.monotonic() - started
        time.sleep(2)
        writer.stop()
    return {"seconds": seconds, "writer": writer}


def run_sqlops(server, name: str, rate: float) -> dict:  # type: ignore[no-untyped-def]
    with connect(server.settings(name, time_zone=ZONE), maintenance=True) as session:
        analysis = analyse_upgrade(session, "access_log")
        writer = LegacyWriter(server, name, "access_log", rate=rate).start()
        time.sleep(2)
        started = time.monotonic()
        outcome = run_upgrade(session, analysis, zone=ZONE, default_day=None, keep_old=False)
        seconds = time.monotonic() - started
        time.sleep(2)
        writer.stop()
    return {"seconds": seconds, "writer": writer, "copied": outcome.rows_copied}


def report(label: str, result: dict) -> None:  # type: ignore[type-arg]
    w = result["writer"]
    print(
        f"  {label:<24} {result['seconds']:8.1f} s   writer: {w.inserted:6d} rows, "
        f"{len(w.errors)} errors, max wait {w.max_wait:6.3f} s, p99 {p99(w.latencies):6.3f} s"
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dsn", action="append", help="server(s); default MariaDB on 127.0.0.1:3306")
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--rate", type=float, default=200.0, help="writer rows/s")
    args = parser.parse_args()
    for dsn in args.dsn or ["mysql://root@127.0.0.1:3306/"]:
        server = from_dsn(dsn, "--dsn")
        print(
            f"\n{server.version}: schema upgrade of a {args.rows}-row log_db_daemon table, writer {args.rate:.0f} rows/s"
        )
        peer_db, ours_db = prepare(server, args.rows), prepare(server, args.rows)
        try:
            peer = run_peer(server, peer_db, args.rate)
            ours = run_sqlops(server, ours_db, args.rate)
        finally:
            drop_database(server, peer_db)
            drop_database(server, ours_db)
        report("plain ALTER (peer)", peer)
        report("sqlops schema upgrade", ours)
        pw, ow = peer["writer"].max_wait, ours["writer"].max_wait
        print(
            f"  max writer wait: sqlops {ow:.3f} s vs plain ALTER {pw:.3f} s -> {pw / ow if ow else float('inf'):.1f}x shorter"
        )
        print(f"  target max wait <= 1 s: {'met' if ow <= 1.0 and not ours['writer'].errors else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
