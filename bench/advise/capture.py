"""Capture the bundled `sqlops advise` example: a real slow log of the Squid report workload.

For each flavour a *private throwaway* server is started (MariaDB 10.11 from
`mariadb-install-db`, MySQL 9.7 from the `.ci/mysql-chroot.sh` chroot: tests/support/servers.py),
so the shared servers' globals are never touched. On it:

1. `bench.advise.workload.load` builds the database `squid_reports` (default 200,000 rows);
2. the slow log is switched on for new sessions: `slow_query_log_file=<fresh file>`,
   `long_query_time=0`, `log_queries_not_using_indexes=1`, `slow_query_log=1` (nothing else is
   changed: MariaDB's default log_slow_verbosity, MySQL's default log_slow_extra=OFF);
3. one new connection (like a PHP page: `SET time_zone = '+00:00'`, then its queries) runs
   `--statements` statements drawn by weight from `bench.advise.queries.SHAPES` (seeded),
   reading every result;
4. the log is switched off and copied to tests/data/advisor/squid-reports-<flavour>-slow.log.

The schema as the (first) server shows it goes to tests/data/advisor/squid-reports-schema.sql
(`SHOW CREATE TABLE` / `SHOW CREATE VIEW`, DEFINER and AUTO_INCREMENT=N removed).

    .venv/bin/python -m bench.advise.capture --flavour both       # ~5 minutes

With --dsn URL it uses that server instead (its globals are restored afterwards).
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
for p in (REPO, REPO / "tests"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

from support.servers import CHROOT_ROOT, ServerHandle, from_dsn, start_mariadb, start_mysql_chroot  # noqa: E402

from bench.advise import queries, workload  # noqa: E402

OUT = REPO / "tests" / "data" / "advisor"
DATABASE = "squid_reports"
LOG_NAMES = {"mariadb": "squid-reports-mariadb1011-slow.log", "mysql": "squid-reports-mysql97-slow.log"}
SCHEMA_NAME = "squid-reports-schema.sql"
CAPTURE_GLOBALS = ("slow_query_log", "slow_query_log_file", "long_query_time", "log_queries_not_using_indexes")


def say(text: str) -> None:
    print(text, flush=True)


def server_for(flavour: str, dsn: str | None) -> ServerHandle:
    if dsn:
        return from_dsn(dsn, "--dsn")
    return start_mariadb() if flavour == "mariadb" else start_mysql_chroot(name="advisecap")


def log_paths(server: ServerHandle, flavour: str) -> tuple[str, Path]:
    """(path the server writes to, the same file seen from here)."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d%H%M%S")
    if getattr(server, "datadir", None) is not None:  # private mariadbd
        path = Path(server.datadir) / f"capture-{stamp}-slow.log"  # type: ignore[attr-defined]
        return str(path), path
    if getattr(server, "chroot_name", None):  # private chroot mysqld
        inside = f"/var/lib/sqlops-{server.chroot_name}/capture-{stamp}-slow.log"  # type: ignore[attr-defined]
        return inside, CHROOT_ROOT / inside.lstrip("/")
    raise SystemExit("with --dsn the slow log must be readable here: use a local server and --log-path")


def capture(flavour: str, *, rows: int, statements: int, seed: int, dsn: str | None, log_path: str | None,
            schema: bool) -> None:
    server = server_for(flavour, dsn)
    try:
        say(f"{flavour}: {server.version} ({server.source})")
        url = workload.with_database(server.dsn, DATABASE)
        loaded = workload.load(url, rows, seed=seed, say=lambda s: say("  " + s))
        if log_path:
            inside, here = log_path, Path(log_path)
        else:
            inside, here = log_paths(server, flavour)
        admin = workload.connect(server.dsn, database="")
        saved = {name: workload.q(admin, f"SELECT @@GLOBAL.{name}")[0][0] for name in CAPTURE_GLOBALS}
        drawn = queries.draw_statements(workload.Model.build(seed), statements, seed)
        started = time.monotonic()
        try:
            workload.q(admin, "SET GLOBAL slow_query_log_file = %s", (inside,))
            workload.q(admin, "SET GLOBAL long_query_time = 0")
            workload.q(admin, "SET GLOBAL log_queries_not_using_indexes = 1")
            workload.q(admin, "SET GLOBAL slow_query_log = 1")
            app = workload.connect(server.dsn, database=DATABASE)
            try:
                workload.q(app, "SET time_zone = '+00:00'")
                with app.cursor() as cur:
                    for _shape, sql in drawn:
                        cur.execute(sql)
                        cur.fetchall()
            finally:
                app.close()
        finally:
            workload.q(admin, "SET GLOBAL slow_query_log = 0")
            for name in ("long_query_time", "log_queries_not_using_indexes", "slow_query_log_file"):
                workload.q(admin, f"SET GLOBAL {name} = %s", (saved[name],))
            workload.q(admin, "SET GLOBAL slow_query_log = %s", (saved["slow_query_log"],))
        seconds = time.monotonic() - started
        target = OUT / LOG_NAMES[flavour]
        OUT.mkdir(parents=True, exist_ok=True)
        target.write_bytes(here.read_bytes())
        size = target.stat().st_size
        say(f"  ran {statements} statements in {seconds:.1f} s -> {target.relative_to(REPO)} ({size / 1e6:.2f} MB)")
        if size > 2_000_000:
            say("  WARNING: the log is over 2 MB; capture fewer --statements")
        if schema:
            conn = workload.connect(server.dsn, database=DATABASE)
            try:
                text = schema_ddl(conn, server.version, loaded.rows)
            finally:
                conn.close()
            (OUT / SCHEMA_NAME).write_text(text)
            say(f"  schema -> {(OUT / SCHEMA_NAME).relative_to(REPO)}")
        admin.close()
    finally:
        if not dsn:
            server.stop()


_DEFINER = re.compile(r"\s+DEFINER=`[^`]*`@`[^`]*`")
_AUTO_INC = re.compile(r"\s+AUTO_INCREMENT=\d+")


def schema_ddl(conn, version: str, rows: int) -> str:  # type: ignore[no-untyped-def]
    tables = [
        (name, kind)
        for name, kind in workload.q(conn, "SHOW FULL TABLES")
        if not str(name).startswith("sqlops_")
    ]
    out = [
        f"-- The Squid reporting schema of bench/advise (database {DATABASE}), as {version} shows it:",
        "-- SHOW CREATE TABLE for every table and SHOW CREATE VIEW for every view, DEFINER clauses",
        "-- and AUTO_INCREMENT=N table options removed. Captured by",
        "--   .venv/bin/python -m bench.advise.capture --flavour both",
        f"-- on a private server after `bench.advise.workload.load` ({rows} rows; see README.md here).",
        "",
    ]
    for name, kind in sorted(tables, key=lambda t: (t[1] == "VIEW", t[0])):
        if kind == "VIEW":
            ddl = workload.q(conn, f"SHOW CREATE VIEW `{name}`")[0][1]
            ddl = _DEFINER.sub("", ddl)
        else:
            ddl = workload.q(conn, f"SHOW CREATE TABLE `{name}`")[0][1]
            ddl = _AUTO_INC.sub("", ddl)
        out.append(ddl.rstrip(";") + ";")
        out.append("")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--flavour", choices=("mariadb", "mysql", "both"), default="both")
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--statements", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=workload.DEFAULT_SEED)
    ap.add_argument("--dsn", help="use this server (local; its globals are restored) instead of a private one")
    ap.add_argument("--log-path", help="with --dsn: slow log path as the server sees it (and readable here)")
    args = ap.parse_args(argv)
    flavours = ("mariadb", "mysql") if args.flavour == "both" else (args.flavour,)
    for i, flavour in enumerate(flavours):
        capture(flavour, rows=args.rows, statements=args.statements, seed=args.seed, dsn=args.dsn,
                log_path=args.log_path, schema=i == 0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
