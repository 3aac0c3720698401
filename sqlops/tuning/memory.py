"""Memory checks: transparent huge pages, reserved hugetlb pages, KSM and ksmtuned.

KSM's saving is ``pages_sharing + ksm_zero_pages``; a high ``pages_unshared / pages_sharing``
ratio is ksmd's CPU spent for nothing; ``general_profit`` (Linux 6.4+) subtracts KSM's own
metadata. ksmtuned and the kernel's scan-time advisor (6.8+) must not both drive
``pages_to_scan``.
"""

from __future__ import annotations

from sqlops.tuning import facts, proxmox, sources
from sqlops.tuning.facts import Read, bracketed, parse_shell_assignments
from sqlops.tuning.findings import Finding, Status, finding, unavailable
from sqlops.tuning.machine import Machine
from sqlops.tuning.profiles import Profile

PAGE_KIB = 4  # x86-64 base page; KSM counters are in pages


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
            out.append(
                unavailable(
                    f"thp:{key}",
                    title,
                    read,
                    expected,
                    pv,
                    absent_reason="the kernel has no transparent huge page support.",
                )
            )
            continue
        active = bracketed(read.text)
        out.append(
            finding(
                f"thp:{key}",
                title,
                "OK" if active in pv.value else "WARNING",
                active,
                expected,
                pv,
                fact=read.path,
            )
        )
    return out


def hugepages(m: Machine, profile: Profile) -> list[Finding]:
    pv = profile.get("hugepages", "allow_unused")
    if pv is None:
        return []
    if not m.meminfo_read.ok:
        return [unavailable("hugepages", "reserved hugetlb pages", m.meminfo_read, None, pv)]
    info = m.meminfo
    total, free = info.get("HugePages_Total", 0), info.get("HugePages_Free", 0)
    size_kib = info.get("Hugepagesize", 2048)
    users = proxmox.hugepage_vms(m.pve)
    if total == 0:
        return [
            finding(
                "hugepages",
                "reserved hugetlb pages",
                "OK",
                "0 reserved",
                "none, or all in use",
                pv,
                fact=m.meminfo_read.path,
            )
        ]
    used = total - free
    observed = f"{total} x {size_kib // 1024} MiB reserved, {used} in use"
    if used == 0 and not pv.value:
        reason = f"{total * size_kib // 1024} MiB are set aside and nothing maps them."
        if m.pve is not None:
            reason += f" VMs configured with hugepages: {', '.join(users) if users else 'none'}."
        return [
            finding(
                "hugepages",
                "reserved hugetlb pages",
                "WARNING",
                observed,
                "none, or all in use",
                pv,
                reason=reason,
                cite=(sources.KERNEL_HUGETLB,),
                fact=m.meminfo_read.path,
            )
        ]
    return [
        finding(
            "hugepages",
            "reserved hugetlb pages",
            "OK",
            observed,
            "none, or all in use",
            pv,
            fact=m.meminfo_read.path,
        )
    ]


def ksm(m: Machine, profile: Profile) -> list[Finding]:
    run_pv = profile.get("ksm", "run")
    if run_pv is None:
        return []
    k = m.ksm
    if not k.present:
        return [
            finding(
                "ksm:run",
                "KSM",
                "SKIPPED",
                None,
                None,
                run_pv,
                reason="/sys/kernel/mm/ksm does not exist: the kernel is built without KSM.",
                fact=facts.KSM_DIR,
            )
        ]
    run = k.number("run")
    if run is None:
        return [unavailable("ksm:run", "KSM run", k.files["run"], None, run_pv)]
    allowed = run_pv.value
    multi_tenant = bool(profile.value("ksm", "multi_tenant", False))
    status: Status = "OK" if run in allowed else "WARNING"
    reason = ""
    if multi_tenant and run == 1:
        status, reason = "CRITICAL", "this profile is for a multi-tenant host and KSM is running."
    observed = (
        f"run={run} pages_to_scan={k.text('pages_to_scan')} sleep_millisecs={k.text('sleep_millisecs')}"
    )
    out = [
        finding(
            "ksm:run",
            "KSM (ksmd)",
            status,
            observed,
            "run=" + " or ".join(map(str, allowed)),
            run_pv,
            reason=reason,
            cite=(sources.KERNEL_KSM,),
            fact=k.files["run"].path,
        )
    ]
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
    out = [
        finding(
            "ksm:savings",
            "KSM savings",
            status,
            observed,
            "general_profit >= 0",
            None,
            reason=reason,
            cite=(sources.KERNEL_KSM,),
            fact=k.files["pages_sharing"].path,
        )
    ]
    limit_pv = profile.get("ksm", "max_unshared_ratio")
    if limit_pv is not None:
        scans = k.number("full_scans") or 0
        ratio = unshared / sharing if sharing else (float("inf") if unshared else 0.0)
        shown = "inf" if ratio == float("inf") else f"{ratio:.1f}"
        observed = (
            f"pages_unshared/pages_sharing = {unshared}/{sharing} = {shown}, full_scans {scans}, "
            f"smart_scan {k.text('smart_scan') or 'n/a'}"
        )
        if scans == 0:
            out.append(
                finding(
                    "ksm:efficiency",
                    "KSM effort",
                    "SKIPPED",
                    observed,
                    f"<= {limit_pv.value}",
                    limit_pv,
                    reason="ksmd has not completed a full scan yet.",
                    fact=k.files["pages_unshared"].path,
                )
            )
        else:
            wasted = ratio > float(limit_pv.value)
            extra = ""
            if wasted and k.text("smart_scan") == "0":
                extra = "smart_scan=1 (Linux 6.7+) skips pages that never merge. "
            out.append(
                finding(
                    "ksm:efficiency",
                    "KSM effort",
                    "WARNING" if wasted else "OK",
                    observed,
                    f"<= {limit_pv.value}",
                    limit_pv,
                    reason=extra,
                    fact=k.files["pages_unshared"].path,
                )
            )
    return out


def _ksm_tuner(m: Machine) -> list[Finding]:
    k = m.ksm
    advisor = bracketed(k.text("advisor_mode")) if k.files.get("advisor_mode", Read("", None)).ok else None
    tuned = [p.pid for p in m.running("ksmtuned")]
    if advisor is None and not tuned:
        return []
    running = f"running (pid {', '.join(map(str, tuned))})" if tuned else "not running"
    observed = f"ksmtuned {running}, advisor_mode {advisor or 'n/a'}"
    both = bool(tuned) and advisor == "scan-time"
    reason = (
        "ksmtuned rewrites pages_to_scan, which the kernel's scan-time advisor (Linux 6.8+) owns: "
        "run one of them."
        if both
        else "At most one of ksmtuned and the kernel's KSM advisor may tune pages_to_scan."
    )
    return [
        finding(
            "ksm:tuner",
            "KSM tuner",
            "WARNING" if both else "OK",
            observed,
            "not both ksmtuned and advisor_mode=scan-time",
            reason=reason,
            cite=(sources.KERNEL_KSM, sources.KERNEL_KSM_ADVISOR_PATCH, sources.PVE_KSM),
            fact=f"{facts.KSM_DIR}/advisor_mode, /proc/*/status",
        )
    ]


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
        return [
            unavailable(
                "ksmtuned.conf",
                "ksmtuned.conf",
                read,
                "profile values",
                None,
                absent_reason="ksmtuned is not installed (no /etc/ksmtuned.conf).",
            )
        ]
    effective = ksmtuned_values(read.text)
    out = []
    for pv in wanted:
        value = effective.get(pv.key)
        out.append(
            finding(
                f"ksmtuned:{pv.key}",
                f"ksmtuned {pv.key}",
                "OK" if value == pv.value else "WARNING",
                str(value),
                str(pv.value),
                pv,
                fact=read.path,
            )
        )
    return out


# --------------------------------------------------------------------------------------------
