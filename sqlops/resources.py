"""Files shipped with sqlops (schema files in sql/, examples in configs/).

In a wheel they live in ``sqlops/_data``; in a source checkout they are the top-level folders.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def data_dir(kind: str) -> Path:
    """``sql`` or ``configs``: the installed copy if present, else the checkout's folder."""
    for candidate in (_PACKAGE / "_data" / kind, _PACKAGE.parent / kind):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"sqlops data folder {kind!r} is missing from the installation")


def sql_text(name: str) -> str:
    return (data_dir("sql") / name).read_text(encoding="utf-8")
