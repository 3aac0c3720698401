#!/usr/bin/env python3
"""Squid → MySQL ingest throughput: sqlops-logfile-daemon and `sqlops ingest load` next to
their peers, in the same run, on the same machine.

For each flavour (MariaDB 10.11, MySQL 9.7), on a private throwaway server:

  peer   log_db_daemon           Squid's own daemon (Debian), fed LEGACY lines (default 100k)
  peer   LOAD DATA LOCAL INFILE  one statement loading the same rows, already converted to a
                                 tab-separated file, into the same access_log table
  sqlops sqlops-logfile-daemon   LINES native lines (default 1M) written into its stdin (a
                                 socketpair, as Squid does) as fast as it reads them, timed
                                 until it has written everything and exited; peak RSS sampled
  sqlops sqlops ingest load      the same lines as a plain access.log file

MySQL 9.7 ships local_infile=OFF: the daemon and the backfill detect it and use multi-row
INSERT; the LOAD DATA peer runs with local_infile switched on just for it (a private server).
The LOAD DATA and sqlops runs alternate for --rounds rounds; medians are compared. Prints the
rows/s and the ratios; writes bench/out/ingest.json. Usage:

  python bench/ingest/bench_ingest.py [--lines 1000000] [--legacy-lines 100000] [--rounds 3]
      [--flavours mariadb,mysql] [--mariadb-dsn mysql://root@127.0.0.1:3306/] [--mysql-dsn ...]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))

from support.servers import (  # noqa: E402
    ServerHandle,
    create_database,
    drop_database,
    from_dsn,
    start_mariadb,
    start_mysql_chroot,
)

from sqlops.cli import main as sqlops_main  # noqa: E402
from sqlops.db import connect  # noqa: E402
from sqlops.squid.logformat import compile_format  # noqa: E402
from sqlops.squid.rows import RowEncoder  # noqa: E402
from sqlops.squid.writer import inspect_columns  # noqa: E402

LOG_DB_DAEMON = "/usr/lib/squid/log_db_daemon"
OUT = REPO / "bench" / "out"
DATA = REPO / "bench" / "data"


# ---------------------------------------------------------------------------------------------
# Input: realistic native lines (log_db_daemon's table must take them: IPv4, short names)


def generate(count: int, path: Path) -> None:
    rng = random.Random(20241127)
    hosts = [f"www.site{i}.example.com" for i in range(300)]
    paths = ["/", "/index.html", "/static/app.js", "/api/v1/items", "/images/logo.png", "/search"]
    statuses = (
        [("TCP_MISS", 200)] * 12
        + [("TCP_HIT", 200)] * 4
        + [
            ("TCP_MISS", 404),
            ("TCP_TUNNEL", 200),
            ("TCP_DENIED", 403),
            ("TCP_REFRESH_UNMODIFIED", 304),
        ]
    )
    mimes = ["text/html", "image/png", "application/json", "text/css", "application/javascript", "-"]
    epoch = 1_764_540_000.0
    with path.open("wb") as out:
        for i in range(count):
            epoch += rng.expovariate(1 / 0.004)
            status, code = rng.choice(statuses)
            method = "CONNECT" if status == "TCP_TUNNEL" else rng.choice(["GET"] * 9 + ["POST"])
            host = rng.choice(hosts)
            if method == "CONNECT":
                url = f"{host}:443"
            else:
                query = "".join(rng.choice("abcdefghijklmnop0123456789") for _ in range(rng.randrange(0, 60)))
                url = f"http://{host}{rng.choice(paths)}?q={query}&i={i}"
            user = "-" if rng.random() < 0.8 else f"user{rng.randrange(500)}"
            hier = "HIER_NONE/-" if status == "TCP_HIT" else f"HIER_DIRECT/203.0.113.{rng.randrange(1, 255)}"
            line = (
                f"{epoch:.3f} {rng.randrange(1, 30000):6d} 10.{rng.randrange(256)}.{rng.randrange(256)}."
                f"{rng.randrange(1, 255)} {status}/{code:03d} {rng.randrange(200, 500000)} {method} {url} "
                f"{user} {hier} {rng.choice(mimes)}"
            )
            out.write(b"L" + line.encode() + b"\nF\n")


def plain_log(framed: Path, path: Path, limit: int | None = None) -> int:
    """The L lines of a daemon-protocol file as a plain access.log (first `limit`)."""
    count = 0
    with framed.open("rb") as src, path.open("wb") as dst:
        for raw in src:
            if raw.startswith(b"L"):
                dst.write(raw[1:])
                count += 1
                if limit is not None and count >= limit:
                    break
    return count


# ---------------------------------------------------------------------------------------------
# Servers and databases


class Flavour:
    def __init__(self, name: str, handle: ServerHandle, private: bool) -> None:
        self.name = name
        self.handle = handle
        self.private = private

    def set_local_infile(self, on: bool) -> None:
        conn = self.handle.admin()
        try:
            with conn.cursor() as cur:
                cur.execute(f"SET GLOBAL local_infile = {int(on)}")
        finally:
            conn.close()

    def local_infile(self) -> bool:
        conn = self.handle.admin()
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT @@GLOBAL.local_infile")
                return bool(int(cur.fetchone()[0]))
        finally:
            conn.close()


def config_file(flavour: Flavour, database: str, folder: Path) -> Path:
    h = flavour.handle
    path = folder / f"{database}.toml"
    password = f'password = "{h.password}"\n' if h.password else ""
    path.write_text(
        f'[database]\nhost = "{h.host}"\nport = {h.port}\nuser = "{h.user}"\n{password}database = "{database}"\n\n'
        f'[ingest]\nspool_dir = "{folder / "spool"}"\nshutdown_seconds = 3600.0\nfsync_seconds = 1.0\n'
    )
    return path


def fresh(flavour: Flavour, folder: Path) -> tuple[str, Path]:
    database = create_database(flavour.handle, "sqlops_bench")
    config = config_file(flavour, database, folder)
    with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet), contextlib.redirect_stderr(quiet):
        assert sqlops_main(["--config", str(config), "schema", "init"]) == 0
    return database, config


def count_rows(flavour: Flavour, database: str, table: str = "access_log") -> int:
    conn = flavour.handle.admin(database)
    try:
        with conn.cursor() as cur:
            cur.execute(f"SELECT COUNT(*) FROM `{table}`")
            return int(cur.fetchone()[0])
    finally:
        conn.close()


# ---------------------------------------------------------------------------------------------
# The runs


def run_log_db_daemon(flavour: Flavour, framed: Path, lines: int) -> dict[str, Any]:
    """Squid's log_db_daemon on the first `lines` lines (it creates its own table)."""
    h = flavour.handle
    database = create_database(h, "sqlops_bench")
    try:
        payload = bytearray()
        with framed.open("rb") as src:
            taken = 0
            for raw in src:
                payload += raw
                if raw.startswith(b"L"):
                    taken += 1
                    if taken >= lines:
                        break
        dsn = f"/{h.host}:{h.port}/{database}/access_log/{h.user}/{h.password}"
        started = time.monotonic()
        out = subprocess.run([LOG_DB_DAEMON, dsn], input=bytes(payload), capture_output=True, timeout=3600)
        seconds = time.monotonic() - started
        rows = count_rows(flavour, database)
        errors = out.stderr.decode(errors="replace").count("DBD::mysql")
        return {
            "lines": taken,
            "rows": rows,
            "seconds": seconds,
            "rows_per_s": rows / seconds,
            "errors": errors,
        }
    finally:
        drop_database(h, database)


def run_load_data(flavour: Flavour, tsv: Path, columns: tuple[str, ...], folder: Path) -> dict[str, Any]:
    database, _ = fresh(flavour, folder)
    try:
        conn = flavour.handle.admin(database)
        try:
            with conn.cursor() as cur:
                started = time.monotonic()
                rows = cur.execute(
                    f"LOAD DATA LOCAL INFILE '{tsv}' INTO TABLE access_log CHARACTER SET binary "
                    f"FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' ({', '.join(columns)})"
                )
                seconds = time.monotonic() - started
        finally:
            conn.close()
        return {"rows": rows, "seconds": seconds, "rows_per_s": rows / seconds}
    finally:
        drop_database(flavour.handle, database)


def run_daemon(flavour: Flavour, framed: Path, expected: int, folder: Path) -> dict[str, Any]:
    database, config = fresh(flavour, folder)
    try:
        ours, theirs = socket.socketpair()
        log_path = folder / f"{database}.log"
        err = log_path.open("wb")
        proc = subprocess.Popen(
            [sys.executable, "-m", "sqlops.squid.daemon", str(config)], stdin=theirs, stderr=err
        )
        theirs.close()
        # Squid starts the daemon once; time the lines, not Python's start-up and the connect.
        deadline = time.monotonic() + 60
        while b"writing to config file" not in log_path.read_bytes():
            assert time.monotonic() < deadline and proc.poll() is None, log_path.read_text()
            time.sleep(0.01)
        started = time.monotonic()
        peak = [0]

        def sample() -> None:
            status = Path(f"/proc/{proc.pid}/status")
            while proc.poll() is None:
                try:
                    for line in status.read_text().splitlines():
                        if line.startswith("VmHWM:"):
                            peak[0] = max(peak[0], int(line.split()[1]))
                except OSError:
                    pass
                time.sleep(0.05)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        fed_at = [0.0]

        def feed() -> None:
            with framed.open("rb") as src:
                ours.sendfile(src)
            fed_at[0] = time.monotonic() - started
            ours.close()  # what Squid does at shutdown: EOF, then the daemon writes the rest

        feeder = threading.Thread(target=feed, daemon=True)
        feeder.start()
        code = proc.wait(7200)
        seconds = time.monotonic() - started
        feeder.join()
        sampler.join()
        err.close()
        rows = count_rows(flavour, database)
        assert code == 0, log_path.read_text()[-2000:]
        assert rows == expected, f"{rows} rows, expected {expected}"
        return {
            "rows": rows,
            "seconds": seconds,
            "rows_per_s": rows / seconds,
            "peak_rss_mb": round(peak[0] / 1024, 1),
            "stdin_consumed_after_s": round(fed_at[0], 2),
        }
    finally:
        drop_database(flavour.handle, database)


def run_backfill(flavour: Flavour, log: Path, expected: int, folder: Path) -> dict[str, Any]:
    database, config = fresh(flavour, folder)
    try:
        sqlops = str(Path(sys.executable).with_name("sqlops"))
        started = time.monotonic()
        out = subprocess.run(
            [sqlops, "--config", str(config), "ingest", "load", str(log)], capture_output=True, text=True
        )
        seconds = time.monotonic() - started
        assert out.returncode == 0, out.stderr
        rows = count_rows(flavour, database)
        assert rows == expected, f"{rows} rows, expected {expected}"
        return {"rows": rows, "seconds": seconds, "rows_per_s": rows / seconds, "summary": out.stdout.strip()}
    finally:
        drop_database(flavour.handle, database)


def tsv_for(flavour: Flavour, log: Path, folder: Path) -> tuple[Path, tuple[str, ...]]:
    """The rows as LOAD DATA input, made with the same encoder (outside any timing)."""
    database, _ = fresh(flavour, folder)
    try:
        with connect(flavour.handle.settings(database)) as session:
            columns = inspect_columns(session, "access_log")
    finally:
        drop_database(flavour.handle, database)
    encoder = RowEncoder(compile_format("squid"), columns, "+00:00", "tsv")
    path = folder / f"peer-{flavour.name}.tsv"
    with log.open("rb") as src, path.open("wb") as dst:
        for line in src:
            dst.write(encoder.encode_line(line.rstrip(b"\n")) + b"\n")
    return path, encoder.columns


# ---------------------------------------------------------------------------------------------


def bench_flavour(
    flavour: Flavour, args: argparse.Namespace, framed: Path, log: Path, folder: Path
) -> dict[str, Any]:
    result: dict[str, Any] = {"server": flavour.handle.version, "private_server": flavour.private}
    shipped = flavour.local_infile()
    result["local_infile_as_shipped"] = shipped
    print(
        f"\n{flavour.name}: {flavour.handle.version}, local_infile={'ON' if shipped else 'OFF'}", flush=True
    )
    legacy = run_log_db_daemon(flavour, framed, args.legacy_lines)
    result["log_db_daemon"] = legacy
    print(
        f"  log_db_daemon            {legacy['rows_per_s']:>10,.0f} rows/s ({legacy['rows']:,} lines)",
        flush=True,
    )
    tsv, columns = tsv_for(flavour, log, folder)
    peers, daemons, loads = [], [], []
    for number in range(1, args.rounds + 1):
        if not shipped and flavour.private:
            flavour.set_local_infile(True)
        if shipped or flavour.private:
            peers.append(run_load_data(flavour, tsv, columns, folder))
        if not shipped and flavour.private:
            flavour.set_local_infile(False)  # sqlops runs against the server as shipped
        daemons.append(run_daemon(flavour, framed, args.lines, folder))
        loads.append(run_backfill(flavour, log, args.lines, folder))
        line = f"  round {number}: daemon {daemons[-1]['rows_per_s']:,.0f} rows/s (RSS {daemons[-1]['peak_rss_mb']} MB)"
        line += f", ingest load {loads[-1]['rows_per_s']:,.0f} rows/s"
        if peers:
            line += f", LOAD DATA {peers[-1]['rows_per_s']:,.0f} rows/s"
        print(line, flush=True)
    tsv.unlink()
    med = statistics.median
    result["load_data_peer"] = peers
    result["daemon"] = daemons
    result["ingest_load"] = loads
    daemon_rate = med(d["rows_per_s"] for d in daemons)
    load_rate = med(d["rows_per_s"] for d in loads)
    summary = {
        "daemon_rows_per_s": round(daemon_rate),
        "ingest_load_rows_per_s": round(load_rate),
        "log_db_daemon_rows_per_s": round(legacy["rows_per_s"]),
        "daemon_vs_log_db_daemon": round(daemon_rate / legacy["rows_per_s"], 1),
        "daemon_peak_rss_mb": max(d["peak_rss_mb"] for d in daemons),
        "daemon_write_method": "LOAD DATA LOCAL INFILE" if shipped else "multi-row INSERT (local_infile=OFF)",
    }
    if peers:
        peer_rate = med(p["rows_per_s"] for p in peers)
        summary["load_data_rows_per_s"] = round(peer_rate)
        summary["daemon_vs_load_data"] = round(daemon_rate / peer_rate, 2)
        summary["ingest_load_vs_load_data"] = round(load_rate / peer_rate, 2)
    result["summary"] = summary
    return result


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--legacy-lines", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--flavours", default="mariadb,mysql")
    parser.add_argument("--mariadb-dsn", help="use this server instead of a private one")
    parser.add_argument("--mysql-dsn", help="use this server instead of a private one (no LOAD DATA peer)")
    args = parser.parse_args()

    DATA.mkdir(parents=True, exist_ok=True)
    OUT.mkdir(parents=True, exist_ok=True)
    framed = DATA / f"native-{args.lines}.bin"
    if not framed.exists():
        print(f"generating {args.lines:,} lines -> {framed}", flush=True)
        generate(args.lines, framed)
    log = DATA / f"native-{args.lines}.log"
    if not log.exists():
        plain_log(framed, log)
    results: dict[str, Any] = {
        "lines": args.lines,
        "legacy_lines": args.legacy_lines,
        "rounds": args.rounds,
        "machine": f"{platform.node()} {os.cpu_count()} cpus, {platform.platform()}",
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    for name in [f.strip() for f in args.flavours.split(",") if f.strip()]:
        dsn = args.mariadb_dsn if name == "mariadb" else args.mysql_dsn
        if dsn:
            flavour = Flavour(name, from_dsn(dsn, "--dsn"), private=False)
        else:
            flavour = Flavour(
                name, start_mariadb() if name == "mariadb" else start_mysql_chroot(), private=True
            )
        with tempfile.TemporaryDirectory(prefix="sqlops-bench-") as tmp:
            try:
                results[name] = bench_flavour(flavour, args, framed, log, Path(tmp))
            finally:
                if flavour.private:
                    flavour.handle.stop()
    (OUT / "ingest.json").write_text(json.dumps(results, indent=2) + "\n")
    print("\nsummary (medians of the rounds; ratios = sqlops / peer):")
    for name in ("mariadb", "mysql"):
        if name in results:
            print(f"  {name}: {json.dumps(results[name]['summary'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
