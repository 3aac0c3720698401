"""Apache checks: the MPM in use, Apache 2.2 directive names, ServerLimit, and whether
MaxRequestWorkers fits in the memory prefork sizing finds (see :mod:`prefork`)."""

from __future__ import annotations

from sqlops.errors import PreconditionError
from sqlops.tuning import facts, sources
from sqlops.tuning.findings import Finding, finding
from sqlops.tuning.machine import Machine
from sqlops.tuning.prefork import APACHE_NAMES, size
from sqlops.tuning.profiles import Profile


def apache(m: Machine, profile: Profile) -> list[Finding]:
    if not profile.has("apache"):
        return []
    conf = m.apache
    if not conf.present:
        return [
            finding(
                "apache",
                "Apache",
                "SKIPPED",
                None,
                None,
                reason=f"{conf.mpm_evidence}: Apache is not installed.",
                fact=facts.APACHE_DIR,
            )
        ]
    out = []
    mpm_pv = profile.get("apache", "mpm")
    if mpm_pv is not None:
        out.append(
            finding(
                "apache:mpm",
                "Apache MPM",
                "OK" if conf.mpm == mpm_pv.value else "WARNING",
                conf.mpm or "unknown",
                mpm_pv.value,
                mpm_pv,
                reason=f"from {conf.mpm_evidence}.",
                fact=f"{facts.APACHE_DIR}/mods-enabled",
            )
        )
    d = conf.directives
    for old, new, cite in (
        ("MaxClients", "MaxRequestWorkers", sources.APACHE_MAXREQUESTWORKERS),
        ("MaxRequestsPerChild", "MaxConnectionsPerChild", sources.APACHE_MAXCONNECTIONSPERCHILD),
    ):
        if old in d:
            out.append(
                finding(
                    f"apache:{old}",
                    f"Apache {old}",
                    "WARNING",
                    f"{old} {d[old].value}",
                    new,
                    reason=f"{old} is the Apache 2.2 name; 2.4 calls it {new} and only keeps the old "
                    "name for compatibility.",
                    cite=(cite, sources.APACHE_UPGRADING),
                    fact=d[old].where,
                )
            )
    workers_setting = d.get("MaxRequestWorkers") or d.get("MaxClients")
    workers = int(workers_setting.value) if workers_setting and workers_setting.value.isdigit() else None
    limit = int(d["ServerLimit"].value) if "ServerLimit" in d and d["ServerLimit"].value.isdigit() else 256
    if workers is not None and workers > limit:
        out.append(
            finding(
                "apache:ServerLimit",
                "Apache ServerLimit",
                "WARNING",
                f"ServerLimit {limit}",
                f">= {workers}",
                reason=f"MaxRequestWorkers {workers} is above ServerLimit {limit}: "
                "Apache silently lowers it to ServerLimit at start.",
                cite=(sources.APACHE_SERVERLIMIT,),
                fact=workers_setting.where if workers_setting else "",
            )
        )
    out.extend(_apache_fit(m, profile, workers, workers_setting))
    per_child = profile.get("apache", "max_connections_per_child")
    if per_child is not None:
        current = d.get("MaxConnectionsPerChild") or d.get("MaxRequestsPerChild")
        value = current.value if current else "0 (default)"
        ok = current is not None and current.value.isdigit() and 0 < int(current.value) <= per_child.value
        out.append(
            finding(
                "apache:MaxConnectionsPerChild",
                "Apache MaxConnectionsPerChild",
                "OK" if ok else "WARNING",
                value,
                f"1..{per_child.value}",
                per_child,
                fact=current.where if current else "",
            )
        )
    return out


def _apache_fit(
    m: Machine, profile: Profile, workers: int | None, setting: facts.Setting | None
) -> list[Finding]:
    title = "Apache MaxRequestWorkers fits in RAM"
    if not m.running(*APACHE_NAMES):
        return [
            finding(
                "apache:fit",
                title,
                "SKIPPED",
                str(workers) if workers else None,
                None,
                reason="no running apache2 process under --root to measure; "
                "run `sqlops tune prefork` on the web server.",
                cite=(sources.APACHE_MAXREQUESTWORKERS,),
                fact="/proc/*/status",
            )
        ]
    try:
        sizing = size(m, profile)
    except PreconditionError as exc:  # no MemTotal: UNKNOWN, never a crash
        return [
            finding("apache:fit", title, "UNKNOWN", None, None, reason=str(exc), fact=m.meminfo_read.path)
        ]
    configured = workers if workers is not None else 150  # Debian's mpm_prefork.conf default
    if not sizing.measured:
        return [
            finding(
                "apache:fit",
                title,
                "UNKNOWN",
                str(configured),
                f"<= {sizing.max_request_workers} (estimate)",
                reason="; ".join(sizing.notes),
                fact=sizing.facts[-1] if sizing.facts else "",
            )
        ]
    fits = configured <= sizing.max_request_workers
    need_mib = (configured * sizing.child_kib + sizing.parent_kib) / 1024
    reason = (
        f"{configured} children x {sizing.child_kib / 1024:.0f} MiB + parent = {need_mib:.0f} MiB against "
        f"{(sizing.available_kib + sizing.parent_kib) / 1024:.0f} MiB left after the reserve and "
        "the other services: "
        + (
            "fits."
            if fits
            else "under full load the guest swaps or the OOM killer picks mysqld. Run `sqlops tune prefork`."
        )
    )
    return [
        finding(
            "apache:fit",
            title,
            "OK" if fits else "WARNING",
            str(configured),
            f"<= {sizing.max_request_workers}",
            profile.get("apache", "os_reserve_mib"),
            reason=reason,
            cite=(sources.APACHE_MAXREQUESTWORKERS,),
            fact=setting.where if setting else "Debian default 150",
        )
    ]
