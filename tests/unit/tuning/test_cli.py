"""The `tune` command group: Nagios exit codes for usage errors, profile listing and choice."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def test_a_missing_root_is_unknown(run_cli: Any) -> None:
    code, out, _ = run_cli("tune", "check", "--root", "no-such-folder")
    assert code == 3 and out.startswith("UNKNOWN - --root no-such-folder is not a folder")


def test_an_unknown_profile_is_unknown(run_cli: Any) -> None:
    code, out, err = run_cli("tune", "check", "--root", "db-guest/root", "--profile", "db-gust")
    assert code == 3 and "unknown tuning profile 'db-gust'" in out and "db-guest" in err


def test_a_bad_option_is_unknown_too(run_cli: Any) -> None:
    code, _, _ = run_cli("tune", "check", "--format", "yaml")
    assert code == 3


def test_profile_detected_when_not_given(run_cli: Any) -> None:
    code, out, _ = run_cli("tune", "check", "--root", "web-guest/root", "--format", "json")
    data = json.loads(out)
    assert data["profile"] == "web-guest" and data["profile_source"] == "detected: /usr/sbin/apache2 exists"
    assert code == 1


def test_profile_from_the_config_file(run_cli: Any, tmp_path: Path) -> None:
    config = tmp_path / "sqlops.toml"
    config.write_text('[tune]\nprofile = "base"\n')
    code, out, _ = run_cli(
        "--config", str(config), "tune", "check", "--root", "web-guest/root", "--format", "json"
    )
    data = json.loads(out)
    assert data["profile"] == "base" and data["profile_source"].startswith("config tune.profile (file ")
    assert code == 1  # swappiness 30 is too high for base's 1..10
    assert not any(f["check"].startswith("apache") for f in data["findings"])  # base does not look at Apache


def test_profiles_are_listed(run_cli: Any) -> None:
    code, out, _ = run_cli("tune", "profiles", "--format", "json")
    assert code == 0
    listed = {p["name"]: p for p in json.loads(out)}
    assert listed["web-guest"]["files"] == ["base.toml", "guest.toml", "web-guest.toml"]
    code, out, _ = run_cli("tune", "profiles")
    assert "kvm-host" in out and "base.toml < kvm-host.toml" not in out and "kvm-host.toml < base.toml" in out


def test_verbose_prints_reasons_of_passing_items(run_cli: Any) -> None:
    _, quiet, _ = run_cli("tune", "check", "--root", "web-guest/root")
    _, loud, _ = run_cli("tune", "check", "--root", "web-guest/root", "-v")
    assert quiet.count("why:") == 4 and loud.count("why:") > quiet.count("why:")


def test_an_unreachable_server_makes_only_the_slow_log_item_unknown(run_cli: Any) -> None:
    code, out, _ = run_cli(
        "--dsn", "mysql://nobody@127.0.0.1:1/", "tune", "check", "--root", "db-guest/root", "--format", "json"
    )
    data = json.loads(out)
    assert code == 1 and data["status"] == "WARNING"  # WARNING ranks above UNKNOWN
    assert data["counts"]["UNKNOWN"] == 1
    found = {f["check"]: f for f in data["findings"]}
    assert (
        found["mysql:server"]["status"] == "UNKNOWN" and "cannot connect" in found["mysql:server"]["reason"]
    )
    assert found["sysctl:vm.swappiness"]["status"] == "WARNING"  # the rest was still checked
    assert not any(c.startswith("mysql:") and c != "mysql:server" for c in found)
