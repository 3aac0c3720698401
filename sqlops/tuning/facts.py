"""Facts about a machine, read only under a root directory.

`Root("/")` is the running machine; `Root("tests/data/tuning/db-guest/root")` is a fixture tree
with the same layout (``proc/sys/vm/swappiness``, ``sys/block/vda/queue/scheduler``,
``etc/fstab`` ...). Every read goes through :class:`Root`, which

* never leaves the root (a symlink that points outside it reads as absent),
* never raises for a missing or unreadable file: the fact says *why* it has no value, so a
  check can report UNKNOWN or skip with a reason instead of crashing, and
* remembers every path it read or probed, which is how ``tune capture`` knows what to copy.

The ``parse_*`` functions are pure and take the text of one file.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from sqlops.mycnf import option_lines

# --------------------------------------------------------------------------------------------
# Reading under a root


@dataclass(frozen=True)
class Read:
    """The text of one file of the target machine, or why there is none."""

    path: str  # as on the target machine: /proc/sys/vm/swappiness
    text: str | None
    problem: str | None = None  # "absent", "permission denied", ...

    @property
    def ok(self) -> bool:
        return self.text is not None

    @property
    def value(self) -> str | None:
        """The stripped text (sysfs and procfs files end with a newline)."""
        return None if self.text is None else self.text.strip()

    def why_missing(self) -> str:
        return f"{self.path}: {self.problem or 'absent'}"


class Root:
    """The target machine's file system, seen from `path` (``/`` for this machine)."""

    def __init__(self, path: str | os.PathLike[str] = "/", *, keep_texts: bool = False) -> None:
        self.given = str(path)
        self.path = Path(path)
        self._resolved = self.path.resolve()
        self.reads: dict[str, str] = {}  # target path -> "read" | problem
        self.probes: dict[str, str] = {}  # target path -> "file" | "dir" | "absent"
        # With keep_texts, the first text read of every file (a capture copies what was seen,
        # even if a process exited since).
        self.texts: dict[str, str] | None = {} if keep_texts else None

    @property
    def is_live(self) -> bool:
        return self._resolved == Path("/")

    def host_path(self, target: str) -> Path:
        relative = PurePosixPath(target).relative_to("/") if target.startswith("/") else PurePosixPath(target)
        return self.path / relative

    def _inside(self, host: Path) -> bool:
        if self.is_live:
            return True
        try:
            host.resolve().relative_to(self._resolved)
        except (ValueError, OSError):
            return False
        return True

    def read(self, target: str) -> Read:
        host = self.host_path(target)
        problem: str | None = None
        text: str | None = None
        if not self._inside(host):
            problem = "points outside --root"
        else:
            try:
                text = host.read_text(encoding="utf-8", errors="replace")
            except FileNotFoundError:
                problem = "absent"
            except PermissionError:
                problem = "permission denied (run as root to read it)"
            except IsADirectoryError:
                problem = "is a directory"
            except OSError as exc:  # EIO on some sysfs files, ESRCH for a process that exited
                problem = f"unreadable ({exc.strerror or exc})"
        self.reads[target] = "read" if problem is None else problem
        if self.texts is not None and text is not None:
            self.texts.setdefault(target, text)
        return Read(target, text, problem)

    def kind(self, target: str) -> str:
        """``file``, ``dir`` or ``absent`` (recorded so a capture reproduces the probe)."""
        host = self.host_path(target)
        if not self._inside(host):
            found = "absent"
        elif host.is_dir():
            found = "dir"
        elif host.exists():
            found = "file"
        else:
            found = "absent"
        self.probes[target] = found
        return found

    def exists(self, target: str) -> bool:
        return self.kind(target) != "absent"

    def listdir(self, target: str) -> list[str]:
        host = self.host_path(target)
        self.probes[target] = "dir" if host.is_dir() else "absent"
        if not self._inside(host):
            return []
        try:
            return sorted(os.listdir(host))
        except OSError:
            return []

    def glob(self, folder: str, pattern: str) -> list[str]:
        """Target paths of the entries of `folder` whose names match the regex `pattern`."""
        rx = re.compile(pattern)
        found = [f"{folder.rstrip('/')}/{name}" for name in self.listdir(folder) if rx.fullmatch(name)]
        for path in found:  # recorded, so a capture keeps the entries a glob found
            self.kind(path)
        return found


# --------------------------------------------------------------------------------------------
# Kernel, sysctl, command line


def kernel_release(root: Root) -> Read:
    return root.read("/proc/sys/kernel/osrelease")


def parse_kernel_version(release: str | None) -> tuple[int, int] | None:
    """``6.8.12-4-pve`` -> (6, 8); None when it does not start with a version."""
    match = re.match(r"\s*(\d+)\.(\d+)", release or "")
    return (int(match.group(1)), int(match.group(2))) if match else None


def sysctl_path(name: str) -> str:
    return "/proc/sys/" + name.replace(".", "/")


def sysctl(root: Root, name: str) -> Read:
    return root.read(sysctl_path(name))


def kernel_cmdline(root: Root) -> Read:
    return root.read("/proc/cmdline")


def cmdline_params(text: str | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for word in (text or "").split():
        if word == "--":  # what follows belongs to init
            break
        name, _, value = word.partition("=")
        out[name] = value
    return out


# --------------------------------------------------------------------------------------------
# Block devices


LEGACY_SCHEDULERS = frozenset({"noop", "deadline", "cfq"})
MQ_SCHEDULERS = frozenset({"none", "mq-deadline", "bfq", "kyber"})
_NOT_DISKS = re.compile(r"(loop|ram|zram|sr|fd|nbd)\d+")
_STACKED = re.compile(r"(dm-|md)\d+")


@dataclass(frozen=True)
class Scheduler:
    available: tuple[str, ...]
    active: str | None


def parse_scheduler(text: str | None) -> Scheduler | None:
    """``[mq-deadline] kyber bfq none`` -> available names and the bracketed active one."""
    if not text or not text.strip():
        return None
    names: list[str] = []
    active = None
    for word in text.split():
        if word.startswith("[") and word.endswith("]"):
            word = word[1:-1]
            active = word
        names.append(word)
    return Scheduler(tuple(names), active)


@dataclass(frozen=True)
class BlockDevice:
    name: str
    kind: str  # "disk" | "stacked" (dm-*, md*: they follow the disks below them)
    scheduler: Read
    rotational: Read

    @property
    def parsed(self) -> Scheduler | None:
        return parse_scheduler(self.scheduler.text)

    @property
    def is_rotational(self) -> bool | None:
        return None if self.rotational.value is None else self.rotational.value == "1"


def block_devices(root: Root) -> list[BlockDevice]:
    out = []
    for name in root.listdir("/sys/block"):
        if _NOT_DISKS.fullmatch(name):
            continue
        base = f"/sys/block/{name}/queue"
        kind = "stacked" if _STACKED.fullmatch(name) else "disk"
        out.append(BlockDevice(name, kind, root.read(f"{base}/scheduler"), root.read(f"{base}/rotational")))
    return out


# --------------------------------------------------------------------------------------------
# Memory: meminfo, THP, hugetlb, KSM


def meminfo(root: Root) -> Read:
    return root.read("/proc/meminfo")


def parse_meminfo(text: str | None) -> dict[str, int]:
    """``MemTotal:  4194304 kB`` -> {"MemTotal": 4194304} (kB, or a plain count for HugePages_*)."""
    out: dict[str, int] = {}
    for line in (text or "").splitlines():
        name, _, rest = line.partition(":")
        words = rest.split()
        if words and words[0].isdigit():
            out[name.strip()] = int(words[0])
    return out


def thp_setting(root: Root, name: str) -> Read:
    """``enabled`` or ``defrag`` under /sys/kernel/mm/transparent_hugepage."""
    return root.read(f"/sys/kernel/mm/transparent_hugepage/{name}")


KSM_DIR = "/sys/kernel/mm/ksm"
KSM_FILES = (
    "run",
    "pages_to_scan",
    "sleep_millisecs",
    "pages_shared",
    "pages_sharing",
    "pages_unshared",
    "pages_volatile",
    "full_scans",
    "ksm_zero_pages",
    "general_profit",
    "smart_scan",
    "advisor_mode",
    "use_zero_pages",
)


@dataclass(frozen=True)
class Ksm:
    present: bool
    files: dict[str, Read] = field(default_factory=dict)

    def number(self, name: str) -> int | None:
        read = self.files.get(name)
        value = read.value if read else None
        try:
            return int(value) if value is not None else None
        except ValueError:
            return None

    def text(self, name: str) -> str | None:
        read = self.files.get(name)
        return read.value if read else None


def ksm(root: Root) -> Ksm:
    if not root.exists(KSM_DIR):
        return Ksm(False)
    return Ksm(True, {name: root.read(f"{KSM_DIR}/{name}") for name in KSM_FILES})


def bracketed(text: str | None) -> str | None:
    """The active choice of a sysfs selector: ``always [madvise] never`` -> madvise."""
    match = re.search(r"\[([^\]]+)\]", text or "")
    if match:
        return match.group(1)
    value = (text or "").strip()
    return value or None


KSMTUNED_CONF = "/etc/ksmtuned.conf"


def parse_shell_assignments(text: str | None) -> dict[str, str]:
    """``KSM_THRES_COEF=20`` lines of ksmtuned.conf (comments and blanks skipped)."""
    out: dict[str, str] = {}
    for line in (text or "").splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        name, _, value = line.partition("=")
        out[name.strip()] = value.strip().strip("'\"")
    return out


# --------------------------------------------------------------------------------------------
# fstab and mounts


@dataclass(frozen=True)
class MountEntry:
    line: int
    spec: str
    mountpoint: str
    fstype: str
    options: tuple[str, ...]
    text: str


def parse_fstab(text: str | None) -> list[MountEntry]:
    """fstab or /proc/mounts lines (same first four fields)."""
    out = []
    for number, raw in enumerate((text or "").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        fields = line.split()
        if len(fields) < 4:
            continue
        out.append(MountEntry(number, fields[0], fields[1], fields[2], tuple(fields[3].split(",")), raw))
    return out


# --------------------------------------------------------------------------------------------
# Processes


@dataclass(frozen=True)
class Process:
    pid: int
    name: str
    ppid: int
    rss_kib: int | None  # None for kernel threads


def parse_status(pid: int, text: str | None) -> Process | None:
    if not text:
        return None
    fields: dict[str, str] = {}
    for line in text.splitlines():
        name, _, value = line.partition(":")
        fields[name] = value.strip()
    rss = fields.get("VmRSS", "").split()
    return Process(
        pid=pid,
        name=fields.get("Name", "?"),
        ppid=int(fields.get("PPid", "0") or 0),
        rss_kib=int(rss[0]) if rss and rss[0].isdigit() else None,
    )


def processes(root: Root) -> list[Process]:
    out = []
    for entry in root.listdir("/proc"):
        if entry.isdigit():
            proc = parse_status(int(entry), root.read(f"/proc/{entry}/status").text)
            if proc is not None:
                out.append(proc)
    return sorted(out, key=lambda p: p.pid)


def smaps_rollup(root: Root, pid: int) -> Read:
    return root.read(f"/proc/{pid}/smaps_rollup")


# --------------------------------------------------------------------------------------------
# Network interfaces (virtio or emulated?)


@dataclass(frozen=True)
class Nic:
    name: str
    driver: str | None
    uevent: Read


def nics(root: Root) -> list[Nic]:
    out = []
    for name in root.listdir("/sys/class/net"):
        if name == "lo":
            continue
        uevent = root.read(f"/sys/class/net/{name}/device/uevent")
        if not uevent.ok:
            continue  # bridges, bonds, tun/tap, veth: no device behind them
        driver = next(
            (
                line.split("=", 1)[1]
                for line in (uevent.text or "").splitlines()
                if line.startswith("DRIVER=")
            ),
            None,
        )
        out.append(Nic(name, driver, uevent))
    return out


# --------------------------------------------------------------------------------------------
# Option files (my.cnf) and Apache configuration, read under the root


@dataclass(frozen=True)
class Setting:
    """One `name = value` found in a configuration file, with where it was found."""

    name: str
    value: str
    path: str
    line: int

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"


MYSQL_SERVER_GROUPS = ("mysqld", "server", "mariadb", "mariadbd")
MY_CNF = "/etc/mysql/my.cnf"


def mysql_server_options(root: Root, start: str = MY_CNF) -> dict[str, Setting]:
    """Server options from my.cnf and its includes (later wins, as mysqld reads them).

    Names are normalised to the variable spelling (``slow-query-log`` -> ``slow_query_log``);
    ``loose-`` prefixes are dropped. Includes are resolved under the root.
    """
    out: dict[str, Setting] = {}
    _read_cnf(root, start, out, depth=0)
    return out


def _read_cnf(root: Root, path: str, out: dict[str, Setting], depth: int) -> None:
    def read(target: str) -> str | None:
        got = root.read(target)
        return (got.text or "") if got.ok else None

    def list_dir(folder: str) -> list[str]:
        return list(root.glob(folder, r"[^.].*\.cnf"))

    for option in option_lines(path, read, list_dir, depth=depth):
        group = option.group or ""
        if group in MYSQL_SERVER_GROUPS or group.startswith(("mysqld-", "mariadb-")):
            value = "ON" if option.value is None else option.value
            out[option.name] = Setting(option.name, value, option.path, option.line)


def mysql_flavour_hint(root: Root) -> tuple[str | None, str]:
    """Which server the target runs, from what is installed: (flavour or None, evidence)."""
    for target, flavour in (
        ("/usr/sbin/mariadbd", "mariadb"),
        ("/etc/mysql/mariadb.conf.d", "mariadb"),
        ("/etc/mysql/mysql.conf.d", "mysql"),
        ("/usr/sbin/mysqld", "mysql"),
    ):
        if root.exists(target):
            return flavour, f"{target} exists"
    return None, "neither /usr/sbin/mariadbd nor /usr/sbin/mysqld exists"


APACHE_DIR = "/etc/apache2"
APACHE_PREFORK_DIRECTIVES = (
    "StartServers",
    "MinSpareServers",
    "MaxSpareServers",
    "ServerLimit",
    "MaxRequestWorkers",
    "MaxClients",
    "MaxConnectionsPerChild",
    "MaxRequestsPerChild",
)


@dataclass(frozen=True)
class ApacheConfig:
    present: bool
    mpm: str | None  # prefork | worker | event, from mods-enabled/mpm_*.load
    mpm_evidence: str
    directives: dict[str, Setting]  # the last occurrence of each prefork-related directive


def apache_config(root: Root) -> ApacheConfig:
    """Debian's layout: apache2.conf, mods-enabled/mpm_*.{load,conf}, conf-enabled/*.conf."""
    if not root.exists(f"{APACHE_DIR}/apache2.conf"):
        return ApacheConfig(False, None, f"{APACHE_DIR}/apache2.conf is absent", {})
    loads = root.glob(f"{APACHE_DIR}/mods-enabled", r"mpm_(prefork|worker|event)\.load")
    mpm = PurePosixPath(loads[0]).stem.removeprefix("mpm_") if len(loads) == 1 else None
    evidence = loads[0] if len(loads) == 1 else f"{len(loads)} mpm_*.load files in mods-enabled"
    files = [f"{APACHE_DIR}/apache2.conf"]
    files += root.glob(f"{APACHE_DIR}/mods-enabled", r"mpm_(prefork|worker|event)\.conf")
    files += root.glob(f"{APACHE_DIR}/conf-enabled", r".*\.conf")
    wanted = {d.lower(): d for d in APACHE_PREFORK_DIRECTIVES}
    directives: dict[str, Setting] = {}
    for path in files:
        for number, raw in enumerate((root.read(path).text or "").splitlines(), start=1):
            words = raw.split("#", 1)[0].split()
            if len(words) >= 2 and words[0].lower() in wanted:
                name = wanted[words[0].lower()]
                directives[name] = Setting(name, words[1], path, number)
    return ApacheConfig(True, mpm, evidence, directives)
