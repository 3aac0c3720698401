"""Plain text tables, for reports rendered by the library and the CLI alike (no click here)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any


def table(rows: Iterable[Sequence[Any]], headers: Sequence[str]) -> str:
    """A plain left-aligned text table (numbers right-aligned)."""
    body = [["" if v is None else str(v) for v in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in body:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))

    def fmt(cells: Sequence[str], numeric: Sequence[bool]) -> str:
        return "  ".join(
            (c.rjust(w) if n else c.ljust(w)) for c, w, n in zip(cells, widths, numeric, strict=True)
        ).rstrip()

    numeric = [all(_is_number(r[i]) for r in body) and bool(body) for i in range(len(headers))]
    lines = [fmt(list(headers), numeric), fmt(["-" * w for w in widths], numeric)]
    lines += [fmt(r, numeric) for r in body]
    return "\n".join(lines)


def _is_number(text: str) -> bool:
    try:
        float(text.replace(",", ""))
    except ValueError:
        return text == ""
    return True
