"""One target machine: the facts checks, prefork sizing and render share, each read once."""

from __future__ import annotations

import os
from functools import cached_property

from sqlops.tuning import facts, proxmox
from sqlops.tuning.facts import Read, Root


class Machine:
    def __init__(self, root: Root) -> None:
        self.root = root

    @cached_property
    def kernel(self) -> Read:
        return facts.kernel_release(self.root)

    @cached_property
    def kernel_version(self) -> tuple[int, int] | None:
        return facts.parse_kernel_version(self.kernel.text)

    @property
    def legacy_block_layer(self) -> bool:
        """Kernels before 5.0 still had the single-queue schedulers (noop, deadline, cfq)."""
        return self.kernel_version is not None and self.kernel_version < (5, 0)

    @cached_property
    def meminfo_read(self) -> Read:
        return facts.meminfo(self.root)

    @cached_property
    def meminfo(self) -> dict[str, int]:
        return facts.parse_meminfo(self.meminfo_read.text)

    @cached_property
    def processes(self) -> list[facts.Process]:
        found = facts.processes(self.root)
        if self.root.is_live:  # sqlops itself is not one of the services being sized
            found = [p for p in found if p.pid != os.getpid()]
        return found

    @cached_property
    def block_devices(self) -> list[facts.BlockDevice]:
        return facts.block_devices(self.root)

    @cached_property
    def ksm(self) -> facts.Ksm:
        return facts.ksm(self.root)

    @cached_property
    def ksmtuned_conf(self) -> Read:
        return self.root.read(facts.KSMTUNED_CONF)

    @cached_property
    def fstab(self) -> Read:
        return self.root.read("/etc/fstab")

    @cached_property
    def mounts(self) -> Read:
        return self.root.read("/proc/mounts")

    @cached_property
    def cmdline(self) -> Read:
        return facts.kernel_cmdline(self.root)

    @cached_property
    def nics(self) -> list[facts.Nic]:
        return facts.nics(self.root)

    @cached_property
    def pve(self) -> proxmox.Node | None:
        return proxmox.read_node(self.root)

    @cached_property
    def apache(self) -> facts.ApacheConfig:
        return facts.apache_config(self.root)

    def running(self, *names: str) -> list[facts.Process]:
        return [p for p in self.processes if p.name in names]
