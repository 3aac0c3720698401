"""Check a machine against a profile: every item reads one fact and becomes a Finding.

A fact that does not exist on the target (no KSM in the kernel, no /etc/pve on a guest, no
``zone_reclaim_mode`` without NUMA) is SKIPPED with the reason; one that exists but cannot be
read is UNKNOWN. Nothing here raises for a missing file, so ``tune check --root /`` works in a
container as well as on a Proxmox node.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING

from sqlops.tuning import facts, proxmox, slowlog, sources
from sqlops.tuning.apache import apache
from sqlops.tuning.facts import LEGACY_SCHEDULERS, parse_fstab
from sqlops.tuning.findings import Finding, Report, Status, finding, unavailable
from sqlops.tuning.machine import Machine
from sqlops.tuning.memory import hugepages, ksm, ksmtuned, thp
from sqlops.tuning.profiles import Profile

if TYPE_CHECKING:
    from sqlops.db import Session


def run(
    machine: Machine,
    profile: Profile,
    *,
    profile_source: str,
    session: Session | None = None,
    server_error: str | None = None,
) -> Report:
    """All checks of `profile`. `session` reads the slow-log settings from a server;
    `server_error` says why the configured server could not be reached (UNKNOWN, and the
    other checks still run)."""
    findings: list[Finding] = []
    for check in CHECKS:
        findings.extend(check(machine, profile))
    findings.extend(mysql_checks(machine, profile, session, server_error))
    return Report(profile.name, profile.files, profile_source, machine.root.given, tuple(findings))


def run_with_server(
    machine: Machine,
    profile: Profile,
    *,
    profile_source: str,
    session_for: Callable[[], AbstractContextManager[Session | None]],
) -> Report:
    """:func:`run` with the session `session_for()` opens (None: no server to check). When the
    server cannot be reached, the other checks still run and the slow-log item is UNKNOWN."""
    from sqlops.errors import ConnectError

    try:
        with session_for() as session:
            return run(machine, profile, profile_source=profile_source, session=session)
    except ConnectError as exc:
        return run(machine, profile, profile_source=profile_source, server_error=exc.what)


# --------------------------------------------------------------------------------------------
# Kernel and sysctl


def kernel(m: Machine, profile: Profile) -> list[Finding]:
    if not m.kernel.ok:
        return [unavailable("kernel", "kernel release", m.kernel, None, None)]
    note = "Kernel release, for context."
    status: Status = "OK"
    if m.legacy_block_layer:
        note = (
            "Kernels before 5.0 still use the single-queue block layer (noop/deadline/cfq); "
            "every current distribution kernel is 5.10 or newer and only has none/mq-deadline/bfq/kyber."
        )
    return [
        finding(
            "kernel",
            "kernel release",
            status,
            m.kernel.value,
            None,
            reason=note,
            cite=(sources.KERNEL_LEGACY_SCHED_REMOVED,) if m.legacy_block_layer else (),
            fact=m.kernel.path,
        )
    ]


ABSENT_SYSCTL = {
    "vm.zone_reclaim_mode": "the kernel has no NUMA support (the file exists only with CONFIG_NUMA); "
    "the value it would have is 0, the default since Linux 3.16.",
}


def sysctls(m: Machine, profile: Profile) -> list[Finding]:
    out = []
    for pv in profile.section("sysctl"):
        name, expect = pv.key, pv.value
        read = facts.sysctl(m.root, name)
        title = f"sysctl {name}"
        if not read.ok:
            out.append(
                unavailable(
                    f"sysctl:{name}",
                    title,
                    read,
                    expect.describe(),
                    pv,
                    absent_reason=ABSENT_SYSCTL.get(name, ""),
                )
            )
            continue
        observed = " ".join((read.value or "").split())
        ok = expect.accepts(observed)
        reason = ""
        cite: tuple[str, ...] = ()
        if name == "vm.swappiness" and observed == "0":
            reason = (
                "0 is old advice: since Linux 3.5 it disables swapping until the zone is almost empty, "
                "and MySQL was OOM-killed with free page cache."
            )
            cite = (sources.KERNEL_SWAPPINESS_0, sources.PERCONA_SWAPPINESS_0_OOM)
        out.append(
            finding(
                f"sysctl:{name}",
                title,
                "OK" if ok else "WARNING",
                observed,
                expect.describe(),
                pv,
                reason=reason,
                cite=cite,
                fact=read.path,
            )
        )
    return out


def elevator_param(m: Machine, profile: Profile) -> list[Finding]:
    if not m.cmdline.ok:
        return [unavailable("cmdline:elevator", "elevator= boot parameter", m.cmdline, "absent", None)]
    value = facts.cmdline_params(m.cmdline.text).get("elevator")
    cite = (sources.KERNEL_ELEVATOR_PARAM_REMOVED, sources.KERNEL_ELEVATOR_PARAM_WARNING)
    if value is None:
        return [
            finding(
                "cmdline:elevator",
                "elevator= boot parameter",
                "OK",
                "absent",
                "absent",
                reason="I/O schedulers are set per device by udev rule, not on the kernel command line.",
                cite=cite,
                fact=m.cmdline.path,
            )
        ]
    legacy = m.legacy_block_layer
    reason = (
        "elevator= still works on this pre-5.0 kernel but stops working on upgrade: it was removed in 5.4 "
        "(5.5+ only logs a warning). Set the scheduler with a udev rule instead."
        if legacy
        else "elevator= does nothing on this kernel (removed in Linux 5.4; 5.5+ only logs a warning). "
        "Remove it from GRUB_CMDLINE_LINUX and set schedulers with a udev rule."
    )
    return [
        finding(
            "cmdline:elevator",
            "elevator= boot parameter",
            "WARNING",
            f"elevator={value}",
            "absent",
            reason=reason,
            cite=cite,
            fact=m.cmdline.path,
        )
    ]


# --------------------------------------------------------------------------------------------
# I/O schedulers

LEGACY_EQUIVALENT = {"deadline": "mq-deadline", "noop": "none"}


def schedulers(m: Machine, profile: Profile) -> list[Finding]:
    out = []
    devices = m.block_devices
    if not devices:
        read = m.root.read("/sys/block")
        return [
            finding(
                "scheduler",
                "I/O schedulers",
                "SKIPPED",
                None,
                None,
                reason="no block devices under /sys/block (a container, or a capture without /sys)",
                fact=read.path,
            )
        ]
    for dev in devices:
        check, title = f"scheduler:{dev.name}", f"I/O scheduler of {dev.name}"
        rotational = dev.is_rotational
        pv = profile.get("block", "nonrotational" if rotational is False else "rotational")
        allowed: tuple[str, ...] = pv.value if pv else ()
        expected = " or ".join(allowed) if allowed else None
        if not dev.scheduler.ok:
            out.append(unavailable(check, title, dev.scheduler, expected, pv))
            continue
        parsed = dev.parsed
        observed = " ".join((dev.scheduler.value or "").split())
        if dev.kind == "stacked" or parsed is None or parsed.active is None:
            out.append(
                finding(
                    check,
                    title,
                    "SKIPPED",
                    observed,
                    None,
                    reason=f"{dev.name} is a device-mapper/MD device: it passes I/O to the disks below, "
                    "whose schedulers are checked.",
                    fact=dev.scheduler.path,
                )
            )
            continue
        kind = "rotational" if rotational is not False else "non-rotational"
        reason, cite = f"{kind} disk.", tuple[str, ...]()
        ok = parsed.active in allowed
        if LEGACY_SCHEDULERS & set(parsed.available):
            equivalent = LEGACY_EQUIVALENT.get(parsed.active)
            ok = equivalent in allowed
            legacy_expected = (
                " or ".join(k for k, v in LEGACY_EQUIVALENT.items() if v in allowed) or "deadline"
            )
            reason = (
                f"legacy single-queue scheduler names ({kind} disk): noop, deadline and cfq were removed in "
                f"Linux 5.0, which only has none, mq-deadline, bfq and kyber. "
                + (
                    f"{parsed.active} is this kernel's counterpart of {equivalent}. "
                    if ok
                    else "cfq idles per process and starves a database's I/O; use "
                    f"{legacy_expected} until the kernel is upgraded. "
                )
            )
            expected = f"{legacy_expected} (after upgrade: {expected})"
            cite = (sources.KERNEL_LEGACY_SCHED_REMOVED, sources.KERNEL_SWITCHING_SCHED)
        status: Status = "OK" if ok else "WARNING"
        out.append(
            finding(
                check,
                title,
                status,
                observed,
                expected,
                pv,
                reason=reason,
                cite=cite,
                fact=dev.scheduler.path,
            )
        )
    return out


# --------------------------------------------------------------------------------------------
# Mounts


BARRIER_OFF = ("nobarrier", "barrier=0", "barrier=off")


def _barrier_problem(entry: facts.MountEntry, where: str) -> tuple[Status, str, tuple[str, ...]] | None:
    off = [o for o in entry.options if o in BARRIER_OFF]
    if not off:
        return None
    if entry.fstype == "xfs":
        return (
            "CRITICAL",
            f"XFS has no {off[0]} option since Linux 4.19: mounting fails, and for / or /var the boot stops "
            f"in emergency mode. Remove it from {where}.",
            (sources.XFS_NOBARRIER_REMOVED,),
        )
    return (
        "WARNING",
        f"{off[0]} lets the disk reorder or drop cache flushes: a kernel panic or a host crash corrupts the "
        "journal and InnoDB's files, and a UPS covers neither. Red Hat's tuned removed barrier disabling "
        "to prevent data loss. Never render it; remove it.",
        (sources.TUNED_NOBARRIER_REMOVED, sources.EXT4_MOUNT_OPTIONS),
    )


def mounts(m: Machine, profile: Profile) -> list[Finding]:
    out = []
    for read, label in ((m.fstab, "fstab"), (m.mounts, "mounted")):
        if not read.ok:
            out.append(
                unavailable(f"{label}:barriers", f"write barriers ({read.path})", read, "barriers on", None)
            )
            continue
        flagged = False
        for entry in parse_fstab(read.text):
            problem = _barrier_problem(entry, read.path)
            if problem is None:
                continue
            flagged = True
            status, reason, cite = problem
            out.append(
                finding(
                    f"{label}:{entry.mountpoint}",
                    f"write barriers on {entry.mountpoint} ({entry.fstype})",
                    status,
                    ",".join(entry.options),
                    "barriers on (no nobarrier/barrier=0)",
                    reason=reason,
                    cite=cite,
                    fact=f"{read.path}:{entry.line}",
                )
            )
        if not flagged:
            out.append(
                finding(
                    f"{label}:barriers",
                    f"write barriers ({read.path})",
                    "OK",
                    "no nobarrier/barrier=0",
                    "barriers on",
                    reason="no file system disables write barriers.",
                    cite=(sources.TUNED_NOBARRIER_REMOVED,),
                    fact=read.path,
                )
            )
    return out


# --------------------------------------------------------------------------------------------
# Guest devices, Proxmox guests, Apache


def nics(m: Machine, profile: Profile) -> list[Finding]:
    pv = profile.get("virtio", "nic_driver")
    if pv is None:
        return []
    found = m.nics
    if not found:
        return [
            finding(
                "nic",
                "network interfaces",
                "SKIPPED",
                None,
                pv.value,
                pv,
                reason="no network interface with a device behind it under /sys/class/net.",
                fact="/sys/class/net",
            )
        ]
    return [
        finding(
            f"nic:{nic.name}",
            f"NIC {nic.name} driver",
            "OK" if nic.driver == pv.value else "WARNING",
            nic.driver or "unknown",
            pv.value,
            pv,
            fact=nic.uevent.path,
        )
        for nic in found
    ]


def pve(m: Machine, profile: Profile) -> list[Finding]:
    if not profile.has("proxmox"):
        return []
    node = m.pve
    if node is None:
        return [
            finding(
                "pve",
                "Proxmox guest configurations",
                "SKIPPED",
                None,
                None,
                reason=f"{proxmox.QEMU_SERVER} does not exist: not a Proxmox VE node (or not captured).",
                cite=(sources.PVE_QM_CONF,),
                fact=proxmox.QEMU_SERVER,
            )
        ]
    if not node.vms:
        return [
            finding(
                "pve",
                "Proxmox guest configurations",
                "SKIPPED",
                "no VMs",
                None,
                reason="no <vmid>.conf files.",
                fact=proxmox.QEMU_SERVER,
            )
        ]
    return proxmox.lint(node, profile)


# --------------------------------------------------------------------------------------------
# MySQL / MariaDB slow log


def mysql_checks(
    m: Machine, profile: Profile, session: Session | None, server_error: str | None = None
) -> list[Finding]:
    if not profile.has("mysql"):
        return []
    if server_error is not None:
        return [
            finding(
                "mysql:server",
                "slow query log settings",
                "UNKNOWN",
                None,
                None,
                reason=f"cannot read them from the server: {server_error}",
                cite=(sources.MYSQL_SLOW_LOG,),
                fact="server",
            )
        ]
    if session is not None:
        flavour = session.info.flavour
        version = session.info.version
        observed = slowlog.from_server(session, slowlog.variables(profile, flavour, version))
        return slowlog.check(profile, flavour, observed, version)
    flavour_hint, evidence = facts.mysql_flavour_hint(m.root)
    if flavour_hint is None:
        return [
            finding(
                "mysql",
                "slow query log",
                "SKIPPED",
                None,
                None,
                reason=f"no MySQL/MariaDB server installed under --root ({evidence}); "
                "give a DSN (sqlops --dsn URL tune check) to check a server.",
                cite=(sources.MYSQL_SLOW_LOG,),
                fact="/usr/sbin",
            )
        ]
    observed = slowlog.from_option_files(m.root, slowlog.variables(profile, flavour_hint))
    return slowlog.check(profile, flavour_hint, observed, None)


CHECKS: tuple[Callable[[Machine, Profile], list[Finding]], ...] = (
    kernel,
    sysctls,
    elevator_param,
    schedulers,
    thp,
    hugepages,
    ksm,
    ksmtuned,
    mounts,
    nics,
    pve,
    apache,
)


# --------------------------------------------------------------------------------------------
# Which profile fits this machine


DETECTION = (
    ("/etc/pve/qemu-server", "kvm-host"),
    ("/usr/bin/qm", "kvm-host"),
    ("/usr/sbin/apache2", "web-guest"),  # a web guest may run a local MySQL; a DB guest no Apache
    ("/usr/sbin/mariadbd", "db-guest"),
    ("/usr/sbin/mysqld", "db-guest"),
    ("/usr/sbin/squid", "web-guest"),
)


def detect_profile(m: Machine) -> tuple[str, str]:
    """(profile name, evidence) from what is installed under the root; "base" when nothing fits."""
    for target, name in DETECTION:
        if m.root.exists(target):
            return name, f"detected: {target} exists"
    return "base", "detected: no Proxmox, database or web server found"
