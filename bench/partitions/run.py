"""Partition benchmarks, each beside its peer in the same run, ratios printed (issue 4).

1. migrate: online migrate of a 2M-row (~600 MB) access_log while a writer inserts 200 rows/s,
   beside one plain ALTER doing the same (the peer): max/p99 writer wait and error counts.
2. rotate: `partition rotate` (premake one month + archive one month) on 2M rows vs 20k rows.
3. retention: dropping a month (DROP PARTITION) and archiving one (CONVERT PARTITION on
   MariaDB, EXCHANGE PARTITION on MySQL) vs DELETE of a month of the same size.

The 2M rows are generated once per flavour and shared by all three; everything is dropped at
the end. Usage:

    .venv/bin/python bench/partitions/run.py [--flavour mariadb|mysql|both] [--rows 2000000]

Servers: BENCH_MARIADB_DSN / BENCH_MYSQL_DSN (default: the local 127.0.0.1:3306 and :33097).
Not a test: numbers depend on the machine; bench/README.md records what they were.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO))

from support.legacy import LegacyWriter  # noqa: E402
from support.logtable import create_log_table  # noqa: E402
from support.servers import ServerHandle, create_database, drop_database, from_dsn  # noqa: E402

from sqlops.config import Config, PartitionTableConfig  # noqa: E402
from sqlops.db import Session, connect  # noqa: E402
from sqlops.partitions import ddl  # noqa: E402
from sqlops.partitions.migrate import migrate_table  # noqa: E402
from sqlops.partitions.months import add_months, month_start  # noqa: E402
from sqlops.partitions.planner import plan_layout  # noqa: E402
from sqlops.partitions.rotate import run_rotate, targets  # noqa: E402

DSNS = {
    "mariadb": os.environ.get("BENCH_MARIADB_DSN", "mysql://root@127.0.0.1:3306/"),
    "mysql": os.environ.get("BENCH_MYSQL_DSN", "mysql://root@127.0.0.1:33097/"),
}
SPAN_DAYS = 365


def say(text: str) -> None:
    print(text, flush=True)


# --------------------------------------------------------------------------------------------
# Data


def make_table(session: Session, partitioned_at: dt.date | None = None) -> None:
    """sqlops' access_log with the date_day trigger (the legacy writer does not send date_day)."""
    create_log_table(session, trigger=True)
    if partitioned_at is not None:
        layout = plan_layout(partitioned_at - dt.timedelta(days=SPAN_DAYS), None, partitioned_at, 3)
        session.execute(
            f"ALTER TABLE access_log {ddl.primary_key_swap(('id', 'date_day'))} {ddl.partition_by('date_day', layout)}"
        )


def fill(session: Session, rows: int, today: dt.date) -> float:
    """`rows` rows spread over the last year, ~300 bytes each: a seed batch, then doubling with
    INSERT ... SELECT (shifted epochs, date_day computed in UTC)."""
    started = time.monotonic()
    base = int(dt.datetime.combine(today - dt.timedelta(days=SPAN_DAYS - 1), dt.time(), dt.UTC).timestamp())
    rng = random.Random(4)
    seed = []
    for _ in range(min(rows, 5000)):
        epoch = base + rng.randrange(SPAN_DAYS * 86400)
        path = "/".join(
            rng.choice(["img", "api", "static", "v2", "cdn", "assets", "js", "css"]) for _ in range(4)
        )
        url = f"http://www{rng.randrange(50)}.example.com/{path}/{rng.getrandbits(256):064x}?q={rng.getrandbits(64):x}"
        status = rng.choice(["TCP_MISS", "TCP_HIT", "TCP_MEM_HIT", "TCP_REFRESH_UNMODIFIED", "TCP_DENIED"])
        seed.append(
            (
                epoch,
                rng.randrange(2000),
                f"10.1.{rng.randrange(256)}.{rng.randrange(256)}",
                status,
                "200",
                rng.randrange(100, 200_000),
                "GET",
                url,
                rng.choice(["-", "alice", "bob", "carol"]),
                "HIER_DIRECT",
                "93.184.216.34",
                "text/html",
                dt.datetime.fromtimestamp(epoch, dt.UTC).date(),
            )
        )
    columns = (
        "time_since_epoch, time_response, ip_client, squid_request_status, http_status_code, http_reply_size, "
        "http_method, http_url, http_username, squid_hier_status, ip_server, http_mime_type, date_day"
    )
    with session.raw.cursor() as cur:
        cur.executemany(f"INSERT INTO access_log ({columns}) VALUES ({', '.join(['%s'] * 13)})", seed)
    session.execute("SET SESSION time_zone = '+00:00'")
    # Copies of the seed with shifted epochs, from a separate seed table and a numbers table
    # (INSERT ... SELECT from the table itself, or with ORDER BY, needs an on-disk temporary
    # table per statement, and MariaDB keeps those in /tmp).
    session.execute("CREATE TEMPORARY TABLE bench_seed AS SELECT * FROM access_log")
    session.execute("CREATE TEMPORARY TABLE bench_n (i INT PRIMARY KEY)")
    copies = -(-rows // len(seed))
    with session.raw.cursor() as cur:
        cur.executemany("INSERT INTO bench_n VALUES (%s)", [(i,) for i in range(1, copies)])
    shifted = (
        f"{base} + MOD(s.time_since_epoch - {base} + n.i * 86413 + (s.id * 7919) % 3600, {SPAN_DAYS * 86400})"
    )
    step = max(1, 100_000 // len(seed))
    for low in range(1, copies, step):
        high = min(copies, low + step)
        session.execute(
            f"INSERT INTO access_log ({columns}) SELECT {shifted}, s.time_response, s.ip_client, "
            "s.squid_request_status, s.http_status_code, s.http_reply_size, s.http_method, s.http_url, "
            "s.http_username, s.squid_hier_status, s.ip_server, s.http_mime_type, "
            f"DATE(FROM_UNIXTIME({shifted})) FROM bench_seed s JOIN bench_n n "
            f"WHERE n.i >= {low} AND n.i < {high}"
        )
    extra = int(session.scalar("SELECT COUNT(*) FROM access_log")) - rows
    if extra > 0:
        session.execute(f"DELETE FROM access_log ORDER BY id DESC LIMIT {extra}")
    session.execute("DROP TEMPORARY TABLE bench_seed, bench_n")
    session.execute("ANALYZE TABLE access_log")
    return time.monotonic() - started


def size_mib(session: Session, table: str = "access_log") -> float:
    if not session.info.is_mariadb:
        session.execute("SET SESSION information_schema_stats_expiry = 0")
    value = session.scalar(
        "SELECT DATA_LENGTH + INDEX_LENGTH FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() "
        "AND TABLE_NAME = %s",
        (table,),
    )
    return float(value or 0) / 1048576


# --------------------------------------------------------------------------------------------
# 1. migrate


@dataclass
class WriterFigures:
    seconds: float
    inserted: int
    errors: int
    max_wait: float
    p99: float

    def row(self, label: str) -> str:
        return (
            f"  {label:<22} {self.seconds:8.1f} s  {self.inserted:7d} inserts  {self.errors:3d} errors  "
            f"max wait {self.max_wait:6.3f} s  p99 {self.p99:6.3f} s"
        )


def with_writer(server: ServerHandle, database: str, work) -> WriterFigures:  # type: ignore[no-untyped-def]
    writer = LegacyWriter(server, database, "access_log", rate=200).start()
    time.sleep(1)  # the writer's steady state before the change starts
    started = time.monotonic()
    try:
        work()
    finally:
        seconds = time.monotonic() - started
        time.sleep(1)
        writer.stop()
    latencies = sorted(writer.latencies)
    p99 = latencies[int(len(latencies) * 0.99)] if latencies else 0.0
    return WriterFigures(seconds, writer.inserted, len(writer.errors), writer.max_wait, p99)


def bench_migrate(server: ServerHandle, database: str) -> None:
    settings = server.settings(database)
    (target,) = targets(Config())
    online = with_writer(
        server, database, lambda: migrate_table(settings, target, method="online", keep_old=True)
    )
    with connect(settings) as session:
        # The kept original (unpartitioned, with its trigger) becomes access_log again for the peer.
        session.execute("RENAME TABLE access_log TO access_log_online, _access_log_sqlops_old TO access_log")
        rows = session.scalar("SELECT COUNT(*) FROM access_log")
        mib = size_mib(session)
    plain = with_writer(server, database, lambda: migrate_table(settings, target, method="alter"))
    say(f"migrate of {rows} rows ({mib:.0f} MiB) while a writer inserts 200 rows/s:")
    say(online.row("online (shadow copy)"))
    say(plain.row("plain ALTER (peer)"))
    ratio = plain.max_wait / online.max_wait if online.max_wait else float("inf")
    say(
        f"  max writer wait: ALTER / online = {ratio:.1f}x; target online <= 0.5 s and 0 errors: "
        f"{'met' if online.max_wait <= 0.5 and online.errors == 0 else 'NOT met'}"
    )
    with connect(settings) as session:
        session.execute("DROP TABLE access_log_online")


# --------------------------------------------------------------------------------------------
# 2. rotate: 20k vs 2M


def rotate_series(settings, today: dt.date, runs: int) -> list[tuple[float, float]]:  # type: ignore[no-untyped-def]
    (target,) = targets(
        Config(partitions={"access_log": PartitionTableConfig(premake_months=3, retention_months=12)})
    )
    out = []
    for k in range(1, runs + 1):
        day = add_months(month_start(today), k) + dt.timedelta(days=today.day - 1)
        started = time.monotonic()
        outcome = run_rotate(settings, target, today=day)
        wall = time.monotonic() - started
        assert outcome.rotate_plan.created and outcome.rotate_plan.archived, "each run premakes and archives"
        out.append((wall, outcome.seconds))
    return out


def bench_rotate(server: ServerHandle, big: str, today: dt.date, runs: int = 4) -> None:
    small = create_database(server, "sqlops_bench_small")
    try:
        with connect(server.settings(small)) as session:
            make_table(session, partitioned_at=today)
            fill(session, 20_000, today)
        with connect(server.settings(big)) as session:
            big_rows = session.scalar("SELECT COUNT(*) FROM access_log")
        small_times = rotate_series(server.settings(small), today, runs)
        big_times = rotate_series(server.settings(big), today, runs)
    finally:
        drop_database(server, small)
    s_wall, b_wall = statistics.median(t[0] for t in small_times), statistics.median(t[0] for t in big_times)
    s_ddl, b_ddl = statistics.median(t[1] for t in small_times), statistics.median(t[1] for t in big_times)
    say(f"rotate (premake 1 month + archive 1 month), median of {runs} runs:")
    say(
        f"  {'20,000 rows':<22} {s_wall:6.3f} s end to end   {s_ddl:6.3f} s in DDL   runs: "
        + ", ".join(f"{w:.3f}" for w, _ in small_times)
    )
    say(
        f"  {f'{big_rows:,} rows':<22} {b_wall:6.3f} s end to end   {b_ddl:6.3f} s in DDL   runs: "
        + ", ".join(f"{w:.3f}" for w, _ in big_times)
    )
    ratio = b_wall / s_wall
    say(
        f"  big / small = {ratio:.2f}x end to end, {b_ddl / s_ddl:.2f}x in DDL; target within 2x: "
        f"{'met' if ratio <= 2 else 'NOT met'}"
    )


# --------------------------------------------------------------------------------------------
# 3. retention: DROP / CONVERT or EXCHANGE vs DELETE


def bench_retention(server: ServerHandle, database: str) -> None:
    settings = server.settings(database)
    with connect(settings) as session:
        months = [
            (name, int(session.scalar(f"SELECT COUNT(*) FROM access_log PARTITION (`{name}`)")))
            for (name,) in session.query(
                "SELECT PARTITION_NAME FROM information_schema.PARTITIONS WHERE TABLE_SCHEMA = DATABASE() "
                "AND TABLE_NAME = 'access_log' AND PARTITION_NAME REGEXP '^p[0-9]{4}m[0-9]{2}$' "
                "ORDER BY PARTITION_ORDINAL_POSITION"
            )
        ]
        full = [(n, c) for n, c in months if c > 0][:3]
        (del_p, del_n), (drop_p, drop_n), (arch_p, arch_n) = full
        mariadb = session.info.has_convert_partition
        how_detail = ""

        def timed(sql: str) -> float:
            started = time.monotonic()
            session.execute(sql)
            return time.monotonic() - started

        low = session.scalar(f"SELECT MIN(date_day) FROM access_log PARTITION (`{del_p}`)")
        first, nxt = month_start(low), add_months(low, 1)
        before = size_mib(session)
        t_delete = timed(f"DELETE FROM access_log WHERE date_day >= '{first}' AND date_day < '{nxt}'")
        after_delete = size_mib(session)
        t_drop = timed(f"ALTER TABLE access_log DROP PARTITION `{drop_p}`")
        if mariadb:
            t_arch = timed(ddl.convert_partition("access_log", arch_p, "bench_archive"))
            how = "CONVERT PARTITION"
        else:
            steps = [
                timed(sql)
                for sql in (
                    ddl.create_like("bench_archive", "access_log"),
                    ddl.remove_partitioning("bench_archive"),
                    ddl.exchange_partition("access_log", arch_p, "bench_archive"),
                    ddl.drop_partition("access_log", arch_p),
                )
            ]
            t_arch = sum(steps)
            how = "EXCHANGE PARTITION (+ clone, drop)"
            detail = "create like {:.3f} + remove partitioning {:.3f} + exchange {:.3f} + drop {:.3f} s"
            how_detail = "  (" + detail.format(*steps) + ")"
        archived = session.scalar("SELECT COUNT(*) FROM bench_archive")
        assert archived == arch_n
    say("retention of one month:")
    say(
        f"  {'DELETE (peer)':<34} {t_delete:7.3f} s  {del_n:7d} rows  (table {before:.0f} -> {after_delete:.0f} MiB: "
        "the space is not freed)"
    )
    say(
        f"  {'DROP PARTITION':<34} {t_drop:7.3f} s  {drop_n:7d} rows  -> DELETE / DROP = {t_delete / t_drop:.1f}x"
    )
    say(f"  {how:<34} {t_arch:7.3f} s  {arch_n:7d} rows  -> DELETE / archive = {t_delete / t_arch:.1f}x")
    if how_detail:
        say(how_detail)


# --------------------------------------------------------------------------------------------


def run(flavour: str, rows: int, skip_migrate: bool) -> None:
    server = from_dsn(DSNS[flavour], f"BENCH_{flavour.upper()}_DSN")
    say(f"\n=== {flavour}: {server.version} ({time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores) ===")
    database = create_database(server, "sqlops_bench")
    try:
        with connect(server.settings(database)) as session:
            today = session.scalar("SELECT UTC_DATE()")
            make_table(session)
            seconds = fill(session, rows, today)
            say(f"generated {rows} rows ({size_mib(session):.0f} MiB) in {seconds:.0f} s")
        if skip_migrate:
            migrate_table(server.settings(database), targets(Config())[0], method="alter")
        else:
            bench_migrate(server, database)
        bench_rotate(server, database, today)
        bench_retention(server, database)
    finally:
        drop_database(server, database)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flavour", choices=["mariadb", "mysql", "both"], default="both")
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument(
        "--skip-migrate", action="store_true", help="partition up front; only rotate and retention"
    )
    args = parser.parse_args()
    for flavour in ("mariadb", "mysql") if args.flavour == "both" else (args.flavour,):
        run(flavour, args.rows, args.skip_migrate)


if __name__ == "__main__":
    main()
