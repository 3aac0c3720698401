"""`tune check` on the fixture trees: golden JSON for every case, and the verdicts the issue asks
for asserted one by one (so a wrong golden cannot hide a wrong verdict)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from support.golden import assert_golden
from tuning_cases import CASES, DATA

from sqlops.tuning import checks, profiles
from sqlops.tuning.facts import Root
from sqlops.tuning.findings import worst
from sqlops.tuning.machine import Machine

EXIT = {"pve-host": 2, "db-guest": 1, "old-guest": 2, "web-guest": 1}


def check_json(run_cli: Any, case: str) -> tuple[int, dict[str, Any]]:
    code, out, err = run_cli(
        "tune", "check", "--root", f"{case}/root", "--profile", CASES[case], "--format", "json"
    )
    assert err == "", err
    return code, json.loads(out)


def by_check(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["check"]: f for f in report["findings"]}


@pytest.mark.parametrize("case", sorted(CASES))
def test_check_json_matches_the_golden_file(run_cli: Any, case: str) -> None:
    code, out, _ = run_cli(
        "tune", "check", "--root", f"{case}/root", "--profile", CASES[case], "--format", "json"
    )
    assert_golden(out, DATA / case / "check.json")
    report = json.loads(out)
    assert code == EXIT[case] == report["exit_code"]
    assert report["root"] == f"{case}/root"
    for finding in report["findings"]:
        assert finding["status"] in {"OK", "WARNING", "CRITICAL", "UNKNOWN", "SKIPPED"}
        assert finding["fact"], finding
        if finding["status"] in {"WARNING", "CRITICAL"}:
            assert finding["reason"] and finding["sources"], finding


@pytest.mark.parametrize("case", ["old-guest", "pve-host"])
def test_check_text_matches_the_golden_file(run_cli: Any, case: str) -> None:
    code, out, _ = run_cli("tune", "check", "--root", f"{case}/root", "--profile", CASES[case])
    assert code == EXIT[case]
    assert_golden(out, DATA / case / "check.txt")
    assert out.startswith(f"TUNE {'CRITICAL' if code == 2 else 'WARNING'} - {CASES[case]}: ")
    assert " | ok=" in out.splitlines()[0]  # Nagios performance data


def test_old_guest_old_advice_is_flagged(run_cli: Any) -> None:
    _, report = check_json(run_cli, "old-guest")
    found = by_check(report)
    swappiness = found["sysctl:vm.swappiness"]
    assert swappiness["status"] == "WARNING" and swappiness["observed"] == "0"
    assert "3.5" in swappiness["reason"] and any("fe35004f" in s for s in swappiness["sources"])
    assert found["sysctl:vm.zone_reclaim_mode"]["status"] == "WARNING"
    cfq = found["scheduler:sda"]
    assert cfq["status"] == "WARNING" and cfq["observed"] == "noop deadline [cfq]"
    assert "removed in Linux 5.0" in cfq["reason"]
    assert found["scheduler:sdb"]["status"] == "OK"  # [deadline] is right for a 4.19 kernel
    xfs = found["fstab:/var/lib/mysql"]
    assert xfs["status"] == "CRITICAL" and "4.19" in xfs["reason"] and xfs["fact"] == "/etc/fstab:4"
    ext4 = found["fstab:/"]
    assert ext4["status"] == "WARNING" and "UPS" in ext4["reason"]
    assert found["mounted:/"]["status"] == "WARNING"  # the running kernel has barriers off too
    assert found["nic:ens3"]["observed"] == "e1000" and found["nic:ens3"]["status"] == "WARNING"
    assert report["status"] == "CRITICAL"


def test_database_guest(run_cli: Any) -> None:
    _, report = check_json(run_cli, "db-guest")
    found = by_check(report)
    zone = found["sysctl:vm.zone_reclaim_mode"]
    assert zone["status"] == "SKIPPED" and "NUMA" in zone["reason"]  # absent is fine, not a crash
    assert found["thp:enabled"]["status"] == "WARNING" and found["thp:enabled"]["observed"] == "always"
    # MariaDB 10.11's own spellings in 50-server.cnf are understood
    assert found["mysql:slow_query_log"]["status"] == "OK"
    assert found["mysql:slow_query_log"]["fact"] == "/etc/mysql/mariadb.conf.d/50-server.cnf:48"
    assert found["mysql:long_query_time"]["observed"] == "2"
    assert found["mysql:log_slow_verbosity"]["status"] == "WARNING"
    assert "mysql:log_slow_extra" not in found and "mysql:log_throttle_queries_not_using_indexes" not in found


def test_proxmox_host(run_cli: Any) -> None:
    _, report = check_json(run_cli, "pve-host")
    found = by_check(report)
    assert found["cmdline:elevator"]["status"] == "WARNING"
    assert found["scheduler:sdb"]["status"] == "WARNING" and found["scheduler:nvme0n1"]["status"] == "OK"
    assert found["scheduler:dm-0"]["status"] == "SKIPPED"
    assert found["hugepages"]["status"] == "WARNING" and "VM 103" in found["hugepages"]["reason"]
    savings = found["ksm:savings"]
    assert savings["status"] == "OK" and "saved 2056 MiB" in savings["observed"]  # (524288 + 2048) x 4 KiB
    assert found["ksm:efficiency"]["status"] == "WARNING" and "= 12.0" in found["ksm:efficiency"]["observed"]
    assert found["ksm:tuner"]["status"] == "OK"  # ksmtuned runs, the kernel advisor is off
    assert found["ksmtuned:KSM_THRES_COEF"]["observed"] == "35"
    assert found["pve:101:scsi0"]["status"] == "OK" and found["pve:101:memory"]["status"] == "OK"
    assert found["pve:102:ide0"]["status"] == "WARNING" and "IDE" in found["pve:102:ide0"]["reason"]
    assert found["pve:102:net0"]["observed"] == "e1000"
    assert "pve:102:memory" not in found  # web1 is not a database guest: ballooning is fine
    assert found["pve:103:scsi0"]["status"] == "CRITICAL" and "unsafe" in found["pve:103:scsi0"]["reason"]
    assert found["pve:103:scsihw"]["observed"] == "lsi"
    assert "discard is off on thin storage (zfspool)" in found["pve:103:virtio0"]["reason"]
    assert found["pve:103:memory"]["status"] == "WARNING"
    assert "ide2" not in {k.split(":")[-1] for k in found if k.startswith("pve:101")}  # the CD-ROM is no disk


def test_web_guest_apache(run_cli: Any) -> None:
    _, report = check_json(run_cli, "web-guest")
    found = by_check(report)
    assert found["apache:MaxClients"]["expected"] == "MaxRequestWorkers"
    assert found["apache:MaxRequestsPerChild"]["expected"] == "MaxConnectionsPerChild"
    fit = found["apache:fit"]
    assert fit["status"] == "WARNING" and fit["observed"] == "150" and fit["expected"] == "<= 47"


def test_ksm_advisor_and_ksmtuned_together_is_a_warning(tmp_path: Path) -> None:
    import shutil

    root = tmp_path / "root"
    shutil.copytree(DATA / "pve-host" / "root", root)
    (root / "sys/kernel/mm/ksm/advisor_mode").write_text("none [scan-time]\n")
    report = checks.run(Machine(Root(root)), profiles.load("kvm-host"), profile_source="test")
    tuner = {f.check: f for f in report.findings}["ksm:tuner"]
    assert tuner.status == "WARNING" and "advisor_mode scan-time" in tuner.observed


def test_multi_tenant_host_with_ksm_running_is_critical(tmp_path: Path) -> None:
    (tmp_path / "p.toml").write_text(
        'summary = "hosting node"\ninclude = "kvm-host"\n[ksm]\n# sell VMs. https://example.org\nmulti_tenant = true\n'
    )
    report = checks.run(
        Machine(Root(DATA / "pve-host" / "root")), profiles.load("p", str(tmp_path)), profile_source="test"
    )
    assert {f.check: f for f in report.findings}["ksm:run"].status == "CRITICAL"


def test_an_empty_root_is_skipped_or_unknown_never_a_crash(tmp_path: Path) -> None:
    for name in profiles.available():
        report = checks.run(Machine(Root(tmp_path)), profiles.load(name), profile_source="test")
        statuses = {f.status for f in report.findings}
        assert statuses <= {"SKIPPED", "UNKNOWN", "OK"}, (name, statuses)
        assert report.findings


def test_overall_status_ranks_like_a_nagios_plugin() -> None:
    assert worst(["OK", "UNKNOWN"]) == "UNKNOWN"
    assert worst(["UNKNOWN", "WARNING"]) == "WARNING"
    assert worst(["WARNING", "CRITICAL", "UNKNOWN"]) == "CRITICAL"
    assert worst(["SKIPPED"]) == "OK" and worst([]) == "OK"


@pytest.mark.parametrize(
    ("case", "profile"),
    [
        ("pve-host", "kvm-host"),
        ("db-guest", "db-guest"),
        ("old-guest", "db-guest"),
        ("web-guest", "web-guest"),
    ],
)
def test_profile_detection(case: str, profile: str) -> None:
    assert checks.detect_profile(Machine(Root(DATA / case / "root")))[0] == profile


def test_detection_of_an_unknown_machine_is_base(tmp_path: Path) -> None:
    name, evidence = checks.detect_profile(Machine(Root(tmp_path)))
    assert name == "base" and "no Proxmox" in evidence


def test_apache_fit_without_meminfo_is_unknown(tmp_path: Path) -> None:
    import shutil

    root = tmp_path / "root"
    shutil.copytree(DATA / "web-guest" / "root", root)
    (root / "proc/meminfo").unlink()
    report = checks.run(Machine(Root(root)), profiles.load("web-guest"), profile_source="test")
    fit = {f.check: f for f in report.findings}["apache:fit"]
    assert fit.status == "UNKNOWN" and "/proc/meminfo" in fit.reason
