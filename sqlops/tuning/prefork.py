"""Size Apache's prefork MPM from what the machine runs.

    MaxRequestWorkers = (MemTotal - OS reserve - RSS of every other service
                         - the Apache parent, its shared pages counted once)
                        / the largest child's private memory

A prefork child shares its code, libraries and PHP opcache with the parent (copy-on-write), so
only its private pages (``Private_Clean + Private_Dirty`` in ``/proc/<pid>/smaps_rollup``) grow
with the number of children. Every other process counts (mysqld, squid, ...): a fixed list of
"known" services and no reserve is how a 4 GiB guest with MySQL and Squid gets 65 workers where
47 fit. Every step of the arithmetic is returned so the user can check it.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlops.errors import PreconditionError
from sqlops.tuning.facts import Process, parse_meminfo, smaps_rollup
from sqlops.tuning.machine import Machine
from sqlops.tuning.profiles import Profile

APACHE_NAMES = ("apache2", "httpd")
DEFAULT_SERVER_LIMIT = 256  # prefork's compiled-in ServerLimit default


@dataclass(frozen=True)
class ServiceMemory:
    name: str
    pids: tuple[int, ...]
    rss_kib: int


@dataclass(frozen=True)
class Sizing:
    mem_total_kib: int
    reserve_kib: int
    services: tuple[ServiceMemory, ...]
    parent_pid: int | None
    parent_kib: int
    child_pid: int | None
    child_kib: int
    measured: bool  # False: no Apache child could be measured, the profile's assumption is used
    max_request_workers: int
    server_limit: int | None
    start_servers: int
    min_spare_servers: int
    max_spare_servers: int
    max_connections_per_child: int
    notes: tuple[str, ...] = field(default=())
    facts: tuple[str, ...] = field(default=())

    @property
    def services_kib(self) -> int:
        return sum(s.rss_kib for s in self.services)

    @property
    def available_kib(self) -> int:
        return self.mem_total_kib - self.reserve_kib - self.services_kib - self.parent_kib

    def directives(self) -> dict[str, int]:
        out = {
            "StartServers": self.start_servers,
            "MinSpareServers": self.min_spare_servers,
            "MaxSpareServers": self.max_spare_servers,
        }
        if self.server_limit is not None:
            out["ServerLimit"] = self.server_limit
        out["MaxRequestWorkers"] = self.max_request_workers
        out["MaxConnectionsPerChild"] = self.max_connections_per_child
        return out

    def arithmetic(self) -> list[str]:
        def mib(kib: int) -> str:
            return f"{kib / 1024:8.0f} MiB"

        top = ", ".join(f"{s.name} {s.rss_kib / 1024:.0f}" for s in self.services[:4])
        rest = len(self.services) - 4
        if rest > 0:
            top += f", {rest} more {sum(s.rss_kib for s in self.services[4:]) / 1024:.0f}"
        child = f"pid {self.child_pid}" if self.measured else "assumed: no child measured"
        lines = [
            f"  RAM (MemTotal, /proc/meminfo)                {mib(self.mem_total_kib)}",
            f"- OS reserve (profile apache.os_reserve_mib)   {mib(self.reserve_kib)}",
            f"- other services, RSS                          {mib(self.services_kib)}   ({top or 'none'})",
            f"- Apache parent, RSS (shared pages once)       {mib(self.parent_kib)}   "
            + (f"(pid {self.parent_pid})" if self.parent_pid else "(not running)"),
            f"= left for Apache children                     {mib(self.available_kib)}",
            f"/ largest child, Private_Clean+Private_Dirty   {mib(self.child_kib)}   ({child})",
            f"= MaxRequestWorkers {self.max_request_workers}",
        ]
        return lines

    def as_text(self) -> str:
        """The arithmetic, then the <IfModule> block to paste, then the notes."""
        block = [f"\t{name:<23} {value}" for name, value in self.directives().items()]
        notes = [f"note: {note}" for note in self.notes]
        return "\n".join(
            [*self.arithmetic(), "", "<IfModule mpm_prefork_module>", *block, "</IfModule>", *notes]
        )

    def refuse_if_no_child_fits(self) -> None:
        """`tune prefork` fails (after printing the arithmetic) when not one child fits."""
        if self.max_request_workers < 1:
            raise PreconditionError(
                "no Apache child fits in the memory left",
                why="; ".join(self.notes) or None,
                fix="free memory (fewer services on this guest, more RAM) or lower --reserve-mib",
            )

    def to_json(self) -> dict[str, object]:
        return {
            "mem_total_kib": self.mem_total_kib,
            "reserve_kib": self.reserve_kib,
            "services": [{"name": s.name, "pids": list(s.pids), "rss_kib": s.rss_kib} for s in self.services],
            "services_kib": self.services_kib,
            "apache_parent": {"pid": self.parent_pid, "rss_kib": self.parent_kib},
            "largest_child": {
                "pid": self.child_pid,
                "private_kib": self.child_kib,
                "measured": self.measured,
            },
            "available_kib": self.available_kib,
            "directives": self.directives(),
            "arithmetic": self.arithmetic(),
            "notes": list(self.notes),
            "facts": list(self.facts),
        }


def size(machine: Machine, profile: Profile, *, reserve_mib: int | None = None) -> Sizing:
    """Prefork limits for `machine`. Raises PreconditionError when RAM cannot be read."""
    mem_total = machine.meminfo.get("MemTotal")
    if mem_total is None:
        raise PreconditionError(
            f"cannot size Apache: {machine.meminfo_read.why_missing()}",
            why="MemTotal from /proc/meminfo is the budget everything is taken from",
            fix="point --root at a machine (or a `tune capture` of one) that has proc/meminfo",
        )
    reserve = (
        reserve_mib if reserve_mib is not None else int(profile.value("apache", "os_reserve_mib", 512))
    ) * 1024
    apache = machine.running(*APACHE_NAMES)
    apache_pids = {p.pid for p in apache}
    parents = [p for p in apache if p.ppid not in apache_pids]
    parent = parents[0] if parents else None
    children = [p for p in apache if parent is None or p.pid != parent.pid]
    notes: list[str] = []
    read_facts = [machine.meminfo_read.path]

    parent_kib = 0
    if parent is not None:
        rollup = smaps_rollup(machine.root, parent.pid)
        read_facts.append(rollup.path)
        fields = parse_meminfo(rollup.text)
        if "Rss" in fields:
            parent_kib = fields["Rss"]
        else:
            parent_kib = parent.rss_kib or 0
            notes.append(f"{rollup.why_missing()}; used the parent's VmRSS instead")

    child_pid, child_kib, unreadable = None, 0, []
    for child in children:
        rollup = smaps_rollup(machine.root, child.pid)
        read_facts.append(rollup.path)
        fields = parse_meminfo(rollup.text)
        if "Private_Clean" not in fields:
            unreadable.append(rollup.why_missing())
            continue
        private = fields["Private_Clean"] + fields.get("Private_Dirty", 0)
        if private > child_kib:
            child_pid, child_kib = child.pid, private
    measured = child_pid is not None
    if not measured:
        fallback = int(profile.value("apache", "fallback_child_mib", 64))
        child_kib = fallback * 1024
        if unreadable:
            notes.append(f"no child could be measured ({unreadable[0]}); assumed {fallback} MiB per child")
        else:
            notes.append(
                f"no running Apache child under the root; assumed {fallback} MiB per child "
                "(measure on the live web server for a real number)"
            )

    services = _group(p for p in machine.processes if p.pid not in apache_pids and p.rss_kib)
    available = mem_total - reserve - sum(s.rss_kib for s in services) - parent_kib
    workers = max(0, available // child_kib) if child_kib else 0
    if workers < 1:
        notes.append("not even one Apache child fits: free memory, move a service, or lower the reserve")
    pct_min = int(profile.value("apache", "min_spare_percent", 10))
    pct_max = int(profile.value("apache", "max_spare_percent", 25))
    floor_min = int(profile.value("apache", "min_spare_servers", 5))
    min_spare = min(max(floor_min, math.ceil(workers * pct_min / 100)), max(1, workers - 1))
    max_spare = max(min_spare + 1, min(math.ceil(workers * pct_max / 100), workers))
    return Sizing(
        mem_total_kib=mem_total,
        reserve_kib=reserve,
        services=tuple(services),
        parent_pid=parent.pid if parent else None,
        parent_kib=parent_kib,
        child_pid=child_pid,
        child_kib=child_kib,
        measured=measured,
        max_request_workers=workers,
        server_limit=workers if workers > DEFAULT_SERVER_LIMIT else None,
        start_servers=min_spare,
        min_spare_servers=min_spare,
        max_spare_servers=max_spare,
        max_connections_per_child=int(profile.value("apache", "max_connections_per_child", 0)),
        notes=tuple(notes),
        facts=tuple(read_facts),
    )


def _group(processes: Iterable[Process]) -> list[ServiceMemory]:
    by_name: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for p in processes:
        by_name[p.name].append((p.pid, p.rss_kib or 0))
    out = [
        ServiceMemory(name, tuple(pid for pid, _ in items), sum(k for _, k in items))
        for name, items in by_name.items()
    ]
    return sorted(out, key=lambda s: (-s.rss_kib, s.name))
