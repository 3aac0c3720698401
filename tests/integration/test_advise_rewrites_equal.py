"""Each equivalent rewrite returns the same rows as the original, on both server flavours."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest

from sqlops.advisor.model import WorkloadClass
from sqlops.advisor.rewrites import rewrite_advice
from sqlops.rollup.daily import merge_sql
from sqlops.schema.ddl import parse_ddl_text, split_ddl

SCHEMA_FILE = Path(__file__).resolve().parents[1] / "data" / "advisor" / "rewrites" / "schema.sql"

CASES = [
    "SELECT id FROM users WHERE DATE(created) = '2026-10-03'",
    "SELECT id FROM users WHERE DATE(created) BETWEEN '2026-10-01' AND '2026-10-05'",
    "SELECT id FROM users WHERE YEAR(born) = 1990 AND MONTH(born) = 6",
    "SELECT id FROM users WHERE zip IN (10, 12)",
    "SELECT id FROM users WHERE age > 30 AND (zip = '11' OR name = 'n7')",
    "SELECT * FROM users WHERE zip = '13' OR age = 20 ORDER BY id DESC LIMIT 10",
    "SELECT name FROM users WHERE id NOT IN (SELECT user_id FROM banned)",
    "SELECT id FROM users WHERE 40 < age",
    "SELECT COUNT(*) FROM access_log WHERE DATE(FROM_UNIXTIME(time_since_epoch)) = '2026-10-03'",
    "SELECT http_username, COUNT(*) AS n, SUM(http_reply_size) AS b FROM access_log "
    "WHERE date_day BETWEEN '2026-10-01' AND '2026-10-03' GROUP BY http_username",
    "SELECT COUNT(*) AS n FROM access_log WHERE squid_request_status LIKE '%DENIED%' AND date_day >= '2026-10-02'",
    "SELECT day, COUNT(DISTINCT ip_client) AS c FROM v_user_traffic GROUP BY day",
]


def _norm(rows: list[tuple]) -> Counter[tuple]:
    def v(x: object) -> object:
        if isinstance(x, Decimal) and x == x.to_integral_value():
            return int(x)
        return x

    return Counter(tuple(v(x) for x in r) for r in rows)


@pytest.fixture
def loaded(db):  # type: ignore[no-untyped-def]
    for stmt in split_ddl(SCHEMA_FILE.read_text()):
        db.sql(stmt.sql)
    db.sql(
        "INSERT INTO users (id, name, zip, age, created, born) "
        "WITH RECURSIVE r (j) AS (SELECT 1 UNION ALL SELECT j + 1 FROM r WHERE j < 1000), "
        "n (i) AS (SELECT j + 1000 * k FROM r JOIN (SELECT 0 AS k UNION ALL SELECT 1) AS ks) "
        "SELECT i, CONCAT('n', i % 50), IF(i % 7 = 0, NULL, CAST(10 + i % 5 AS CHAR)), "
        "IF(i % 11 = 0, NULL, i % 60), IF(i % 13 = 0, NULL, '2026-09-28' + INTERVAL (i * 37) MINUTE), "
        "IF(i % 17 = 0, NULL, '1989-12-01' + INTERVAL (i % 400) DAY) FROM n"
    )
    db.sql(
        "INSERT INTO banned (user_id, name) SELECT id, IF(id % 3 = 0, NULL, name) FROM users WHERE id % 10 = 0"
    )
    db.sql(
        "INSERT INTO access_log (time_since_epoch, time_response, ip_client, http_status_code, http_reply_size, "
        "http_username, squid_request_status, date_day) "
        "WITH RECURSIVE r (j) AS (SELECT 1 UNION ALL SELECT j + 1 FROM r WHERE j < 1000), "
        "n (i) AS (SELECT j + 1000 * k FROM r JOIN (SELECT 0 AS k UNION ALL SELECT 1 UNION ALL SELECT 2) AS ks) "
        "SELECT UNIX_TIMESTAMP('2026-10-01') + i * 97.125, IF(i % 9 = 0, NULL, i % 500), "
        "IF(i % 8 = 0, NULL, CONCAT('10.0.0.', i % 20)), IF(i % 4 = 0, '403', '200'), "
        "IF(i % 10 = 0, NULL, i * 3), IF(i % 5 = 0, NULL, CONCAT('u', i % 7)), "
        "ELT(1 + i % 4, 'TCP_MISS', 'TCP_HIT', 'TCP_DENIED', 'UDP_DENIED'), "
        "DATE(FROM_UNIXTIME(UNIX_TIMESTAMP('2026-10-01') + i * 97.125)) FROM n"
    )
    db.sql(merge_sql("access_log", "access_log_daily", "1 = 1"))
    return db


def test_equivalent_rewrites_return_the_same_rows(loaded) -> None:  # type: ignore[no-untyped-def]
    schema = parse_ddl_text(SCHEMA_FILE.read_text())
    checked = 0
    for sql in CASES:
        cls = WorkloadClass("c", "f", sql, None, 1, 0.0, None, None, False, ())
        advice = [a for a in rewrite_advice(cls, schema) if a.rewritten and a.equivalent]
        assert advice, sql
        before = _norm(loaded.sql(sql))
        assert before, f"the case returns no rows, so it proves nothing: {sql}"
        for a in advice:
            assert _norm(loaded.sql(a.rewritten)) == before, (a.kind, sql, a.rewritten)
            checked += 1
    assert checked >= len(CASES)
