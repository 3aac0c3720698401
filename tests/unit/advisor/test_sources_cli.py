"""`sqlops digest --source`: application SQL alone and next to a log report (no server needed)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from sqlops.cli import cli, main

ROOT = Path(__file__).parents[3]
APP = ROOT / "tests" / "data" / "advisor" / "source"
LOG = ROOT / "tests" / "data" / "querylog" / "mysql97-slow.log"
DIGEST_SCHEMA = json.loads((ROOT / "sqlops" / "querylog" / "digest.schema.json").read_text())
SOURCE_SCHEMA = json.loads(
    (ROOT / "sqlops" / "advisor" / "sources" / "application_sql.schema.json").read_text()
)


def invoke(*args: str) -> str:
    result = CliRunner().invoke(cli, ["digest", *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_text_lists_classes_locations_and_unresolved_reasons() -> None:
    out = invoke("--source", str(APP / "php"), "--top", "50")
    assert out.startswith(
        f"# Application SQL in {APP / 'php'}\n# 4 files scanned; 10 statements in 10 classes; 4 unresolved\n"
    )
    assert "# Found at: php/customers.php:24" not in out  # paths are relative to the --source directory
    assert "# Found at: customers.php:24\nSELECT COUNT(*) FROM invoices WHERE customer_id = ?;\n" in out
    assert (
        "#   customers.php:49: table name comes from variable $table\n#     SELECT * FROM {$table} WHERE id IN (?)\n"
        in out
    )
    assert "#   report.phtml:22: constant TABLE_ORDERS is not defined in the scanned files\n" in out


def test_a_class_found_in_several_files_lists_every_location(tmp_path: Path) -> None:
    for n in range(7):
        (tmp_path / f"page{n}.php").write_text(
            f'<?php\n\n$db->query("SELECT name FROM users WHERE id = {n}");\n'
        )
    out = invoke("--source", str(tmp_path))
    assert "#    1 " in out and " 7 SELECT name FROM users WHERE id = ?" in out
    assert "# Application query 1: ID " in out and ", 7 locations\n" in out
    assert "# Found at: page0.php:3, page1.php:3, page2.php:3, page3.php:3, page4.php:3, +2 more\n" in out


def test_json_alone_follows_its_schema() -> None:
    data = json.loads(invoke("--source", str(APP), "--format", "json", "--top", "3"))
    assert list(data) == ["application_sql"]
    section = data["application_sql"]
    jsonschema.validate(section, SOURCE_SCHEMA)
    assert section["files_scanned"] == 11 and section["statements"] == 32
    assert len(section["classes"]) == 3 and section["class_count"] == 32
    assert {
        "file": "python/export.py",
        "line": 42,
        "reason": "table name comes from variable table",
        "fragment": "SELECT COUNT(*) FROM {table}",
    } in section["unresolved"]


def test_with_a_log_the_report_gets_an_application_section() -> None:
    text = invoke("--log", str(LOG), "--source", str(APP / "perl"), "--top", "2")
    assert "403 statements in 12 classes" in text
    assert text.index("# Profile") < text.index("# Application SQL in ")
    assert "# 3 files scanned; 12 statements in 12 classes; 2 unresolved" in text
    data = json.loads(invoke("--log", str(LOG), "--source", str(APP / "perl"), "--format", "json"))
    section = data.pop("application_sql")
    jsonschema.validate(section, SOURCE_SCHEMA)
    jsonschema.validate(data, DIGEST_SCHEMA)  # the log part is unchanged
    assert data["queries"] == 403 and section["roots"] == [str(APP / "perl")]


def test_the_class_id_is_the_digest_id(tmp_path: Path) -> None:
    # A statement in code and the same statement in a log have one class id.
    log = tmp_path / "slow.log"
    log.write_text(
        "# Time: 2026-11-27T10:00:00.000000Z\n# User@Host: app[app] @ localhost []  Id: 7\n"
        "# Query_time: 1.5  Lock_time: 0.0 Rows_sent: 1  Rows_examined: 100000\n"
        "SET timestamp=1764237600;\nSELECT name FROM users WHERE id = 42;\n"
    )
    (tmp_path / "page.php").write_text("<?php $db->query(\"SELECT name FROM users WHERE id = '$id'\");\n")
    data = json.loads(invoke("--log", str(log), "--source", str(tmp_path / "page.php"), "--format", "json"))
    assert data["classes"][0]["id"] == data["application_sql"]["classes"][0]["id"]


def test_an_empty_tree_says_so(tmp_path: Path) -> None:
    assert "# No SQL statements found." in invoke("--source", str(tmp_path))


@pytest.mark.parametrize(
    "args, message",
    [
        (["--source", "/nonexistent/app"], "source path /nonexistent/app does not exist"),
        ([], "give either --log FILE"),
        (["--log", "x.log", "--from-server"], "give either --log FILE"),
    ],
)
def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str], args: list[str], message: str) -> None:
    assert main(["digest", *args]) == 2
    assert message in capsys.readouterr().err


def test_help_shows_the_option_and_an_example() -> None:
    out = CliRunner().invoke(cli, ["digest", "--help"]).output
    assert "--source DIR|FILE" in out and "sqlops digest --source /var/www/admin" in out
