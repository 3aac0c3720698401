"""Snapshot what the checks read into a fixture tree (``tune capture``).

Rather than keeping a second list of paths that could drift from the checks, capture runs the
checks themselves (every shipped profile, plus prefork sizing and render) against a recording
:class:`Root` and copies exactly the files they read. Probes for files that exist but were not
read (``/usr/sbin/mariadbd``, ``/etc/pve/qemu-server``) become empty placeholders. The result
can be attached to a bug report and replayed with ``--root``.

Lines that look like secrets (``password = ...`` in option files) are replaced.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from sqlops.errors import UsageError
from sqlops.tuning import checks, profiles, render
from sqlops.tuning.facts import Root
from sqlops.tuning.machine import Machine

_SECRET = re.compile(
    r"^(\s*[\w.-]*(password|passwd|secret|token)[\w.-]*\s*[=:]\s*).*$", re.IGNORECASE | re.MULTILINE
)
README = "CAPTURE.txt"


@dataclass(frozen=True)
class Capture:
    out: Path
    copied: tuple[str, ...]
    placeholders: tuple[str, ...]
    unreadable: tuple[tuple[str, str], ...]

    def to_json(self) -> dict[str, object]:
        return {
            "out": str(self.out),
            "copied": list(self.copied),
            "placeholders": list(self.placeholders),
            "unreadable": [{"path": p, "problem": why} for p, why in self.unreadable],
        }


def record(root: Root, profile_dir: str | None = None) -> Root:
    """Run every check, prefork sizing and render against `root`, so it records what they read."""
    checks.detect_profile(Machine(root))
    for name in profiles.available(profile_dir):
        profile = profiles.load(name, profile_dir)
        machine = Machine(root)
        checks.run(machine, profile, profile_source="capture")
        render.render(machine, profile, flavour="mariadb")
    return root


def capture(source: Root, out: Path, profile_dir: str | None = None) -> Capture:
    out = out.expanduser()
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UsageError(f"--out {out} is not an empty folder", fix="pass a new or empty folder")
    if source.texts is None:
        source = Root(source.path, keep_texts=True)
    record(source, profile_dir)
    copied, unreadable = [], []
    for target, state in sorted(source.reads.items()):
        if state != "read":
            if state != "absent" and "outside" not in state:
                unreadable.append((target, state))
            continue
        text = (source.texts or {}).get(target, "")
        dest = out / PurePosixPath(target).relative_to("/")
        if dest.is_dir():  # a file read below a path first probed as a folder cannot happen; skip if it does
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(_SECRET.sub(r"\1(removed by sqlops tune capture)", text), encoding="utf-8")
        copied.append(target)
    placeholders = []
    for target, kind in sorted(source.probes.items()):
        dest = out / PurePosixPath(target).relative_to("/")
        if kind == "dir":
            dest.mkdir(parents=True, exist_ok=True)
        elif kind == "file" and not dest.exists():
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_text("", encoding="utf-8")
            placeholders.append(target)
    notes = [
        "Captured by `sqlops tune capture`: the files `sqlops tune check` reads, as they were.",
        f"Source root: {source.given}. Replay with: sqlops tune check --root <this folder>",
        "Empty files are placeholders for files whose presence matters (installed programs).",
        "Lines naming a password, secret or token were replaced.",
    ]
    notes += [f"unreadable: {p}: {why}" for p, why in unreadable]
    (out / README).write_text("\n".join(notes) + "\n", encoding="utf-8")
    return Capture(out, tuple(copied), tuple(placeholders), tuple(unreadable))
