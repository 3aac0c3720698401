"""SQLOPS_* variables for named tables, warnings for unknown ones, and ranges of numbers."""

from __future__ import annotations

from pathlib import Path

import pytest

from sqlops.cli import main
from sqlops.config import load_config
from sqlops.errors import ConfigError

NO_ENV: dict[str, str] = {"HOME": "/nonexistent"}


def test_env_sets_keys_of_partitions_and_targets_tables(tmp_path: Path) -> None:
    cfg = tmp_path / "sqlops.toml"
    cfg.write_text('[partitions.Access_Log]\nretention_months = 12\n[targets.proxy1]\ntable = "log1"\n')
    env = {
        **NO_ENV,
        "SQLOPS_PARTITIONS_ACCESS_LOG_RETENTION_MONTHS": "3",
        "SQLOPS_PARTITIONS_ACCESS_LOG_HEADROOM_WARNING_DAYS": "30",
        "SQLOPS_TARGETS_PROXY1_SPOOL_DIR": "/srv/spool",
        "SQLOPS_TARGETS_EDGE_2_TABLE": "edge_log",
    }
    loaded = load_config(cfg, env=env)
    part = loaded.config.partitions["Access_Log"]  # the file's spelling of the name wins
    assert (part.retention_months, part.headroom_warning_days) == (3, 30)
    assert loaded.source_of("partitions.Access_Log.retention_months").detail == (
        "SQLOPS_PARTITIONS_ACCESS_LOG_RETENTION_MONTHS"
    )
    assert loaded.config.targets["proxy1"].spool_dir == "/srv/spool"
    assert loaded.config.targets["proxy1"].table == "log1"
    assert loaded.config.targets["edge_2"].table == "edge_log"  # a new name, lower-cased
    assert loaded.warnings == ()


def test_unknown_sqlops_variables_are_warned_about() -> None:
    env = {**NO_ENV, "SQLOPS_DATABASE_HOTS": "db1", "SQLOPS_NONSENSE": "1", "SQLOPS_TEST_FLAVOURS": "x"}
    loaded = load_config(env=env)
    assert len(loaded.warnings) == 2, loaded.warnings
    hots, nonsense = loaded.warnings
    assert "SQLOPS_DATABASE_HOTS" in hots and "did you mean SQLOPS_DATABASE_HOST" in hots
    assert "SQLOPS_NONSENSE" in nonsense and "ignored" in nonsense


def test_cli_prints_the_unknown_variable_warning_once(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SQLOPS_DIGEST_TOPP", "5")
    monkeypatch.setenv("HOME", "/nonexistent")
    assert main(["config", "show"]) == 0
    err = capsys.readouterr().err
    assert err.count("SQLOPS_DIGEST_TOPP") == 1 and "SQLOPS_DIGEST_TOP?" in err


@pytest.mark.parametrize(
    "name,value,wanted",
    [
        ("SQLOPS_INGEST_BATCH_ROWS", "-5", "at least 1"),
        ("SQLOPS_INGEST_BATCH_ROWS", "0", "at least 1"),
        ("SQLOPS_INGEST_BATCH_SECONDS", "0", "greater than 0"),
        ("SQLOPS_INGEST_SEGMENT_MB", "0", "at least 1"),
        ("SQLOPS_INGEST_SPOOL_MAX_MB", "-1", "at least 1"),
        ("SQLOPS_INGEST_SPOOL_RESERVE_MB", "-1", "at least 0"),
        ("SQLOPS_INGEST_FSYNC_SECONDS", "-1", "at least 0"),
        ("SQLOPS_INGEST_RETRY_MAX_SECONDS", "0", "greater than 0"),
        ("SQLOPS_INGEST_SHUTDOWN_SECONDS", "-2", "at least 0"),
        ("SQLOPS_INGEST_MAX_QUARANTINE_RATIO", "1.5", "at most 1"),
        ("SQLOPS_DATABASE_PORT", "70000", "at most 65535"),
        ("SQLOPS_DATABASE_DDL_LOCK_WAIT", "0", "greater than 0"),
        ("SQLOPS_ROLLUP_CHUNK_ROWS", "0", "at least 1"),
    ],
)
def test_numeric_settings_out_of_range_are_refused(name: str, value: str, wanted: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(env={**NO_ENV, name: value})
    assert name in str(err.value) and wanted in str(err.value) and value in str(err.value)


def test_out_of_range_in_the_file_names_the_line(tmp_path: Path) -> None:
    cfg = tmp_path / "sqlops.toml"
    cfg.write_text(
        "[ingest]\nformat = 'squid'\nbatch_rows = -5\n[partitions.access_log]\npremake_months = 2\n"
    )
    with pytest.raises(ConfigError) as err:
        load_config(cfg, env=NO_ENV)
    assert f"{cfg}:3" in str(err.value) and "at least 1" in str(err.value)
    cfg.write_text("[partitions.access_log]\npremake_months = -1\n")
    with pytest.raises(ConfigError, match="at least 0"):
        load_config(cfg, env=NO_ENV)
