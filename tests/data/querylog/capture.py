"""Capture the slow/general logs in this folder from throwaway servers (run once, as root).

    .venv/bin/python tests/data/querylog/capture.py

Starts a private MySQL 9.7 (the .ci/mysql-chroot.sh chroot) and a private MariaDB 10.11
(mariadb-install-db in a temp dir), changes their global log settings, runs a small workload
and copies the logs here:

* mysql97-slow-extra.log: long_query_time=0, log_slow_extra=ON, log_queries_not_using_indexes,
  log_slow_admin_statements; a failed statement (Errno 1054), a multi-statement, SQL
  PREPARE/EXECUTE, a multi-line statement, a string literal with slow-log header lines in it;
  then the server restarts (a start header mid-file) and runs a few more statements.
* mysql97-slow-noindex.log: long_query_time=0.5, log_queries_not_using_indexes=ON: every fast
  entry is there only because it used no index; SELECT SLEEP(0.6) is there for its time.
* mysql97-general.log: the same workload as a MySQL general log.
* mariadb1011-slow-all.log: MariaDB log_slow_verbosity=query_plan,explain,engine (Pages_*,
  Engine_time in milliseconds), long_query_time=0.

The other captures here (mariadb1011-*.log from the lab's scripted workload, mysql97-slow.log)
were copied from the team's shared captures; see README.md.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pymysql

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from support.servers import CHROOT_ROOT, start_mariadb, start_mysql_chroot  # noqa: E402

FAKE = (
    "INSERT INTO notes (body) VALUES ('pasted from a log:\n# Time: 2020-01-01T00:00:00.000000Z\n"
    "# User@Host: fake[fake] @ nowhere []  Id: 1\n# Query_time: 99.000000  Lock_time: 0.000000 "
    "Rows_sent: 0  Rows_examined: 0\nSET timestamp=1577836800;\nSELECT 99;\n')"
)


def workload(conn: pymysql.connections.Connection, rounds: int = 3) -> None:
    with conn.cursor() as cur:
        for stmt in (
            "CREATE DATABASE IF NOT EXISTS shop",
            "USE shop",
            "CREATE TABLE IF NOT EXISTS items (id INT PRIMARY KEY AUTO_INCREMENT, sku VARCHAR(20), "
            "price INT, note TEXT, KEY (sku))",
            "CREATE TABLE IF NOT EXISTS notes (id INT PRIMARY KEY AUTO_INCREMENT, body TEXT)",
        ):
            cur.execute(stmt)
        cur.execute(
            "INSERT INTO items (sku, price, note) VALUES "
            + ", ".join(f"('sku{i}', {i % 97}, 'note {i}')" for i in range(300))
        )
        for r in range(rounds):
            cur.execute(f"SELECT * FROM items WHERE id = {r + 1}")
            cur.execute(f"SELECT id FROM items WHERE sku = 'sku{r}'")
            cur.execute(f"SELECT COUNT(*) FROM items WHERE price > {r * 10}")  # no index on price
            cur.execute(
                "SELECT a1.id, b2.sku FROM items a1 JOIN items b2 ON b2.price = a1.price "
                f"WHERE a1.id < {r + 3}"
            )
            cur.execute(f"UPDATE items SET price = price + 1 WHERE id IN ({r + 1}, {r + 2}, {r + 3})")
            cur.execute(
                "SELECT sku,\n       price\nFROM items\n-- multi-line, with a comment\n"
                f"WHERE note LIKE '%{r}%'\nORDER BY price DESC\nLIMIT 5"
            )
        with contextlib.suppress(pymysql.MySQLError):
            cur.execute("SELECT no_such_column FROM items")
        cur.execute(FAKE)
        cur.execute("PREPARE ps FROM 'SELECT sku FROM items WHERE id = ?'")
        cur.execute("SET @i = 7")
        cur.execute("EXECUTE ps USING @i")
        cur.execute("DEALLOCATE PREPARE ps")
        cur.execute("SELECT 1; SELECT 2")
        while cur.nextset():
            pass


def connect(port: int) -> pymysql.connections.Connection:
    return pymysql.connect(
        host="127.0.0.1",
        port=port,
        user="root",
        autocommit=True,
        client_flag=pymysql.constants.CLIENT.MULTI_STATEMENTS,
    )


def capture_mysql() -> None:
    handle = start_mysql_chroot(name="qlogcap", fresh=False)
    datadir = CHROOT_ROOT / "var" / "lib" / "sqlops-qlogcap"
    try:
        admin = connect(handle.port)
        with admin.cursor() as cur:
            cur.execute("SET PERSIST slow_query_log_file = '/var/lib/sqlops-qlogcap/slow-extra.log'")
            cur.execute("SET PERSIST long_query_time = 0")
            cur.execute("SET PERSIST log_slow_extra = ON")
            cur.execute("SET PERSIST log_queries_not_using_indexes = ON")
            cur.execute("SET PERSIST log_slow_admin_statements = ON")
            cur.execute("SET PERSIST slow_query_log = ON")
            cur.execute("SET GLOBAL general_log_file = '/var/lib/sqlops-qlogcap/general.log'")
            cur.execute("SET GLOBAL general_log = ON")
        admin.close()
        workload(connect(handle.port))
        handle.stop()  # fresh=False: stop, keep the data directory
        handle = start_mysql_chroot(name="qlogcap", port=handle.port, fresh=False)
        conn = connect(handle.port)
        with conn.cursor() as cur:
            cur.execute("SELECT COUNT(*) FROM shop.items WHERE price > 5")
            cur.execute("SELECT * FROM shop.items WHERE id = 3")
            cur.execute("SET GLOBAL general_log = OFF")
            cur.execute("SET PERSIST slow_query_log_file = '/var/lib/sqlops-qlogcap/slow-noindex.log'")
            cur.execute("SET PERSIST long_query_time = 0.5")
            cur.execute("SET PERSIST log_slow_extra = OFF")
        conn.close()
        conn = connect(handle.port)
        with conn.cursor() as cur:
            cur.execute("USE shop")
            for r in range(3):
                cur.execute(f"SELECT * FROM items WHERE id = {r + 1}")  # indexed: not logged
                cur.execute(f"SELECT COUNT(*) FROM items WHERE price > {r}")  # scan: logged
                cur.execute(f"SELECT sku FROM items WHERE note = 'note {r}'")  # scan: logged
            cur.execute("SELECT SLEEP(0.6)")  # slow: logged for its time
        conn.close()
        time.sleep(0.5)
        shutil.copy(datadir / "slow-extra.log", HERE / "mysql97-slow-extra.log")
        shutil.copy(datadir / "slow-noindex.log", HERE / "mysql97-slow-noindex.log")
        shutil.copy(datadir / "general.log", HERE / "mysql97-general.log")
    finally:
        handle._stop = None
        subprocess.run(
            ["bash", str(HERE.parents[2] / ".ci" / "mysql-chroot.sh"), "destroy", "qlogcap"], check=False
        )


def capture_mariadb() -> None:
    handle = start_mariadb(
        extra_args=(
            "--slow-query-log=ON",
            "--long-query-time=0",
            "--log-slow-verbosity=query_plan,explain,engine",
            "--log-queries-not-using-indexes=ON",
            "--slow-query-log-file=slow-all.log",
        )
    )
    try:
        workload(connect(handle.port))
        time.sleep(0.5)
        base: Path = handle.datadir  # type: ignore[attr-defined]
        shutil.copy(base / "data" / "slow-all.log", HERE / "mariadb1011-slow-all.log")
    finally:
        handle.stop()


if __name__ == "__main__":
    capture_mysql()
    capture_mariadb()
    for name in (
        "mysql97-slow-extra.log",
        "mysql97-slow-noindex.log",
        "mysql97-general.log",
        "mariadb1011-slow-all.log",
    ):
        print(name, (HERE / name).stat().st_size, "bytes")
