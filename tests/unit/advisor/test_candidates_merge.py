"""Index candidates per class and their workload-wide merge (hand-checked cases)."""

from __future__ import annotations

from sqlops.advisor.advise import AdviseOptions, advise
from sqlops.advisor.model import WorkloadClass
from sqlops.advisor.redundant import redundant_indexes
from sqlops.schema.ddl import parse_ddl_text
from sqlops.schema.model import ColumnStats

DDL = """
CREATE TABLE access_log (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT, time_since_epoch DECIMAL(15,3) NULL,
  ip_client VARCHAR(255) NULL, http_status_code VARCHAR(10) NULL, http_reply_size BIGINT UNSIGNED NULL,
  http_method VARCHAR(255) NULL, http_url MEDIUMTEXT NULL, http_username VARCHAR(255) NULL,
  squid_request_status VARCHAR(64) NULL, date_day DATE NOT NULL,
  PRIMARY KEY (id), KEY idx_date_day (date_day)) ENGINE=InnoDB AUTO_INCREMENT=2000001;
CREATE TABLE users (id INT NOT NULL AUTO_INCREMENT PRIMARY KEY, username VARCHAR(64) NOT NULL,
  email VARCHAR(128), department_id INT, UNIQUE KEY uq_username (username)) ENGINE=InnoDB AUTO_INCREMENT=5001;
CREATE TABLE departments (id INT PRIMARY KEY, name VARCHAR(64)) ENGINE=InnoDB AUTO_INCREMENT=12;
"""


def wc(cid: str, sql: str, total: float = 1.0, count: int = 10, examined: int | None = None) -> WorkloadClass:
    return WorkloadClass(cid, cid, sql, None, count, total, examined, None, examined is not None, ("test",))


def run(*classes: WorkloadClass, schema=None, **options):
    return advise(list(classes), schema or parse_ddl_text(DDL), AdviseOptions(**options))


def shapes(report) -> list[tuple[str, tuple[str, ...]]]:
    return [
        (a.table, tuple(p.column + (f"({p.prefix})" if p.prefix else "") for p in a.parts))
        for a in report.indexes
    ]


def test_equality_then_range() -> None:
    r = run(wc("a", "SELECT * FROM access_log WHERE http_username = 'bob' AND date_day >= '2026-10-01'"))
    assert shapes(r) == [("access_log", ("http_username", "date_day"))]
    (idx,) = r.indexes
    assert idx.ddl == (
        "ALTER TABLE `access_log` ADD INDEX `ix_http_username_date_day` (`http_username`, `date_day`), "
        "ALGORITHM=INPLACE, LOCK=NONE"
    )
    assert idx.classes == ("a",) and "range" in idx.reason
    assert idx.write_cost and "logging daemon" in idx.write_cost  # access_log is the Squid log table


def test_order_by_removes_filesort_and_trailing_pk_is_implicit() -> None:
    r = run(
        wc(
            "a",
            "SELECT * FROM access_log WHERE ip_client = '10.1.1.1' ORDER BY time_since_epoch DESC LIMIT 20",
        ),
        wc("b", "SELECT * FROM access_log WHERE http_username = 'x' ORDER BY id DESC LIMIT 20"),
    )
    assert sorted(shapes(r)) == [
        ("access_log", ("http_username",)),  # InnoDB keys end with the PK: ORDER BY id comes free
        ("access_log", ("ip_client", "time_since_epoch")),
    ]


def test_text_column_gets_a_prefix_from_the_like_pattern() -> None:
    r = run(wc("a", "SELECT id FROM access_log WHERE http_url LIKE 'http://intranet.example.org/reports/%'"))
    assert shapes(r) == [("access_log", ("http_url(64)",))]  # 38 characters, rounded up to a step


def test_prefix_from_measured_selectivity() -> None:
    schema = parse_ddl_text(DDL)
    log = schema.table("access_log")
    stats = ColumnStats(1000, 800, 0, {4: 0.1, 8: 0.5, 16: 0.96, 32: 1.0})
    schema.tables["access_log"] = log.with_stats({"http_url": stats})  # type: ignore[index]
    r = run(wc("a", "SELECT id FROM access_log WHERE http_url = 'http://a/b'"), schema=schema)
    assert shapes(r) == [("access_log", ("http_url(16)",))]


def test_equality_columns_ordered_by_measured_selectivity() -> None:
    schema = parse_ddl_text(DDL)
    log = schema.table("access_log")
    schema.tables["access_log"] = log.with_stats(  # type: ignore[index]
        {"http_method": ColumnStats(1000, 3), "http_username": ColumnStats(1000, 400)}
    )
    r = run(
        wc("a", "SELECT id FROM access_log WHERE http_method = 'GET' AND http_username = 'bob'"),
        schema=schema,
    )
    assert shapes(r) == [("access_log", ("http_username", "http_method"))]


def test_existing_index_serves_and_unique_key_serves() -> None:
    r = run(
        wc("a", "SELECT COUNT(*) FROM access_log WHERE date_day = '2026-10-01'"),  # idx_date_day
        wc("b", "SELECT email FROM users WHERE username = 'bob' AND department_id = 3"),  # uq_username
        wc("c", "SELECT * FROM departments WHERE id = 3"),
    )
    assert shapes(r) == []


def test_candidates_that_are_prefixes_of_each_other_merge() -> None:
    r = run(
        wc("a", "SELECT * FROM access_log WHERE http_username = 'bob'", total=5.0),
        wc("b", "SELECT * FROM access_log WHERE http_username = 'bob' AND ip_client = '10.0.0.1'", total=3.0),
        wc(
            "c",
            "SELECT * FROM access_log WHERE ip_client = '10.0.0.1' AND http_username = 'bob' "
            "AND date_day > '2026-10-01'",
            total=1.0,
        ),
    )
    assert len(r.indexes) == 1
    (idx,) = r.indexes
    assert idx.columns[:2] == ("http_username", "ip_client") and idx.columns[2] == "date_day"
    assert set(idx.classes) == {"a", "b", "c"}
    assert idx.served_time == 9.0


def test_ranked_by_served_time_and_budget() -> None:
    r = run(
        wc("slow", "SELECT * FROM access_log WHERE ip_client = '1'", total=50.0),
        wc("fast", "SELECT * FROM access_log WHERE http_username = 'x'", total=2.0),
        wc("mid", "SELECT * FROM access_log WHERE squid_request_status = 'TCP_DENIED/403'", total=10.0),
        budget=2,
    )
    assert [a.columns for a in r.indexes] == [("ip_client",), ("squid_request_status",)]
    assert any("over the budget of 2" in n and "(http_username)" in n for n in r.notes)


def test_small_tables_and_cheap_classes_get_no_index() -> None:
    r = run(
        wc("a", "SELECT id FROM departments WHERE name = 'IT'"),  # 11 rows (AUTO_INCREMENT=12)
        wc("b", "SELECT * FROM access_log WHERE http_username = 'bob'", examined=40, count=10),  # 4 rows each
    )
    assert shapes(r) == []


def test_join_lookup_side_gets_the_join_column() -> None:
    schema = parse_ddl_text(DDL.replace("UNIQUE KEY uq_username (username)", "KEY ix_dep (department_id)"))
    r = run(
        wc(
            "a",
            "SELECT a.id FROM access_log a JOIN users u ON u.username = a.http_username "
            "WHERE a.date_day = '2026-10-01'",
        ),
        schema=schema,
    )
    # access_log is filtered (idx_date_day serves it); users is reached through the join.
    assert shapes(r) == [("users", ("username",))]


def test_redundant_duplicate_prefix_and_pk_suffix() -> None:
    schema = parse_ddl_text(
        """CREATE TABLE t (id INT PRIMARY KEY, a INT, b INT, c INT,
        KEY k_a (a), KEY k_ab (a, b), KEY k_ab2 (a, b), KEY k_c_id (c, id), KEY k_c (c),
        UNIQUE KEY u_b (b), KEY k_b (b)) ENGINE=InnoDB"""
    )
    drops = {(d.index, d.kind, d.covered_by) for d in redundant_indexes(schema.table("t"), "mariadb")}
    assert drops == {
        ("k_a", "left_prefix", "k_ab"),
        ("k_ab2", "duplicate", "k_ab"),
        ("k_c_id", "pk_suffix", "k_c"),  # InnoDB stores (c) as (c, id): the same key
        ("k_b", "duplicate", "u_b"),  # the UNIQUE one stays: it is the only constraint on b
    }
    d = next(d for d in redundant_indexes(schema.table("t"), "mariadb") if d.index == "k_a")
    assert d.hide_ddl == "ALTER TABLE `t` ALTER INDEX `k_a` IGNORED"
    mysql = next(d for d in redundant_indexes(schema.table("t"), "mysql") if d.index == "k_a")
    assert mysql.hide_ddl.endswith("INVISIBLE") and mysql.drop_ddl == "ALTER TABLE `t` DROP INDEX `k_a`"


def test_unique_only_constraint_is_never_proposed() -> None:
    schema = parse_ddl_text(
        "CREATE TABLE t (id INT PRIMARY KEY, a INT, b INT, UNIQUE KEY u_a (a), KEY k_ab (a, b))"
    )
    assert redundant_indexes(schema.table("t"), "mysql") == []


def test_covering_only_when_the_statement_names_few_columns() -> None:
    covering = run(wc("a", "SELECT COUNT(*), SUM(time_response) FROM users_log WHERE 1"))
    assert covering.indexes == ()
    schema = parse_ddl_text(
        "CREATE TABLE t (id INT PRIMARY KEY, a INT, b INT, c INT, d TEXT) ENGINE=InnoDB AUTO_INCREMENT=100000"
    )
    r = run(wc("a", "SELECT b FROM t WHERE a = 1"), schema=schema)
    assert shapes(r) == [("t", ("a", "b"))]  # a covering (a, b): the statement reads no row
    r = run(wc("a", "SELECT * FROM t WHERE a = 1"), schema=schema)
    assert shapes(r) == [("t", ("a",))]  # SELECT * cannot be covered


def test_group_by_without_a_filter_only_as_a_covering_index() -> None:
    # Reading 2M rows in group order through a secondary index is a PK lookup per row.
    r = run(
        wc(
            "a",
            "SELECT http_username, COUNT(*) FROM access_log WHERE date_day + 1 > 3 GROUP BY http_username",
        )
    )
    assert shapes(r) == [("access_log", ("http_username", "date_day"))]  # covering: an index-only scan
    r = run(
        wc(
            "a",
            "SELECT http_username, http_url FROM access_log WHERE date_day + 1 > 3 GROUP BY http_username",
        )
    )
    assert shapes(r) == []  # not coverable (TEXT): no index at all
    r = run(wc("a", "SELECT http_username, SUM(http_reply_size) FROM access_log GROUP BY http_username"))
    assert shapes(r) == [("access_log", ("http_username", "http_reply_size"))]
