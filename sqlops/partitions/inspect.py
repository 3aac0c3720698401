"""Read-only inspection of a table's partitions (never writes).

Emptiness is exact (``EXISTS`` per partition, one round trip) because
``information_schema.PARTITIONS.TABLE_ROWS`` is only an estimate (DESIGN.md §4); rows and sizes
are shown as estimates. Everything here costs the same on 20k or 2M rows: EXISTS reads at
most one row per partition, and the catch-all is only counted when it is not empty.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from sqlops.db import Session, quote_ident
from sqlops.partitions.months import from_days, today_in_zone
from sqlops.schema.inspect import existing_tables, inspect_schema, inspect_table

Scheme = Literal["none", "to_days", "columns", "other"]

# Row-count estimates and sizes in information_schema are cached for a day on MySQL 8+.
_FRESH_STATS = "SET SESSION information_schema_stats_expiry = 0"


@dataclass(frozen=True)
class PartitionInfo:
    name: str
    ordinal: int
    # Exclusive upper bound; None for MAXVALUE (the catch-all).
    upper: dt.date | None
    lower: dt.date | None  # the previous partition's upper bound; None for the first
    has_rows: bool
    estimated_rows: int
    data_bytes: int
    index_bytes: int
    # COUNT(*) where a decision depends on it (archive, drop, split: see count_rows); else None.
    exact_rows: int | None = None

    @property
    def is_catchall(self) -> bool:
        return self.upper is None


@dataclass(frozen=True)
class ArchiveInfo:
    name: str
    has_rows: bool
    # A clone left partitioned by an interrupted EXCHANGE archive (CREATE ... LIKE done,
    # REMOVE PARTITIONING not yet).
    partitioned: bool


@dataclass(frozen=True)
class PartitionState:
    """What a planner needs to know about one table, read in one go."""

    table: str
    column: str
    column_type: str | None  # DATA_TYPE of the partition column, None when it is missing
    scheme: Scheme
    expression: str | None
    partitions: tuple[PartitionInfo, ...] = ()
    # Exact row count and date range of the catch-all, read only when it holds rows.
    catchall_rows: int = 0
    catchall_range: tuple[dt.date, dt.date] | None = None
    # Tables named like archives of this table (<table>_YYYYmMM).
    archives: dict[str, ArchiveInfo] = field(default_factory=dict)
    convert_partition: bool = False
    flavour: Literal["mariadb", "mysql"] = "mariadb"

    @property
    def partitioned(self) -> bool:
        return self.scheme != "none"

    @property
    def managed(self) -> bool:
        """Partitioned by a date range sqlops can maintain."""
        return self.scheme in ("to_days", "columns")

    @property
    def catchall(self) -> PartitionInfo | None:
        last = self.partitions[-1] if self.partitions else None
        return last if last is not None and last.is_catchall else None

    @property
    def first(self) -> PartitionInfo | None:
        return self.partitions[0] if self.partitions else None

    @property
    def last_bound(self) -> dt.date | None:
        """Where the bounded partitions end: rows from this day on land in the catch-all."""
        bounded = [p.upper for p in self.partitions if p.upper is not None]
        return bounded[-1] if bounded else None

    def partition(self, name: str) -> PartitionInfo | None:
        return next((p for p in self.partitions if p.name == name), None)


def _parse_bound(description: str | None, scheme: Scheme) -> dt.date | None:
    if description is None or description.upper() == "MAXVALUE":
        return None
    if scheme == "columns":
        return dt.date.fromisoformat(description.strip("'")[:10])
    return from_days(int(description))


def _scheme(method: str | None, expression: str | None, column: str) -> Scheme:
    if not method:
        return "none"
    expr = (expression or "").replace("`", "").replace(" ", "").lower()
    col = column.lower()
    if method.upper() == "RANGE" and expr == f"to_days({col})":
        return "to_days"
    if method.upper() == "RANGE COLUMNS" and expr == col:
        return "columns"
    return "other"


def partition_exists_sql(table: str, names: list[str]) -> str:
    t = quote_ident(table)
    return "SELECT " + ", ".join(f"EXISTS(SELECT 1 FROM {t} PARTITION ({quote_ident(n)}))" for n in names)


def inspect_partitions(session: Session, table: str, column: str) -> PartitionState | None:
    """The table's partition layout, or None when the table does not exist."""
    if not session.info.is_mariadb:
        session.execute(_FRESH_STATS)
    rows = session.query(
        "SELECT PARTITION_NAME, PARTITION_ORDINAL_POSITION, PARTITION_METHOD, PARTITION_EXPRESSION, "
        "PARTITION_DESCRIPTION, TABLE_ROWS, DATA_LENGTH, INDEX_LENGTH FROM information_schema.PARTITIONS "
        "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s ORDER BY PARTITION_ORDINAL_POSITION",
        (table,),
    )
    if not rows:
        return None
    live = inspect_table(session, table)
    live_column = live.column(column) if live is not None else None
    column_type = live_column.base_type if live_column is not None else None
    method, expression = rows[0][2], rows[0][3]
    scheme = _scheme(method, expression, column)
    common = dict(
        table=table,
        column=column,
        column_type=column_type,
        expression=expression,
        archives=_archives(session, table),
        convert_partition=session.info.has_convert_partition,
        flavour=session.info.flavour,
    )
    if scheme in ("none", "other"):
        return PartitionState(scheme=scheme, **common)

    names = [r[0] for r in rows]
    has_rows: list[bool] = []
    for start in range(0, len(names), 500):
        has_rows += [
            bool(v) for v in session.query(partition_exists_sql(table, names[start : start + 500]))[0]
        ]
    partitions: list[PartitionInfo] = []
    lower: dt.date | None = None
    for (name, ordinal, _, _, description, est, data, index), rows_present in zip(
        rows, has_rows, strict=True
    ):
        upper = _parse_bound(description, scheme)
        partitions.append(
            PartitionInfo(
                name, int(ordinal), upper, lower, rows_present, int(est or 0), int(data or 0), int(index or 0)
            )
        )
        lower = upper
    catchall_rows, catchall_range = 0, None
    last = partitions[-1]
    if last.is_catchall and last.has_rows:
        t, c, p = quote_ident(table), quote_ident(column), quote_ident(last.name)
        count, low, high = session.query(f"SELECT COUNT(*), MIN({c}), MAX({c}) FROM {t} PARTITION ({p})")[0]
        catchall_rows = int(count)
        catchall_range = (_as_date(low), _as_date(high))
    partitions = [dataclasses.replace(p, exact_rows=0) if not p.has_rows else p for p in partitions]
    if last.is_catchall:
        partitions[-1] = dataclasses.replace(partitions[-1], exact_rows=catchall_rows)
    return PartitionState(
        scheme=scheme,
        partitions=tuple(partitions),
        catchall_rows=catchall_rows,
        catchall_range=catchall_range,
        **common,
    )


def count_rows(session: Session, state: PartitionState, names: Iterable[str]) -> PartitionState:
    """The state with exact row counts (COUNT(*)) for the named partitions: for the decisions
    that depend on them (archive, drop, split), where the server's estimate will not do (it
    reads 0 for full partitions right after migrate)."""
    wanted = {n for n in names}
    t = quote_ident(state.table)
    parts = []
    for p in state.partitions:
        if p.name in wanted and p.exact_rows is None:
            count = session.scalar(f"SELECT COUNT(*) FROM {t} PARTITION ({quote_ident(p.name)})")
            p = dataclasses.replace(p, exact_rows=int(count))
        parts.append(p)
    return dataclasses.replace(state, partitions=tuple(parts))


def _as_date(value: dt.date | dt.datetime) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value


def _archives(session: Session, table: str) -> dict[str, ArchiveInfo]:
    pattern = re.compile(re.escape(table) + r"_\d{4}m\d{2}$")
    names = sorted(name for name in existing_tables(session) if pattern.match(name))
    found = inspect_schema(session, tables=names).tables
    out: dict[str, ArchiveInfo] = {}
    for name in names:
        has_rows = bool(session.scalar(f"SELECT EXISTS(SELECT 1 FROM {quote_ident(name)})"))
        archive = found.get(name)
        out[name] = ArchiveInfo(name, has_rows, archive is not None and archive.partitioned)
    return out


def server_today(session: Session, zone: str) -> dt.date:
    """Today in the configured zone by the *server's* clock (the clock the date_day trigger
    and every writer's session use), computed with zoneinfo so no zone tables are needed."""
    now = session.scalar("SELECT UTC_TIMESTAMP()")
    return today_in_zone(now, zone)
