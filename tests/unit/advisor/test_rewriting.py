"""Rewrite rules: each with a case that must be rewritten (expected SQL written by hand) and a
case that must not be; rewritten SQL parses back; reasons say what matters."""

from __future__ import annotations

import pytest
import sqlglot

from sqlops.advisor.model import WorkloadClass
from sqlops.advisor.rewriting import rewrite_advice
from sqlops.schema.ddl import parse_ddl_text

SCHEMA = parse_ddl_text(
    """
CREATE TABLE access_log (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT, time_since_epoch DECIMAL(15,3) NULL, time_response INT UNSIGNED NULL,
  ip_client VARCHAR(255) NULL, http_status_code VARCHAR(10) NULL, http_reply_size BIGINT UNSIGNED NULL,
  http_url MEDIUMTEXT NULL, http_username VARCHAR(255) NULL, squid_request_status VARCHAR(64) NULL,
  date_day DATE NOT NULL, PRIMARY KEY (id), KEY idx_date_day (date_day)) ENGINE=InnoDB;
CREATE TABLE access_log_daily (date_day DATE NOT NULL, http_username VARCHAR(255) NOT NULL DEFAULT '',
  ip_client VARCHAR(255) NOT NULL DEFAULT '', requests BIGINT UNSIGNED NOT NULL DEFAULT 0,
  bytes BIGINT UNSIGNED NOT NULL DEFAULT 0, denied BIGINT UNSIGNED NOT NULL DEFAULT 0,
  response_ms BIGINT UNSIGNED NOT NULL DEFAULT 0, PRIMARY KEY (date_day, http_username, ip_client));
CREATE TABLE events (id INT NOT NULL PRIMARY KEY, created DATETIME NOT NULL, stamp INT NOT NULL, kind VARCHAR(10) NOT NULL);
CREATE TABLE users (id INT NOT NULL PRIMARY KEY, username VARCHAR(64) NOT NULL, email VARCHAR(100) NULL, dept INT NULL);
CREATE TABLE banned (username VARCHAR(64) NOT NULL PRIMARY KEY, email VARCHAR(100) NULL);
CREATE VIEW v_traffic AS SELECT a.http_username AS username, CAST(FROM_UNIXTIME(a.time_since_epoch) AS DATE) AS day,
  a.http_reply_size AS bytes FROM access_log a;
"""
)


def advice(sql: str, kind: str | None = None):
    found = rewrite_advice(WorkloadClass("c", "f", sql, None, 1, 1.0, None, None, False, ("t",)), SCHEMA)
    for a in found:
        if a.rewritten:
            sqlglot.parse_one(a.rewritten, read="mysql")  # every rewrite is valid SQL
    return [a for a in found if kind is None or a.kind == kind]


def one(sql: str, kind: str):
    found = advice(sql, kind)
    assert len(found) == 1, found
    return found[0]


def test_date_of_a_datetime_column_becomes_a_range() -> None:
    a = one("SELECT id FROM events WHERE DATE(created) = '2026-10-03'", "date_function")
    assert a.rewritten == "SELECT id FROM events WHERE created >= '2026-10-03' AND created < '2026-10-04'"
    assert a.needs_index == ("created",) and a.equivalent and a.claims_speedup


def test_date_between_and_comparisons() -> None:
    a = one(
        "SELECT id FROM events WHERE DATE(created) BETWEEN '2026-10-01' AND '2026-10-07'", "date_function"
    )
    assert a.rewritten == "SELECT id FROM events WHERE created >= '2026-10-01' AND created < '2026-10-08'"
    a = one("SELECT id FROM events WHERE DATE(created) > '2026-10-03'", "date_function")
    assert a.rewritten == "SELECT id FROM events WHERE created >= '2026-10-04'"
    a = one("SELECT id FROM events WHERE '2026-10-03' >= DATE(created)", "date_function")
    assert a.rewritten == "SELECT id FROM events WHERE created < '2026-10-04'"


def test_year_becomes_a_range() -> None:
    a = one("SELECT COUNT(*) FROM access_log WHERE YEAR(date_day) = 2026", "date_function")
    assert a.rewritten == (
        "SELECT COUNT(*) FROM access_log WHERE date_day >= '2026-01-01' AND date_day < '2027-01-01'"
    )


def test_epoch_date_uses_date_day_with_the_time_zone_caveat() -> None:
    a = one(
        "SELECT COUNT(*) FROM access_log WHERE DATE(FROM_UNIXTIME(time_since_epoch)) = '2026-10-03'",
        "epoch_date",
    )
    assert a.rewritten == "SELECT COUNT(*) FROM access_log WHERE date_day = '2026-10-03'"
    assert "time zone" in a.reason and a.needs_index == ("date_day",)


def test_epoch_without_date_day_compares_unix_timestamps() -> None:
    a = one("SELECT id FROM events WHERE DATE(FROM_UNIXTIME(stamp)) = '2026-10-03'", "date_function")
    assert a.rewritten == (
        "SELECT id FROM events WHERE stamp >= UNIX_TIMESTAMP('2026-10-03') AND stamp < UNIX_TIMESTAMP('2026-10-04')"
    )


def test_view_column_is_rewritten_on_its_base_column() -> None:
    a = one("SELECT SUM(bytes) FROM v_traffic WHERE username = 'bob' AND day = '2026-10-03'", "epoch_date")
    assert "date_day = '2026-10-03'" in a.rewritten and "FROM_UNIXTIME" not in a.rewritten.split("WHERE")[1]


def test_no_date_rewrite_against_another_column() -> None:
    assert advice("SELECT id FROM events WHERE DATE(created) = DATE(stamp)", "date_function") == []


def test_implicit_conversion_quotes_the_number() -> None:
    a = one("SELECT COUNT(*) FROM access_log WHERE http_status_code IN (403, 407)", "implicit_conversion")
    assert a.rewritten == "SELECT COUNT(*) FROM access_log WHERE http_status_code IN ('403', '407')"
    assert "'0403'" in a.reason  # the honest caveat
    assert advice("SELECT COUNT(*) FROM access_log WHERE time_response = 403", "implicit_conversion") == []
    assert (
        advice("SELECT COUNT(*) FROM access_log WHERE http_status_code = '403'", "implicit_conversion") == []
    )


def test_leading_wildcard_is_advice_without_a_rewrite() -> None:
    a = one("SELECT id FROM access_log WHERE http_url LIKE '%.example.com/%'", "leading_wildcard")
    assert a.rewritten is None and not a.equivalent and "FULLTEXT" in a.reason
    assert advice("SELECT id FROM access_log WHERE http_url LIKE 'http://a/%'", "leading_wildcard") == []
    assert advice("SELECT id FROM access_log WHERE http_url NOT LIKE '%.gif'", "leading_wildcard") == []


def test_or_across_columns_becomes_an_exact_union_all() -> None:
    a = one("SELECT id FROM users WHERE username = 'bob' OR email = 'b@x' ", "or_to_union")
    assert a.rewritten == (
        "SELECT id FROM users WHERE username = 'bob' UNION ALL "
        "SELECT id FROM users WHERE email = 'b@x' AND NOT COALESCE((username = 'bob'), FALSE)"
    )
    assert set(a.needs_index) == {"username", "email"} and a.equivalent
    assert advice("SELECT id FROM users WHERE username = 'a' OR username = 'b'", "or_to_union") == []


def test_or_with_order_and_limit_is_wrapped() -> None:
    a = one(
        "SELECT id, username FROM users WHERE dept = 1 AND (username = 'x' OR email = 'y') ORDER BY id LIMIT 5",
        "or_to_union",
    )
    assert a.rewritten.startswith(
        "SELECT * FROM (SELECT id, username FROM users WHERE dept = 1 AND username = 'x'"
    )
    assert a.rewritten.endswith(") AS u ORDER BY id LIMIT 5")


def test_not_in_becomes_not_exists_and_says_when_it_is_not_equivalent() -> None:
    a = one(
        "SELECT id FROM users WHERE username NOT IN (SELECT username FROM banned)", "not_in_to_not_exists"
    )
    assert a.rewritten == (
        "SELECT id FROM users WHERE NOT EXISTS(SELECT 1 FROM banned WHERE banned.username = users.username)"
    )
    assert a.equivalent and "NOT NULL" in a.reason
    b = one("SELECT id FROM users WHERE email NOT IN (SELECT email FROM banned)", "not_in_to_not_exists")
    assert not b.equivalent and "NULL" in b.reason
    assert advice("SELECT id FROM users WHERE username NOT IN ('a', 'b')", "not_in_to_not_exists") == []


def test_order_by_rand_is_a_non_equivalent_alternative() -> None:
    a = one("SELECT id, username FROM users ORDER BY RAND() LIMIT 3", "order_by_rand")
    assert a.rewritten == (
        "SELECT id, username FROM users JOIN (SELECT FLOOR(RAND() * MAX(id)) AS r FROM users) AS pick "
        "ON users.id >= pick.r ORDER BY users.id LIMIT 3"
    )
    assert not a.equivalent and "gaps" in a.reason


def test_select_star_and_constant_on_left_claim_no_speedup() -> None:
    a = one("SELECT * FROM users WHERE username = 'bob'", "select_star")
    assert a.rewritten is None and not a.claims_speedup
    assert advice("SELECT id FROM users WHERE username = 'bob'", "select_star") == []
    c = one("SELECT id FROM events WHERE 5 < stamp", "constant_on_left")
    assert c.rewritten == "SELECT id FROM events WHERE stamp > 5" and not c.claims_speedup


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        (
            "SELECT date_day, COUNT(*) AS n, SUM(http_reply_size) AS b FROM access_log "
            "WHERE http_username = 'bob' AND date_day BETWEEN '2026-10-01' AND '2026-10-07' GROUP BY date_day",
            "SELECT date_day, COALESCE(SUM(requests), 0) AS n, SUM(bytes) AS b FROM access_log_daily "
            "WHERE http_username = 'bob' AND date_day BETWEEN '2026-10-01' AND '2026-10-07' GROUP BY date_day",
        ),
        (
            "SELECT COUNT(*) FROM access_log WHERE squid_request_status LIKE '%DENIED%' AND date_day = '2026-10-01'",
            "SELECT COALESCE(SUM(denied), 0) FROM access_log_daily WHERE date_day = '2026-10-01'",
        ),
        (
            "SELECT ip_client, AVG(time_response) FROM access_log WHERE date_day = '2026-10-01' GROUP BY ip_client",
            "SELECT ip_client, SUM(response_ms) / SUM(requests) FROM access_log_daily "
            "WHERE date_day = '2026-10-01' GROUP BY ip_client",
        ),
    ],
)
def test_rollup_answers_daily_aggregates(sql: str, expected: str) -> None:
    a = one(sql, "rollup")
    assert a.rewritten == expected
    assert "rollup refresh" in a.reason and a.table == "access_log"


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT http_url, COUNT(*) FROM access_log WHERE date_day = '2026-10-01' GROUP BY http_url",  # not kept
        "SELECT COUNT(*) FROM access_log WHERE squid_request_status LIKE 'TCP_DENIED%'",  # not the rollup's rule
        "SELECT COUNT(*) FROM access_log WHERE http_username IS NULL",  # NULL users are '' in the rollup
        "SELECT id FROM access_log WHERE date_day = '2026-10-01'",  # no aggregate
        "SELECT MAX(http_reply_size) FROM access_log WHERE date_day = '2026-10-01'",  # no max in the rollup
    ],
)
def test_rollup_not_proposed_when_it_cannot_answer_exactly(sql: str) -> None:
    assert advice(sql, "rollup") == []


def test_dml_and_unparseable_get_no_rewrite() -> None:
    assert advice("UPDATE events SET kind = 'x' WHERE DATE(created) = '2026-10-03'") == []
    assert advice("SELECT FROM WHERE") == []
