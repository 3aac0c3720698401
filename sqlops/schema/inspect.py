"""Read-only inspection of tables, columns, keys and triggers (never writes)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlops.db import Session
from sqlops.schema.definitions import normalise_type


def table_exists(session: Session, name: str) -> bool:
    return bool(
        session.scalar(
            "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() "
            "AND TABLE_NAME = %s",
            (name,),
        )
    )


def existing_tables(session: Session) -> set[str]:
    rows = session.query("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()")
    return {r[0] for r in rows}


@dataclass(frozen=True)
class LiveColumn:
    name: str
    type: str  # normalised like definitions.normalise_type
    nullable: bool
    extra: str
    raw_type: str  # COLUMN_TYPE as the server shows it


@dataclass(frozen=True)
class LiveTable:
    name: str
    columns: tuple[LiveColumn, ...]
    primary_key: tuple[str, ...]
    indexes: dict[str, tuple[str, ...]]
    triggers: tuple[tuple[str, str, str], ...]  # (name, timing, event)
    partitioned: bool
    estimated_rows: int
    data_bytes: int

    def column(self, name: str) -> LiveColumn | None:
        return next((c for c in self.columns if c.name == name), None)

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


def inspect_table(session: Session, table: str) -> LiveTable | None:
    rows = session.query(
        "SELECT TABLE_ROWS, DATA_LENGTH + INDEX_LENGTH, CREATE_OPTIONS FROM information_schema.TABLES "
        "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s",
        (table,),
    )
    if not rows:
        return None
    estimated, size, options = rows[0]
    columns = tuple(
        LiveColumn(name, normalise_type(ctype), nullable == "YES", extra or "", ctype)
        for name, ctype, nullable, extra in session.query(
            "SELECT COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, EXTRA FROM information_schema.COLUMNS "
            "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s ORDER BY ORDINAL_POSITION",
            (table,),
        )
    )
    keys: dict[str, list[str]] = {}
    for index_name, column in session.query(
        "SELECT INDEX_NAME, COLUMN_NAME FROM information_schema.STATISTICS "
        "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s ORDER BY INDEX_NAME, SEQ_IN_INDEX",
        (table,),
    ):
        keys.setdefault(index_name, []).append(column)
    triggers = tuple(
        (name, timing, event)
        for name, timing, event in session.query(
            "SELECT TRIGGER_NAME, ACTION_TIMING, EVENT_MANIPULATION FROM information_schema.TRIGGERS "
            "WHERE EVENT_OBJECT_SCHEMA = DATABASE() AND EVENT_OBJECT_TABLE = %s ORDER BY TRIGGER_NAME",
            (table,),
        )
    )
    primary = tuple(keys.pop("PRIMARY", []))
    return LiveTable(
        name=table,
        columns=columns,
        primary_key=primary,
        indexes={k: tuple(v) for k, v in keys.items()},
        triggers=triggers,
        partitioned="partitioned" in (options or "").lower(),
        estimated_rows=int(estimated or 0),
        data_bytes=int(size or 0),
    )
