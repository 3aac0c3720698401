"""Read-only inspection of a live server into the schema model (never writes).

One reader of `information_schema` for tables, columns, indexes (uniqueness, order, prefix
lengths, visibility, cardinality), partitioning, triggers and views: everything else —
partition migrate, schema status/upgrade, the advisor — takes its facts from here.

Visibility differs by flavour: MySQL 8+ has `STATISTICS.IS_VISIBLE`, MariaDB ≥ 10.6
`STATISTICS.IGNORED`; older servers have neither, and every index is visible there.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import replace

from sqlops.db import Session, quote_ident
from sqlops.schema.ddl import referenced_tables
from sqlops.schema.model import (
    Column,
    ColumnStats,
    Index,
    IndexPart,
    Partitioning,
    Schema,
    Table,
    Trigger,
    View,
    base_type_of,
    normalise_type,
)

# Older names, kept so callers read naturally ("the live table").
LiveTable = Table
LiveColumn = Column

# Prefix lengths whose selectivity `--sample` measures for string columns.
PREFIX_LENGTHS = (4, 8, 16, 32, 64, 128, 255)


def table_exists(session: Session, name: str) -> bool:
    return bool(
        session.scalar(
            "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() "
            "AND TABLE_NAME = %s",
            (name,),
        )
    )


def database_exists(session: Session, name: str) -> bool:
    return bool(
        session.scalar("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s", (name,))
    )


def existing_tables(session: Session) -> set[str]:
    rows = session.query("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()")
    return {r[0] for r in rows}


def inspect_table(session: Session, table: str) -> Table | None:
    """One table of the session's database, or None when it does not exist (or is a view)."""
    return inspect_schema(session, tables=[table]).tables.get(table)


def inspect_schema(
    session: Session, tables: Iterable[str] | None = None, schema: str | None = None
) -> Schema:
    """Tables and views of `schema` (default: the session's database); `tables` narrows it."""
    db = schema or session.database
    wanted = None if tables is None else sorted(set(tables))
    if wanted is not None and not wanted:
        return Schema(tables={}, views={}, origin=db)
    where, params = _where(db, wanted)
    table_rows = session.query(
        "SELECT TABLE_NAME, TABLE_TYPE, ENGINE, TABLE_ROWS, "
        "COALESCE(DATA_LENGTH, 0) + COALESCE(INDEX_LENGTH, 0), "
        f"TABLE_COLLATION, CREATE_OPTIONS FROM information_schema.TABLES WHERE {where}",
        params,
    )
    base = {r[0] for r in table_rows if r[1] != "VIEW"}
    columns = _columns(session, where, params)
    indexes = _indexes(session, where, params)
    partitions = _partitions(session, where, params)
    triggers = _triggers(session, db, wanted)
    out: dict[str, Table] = {}
    for name, _type, engine, rows, size, collation, _options in table_rows:
        if name not in base:
            continue
        charset = collation.split("_", 1)[0] if collation else None
        out[name] = Table(
            name=name,
            columns=tuple(columns.get(name, ())),
            indexes=tuple(indexes.get(name, ())),
            engine=engine,
            charset=charset,
            partitioning=partitions.get(name),
            triggers=tuple(triggers.get(name, ())),
            rows=int(rows or 0),
            data_bytes=int(size or 0),
            schema=db,
        )
    views = _views(session, where, params)
    return Schema(tables=out, views=views, origin=db)


def _where(db: str, tables: Sequence[str] | None, column: str = "TABLE_NAME") -> tuple[str, list[str]]:
    if tables is None:
        return "TABLE_SCHEMA = %s", [db]
    marks = ", ".join(["%s"] * len(tables))
    return f"TABLE_SCHEMA = %s AND {column} IN ({marks})", [db, *tables]


def _columns(session: Session, where: str, params: list[str]) -> dict[str, list[Column]]:
    out: dict[str, list[Column]] = {}
    for table, name, ctype, nullable, extra, charset in session.query(
        "SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, EXTRA, CHARACTER_SET_NAME "
        f"FROM information_schema.COLUMNS WHERE {where} ORDER BY TABLE_NAME, ORDINAL_POSITION",
        params,
    ):
        normal = normalise_type(ctype)
        base = base_type_of(normal)
        length = None
        if base in ("char", "varchar", "binary", "varbinary") and "(" in normal:
            length = int(normal.split("(", 1)[1].split(")", 1)[0])
        out.setdefault(table, []).append(
            Column(
                name=name,
                base_type=base,
                type=normal,
                nullable=nullable == "YES",
                length=length,
                charset=charset,
                auto_increment="auto_increment" in (extra or "").lower(),
                raw_type=ctype,
                generated=bool(re.search(r"GENERATED|VIRTUAL|STORED|PERSISTENT", extra or "", re.I)),
            )
        )
    return out


def _visibility_column(session: Session) -> str:
    names = {
        r[0].upper()
        for r in session.query(
            "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'information_schema' "
            "AND TABLE_NAME = 'STATISTICS' AND COLUMN_NAME IN ('IS_VISIBLE', 'IGNORED')"
        )
    }
    if "IS_VISIBLE" in names:
        return "IS_VISIBLE = 'YES'"
    if "IGNORED" in names:
        return "IGNORED = 'NO'"
    return "1"


def _indexes(session: Session, where: str, params: list[str]) -> dict[str, list[Index]]:
    visible = _visibility_column(session)
    rows = session.query(
        "SELECT TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX, COLUMN_NAME, SUB_PART, NON_UNIQUE, INDEX_TYPE, "
        f"CARDINALITY, COLLATION, {visible} FROM information_schema.STATISTICS WHERE {where} "
        "ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX",
        params,
    )
    grouped: dict[tuple[str, str], list[tuple]] = {}
    for row in rows:
        grouped.setdefault((row[0], row[1]), []).append(row)
    out: dict[str, list[Index]] = {}
    for (table, name), parts in grouped.items():
        first = parts[0]
        out.setdefault(table, []).append(
            Index(
                name=name,
                # A functional key part (MySQL 8.0.13+) has no column name: not usable as a column.
                parts=tuple(IndexPart(p[3], int(p[4]) if p[4] else None, p[8] == "D") for p in parts if p[3]),
                unique=not int(first[5]),
                primary=name == "PRIMARY",
                visible=bool(int(first[9])),
                kind=str(first[6] or "BTREE").upper(),
                cardinality=tuple(int(p[7]) if p[7] is not None else None for p in parts if p[3]),
            )
        )
    for indexes in out.values():
        indexes.sort(key=lambda i: (not i.primary, i.name))
    return out


def _partitions(session: Session, where: str, params: list[str]) -> dict[str, Partitioning]:
    out: dict[str, tuple[str, str, list[str]]] = {}
    for table, method, expression, name in session.query(
        "SELECT TABLE_NAME, PARTITION_METHOD, PARTITION_EXPRESSION, PARTITION_NAME "
        "FROM information_schema.PARTITIONS "
        f"WHERE {where} AND PARTITION_NAME IS NOT NULL ORDER BY TABLE_NAME, PARTITION_ORDINAL_POSITION",
        params,
    ):
        entry = out.setdefault(table, (str(method or ""), str(expression or ""), []))
        entry[2].append(name)
    return {t: Partitioning(m, e, tuple(names)) for t, (m, e, names) in out.items()}


def _triggers(session: Session, db: str, tables: Sequence[str] | None) -> dict[str, list[Trigger]]:
    where, params = _where(db, tables, "EVENT_OBJECT_TABLE")
    where = where.replace("TABLE_SCHEMA", "EVENT_OBJECT_SCHEMA", 1)
    out: dict[str, list[Trigger]] = {}
    for table, name, timing, event, statement in session.query(
        "SELECT EVENT_OBJECT_TABLE, TRIGGER_NAME, ACTION_TIMING, EVENT_MANIPULATION, ACTION_STATEMENT "
        "FROM information_schema.TRIGGERS "
        f"WHERE {where} ORDER BY ACTION_ORDER, TRIGGER_NAME",
        params,
    ):
        out.setdefault(table, []).append(Trigger(name, timing, event, statement))
    return out


def _views(session: Session, where: str, params: list[str]) -> dict[str, View]:
    import sqlglot

    out: dict[str, View] = {}
    for name, definition in session.query(
        f"SELECT TABLE_NAME, VIEW_DEFINITION FROM information_schema.VIEWS WHERE {where}", params
    ):
        text = str(definition or "")
        try:
            tree = sqlglot.parse_one(text, read="mysql")
            bases = referenced_tables(tree)
        except sqlglot.errors.SqlglotError:
            bases = ()
        out[name] = View(name, text, bases)
    return out


def sample_column_stats(
    session: Session, table: Table, columns: Iterable[str], sample_rows: int
) -> dict[str, ColumnStats]:
    """Distinct values (and, for string columns, prefix selectivity) of `columns`, measured on
    about `sample_rows` rows spread over the whole table.

    `LIMIT n` alone would read the first n rows of the primary key — on a log table, the oldest
    day only, where every date column looks constant — so rows are drawn with `RAND() < f`.
    That reads the table once (sequentially); it is a read-only statement with no locks.
    """
    cols = [c for c in (table.column(n) for n in columns) if c is not None]
    if not cols or sample_rows <= 0:
        return {}
    total = table.rows or 0
    fraction = 1.0 if total <= sample_rows else sample_rows / total
    select: list[str] = ["COUNT(*)"]
    for c in cols:
        q = quote_ident(c.name)
        select += [f"COUNT(DISTINCT {q})", f"SUM({q} IS NULL)"]
        if c.is_string:
            select += [f"COUNT(DISTINCT LEFT({q}, {n}))" for n in PREFIX_LENGTHS]
    source = quote_ident(table.name)
    where = "" if fraction >= 1.0 else f" WHERE RAND() < {fraction:.8f}"
    row = session.query(
        f"SELECT {', '.join(select)} FROM (SELECT * FROM {source}{where} LIMIT {int(sample_rows)}) AS sample"
    )[0]
    n = int(row[0] or 0)
    out: dict[str, ColumnStats] = {}
    i = 1
    for c in cols:
        distinct, nulls = int(row[i] or 0), int(row[i + 1] or 0)
        i += 2
        prefixes: dict[int, float] = {}
        if c.is_string:
            for length in PREFIX_LENGTHS:
                prefixes[length] = (int(row[i] or 0) / distinct) if distinct else 1.0
                i += 1
        out[c.name] = ColumnStats(sampled_rows=n, distinct=distinct, nulls=nulls, prefix_selectivity=prefixes)
    return out


def with_sampled_stats(
    session: Session, schema: Schema, wanted: dict[str, set[str]], sample_rows: int
) -> Schema:
    """The schema with sampled statistics for `wanted` (table -> columns)."""
    tables = dict(schema.tables)
    for name, columns in wanted.items():
        table = schema.table(name)
        if table is None or not columns:
            continue
        stats = sample_column_stats(session, table, sorted(columns), sample_rows)
        tables[table.name] = table.with_stats({**table.column_stats, **stats})
    return replace(schema, tables=tables)
