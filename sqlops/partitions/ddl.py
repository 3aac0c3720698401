"""Partition DDL builders (sqlglot has no REORGANIZE / CONVERT / EXCHANGE PARTITION).

Each returns one statement's text; the planner wraps them in reasoned Statements. Bounds are
written as ``TO_DAYS('YYYY-MM-DD')`` (or a quoted date for RANGE COLUMNS) so a reviewed script
reads as dates; the server stores the day number.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from sqlops.db import Flavour, quote_ident

Scheme = Literal["to_days", "columns"]
MAXVALUE = None


@dataclass(frozen=True)
class PartitionSpec:
    """A partition to create: its name and exclusive upper bound (None = MAXVALUE)."""

    name: str
    upper: dt.date | None


def bound(upper: dt.date | None, scheme: Scheme = "to_days") -> str:
    if upper is None:
        return "MAXVALUE"
    if scheme == "columns":
        return f"('{upper.isoformat()}')"
    return f"(TO_DAYS('{upper.isoformat()}'))"


def partition_list(specs: Sequence[PartitionSpec], scheme: Scheme = "to_days") -> str:
    inner = ",\n  ".join(
        f"PARTITION {quote_ident(s.name)} VALUES LESS THAN {bound(s.upper, scheme)}" for s in specs
    )
    return f"(\n  {inner}\n)"


def partition_by(column: str, specs: Sequence[PartitionSpec]) -> str:
    """The clause that partitions a table monthly on `column`."""
    return f"PARTITION BY RANGE (TO_DAYS({quote_ident(column)})) {partition_list(specs)}"


def _alter(table: str, flavour: Flavour | None) -> str:
    # MySQL takes ALGORITHM=INPLACE only before the partition clause (after it is a syntax
    # error) and it keeps a partition change from silently becoming a table copy; MariaDB
    # rejects ALGORITHM next to partition operations altogether (DESIGN.md §4).
    prefix = "ALGORITHM=INPLACE, " if flavour == "mysql" else ""
    return f"ALTER TABLE {quote_ident(table)} {prefix}"


def reorganize(
    table: str,
    source: Sequence[str],
    into: Sequence[PartitionSpec],
    scheme: Scheme = "to_days",
    flavour: Flavour | None = None,
) -> str:
    names = ", ".join(quote_ident(n) for n in source)
    return f"{_alter(table, flavour)}REORGANIZE PARTITION {names} INTO {partition_list(into, scheme)}"


def add_partitions(
    table: str, specs: Sequence[PartitionSpec], scheme: Scheme = "to_days", flavour: Flavour | None = None
) -> str:
    return f"{_alter(table, flavour)}ADD PARTITION {partition_list(specs, scheme)}"


def drop_partition(table: str, name: str) -> str:
    return f"ALTER TABLE {quote_ident(table)} DROP PARTITION {quote_ident(name)}"


def convert_partition(table: str, name: str, archive: str) -> str:
    """MariaDB >= 10.7: move a partition out into its own table (metadata only)."""
    return (
        f"ALTER TABLE {quote_ident(table)} CONVERT PARTITION {quote_ident(name)} "
        f"TO TABLE {quote_ident(archive)}"
    )


def create_like(new: str, template: str) -> str:
    return f"CREATE TABLE {quote_ident(new)} LIKE {quote_ident(template)}"


def remove_partitioning(table: str) -> str:
    return f"ALTER TABLE {quote_ident(table)} REMOVE PARTITIONING"


def exchange_partition(table: str, name: str, other: str) -> str:
    return (
        f"ALTER TABLE {quote_ident(table)} EXCHANGE PARTITION {quote_ident(name)} "
        f"WITH TABLE {quote_ident(other)}"
    )


def primary_key_swap(columns: Sequence[str]) -> str:
    """Both halves in one ALTER: with AUTO_INCREMENT, DROP PRIMARY KEY alone fails (1075)."""
    return f"DROP PRIMARY KEY, ADD PRIMARY KEY ({', '.join(quote_ident(c) for c in columns)})"
