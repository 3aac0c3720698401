"""`sqlops digest --from-server` against real servers of both flavours.

Each test server is a throwaway one (performance_schema is off on the shared MariaDB, and the
shared MySQL's digest table is full of other tests' statements, which would send ours to the
overflow row), started with performance_schema on; a third, MariaDB with it off (its default),
checks the error."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest
from support.servers import ServerHandle, ServerUnavailable, start_private

from sqlops.cli import main

SCHEMA = json.loads((Path(__file__).parents[2] / "sqlops" / "querylog" / "digest.schema.json").read_text())
pytestmark = pytest.mark.db


def _start(flavour: str) -> ServerHandle:
    try:
        if flavour == "mariadb":
            return start_private("mariadb", ("--performance-schema=ON",), purpose="performance_schema")
        return start_private("mysql", purpose="performance_schema")
    except ServerUnavailable as exc:  # the fixtures' rule: no server is a failure, not a skip
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="module", params=["mariadb", "mysql"])
def ps_server(request: pytest.FixtureRequest) -> Iterator[ServerHandle]:
    handle = _start(request.param)
    try:
        yield handle
    finally:
        handle.stop()


def workload(handle: ServerHandle) -> None:
    conn = handle.admin()
    try:
        with conn.cursor() as cur:
            cur.execute("CREATE DATABASE IF NOT EXISTS shop")
            cur.execute("CREATE TABLE shop.items (id INT PRIMARY KEY, price INT, note VARCHAR(50))")
            cur.execute(
                "INSERT INTO shop.items VALUES " + ", ".join(f"({i}, {i % 7}, 'n{i}')" for i in range(200))
            )
            cur.execute("USE shop")
            for i in range(5):
                cur.execute(f"SELECT * FROM items WHERE id = {i}")
            for i in range(3):
                cur.execute(f"SELECT COUNT(*) FROM items WHERE price > {i}")  # no index on price
            with contextlib.suppress(Exception):
                cur.execute("SELECT no_such_column FROM items")
    finally:
        conn.close()


def test_from_server(ps_server: ServerHandle, capsys: pytest.CaptureFixture[str]) -> None:
    workload(ps_server)
    code = main(["--dsn", ps_server.dsn, "digest", "--from-server", "--format", "json", "--top", "1000"])
    out, err = capsys.readouterr()
    assert code == 0, err
    data = json.loads(out)
    jsonschema.validate(data, SCHEMA)
    assert data["sources"][0]["kind"] == "performance_schema"
    # Classes group case-insensitively (MariaDB's digest text says ID for id).
    by_fp = {c["fingerprint"].upper(): c for c in data["classes"]}

    lookup = by_fp["SELECT * FROM ITEMS WHERE ID = ?"]  # the server's backticks are gone
    assert lookup["count"] == 5
    assert lookup["databases"] == {"shop": 5}
    assert lookup["not_using_indexes"] is False
    assert lookup["query_time"]["total"] > 0 and lookup["query_time"]["max"] >= lookup["query_time"]["min"]
    assert lookup["rows_examined"]["total"] == 5
    assert lookup["server_digest"]

    scan = by_fp["SELECT COUNT(*) FROM ITEMS WHERE PRICE > ?"]
    assert scan["count"] == 3 and scan["not_using_indexes"] is True and scan["no_index_count"] == 3
    assert scan["rows_examined"]["total"] == 600

    failed = by_fp["SELECT NO_SUCH_COLUMN FROM ITEMS"]
    assert failed["errors"] == 1

    if "MariaDB" in ps_server.version:
        assert lookup["query_time"]["p95"] is None  # MariaDB's table has no quantile columns
        assert lookup["example"] is None
    else:
        assert lookup["query_time"]["p95"] is not None  # MySQL 8+: QUANTILE_95
        assert lookup["example"]["sql"].startswith("SELECT * FROM items WHERE id = ")


def test_text_report_from_server(ps_server: ServerHandle, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["--dsn", ps_server.dsn, "digest", "--from-server", "--top", "3", "--sort", "count"])
    out, _ = capsys.readouterr()
    assert code == 0
    assert "# Profile" in out and "Server digest:" in out


def test_performance_schema_off_is_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    try:
        handle = start_private("mariadb", purpose="performance_schema off")  # MariaDB's default
    except ServerUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        code = main(["--dsn", handle.dsn, "digest", "--from-server"])
        _, err = capsys.readouterr()
    finally:
        handle.stop()
    assert code == 1
    assert "performance_schema is off" in err and "fix:" in err
