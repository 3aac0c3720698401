"""A tiny in-memory model of a RANGE-partitioned table that *interprets the DDL text* the planner
emits, with the server's rules (1481, 1493, 1517, 1050, 1526 ...). Property tests plan, apply the
statements here, re-plan and check the layout: an independent check of the SQL, not of the
planner's intentions. Integration tests do the same against real servers, with fewer examples.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from dataclasses import dataclass, field

from sqlops.partitions.inspect import ArchiveInfo, PartitionInfo, PartitionState


class ServerRefused(Exception):
    pass


@dataclass
class Part:
    name: str
    upper: dt.date | None
    rows: list[dt.date] = field(default_factory=list)


@dataclass
class Archive:
    rows: list[dt.date]
    partitioned: bool


@dataclass
class Model:
    table: str
    parts: list[Part]
    archives: dict[str, Archive] = field(default_factory=dict)
    convert: bool = True
    dropped_rows: int = 0

    @classmethod
    def from_specs(cls, table: str, specs, convert: bool = True) -> Model:  # type: ignore[no-untyped-def]
        return cls(table, [Part(s.name, s.upper) for s in specs], convert=convert)

    # -- data
    def insert(self, day: dt.date) -> str:
        for part in self.parts:
            if part.upper is None or day < part.upper:
                part.rows.append(day)
                return part.name
        raise ServerRefused(f"1526 no partition for {day}")

    def total_rows(self) -> int:
        return sum(len(p.rows) for p in self.parts) + sum(len(a.rows) for a in self.archives.values())

    # -- inspection, as inspect_partitions would report it
    def state(self, column: str = "date_day", flavour: str = "mariadb") -> PartitionState:
        infos, lower = [], None
        for i, p in enumerate(self.parts, start=1):
            infos.append(PartitionInfo(p.name, i, p.upper, lower, bool(p.rows), len(p.rows), 16384, 0))
            lower = p.upper
        last = self.parts[-1]
        catchall_rows = len(last.rows) if last.upper is None else 0
        rng = (min(last.rows), max(last.rows)) if last.upper is None and last.rows else None
        return PartitionState(
            table=self.table,
            column=column,
            column_type="date",
            scheme="to_days",
            expression=f"to_days(`{column}`)",
            partitions=tuple(infos),
            catchall_rows=catchall_rows,
            catchall_range=rng,
            archives={n: ArchiveInfo(n, bool(a.rows), a.partitioned) for n, a in self.archives.items()},
            convert_partition=self.convert,
            flavour=flavour,  # type: ignore[arg-type]
        )

    # -- DDL
    def apply(self, sql: str) -> None:
        text = " ".join(sql.split())
        t = re.escape(f"`{self.table}`")
        if m := re.fullmatch(
            rf"ALTER TABLE {t} (?:ALGORITHM=INPLACE, )?REORGANIZE PARTITION (.+?) INTO \((.+)\)", text
        ):
            self._reorganize(_names(m.group(1)), _defs(m.group(2)))
        elif m := re.fullmatch(rf"ALTER TABLE {t} (?:ALGORITHM=INPLACE, )?ADD PARTITION \((.+)\)", text):
            self._add(_defs(m.group(1)))
        elif m := re.fullmatch(rf"ALTER TABLE {t} DROP PARTITION `([^`]+)`", text):
            self._drop(m.group(1))
        elif m := re.fullmatch(rf"ALTER TABLE {t} CONVERT PARTITION `([^`]+)` TO TABLE `([^`]+)`", text):
            self._convert(m.group(1), m.group(2))
        elif m := re.fullmatch(rf"CREATE TABLE `([^`]+)` LIKE {t}", text):
            self._new_table(m.group(1))
        elif m := re.fullmatch(r"ALTER TABLE `([^`]+)` REMOVE PARTITIONING", text):
            self.archives[m.group(1)].partitioned = False
        elif m := re.fullmatch(rf"ALTER TABLE {t} EXCHANGE PARTITION `([^`]+)` WITH TABLE `([^`]+)`", text):
            self._exchange(m.group(1), m.group(2))
        else:
            raise AssertionError(f"the model does not know this statement: {text}")

    def _index(self, name: str) -> int:
        for i, p in enumerate(self.parts):
            if p.name.lower() == name.lower():
                return i
        raise ServerRefused(f"1507 no partition {name}")

    def _check_names_and_bounds(self, parts: list[Part]) -> None:
        names = [p.name.lower() for p in parts]
        if len(set(names)) != len(names):
            raise ServerRefused("1517 duplicate partition name")
        uppers = [p.upper for p in parts]
        for a, b in itertools.pairwise(uppers):
            if a is None or (b is not None and b <= a):
                raise ServerRefused("1493 VALUES LESS THAN must be strictly increasing")

    def _reorganize(self, sources: list[str], defs: list[Part]) -> None:
        idx = [self._index(n) for n in sources]
        if idx != list(range(idx[0], idx[0] + len(idx))):
            raise ServerRefused("1519 only adjacent partitions can be reorganized")
        old = self.parts[idx[0] : idx[-1] + 1]
        if defs[-1].upper != old[-1].upper:
            raise ServerRefused("1520 reorganize must keep the range's upper end")
        rows = [r for p in old for r in p.rows]
        new_parts = self.parts[: idx[0]] + defs + self.parts[idx[-1] + 1 :]
        self._check_names_and_bounds(new_parts)
        self.parts = new_parts
        lower = self.parts[idx[0] - 1].upper if idx[0] > 0 else None
        for r in rows:
            target = next(p for p in defs if p.upper is None or r < p.upper)
            if lower is not None and r < lower:
                raise AssertionError("row below the reorganized range")
            target.rows.append(r)

    def _add(self, defs: list[Part]) -> None:
        if self.parts and self.parts[-1].upper is None:
            raise ServerRefused("1481 MAXVALUE can only be used in last partition definition")
        new_parts = self.parts + defs
        self._check_names_and_bounds(new_parts)
        self.parts = new_parts

    def _drop(self, name: str) -> None:
        i = self._index(name)
        if len(self.parts) == 1:
            raise ServerRefused("1508 cannot remove all partitions")
        self.dropped_rows += len(self.parts[i].rows)
        del self.parts[i]

    def _convert(self, name: str, archive: str) -> None:
        if not self.convert:
            raise ServerRefused("1064 CONVERT PARTITION: syntax error on this server")
        if archive in self.archives:
            raise ServerRefused("1050 table exists")
        i = self._index(name)
        self.archives[archive] = Archive(self.parts[i].rows, False)
        del self.parts[i]

    def _new_table(self, name: str) -> None:
        if name in self.archives:
            raise ServerRefused("1050 table exists")
        self.archives[name] = Archive([], True)

    def _exchange(self, name: str, archive: str) -> None:
        a = self.archives[archive]
        if a.partitioned:
            raise ServerRefused("1732 table to exchange with is partitioned")
        i = self._index(name)
        lower = self.parts[i - 1].upper if i > 0 else None
        upper = self.parts[i].upper
        if any((lower is not None and r < lower) or (upper is not None and r >= upper) for r in a.rows):
            raise ServerRefused("1737 found a row that does not match the partition")
        a.rows, self.parts[i].rows = self.parts[i].rows, a.rows


def _names(text: str) -> list[str]:
    return re.findall(r"`([^`]+)`", text)


def _defs(text: str) -> list[Part]:
    out = []
    for name, bound in re.findall(
        r"PARTITION `([^`]+)` VALUES LESS THAN (MAXVALUE|\(TO_DAYS\('[0-9-]+'\)\))", text
    ):
        upper = (
            None if bound == "MAXVALUE" else dt.date.fromisoformat(re.search(r"'([0-9-]+)'", bound).group(1))
        )  # type: ignore[union-attr]
        out.append(Part(name, upper))
    if not out:
        raise AssertionError(f"no partition definitions in {text}")
    return out


def layout_violations(
    state: PartitionState, today: dt.date, premake: int, cutoff: dt.date | None, expired_removed: bool = True
) -> list[str]:
    """What is wrong with a layout after a successful rotate on `today` (empty = gap-free):
    the monthly partitions that are not past the retention cutoff end on consecutive month
    starts with names matching their month and reach the premake horizon; with
    `expired_removed`, none is past the cutoff; the last partition is the MAXVALUE catch-all."""
    from sqlops.partitions.months import add_months, month_label, month_start, partition_name

    out: list[str] = []
    parts = state.partitions
    if len(parts) < 2 or parts[-1].upper is not None:
        return ["the last partition is not a MAXVALUE catch-all"]
    monthly = parts[1:-1]
    live = [p for p in monthly if cutoff is None or (p.upper is not None and p.upper > cutoff)]
    for a, b in itertools.pairwise(live):
        if b.upper != add_months(a.upper, 1):  # type: ignore[arg-type]
            out.append(f"gap or overlap between {a.name} (< {a.upper}) and {b.name} (< {b.upper})")
    for p in monthly:
        if p.upper is None or p.upper.day != 1:
            out.append(f"{p.name} does not end on a month start")
        elif p.name != partition_name(month_label(p.upper)):
            out.append(f"{p.name} is not named after its month (< {p.upper})")
        elif expired_removed and cutoff is not None and p.upper <= cutoff:
            out.append(f"{p.name} is past the retention cutoff {cutoff} but still there")
    horizon = add_months(month_start(today), premake + 1)
    last = monthly[-1].upper if monthly else parts[0].upper
    if last is None or last < horizon:
        out.append(f"months end at {last}, before the premake horizon {horizon}")
    return out
