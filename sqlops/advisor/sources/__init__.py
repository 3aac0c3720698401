"""SQL read statically out of application source (PHP, Perl, Python, ``.sql`` files).

``scan_sources(paths)`` finds the source files (`walk.py`), collects the constants every
file defines (`constants.py`), then evaluates each file's string expressions (`php.py`,
`perl.py`, `python.py`, `sqlfile.py`, sharing `clike.py`/`scope.py`) and assembles the
statements with ``?`` placeholders (`assemble.py`). What cannot be completed statically
is returned as `Unresolved` with its reason. `classes.py` groups the statements by the
digest's fingerprint; `render.py` prints them for ``sqlops digest --source``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlops.advisor.sources import perl, php, python, sqlfile
from sqlops.advisor.sources.constants import Constants
from sqlops.advisor.sources.model import SourceScan, SourceStatement, Unresolved
from sqlops.advisor.sources.scope import Collector
from sqlops.advisor.sources.walk import discover

__all__ = ["SourceScan", "SourceStatement", "Unresolved", "scan_sources"]


def scan_sources(paths: Sequence[str | Path]) -> SourceScan:
    """Read every source file under `paths` and return the statements found.

    Raises `sqlops.errors.InputError` for a path that does not exist or cannot be read."""
    files = discover(list(paths))
    constants = Constants()
    prepared: list[tuple[str, str, str, Any]] = []
    failed: list[Unresolved] = []
    for f in files:
        try:
            prepared.append((f.name, f.language, f.text, _prepare(f.language, f.text, f.name, constants)))
        except (RecursionError, ValueError, IndexError) as exc:
            failed.append(_failed(f.name, exc))
    statements: list[SourceStatement] = []
    unresolved: list[Unresolved] = list(failed)
    for name, language, text, parsed in prepared:
        try:
            collector = _scan(language, text, name, constants, parsed)
        except (RecursionError, ValueError, IndexError) as exc:
            # Odd input must not end the scan of a whole tree: the file is reported instead.
            unresolved.append(_failed(name, exc))
            continue
        statements += sorted(collector.statements, key=lambda s: s.line)
        unresolved += sorted(collector.unresolved, key=lambda u: u.line)
    return SourceScan(
        roots=tuple(str(p) for p in paths),
        files_scanned=len(files),
        statements=tuple(statements),
        unresolved=tuple(unresolved),
    )


def _prepare(language: str, text: str, name: str, constants: Constants) -> Any:
    """Lex or parse one file and collect the constants it defines."""
    if language == "php":
        toks = php.lex(text)
        php.collect_constants(toks, name, constants)
        return toks
    if language == "perl":
        toks = perl.lex(text)
        perl.collect_constants(toks, name, constants)
        return toks
    if language == "python":
        tree = python.prepare(text)
        python.collect_constants(tree, name, constants)
        return tree
    return None


def _scan(language: str, text: str, name: str, constants: Constants, parsed: Any) -> Collector:
    if language == "php":
        return php.scan(text, name, constants, parsed)
    if language == "perl":
        return perl.scan(text, name, constants, parsed)
    if language == "python":
        return python.scan(parsed, name, constants, text)
    return sqlfile.scan(text, name)


def _failed(name: str, exc: BaseException) -> Unresolved:
    return Unresolved(name, 0, f"the file could not be scanned ({type(exc).__name__}: {exc})", "")
