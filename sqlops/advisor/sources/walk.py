"""Which files to read: source files under the given paths, each with its language.

Directories are walked recursively in name order. Hidden directories (``.git``, ``.svn``)
are skipped, ``vendor/`` is not (legacy apps keep their own code there too). Symbolic links
are followed, but a directory already visited (same device and inode) is not entered again,
so a link loop ends. Files with a NUL byte in their first 8 KiB are binary and skipped.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from sqlops.errors import InputError

_SUFFIXES = {
    ".php": "php",
    ".inc": "php",
    ".phtml": "php",
    ".php3": "php",
    ".php4": "php",
    ".php5": "php",
    ".pl": "perl",
    ".pm": "perl",
    ".cgi": "perl",
    ".py": "python",
    ".sql": "sql",
}
_BINARY_PROBE = 8192


@dataclass(frozen=True)
class SourceFile:
    path: Path
    name: str  # as reported: relative to the directory given, or the file path as given
    language: str
    text: str


def language_of(path: Path, head: bytes) -> str | None:
    """The language by file name (``.pl.in`` is Perl); a ``.cgi`` says so in its ``#!`` line."""
    name = path.name.lower()
    if name.endswith(".pl.in"):
        return "perl"
    language = _SUFFIXES.get(path.suffix.lower())
    if language in (None, "perl") and head.startswith(b"#!"):
        first = head.split(b"\n", 1)[0]
        for word, lang in ((b"python", "python"), (b"php", "php"), (b"perl", "perl")):
            if word in first:
                return lang
    return language


def discover(paths: list[str | Path]) -> list[SourceFile]:
    out: list[SourceFile] = []
    seen_files: set[tuple[int, int]] = set()
    for given in paths:
        root = Path(given)
        if not root.exists():
            raise InputError(
                f"source path {given} does not exist",
                why="--source names a directory or file of application code to read SQL from",
                fix="check the path (relative paths are taken from the current directory)",
            )
        if root.is_file():
            item = _read(root, str(given), seen_files)
            if item is None:
                raise InputError(
                    f"cannot tell the language of {given}",
                    why="source files are recognised by .php/.inc/.phtml, .pl/.pm/.cgi/.pl.in, .py, "
                    ".sql or a #! line naming perl, python or php",
                    fix="give the directory that contains it, or rename it with one of those suffixes",
                )
            if item.language:
                out.append(item)
            continue
        out += _walk(root, seen_files)
    return out


def _walk(root: Path, seen_files: set[tuple[int, int]]) -> list[SourceFile]:
    out: list[SourceFile] = []
    visited: set[tuple[int, int]] = set()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        st = os.stat(dirpath)
        if (st.st_dev, st.st_ino) in visited:
            dirnames[:] = []
            continue
        visited.add((st.st_dev, st.st_ino))
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for fname in sorted(filenames):
            path = Path(dirpath) / fname
            rel = path.relative_to(root).as_posix()
            item = _read(path, rel, seen_files)
            if item is not None and item.language:
                out.append(item)
    return out


def _read(path: Path, name: str, seen_files: set[tuple[int, int]]) -> SourceFile | None:
    """The file with its language; None when it is not source; language "" when skipped."""
    try:
        st = path.stat()
        with path.open("rb") as fh:
            head = fh.read(_BINARY_PROBE)
            language = language_of(path, head)
            if language is None:
                return None
            if b"\0" in head or (st.st_dev, st.st_ino) in seen_files:
                return SourceFile(path, name, "", "")
            data = head + fh.read()
    except OSError as exc:
        raise InputError(
            f"cannot read {path}: {exc.strerror}",
            why="every file of the source tree is read to find its SQL",
            fix="fix the permissions, or give a directory that leaves the file out",
        ) from exc
    seen_files.add((st.st_dev, st.st_ino))
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("latin-1")  # legacy pages are often ISO-8859-1; SQL is ASCII anyway
    return SourceFile(path, name, language, text.replace("\r\n", "\n"))
