"""Index candidates for one class: which columns, in which order, with which prefix lengths.

The classic B-tree rules, applied per table access:

1. equality columns first — the most selective first (measured NDV from `--sample`, else the
   cardinality of an existing index on the column, else a type-based guess), because the
   leading columns are what other queries can share;
2. then *one* range column (a B-tree cannot use two ranges), or — when there is no range —
   the ORDER BY columns (same direction, all of this table) so the sort disappears, or the
   GROUP BY columns so the grouping reads the index in order;
3. columns the statement also reads are appended to make it covering only when that is cheap
   (few short columns; not on a table the logging daemon writes to all day);
4. at most 5 columns; TEXT/BLOB (and strings too long for the key) get a prefix length chosen
   from measured prefix selectivity, or from the LIKE patterns when there is no sample;
5. the whole key fits the engine's limit (InnoDB 3072 bytes, MyISAM 1000 bytes).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlops.advisor.model import TableAccess
from sqlops.schema.model import Column, IndexPart, Table

MAX_COLUMNS = 5
KEY_LIMIT = {"innodb": 3072, "myisam": 1000, "aria": 2000, "memory": 3072}
# Strings longer than this many characters get a prefix (a full 255-char utf8mb4 key part is
# 1 KB per entry; URLs and user agents rarely need more than their first 64-128 characters).
LONG_STRING_CHARS = 255
PREFIX_STEPS = (8, 16, 32, 64, 128, 255)
# A prefix is good enough when it tells apart this share of the distinct values.
PREFIX_SELECTIVITY = 0.95
# A column with at most this many distinct values (measured or guessed: tinyint(1), enum)
# does not make an index on its own.
LOW_CARDINALITY = 10
# Names that suggest a column with few distinct values (offline, without statistics).
_LOW_CARDINALITY_HINTS = (
    "status",
    "type",
    "method",
    "flag",
    "code",
    "state",
    "hier",
    "kind",
    "level",
    "mime",
)


@dataclass(frozen=True)
class Candidate:
    table: str
    parts: tuple[IndexPart, ...]
    n_equality: int  # the first n parts are equality columns: their order is free for the query
    class_id: str
    purpose: str  # "filter", "filter+range", "filter+sort", "filter+group", "join", "covering"
    n_key: int | None = None  # covering candidates: parts after the first n_key are only read
    share: float = 1.0  # the part of the class's time an index on this table can win back

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(p.column for p in self.parts)


def candidates_for(
    access: TableAccess,
    table: Table,
    class_id: str,
    *,
    lookup_side: bool,
    heavy_writes: bool = False,
    max_columns: int = MAX_COLUMNS,
) -> list[Candidate]:
    """Candidates for one table access; `lookup_side` = the table is reached through its join
    columns (the other table drives the join), so they count as equality columns."""
    eq = [c for c in access.equality if table.column(c) is not None]
    if lookup_side:
        eq += [c for c in access.joins if c not in eq and table.column(c) is not None]
    eq = order_by_selectivity(eq, table)
    ranges = [c for c in access.ranges if c not in eq and table.column(c) is not None]
    out: list[Candidate] = []

    def make(columns: list[str], n_eq: int, purpose: str) -> None:
        columns = _without_implicit_pk(columns, n_eq, table)
        if columns and all(_distinct_estimate(table, c) <= LOW_CARDINALITY for c in columns):
            return  # an index on flags alone (deleted, active, blocked) rarely beats a scan
        parts = _parts(columns[:max_columns], table, access)
        if parts and not any(c.parts == parts for c in out):
            out.append(Candidate(table.name, parts, min(n_eq, len(parts)), class_id, purpose))

    sort_cols = _sort_columns(access, table, eq)
    group_cols = [c for c in access.group_by if c not in eq and table.column(c) is not None]
    if any(_needs_prefix(table.column(c)) for c in group_cols):  # type: ignore[arg-type]
        group_cols = []  # a prefix key part cannot deliver the grouping order
    if ranges:
        make([*eq, ranges[0]], len(eq), "filter+range" if eq else "range")
        if sort_cols and access.limit is not None:
            make(eq + sort_cols, len(eq), "filter+sort")  # top-N by the sort order, no range index
    elif sort_cols and (eq or access.limit is not None):
        make(eq + sort_cols, len(eq), "filter+sort")
    elif group_cols and len(group_cols) == len(access.group_by) and eq:
        make(eq + group_cols, len(eq), "filter+group")
    elif group_cols and len(group_cols) == len(access.group_by) and access.scope_tables == 1:
        # GROUP BY with no filter an index can use: reading the whole table in group order
        # through a secondary index costs a primary-key lookup per row — far slower than a
        # scan and a sort once the table is bigger than memory (measured: 1 s -> 23-40 s). Only
        # an index that covers the statement (an index-only scan) is worth it.
        _group_covering(out, access, table, group_cols, max_columns, class_id)
    elif eq:
        make(eq, len(eq), "join" if lookup_side and not access.equality else "filter")
    if out and not heavy_writes:
        _add_covering(out, access, table, max_columns)
    return out


def order_by_selectivity(columns: list[str], table: Table) -> list[str]:
    """Most selective first; ties keep the order the statement wrote them in."""
    scored = [(-_distinct_estimate(table, c), i, c) for i, c in enumerate(columns)]
    return [c for _, _, c in sorted(scored)]


def _distinct_estimate(table: Table, column: str) -> float:
    stats = table.stats(column)
    if stats is not None and stats.sampled_rows:
        return float(stats.distinct)
    for index in table.indexes:
        leads = index.columns and index.columns[0].lower() == column.lower()
        if leads and index.cardinality and index.cardinality[0] is not None:
            return float(index.cardinality[0])
    col = table.column(column)
    if col is None:
        return 0.0
    if col.auto_increment:
        return 1e12
    if col.base_type in ("enum", "set", "bit") or col.raw_type.lower().startswith(
        ("tinyint(1)", "char(1)", "bool")
    ):
        return 10.0
    name = col.name.lower()
    if any(h in name for h in _LOW_CARDINALITY_HINTS):
        return 100.0
    if col.base_type == "date":
        return 365.0  # a year of days; a log table holds a few months
    if col.is_temporal or col.base_type == "decimal":
        return 100_000.0  # timestamps (and epoch seconds with decimals) are nearly unique
    return 1_000.0  # unknown: a middling guess; ties keep the written order


def _sort_columns(access: TableAccess, table: Table, eq: list[str]) -> list[str]:
    """ORDER BY columns an index can deliver: all of this table, one direction."""
    order = [(c, d) for c, d in access.order_by if c not in eq]
    if not order or len(access.order_by) == 0:
        return []
    if len({d for _, d in order}) > 1:
        return []  # mixed directions need a descending key part; not worth a candidate here
    cols = [c for c, _ in order if table.column(c) is not None]
    if len(cols) != len(order):
        return []
    if any(_needs_prefix(table.column(c)) for c in cols):  # type: ignore[arg-type]
        return []  # a prefix key part cannot deliver the order
    return cols


def _group_covering(
    out: list[Candidate],
    access: TableAccess,
    table: Table,
    group_cols: list[str],
    max_columns: int,
    class_id: str,
) -> None:
    if "*" in access.selected:
        return
    extra = [c for c in access.selected if c.lower() not in {g.lower() for g in group_cols}]
    columns = group_cols + extra
    cols = [table.column(c) for c in columns]
    if len(columns) > min(max_columns, 3) or any(c is None or _needs_prefix(c) for c in cols):
        return
    parts = tuple(IndexPart(c.name) for c in cols if c is not None)
    out.append(Candidate(table.name, parts, 0, class_id, "covering", len(group_cols)))


def _without_implicit_pk(columns: list[str], n_eq: int, table: Table) -> list[str]:
    """InnoDB appends the primary key to every secondary index: `(a, id)` with PK `(id)` is
    stored as `(a, id)` anyway, so trailing PK columns after the equality columns are dropped."""
    if (table.engine or "innodb").lower() != "innodb" or n_eq == 0:
        return columns
    pk = [c.lower() for c in table.primary_key]
    tail = [c.lower() for c in columns[n_eq:]]
    if tail and pk[: len(tail)] == tail:
        return columns[:n_eq]
    return columns


def _add_covering(out: list[Candidate], access: TableAccess, table: Table, max_columns: int) -> None:
    """Covering variant: the statement's other columns appended, when few and short."""
    if "*" in access.selected or not access.selected:
        return
    base = out[0]
    have = [c.lower() for c in base.columns]
    extra = [c for c in access.selected if c.lower() not in have and table.column(c) is not None]
    if not extra or len(have) + len(extra) > min(max_columns, 3):
        return
    cols = [table.column(c) for c in extra]
    if any(c is None or _needs_prefix(c) or c.is_text_or_blob for c in cols):
        return
    parts = base.parts + tuple(IndexPart(c) for c in extra)
    out.append(Candidate(table.name, parts, base.n_equality, base.class_id, "covering", len(base.parts)))


def _needs_prefix(column: Column) -> bool:
    return column.is_text_or_blob or (column.length or 0) > LONG_STRING_CHARS


def _parts(columns: list[str], table: Table, access: TableAccess) -> tuple[IndexPart, ...]:
    parts: list[IndexPart] = []
    for name in columns:
        col = table.column(name)
        if col is None:
            continue
        prefix = choose_prefix(col, table, access) if _needs_prefix(col) else None
        parts.append(IndexPart(col.name, prefix))
    return _fit_key_limit(tuple(parts), table)


def choose_prefix(column: Column, table: Table, access: TableAccess | None = None) -> int:
    """The shortest measured prefix that tells apart ≥ 95 % of the distinct values; without
    a sample, enough for the LIKE patterns seen (rounded up), at least 32 characters."""
    stats = table.stats(column.name)
    if stats is not None and stats.prefix_selectivity:
        for length in sorted(stats.prefix_selectivity):
            if stats.prefix_selectivity[length] >= PREFIX_SELECTIVITY:
                return length
        return max(stats.prefix_selectivity)
    wanted = 32
    if access is not None:
        for col, length in access.like_prefixes:
            if col.lower() == column.name.lower():
                wanted = max(wanted, length)
    step = next((s for s in PREFIX_STEPS if s >= wanted), PREFIX_STEPS[-1])
    if column.length is not None:
        step = min(step, column.length)
    return step


def _fit_key_limit(parts: tuple[IndexPart, ...], table: Table) -> tuple[IndexPart, ...]:
    """Drop trailing parts (then shorten prefixes) until the key fits the engine's limit."""
    limit = KEY_LIMIT.get((table.engine or "innodb").lower(), 3072)
    charset = table.charset or "utf8mb4"

    def size(ps: tuple[IndexPart, ...]) -> int:
        total = 0
        for p in ps:
            col = table.column(p.column)
            total += col.key_bytes(p.prefix, charset) if col else 0
        return total

    out = list(parts)
    while len(out) > 1 and size(tuple(out)) > limit:
        out.pop()
    if out and size(tuple(out)) > limit:
        col = table.column(out[0].column)
        if col is not None and col.is_string:
            per_char = max(1, col.key_bytes(1, charset) - 2)
            out[0] = IndexPart(out[0].column, max(1, (limit - 2) // per_char), out[0].descending)
    return tuple(out)


def lookup_sides(accesses: list[TableAccess], tables: dict[str, Table]) -> set[str]:
    """Aliases reached through their join columns: a table with no filter of its own is the
    inner side of the join; when every table has filters (or none has), the bigger table is
    (the optimizer drives from the smaller one)."""
    joined = [a for a in accesses if a.joins]
    if not joined:
        return set()
    unfiltered = {a.alias for a in joined if not a.equality and not a.ranges}
    if unfiltered and len(unfiltered) < len(joined):
        return unfiltered
    sized = sorted(joined, key=lambda a: (tables[a.table].rows or 0) if a.table in tables else 0)
    if len(sized) >= 2 and (tables.get(sized[-1].table) and tables[sized[-1].table].rows):
        return {a.alias for a in sized[1:]}
    return {a.alias for a in joined}
