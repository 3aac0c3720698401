"""What a check reports: one :class:`Finding` per item, gathered in a :class:`Report`.

tuned-adm verify prints pass/fail; a finding carries the observed value, the expected one, a
status, the reason and where the advice comes from, so the report explains itself.
Statuses follow the Nagios plugin convention; SKIPPED items (a fact that does not exist on this
machine, such as KSM on a kernel without it) never change the overall status.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlops.errors import NAGIOS_CRITICAL, NAGIOS_OK, NAGIOS_UNKNOWN, NAGIOS_WARNING
from sqlops.tuning.facts import Read
from sqlops.tuning.profiles import ProfileValue

Status = Literal["OK", "WARNING", "CRITICAL", "UNKNOWN", "SKIPPED"]
STATUSES: tuple[Status, ...] = ("CRITICAL", "WARNING", "UNKNOWN", "OK", "SKIPPED")
# Worst first, as monitoring-plugins' max_state_alt: CRITICAL > WARNING > UNKNOWN > OK.
_RANK = {"SKIPPED": 0, "OK": 1, "UNKNOWN": 2, "WARNING": 3, "CRITICAL": 4}
EXIT_CODES = {
    "OK": NAGIOS_OK,
    "WARNING": NAGIOS_WARNING,
    "CRITICAL": NAGIOS_CRITICAL,
    "UNKNOWN": NAGIOS_UNKNOWN,
}


def worst(statuses: Iterable[Status]) -> Status:
    found: Status = max(statuses, key=lambda s: _RANK[s], default="OK")
    return "OK" if found == "SKIPPED" else found


@dataclass(frozen=True)
class Finding:
    check: str  # stable identifier, e.g. "sysctl:vm.swappiness", "scheduler:vda"
    title: str
    status: Status
    observed: str | None
    expected: str | None
    reason: str
    sources: tuple[str, ...] = ()
    fact: str = ""  # where the observation was read: a file under --root, or the server

    def to_json(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "title": self.title,
            "status": self.status,
            "observed": self.observed,
            "expected": self.expected,
            "reason": self.reason,
            "sources": list(self.sources),
            "fact": self.fact,
        }


@dataclass(frozen=True)
class Report:
    profile: str
    profile_files: tuple[str, ...]
    profile_source: str  # how the profile was chosen
    root: str
    findings: tuple[Finding, ...]
    notes: tuple[str, ...] = field(default=())

    @property
    def status(self) -> Status:
        return worst(f.status for f in self.findings)

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.status]

    def counts(self) -> dict[str, int]:
        found = Counter(f.status for f in self.findings)
        return {s: found.get(s, 0) for s in STATUSES}

    def status_line(self) -> str:
        """The first line a monitoring system shows, with performance data after ``|``."""
        counts = self.counts()
        problems = [f"{counts[s]} {s.lower()}" for s in ("CRITICAL", "WARNING", "UNKNOWN") if counts[s]]
        summary = ", ".join(problems) if problems else "all checks pass"
        checked = sum(counts.values()) - counts["SKIPPED"]
        perf = " ".join(
            f"{s.lower()}={counts[s]}" for s in ("OK", "WARNING", "CRITICAL", "UNKNOWN", "SKIPPED")
        )
        skipped = counts["SKIPPED"]
        return (
            f"TUNE {self.status} - {self.profile}: {summary} ({checked} checked, {skipped} skipped) | {perf}"
        )

    def as_text(self, *, verbose: bool = False) -> str:
        """The terminal report: the status line, the profile, one line per item (with why,
        what was read and the sources for items that do not pass, or all with `verbose`)."""
        lines = [self.status_line()]
        files = ", ".join(self.profile_files)
        lines.append(f"profile {self.profile} ({self.profile_source}; {files}), root {self.root}")
        for f in self.findings:
            observed = f.observed if f.observed is not None else "-"
            expected = f" (expected {f.expected})" if f.expected else ""
            lines.append(f"{f.status:<8} {f.title}: {observed}{expected}")
            if verbose or f.status not in {"OK"}:
                if f.reason:
                    lines.append(f"         why: {f.reason}")
                if f.fact:
                    lines.append(f"         read: {f.fact}")
                lines += [f"         see: {url}" for url in f.sources]
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return {
            "profile": self.profile,
            "profile_files": list(self.profile_files),
            "profile_source": self.profile_source,
            "root": self.root,
            "status": self.status,
            "exit_code": self.exit_code,
            "counts": self.counts(),
            "notes": list(self.notes),
            "findings": [f.to_json() for f in self.findings],
        }


def finding(
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
    why = " ".join(part.strip() for part in (reason, pv.why if pv else "") if part.strip())
    return Finding(
        check,
        title,
        status,
        observed,
        expected,
        why,
        tuple(dict.fromkeys((*cite, *(pv.sources if pv else ())))),
        fact,
    )


def unavailable(
    check: str,
    title: str,
    read: Read,
    expected: str | None,
    pv: ProfileValue | None,
    *,
    absent_reason: str = "",
) -> Finding:
    """SKIPPED when the file does not exist on this machine, UNKNOWN when it cannot be read."""
    if read.problem == "absent":
        reason = absent_reason or f"{read.path} does not exist on this machine."
        return finding(check, title, "SKIPPED", None, expected, pv, reason=reason, fact=read.path)
    return finding(
        check,
        title,
        "UNKNOWN",
        None,
        expected,
        pv,
        reason=f"cannot read {read.why_missing()}.",
        fact=read.path,
    )
