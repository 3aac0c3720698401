"""Reading facts under a root: pure parsers, and a Root that never leaves its folder and never
raises for a missing file."""

from __future__ import annotations

from pathlib import Path

from tuning_cases import DATA

from sqlops.tuning import facts
from sqlops.tuning.facts import Root


def test_parse_scheduler_modern_legacy_and_stacked() -> None:
    modern = facts.parse_scheduler("[mq-deadline] kyber bfq none\n")
    assert modern is not None and modern.active == "mq-deadline"
    assert modern.available == ("mq-deadline", "kyber", "bfq", "none")
    legacy = facts.parse_scheduler("noop deadline [cfq]")
    assert legacy is not None and legacy.active == "cfq" and set(legacy.available) == facts.LEGACY_SCHEDULERS
    stacked = facts.parse_scheduler("none")
    assert stacked is not None and stacked.active is None
    assert facts.parse_scheduler("") is None


def test_parse_kernel_version_and_cmdline() -> None:
    assert facts.parse_kernel_version("6.8.12-4-pve") == (6, 8)
    assert facts.parse_kernel_version("4.19.0-27-amd64\n") == (4, 19)
    assert facts.parse_kernel_version(None) is None
    params = facts.cmdline_params("BOOT_IMAGE=/vmlinuz ro quiet elevator=deadline -- --init-arg=1")
    assert params["elevator"] == "deadline" and params["quiet"] == "" and "--init-arg" not in params


def test_parse_meminfo_and_fstab() -> None:
    info = facts.parse_meminfo("MemTotal:  4194304 kB\nHugePages_Total:    1024\nHugepagesize: 2048 kB\n")
    assert info == {"MemTotal": 4194304, "HugePages_Total": 1024, "Hugepagesize": 2048}
    entries = facts.parse_fstab("# comment\n\nUUID=1 / ext4 errors=remount-ro,barrier=0 0 1\nbroken line\n")
    assert len(entries) == 1
    assert entries[0].line == 3 and entries[0].fstype == "ext4" and "barrier=0" in entries[0].options


def test_bracketed_selector() -> None:
    assert facts.bracketed("always [madvise] never") == "madvise"
    assert facts.bracketed("[none] scan-time") == "none"
    assert facts.bracketed("0\n") == "0"
    assert facts.bracketed(None) is None


def test_root_reports_why_a_file_has_no_value(tmp_path: Path) -> None:
    (tmp_path / "proc" / "sys" / "vm").mkdir(parents=True)
    (tmp_path / "proc" / "sys" / "vm" / "swappiness").write_text("60\n")
    root = Root(tmp_path)
    read = facts.sysctl(root, "vm.swappiness")
    assert read.ok and read.value == "60" and read.path == "/proc/sys/vm/swappiness"
    missing = facts.sysctl(root, "vm.zone_reclaim_mode")
    assert not missing.ok and missing.problem == "absent"
    folder = root.read("/proc/sys/vm")
    assert folder.problem == "is a directory"
    assert root.reads == {
        "/proc/sys/vm/swappiness": "read",
        "/proc/sys/vm/zone_reclaim_mode": "absent",
        "/proc/sys/vm": "is a directory",
    }


def test_root_does_not_follow_links_out_of_the_root(tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("secret of the real machine\n")
    root_dir = tmp_path / "root"
    (root_dir / "etc").mkdir(parents=True)
    (root_dir / "etc" / "fstab").symlink_to(outside)
    (root_dir / "etc" / "inside").write_text("fine\n")
    (root_dir / "etc" / "hosts").symlink_to("inside")
    root = Root(root_dir)
    escaped = root.read("/etc/fstab")
    assert escaped.text is None and escaped.problem == "points outside --root"
    assert root.read("/etc/hosts").value == "fine"
    assert not root.exists("/etc/fstab")


def test_block_devices_skip_loop_and_optical_and_mark_stacked() -> None:
    devices = {d.name: d for d in facts.block_devices(Root(DATA / "pve-host" / "root"))}
    assert set(devices) == {"dm-0", "nvme0n1", "sda", "sdb"}  # loop0 left out
    assert devices["dm-0"].kind == "stacked" and devices["sda"].kind == "disk"
    assert devices["nvme0n1"].is_rotational is False and devices["sda"].is_rotational is True
    guest = {d.name for d in facts.block_devices(Root(DATA / "db-guest" / "root"))}
    assert guest == {"vda", "vdb"}  # sr0 left out


def test_mysql_options_follow_includes_under_the_root_and_normalise_names() -> None:
    options = facts.mysql_server_options(Root(DATA / "db-guest" / "root"))
    assert options["log_slow_query"].value == "1"
    assert options["log_slow_query_time"].where == "/etc/mysql/mariadb.conf.d/50-server.cnf:49"
    assert options["max_allowed_packet"].value == "64M"  # [mysqld] of conf.d/backup.cnf
    assert "password" not in options  # [client] group is not the server's
    assert "quick" not in options  # [mysqldump]
    old = facts.mysql_server_options(Root(DATA / "old-guest" / "root"))
    assert old["log_queries_not_using_indexes"].value == "ON"  # a bare flag
    assert old["long_query_time"].value == "2"


def test_mysql_flavour_hint() -> None:
    assert facts.mysql_flavour_hint(Root(DATA / "db-guest" / "root"))[0] == "mariadb"
    assert facts.mysql_flavour_hint(Root(DATA / "old-guest" / "root"))[0] == "mysql"
    assert facts.mysql_flavour_hint(Root(DATA / "pve-host" / "root"))[0] is None


def test_apache_config_finds_the_mpm_and_old_directive_names() -> None:
    conf = facts.apache_config(Root(DATA / "web-guest" / "root"))
    assert conf.present and conf.mpm == "prefork"
    assert conf.directives["MaxClients"].value == "150"
    assert conf.directives["MaxClients"].where == "/etc/apache2/mods-enabled/mpm_prefork.conf:12"
    assert "MaxRequestWorkers" not in conf.directives
    assert not facts.apache_config(Root(DATA / "db-guest" / "root")).present


def test_processes_and_nics() -> None:
    procs = {p.pid: p for p in facts.processes(Root(DATA / "web-guest" / "root"))}
    assert procs[703].name == "apache2" and procs[703].ppid == 700 and procs[703].rss_kib == 91000
    assert procs[2].rss_kib is None  # a kernel thread
    nics = facts.nics(Root(DATA / "old-guest" / "root"))
    assert [(n.name, n.driver) for n in nics] == [("ens3", "e1000")]
