"""Render the files that apply a profile: written to an output folder, never to the system.

Each rendered file comments every value with the profile's reason and source, and the
rendering records, for every setting it would change, the value the machine has now and where
that was read: the JSON (also written as ``sqlops-render.json``) is the rollback.
Write barriers are never disabled and fstab is never edited: ``fstab.advice`` says what to
change by hand.
"""

from __future__ import annotations

import json
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlops.errors import UsageError
from sqlops.tuning import facts, prefork, slowlog, sources
from sqlops.tuning.checks import BARRIER_OFF, LEGACY_EQUIVALENT
from sqlops.tuning.facts import bracketed, parse_fstab
from sqlops.tuning.machine import Machine
from sqlops.tuning.memory import ksmtuned_values
from sqlops.tuning.profiles import Profile, ProfileValue

if TYPE_CHECKING:
    from sqlops.db import Session

MANIFEST = "sqlops-render.json"
_SYSTEM_DIRS = (
    "/",
    "/etc",
    "/proc",
    "/sys",
    "/usr",
    "/boot",
    "/var",
    "/bin",
    "/sbin",
    "/lib",
    "/dev",
    "/run",
)


@dataclass(frozen=True)
class Change:
    setting: str
    new: str
    previous: str | None
    previous_source: str
    same: bool | None = None  # the caller's verdict when plain text comparison is not enough

    @property
    def changed(self) -> bool:
        if self.same is not None:
            return not self.same
        return self.previous is None or self.previous.split(" (as ")[0].strip() != self.new

    def to_json(self) -> dict[str, Any]:
        return {
            "setting": self.setting,
            "new": self.new,
            "previous": self.previous,
            "previous_source": self.previous_source,
            "changed": self.changed,
        }


@dataclass(frozen=True)
class RenderedFile:
    path: str  # inside --out
    target: str | None  # where it goes on the machine; None for advice that is read, not installed
    purpose: str
    apply: str
    content: str
    changes: tuple[Change, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "target": self.target,
            "purpose": self.purpose,
            "apply": self.apply,
            "changes": [c.to_json() for c in self.changes],
        }


@dataclass(frozen=True)
class Rendering:
    profile: str
    root: str
    files: tuple[RenderedFile, ...]
    notes: tuple[str, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        return {
            "profile": self.profile,
            "root": self.root,
            "files": [f.to_json() for f in self.files],
            "notes": list(self.notes),
        }

    def as_text(self, *, with_content: bool) -> str:
        """The terminal listing: each file, where it goes, how to apply it and every setting's
        previous -> new value; `with_content` (``--dry-run``) adds the file bodies."""
        lines: list[str] = []
        for f in self.files:
            where = f"-> {f.target}" if f.target else "(advice, not installed)"
            lines += [f"{f.path}  {where}  {f.purpose}", f"    apply: {f.apply}"]
            for c in f.changes:
                previous = "(none)" if c.previous is None else (c.previous or "(empty)")
                arrow = f"{previous} -> {c.new}" if c.changed else f"{c.new} (unchanged)"
                lines.append(f"    {c.setting}: {arrow}   [{c.previous_source}]")
            if with_content:
                lines.append("    --- content ---")
                lines += ["    " + line for line in f.content.rstrip("\n").splitlines()]
        return "\n".join(lines)


def _file(target: str, purpose: str, apply: str, lines: list[str], changes: list[Change]) -> RenderedFile:
    """A file to install at `target` (written under --out at the same relative path)."""
    content = "\n".join(lines).rstrip() + "\n"
    return RenderedFile(target.lstrip("/"), target, purpose, apply, content, tuple(changes))


def _comment(text: str, width: int = 100) -> list[str]:
    return textwrap.wrap(
        text,
        width - 2,
        break_long_words=False,
        break_on_hyphens=False,
        initial_indent="# ",
        subsequent_indent="# ",
    ) or ["#"]


def _explained(pv: ProfileValue) -> list[str]:
    lines = _comment(f"{pv.key}: {pv.why}" if pv.why else pv.key)
    return lines + [f"# Source: {url}" for url in pv.sources]


def _header(profile: Profile, target: str | None, apply: str) -> list[str]:
    lines = _comment(f"Written by `sqlops tune render --profile {profile.name}`: {profile.summary}.")
    if target:
        lines += _comment(f"Install as {target}, then: {apply}")
    return lines


# --------------------------------------------------------------------------------------------
# The files


def _sysctl(m: Machine, profile: Profile) -> RenderedFile | None:
    values = profile.section("sysctl")
    if not values:
        return None
    target = f"/etc/sysctl.d/90-sqlops-{profile.name}.conf"
    apply = "systemctl restart systemd-sysctl (or: sysctl --system)"
    lines = _header(profile, target, apply)
    changes = []
    reads = {pv.key: facts.sysctl(m.root, pv.key) for pv in values}
    if not all(r.ok for r in reads.values()):
        lines += _comment(
            "A key written as -key is skipped where this kernel lacks it (systemd >= 243, procps >= 3.3.16). "
            f"Source: {sources.SYSCTL_D}"
        )
    for pv in values:
        read = reads[pv.key]
        prefix = "" if read.ok else "-"  # systemd-sysctl: ignore the key where this kernel lacks it
        lines += ["", *_explained(pv), f"{prefix}{pv.key} = {pv.value.set}"]
        changes.append(
            Change(
                pv.key,
                str(pv.value.set),
                " ".join((read.value or "").split()) if read.ok else None,
                read.path if read.ok else read.why_missing(),
            )
        )
    return _file(target, "kernel settings (sysctl.d)", apply, lines, changes)


def _udev(m: Machine, profile: Profile) -> tuple[RenderedFile | None, list[str]]:
    rot, nonrot = profile.get("block", "rotational"), profile.get("block", "nonrotational")
    if rot is None and nonrot is None:
        return None, []
    notes = []
    legacy = m.legacy_block_layer
    legacy_names = {v: k for k, v in LEGACY_EQUIVALENT.items()}

    def choose(pv: ProfileValue | None) -> str | None:
        if pv is None:
            return None
        if not legacy:
            return str(pv.value[0])
        return next((legacy_names[n] for n in pv.value if n in legacy_names), "deadline")

    target = "/etc/udev/rules.d/60-sqlops-iosched.rules"
    apply = "udevadm control --reload && udevadm trigger --action=change --subsystem-match=block"
    lines = _header(profile, target, apply)
    lines += _comment(
        "Since Linux 5.0 the schedulers are none, mq-deadline, bfq and kyber, chosen per device; "
        "the elevator= boot parameter does nothing. "
        f"Sources: {sources.KERNEL_SWITCHING_SCHED} {sources.KERNEL_ELEVATOR_PARAM_REMOVED}"
    )
    if legacy:
        notes.append(
            f"kernel {m.kernel.value} predates 5.0: the rule uses the legacy names (deadline/noop); "
            "render again after upgrading the kernel to get mq-deadline/none."
        )
        lines += _comment(
            f"Kernel {m.kernel.value} still has the legacy schedulers: deadline stands for "
            "mq-deadline and noop for none. Render again after upgrading the kernel."
        )
    match = (
        'ACTION=="add|change", SUBSYSTEM=="block", ENV{DEVTYPE}=="disk", '
        'KERNEL!="loop*|ram*|zram*|dm-*|md*|sr*"'
    )
    planned: dict[str, str] = {}
    for pv, flag in ((rot, "1"), (nonrot, "0")):
        name = choose(pv)
        if pv is None or name is None:
            continue
        planned[flag] = name
        lines += [
            "",
            *_explained(pv),
            f'{match}, ATTR{{queue/rotational}}=="{flag}", ATTR{{queue/scheduler}}="{name}"',
        ]
    changes = []
    for dev in m.block_devices:
        parsed = dev.parsed
        if dev.kind != "disk" or parsed is None or parsed.active is None:
            continue
        new = planned.get("0" if dev.is_rotational is False else "1")
        if new:
            changes.append(Change(f"{dev.name} scheduler", new, parsed.active, dev.scheduler.path))
    return _file(target, "I/O scheduler per device (udev rule)", apply, lines, changes), notes


def _tmpfiles(m: Machine, profile: Profile) -> RenderedFile | None:
    entries: list[tuple[ProfileValue, str, str]] = []
    for key in ("enabled", "defrag"):
        pv = profile.get("thp", key)
        if pv is not None:
            entries.append((pv, f"/sys/kernel/mm/transparent_hugepage/{key}", str(pv.value[0])))
    run = profile.get("ksm", "run")
    if run is not None and tuple(run.value) == (0,) and m.ksm.present:
        entries.append((run, f"{facts.KSM_DIR}/run", "0"))
    if not entries:
        return None
    target = f"/etc/tmpfiles.d/sqlops-{profile.name}.conf"
    apply = f"systemd-tmpfiles --create {target}"
    lines = _header(profile, target, apply)
    lines += _comment(f"Written at every boot by systemd-tmpfiles ('w' lines). Source: {sources.TMPFILES_D}")
    changes = []
    for pv, path, value in entries:
        read = m.root.read(path)
        lines += ["", *_explained(pv), f"w {path} - - - - {value}"]
        previous = bracketed(read.text) if read.ok else None
        changes.append(Change(path, value, previous, read.path if read.ok else read.why_missing()))
    return _file(target, "memory settings in sysfs (tmpfiles.d)", apply, lines, changes)


def _ksmtuned(m: Machine, profile: Profile) -> tuple[RenderedFile | None, list[str]]:
    values = profile.section("ksmtuned")
    if not values:
        return None, []
    target = facts.KSMTUNED_CONF
    apply = "systemctl restart ksmtuned"
    current = m.ksmtuned_conf
    effective = ksmtuned_values(current.text)
    lines = ["# Configuration file for ksmtuned.", *_header(profile, target, apply)]
    changes = []
    for pv in values:
        lines += ["", *_explained(pv), f"{pv.key}={pv.value}"]
        source = current.path if current.ok else f"ksmtuned default ({current.why_missing()})"
        changes.append(Change(pv.key, str(pv.value), str(effective.get(pv.key)), source))
    notes = []
    advisor = bracketed(m.ksm.text("advisor_mode")) if m.ksm.present else None
    if advisor == "scan-time":
        notes.append(
            "advisor_mode is scan-time: set it to none before starting ksmtuned; both drive pages_to_scan"
        )
    return _file(target, "KSM tuning daemon settings", apply, lines, changes), notes


def _fstab(m: Machine, profile: Profile) -> RenderedFile | None:
    read = m.fstab
    if not read.ok:
        return None
    lines = [
        f"# fstab advice from `sqlops tune render --profile {profile.name}`. sqlops never edits /etc/fstab:",
        "# make these changes by hand, then check with `findmnt --verify` before rebooting.",
        "",
    ]
    changes = []
    for entry in parse_fstab(read.text):
        off = [o for o in entry.options if o in BARRIER_OFF]
        if not off:
            continue
        kept = [o for o in entry.options if o not in BARRIER_OFF] or ["defaults"]
        why = (
            f"XFS has no {off[0]} since Linux 4.19 and refuses to mount. "
            f"Source: {sources.XFS_NOBARRIER_REMOVED}"
            if entry.fstype == "xfs"
            else f"{off[0]} risks the journal and InnoDB's files on a crash; a UPS does not help. "
            f"Source: {sources.TUNED_NOBARRIER_REMOVED}"
        )
        fields = entry.text.split()
        fields[3] = ",".join(kept)
        lines += [
            f"line {entry.line}: {entry.mountpoint} ({entry.fstype})",
            *_comment(why),
            f"- {entry.text.strip()}",
            f"+ {'  '.join(fields)}",
            "",
        ]
        changes.append(
            Change(
                f"fstab line {entry.line} {entry.mountpoint} options",
                ",".join(kept),
                ",".join(entry.options),
                f"{read.path}:{entry.line}",
            )
        )
    if not changes:
        lines.append("No changes: no entry disables write barriers.")
    return RenderedFile(
        "fstab.advice",
        None,
        "fstab changes to make by hand (never applied)",
        "edit /etc/fstab by hand",
        "\n".join(lines).rstrip() + "\n",
        tuple(changes),
    )


def _mycnf(
    m: Machine, profile: Profile, flavour: str | None, session: Session | None
) -> tuple[RenderedFile | None, list[str]]:
    if not profile.has("mysql"):
        return None, []
    version = None
    if session is not None:
        flavour, version = session.info.flavour, session.info.version
    evidence = "--flavour" if flavour else ""
    if flavour is None:
        flavour, evidence = facts.mysql_flavour_hint(m.root)
    if flavour is None:
        return None, [
            f"no my.cnf snippet: cannot tell MySQL from MariaDB ({evidence}); pass --flavour or --dsn"
        ]
    wanted = slowlog.wanted(profile, flavour, version)
    names = [w.variable for w in wanted]
    observed = slowlog.from_server(session, names) if session else slowlog.from_option_files(m.root, names)
    folder = "mariadb.conf.d" if flavour == "mariadb" else "mysql.conf.d"
    target = f"/etc/mysql/{folder}/90-sqlops-slowlog.cnf"
    apply = f"systemctl restart {flavour} (or run the SET GLOBAL lines below to apply at once)"
    name = "MariaDB" if flavour == "mariadb" else "MySQL"
    lines = _header(profile, target, apply)
    lines += _comment(
        f"Slow query log settings for {name}; {folder} is read after conf.d and the packaged "
        f"server settings, so these win. Flavour: {session.info.describe() if session else evidence}."
    )
    lines += ["#", "# To apply now, without a restart:"]
    lines += [f"#   SET GLOBAL {w.variable} = {_sql_value(w.render)};" for w in wanted]
    lines += ["", "[mysqld]"]
    changes = []
    pvs = {pv.key: pv for pv in profile.section("mysql")}
    for w in wanted:
        lines += [*_explained(pvs[w.variable]), f"{w.variable} = {w.render}", ""]
        seen = observed.get(w.variable)
        same = (
            seen is not None
            and w.accepts(seen.value)
            and w.accepts(w.render)
            and _normal(seen.value) == _normal(w.render)
        )
        changes.append(
            Change(
                w.variable,
                w.render,
                seen.value if seen else None,
                seen.fact if seen else "not reported",
                same,
            )
        )
    notes = []
    if flavour == "mysql" and version is None:
        notes.append(
            "MySQL version unknown without --dsn: assumed >= 8.0.14 (log_slow_extra); "
            "remove log_slow_extra for older servers, or render with --dsn"
        )
    return _file(target, f"{name} slow query log (my.cnf snippet)", apply, lines, changes), notes


def _normal(value: str) -> str:
    low = value.strip().lower()
    if low in {"1", "on", "true", "yes"}:
        return "on"
    if low in {"0", "off", "false", "no"}:
        return "off"
    try:
        return f"{float(low):g}"
    except ValueError:
        return ",".join(sorted(i.strip() for i in low.split(",") if i.strip()))


def _sql_value(value: str) -> str:
    if value in {"ON", "OFF"} or value.replace(".", "", 1).isdigit():
        return value
    return "'" + value.replace("'", "''") + "'"


def _apache(m: Machine, profile: Profile) -> tuple[RenderedFile | None, list[str]]:
    if not profile.has("apache"):
        return None, []
    conf = m.apache
    if not conf.present:
        return None, [f"no mpm_prefork.conf: {conf.mpm_evidence} (Apache is not installed under --root)"]
    sizing = prefork.size(m, profile)
    target = f"{facts.APACHE_DIR}/mods-available/mpm_prefork.conf"
    apply = "apache2ctl configtest && systemctl reload apache2"
    lines = _header(profile, target, apply)
    lines += _comment(
        f"Sized from this machine by `sqlops tune prefork` (Apache 2.4 names: MaxRequestWorkers was "
        f"MaxClients, MaxConnectionsPerChild was MaxRequestsPerChild). Sources: "
        f"{sources.APACHE_MAXREQUESTWORKERS} {sources.APACHE_UPGRADING}"
    )
    lines += ["#", *[f"# {line}" for line in sizing.arithmetic()]]
    lines += [f"# note: {n}" for n in sizing.notes]
    lines += ["", "<IfModule mpm_prefork_module>"]
    old_names = {"MaxRequestWorkers": "MaxClients", "MaxConnectionsPerChild": "MaxRequestsPerChild"}
    changes = []
    for directive, value in sizing.directives().items():
        lines.append(f"\t{directive:<23} {value}")
        current = conf.directives.get(directive) or conf.directives.get(old_names.get(directive, ""))
        previous = (
            None
            if current is None
            else (current.value + ("" if current.name == directive else f" (as {current.name})"))
        )
        changes.append(
            Change(directive, str(value), previous, current.where if current else "Apache default")
        )
    lines.append("</IfModule>")
    notes = [f"prefork: {n}" for n in sizing.notes]
    return _file(target, "Apache prefork limits", apply, lines, changes), notes


def render(
    m: Machine, profile: Profile, *, flavour: str | None = None, session: Session | None = None
) -> Rendering:
    files: list[RenderedFile] = []
    notes: list[str] = []
    for made in (_sysctl(m, profile), _tmpfiles(m, profile), _fstab(m, profile)):
        if made is not None:
            files.append(made)
    for made, more in (
        _udev(m, profile),
        _ksmtuned(m, profile),
        _mycnf(m, profile, flavour, session),
        _apache(m, profile),
    ):
        notes.extend(more)
        if made is not None:
            files.append(made)
    files.sort(key=lambda f: f.path)
    return Rendering(profile.name, m.root.given, tuple(files), tuple(notes))


def check_out_dir(out: Path) -> Path:
    """Refuse output folders that are system directories: render never edits the system."""
    resolved = out.expanduser().resolve()
    if str(resolved) in _SYSTEM_DIRS or any(
        str(resolved).startswith(d + "/") for d in ("/etc", "/proc", "/sys", "/boot")
    ):
        raise UsageError(
            f"refusing to render into {resolved}",
            why="tune render writes files for you to review and install; it never writes into system folders",
            fix="pass an empty working folder, e.g. --out ./tuned-files",
        )
    if resolved.exists() and not resolved.is_dir():
        raise UsageError(
            f"--out {out} exists and is not a folder", fix="pass a folder (it is created if missing)"
        )
    return resolved


def written_summary(written: list[Path], out: Path) -> str:
    """The last line of `tune render`: how many files went where, and the rollback manifest."""
    return f"wrote {len(written)} files under {out.resolve()} (rollback: {MANIFEST})"


def write(rendering: Rendering, out: Path) -> list[Path]:
    """Write every file and the manifest under `out`; returns the paths written."""
    base = check_out_dir(out)
    written = []
    for f in rendering.files:
        path = base / f.path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f.content, encoding="utf-8")
        written.append(path)
    manifest = base / MANIFEST
    manifest.write_text(json.dumps(rendering.to_json(), indent=2) + "\n", encoding="utf-8")
    written.append(manifest)
    return written
