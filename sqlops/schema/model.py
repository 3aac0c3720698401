"""The one schema model: what a live inspection and a DDL parse both return.

Tables carry columns (type, nullability, length, character set), every index (PRIMARY too)
with uniqueness, column order, directions, prefix lengths and visibility, partitioning, and —
when they come from a live server — row and size estimates, index cardinality and sampled
column statistics. Views carry their SQL and the base tables they read, so the advisor can
expand a view into the tables an index would go on.

Names are compared case-insensitively (the default on Linux is case-sensitive table names, but
a legacy application rarely relies on two tables differing only by case; looking up `Users`
and finding `users` is the useful answer).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import NamedTuple

TEXT_TYPES = frozenset(("tinytext", "text", "mediumtext", "longtext"))
BLOB_TYPES = frozenset(("tinyblob", "blob", "mediumblob", "longblob"))
STRING_TYPES = frozenset(("char", "varchar", "binary", "varbinary", "enum", "set")) | TEXT_TYPES | BLOB_TYPES
INTEGER_TYPES = frozenset(("tinyint", "smallint", "mediumint", "int", "bigint", "bit", "year"))
NUMERIC_TYPES = INTEGER_TYPES | frozenset(("decimal", "float", "double"))
TEMPORAL_TYPES = frozenset(("date", "datetime", "timestamp", "time"))

# Bytes per character for index length limits (InnoDB counts the maximum the charset needs).
_CHARSET_BYTES = {"utf8mb4": 4, "utf8mb3": 3, "utf8": 3, "ucs2": 2, "utf16": 4, "utf32": 4, "binary": 1}
_FIXED_BYTES = {
    "tinyint": 1,
    "smallint": 2,
    "mediumint": 3,
    "int": 4,
    "bigint": 8,
    "float": 4,
    "double": 8,
    "date": 3,
    "time": 3,
    "datetime": 5,
    "timestamp": 4,
    "year": 1,
    "bit": 8,
    "enum": 2,
    "set": 8,
}


@dataclass(frozen=True)
class Column:
    name: str
    base_type: str  # lower case, no length: "varchar", "bigint", "mediumtext", "decimal"
    type: str  # lower case, normalised: "varchar(255)", "bigint unsigned", "decimal(15,3)"
    nullable: bool
    length: int | None = None  # characters for char/varchar/binary, None for TEXT/BLOB and numbers
    charset: str | None = None
    auto_increment: bool = False
    raw_type: str = ""  # the type exactly as the server (COLUMN_TYPE) or the file shows it
    generated: bool = False  # a VIRTUAL/STORED (PERSISTENT) generated column: never inserted into

    @property
    def is_text_or_blob(self) -> bool:
        """TEXT/BLOB: MySQL refuses an unprefixed index on it (1170), MariaDB truncates it."""
        return self.base_type in TEXT_TYPES or self.base_type in BLOB_TYPES

    @property
    def is_string(self) -> bool:
        return self.base_type in STRING_TYPES

    @property
    def is_numeric(self) -> bool:
        return self.base_type in NUMERIC_TYPES

    @property
    def is_temporal(self) -> bool:
        return self.base_type in TEMPORAL_TYPES

    def key_bytes(self, prefix: int | None = None, default_charset: str = "utf8mb4") -> int:
        """Bytes this column takes in an index entry (the engine's key length limits count these)."""
        if self.base_type in _FIXED_BYTES:
            return _FIXED_BYTES[self.base_type]
        if self.base_type == "decimal":
            return 9
        chars = prefix if prefix is not None else (self.length if self.length is not None else 65535)
        per_char = 1 if self.base_type in BLOB_TYPES or "binary" in self.base_type else None
        if per_char is None:
            per_char = _CHARSET_BYTES.get((self.charset or default_charset).lower(), 4)
        return chars * per_char + (2 if chars > 255 or self.base_type != "char" else 0)


@dataclass(frozen=True)
class IndexPart:
    column: str
    prefix: int | None = None  # prefix length in characters (bytes for BLOB), None = whole column
    descending: bool = False

    def sql(self) -> str:
        from sqlops.db import quote_ident

        text = quote_ident(self.column) + (f"({self.prefix})" if self.prefix else "")
        return text + (" DESC" if self.descending else "")


@dataclass(frozen=True)
class Index:
    name: str
    parts: tuple[IndexPart, ...]
    unique: bool = False
    primary: bool = False
    visible: bool = True  # MySQL INVISIBLE / MariaDB IGNORED indexes are not used by the optimizer
    kind: str = "BTREE"  # BTREE, HASH, FULLTEXT, SPATIAL
    cardinality: tuple[int | None, ...] = ()  # per part, from the server's statistics

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(p.column for p in self.parts)

    @property
    def usable_for_lookups(self) -> bool:
        """A B-tree the optimizer may use for equality, range and order (not FULLTEXT/SPATIAL)."""
        return self.visible and self.kind in ("BTREE", "HASH")

    def covers_prefix(self, columns: Iterable[str]) -> bool:
        """True when `columns` (in order) are a leftmost prefix of this index, case-insensitively."""
        wanted = [c.lower() for c in columns]
        have = [c.lower() for c in self.columns]
        return len(wanted) <= len(have) and have[: len(wanted)] == wanted


@dataclass(frozen=True)
class Partitioning:
    method: str  # RANGE, RANGE COLUMNS, LIST, LIST COLUMNS, HASH, KEY, LINEAR HASH, ...
    expression: str
    partitions: tuple[str, ...] = ()


@dataclass(frozen=True)
class ColumnStats:
    """Measured on a sample (`--sample N`): distinct values and, for strings, how selective
    each prefix length is (distinct prefixes / distinct values)."""

    sampled_rows: int
    distinct: int
    nulls: int = 0
    prefix_selectivity: Mapping[int, float] = field(default_factory=dict)

    @property
    def selectivity(self) -> float:
        """Fraction of the sample one equality value returns (1/NDV); 1.0 for an empty sample."""
        return 1.0 / self.distinct if self.distinct else 1.0


class Trigger(NamedTuple):
    """A trigger on a table, with its body: enough to re-create it (an online copy re-creates
    the table's own triggers on the shadow). From DDL the body is unknown ("")."""

    name: str
    timing: str  # BEFORE | AFTER
    event: str  # INSERT | UPDATE | DELETE
    statement: str = ""  # the body after FOR EACH ROW


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    indexes: tuple[Index, ...] = ()  # PRIMARY first when there is one
    engine: str | None = None
    charset: str | None = None
    partitioning: Partitioning | None = None
    triggers: tuple[Trigger, ...] = ()  # in firing order (ACTION_ORDER), then by name
    rows: int | None = None  # an estimate (information_schema.TABLES.TABLE_ROWS), None from DDL
    data_bytes: int | None = None  # data + index bytes, None from DDL
    column_stats: Mapping[str, ColumnStats] = field(default_factory=dict)
    schema: str | None = None

    def column(self, name: str) -> Column | None:
        low = name.lower()
        return next((c for c in self.columns if c.name.lower() == low), None)

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def primary(self) -> Index | None:
        return next((i for i in self.indexes if i.primary), None)

    @property
    def primary_key(self) -> tuple[str, ...]:
        pk = self.primary
        return pk.columns if pk else ()

    @property
    def secondary_indexes(self) -> tuple[Index, ...]:
        return tuple(i for i in self.indexes if not i.primary)

    @property
    def key_columns(self) -> dict[str, tuple[str, ...]]:
        """Secondary index name -> its columns (the shape older callers use)."""
        return {i.name: i.columns for i in self.secondary_indexes}

    def index(self, name: str) -> Index | None:
        low = name.lower()
        return next((i for i in self.indexes if i.name.lower() == low), None)

    @property
    def partitioned(self) -> bool:
        return self.partitioning is not None

    @property
    def estimated_rows(self) -> int:
        return self.rows or 0

    @property
    def size_bytes(self) -> int:
        return self.data_bytes or 0

    def stats(self, column: str) -> ColumnStats | None:
        low = column.lower()
        return next((s for n, s in self.column_stats.items() if n.lower() == low), None)

    def with_stats(self, stats: Mapping[str, ColumnStats]) -> Table:
        return replace(self, column_stats=dict(stats))


@dataclass(frozen=True)
class View:
    name: str
    sql: str  # the SELECT as the server or the file shows it
    base_tables: tuple[str, ...]  # tables (or views) it reads, in order of appearance


@dataclass(frozen=True)
class Schema:
    tables: Mapping[str, Table]
    views: Mapping[str, View] = field(default_factory=dict)
    origin: str = ""  # "mysql://host:port/db" or the DDL file names
    flavour: str | None = None  # "mariadb" | "mysql" when known (from a live server)

    def table(self, name: str) -> Table | None:
        return _lookup(self.tables, name)

    def view(self, name: str) -> View | None:
        return _lookup(self.views, name)

    def base_tables(self, name: str, _seen: frozenset[str] = frozenset()) -> tuple[str, ...]:
        """The tables a name reads: itself for a table, its base tables (recursively) for a view;
        empty when the name is unknown."""
        if self.table(name) is not None:
            return (self.table(name).name,)  # type: ignore[union-attr]
        view = self.view(name)
        if view is None or name.lower() in _seen:
            return ()
        out: list[str] = []
        for base in view.base_tables:
            for t in self.base_tables(base, _seen | {name.lower()}):
                if t not in out:
                    out.append(t)
        return tuple(out)


def _lookup(items: Mapping[str, object], name: str):  # type: ignore[no-untyped-def]
    if name in items:
        return items[name]
    low = name.lower()
    return next((v for k, v in items.items() if k.lower() == low), None)


def base_type_of(type_text: str) -> str:
    """`varchar(255)` -> `varchar`, `bigint unsigned` -> `bigint`, `double precision` -> `double`."""
    head = type_text.strip().lower().split("(", 1)[0].split()
    if not head:
        return ""
    word = head[0]
    return {
        "integer": "int",
        "bool": "tinyint",
        "boolean": "tinyint",
        "real": "double",
        "numeric": "decimal",
        "dec": "decimal",
        "character": "char",
        "nchar": "char",
        "nvarchar": "varchar",
    }.get(word, word)


def length_of(type_text: str) -> int | None:
    """The character length of char/varchar/binary types: `varchar(255)` -> 255."""
    base = base_type_of(type_text)
    if base not in ("char", "varchar", "binary", "varbinary"):
        return None
    if "(" not in type_text:
        return 1 if base in ("char", "binary") else None
    try:
        return int(type_text.split("(", 1)[1].split(")", 1)[0].split(",")[0])
    except ValueError:
        return None


_INT_WIDTH = re.compile(r"\b(tinyint|smallint|mediumint|int|integer|bigint)\(\d+\)")


def normalise_type(column_type: str) -> str:
    """Compare types across flavours: MariaDB shows `bigint(20) unsigned`, MySQL 8 shows
    `bigint unsigned`; sqlglot prints `DECIMAL(15, 3)`."""
    text = " ".join(column_type.lower().replace(", ", ",").split())
    text = _INT_WIDTH.sub(r"\1", text)
    return text.replace("integer", "int")
