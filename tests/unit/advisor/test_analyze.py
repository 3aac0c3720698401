"""Per-class analysis: what each statement asks of each base table (hand-checked cases)."""

from __future__ import annotations

import pytest

from sqlops.advisor.analyze import analyse_class
from sqlops.advisor.model import WorkloadClass
from sqlops.schema.ddl import parse_ddl_text

SCHEMA = parse_ddl_text(
    """
CREATE TABLE access_log (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT, time_since_epoch DECIMAL(15,3) NULL,
  ip_client VARCHAR(255) NULL, http_status_code VARCHAR(10) NULL, http_reply_size BIGINT UNSIGNED NULL,
  http_url MEDIUMTEXT NULL, http_username VARCHAR(255) NULL, squid_request_status VARCHAR(64) NULL,
  date_day DATE NOT NULL, PRIMARY KEY (id), KEY idx_date_day (date_day)) ENGINE=InnoDB;
CREATE TABLE users (id INT PRIMARY KEY, username VARCHAR(64), email VARCHAR(128), department_id INT);
CREATE TABLE departments (id INT PRIMARY KEY, name VARCHAR(64));
CREATE VIEW v_user_traffic AS select `a`.`http_username` AS `username`,
  cast(from_unixtime(`a`.`time_since_epoch`) as date) AS `day`, `a`.`http_reply_size` AS `bytes`,
  `d`.`name` AS `department`
  from ((`access_log` `a` left join `users` `u` on(`u`.`username` = `a`.`http_username`))
  left join `departments` `d` on(`d`.`id` = `u`.`department_id`));
"""
)


def analyse(sql: str):
    return analyse_class(WorkloadClass("c1", "fp", sql, None, 1, 0.0, None, None, False, ("test",)), SCHEMA)


def access(result, table: str):
    (found,) = [a for a in result.accesses if a.table == table]
    return found


def kinds(result) -> set[str]:
    return {f.kind for f in result.findings}


def test_equality_range_join_group_order_limit() -> None:
    r = analyse(
        "SELECT u.username, SUM(a.http_reply_size) FROM access_log a JOIN users u ON u.username = a.http_username "
        "WHERE a.date_day BETWEEN '2026-10-01' AND '2026-10-07' AND u.department_id = 3 "
        "GROUP BY u.username ORDER BY 2 DESC LIMIT 10"
    )
    log, users = access(r, "access_log"), access(r, "users")
    assert (log.equality, log.ranges, log.joins) == ((), ("date_day",), ("http_username",))
    assert (users.equality, users.joins, users.group_by) == (("department_id",), ("username",), ("username",))
    assert log.limit == 10 and log.scope_tables == 2
    assert r.error is None and r.statement_kind == "select"


def test_in_is_null_nullsafe_and_or_on_one_column_are_equalities() -> None:
    r = analyse(
        "SELECT id FROM access_log WHERE ip_client IN ('10.0.0.1', '10.0.0.2') AND http_username IS NULL "
        "AND squid_request_status <=> 'TCP_MISS' AND (date_day = '2026-10-01' OR date_day = '2026-10-02')"
    )
    a = access(r, "access_log")
    assert set(a.equality) == {"ip_client", "http_username", "squid_request_status", "date_day"}
    assert not a.other_filters


def test_order_by_directions_and_like_prefix() -> None:
    r = analyse(
        "SELECT http_url FROM access_log WHERE http_url LIKE 'http://example.com/%' "
        "ORDER BY time_since_epoch DESC, id DESC LIMIT 20"
    )
    a = access(r, "access_log")
    assert a.ranges == ("http_url",) and a.like_prefixes == (("http_url", 19),)
    assert a.order_by == (("time_since_epoch", True), ("id", True))


def test_view_is_expanded_to_base_columns() -> None:
    r = analyse("SELECT * FROM v_user_traffic WHERE username = 'bob' AND day = '2026-10-03'")
    a = access(r, "access_log")
    assert a.equality == ("http_username",)
    assert a.other_filters  # the day is a function of time_since_epoch
    assert "function_on_column" in kinds(r)
    assert {x.table for x in r.accesses} == {"access_log", "users", "departments"}


@pytest.mark.parametrize(
    ("sql", "kind", "table"),
    [
        ("SELECT COUNT(*) FROM access_log WHERE http_status_code = 403", "implicit_conversion", "access_log"),
        ("SELECT id FROM access_log WHERE http_url LIKE '%.gif'", "leading_wildcard", "access_log"),
        (
            "SELECT id FROM access_log WHERE ip_client = '1' OR http_username = 'x'",
            "or_across_columns",
            "access_log",
        ),
        (
            "SELECT id FROM users WHERE username NOT IN (SELECT http_username FROM access_log)",
            "not_in_subquery",
            "users",
        ),
        ("SELECT id FROM users ORDER BY RAND() LIMIT 1", "order_by_rand", "users"),
        ("SELECT * FROM users WHERE email = 'a@b'", "select_star", "users"),
        ("SELECT id FROM access_log WHERE '2026-10-01' <= date_day", "constant_on_left", "access_log"),
        ("SELECT id FROM access_log WHERE YEAR(date_day) = 2026", "function_on_column", "access_log"),
    ],
)
def test_findings(sql: str, kind: str, table: str) -> None:
    r = analyse(sql)
    assert any(f.kind == kind and f.table == table for f in r.findings), r.findings


def test_no_false_findings_for_plain_sargable_statement() -> None:
    r = analyse(
        "SELECT id, date_day FROM access_log WHERE date_day >= '2026-10-01' AND http_status_code = '403'"
    )
    assert r.findings == ()
    a = access(r, "access_log")
    assert (a.equality, a.ranges) == (("http_status_code",), ("date_day",))


def test_dml_is_analysed_through_its_read_part() -> None:
    upd = analyse("UPDATE users SET email = 'x' WHERE username = 'bob'")
    assert upd.statement_kind == "update" and access(upd, "users").equality == ("username",)
    assert "select_star" not in kinds(upd)  # the read part's SELECT * is ours, not the app's
    dele = analyse("DELETE FROM access_log WHERE date_day < '2026-01-01'")
    assert access(dele, "access_log").ranges == ("date_day",)
    ins = analyse("INSERT INTO access_log (id) VALUES (1)")
    assert ins.statement_kind == "insert" and ins.accesses == ()


def test_subquery_scopes_and_correlated_outer_columns() -> None:
    r = analyse(
        "SELECT a.id FROM access_log a WHERE a.date_day = '2026-10-01' AND EXISTS "
        "(SELECT 1 FROM users u WHERE u.username = a.http_username AND u.department_id = 7)"
    )
    users = access(r, "users")
    assert set(users.equality) == {"username", "department_id"}  # the outer column is a constant there


def test_unparseable_class_has_a_reason() -> None:
    r = analyse("SELECT FROM WHERE")
    assert r.error and "cannot parse" in r.error and r.accesses == ()
