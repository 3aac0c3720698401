"""`sqlops advise` offline through the CLI entry point: the bundled example (README's main
command), every output format (JSON validated against the published schema), bad input."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from sqlops.cli import main

ROOT = Path(__file__).parents[3]
DATA = ROOT / "tests" / "data" / "advisor"
LOG = str(DATA / "squid-reports-mariadb1011-slow.log")
MYSQL_LOG = str(DATA / "squid-reports-mysql97-slow.log")
SCHEMA_SQL = str(DATA / "squid-reports-schema.sql")
JSON_SCHEMA = json.loads((ROOT / "sqlops" / "advisor" / "advice.schema.json").read_text())


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["advise", *args])
    out, err = capsys.readouterr()
    return code, out, err


def advise_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict:
    code, out, err = run(capsys, *args, "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    jsonschema.validate(data, JSON_SCHEMA)
    return data


def test_bundled_example_gives_index_advice(capsys: pytest.CaptureFixture[str]) -> None:
    data = advise_json(capsys, "--log", LOG, "--schema", SCHEMA_SQL)
    assert data["schema"] == SCHEMA_SQL and data["flavour"] == "mariadb"
    tables = {a["table"] for a in data["indexes"]}
    assert "access_log" in tables
    log_indexes = [a for a in data["indexes"] if a["table"] == "access_log"]
    assert 1 <= len(log_indexes) <= 5  # the per-table budget
    for a in data["indexes"]:
        assert a["ddl"].startswith(f"ALTER TABLE `{a['table']}` ADD INDEX `{a['name']}` (")
        assert a["ddl"].endswith("ALGORITHM=INPLACE, LOCK=NONE")
        assert len(a["parts"]) <= 5 and a["classes"]
        # Every column exists in the bundled schema and TEXT columns carry a prefix.
        text = (DATA / "squid-reports-schema.sql").read_text()
        for p in a["parts"]:
            assert f"`{p['column']}`" in text
            if p["column"] == "http_url":
                assert p["prefix"]
    # The log table is written by the logging daemon all day: the cost is stated.
    assert all(a["write_cost"] for a in log_indexes)
    # Ranked by the time they can win back: the log table's scans lead, not a lookup on a
    # small side table that sits in the same joins.
    assert data["indexes"][0]["table"] == "access_log"
    ids = {c["id"] for c in data["classes"]}
    assert all(set(a["classes"]) <= ids for a in data["indexes"])


def test_no_advice_duplicates_an_existing_index(capsys: pytest.CaptureFixture[str]) -> None:
    """The schema has idx_date_day (date_day) and the rollup's PK/idx_client_day: nothing
    proposed may be one of those or a left prefix of them."""
    data = advise_json(capsys, "--log", LOG, "--schema", SCHEMA_SQL)
    existing = {
        ("access_log", ("date_day",)),
        ("access_log_daily", ("date_day", "http_username", "ip_client")),
        ("access_log_daily", ("ip_client", "date_day")),
        ("access_log", ("id",)),
    }
    for a in data["indexes"]:
        cols = tuple(p["column"] for p in a["parts"])
        for table, have in existing:
            assert not (a["table"] == table and have[: len(cols)] == cols), a["ddl"]


def test_same_input_same_report(capsys: pytest.CaptureFixture[str]) -> None:
    first = run(capsys, "--log", LOG, "--schema", SCHEMA_SQL)
    again = run(capsys, "--log", LOG, "--schema", SCHEMA_SQL)
    assert first == again and first[0] == 0


def test_mysql_log_of_the_same_workload(capsys: pytest.CaptureFixture[str]) -> None:
    data = advise_json(capsys, "--log", MYSQL_LOG, "--schema", SCHEMA_SQL, "--flavour", "mysql")
    assert data["flavour"] == "mysql" and any(a["table"] == "access_log" for a in data["indexes"])


@pytest.mark.parametrize("fmt", ["text", "sql", "markdown"])
def test_formats(capsys: pytest.CaptureFixture[str], fmt: str) -> None:
    code, out, err = run(capsys, "--log", LOG, "--schema", SCHEMA_SQL, "--format", fmt)
    assert code == 0, err
    assert "ALTER TABLE `access_log` ADD INDEX" in out
    if fmt == "sql":
        statements = [line for line in out.splitlines() if line and not line.startswith("--")]
        assert statements and all(s.startswith("ALTER TABLE ") and s.endswith(";") for s in statements)
    if fmt == "text":
        assert out.startswith("sqlops advise: ") and "# Indexes to add" in out
    if fmt == "markdown":
        assert out.startswith("# sqlops advise") and "| table |" in out


def test_usage_errors(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, "--schema", SCHEMA_SQL)
    assert code == 2 and "nothing to advise on" in err
    code, _, err = run(capsys, "--log", LOG, "--schema", SCHEMA_SQL, "--dry-run")
    assert code == 2 and "--dry-run goes with --apply" in err
    code, _, err = run(capsys, "--log", LOG, "--schema", str(tmp_path / "missing.sql"))
    assert code == 2 and "cannot read schema file" in err
    code, _, err = run(capsys, "--log", str(tmp_path / "missing.log"), "--schema", SCHEMA_SQL)
    assert code == 2
    broken = tmp_path / "broken.sql"
    broken.write_text("CREATE TABLE t (a int, PRIMARY KEY a);\n")
    code, _, err = run(capsys, "--log", LOG, "--schema", str(broken))
    assert code == 2 and f"{broken}:1: cannot parse" in err


def test_verify_without_a_server_is_a_usage_error(capsys: pytest.CaptureFixture[str], monkeypatch) -> None:
    for name in ("MYSQL_HOST", "MYSQL_TCP_PORT", "MYSQL_USER", "SQLOPS_DATABASE_HOST", "SQLOPS_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    code, _, err = run(capsys, "--log", LOG, "--schema", SCHEMA_SQL, "--verify")
    assert code == 2 and "live server" in err


def test_statements_that_are_not_analysed_are_listed_with_a_reason(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    log = tmp_path / "slow.log"
    log.write_text(
        "# Time: 261002 10:00:00\n# User@Host: app[app] @ localhost []\n"
        "# Query_time: 1.5  Lock_time: 0.0  Rows_sent: 1  Rows_examined: 200000\n"
        "SET timestamp=1790000000;\nSELECT COUNT(*) FROM access_log WHERE http_username = 'bob' AND;\n"
        "# Time: 261002 10:00:01\n# User@Host: app[app] @ localhost []\n"
        "# Query_time: 2.5  Lock_time: 0.0  Rows_sent: 1  Rows_examined: 200000\n"
        "SET timestamp=1790000001;\nSELECT COUNT(*) FROM access_log WHERE http_username = 'bob';\n"
    )
    data = advise_json(capsys, "--log", str(log), "--schema", SCHEMA_SQL)
    (bad,) = data["unanalysed"]
    assert "cannot parse" in bad["reason"]
    assert [tuple(p["column"] for p in a["parts"]) for a in data["indexes"]] == [("http_username",)]


def test_advice_from_application_source(capsys: pytest.CaptureFixture[str]) -> None:
    """SQL read out of the PHP/Perl/Python samples, against their (hand-written) schema."""
    data = advise_json(capsys, "--source", str(DATA / "source"), "--schema", str(DATA / "source-schema.sql"))
    by_id = {c["id"]: c for c in data["classes"]}
    assert all(c["origins"] == ["source"] and c["locations"] for c in data["classes"])
    invoices = [a for a in data["indexes"] if a["table"] == "invoices"]
    assert any(a["columns"][0] == "customer_id" for a in invoices)
    for a in data["indexes"]:
        for cid in a["classes"]:
            assert ":" in by_id[cid]["locations"][0]  # file:line of the statement it serves
    # A flag column alone (proxy_hosts.blocked, tinyint(1)) makes no index.
    assert not any(a["table"] == "proxy_hosts" for a in data["indexes"])
    # Statements that cannot be completed statically are reported with their reason.
    assert any("table name comes from variable $table" in n for n in data["notes"])
    assert any(n.startswith("php/customers.php:") for n in data["notes"])
