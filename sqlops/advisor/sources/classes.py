"""Application statements grouped into digest classes (the same fingerprint and class id as
the log digest, so a statement found in code and in the slow log are one class)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlops.advisor.sources.model import SourceScan
from sqlops.querylog.fingerprint import class_id, fingerprint


@dataclass(frozen=True)
class SourceClass:
    id: str
    fingerprint: str
    example: str  # the first statement of the class in scan order (placeholders as ?)
    locations: tuple[tuple[str, int], ...]  # (file, line), sorted, each once


def source_classes(scan: SourceScan) -> list[SourceClass]:
    """Classes ranked by number of locations (most first), then fingerprint."""
    groups: dict[bytes, tuple[str, str, dict[tuple[str, int], None]]] = {}
    for s in scan.statements:
        fp = fingerprint(s.sql)
        group = groups.get(fp.key)
        if group is None:
            group = groups[fp.key] = (fp.text.decode("utf-8", "replace"), s.sql, {})
        group[2][(s.file, s.line)] = None
    classes = [
        SourceClass(class_id(key), text, example, tuple(sorted(locations)))
        for key, (text, example, locations) in groups.items()
    ]
    classes.sort(key=lambda c: (-len(c.locations), c.fingerprint))
    return classes
