"""SQL read out of application source: a small legacy admin app in PHP, Perl, Python and a
.sql file (tests/data/advisor/source/, written for these tests), checked against a golden file
written and checked by hand, plus one focused test per rule."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlglot
from support.golden import assert_golden

from sqlops.advisor.sources import SourceScan, scan_sources
from sqlops.advisor.sources.assemble import assemble, sql_kind
from sqlops.advisor.sources.classes import source_classes
from sqlops.advisor.sources.sqlfile import split
from sqlops.advisor.sources.value import Hole
from sqlops.errors import InputError
from sqlops.querylog.fingerprint import class_id, fingerprint

APP = Path(__file__).parents[2] / "data" / "advisor" / "source"


@pytest.fixture(scope="module")
def app() -> SourceScan:
    return scan_sources([APP])


def dump(scan: SourceScan) -> str:
    """The scan as the golden file holds it: one statement / unresolved item per line."""
    lines = ["{", f' "files_scanned": {scan.files_scanned},', ' "statements": [']
    items = [
        json.dumps({"file": s.file, "line": s.line, "language": s.language, "sql": s.sql})
        for s in scan.statements
    ]
    lines.append(",\n".join(f"  {i}" for i in items))
    lines += [" ],", ' "unresolved": [']
    items = [
        json.dumps({"file": u.file, "line": u.line, "reason": u.reason, "fragment": u.fragment})
        for u in scan.unresolved
    ]
    lines.append(",\n".join(f"  {i}" for i in items))
    lines += [" ]", "}"]
    return "\n".join(lines) + "\n"


def sql_at(scan: SourceScan, file: str, line: int) -> list[str]:
    return [s.sql for s in scan.statements if s.file == file and s.line == line]


def reason_at(scan: SourceScan, file: str, line: int) -> list[str]:
    return [u.reason for u in scan.unresolved if u.file == file and u.line == line]


def test_golden(app: SourceScan) -> None:
    assert_golden(dump(app), APP / "expected.json")


def test_every_statement_parses_as_mysql(app: SourceScan) -> None:
    assert len(app.statements) > 25
    for s in app.statements:
        sqlglot.parse_one(s.sql, read="mysql")


def test_files_are_relative_to_the_root_and_hidden_or_binary_ones_are_left_out(app: SourceScan) -> None:
    files = {s.file for s in app.statements} | {u.file for u in app.unresolved}
    assert "php/lib/Customer.php" in files and "perl/lib/Squid/Report.pm" in files
    assert "perl/nightly.pl.in" in files and "sql/reports.sql" in files
    assert app.files_scanned == 11  # expected.json is not source
    assert app.roots == (str(APP),)


def test_concatenation_with_conditional_appends_gives_one_variant_per_condition(app: SourceScan) -> None:
    # $sql = "..." . TABLE_CUSTOMERS . "..."; $sql .= " WHERE ..."; if (..) { $sql .= " AND ..." } x2
    got = sql_at(app, "php/customers.php", 10)
    base = (
        "SELECT c.id, c.name, c.email, k.name AS country FROM shop_customers c "
        "JOIN countries k ON k.code = c.country WHERE c.deleted = 0"
    )
    assert got == [
        base + " ORDER BY c.name LIMIT ?, 50",
        base + " AND c.country = ? ORDER BY c.name LIMIT ?, 50",
        base + " AND c.name LIKE ? ORDER BY c.name LIMIT ?, 50",
    ]  # never both conditions at once: n conditions give n + 1 statements


def test_perl_statement_modifier_and_unless_block_are_conditional(app: SourceScan) -> None:
    got = sql_at(app, "perl/lib/Squid/Report.pm", 19)
    assert len(got) == 3
    assert all(s.endswith("GROUP BY client_ip ORDER BY requests DESC LIMIT 20") for s in got)
    assert sum("LIKE ?" in s for s in got) == 1 and sum("requests > 0" in s for s in got) == 1


def test_constants_from_another_file_and_built_from_constants(app: SourceScan) -> None:
    # TABLE_CUSTOMERS is define()d in config.inc.php as TABLE_PREFIX . 'customers'
    assert any("FROM shop_customers c" in s for s in sql_at(app, "php/customers.php", 10))
    alone = scan_sources([APP / "php" / "customers.php"])
    assert "constant TABLE_CUSTOMERS is not defined in the scanned files" in alone.unresolved[0].reason


def test_class_constants_self_parent_static(app: SourceScan) -> None:
    assert sql_at(app, "php/lib/Customer.php", 21) == [
        "SELECT id, name, email FROM shop_customers WHERE id = ?"
    ]
    assert sql_at(app, "php/lib/Customer.php", 29) == ["SELECT label FROM customer_status WHERE code = ?"]
    assert sql_at(app, "php/lib/Customer.php", 35) == [
        "UPDATE shop_customers SET name = ?, updated_at = NOW() WHERE id = ?"
    ]


def test_perl_constants_in_strings_through_references(app: SourceScan) -> None:
    assert sql_at(app, "perl/hosts.cgi", 28)[0].startswith(
        "SELECT date_time, url, http_status FROM access_log "
    )
    assert sql_at(app, "perl/hosts.cgi", 34) == ["UPDATE proxy_hosts SET last_seen = NOW() WHERE name = ?"]


def test_heredocs_and_nowdocs(app: SourceScan) -> None:
    assert sql_at(app, "php/customers.php", 30) == [
        "SELECT SUM(i.amount) AS total FROM invoices i WHERE i.customer_id = ? AND i.status = 'paid'"
    ]
    (nowdoc,) = sql_at(app, "php/report.phtml", 7)
    assert "'%Y-%m'" in nowdoc and "created_at >= ?" in nowdoc  # PDO :since -> ?
    (bare,) = sql_at(app, "perl/hosts.cgi", 38)
    assert bare.startswith("INSERT INTO proxy_hosts (name, first_seen) VALUES (?, NOW())")
    (indented,) = sql_at(app, "perl/nightly.pl.in", 8)
    assert indented.startswith("INSERT INTO access_daily (day, client_ip, requests, bytes) SELECT")


def test_placeholders_take_their_quotes_with_them(app: SourceScan) -> None:
    assert sql_at(app, "php/customers.php", 24) == ["SELECT COUNT(*) FROM invoices WHERE customer_id = ?"]
    assert sql_at(app, "php/customers.php", 42) == [
        "SELECT id, amount FROM invoices WHERE customer_id = ? AND created_at > NOW() - INTERVAL ? DAY"
    ]
    for s in app.statements:
        assert "'?'" not in s.sql and "$" not in s.sql


def test_python_fstrings_percent_format_and_dbapi_placeholders(app: SourceScan) -> None:
    first = sql_at(app, "python/export.py", 20)
    assert first[0] == (
        "SELECT i.id, i.amount, c.name FROM invoices i JOIN shop_customers c ON c.id = i.customer_id "
        "WHERE i.status = 'paid' AND i.created_at >= ? ORDER BY i.id LIMIT 500"
    )
    assert "AND c.id = ?" in first[1]
    assert sql_at(app, "python/export.py", 35) == [
        "INSERT INTO invoices_archive SELECT * FROM invoices WHERE created_at < ?"
    ]
    assert sql_at(app, "python/export.py", 38) == ["DELETE FROM invoices WHERE created_at < ?"]
    assert sql_at(app, "python/export.py", 48) == ["SELECT id, name FROM shop_customers WHERE id IN (?)"]


def test_unresolved_statements_say_why(app: SourceScan) -> None:
    assert reason_at(app, "php/customers.php", 49) == ["table name comes from variable $table"]
    assert reason_at(app, "php/customers.php", 50) == [
        "SQL text comes from implode() of values not known statically"
    ]
    assert reason_at(app, "php/customers.php", 55) == ["column name comes from variable $order"]
    assert reason_at(app, "php/report.phtml", 22) == [
        "constant TABLE_ORDERS is not defined in the scanned files"
    ]
    assert reason_at(app, "perl/lib/Squid/Report.pm", 37) == ["table name comes from variable $table"]
    assert reason_at(app, "python/export.py", 42) == ["table name comes from variable table"]
    (py2,) = reason_at(app, "python/legacy_stats.cgi", 8)
    assert py2.startswith("not Python 3 syntax")
    fragment = next(u.fragment for u in app.unresolved if u.file == "php/customers.php" and u.line == 49)
    assert fragment == "SELECT * FROM {$table} WHERE id IN (?)"


def test_text_that_is_not_sql_is_ignored(app: SourceScan) -> None:
    texts = [s.sql for s in app.statements] + [u.fragment for u in app.unresolved]
    assert not any(t.startswith(("Select ", "Update failed")) for t in texts)
    assert not any("documentation_only" in t or "nothing" in t for t in texts)  # POD, __END__


def test_sql_file_split_respects_quotes_comments_and_delimiter() -> None:
    src = (APP / "sql" / "reports.sql").read_text()
    parts = split(src)
    assert [line for _body, line in parts] == [2, 5, 13, 15, 18, 25, 28]
    assert parts[1][0].endswith("'test; do not use'")
    assert parts[4][0].startswith("CREATE PROCEDURE") and parts[4][0].endswith("END")
    assert [sql_kind(body) for body, _ in parts] == [None, "SELECT", "SELECT", None, None, "UPDATE", "WITH"]


def test_conflicting_constant_definitions_are_not_guessed(tmp_path: Path) -> None:
    (tmp_path / "a.php").write_text("<?php define('T', 'orders');\n")
    (tmp_path / "b.php").write_text("<?php\ndefine('T', 'orders_old');\n$db->query('SELECT * FROM ' . T);\n")
    scan = scan_sources([tmp_path])
    assert scan.statements == ()
    assert (
        scan.unresolved[0].reason == "constant T has different values in the scanned files (a.php:1, b.php:2)"
    )


def test_walk_skips_hidden_and_binary_files_keeps_vendor_and_ends_link_loops(tmp_path: Path) -> None:
    q = "<?php $db->query('SELECT id FROM t{n} WHERE id = 1');\n"
    (tmp_path / ".svn").mkdir()
    (tmp_path / ".svn" / "old.php").write_text(q.format(n=1))
    (tmp_path / "vendor" / "lib").mkdir(parents=True)
    (tmp_path / "vendor" / "lib" / "x.php").write_text(q.format(n=2))
    (tmp_path / "blob.php").write_bytes(b"<?php \0\0 SELECT id FROM t3 WHERE id = 1")
    (tmp_path / "vendor" / "lib" / "loop").symlink_to(tmp_path, target_is_directory=True)
    (tmp_path / "notes.txt").write_text("SELECT id FROM t4 WHERE id = 1")
    scan = scan_sources([tmp_path])
    assert [(s.file, s.sql) for s in scan.statements] == [
        ("vendor/lib/x.php", "SELECT id FROM t2 WHERE id = 1")
    ]
    assert scan.files_scanned == 1


def test_a_missing_path_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError) as err:
        scan_sources([tmp_path / "nope"])
    assert "does not exist" in err.value.what and err.value.why and err.value.fix


def test_a_cgi_file_in_python_is_read_as_python(tmp_path: Path) -> None:
    path = tmp_path / "stats.cgi"
    path.write_text('#!/usr/bin/env python3\ncur.execute(f"SELECT n FROM stats WHERE d = {day}")\n')
    scan = scan_sources([path])
    assert [(s.language, s.sql, s.file) for s in scan.statements] == [
        ("python", "SELECT n FROM stats WHERE d = ?", str(path))
    ]


def test_classes_group_by_digest_fingerprint_and_rank_by_locations(tmp_path: Path) -> None:
    (tmp_path / "a.php").write_text('<?php\n$db->query("SELECT * FROM t WHERE id = $id");\n')
    (tmp_path / "b.pl").write_text("$dbh->do('select * from t where id = ?');\n$dbh->do('DELETE FROM t');\n")
    classes = source_classes(scan_sources([tmp_path]))
    assert [c.locations for c in classes] == [(("a.php", 2), ("b.pl", 1)), (("b.pl", 2),)]
    fp = fingerprint("SELECT * FROM t WHERE id = ?")
    assert classes[0].id == class_id(fp.key) and classes[0].fingerprint == fp.text.decode()
    assert classes[0].example == "SELECT * FROM t WHERE id = ?"


@pytest.mark.parametrize(
    "parts, sql, reasons",
    [
        (("SELECT * FROM t WHERE a = '", Hole("variable $x", "$x"), "'"), "SELECT * FROM t WHERE a = ?", ()),
        (("SELECT * FROM t WHERE a LIKE '%", Hole("v", "$x"), "%'"), "SELECT * FROM t WHERE a LIKE ?", ()),
        (("SELECT * FROM t WHERE a IN (1, ", Hole("v", "$x"), ")"), "SELECT * FROM t WHERE a IN (1, ?)", ()),
        (
            ("SELECT * FROM t LIMIT ", Hole("v", "$a"), ", ", Hole("v", "$b")),
            "SELECT * FROM t LIMIT ?, ?",
            (),
        ),
        (
            ("SELECT * FROM t WHERE d BETWEEN ", Hole("v", "$a"), " AND ", Hole("v", "$b")),
            "SELECT * FROM t WHERE d BETWEEN ? AND ?",
            (),
        ),
        (
            ("INSERT INTO t (a, b) VALUES (", Hole("v", "$a"), ", ", Hole("v", "$b"), ")"),
            "INSERT INTO t (a, b) VALUES (?, ?)",
            (),
        ),
        (
            ("SELECT * FROM ", Hole("variable $t", "$t")),
            "SELECT * FROM {$t}",
            ("table name comes from variable $t",),
        ),
        (
            ("SELECT * FROM ", Hole("variable $p", "$p"), "users"),
            "SELECT * FROM {$p}users",
            ("table name comes from variable $p",),
        ),
        (
            ("SELECT * FROM t WHERE ", Hole("variable $c", "$c"), " = 1"),
            "SELECT * FROM t WHERE {$c} = 1",
            ("column name comes from variable $c",),
        ),
        (
            ("SELECT ", Hole("variable $cols", "$cols"), " FROM t"),
            "SELECT {$cols} FROM t",
            ("column name comes from variable $cols",),
        ),
        (
            ("SELECT COALESCE(a, ", Hole("cast (int)$d", "(int)$d", value_like=True), ") FROM t"),
            "SELECT COALESCE(a, ?) FROM t",
            (),
        ),
        (
            ("SELECT * FROM t WHERE id = ", Hole("c", "X", reason="constant X is not defined")),
            "SELECT * FROM t WHERE id = ?",
            (),
        ),
        (
            ("SELECT * FROM t ", Hole("variable $where", "$where")),
            "SELECT * FROM t {$where}",
            ("SQL text comes from variable $where",),
        ),
        (
            ("SELECT * FROM `", Hole("variable $t", "$t"), "`"),
            "SELECT * FROM `{$t}`",
            ("table name comes from variable $t",),
        ),
    ],
)
def test_assemble_placeholders_and_identifiers(parts: tuple, sql: str, reasons: tuple) -> None:
    done = assemble(parts)
    assert (done.sql, done.reasons) == (sql, reasons)


@pytest.mark.parametrize(
    "text, kind",
    [
        ("SELECT 1", "SELECT"),
        ("  /* report */ (SELECT a FROM t) UNION (SELECT a FROM u)", "SELECT"),
        ("select a from t", "SELECT"),
        ("Select a customer from the list", None),
        ("SELECT the rows you want.", None),
        ("UPDATE t SET a = 1", "UPDATE"),
        ("UPDATE failed", None),
        ("INSERT INTO t VALUES (1)", "INSERT"),
        ("REPLACE INTO t VALUES (1)", "REPLACE"),
        ("DELETE FROM t", "DELETE"),
        ("WITH x AS (SELECT 1) SELECT * FROM x", "WITH"),
        ("CREATE TABLE t (a INT)", None),
        ("Deleted 3 rows", None),
    ],
)
def test_what_counts_as_sql(text: str, kind: str | None) -> None:
    assert sql_kind(text) == kind


def scan_one(tmp_path: Path, name: str, code: str) -> SourceScan:
    (tmp_path / name).write_text(code)
    return scan_sources([tmp_path])


def test_php_sprintf_switch_cases_and_alternative_syntax(tmp_path: Path) -> None:
    scan = scan_one(
        tmp_path,
        "list.php",
        "<?php\ndefine('T_USERS', 'users');\nfunction f($db, $id, $mode, $name) {\n"
        "    $db->query(sprintf(\"SELECT * FROM %s WHERE id = %d AND name = '%s' AND p LIKE '10%%'\",\n"
        "        T_USERS, $id, $db->escape($name)));\n"
        '    $q = "SELECT * FROM users";\n'
        "    switch ($mode) {\n"
        "        case 'new': $q .= \" WHERE created > NOW() - INTERVAL 1 DAY\"; break;\n"
        '        default: $q .= " WHERE active = 1";\n'
        "    }\n"
        '    if ($name): $q .= " ORDER BY name"; endif;\n'
        "    $db->query($q);\n"
        "    $db->query(sprintf('DELETE FROM %1$s WHERE id = %2$d', $table, $id));\n"
        "}\n",
    )
    assert [(s.line, s.sql) for s in scan.statements] == [
        (4, "SELECT * FROM users WHERE id = ? AND name = ? AND p LIKE '10%'"),
        (6, "SELECT * FROM users"),
        (6, "SELECT * FROM users WHERE created > NOW() - INTERVAL 1 DAY"),
        (6, "SELECT * FROM users WHERE active = 1"),
        (6, "SELECT * FROM users ORDER BY name"),
    ]
    assert [(u.line, u.reason) for u in scan.unresolved] == [(13, "table name comes from variable $table")]


def test_ternaries_give_one_statement_per_alternative(tmp_path: Path) -> None:
    (tmp_path / "a.php").write_text(
        '<?php\n$sql = "SELECT id FROM t ORDER BY name";\n$sql .= $desc ? " DESC" : " ASC";\n$db->query($sql);\n'
    )
    (tmp_path / "b.pl").write_text(
        'my $s = "SELECT * FROM t3 WHERE id = $id" . ($x ? " AND a = 1" : "");\n$dbh->do($s);\n'
    )
    (tmp_path / "c.py").write_text(
        'cur.execute("SELECT n FROM t4" + (" WHERE n > %s" if low else ""), args)\n'
    )
    got = {(s.file, s.sql) for s in scan_sources([tmp_path]).statements}
    assert got == {
        ("a.php", "SELECT id FROM t ORDER BY name DESC"),
        ("a.php", "SELECT id FROM t ORDER BY name ASC"),
        ("b.pl", "SELECT * FROM t3 WHERE id = ? AND a = 1"),
        ("b.pl", "SELECT * FROM t3 WHERE id = ?"),
        ("c.py", "SELECT n FROM t4 WHERE n > ?"),
        ("c.py", "SELECT n FROM t4"),
    }


def test_perl_two_heredocs_on_one_line_and_regexes_are_not_strings(tmp_path: Path) -> None:
    scan = scan_one(
        tmp_path,
        "two.pl",
        "$dbh->do(<<A, undef, <<'B');\nSELECT a FROM t1 WHERE x = ?\nA\nSELECT b FROM t2 WHERE y = $y\nB\n"
        '$q =~ s{SELECT}{UPDATE}g;\nmy $n = $x / 2; my $r = "SELECT * FROM t5 WHERE z = $n";\n'
        "$dbh->selectall_arrayref($r) if $q =~ /select .* from/i;\n",
    )
    assert [(s.line, s.sql) for s in scan.statements] == [
        (1, "SELECT a FROM t1 WHERE x = ?"),
        (1, "SELECT b FROM t2 WHERE y = $y"),  # <<'B' does not interpolate: the text as written
        (7, "SELECT * FROM t5 WHERE z = ?"),
    ]


def test_php_property_table_and_function_scopes(tmp_path: Path) -> None:
    scan = scan_one(
        tmp_path,
        "m.php",
        '<?php\nclass Repo {\n    function all() { return $this->db->query("SELECT * FROM {$this->table}"); }\n'
        "    function one() { $t = 'orders'; return \"SELECT * FROM $t WHERE id = 1\"; }\n"
        '    function two() { return "SELECT * FROM $t WHERE id = 2"; }\n}\n',
    )
    assert [(s.line, s.sql) for s in scan.statements] == [(4, "SELECT * FROM orders WHERE id = 1")]
    assert [(u.line, u.reason) for u in scan.unresolved] == [
        (3, "table name comes from variable $this->table"),
        (5, "table name comes from variable $t"),  # $t of one() is not visible in two()
    ]


def test_python_class_constants_and_ambiguous_names(tmp_path: Path) -> None:
    (tmp_path / "orders.py").write_text(
        'class Orders:\n    TABLE = "orders"\n\n    def open(self, cur):\n'
        '        cur.execute(f"SELECT id FROM {self.TABLE} WHERE status = %s", ("open",))\n'
    )
    assert [s.sql for s in scan_sources([tmp_path]).statements] == ["SELECT id FROM orders WHERE status = ?"]
    (tmp_path / "invoices.py").write_text('class Invoices:\n    TABLE = "invoices"\n')
    (u,) = scan_sources([tmp_path]).unresolved
    assert u.reason == "constant TABLE has different values in the scanned files (invoices.py:2, orders.py:2)"
