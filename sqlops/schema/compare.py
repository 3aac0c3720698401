"""Compare a live table with the expected definition, column by column.

Used by `schema status` (report) and `schema upgrade` (what to change). Upgrades only ever
widen: a column that is already wider than expected (say LONGTEXT for MEDIUMTEXT) is left as it
is, and one of a different family (an INT where a VARCHAR belongs) is reported, not converted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from sqlops.schema.definitions import ColumnDef, TableDef
from sqlops.schema.inspect import LiveColumn, LiveTable

Verdict = Literal["ok", "missing", "narrower", "wider", "incompatible"]

_INT_RANK = {"tinyint": 1, "smallint": 2, "mediumint": 3, "int": 4, "bigint": 5}
# Capacity in characters (utf8mb4) for the string family; VARCHAR/CHAR use their length.
_TEXT_CAPACITY = {"tinytext": 63, "text": 16_383, "mediumtext": 4_194_303, "longtext": 1_073_741_823}
_BLOB_CAPACITY = {"tinyblob": 255, "blob": 65_535, "mediumblob": 16_777_215, "longblob": 4_294_967_295}
_SIZED = re.compile(r"^(\w+)(?:\((\d+)(?:,(\d+))?\))?(?: (unsigned))?")


@dataclass(frozen=True)
class _Shape:
    family: str
    capacity: float
    scale: int
    unsigned: bool


def _shape(column_type: str) -> _Shape | None:
    match = _SIZED.match(column_type)
    if not match:
        return None
    base, size, scale, unsigned = match.groups()
    if base in _INT_RANK:
        return _Shape("int", _INT_RANK[base], 0, bool(unsigned))
    if base in ("char", "varchar"):
        return _Shape("string", int(size or 1), 0, False)
    if base in _TEXT_CAPACITY:
        return _Shape("string", _TEXT_CAPACITY[base], 0, False)
    if base in ("binary", "varbinary"):
        return _Shape("bytes", int(size or 1), 0, False)
    if base in _BLOB_CAPACITY:
        return _Shape("bytes", _BLOB_CAPACITY[base], 0, False)
    if base == "decimal":
        precision, digits = int(size or 10), int(scale or 0)
        return _Shape("decimal", precision - digits, digits, bool(unsigned))
    return _Shape(base, 0, 0, bool(unsigned))


def compare_type(current: str, expected: str) -> Verdict:
    if current == expected:
        return "ok"
    have, want = _shape(current), _shape(expected)
    if have is None or want is None or have.family != want.family:
        return "incompatible"
    if have.family == "int":
        if have.capacity != want.capacity:
            return "wider" if have.capacity > want.capacity else "narrower"
        # Same size, different signedness: converting could fail on existing values.
        return "ok"
    if have.family == "decimal":
        if have.capacity >= want.capacity and have.scale >= want.scale:
            return "wider" if (have.capacity, have.scale) != (want.capacity, want.scale) else "ok"
        return "narrower"
    if have.capacity == want.capacity:
        return "ok"
    return "wider" if have.capacity > want.capacity else "narrower"


@dataclass(frozen=True)
class ColumnDiff:
    name: str
    expected: ColumnDef
    current: LiveColumn | None
    verdict: Verdict
    # NOT NULL where NULL is expected: sqlops writes NULL for fields Squid logs as '-'.
    nullable_mismatch: bool

    @property
    def needs_change(self) -> bool:
        return self.verdict in ("missing", "narrower") or self.nullable_mismatch

    def describe(self) -> str:
        if self.current is None:
            return f"missing (expected {self.expected.type})"
        text = {
            "ok": "ok",
            "wider": f"ok, wider than expected ({self.current.type} >= {self.expected.type})",
            "narrower": f"too narrow: {self.current.type}, expected {self.expected.type}",
            "incompatible": f"different type: {self.current.type}, expected {self.expected.type}",
            "missing": "missing",
        }[self.verdict]
        if self.nullable_mismatch:
            text += "; NOT NULL but sqlops writes NULL for missing fields"
        return text


def compare_columns(expected: TableDef, live: LiveTable) -> list[ColumnDiff]:
    out = []
    for column in expected.columns:
        current = live.column(column.name)
        if current is None:
            out.append(ColumnDiff(column.name, column, None, "missing", False))
            continue
        verdict = compare_type(current.type, column.type)
        mismatch = column.nullable and not current.nullable and column.name not in expected.primary_key
        out.append(ColumnDiff(column.name, column, current, verdict, mismatch))
    return out


def missing_indexes(expected: TableDef, live: LiveTable) -> list[tuple[str, tuple[str, ...]]]:
    """Expected secondary keys whose columns no live index starts with."""
    have = [*live.key_columns.values(), live.primary_key]
    return [(name, cols) for name, cols in expected.indexes if not any(h[: len(cols)] == cols for h in have)]
