"""The records `scan_sources` returns (the advisor and the digest rely on exactly these names)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SourceStatement:
    """One SQL statement found in application source, placeholders written as ``?``.

    ``line`` is where the statement's first string literal starts (for a heredoc: the line of
    its ``<<<EOT`` / ``<<"EOT"`` marker); ``file`` is relative to the scanned directory."""

    sql: str
    file: str
    line: int
    language: str  # 'php' | 'perl' | 'python' | 'sql'


@dataclass(frozen=True)
class Unresolved:
    """A statement that cannot be completed statically, and why (never guessed)."""

    file: str
    line: int
    reason: str
    fragment: str  # the partial SQL, unknown parts as {$name}, shortened


@dataclass(frozen=True)
class SourceScan:
    roots: tuple[str, ...]
    files_scanned: int
    statements: tuple[SourceStatement, ...]
    unresolved: tuple[Unresolved, ...]
