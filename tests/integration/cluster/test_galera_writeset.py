"""Galera's writeset limits and the ingest batch: with wsrep_max_ws_rows set low on every
node, a transaction of more rows is refused (checked first, so the test proves the limit is
real), and the daemon, configured for batches of 20,000 lines, writes every line exactly once
in batches under the limit, with LOAD DATA LOCAL as everywhere (sqlops.cluster.writeset)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pymysql
import pytest
from support.topology import Topology

sys.path.insert(0, str(Path(__file__).parents[2]))
from e2e.ingest_harness import DaemonProcess, status_files, write_config

from sqlops.cli import main as sqlops_main
from sqlops.squid.protocol import encode_line, opening

pytestmark = pytest.mark.slow
MAX_ROWS = 50
LINES = 600


@pytest.fixture
def row_limit(galera: Topology) -> Iterator[int]:
    for node in galera.nodes:
        node.sql(f"SET GLOBAL wsrep_max_ws_rows = {MAX_ROWS}")
    try:
        yield MAX_ROWS
    finally:
        for node in galera.nodes:
            node.sql("SET GLOBAL wsrep_max_ws_rows = 0")


def _line(i: int) -> bytes:
    return (
        b"%d.%03d      4 192.0.2.7 TCP_MISS/200 %d GET http://ws.example/%d - HIER_DIRECT/192.0.2.9 text/html"
        % (
            1700000000 + i // 1000,
            i % 1000,
            1000 + i,
            i,
        )
    )


def test_batches_stay_under_wsrep_max_ws_rows(
    galera: Topology, galera_db: str, row_limit: int, tmp_path: Path
) -> None:
    node = galera.nodes[0]
    conn = node.handle.admin(galera_db)
    try:
        with conn.cursor() as cur:
            cur.execute("CREATE TABLE ws_probe (id INT PRIMARY KEY)")
            cur.execute("BEGIN")
            with pytest.raises(pymysql.MySQLError) as refused:  # the node refuses the statement
                cur.execute(
                    "INSERT INTO ws_probe VALUES " + ", ".join(f"({i})" for i in range(row_limit + 5))
                )
            assert refused.value.args[0] == 1180 and "wsrep_max_ws_rows" in refused.value.args[1]
    finally:
        conn.close()

    config = write_config(
        tmp_path / "proxy.toml",
        host=node.ip,
        port=3306,
        user="root",
        database=galera_db,
        spool=tmp_path / "spool",
        batch_rows=20000,
    )
    assert sqlops_main(["--config", str(config), "schema", "init"]) == 0
    daemon = DaemonProcess(str(config), log=tmp_path / "cache.log")
    daemon.send(opening(3) + b"".join(encode_line(_line(i)) for i in range(LINES)))
    code = daemon.stop(timeout=120)
    log = (tmp_path / "cache.log").read_text(errors="replace")
    assert code == 0, log[-3000:]
    assert f"batches of at most {row_limit - 1} lines instead of 20000" in log
    (status,) = status_files(tmp_path / "spool")
    assert status["mode"] == "LOAD DATA LOCAL"  # the image allows local_infile: LOAD DATA it is
    for each in galera.nodes:
        rows = each.sql("SELECT COUNT(*), COUNT(DISTINCT http_url) FROM access_log", database=galera_db)
        assert rows == [(LINES, LINES)], each.name
