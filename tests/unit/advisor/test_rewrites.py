"""Golden cases of the rewrite rules (sqlops.advisor.rewrites): one positive and one negative per rule."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlglot

from sqlops.advisor.model import RewriteAdvice, WorkloadClass
from sqlops.advisor.rewrites import rewrite_advice
from sqlops.schema.ddl import parse_ddl_text

DATA = Path(__file__).resolve().parents[2] / "data" / "advisor" / "rewrites"
SCHEMA = parse_ddl_text((DATA / "schema.sql").read_text(), "schema.sql")


def advise(sql: str) -> list[RewriteAdvice]:
    out = rewrite_advice(
        WorkloadClass("c1", "fp", sql, None, 1, 0.0, None, None, False, ("slow log",)), SCHEMA
    )
    for a in out:
        assert a.class_id == "c1" and a.original == sql
        if a.rewritten is not None:
            sqlglot.parse_one(a.rewritten, read="mysql")  # parses back
    return out


def one(sql: str, kind: str) -> RewriteAdvice:
    got = [a for a in advise(sql) if a.kind == kind]
    assert len(got) == 1, advise(sql)
    return got[0]


def kinds(sql: str) -> set[str]:
    return {a.kind for a in advise(sql)}


# rule 1: functions on date columns


def test_date_on_datetime_becomes_range() -> None:
    a = one("SELECT id FROM users WHERE DATE(created) = '2026-10-03'", "date_function")
    assert a.rewritten == "SELECT id FROM users WHERE created >= '2026-10-03' AND created < '2026-10-04'"
    assert a.table == "users" and a.needs_index == ("created",) and a.equivalent and a.claims_speedup
    assert "index" in a.reason


def test_date_forms() -> None:
    a = one("SELECT id FROM users WHERE DATE(created) BETWEEN '2026-10-01' AND '2026-10-31'", "date_function")
    assert a.rewritten == "SELECT id FROM users WHERE created >= '2026-10-01' AND created < '2026-11-01'"
    a = one("SELECT id FROM users WHERE DATE(created) > '2026-12-31'", "date_function")
    assert a.rewritten == "SELECT id FROM users WHERE created >= '2027-01-01'"
    a = one("SELECT id FROM users WHERE YEAR(created) = 2026", "date_function")
    assert a.rewritten == "SELECT id FROM users WHERE created >= '2026-01-01' AND created < '2027-01-01'"
    a = one("SELECT id FROM users WHERE YEAR(born) = 2026 AND MONTH(born) = 12", "date_function")
    assert a.rewritten == "SELECT id FROM users WHERE born >= '2026-12-01' AND born < '2027-01-01'"
    a = one("SELECT id FROM users WHERE DATE(created) = ?", "date_function")
    assert a.rewritten == "SELECT id FROM users WHERE created >= ? AND created < ? + INTERVAL 1 DAY"
    assert "twice" in a.reason


def test_epoch_date_uses_date_day_with_time_zone_caveat() -> None:
    a = one(
        "SELECT COUNT(*) FROM access_log WHERE DATE(FROM_UNIXTIME(time_since_epoch)) = '2026-10-03' "
        "AND http_username = 'bob'",
        "epoch_date",
    )
    assert (
        a.rewritten
        == "SELECT COUNT(*) FROM access_log WHERE date_day = '2026-10-03' AND http_username = 'bob'"
    )
    assert a.needs_index == ("date_day",)
    assert "session time zone" in a.reason and "database.time_zone" in a.reason


def test_epoch_without_date_day_uses_unix_timestamp() -> None:
    schema = parse_ddl_text("CREATE TABLE log (id INT PRIMARY KEY, ts DECIMAL(15,3) NULL, KEY (ts))")
    cls = WorkloadClass(
        "c",
        "f",
        "SELECT id FROM log WHERE DATE(FROM_UNIXTIME(ts)) = '2026-10-03'",
        None,
        1,
        0.0,
        None,
        None,
        False,
        (),
    )
    (a,) = rewrite_advice(cls, schema)
    assert a.kind == "date_function"
    assert a.rewritten == (
        "SELECT id FROM log WHERE ts >= UNIX_TIMESTAMP('2026-10-03') AND ts < UNIX_TIMESTAMP('2026-10-04')"
    )
    assert a.needs_index == ("ts",)


def test_view_is_expanded_to_base_columns() -> None:
    a = one("SELECT http_username FROM v_user_traffic WHERE day = '2026-10-03'", "epoch_date")
    assert a.rewritten == "SELECT http_username FROM access_log WHERE date_day = '2026-10-03'"
    assert a.table == "access_log"


def test_date_function_negative() -> None:
    assert "date_function" not in kinds("SELECT id FROM users WHERE DATE(created) = DATE(born)")
    assert "date_function" not in kinds("SELECT id FROM users WHERE DATE(name) = '2026-10-03'")  # a string
    assert "date_function" not in kinds("SELECT id FROM users WHERE created >= '2026-10-03'")


# rule 2: implicit conversion


def test_string_column_compared_with_number() -> None:
    a = one("SELECT id FROM access_log WHERE http_status_code IN (403, 407)", "implicit_conversion")
    assert a.rewritten == "SELECT id FROM access_log WHERE http_status_code IN ('403', '407')"
    assert a.needs_index == ("http_status_code",) and a.equivalent
    assert "converts every row" in a.reason and "'0403'" in a.reason
    a = one("SELECT id FROM users WHERE zip = 12345", "implicit_conversion")
    assert a.rewritten == "SELECT id FROM users WHERE zip = '12345'"


def test_conversion_negative() -> None:
    assert "implicit_conversion" not in kinds("SELECT id FROM users WHERE age = 30")
    assert "implicit_conversion" not in kinds("SELECT id FROM users WHERE age = '30'")
    assert "implicit_conversion" not in kinds("SELECT id FROM users WHERE zip = '12345'")


# rule 3: leading wildcard


def test_leading_wildcard() -> None:
    a = one("SELECT id FROM access_log WHERE http_url LIKE '%example.com%'", "leading_wildcard")
    assert a.rewritten is None and not a.equivalent and a.table == "access_log"
    assert "FULLTEXT" in a.reason and "generated column" in a.reason and "B-tree" in a.reason


def test_leading_wildcard_negative() -> None:
    assert "leading_wildcard" not in kinds("SELECT id FROM access_log WHERE http_url LIKE 'http://x%'")


# rule 4: OR across columns


def test_or_across_columns_to_union_all() -> None:
    a = one("SELECT id FROM users WHERE age > 30 AND (name = 'a' OR zip = '1')", "or_to_union")
    assert a.rewritten == (
        "SELECT id FROM users WHERE age > 30 AND name = 'a' UNION ALL "
        "SELECT id FROM users WHERE age > 30 AND zip = '1' AND name <> 'a'"
    )
    assert a.needs_index == ("name", "zip") and a.equivalent
    assert "index_merge" in a.reason and "measured" in a.reason


def test_or_keeps_order_and_limit() -> None:
    a = one("SELECT * FROM users WHERE zip = '1' OR age = 3 ORDER BY id DESC LIMIT 10", "or_to_union")
    assert a.rewritten == (
        "SELECT * FROM (SELECT * FROM users WHERE zip = '1' UNION ALL "
        "SELECT * FROM users WHERE age = 3 AND (zip <> '1' OR zip IS NULL)) AS u ORDER BY id DESC LIMIT 10"
    )
    assert "ORDER BY/LIMIT" in a.reason


def test_or_same_column_negative() -> None:
    assert "or_to_union" not in kinds("SELECT id FROM users WHERE zip = '1' OR zip = '2'")


# rule 5: NOT IN subquery


def test_not_in_not_null_columns_is_equivalent() -> None:
    a = one("SELECT name FROM users WHERE id NOT IN (SELECT user_id FROM banned)", "not_in_to_not_exists")
    assert a.rewritten == (
        "SELECT name FROM users WHERE NOT EXISTS(SELECT 1 FROM banned WHERE user_id = users.id)"
    )
    assert a.equivalent and a.needs_index == ("user_id",)


def test_not_in_nullable_is_not_equivalent() -> None:
    a = one("SELECT id FROM users WHERE name NOT IN (SELECT name FROM banned)", "not_in_to_not_exists")
    assert not a.equivalent and "NULL" in a.reason and "banned.name" in a.reason


def test_not_in_literal_list_negative() -> None:
    assert "not_in_to_not_exists" not in kinds("SELECT id FROM users WHERE id NOT IN (1, 2, 3)")


# rule 6: ORDER BY RAND()


def test_order_by_rand() -> None:
    a = one("SELECT * FROM users ORDER BY RAND() LIMIT 5", "order_by_rand")
    assert a.rewritten == (
        "SELECT users.* FROM users CROSS JOIN (SELECT FLOOR(RAND() * MAX(id)) AS rand_id FROM users) AS r "
        "WHERE users.id >= r.rand_id ORDER BY users.id LIMIT 5"
    )
    assert not a.equivalent and "gaps" in a.reason and "uniform" in a.reason


def test_order_by_rand_negative() -> None:
    assert "order_by_rand" not in kinds("SELECT * FROM users ORDER BY RAND()")  # no LIMIT
    assert "order_by_rand" not in kinds("SELECT * FROM nowhere ORDER BY RAND() LIMIT 1")  # no known PK


# rule 7: SELECT *


def test_select_star() -> None:
    a = one("SELECT * FROM users WHERE zip = '1'", "select_star")
    assert a.rewritten is None and not a.claims_speedup and a.needs_index == ("zip",)
    assert "cover" in a.reason


def test_select_star_negative() -> None:
    assert "select_star" not in kinds("SELECT id, name FROM users WHERE zip = '1'")
    assert "select_star" not in kinds("SELECT * FROM users")


# rule 8: constant on the left


def test_constant_on_left() -> None:
    a = one("SELECT id FROM users WHERE 5 < age", "constant_on_left")
    assert a.rewritten == "SELECT id FROM users WHERE age > 5"
    assert not a.claims_speedup and a.table == "users" and "readability" in a.reason


def test_constant_on_left_negative() -> None:
    assert "constant_on_left" not in kinds("SELECT id FROM users WHERE age > 5")


# rule 9: rollup


def test_rollup_sum_per_day_through_view() -> None:
    a = one(
        "SELECT day, SUM(http_reply_size) AS bytes FROM v_user_traffic "
        "WHERE day BETWEEN '2026-10-01' AND '2026-10-31' GROUP BY day",
        "rollup",
    )
    assert a.rewritten == (
        "SELECT date_day AS day, SUM(bytes) AS bytes FROM access_log_daily "
        "WHERE date_day BETWEEN '2026-10-01' AND '2026-10-31' GROUP BY date_day"
    )
    assert a.table == "access_log" and a.equivalent
    assert "sqlops rollup refresh" in a.reason and "hour" in a.reason and "time zone" in a.reason


def test_rollup_denied_counter() -> None:
    a = one(
        "SELECT COUNT(*) AS n FROM access_log WHERE squid_request_status LIKE '%DENIED%' AND date_day >= '2026-10-01'",
        "rollup",
    )
    assert (
        a.rewritten
        == "SELECT COALESCE(SUM(denied), 0) AS n FROM access_log_daily WHERE date_day >= '2026-10-01'"
    )


def test_rollup_user_null_and_avg() -> None:
    a = one(
        "SELECT http_username, COUNT(*) AS n, AVG(time_response) AS ms FROM access_log "
        "WHERE date_day = '2026-10-03' GROUP BY http_username",
        "rollup",
    )
    assert a.rewritten == (
        "SELECT NULLIF(http_username, '') AS http_username, SUM(requests) AS n, SUM(response_ms) / SUM(requests) "
        "AS ms FROM access_log_daily WHERE date_day = '2026-10-03' GROUP BY http_username"
    )
    assert not a.equivalent and "''" in a.reason  # time_response is nullable: AVG is not exact


def test_rollup_negative() -> None:
    assert "rollup" not in kinds(
        "SELECT http_url, COUNT(*) FROM access_log WHERE date_day = '2026-10-03' GROUP BY http_url"
    )
    assert "rollup" not in kinds(  # TCP_DENIED% is not the rollup's rule (INSTR 'DENIED')
        "SELECT COUNT(*) FROM access_log WHERE squid_request_status LIKE 'TCP_DENIED%'"
    )
    assert "rollup" not in kinds("SELECT COUNT(*) FROM access_log WHERE http_method = 'GET'")


@pytest.mark.parametrize(
    "sql", ["SELEC nonsense FROM", "INSERT INTO users (name) VALUES ('x')", "SET @a = 1"]
)
def test_unparsable_or_irrelevant_gives_nothing(sql: str) -> None:
    assert advise(sql) == []


def test_unknown_table_only_typeless_rules() -> None:
    got = kinds("SELECT id FROM nowhere WHERE code = 403 AND url LIKE '%x' AND DATE(ts) = '2026-10-03'")
    assert got == {"leading_wildcard"}


def test_views_as_the_server_prints_them() -> None:
    """SHOW CREATE VIEW output (nested join parentheses, cast(... as date), count(0)) from the
    bundled capture: the date rule sees through v_user_traffic, the rollup rule rewrites the
    body of the aggregating v_daily_traffic."""
    from pathlib import Path

    from sqlops.schema.ddl import load_schema_files

    bundled = load_schema_files([Path(__file__).parents[2] / "data" / "advisor" / "squid-reports-schema.sql"])

    def found(sql: str) -> dict[str, str | None]:
        cls = WorkloadClass("c", "f", sql, None, 1, 1.0, None, None, False, ("t",))
        return {a.kind: a.rewritten for a in rewrite_advice(cls, bundled)}

    by_day = found("SELECT COUNT(*) FROM v_user_traffic WHERE username = 'bob' AND day = '2026-10-03'")
    assert "date_day = '2026-10-03'" in (by_day["epoch_date"] or "")
    daily = found(
        "SELECT date_day, requests FROM v_daily_traffic WHERE date_day >= '2026-11-01' ORDER BY date_day"
    )
    assert "FROM access_log_daily GROUP BY date_day) AS v_daily_traffic" in (daily["rollup"] or "")
    assert "SUM(requests) AS requests" in (daily["rollup"] or "")
