"""The schema files parse into the column model used by status and upgrade."""

from __future__ import annotations

import pytest

from sqlops.schema.compare import compare_type
from sqlops.schema.definitions import access_log_def, normalise_type, state_defs


def test_access_log_has_log_db_daemon_columns_and_date_day() -> None:
    table = access_log_def()
    names = [c.name for c in table.columns]
    legacy = (
        "id time_since_epoch time_response ip_client ip_server http_status_code http_reply_size "
        "http_method http_url http_username http_mime_type squid_request_status squid_hier_status"
    )
    for column in legacy.split():
        assert column in names
    assert table.column("date_day") is not None and not table.column("date_day").nullable  # type: ignore[union-attr]
    assert table.column("id").type == "bigint unsigned"  # type: ignore[union-attr]
    assert table.primary_key == ("id",)


def test_renamed_table_changes_only_the_create_line() -> None:
    renamed = access_log_def("proxy_log")
    assert renamed.create_sql.startswith("CREATE TABLE IF NOT EXISTS `proxy_log` (")
    assert renamed.columns == access_log_def().columns


def test_state_tables_are_defined() -> None:
    assert {"sqlops_job_runs", "sqlops_online_copy"} <= {t.name for t in state_defs()}


@pytest.mark.parametrize(
    ("raw", "normal"),
    [("bigint(20) unsigned", "bigint unsigned"), ("INT(11)", "int"), ("DECIMAL(15, 3)", "decimal(15,3)")],
)
def test_normalise_type_across_flavours(raw: str, normal: str) -> None:
    assert normalise_type(raw) == normal


@pytest.mark.parametrize(
    ("current", "expected", "verdict"),
    [
        ("int", "bigint unsigned", "narrower"),
        ("bigint", "bigint unsigned", "ok"),
        ("char(15)", "varchar(255)", "narrower"),
        ("varchar(255)", "varchar(64)", "wider"),
        ("text", "mediumtext", "narrower"),
        ("longtext", "mediumtext", "wider"),
        ("decimal(15,3)", "decimal(15,3)", "ok"),
        ("decimal(12,3)", "decimal(15,3)", "narrower"),
        ("int", "varchar(10)", "incompatible"),
        ("date", "date", "ok"),
    ],
)
def test_compare_type_only_widens(current: str, expected: str, verdict: str) -> None:
    assert compare_type(current, expected) == verdict
