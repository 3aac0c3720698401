"""Check a machine against a profile: every item reads one fact and becomes a Finding.

A fact that does not exist on the target (no KSM in the kernel, no /etc/pve on a guest, no
``zone_reclaim_mode`` without NUMA) is SKIPPED with the reason; one that exists but cannot be
read is UNKNOWN. Nothing here raises for a missing file, so ``tune check --root /`` works in a
container as well as on a Proxmox node.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from sqlops.tuning import facts, proxmox, slowlog, sources
from sqlops.tuning.facts import LEGACY_SCHEDULERS, Read, bracketed, parse_fstab, parse_shell_assignments
from sqlops.tuning.findings import Finding, Report, Status
from sqlops.tuning.machine import Machine
from sqlops.tuning.prefork import APACHE_NAMES, size
from sqlops.tuning.profiles import Profile, ProfileValue

if TYPE_CHECKING:
    from sqlops.db import Session

PAGE_KIB = 4  # x86-64 base page; KSM counters are in pages


def run(
    machine: Machine,
    profile: Profile,
    *,
    profile_source: str,
    session: Session | None = None,
) -> Report:
    findings: list[Finding] = []
    for check in CHECKS:
        findings.extend(check(machine, profile))
    findings.extend(mysql_checks(machine, profile, session))
    return Report(profile.name, profile.files, profile_source, machine.root.given, tuple(findings))


def _finding(
    check: str,
    title: str,
    status: Status,
    observed: str | None,
    expected: str | None,
    pv: ProfileValue | None = None,
    *,
    reason: str = "",
    cite: tuple[str, ...] = (),
    fact: str = "",
) -> Finding:
    """A finding whose reason and sources come from the profile comment, plus our own notes."""
    why = " ".join(part for part in (reason, pv.why if pv else "") if part)
    return Finding(check, title, status, observed, expected, why, tuple(dict.fromkeys((*cite, *(pv.sources if pv else ())))), fact)


def _unavailable(check: str, title: str, read: Read, expected: str | None, pv: ProfileValue | None, *, absent_reason: str = "") -> Finding:
    """SKIPPED when the file does not exist on this machine, UNKNOWN when it cannot be read."""
    if read.problem == "absent":
        reason = absent_reason or f"{read.path} does not exist on this machine."
        return _finding(check, title, "SKIPPED", None, expected, pv, reason=reason, fact=read.path)
    return _finding(check, title, "UNKNOWN", None, expected, pv, reason=f"cannot read {read.why_missing()}.", fact=read.path)


# --------------------------------------------------------------------------------------------
# Kernel and sysctl


def kernel(m: Machine, profile: Profile) -> list[Finding]:
    if not m.kernel.ok:
        return [_unavailable("kernel", "kernel release", m.kernel, None, None)]
    note = "Kernel release, for context."
    status: Status = "OK"
    if m.legacy_block_layer:
        note = (
            "Kernels before 5.0 still use the single-queue block layer (noop/deadline/cfq); "
            "every current distribution kernel is 5.10 or newer and only has none/mq-deadline/bfq/kyber."
        )
    return [
        _finding("kernel", "kernel release", status, m.kernel.value, None, reason=note,
                 cite=(sources.KERNEL_LEGACY_SCHED_REMOVED,) if m.legacy_block_layer else (), fact=m.kernel.path)
    ]  # fmt: skip


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
            out.append(_unavailable(f"sysctl:{name}", title, read, expect.describe(), pv, absent_reason=ABSENT_SYSCTL.get(name, "")))
            continue
        observed = " ".join((read.value or "").split())
        ok = expect.accepts(observed)
        reason, cite = "", ()
        if name == "vm.swappiness" and observed == "0":
            reason = ("0 is old advice: since Linux 3.5 it disables swapping until the zone is almost empty, "
                      "and MySQL was OOM-killed with free page cache.")  # fmt: skip
            cite = (sources.KERNEL_SWAPPINESS_0, sources.PERCONA_SWAPPINESS_0_OOM)
        out.append(_finding(f"sysctl:{name}", title, "OK" if ok else "WARNING", observed, expect.describe(), pv,
                            reason=reason, cite=cite, fact=read.path))  # fmt: skip
    return out


def elevator_param(m: Machine, profile: Profile) -> list[Finding]:
    if not m.cmdline.ok:
        return [_unavailable("cmdline:elevator", "elevator= boot parameter", m.cmdline, "absent", None)]
    value = facts.cmdline_params(m.cmdline.text).get("elevator")
    cite = (sources.KERNEL_ELEVATOR_PARAM_REMOVED, sources.KERNEL_ELEVATOR_PARAM_WARNING)
    if value is None:
        return [_finding("cmdline:elevator", "elevator= boot parameter", "OK", "absent", "absent",
                         reason="I/O schedulers are set per device by udev rule, not on the kernel command line.",
                         cite=cite, fact=m.cmdline.path)]  # fmt: skip
    legacy = m.legacy_block_layer
    reason = (
        "elevator= still works on this pre-5.0 kernel but stops working on upgrade: it was removed in 5.4 "
        "(5.5+ only logs a warning). Set the scheduler with a udev rule instead."
        if legacy
        else "elevator= does nothing on this kernel (removed in Linux 5.4; 5.5+ only logs a warning). "
        "Remove it from GRUB_CMDLINE_LINUX and set schedulers with a udev rule."
    )
    return [_finding("cmdline:elevator", "elevator= boot parameter", "WARNING", f"elevator={value}", "absent",
                     reason=reason, cite=cite, fact=m.cmdline.path)]  # fmt: skip


# --------------------------------------------------------------------------------------------
# I/O schedulers

LEGACY_EQUIVALENT = {"deadline": "mq-deadline", "noop": "none"}


def schedulers(m: Machine, profile: Profile) -> list[Finding]:
    out = []
    devices = m.block_devices
    if not devices:
        read = m.root.read("/sys/block")
        return [_finding("scheduler", "I/O schedulers", "SKIPPED", None, None,
                         reason="no block devices under /sys/block (a container, or a capture without /sys)",
                         fact=read.path)]  # fmt: skip
    for dev in devices:
        check, title = f"scheduler:{dev.name}", f"I/O scheduler of {dev.name}"
        rotational = dev.is_rotational
        pv = profile.get("block", "nonrotational" if rotational is False else "rotational")
        allowed: tuple[str, ...] = pv.value if pv else ()
        expected = " or ".join(allowed) if allowed else None
        if not dev.scheduler.ok:
            out.append(_unavailable(check, title, dev.scheduler, expected, pv))
            continue
        parsed = dev.parsed
        observed = " ".join((dev.scheduler.value or "").split())
        if dev.kind == "stacked" or parsed is None or parsed.active is None:
            out.append(_finding(check, title, "SKIPPED", observed, None,
                                reason=f"{dev.name} is a device-mapper/MD device: it passes I/O to the disks below, "
                                "whose schedulers are checked.", fact=dev.scheduler.path))  # fmt: skip
            continue
        kind = "rotational" if rotational is not False else "non-rotational"
        if LEGACY_SCHEDULERS & set(parsed.available):
            equivalent = LEGACY_EQUIVALENT.get(parsed.active)
            ok = equivalent in allowed
            legacy_expected = " or ".join(k for k, v in LEGACY_EQUIVALENT.items() if v in allowed)
            reason = (
                f"legacy single-queue scheduler names ({kind} disk): noop, deadline and cfq were removed in "
                f"Linux 5.0, which only has none, mq-deadline, bfq and kyber. "
                + (f"{parsed.active} is this kernel's counterpart of {equivalent}. " if ok else
                   f"cfq idles per process and starves a database's I/O; use {legacy_expected or 'deadline'} "
                   "until the kernel is upgraded. ")
            )  # fmt: skip
            out.append(_finding(check, title, "OK" if ok else "WARNING", observed,
                                f"{legacy_expected or 'deadline'} (after upgrade: {expected})", pv, reason=reason,
                                cite=(sources.KERNEL_LEGACY_SCHED_REMOVED, sources.KERNEL_SWITCHING_SCHED),
                                fact=dev.scheduler.path))  # fmt: skip
            continue
        ok = parsed.active in allowed
        out.append(_finding(check, title, "OK" if ok else "WARNING", observed, expected, pv,
                            reason=f"{kind} disk.", fact=dev.scheduler.path))  # fmt: skip
    return out


# --------------------------------------------------------------------------------------------
# Memory: THP, hugetlb, KSM


def thp(m: Machine, profile: Profile) -> list[Finding]:
    out = []
    for key in ("enabled", "defrag"):
        pv = profile.get("thp", key)
        if pv is None:
            continue
        read = facts.thp_setting(m.root, key)
        title = f"transparent_hugepage/{key}"
        expected = " or ".join(pv.value)
        if not read.ok:
            out.append(_unavailable(f"thp:{key}", title, read, expected, pv,
                                    absent_reason="the kernel has no transparent huge page support."))  # fmt: skip
            continue
        active = bracketed(read.text)
        out.append(_finding(f"thp:{key}", title, "OK" if active in pv.value else "WARNING", active, expected, pv,
                            fact=read.path))  # fmt: skip
    return out


def hugepages(m: Machine, profile: Profile) -> list[Finding]:
    pv = profile.get("hugepages", "allow_unused")
    if pv is None:
        return []
    if not m.meminfo_read.ok:
        return [_unavailable("hugepages", "reserved hugetlb pages", m.meminfo_read, None, pv)]
    info = m.meminfo
    total, free = info.get("HugePages_Total", 0), info.get("HugePages_Free", 0)
    size_kib = info.get("Hugepagesize", 2048)
    users = proxmox.hugepage_vms(m.pve)
    if total == 0:
        return [_finding("hugepages", "reserved hugetlb pages", "OK", "0 reserved", "none, or all in use", pv,
                         fact=m.meminfo_read.path)]  # fmt: skip
    used = total - free
    observed = f"{total} x {size_kib // 1024} MiB reserved, {used} in use"
    if used == 0 and not pv.value:
        reason = f"{total * size_kib // 1024} MiB are set aside and nothing maps them."
        if m.pve is not None:
            reason += f" VMs configured with hugepages: {', '.join(users) if users else 'none'}."
        return [_finding("hugepages", "reserved hugetlb pages", "WARNING", observed, "none, or all in use", pv,
                         reason=reason, cite=(sources.KERNEL_HUGETLB,), fact=m.meminfo_read.path)]  # fmt: skip
    return [_finding("hugepages", "reserved hugetlb pages", "OK", observed, "none, or all in use", pv,
                     fact=m.meminfo_read.path)]  # fmt: skip


def ksm(m: Machine, profile: Profile) -> list[Finding]:
    run_pv = profile.get("ksm", "run")
    if run_pv is None:
        return []
    k = m.ksm
    if not k.present:
        return [_finding("ksm:run", "KSM", "SKIPPED", None, None, run_pv,
                         reason="/sys/kernel/mm/ksm does not exist: the kernel is built without KSM.",
                         fact=facts.KSM_DIR)]  # fmt: skip
    run = k.number("run")
    if run is None:
        return [_unavailable("ksm:run", "KSM run", k.files["run"], None, run_pv)]
    allowed = run_pv.value
    multi_tenant = bool(profile.value("ksm", "multi_tenant", False))
    status: Status = "OK" if run in allowed else "WARNING"
    reason = ""
    if multi_tenant and run == 1:
        status, reason = "CRITICAL", "this profile is for a multi-tenant host and KSM is running."
    observed = f"run={run} pages_to_scan={k.text('pages_to_scan')} sleep_millisecs={k.text('sleep_millisecs')}"
    out = [_finding("ksm:run", "KSM (ksmd)", status, observed, "run in " + "/".join(map(str, allowed)), run_pv,
                    reason=reason, cite=(sources.KERNEL_KSM,), fact=k.files["run"].path)]  # fmt: skip
    if run == 1 or (k.number("pages_sharing") or 0) > 0:
        out.extend(_ksm_effect(m, profile))
    out.extend(_ksm_tuner(m))
    return out


def _ksm_effect(m: Machine, profile: Profile) -> list[Finding]:
    k = m.ksm
    sharing, zero = k.number("pages_sharing") or 0, k.number("ksm_zero_pages") or 0
    unshared = k.number("pages_unshared") or 0
    saved_mib = (sharing + zero) * PAGE_KIB / 1024
    profit = k.number("general_profit")
    observed = f"saved {saved_mib:.0f} MiB (pages_sharing {sharing} + ksm_zero_pages {zero})"
    if profit is not None:
        observed += f", general_profit {profit / 1024 / 1024:.0f} MiB"
    status: Status = "OK"
    reason = "What KSM saves is pages_sharing + ksm_zero_pages; general_profit subtracts its own metadata."
    if profit is not None and profit < 0:
        status = "WARNING"
        reason = "general_profit is negative: KSM's metadata costs more memory than merging saves. " + reason
    out = [_finding("ksm:savings", "KSM savings", status, observed, "general_profit >= 0", None, reason=reason,
                    cite=(sources.KERNEL_KSM,), fact=k.files["pages_sharing"].path)]  # fmt: skip
    limit_pv = profile.get("ksm", "max_unshared_ratio")
    if limit_pv is not None:
        scans = k.number("full_scans") or 0
        ratio = unshared / sharing if sharing else (float("inf") if unshared else 0.0)
        shown = "inf" if ratio == float("inf") else f"{ratio:.1f}"
        observed = f"pages_unshared/pages_sharing = {unshared}/{sharing} = {shown}, full_scans {scans}, smart_scan {k.text('smart_scan') or 'n/a'}"
        if scans == 0:
            out.append(_finding("ksm:efficiency", "KSM effort", "SKIPPED", observed, f"<= {limit_pv.value}", limit_pv,
                                reason="ksmd has not completed a full scan yet.", fact=k.files["pages_unshared"].path))  # fmt: skip
        else:
            wasted = ratio > float(limit_pv.value)
            extra = ""
            if wasted and k.text("smart_scan") == "0":
                extra = "smart_scan=1 (Linux 6.7+) skips pages that never merge. "
            out.append(_finding("ksm:efficiency", "KSM effort", "WARNING" if wasted else "OK", observed,
                                f"<= {limit_pv.value}", limit_pv, reason=extra, fact=k.files["pages_unshared"].path))  # fmt: skip
    return out


def _ksm_tuner(m: Machine) -> list[Finding]:
    k = m.ksm
    advisor = bracketed(k.text("advisor_mode")) if k.files.get("advisor_mode", Read("", None)).ok else None
    tuned = [p.pid for p in m.running("ksmtuned")]
    if advisor is None and not tuned:
        return []
    observed = f"ksmtuned {'running (pid ' + ', '.join(map(str, tuned)) + ')' if tuned else 'not running'}, advisor_mode {advisor or 'n/a'}"
    both = bool(tuned) and advisor == "scan-time"
    reason = (
        "ksmtuned rewrites pages_to_scan, which the kernel's scan-time advisor (Linux 6.8+) owns: run one of them."
        if both
        else "At most one of ksmtuned and the kernel's KSM advisor may tune pages_to_scan."
    )
    return [_finding("ksm:tuner", "KSM tuner", "WARNING" if both else "OK", observed, "not both ksmtuned and advisor_mode=scan-time",
                     reason=reason, cite=(sources.KERNEL_KSM, sources.KERNEL_KSM_ADVISOR_PATCH, sources.PVE_KSM),
                     fact=f"{facts.KSM_DIR}/advisor_mode, /proc/*/status")]  # fmt: skip


KSMTUNED_DEFAULTS = {
    "KSM_MONITOR_INTERVAL": 60,
    "KSM_SLEEP_MSEC": 10,
    "KSM_NPAGES_BOOST": 300,
    "KSM_NPAGES_DECAY": -50,
    "KSM_NPAGES_MIN": 64,
    "KSM_NPAGES_MAX": 1250,
    "KSM_THRES_COEF": 20,
    "KSM_THRES_CONST": 2048,
}


def ksmtuned_values(text: str | None) -> dict[str, int]:
    """Effective ksmtuned settings: the file's assignments over ksmtuned's defaults."""
    out = dict(KSMTUNED_DEFAULTS)
    for key, value in parse_shell_assignments(text).items():
        try:
            out[key] = int(value)
        except ValueError:
            continue
    return out


def ksmtuned(m: Machine, profile: Profile) -> list[Finding]:
    wanted = profile.section("ksmtuned")
    if not wanted:
        return []
    read = m.ksmtuned_conf
    if not read.ok:
        return [_unavailable("ksmtuned.conf", "ksmtuned.conf", read, "profile values", None,
                             absent_reason="ksmtuned is not installed (no /etc/ksmtuned.conf).")]  # fmt: skip
    effective = ksmtuned_values(read.text)
    out = []
    for pv in wanted:
        value = effective.get(pv.key)
        out.append(_finding(f"ksmtuned:{pv.key}", f"ksmtuned {pv.key}", "OK" if value == pv.value else "WARNING",
                            str(value), str(pv.value), pv, fact=read.path))  # fmt: skip
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
            out.append(_unavailable(f"{label}:barriers", f"write barriers ({read.path})", read, "barriers on", None))
            continue
        flagged = False
        for entry in parse_fstab(read.text):
            problem = _barrier_problem(entry, read.path)
            if problem is None:
                continue
            flagged = True
            status, reason, cite = problem
            out.append(_finding(f"{label}:{entry.mountpoint}", f"write barriers on {entry.mountpoint} ({entry.fstype})",
                                status, ",".join(entry.options), "barriers on (no nobarrier/barrier=0)",
                                reason=reason, cite=cite, fact=f"{read.path}:{entry.line}"))  # fmt: skip
        if not flagged:
            out.append(_finding(f"{label}:barriers", f"write barriers ({read.path})", "OK", "no nobarrier/barrier=0",
                                "barriers on", reason="no file system disables write barriers.",
                                cite=(sources.TUNED_NOBARRIER_REMOVED,), fact=read.path))  # fmt: skip
    return out


# --------------------------------------------------------------------------------------------
# Guest devices, Proxmox guests, Apache


def nics(m: Machine, profile: Profile) -> list[Finding]:
    pv = profile.get("virtio", "nic_driver")
    if pv is None:
        return []
    found = m.nics
    if not found:
        return [_finding("nic", "network interfaces", "SKIPPED", None, pv.value, pv,
                         reason="no network interface with a device behind it under /sys/class/net.",
                         fact="/sys/class/net")]  # fmt: skip
    return [
        _finding(f"nic:{nic.name}", f"NIC {nic.name} driver", "OK" if nic.driver == pv.value else "WARNING",
                 nic.driver or "unknown", pv.value, pv, fact=nic.uevent.path)
        for nic in found
    ]  # fmt: skip


def pve(m: Machine, profile: Profile) -> list[Finding]:
    if not profile.has("proxmox"):
        return []
    node = m.pve
    if node is None:
        return [_finding("pve", "Proxmox guest configurations", "SKIPPED", None, None,
                         reason=f"{proxmox.QEMU_SERVER} does not exist: not a Proxmox VE node (or not captured).",
                         cite=(sources.PVE_QM_CONF,), fact=proxmox.QEMU_SERVER)]  # fmt: skip
    if not node.vms:
        return [_finding("pve", "Proxmox guest configurations", "SKIPPED", "no VMs", None,
                         reason="no <vmid>.conf files.", fact=proxmox.QEMU_SERVER)]  # fmt: skip
    return proxmox.lint(node, profile)


def apache(m: Machine, profile: Profile) -> list[Finding]:
    if not profile.has("apache"):
        return []
    conf = m.apache
    if not conf.present:
        return [_finding("apache", "Apache", "SKIPPED", None, None, reason=f"{conf.mpm_evidence}: Apache is not installed.",
                         fact=facts.APACHE_DIR)]  # fmt: skip
    out = []
    mpm_pv = profile.get("apache", "mpm")
    if mpm_pv is not None:
        out.append(_finding("apache:mpm", "Apache MPM", "OK" if conf.mpm == mpm_pv.value else "WARNING",
                            conf.mpm or "unknown", mpm_pv.value, mpm_pv, reason=f"from {conf.mpm_evidence}.",
                            fact=f"{facts.APACHE_DIR}/mods-enabled"))  # fmt: skip
    d = conf.directives
    for old, new, cite in (("MaxClients", "MaxRequestWorkers", sources.APACHE_MAXREQUESTWORKERS),
                           ("MaxRequestsPerChild", "MaxConnectionsPerChild", sources.APACHE_MAXCONNECTIONSPERCHILD)):  # fmt: skip
        if old in d:
            out.append(_finding(f"apache:{old}", f"Apache {old}", "WARNING", f"{old} {d[old].value}", new,
                                reason=f"{old} is the Apache 2.2 name; 2.4 calls it {new} and only keeps the old "
                                "name for compatibility.", cite=(cite, sources.APACHE_UPGRADING), fact=d[old].where))  # fmt: skip
    workers_setting = d.get("MaxRequestWorkers") or d.get("MaxClients")
    workers = int(workers_setting.value) if workers_setting and workers_setting.value.isdigit() else None
    limit = int(d["ServerLimit"].value) if "ServerLimit" in d and d["ServerLimit"].value.isdigit() else 256
    if workers is not None and workers > limit:
        out.append(_finding("apache:ServerLimit", "Apache ServerLimit", "WARNING", f"ServerLimit {limit}",
                            f">= {workers}", reason=f"MaxRequestWorkers {workers} is above ServerLimit {limit}: "
                            "Apache silently lowers it to ServerLimit at start.",
                            cite=(sources.APACHE_SERVERLIMIT,), fact=workers_setting.where if workers_setting else ""))  # fmt: skip
    out.extend(_apache_fit(m, profile, workers, workers_setting))
    per_child = profile.get("apache", "max_connections_per_child")
    if per_child is not None:
        current = d.get("MaxConnectionsPerChild") or d.get("MaxRequestsPerChild")
        value = current.value if current else "0 (default)"
        ok = current is not None and current.value.isdigit() and 0 < int(current.value) <= per_child.value
        out.append(_finding("apache:MaxConnectionsPerChild", "Apache MaxConnectionsPerChild", "OK" if ok else "WARNING",
                            value, f"1..{per_child.value}", per_child, fact=current.where if current else "")) # fmt: skip
    return out


def _apache_fit(m: Machine, profile: Profile, workers: int | None, setting: facts.Setting | None) -> list[Finding]:
    title = "Apache MaxRequestWorkers fits in RAM"
    if not m.running(*APACHE_NAMES):
        return [_finding("apache:fit", title, "SKIPPED", str(workers) if workers else None, None,
                         reason="no running apache2 process under --root to measure; run `sqlops tune prefork` on the web server.",
                         cite=(sources.APACHE_MAXREQUESTWORKERS,), fact="/proc/*/status")]  # fmt: skip
    try:
        sizing = size(m, profile)
    except Exception as exc:  # noqa: BLE001 - a fact that cannot be read is UNKNOWN, never a crash
        return [_finding("apache:fit", title, "UNKNOWN", None, None, reason=str(exc), fact=m.meminfo_read.path)]
    configured = workers if workers is not None else 150  # Debian's mpm_prefork.conf default
    if not sizing.measured:
        return [_finding("apache:fit", title, "UNKNOWN", str(configured), f"<= {sizing.max_request_workers} (estimate)",
                         reason="; ".join(sizing.notes), fact=sizing.facts[-1] if sizing.facts else "")]  # fmt: skip
    fits = configured <= sizing.max_request_workers
    need_mib = (configured * sizing.child_kib + sizing.parent_kib) / 1024
    reason = (
        f"{configured} children x {sizing.child_kib / 1024:.0f} MiB + parent = {need_mib:.0f} MiB against "
        f"{(sizing.available_kib + sizing.parent_kib) / 1024:.0f} MiB left after the reserve and the other services: "
        + ("fits." if fits else "under full load the guest swaps or the OOM killer picks mysqld. Run `sqlops tune prefork`.")
    )
    return [_finding("apache:fit", title, "OK" if fits else "WARNING", str(configured),
                     f"<= {sizing.max_request_workers}", profile.get("apache", "os_reserve_mib"), reason=reason,
                     cite=(sources.APACHE_MAXREQUESTWORKERS,),
                     fact=setting.where if setting else "Debian default 150")]  # fmt: skip


# --------------------------------------------------------------------------------------------
# MySQL / MariaDB slow log


def mysql_checks(m: Machine, profile: Profile, session: Session | None) -> list[Finding]:
    if not profile.has("mysql"):
        return []
    if session is not None:
        flavour = session.info.flavour
        version = session.info.version
        observed = slowlog.from_server(session, slowlog.variables(profile, flavour, version))
        return slowlog.check(profile, flavour, observed, version)
    flavour_hint, evidence = facts.mysql_flavour_hint(m.root)
    if flavour_hint is None:
        return [_finding("mysql", "slow query log", "SKIPPED", None, None,
                         reason=f"no MySQL/MariaDB server installed under --root ({evidence}); "
                         "give a DSN (sqlops --dsn URL tune check) to check a server.",
                         cite=(sources.MYSQL_SLOW_LOG,), fact="/usr/sbin")]  # fmt: skip
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
