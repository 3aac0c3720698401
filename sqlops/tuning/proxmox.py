"""Proxmox VE guest configurations (``/etc/pve/qemu-server/<vmid>.conf``) and their lint.

The file format is ``key: value`` lines; snapshots follow in ``[name]`` sections, which are
ignored (they describe the past). Drive values are ``[file=]<volume>,opt=value,...``; NICs are
``<model>=<mac>,bridge=...`` or ``model=<model>,...`` (see qm.conf(5)).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlops.tuning import sources
from sqlops.tuning.facts import Root
from sqlops.tuning.findings import Finding, Status, worst
from sqlops.tuning.profiles import Profile

QEMU_SERVER = "/etc/pve/qemu-server"
STORAGE_CFG = "/etc/pve/storage.cfg"
DISK_KEY = re.compile(r"(ide|sata|scsi|virtio)(\d+)")
NIC_KEY = re.compile(r"net\d+")
NIC_MODELS = frozenset(
    {
        "e1000",
        "e1000-82540em",
        "e1000-82544gc",
        "e1000-82545em",
        "e1000e",
        "i82551",
        "i82557b",
        "i82559er",
        "ne2k_isa",
        "ne2k_pci",
        "pcnet",
        "rtl8139",
        "virtio",
        "vmxnet3",
    }
)
THIN_STORAGE_TYPES = frozenset({"lvmthin", "zfspool", "rbd"})
FILE_STORAGE_TYPES = frozenset({"dir", "nfs", "cifs", "glusterfs", "cephfs", "btrfs"})


@dataclass(frozen=True)
class VmConfig:
    vmid: str
    path: str
    options: dict[str, str]

    @property
    def name(self) -> str:
        return self.options.get("name", f"vm{self.vmid}")

    @property
    def label(self) -> str:
        return f"VM {self.vmid} ({self.name})"


def parse_vm_config(vmid: str, path: str, text: str) -> VmConfig:
    options: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("["):  # snapshots and pending changes follow; the current config ends
            break
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition(":")
        if sep:
            options[key.strip()] = value.strip()
    return VmConfig(vmid, path, options)


def split_options(value: str) -> tuple[str, dict[str, str]]:
    """``local-lvm:vm-1-disk-0,cache=none`` -> ("local-lvm:vm-1-disk-0", {"cache": "none"}).
    The first item is positional unless it is ``file=...``."""
    first, *rest = value.split(",")
    opts: dict[str, str] = {}
    for item in rest:
        key, _, val = item.partition("=")
        opts[key.strip()] = val.strip()
    if first.startswith("file="):
        first = first[5:]
    return first, opts


def parse_storage_cfg(text: str | None) -> dict[str, str]:
    """Storage id -> type from ``/etc/pve/storage.cfg`` (``lvmthin: local-lvm`` headers)."""
    out: dict[str, str] = {}
    for line in (text or "").splitlines():
        match = re.match(r"^([a-z0-9]+):\s*(\S+)\s*$", line)
        if match:
            out[match.group(2)] = match.group(1)
    return out


@dataclass(frozen=True)
class Node:
    vms: list[VmConfig]
    storage: dict[str, str]
    storage_read: bool


def read_node(root: Root) -> Node | None:
    """The guests of a Proxmox node, or None when the root is not one."""
    if not root.exists(QEMU_SERVER):
        return None
    vms = []
    for path in root.glob(QEMU_SERVER, r"\d+\.conf"):
        read = root.read(path)
        if read.ok:
            vms.append(parse_vm_config(path.rsplit("/", 1)[1][:-5], path, read.text or ""))
    storage = root.read(STORAGE_CFG)
    return Node(sorted(vms, key=lambda v: int(v.vmid)), parse_storage_cfg(storage.text), storage.ok)


def memory_mib(vm: VmConfig) -> int | None:
    """``memory: 8192`` or, since PVE 8.1, ``memory: current=8192``. Default 512 MiB."""
    raw = vm.options.get("memory")
    if raw is None:
        return 512
    match = re.search(r"(\d+)", raw)
    return int(match.group(1)) if match else None


# --------------------------------------------------------------------------------------------
# Lint


def lint(node: Node, profile: Profile) -> list[Finding]:
    out: list[Finding] = []
    for vm in node.vms:
        out.extend(_lint_controller(vm, profile))
        for key, value in vm.options.items():
            if DISK_KEY.fullmatch(key):
                finding = _lint_disk(vm, key, value, node, profile)
                if finding:
                    out.append(finding)
            elif NIC_KEY.fullmatch(key):
                out.append(_lint_nic(vm, key, value, profile))
        out.extend(_lint_memory(vm, profile))
    return out


def _is_disk(value: str) -> bool:
    volume, opts = split_options(value)
    return opts.get("media") != "cdrom" and volume not in {"none", "cdrom"}


def _lint_controller(vm: VmConfig, profile: Profile) -> list[Finding]:
    wanted = profile.get("proxmox", "scsihw")
    scsi = [
        k for k, v in vm.options.items() if k.startswith("scsi") and DISK_KEY.fullmatch(k) and _is_disk(v)
    ]
    if wanted is None or not scsi:
        return []
    observed = vm.options.get("scsihw", "lsi")
    ok = observed == wanted.value
    return [
        Finding(
            check=f"pve:{vm.vmid}:scsihw",
            title=f"{vm.label} SCSI controller",
            status="OK" if ok else "WARNING",
            observed=observed if "scsihw" in vm.options else f"{observed} (default)",
            expected=wanted.value,
            reason=wanted.why,
            sources=wanted.sources,
            fact=vm.path,
        )
    ]


def _storage_kind(volume: str, opts: dict[str, str], node: Node) -> tuple[str | None, bool | None]:
    """(storage type, thin?) of a volume ``storage:name``; None when unknown."""
    storage_id = volume.split(":", 1)[0] if ":" in volume else None
    kind = node.storage.get(storage_id or "")
    if kind is None:
        return None, None
    if kind in THIN_STORAGE_TYPES:
        return kind, True
    if kind in FILE_STORAGE_TYPES:
        return kind, volume.endswith(".qcow2") or opts.get("format") == "qcow2"
    return kind, False


def _lint_disk(vm: VmConfig, key: str, value: str, node: Node, profile: Profile) -> Finding | None:
    if not _is_disk(value):
        return None
    bus = key.rstrip("0123456789")  # ide0 -> ide (the caller matched DISK_KEY)
    volume, opts = split_options(value)
    problems: list[tuple[Status, str]] = []
    reasons: list[str] = []
    cited: list[str] = []

    def cite(section_key: str) -> None:
        pv = profile.get("proxmox", section_key)
        if pv:
            reasons.append(pv.why)
            cited.extend(pv.sources)

    if bus in {"ide", "sata"}:
        problems.append(
            ("WARNING", f"{bus.upper()} is an emulated controller: move the disk to scsi or virtio")
        )
        reasons.append("Proxmox: it is highly recommended to use the VirtIO SCSI or VirtIO Block controller.")
        cited.append(sources.PVE_DISK_BUS)
    if profile.value("proxmox", "iothread") and bus in {"scsi", "virtio"}:
        if opts.get("iothread") not in {"1", "on", "yes", "true"}:
            problems.append(("WARNING", "iothread is off"))
            cite("iothread")
        elif bus == "scsi" and vm.options.get("scsihw", "lsi") != "virtio-scsi-single":
            problems.append(("WARNING", "iothread=1 has no effect unless scsihw is virtio-scsi-single"))
            cite("iothread")
    cache = opts.get("cache", "none")
    allowed = profile.value("proxmox", "cache")
    if cache == "unsafe":
        problems.append(
            (
                "CRITICAL",
                "cache=unsafe ignores flushes: a host crash loses data the guest was told is on disk",
            )
        )
        cite("cache")
    elif allowed and cache not in allowed:
        problems.append(("WARNING", f"cache={cache} (double caching in the host page cache)"))
        cite("cache")
    kind, thin = _storage_kind(volume, opts, node)
    if profile.value("proxmox", "discard_on_thin") and thin and opts.get("discard") != "on":
        problems.append(
            (
                "WARNING",
                f"discard is off on thin storage ({kind}): space freed in the guest is never returned",
            )
        )
        cite("discard_on_thin")
    storage = f"{kind}{', thin' if thin else ''}" if kind else "storage type unknown"
    observed = (
        f"{bus} {volume} ({storage}) cache={cache} iothread={opts.get('iothread', '0')} "
        f"discard={opts.get('discard', 'ignore')}"
    )
    if not problems:
        reason = "virtio controller, no host caching, iothread and discard as the profile wants"
    else:
        reason = "; ".join(p for _, p in problems) + ". " + " ".join(dict.fromkeys(reasons))
    return Finding(
        check=f"pve:{vm.vmid}:{key}",
        title=f"{vm.label} disk {key}",
        status=worst(s for s, _ in problems) if problems else "OK",
        observed=observed,
        expected=_disk_expectation(profile),
        reason=reason.strip(),
        sources=tuple(
            dict.fromkeys(cited or [sources.PVE_DISK_BUS, sources.PVE_IOTHREAD, sources.PVE_DISK_CACHE])
        ),
        fact=vm.path,
    )


def _disk_expectation(profile: Profile) -> str:
    parts = ["scsi (virtio-scsi-single) or virtio"]
    if profile.value("proxmox", "iothread"):
        parts.append("iothread=1")
    if profile.value("proxmox", "cache"):
        parts.append("cache=" + "|".join(profile.value("proxmox", "cache")))
    if profile.value("proxmox", "discard_on_thin"):
        parts.append("discard=on on thin storage")
    return ", ".join(parts)


def nic_model(value: str) -> str | None:
    first, opts = split_options(value)
    key = first.split("=", 1)[0]
    if key in NIC_MODELS:
        return key
    return opts.get("model") or (first.split("=", 1)[1] if key == "model" else None)


def _lint_nic(vm: VmConfig, key: str, value: str, profile: Profile) -> Finding:
    wanted = profile.get("proxmox", "nic_model")
    model = nic_model(value)
    expected = wanted.value if wanted else "virtio"
    return Finding(
        check=f"pve:{vm.vmid}:{key}",
        title=f"{vm.label} NIC {key}",
        status="OK" if model == expected else "WARNING",
        observed=model or "unknown model",
        expected=expected,
        reason=wanted.why if wanted else "",
        sources=wanted.sources if wanted else (sources.PVE_NETWORK,),
        fact=vm.path,
    )


def is_db_vm(vm: VmConfig, profile: Profile) -> bool:
    pattern = profile.value("proxmox", "db_vm_pattern")
    if not pattern:
        return False
    text = f"{vm.name} {vm.options.get('tags', '').replace(';', ' ')}".lower()
    return re.search(pattern, text) is not None


def _lint_memory(vm: VmConfig, profile: Profile) -> list[Finding]:
    wanted = profile.get("proxmox", "db_fixed_memory")
    if wanted is None or not wanted.value or not is_db_vm(vm, profile):
        return []
    memory = memory_mib(vm)
    balloon_raw = vm.options.get("balloon")
    balloon = int(balloon_raw) if balloon_raw and balloon_raw.isdigit() else None
    fixed = balloon is None or balloon == 0 or balloon == memory
    observed = (
        f"memory={memory} MiB, balloon={balloon_raw if balloon_raw is not None else '(unset: = memory)'}"
    )
    reason = wanted.why
    if not fixed:
        reason = f"the host may shrink this database VM from {memory} to {balloon} MiB. " + reason
    return [
        Finding(
            check=f"pve:{vm.vmid}:memory",
            title=f"{vm.label} memory (database guest)",
            status="OK" if fixed else "WARNING",
            observed=observed,
            expected="fixed: balloon unset, 0 or equal to memory",
            reason=reason,
            sources=wanted.sources,
            fact=vm.path,
        )
    ]


def hugepage_vms(node: Node | None) -> list[str]:
    return [vm.label for vm in (node.vms if node else []) if "hugepages" in vm.options]
