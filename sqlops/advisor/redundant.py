"""Existing indexes that cost writes and serve nothing another index does not.

- duplicate: the same key parts (columns, prefixes, directions) as another index;
- left prefix: its parts are the leading parts of another B-tree index;
- PK suffix: InnoDB appends the primary key to every secondary index, so `(a, id)` with PK
  `(id)` is the same key as `(a)` — one of the two is redundant.

Never proposed: the PRIMARY key; a UNIQUE index that is the only constraint on its columns
(dropping it would drop the constraint); indexes other than visible B-trees. Each comes with
the safe path — make it invisible (MySQL `INVISIBLE`, MariaDB ≥ 10.6 `IGNORED`), watch the
slow log, and drop it later.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from sqlops.advisor.model import DropAdvice
from sqlops.db import Session, quote_ident
from sqlops.schema.model import Index, IndexPart, Table


def hide_ddl(table: str, index: str, flavour: str | None) -> str:
    word = "IGNORED" if flavour == "mariadb" else "INVISIBLE"
    return f"ALTER TABLE {quote_ident(table)} ALTER INDEX {quote_ident(index)} {word}"


def drop_ddl(table: str, index: str) -> str:
    return f"ALTER TABLE {quote_ident(table)} DROP INDEX {quote_ident(index)}"


def _key(parts: Iterable[IndexPart]) -> tuple[tuple[str, int | None, bool], ...]:
    return tuple((p.column.lower(), p.prefix, p.descending) for p in parts)


def _extended(index: Index, table: Table) -> tuple[tuple[str, int | None, bool], ...]:
    """The key InnoDB really stores: the index's parts, then the PK columns it lacks."""
    key = list(_key(index.parts))
    if (table.engine or "innodb").lower() == "innodb" and not index.primary:
        have = {k[0] for k in key}
        pk = table.primary
        for p in pk.parts if pk else ():
            if p.column.lower() not in have:
                key.append((p.column.lower(), p.prefix, p.descending))
    return tuple(key)


def redundant_indexes(table: Table, flavour: str | None) -> list[DropAdvice]:
    out: list[DropAdvice] = []
    candidates = [i for i in table.secondary_indexes if i.usable_for_lookups and i.kind == "BTREE"]
    others = [i for i in table.indexes if i.usable_for_lookups and i.kind == "BTREE"]
    gone: set[str] = set()
    for index in candidates:
        if index.unique and not _constraint_kept_elsewhere(index, table):
            continue
        mine = _key(index.parts)
        mine_ext = _extended(index, table)
        for other in others:
            if other is index or other.name in gone:
                continue
            theirs = _key(other.parts)
            if mine == theirs:
                # Keep one of a duplicate pair: the unique one, else the first by name.
                if (other.unique and not index.unique) or (
                    other.unique == index.unique and other.name < index.name
                ):
                    out.append(_advice(table, index, "duplicate", other, flavour))
                    gone.add(index.name)
                    break
                continue
            if len(mine) < len(theirs) and theirs[: len(mine)] == mine:
                out.append(_advice(table, index, "left_prefix", other, flavour))
                gone.add(index.name)
                break
            theirs_ext = _extended(other, table)
            if (
                len(mine_ext) <= len(theirs_ext)
                and theirs_ext[: len(mine_ext)] == mine_ext
                and not other.primary
            ):
                if mine_ext == theirs_ext and other.name > index.name:
                    continue  # the same stored key: flag only one of the pair
                out.append(_advice(table, index, "pk_suffix", other, flavour))
                gone.add(index.name)
                break
    return out


def _constraint_kept_elsewhere(index: Index, table: Table) -> bool:
    """A UNIQUE index may go only if another UNIQUE index (or the PK) has exactly its columns."""
    mine = _key(index.parts)
    return any(o is not index and o.unique and _key(o.parts) == mine for o in table.indexes)


def _advice(table: Table, index: Index, kind: str, other: Index, flavour: str | None) -> DropAdvice:
    cols = ", ".join(p.sql() for p in index.parts)
    other_cols = ", ".join(p.sql() for p in other.parts)
    why = {
        "duplicate": f"has the same key ({cols}) as {other.name}",
        "left_prefix": f"({cols}) is the leading part of {other.name} ({other_cols}), which serves every "
        "lookup it serves",
        "pk_suffix": f"InnoDB appends the primary key to secondary indexes, so ({cols}) stores the same key "
        f"as {other.name} ({other_cols})",
    }[kind]
    return DropAdvice(
        table=table.name,
        index=index.name,
        kind=kind,  # type: ignore[arg-type]
        covered_by=other.name,
        reason=why + "; every insert pays for it. Make it invisible first, drop it when nothing got slower"
        " (an index that backs a foreign key cannot be dropped: the server refuses with error 1553)",
        hide_ddl=hide_ddl(table.name, index.name, flavour),
        drop_ddl=drop_ddl(table.name, index.name),
    )


def inspect_unused_indexes(session: Session, schema: str) -> tuple[dict[tuple[str, str], int], str]:
    """(table, index) -> 0 for indexes performance_schema saw no read of since the server started,
    and a note on what the figure means (uptime; or why it is unavailable)."""
    try:
        enabled = str(session.scalar("SELECT @@performance_schema") or "0")
    except Exception:
        enabled = "0"
    if enabled not in ("1", "ON"):
        return {}, "performance_schema is off: unused indexes cannot be measured (set performance_schema=ON)"
    rows = session.query(
        "SELECT OBJECT_NAME, INDEX_NAME, COUNT_READ "
        "FROM performance_schema.table_io_waits_summary_by_index_usage "
        "WHERE OBJECT_SCHEMA = %s AND INDEX_NAME IS NOT NULL AND INDEX_NAME <> 'PRIMARY'",
        (schema,),
    )
    uptime = int(
        session.scalar(
            "SELECT VARIABLE_VALUE FROM performance_schema.global_status WHERE VARIABLE_NAME = 'Uptime'"
        )
        or 0
    )
    unused = {(t, i): int(n) for t, i, n in rows if int(n or 0) == 0}
    return unused, f"no reads in performance_schema since the server started {uptime // 3600} h ago"


def unused_index_advice(
    tables: Mapping[str, Table],
    unused: Mapping[tuple[str, str], int],
    note: str,
    flavour: str | None,
    already: Iterable[DropAdvice] = (),
) -> list[DropAdvice]:
    flagged = {(d.table, d.index) for d in already}
    out = []
    for (table_name, index_name), _ in sorted(unused.items()):
        table = tables.get(table_name)
        index = table.index(index_name) if table else None
        if table is None or index is None or (table.name, index.name) in flagged:
            continue
        if index.unique and not _constraint_kept_elsewhere(index, table):
            continue
        out.append(
            DropAdvice(
                table=table.name,
                index=index.name,
                kind="unused",
                covered_by=None,
                reason=f"{note}; a monthly or yearly report may still need it: make it invisible first and "
                "drop it after a full business cycle",
                hide_ddl=hide_ddl(table.name, index.name, flavour),
                drop_ddl=drop_ddl(table.name, index.name),
            )
        )
    return out
