"""Where the advice comes from: one table of references, cited by checks, renders and README.

Each entry was read when the check was written (kernel docs and commits, Proxmox docs, tuned's
profiles and changelog, the MySQL/MariaDB/Apache manuals). Profiles cite their own sources in
comments; these are the ones the code itself relies on.
"""

from __future__ import annotations

KERNEL_SWITCHING_SCHED = "https://docs.kernel.org/block/switching-sched.html"
# "block: remove legacy IO schedulers" (Linux 5.0): noop, deadline and cfq are gone.
KERNEL_LEGACY_SCHED_REMOVED = (
    "https://git.kernel.org/pub/scm/linux/kernel/git/torvalds/linux.git/commit/?id=f382fb0bcef4"
)
# "block: elevator.c: Remove now unused elevator= argument" (5.4) and the warning added in 5.5.
KERNEL_ELEVATOR_PARAM_REMOVED = (
    "https://git.kernel.org/pub/scm/linux/kernel/git/torvalds/linux.git/commit/"
    "?id=85c0a037dc7a1a34d6add49d6eaa2deddbf43d7b"
)
KERNEL_ELEVATOR_PARAM_WARNING = (
    "https://git.kernel.org/pub/scm/linux/kernel/git/torvalds/linux.git/commit/"
    "?id=f8db383507d658c5a729b062c97710efda876cd4"
)
# "xfs: remove deprecated barrier/nobarrier mount options" (merged for 4.19).
XFS_NOBARRIER_REMOVED = (
    "https://git.kernel.org/pub/scm/linux/kernel/git/torvalds/linux.git/commit/"
    "?id=1c02d502c20809a2a5f71ec16a930a61ed779b81"
)
EXT4_MOUNT_OPTIONS = "https://docs.kernel.org/admin-guide/ext4.html"
# tuned 2.2.0 changelog: "remove nobarrier from virtual-guest (data loss prevention)".
TUNED_NOBARRIER_REMOVED = "https://github.com/redhat-performance/tuned/blob/master/tuned.spec"
# "mm: avoid swapping out with swappiness==0" (3.5-rc1) and what it did to MySQL servers.
KERNEL_SWAPPINESS_0 = (
    "https://git.kernel.org/pub/scm/linux/kernel/git/torvalds/linux.git/commit/"
    "?id=fe35004fbf9eaf67482b074a2e032abb9c89b1dd"
)
PERCONA_SWAPPINESS_0_OOM = "https://www.percona.com/blog/oom-relation-vm-swappiness0-new-kernel/"
KERNEL_SYSCTL_VM = "https://docs.kernel.org/admin-guide/sysctl/vm.html"
# "mm: disable zone_reclaim_mode by default" (3.16).
KERNEL_ZONE_RECLAIM_DEFAULT_OFF = (
    "https://git.kernel.org/pub/scm/linux/kernel/git/torvalds/linux.git/commit/"
    "?id=4f9b16a64753d0bb607454347036dc997fd03b82"
)
KERNEL_THP = "https://docs.kernel.org/admin-guide/mm/transhuge.html"
KERNEL_HUGETLB = "https://docs.kernel.org/admin-guide/mm/hugetlbpage.html"
KERNEL_KSM = "https://docs.kernel.org/admin-guide/mm/ksm.html"
KERNEL_KSM_ADVISOR_PATCH = "https://lore.kernel.org/all/20231218231054.1625219-1-shr@devkernel.io/"
PVE_KSM = "https://pve.proxmox.com/pve-docs/pve-admin-guide.html#kernel_samepage_merging"
PVE_DISK_BUS = "https://pve.proxmox.com/pve-docs/pve-admin-guide.html#qm_hard_disk_bus"
PVE_DISK_CACHE = "https://pve.proxmox.com/pve-docs/pve-admin-guide.html#qm_hard_disk_cache"
PVE_DISK_DISCARD = "https://pve.proxmox.com/pve-docs/pve-admin-guide.html#qm_hard_disk_discard"
PVE_IOTHREAD = "https://pve.proxmox.com/pve-docs/pve-admin-guide.html#qm_hard_disk_iothread"
PVE_MEMORY = "https://pve.proxmox.com/pve-docs/pve-admin-guide.html#qm_memory"
PVE_NETWORK = "https://pve.proxmox.com/pve-docs/pve-admin-guide.html#qm_network_device"
PVE_QM_CONF = "https://pve.proxmox.com/pve-docs/qm.conf.5.html"
PVE_STORAGE = "https://pve.proxmox.com/pve-docs/pve-admin-guide.html#chapter_storage"
APACHE_MAXREQUESTWORKERS = "https://httpd.apache.org/docs/2.4/mod/mpm_common.html#maxrequestworkers"
APACHE_MAXCONNECTIONSPERCHILD = "https://httpd.apache.org/docs/2.4/mod/mpm_common.html#maxconnectionsperchild"
APACHE_SERVERLIMIT = "https://httpd.apache.org/docs/2.4/mod/mpm_common.html#serverlimit"
APACHE_PREFORK = "https://httpd.apache.org/docs/2.4/mod/prefork.html"
APACHE_UPGRADING = "https://httpd.apache.org/docs/2.4/upgrading.html"
KERNEL_PROC_SMAPS_ROLLUP = "https://docs.kernel.org/filesystems/proc.html"
MYSQL_SLOW_LOG = "https://dev.mysql.com/doc/refman/8.4/en/slow-query-log.html"
MYSQL_LOG_SLOW_EXTRA = (
    "https://dev.mysql.com/doc/refman/8.4/en/server-system-variables.html#sysvar_log_slow_extra"
)
MYSQL_LOG_THROTTLE = (
    "https://dev.mysql.com/doc/refman/8.4/en/server-system-variables.html"
    "#sysvar_log_throttle_queries_not_using_indexes"
)
MARIADB_SLOW_LOG = (
    "https://mariadb.com/docs/server/server-management/server-monitoring-logs/slow-query-log/"
    "slow-query-log-overview"
)
MARIADB_LOG_SLOW_VERBOSITY = (
    "https://mariadb.com/docs/server/ha-and-performance/optimization-and-tuning/query-optimizations/"
    "statistics-for-optimizing-queries/slow-query-log-extended-statistics"
)
UDEV_RULES = "https://www.freedesktop.org/software/systemd/man/latest/udev.html"
TMPFILES_D = "https://www.freedesktop.org/software/systemd/man/latest/tmpfiles.d.html"
SYSCTL_D = "https://www.freedesktop.org/software/systemd/man/latest/sysctl.d.html"
