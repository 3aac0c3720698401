"""Can Squid's user run this installation of the daemon?

Squid runs ``logfile_daemon`` as its cache_effective_user (Debian: ``proxy``). A virtualenv made
with a Python under ``/root`` (pyenv, a root-built interpreter) points its ``bin/python`` at a
file that user cannot reach, so Squid's exec fails with "Permission denied" before any sqlops
code runs, and cache.log only shows Squid's own error. The admin's own runs of the daemon (as
root, with ``--help`` or ``--check``) and any start-up error therefore check the paths for
that user and say what to do.
"""

from __future__ import annotations

import os
import pwd
import stat
import sys
from collections.abc import Iterable
from pathlib import Path

import sqlops

SQUID_USER = "proxy"
FIX = (
    "build the virtualenv on the system Python, outside /root: /usr/bin/python3 -m venv /opt/sqlops && "
    "/opt/sqlops/bin/pip install /path/to/sqlops-clone && ln -sf /opt/sqlops/bin/sqlops-logfile-daemon "
    "/usr/local/bin/ (README, Setting it up)"
)


def _allowed(mode: int, owner: int, group: int, uid: int, gids: set[int], bit: int) -> bool:
    """`bit` is 4 (read), 2 (write) or 1 (execute/search), tested the way the kernel does."""
    if uid == 0:
        return bit != 1 or bool(mode & 0o111) or stat.S_ISDIR(mode)
    if uid == owner:
        return bool(mode & (bit << 6))
    if group in gids:
        return bool(mode & (bit << 3))
    return bool(mode & bit)


def blocked(path: Path, uid: int, gids: set[int], *, need_read: bool = False) -> str | None:
    """The first folder or file on the way to `path` (followed through symlinks) that the
    user cannot pass, described, or None."""
    seen: set[Path] = set()
    pending = [Path(os.path.abspath(path))]
    while pending:
        target = pending.pop()
        if target in seen:
            continue
        seen.add(target)
        for folder in [*reversed(target.parents), target]:
            try:
                info = os.lstat(folder)
            except OSError:
                return None  # gone or unreadable for us: nothing to say about the other user
            if stat.S_ISLNK(info.st_mode):
                link = Path(os.readlink(folder))
                pending.append(link if link.is_absolute() else folder.parent / link)
                if folder != target:
                    pending.append(Path(os.path.realpath(folder)) / target.relative_to(folder))
                break
            last = folder == target
            bits = [1] if not last else ([4, 1] if stat.S_ISDIR(info.st_mode) and need_read else [1])
            if last and need_read and not stat.S_ISDIR(info.st_mode):
                bits = [4]
            for bit in bits:
                if not _allowed(info.st_mode, info.st_uid, info.st_gid, uid, gids, bit):
                    return f"{folder} ({stat.filemode(info.st_mode)}, owner uid {info.st_uid})"
    return None


def problem_for(user: str = SQUID_USER, paths: Iterable[tuple[Path, bool]] | None = None) -> str | None:
    """Why `user` cannot run this daemon (interpreter, virtualenv, the sqlops package), or
    None when it can (or the user does not exist here)."""
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        return None
    gids = set(os.getgrouplist(user, entry.pw_gid))
    if paths is None:
        paths = [(Path(sys.executable), False), (Path(sqlops.__file__).parent, True)]
    for path, need_read in paths:
        where = blocked(path, entry.pw_uid, gids, need_read=need_read)
        if where is not None:
            return (
                f"user {user} (Squid's cache_effective_user) cannot reach {path}: {where} is in the way, "
                f'so Squid fails to start the daemon with "Permission denied"'
            )
    return None
