"""Files and folders that hold log data (journals, quarantine, status): private whatever the
caller's umask. Raw access-log lines carry URLs and user names, so every file sqlops creates
for them is 0640 and every folder 0750 (owner and its group, e.g. proxy:proxy), never
world-readable, even when started from a root shell with umask 022.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO, Any

DIR_MODE = 0o750
FILE_MODE = 0o640


def private_dir(path: Path) -> Path:
    """Create `path` and any missing parents as 0750 folders; existing ones are left alone
    (a parent such as /var/spool belongs to the system)."""
    missing: list[Path] = []
    current = path
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for folder in reversed(missing):
        try:
            os.mkdir(folder, DIR_MODE)
        except FileExistsError:
            continue  # created concurrently: its creator set its mode
        os.chmod(folder, DIR_MODE)  # mkdir's mode is filtered by the umask
    return path


def open_private_fd(path: Path | str, flags: int) -> int:
    """os.open with O_CREAT and mode 0640 (a new file never has more than 0640)."""
    fd = os.open(path, flags | os.O_CREAT, FILE_MODE)
    try:
        if os.fstat(fd).st_mode & 0o777 & ~FILE_MODE:
            os.fchmod(fd, FILE_MODE)  # a file created earlier under a looser umask
    except OSError:
        pass  # not ours to change (another owner): reading and writing still work
    return fd


def open_private(path: Path, mode: str = "a", **kwargs: Any) -> IO[Any]:
    """open() for a private file: mode "a", "w" (truncate) or their binary variants."""
    flags = {"a": os.O_WRONLY | os.O_APPEND, "w": os.O_WRONLY | os.O_TRUNC}[mode[0]]
    return os.fdopen(open_private_fd(path, flags), mode, **kwargs)


def write_private(path: Path, text: str) -> None:
    """Replace a private file's text atomically (a reader never sees half of it)."""
    tmp = path.with_name(path.name + ".tmp")
    with open_private(tmp, "w", encoding="utf-8") as out:
        out.write(text)
    os.replace(tmp, path)
