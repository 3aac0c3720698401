"""`tune capture`: a snapshot of exactly what the checks read replays to the same report, and
keeps secrets out."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from tuning_cases import CASES, DATA

from sqlops.errors import UsageError
from sqlops.tuning import capture, checks, profiles
from sqlops.tuning.facts import Root
from sqlops.tuning.machine import Machine


def report_of(root: Path, profile: str) -> dict[str, Any]:
    data = checks.run(Machine(Root(root)), profiles.load(profile), profile_source="test").to_json()
    data.pop("root")
    return data


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_capture_replays_to_the_same_report(tmp_path: Path, case: str) -> None:
    out = tmp_path / "capture"
    result = capture.capture(Root(DATA / case / "root"), out)
    assert result.copied and (out / capture.README).exists()
    assert report_of(out, CASES[case]) == report_of(DATA / case / "root", CASES[case])
    assert checks.detect_profile(Machine(Root(out))) == checks.detect_profile(
        Machine(Root(DATA / case / "root"))
    )


def test_capture_copies_only_what_the_checks_read(tmp_path: Path) -> None:
    out = tmp_path / "capture"
    result = capture.capture(Root(DATA / "db-guest" / "root"), out)
    assert "/etc/mysql/debian.cnf" not in result.copied  # not read by any check: not copied
    assert not (out / "etc/mysql/debian.cnf").exists()
    assert "/usr/sbin/mariadbd" in result.placeholders
    assert (out / "usr/sbin/mariadbd").read_text() == ""


def test_capture_removes_passwords_from_files_it_copies(tmp_path: Path) -> None:
    out = tmp_path / "capture"
    result = capture.capture(Root(DATA / "db-guest" / "root"), out)
    assert "/etc/mysql/conf.d/backup.cnf" in result.copied  # read for its [mysqld] settings
    text = (out / "etc/mysql/conf.d/backup.cnf").read_text()
    assert "s3cret-backup-pw" not in text and "password = (removed by sqlops tune capture)" in text
    assert "max_allowed_packet = 64M" in text
    for path in out.rglob("*"):
        if path.is_file():
            assert "s3cret" not in path.read_text() and "do-not-capture-me" not in path.read_text()


def test_capture_keeps_what_it_saw_even_if_the_file_changes_later(tmp_path: Path) -> None:
    root = tmp_path / "root"
    shutil.copytree(DATA / "web-guest" / "root", root)
    source = Root(root, keep_texts=True)
    capture.record(source)
    shutil.rmtree(root / "proc" / "703")  # the largest Apache child exits
    out = tmp_path / "capture"
    capture.capture(source, out)
    assert "Private_Dirty:    41984 kB" in (out / "proc/703/smaps_rollup").read_text()


def test_capture_wants_a_new_or_empty_folder(tmp_path: Path) -> None:
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "x").write_text("x")
    with pytest.raises(UsageError):
        capture.capture(Root(DATA / "db-guest" / "root"), busy)
    (tmp_path / "empty").mkdir()
    assert capture.capture(Root(DATA / "db-guest" / "root"), tmp_path / "empty").copied


def test_capture_command(run_cli: Any, tmp_path: Path) -> None:
    out = tmp_path / "capture"
    code, stdout, _ = run_cli(
        "tune", "capture", "--root", "pve-host/root", "--out", str(out), "--format", "json"
    )
    assert code == 0
    data = json.loads(stdout)
    assert "/etc/pve/qemu-server/103.conf" in data["copied"] and data["unreadable"] == []
    code, stdout, _ = run_cli("tune", "check", "--root", str(out), "--format", "json")
    assert json.loads(stdout)["profile"] == "kvm-host" and code == 2
