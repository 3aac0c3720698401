"""`sqlops advise --from-server`: the workload from performance_schema digests and the unused
indexes it has seen, on throwaway servers with performance_schema on (both flavours)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from support.servers import ServerHandle, ServerUnavailable, start_private

from sqlops.cli import main

pytestmark = pytest.mark.db


@pytest.fixture(scope="module", params=["mariadb", "mysql"])
def ps_server(request: pytest.FixtureRequest) -> Iterator[ServerHandle]:
    try:
        if request.param == "mariadb":
            handle = start_private("mariadb", ("--performance-schema=ON",), purpose="performance_schema")
        else:
            handle = start_private("mysql", purpose="performance_schema")
    except ServerUnavailable as exc:  # no server is a failure, not a skip
        pytest.fail(str(exc), pytrace=False)
    try:
        yield handle
    finally:
        handle.stop()


def test_advice_from_performance_schema(ps_server: ServerHandle, capsys: pytest.CaptureFixture[str]) -> None:
    conn = ps_server.admin()
    try:
        with conn.cursor() as cur:
            cur.execute("CREATE DATABASE adv")
            cur.execute(
                "CREATE TABLE adv.orders (id INT PRIMARY KEY, customer INT, status VARCHAR(10), note VARCHAR(40), "
                "KEY k_note (note), KEY k_status (status), KEY k_status2 (status))"
            )
            for start in range(0, 20000, 2000):
                rows = ", ".join(f"({i}, {i % 997}, 's{i % 5}', 'n{i}')" for i in range(start, start + 2000))
                cur.execute(f"INSERT INTO adv.orders VALUES {rows}")
            cur.execute("ANALYZE TABLE adv.orders")
            cur.execute("USE adv")
            for i in range(20):
                cur.execute(f"SELECT id, status FROM orders WHERE customer = {i}")  # no index on customer
            cur.execute("SELECT COUNT(*) FROM orders WHERE status = 's1'")  # reads k_status
    finally:
        conn.close()
    code = main(["--dsn", ps_server.dsn + "adv", "advise", "--from-server", "--format", "json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    data = json.loads(out)
    assert any(c["origins"] == ["performance_schema"] for c in data["classes"])
    assert [a["columns"][0] for a in data["indexes"] if a["table"] == "orders"][:1] == ["customer"]
    drops = {(d["index"], d["kind"]) for d in data["drops"]}
    assert ("k_status2", "duplicate") in drops or ("k_status", "duplicate") in drops
    assert ("k_note", "unused") in drops  # never read since the server started
    word = "IGNORED" if ps_server.flavour == "mariadb" else "INVISIBLE"
    assert all(d["hide_ddl"].endswith(word) for d in data["drops"])
