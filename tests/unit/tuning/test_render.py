"""`tune render`: golden files for everything rendered from every fixture tree, the rollback
manifest, and the promises: never into system folders, never disabling barriers, the right
slow-log variables per flavour."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from support.golden import assert_golden
from tuning_cases import CASES, DATA

from sqlops.errors import UsageError
from sqlops.tuning import profiles, render
from sqlops.tuning.facts import Root
from sqlops.tuning.machine import Machine


def rendered_files(out: Path) -> dict[str, str]:
    return {str(p.relative_to(out)): p.read_text() for p in sorted(out.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("case", sorted(CASES))
def test_rendered_files_match_the_golden_files(run_cli: Any, tmp_path: Path, case: str) -> None:
    out = tmp_path / "out"
    code, stdout, _ = run_cli(
        "tune", "render", "--root", f"{case}/root", "--profile", CASES[case], "--out", str(out)
    )
    assert code == 0
    files = rendered_files(out)
    golden = DATA / case / "render"
    if not golden.exists():
        golden.mkdir()
    expected = {str(p.relative_to(golden)) for p in golden.rglob("*") if p.is_file()}
    for name, text in files.items():
        assert_golden(text, golden / name)
    if expected:
        assert set(files) == expected, "rendered a different set of files than the golden folder holds"
    assert_golden(stdout.replace(str(out.resolve()), "OUT"), DATA / case / "render.txt")


def manifest(tmp_path: Path, case: str, **kwargs: Any) -> dict[str, Any]:
    rendering = render.render(
        Machine(Root(DATA / case / "root")), profiles.load(kwargs.pop("profile", CASES[case])), **kwargs
    )
    render.write(rendering, tmp_path / "out")
    return json.loads((tmp_path / "out" / render.MANIFEST).read_text())


def changes(data: dict[str, Any], path: str) -> dict[str, dict[str, Any]]:
    file = next(f for f in data["files"] if f["path"] == path)
    return {c["setting"]: c for c in file["changes"]}


def test_the_manifest_carries_the_previous_value_of_everything_it_would_change(tmp_path: Path) -> None:
    data = manifest(tmp_path, "old-guest")
    sysctl = changes(data, "etc/sysctl.d/90-sqlops-db-guest.conf")
    assert sysctl["vm.swappiness"] == {
        "setting": "vm.swappiness",
        "new": "1",
        "previous": "0",
        "previous_source": "/proc/sys/vm/swappiness",
        "changed": True,
    }
    udev = changes(data, "etc/udev/rules.d/60-sqlops-iosched.rules")
    assert udev["sda scheduler"]["previous"] == "cfq" and udev["sda scheduler"]["new"] == "deadline"
    assert udev["sdb scheduler"]["changed"] is False
    mycnf = changes(data, "etc/mysql/mysql.conf.d/90-sqlops-slowlog.cnf")
    assert mycnf["long_query_time"]["previous"] == "2"
    assert mycnf["long_query_time"]["previous_source"] == "/etc/mysql/mysql.conf.d/mysqld.cnf:9"
    assert mycnf["log_queries_not_using_indexes"]["changed"] is False  # ON in the file already


def test_barriers_are_never_disabled_and_fstab_is_only_advice(tmp_path: Path) -> None:
    data = manifest(tmp_path, "old-guest")
    out = tmp_path / "out"
    advice = next(f for f in data["files"] if f["path"] == "fstab.advice")
    assert advice["target"] is None  # never installed
    text = (out / "fstab.advice").read_text()
    added = [line for line in text.splitlines() if line.startswith("+ ")]
    assert len(added) == 2 and not any("barrier" in line for line in added)
    for path in out.rglob("*"):
        if path.is_file() and path.name not in {"fstab.advice", render.MANIFEST}:  # advice, rollback record
            assert "barrier=0" not in path.read_text() and "nobarrier" not in path.read_text()


def test_mariadb_snippet_has_no_mysql_only_variables(tmp_path: Path) -> None:
    manifest(tmp_path, "db-guest")
    text = (tmp_path / "out" / "etc/mysql/mariadb.conf.d/90-sqlops-slowlog.cnf").read_text()
    settings = {
        line.split("=")[0].strip() for line in text.splitlines() if "=" in line and not line.startswith("#")
    }
    assert settings == {
        "slow_query_log",
        "long_query_time",
        "log_queries_not_using_indexes",
        "log_slow_verbosity",
    }


def test_mysql_snippet_from_flavour_option(tmp_path: Path) -> None:
    manifest(tmp_path, "web-guest", profile="db-guest", flavour="mysql")
    text = (tmp_path / "out" / "etc/mysql/mysql.conf.d/90-sqlops-slowlog.cnf").read_text()
    assert "log_slow_extra = ON" in text and "log_throttle_queries_not_using_indexes = 60" in text
    assert "log_slow_verbosity" not in text


def test_no_flavour_no_snippet_and_a_note(tmp_path: Path) -> None:
    rendering = render.render(Machine(Root(DATA / "pve-host" / "root")), profiles.load("db-guest"))
    assert not any("slowlog" in f.path for f in rendering.files)
    assert any("cannot tell MySQL from MariaDB" in n for n in rendering.notes)


def test_sysctl_absent_on_this_kernel_is_written_as_optional(tmp_path: Path) -> None:
    manifest(tmp_path, "db-guest")
    text = (tmp_path / "out" / "etc/sysctl.d/90-sqlops-db-guest.conf").read_text()
    assert "\n-vm.zone_reclaim_mode = 0\n" in text and "\nvm.swappiness = 1\n" in text


@pytest.mark.parametrize("where", ["/", "/etc", "/etc/sysctl.d", "/proc/sys", "/usr"])
def test_render_refuses_system_folders(where: str) -> None:
    with pytest.raises(UsageError):
        render.check_out_dir(Path(where))


def test_dry_run_writes_nothing_and_prints_the_files(run_cli: Any, tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, stdout, _ = run_cli("tune", "render", "--root", "db-guest/root", "--out", str(out), "--dry-run")
    assert code == 0 and not out.exists()
    assert "--- content ---" in stdout and "vm.swappiness = 1" in stdout


def test_render_into_etc_is_a_usage_error(run_cli: Any) -> None:
    code, _, err = run_cli("tune", "render", "--root", "db-guest/root", "--out", "/etc")
    assert code == 2 and "refusing to render into /etc" in err
