"""The application-SQL section of ``sqlops digest --source``: text and JSON.

JSON shape (``application_sql.schema.json`` next to this file): ``{"roots", "files_scanned",
"statements", "class_count", "classes": [{"id", "fingerprint", "example", "location_count",
"locations": [{"file", "line"}]}], "unresolved": [{"file", "line", "reason", "fragment"}]}``.
``classes`` holds the first ``--top`` classes, ``class_count`` all of them.
"""

from __future__ import annotations

from typing import Any

from sqlops.advisor.sources.classes import SourceClass
from sqlops.advisor.sources.model import SourceScan

LOCATIONS_SHOWN = 5
UNRESOLVED_SHOWN = 50


def source_json(scan: SourceScan, classes: list[SourceClass], top: int) -> dict[str, Any]:
    return {
        "roots": list(scan.roots),
        "files_scanned": scan.files_scanned,
        "statements": len(scan.statements),
        "class_count": len(classes),
        "classes": [
            {
                "id": c.id,
                "fingerprint": c.fingerprint,
                "example": c.example,
                "location_count": len(c.locations),
                "locations": [{"file": f, "line": line} for f, line in c.locations],
            }
            for c in classes[: max(top, 0)]
        ],
        "unresolved": [
            {"file": u.file, "line": u.line, "reason": u.reason, "fragment": u.fragment}
            for u in scan.unresolved
        ],
    }


def source_text(scan: SourceScan, classes: list[SourceClass], top: int) -> str:
    roots = ", ".join(scan.roots) or "(none)"
    lines = [
        f"# Application SQL in {roots}",
        f"# {scan.files_scanned} files scanned; {len(scan.statements)} statements in {len(classes)} classes; "
        f"{len(scan.unresolved)} unresolved",
    ]
    shown = classes[: max(top, 0)]
    if shown:
        lines += [
            "",
            f"# {'Rank':>4} {'Query ID':<16} {'Locations':>9} Fingerprint",
            "# " + "=" * 4 + " " + "=" * 16 + " " + "=" * 9 + " " + "=" * 30,
        ]
        for rank, c in enumerate(shown, start=1):
            lines.append(f"# {rank:>4} {c.id:<16} {len(c.locations):>9} {_short(c.fingerprint)}")
        if len(classes) > len(shown):
            lines.append(f"# ({len(classes) - len(shown)} more classes; raise --top to see them)")
        for rank, c in enumerate(shown, start=1):
            n = len(c.locations)
            lines += ["", f"# Application query {rank}: ID {c.id}, {n} location{'s' if n != 1 else ''}"]
            lines.append(f"# Fingerprint: {c.fingerprint}")
            lines.append(f"# Found at: {_locations(c.locations)}")
            lines.append(c.example if c.example.endswith(";") else c.example + ";")
    elif not scan.unresolved:
        lines += ["#", "# No SQL statements found."]
    if scan.unresolved:
        lines += ["", "# Unresolved statements (not complete statically; not in the classes above):"]
        for u in scan.unresolved[:UNRESOLVED_SHOWN]:
            lines.append(f"#   {u.file}:{u.line}: {u.reason}")
            if u.fragment:
                lines.append(f"#     {u.fragment}")
        if len(scan.unresolved) > UNRESOLVED_SHOWN:
            lines.append(
                f"#   ({len(scan.unresolved) - UNRESOLVED_SHOWN} more; --format json lists them all)"
            )
    return "\n".join(lines) + "\n"


def _locations(locations: tuple[tuple[str, int], ...]) -> str:
    text = ", ".join(f"{f}:{line}" for f, line in locations[:LOCATIONS_SHOWN])
    more = len(locations) - LOCATIONS_SHOWN
    return text + (f", +{more} more" if more > 0 else "")


def _short(text: str, width: int = 80) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."
