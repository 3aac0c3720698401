"""`sqlops digest --from-server --server DSN --server DSN`: one report over the
performance_schema of several servers (a MariaDB 10.11 and a MySQL 9.7 as the two "servers":
both flavours in one report), each class with what each server ran. The expected numbers are
what the test itself executed on each server.

The servers are throwaway ones with performance_schema on (the shared MariaDB has it off, and
the shared MySQL's digest table is full, so new statements would land in its overflow row);
the shared MariaDB checks the error for a server without performance_schema."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest
from support.servers import ServerHandle, ServerUnavailable, acquire, start_private

from sqlops.cli import main

SCHEMA = json.loads((Path(__file__).parents[3] / "sqlops" / "querylog" / "digest.schema.json").read_text())
pytestmark = pytest.mark.db
LOOKUPS = {"mariadb": 7, "mysql": 4}
COUNTS = {"mariadb": 2, "mysql": 5}


@pytest.fixture(scope="module")
def two_servers() -> Iterator[dict[str, ServerHandle]]:
    handles: dict[str, ServerHandle] = {}
    try:
        handles["mariadb"] = start_private(
            "mariadb", ("--performance-schema=ON",), purpose="performance_schema"
        )
        handles["mysql"] = start_private("mysql", purpose="performance_schema")
        yield handles
    except ServerUnavailable as exc:  # the fixtures' rule: no server is a failure, not a skip
        pytest.fail(str(exc), pytrace=False)
    finally:
        for handle in handles.values():
            handle.stop()


def _workload(handle: ServerHandle, lookups: int, counts: int) -> None:
    conn = handle.admin()
    try:
        with conn.cursor() as cur:
            cur.execute("CREATE DATABASE IF NOT EXISTS fleet")
            cur.execute("CREATE TABLE IF NOT EXISTS fleet.orders (id INT PRIMARY KEY, total INT)")
            cur.execute("USE fleet")
            for i in range(lookups):
                cur.execute(f"SELECT total FROM orders WHERE id = {i}")
            for i in range(counts):
                cur.execute(f"SELECT COUNT(*) FROM orders WHERE total > {i}")
    finally:
        conn.close()


def test_two_servers_one_report(
    two_servers: dict[str, ServerHandle], capsys: pytest.CaptureFixture[str]
) -> None:
    for flavour, handle in two_servers.items():
        _workload(handle, LOOKUPS[flavour], COUNTS[flavour])
    dsns = {flavour: handle.dsn for flavour, handle in two_servers.items()}
    args = [
        "digest",
        "--from-server",
        "--server",
        dsns["mariadb"],
        "--server",
        dsns["mysql"],
        "--top",
        "1000",
    ]
    assert main([*args, "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    jsonschema.validate(data, SCHEMA)
    names = [s["name"] for s in data["sources"]]
    assert len(names) == 2 and all(s["kind"] == "performance_schema" for s in data["sources"])
    by_flavour = dict(zip(["mariadb", "mysql"], names, strict=True))
    by_fp = {c["fingerprint"].upper(): c for c in data["classes"]}
    for fingerprint, expected in (
        ("SELECT TOTAL FROM ORDERS WHERE ID = ?", LOOKUPS),
        ("SELECT COUNT(*) FROM ORDERS WHERE TOTAL > ?", COUNTS),
    ):
        cls = by_fp[fingerprint]
        assert cls["count"] == sum(expected.values())
        shares = {s["name"]: s for s in cls["servers"]}
        assert {name: shares[name]["count"] for name in names} == {
            by_flavour[f]: n for f, n in expected.items()
        }
        assert sum(s["query_time"] for s in cls["servers"]) == pytest.approx(
            cls["query_time"]["total"], abs=1e-5
        )
    assert [s["name"] for s in data["servers"]] == names
    assert [s["count"] for s in data["servers"]] == [s["entries"] for s in data["sources"]]

    assert main(args) == 0
    text = capsys.readouterr().out
    assert f"# {by_flavour['mariadb']} " in text and f"# {by_flavour['mysql']} " in text


def _shared(flavour: str) -> ServerHandle:
    try:
        return acquire(flavour)
    except ServerUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)


def test_server_without_performance_schema_is_named(capsys: pytest.CaptureFixture[str]) -> None:
    mysql, mariadb = _shared("mysql"), _shared("mariadb")  # the shared MariaDB: performance_schema off
    code = main(["digest", "--from-server", "--server", mysql.dsn, "--server", mariadb.dsn])
    err = capsys.readouterr().err
    assert code != 0
    assert f"performance_schema is off on {mariadb.user}@{mariadb.host}:{mariadb.port}" in err
    assert "performance_schema=ON" in err


def test_same_server_twice_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    shared = _shared("mariadb").dsn
    code = main(["digest", "--from-server", "--server", shared, "--server", shared])
    err = capsys.readouterr().err
    assert code != 0 and "more than once" in err and "counted twice" in err
