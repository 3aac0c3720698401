"""Workload-wide index selection: from every class's candidates to a few indexes per table.

- A candidate an existing (visible B-tree) index already serves is dropped: the existing
  index's leading columns are the candidate's, where the candidate's equality columns may come
  in any order.
- Candidates are taken by weight (total query time of their class, then rows examined), and a
  candidate that a chosen index serves — or that extends a chosen index — is merged into it,
  so `(user)`, `(user, day)` and `(day, user)` become one `(user, day)` serving all three.
- At most `budget` new indexes per table; what does not fit is reported, not silently lost.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from sqlops.advisor.candidates import Candidate
from sqlops.advisor.model import IndexAdvice, WorkloadClass
from sqlops.db import quote_ident
from sqlops.schema.model import Index, IndexPart, Table

DEFAULT_BUDGET = 5


@dataclass
class _Chosen:
    table: str
    parts: list[IndexPart]
    free: int  # the leading `free` parts are equality columns whose order may still change
    classes: list[str] = field(default_factory=list)
    purposes: list[str] = field(default_factory=list)
    weight: float = 0.0

    @property
    def columns(self) -> list[str]:
        return [p.column.lower() for p in self.parts]


def served_by(candidate: Candidate, index_parts: Sequence[IndexPart]) -> bool:
    """The index's leading parts are the candidate's key parts, equality columns in any order,
    with prefixes at least as long as the candidate's; a covering candidate's extra columns
    may be anywhere in the index (they are only read from it)."""
    if candidate.n_key is not None and candidate.n_key < len(candidate.parts):
        key = Candidate(candidate.table, candidate.parts[: candidate.n_key], candidate.n_equality, "", "")
        whole = {p.column.lower() for p in index_parts if p.prefix is None}
        extras = {p.column.lower() for p in candidate.parts[candidate.n_key :]}
        return served_by(key, index_parts) and extras <= whole
    n = len(candidate.parts)
    if len(index_parts) < n:
        return False
    k = candidate.n_equality
    lead = [p.column.lower() for p in index_parts[:k]]
    if sorted(lead) != sorted(c.lower() for c in candidate.columns[:k]):
        return False
    for want, have in zip(candidate.parts[k:], index_parts[k:n], strict=False):
        if want.column.lower() != have.column.lower() or want.descending != have.descending:
            return False
    by_name = {p.column.lower(): p for p in index_parts[:n]}
    for want in candidate.parts:
        found = by_name.get(want.column.lower())
        if found is None:
            return False
        have = found
        if have.prefix is not None and (want.prefix is None or have.prefix < want.prefix):
            return False
    return True


def existing_serves(candidate: Candidate, table: Table) -> Index | None:
    """An existing index that serves the candidate: a leftmost-prefix match, or a unique key
    (the PK too) whose columns are all among the candidate's equality columns — at most one
    row matches, so nothing after them can make the lookup cheaper."""
    eq = {c.lower() for c in candidate.columns[: candidate.n_equality]}
    for index in table.indexes:
        if not index.usable_for_lookups:
            continue
        if served_by(candidate, index.parts):
            return index
        whole = index.parts and all(p.prefix is None for p in index.parts)
        if index.unique and whole and {c.lower() for c in index.columns} <= eq:
            return index
    return None


def _try_merge(chosen: _Chosen, c: Candidate) -> bool:
    """Merge `c` into `chosen` if one serves the other (reordering free equality columns)."""
    if served_by(c, chosen.parts) and _respects_fixed(chosen, c):
        _reorder_for(chosen, c)
        return True
    # `chosen` is a prefix of the candidate (with the candidate's equality columns in some
    # order): grow it into the candidate, keeping the chosen index's column order first.
    if len(c.parts) <= len(chosen.parts):
        return False
    k = c.n_equality
    reordered = sorted(c.parts[:k], key=lambda p: _position(chosen.parts, p)) + list(c.parts[k:])
    as_candidate = Candidate(chosen.table, tuple(chosen.parts), chosen.free, "", "")
    if served_by(c, reordered) and served_by(as_candidate, reordered):
        chosen.parts = reordered
        chosen.free = min(chosen.free, k)
        return True
    return False


def _position(parts: Sequence[IndexPart], part: IndexPart) -> int:
    for i, p in enumerate(parts):
        if p.column.lower() == part.column.lower():
            return i
    return len(parts)


def _respects_fixed(chosen: _Chosen, c: Candidate) -> bool:
    """The candidate's equality set must be placeable at the front: the fixed (non-free)
    leading columns of the chosen index must all belong to it."""
    eq = {x.lower() for x in c.columns[: c.n_equality]}
    fixed = [p.column.lower() for p in chosen.parts[: len(eq)]]
    lead_free = {p.column.lower() for p in chosen.parts[: chosen.free]}
    return all(col in eq for col in fixed) or eq <= lead_free


def _reorder_for(chosen: _Chosen, c: Candidate) -> None:
    """Put the candidate's equality columns first within the free group, then fix them."""
    k = c.n_equality
    if k == 0 or chosen.free == 0:
        return
    eq = [x.lower() for x in c.columns[:k]]
    free = chosen.parts[: chosen.free]
    first = [p for p in free if p.column.lower() in eq]
    rest = [p for p in free if p.column.lower() not in eq]
    if len(first) == k:
        chosen.parts = first + rest + chosen.parts[chosen.free :]
        chosen.free = max(0, min(chosen.free, len(first)))


@dataclass(frozen=True)
class Selection:
    indexes: tuple[IndexAdvice, ...]
    already_served: Mapping[tuple[str, str], str]  # (class id, table) -> "table.index" serving it today
    over_budget: tuple[IndexAdvice, ...]
    minor: tuple[IndexAdvice, ...] = ()  # would win back less than min_gain of the workload's time


def select_indexes(
    candidates: Sequence[Candidate],
    tables: Mapping[str, Table],
    classes: Mapping[str, WorkloadClass],
    *,
    budget: int = DEFAULT_BUDGET,
    heavy_write_tables: Mapping[str, str] | None = None,
    min_gain: float = 0.0,
) -> Selection:
    """`min_gain`: an index whose classes (their share of it) took less than this fraction of
    the whole workload's time is not worth its write cost; it is listed as minor instead."""
    heavy = heavy_write_tables or {}
    timed = sum(c.total_time for c in classes.values())
    floor = min_gain * (timed + len(classes)) if timed > 0 else 0.0
    served: dict[tuple[str, str], str] = {}
    remaining: list[Candidate] = []
    for c in candidates:
        table = tables.get(c.table)
        if table is None:
            continue
        existing = existing_serves(c, table)
        if existing is not None:
            served.setdefault((c.class_id, c.table), f"{table.name}.{existing.name}")
        else:
            remaining.append(c)
    # A class an existing index serves on a table needs nothing new there, even if it had
    # other candidates for that table (a covering or sort variant).
    remaining = [c for c in remaining if (c.class_id, c.table) not in served]
    remaining.sort(key=lambda c: (-_weight(classes.get(c.class_id)) * c.share, -len(c.parts), c.columns))
    chosen: dict[str, list[_Chosen]] = {}
    for c in remaining:
        per_table = chosen.setdefault(c.table, [])
        # Only an index whose first column is one of the candidate's columns can serve it or
        # grow into it; checking just those keeps 10,000 classes fast.
        wanted = {col.lower() for col in c.columns}
        target = next(
            (ch for ch in per_table if ch.parts[0].column.lower() in wanted and _try_merge(ch, c)), None
        )
        if target is None:
            target = _Chosen(c.table, list(c.parts), c.n_equality)
            per_table.append(target)
        if c.class_id not in target.classes:
            target.classes.append(c.class_id)
            target.weight += _weight(classes.get(c.class_id)) * c.share
        target.purposes.append(c.purpose)
    # A chosen index merged into another after both were created: fold exact prefixes.
    for per_table in chosen.values():
        _fold_prefixes(per_table)
    kept: list[tuple[float, IndexAdvice]] = []
    over: list[IndexAdvice] = []
    minor: list[IndexAdvice] = []
    for table_name, per_table in chosen.items():
        table = tables[table_name]
        per_table.sort(key=lambda ch: -ch.weight)
        used_names = {i.name.lower() for i in table.indexes}
        rank = 0
        for ch in per_table:
            advice = _advice(ch, table, classes, used_names, heavy.get(table.name))
            used_names.add(advice.name.lower())
            if ch.weight < floor:
                minor.append(advice)
                continue
            rank += 1
            if rank <= budget:
                kept.append((ch.weight, advice))
            else:
                over.append(advice)
    # Ranked by the time each index can win back (a join's time split by the tables' rows).
    kept.sort(key=lambda wa: (-wa[0], wa[1].table, wa[1].name))
    return Selection(tuple(a for _, a in kept), served, tuple(over), tuple(minor))


def _fold_prefixes(per_table: list[_Chosen]) -> None:
    i = 0
    while i < len(per_table):
        a = per_table[i]
        first = {p.column.lower() for p in a.parts[: max(a.free, 1)]}
        for b in per_table:
            if b is a or len(b.parts) < len(a.parts) or b.parts[0].column.lower() not in first:
                continue
            if served_by(Candidate(a.table, tuple(a.parts), a.free, "", ""), b.parts):
                for cid in a.classes:
                    if cid not in b.classes:
                        b.classes.append(cid)
                b.weight += a.weight
                b.purposes += a.purposes
                per_table.pop(i)
                break
        else:
            i += 1


def _weight(cls: WorkloadClass | None) -> float:
    """Total query time; classes without timings (source code, general log) rank by count,
    scaled so that any measured time outranks them."""
    if cls is None:
        return 0.0
    if cls.total_time > 0:
        return cls.total_time + 1.0
    return min(cls.count, 1000) / 1000.0


def index_name(table: Table, parts: Sequence[IndexPart], used: set[str]) -> str:
    """`ix_<col>_<col>`, shortened to MySQL's 64 characters, unique on the table."""
    base = "ix_" + "_".join(p.column.lower() for p in parts)
    base = base[:60]
    name, n = base, 2
    while name.lower() in used:
        name = f"{base[:57]}_{n}"
        n += 1
    return name


def index_ddl(table: str, name: str, parts: Sequence[IndexPart], unique: bool = False) -> str:
    kind = "UNIQUE INDEX" if unique else "INDEX"
    cols = ", ".join(p.sql() for p in parts)
    return (
        f"ALTER TABLE {quote_ident(table)} ADD {kind} {quote_ident(name)} ({cols}), "
        "ALGORITHM=INPLACE, LOCK=NONE"
    )


def _advice(
    ch: _Chosen,
    table: Table,
    classes: Mapping[str, WorkloadClass],
    used: set[str],
    heavy_reason: str | None,
) -> IndexAdvice:
    parts = tuple(ch.parts)
    name = index_name(table, parts, used)
    served_time = sum(classes[c].total_time for c in ch.classes if c in classes)
    replaces = tuple(
        i.name
        for i in table.secondary_indexes
        if not i.unique
        and i.usable_for_lookups
        and len(i.parts) < len(parts)
        and [p.column.lower() for p in i.parts] == [p.column.lower() for p in parts[: len(i.parts)]]
    )
    return IndexAdvice(
        table=table.name,
        name=name,
        parts=parts,
        unique=False,
        ddl=index_ddl(table.name, name, parts),
        classes=tuple(ch.classes),
        served_time=served_time,
        reason=_reason(ch, table),
        write_cost=_write_cost(table, heavy_reason),
        replaces=replaces,
    )


def _reason(ch: _Chosen, table: Table) -> str:
    purposes = sorted(set(ch.purposes))
    words = {
        "filter": "equality filters",
        "filter+range": "equality filters, then a range",
        "range": "a range filter",
        "filter+sort": "filters, then the ORDER BY (no filesort)",
        "filter+group": "filters, then the GROUP BY (grouping in index order)",
        "join": "join lookups",
        "covering": "covering (the statement reads no table rows)",
    }
    prefixed = [f"{p.column}({p.prefix})" for p in ch.parts if p.prefix]
    text = "serves " + ", ".join(words.get(p, p) for p in purposes)
    n = len(ch.classes)
    text += f" for {n} class{'es' if n != 1 else ''}"
    if ch.free > 1:
        text += "; equality columns ordered by selectivity"
    if prefixed:
        text += "; prefix lengths for " + ", ".join(prefixed)
    return text


def _write_cost(table: Table, heavy_reason: str | None) -> str | None:
    if heavy_reason is None:
        return None
    n = len(table.indexes)
    return (
        f"{table.name} is written all day ({heavy_reason}): each insert already updates {n} "
        f"index{'es' if n != 1 else ''}; this one adds one more B-tree insert per row "
        f"(about {100 // max(n, 1)}% more index work per insert)"
    )
