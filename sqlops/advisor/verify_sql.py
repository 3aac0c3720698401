"""Statement surgery for `advise --verify` (pure, sqlglot): retarget a class's statement to the
scratch schema, turn DML into its read part, find what its `?` placeholders are compared with.

Nothing here talks to a server; :mod:`sqlops.advisor.verify` runs what these functions build.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import sqlglot
from sqlglot import exp

from sqlops.advisor.analyze import parse_statement, read_part
from sqlops.schema.model import Schema

# Comparisons whose other side tells which column a placeholder stands for.
_BINARY = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.NullSafeEQ, exp.Like, exp.ILike)


class Unverifiable(Exception):
    """The statement cannot be measured as it is; the message says why (shown in the report)."""


@dataclass(frozen=True)
class Slot:
    """One `?` and the column it is compared with: `source` is the table or view name the column
    is read from (as written in the statement), `column` the column name."""

    source: str
    column: str


@dataclass
class Prepared:
    """A statement ready to run on the scratch schema (placeholders still open when `slots`)."""

    tree: exp.Expr
    kind: str  # select | update | delete | insert | replace
    changed: bool  # False: the original text can run as-is
    original: str
    slots: list[Slot] = field(default_factory=list)
    sources: tuple[str, ...] = ()  # tables and views it reads (unqualified or in the real schema)

    def sql(self) -> str:
        return self.tree.sql(dialect="mysql") if self.changed else self.original.strip().rstrip(";")


def _same(a: str | None, b: str) -> bool:
    return a is not None and a.lower() == b.lower()


def retarget(tree: exp.Expr, real_db: str, scratch: str) -> bool:
    """Point `real_db.t` (and `real_db.t.col`) references at `scratch`; True when any changed."""
    changed = False
    for node in tree.find_all(exp.Table, exp.Column):
        db = node.args.get("db")
        if isinstance(db, exp.Identifier) and _same(db.name, real_db):
            node.set("db", exp.to_identifier(scratch, quoted=True))
            changed = True
    return changed


def referenced_sources(tree: exp.Expr, real_db: str) -> tuple[str, ...]:
    """Tables/views the statement reads in the real schema (unqualified or `real_db.`), without
    its own CTE names."""
    ctes = {c.alias_or_name.lower() for c in tree.find_all(exp.CTE)}
    out: list[str] = []
    for t in tree.find_all(exp.Table):
        if not t.name or isinstance(t.parent, exp.Schema):
            continue
        db = t.args.get("db")
        if db is not None and not _same(getattr(db, "name", None), real_db):
            continue
        if db is None and t.name.lower() in ctes:
            continue
        if t.name not in out:
            out.append(t.name)
    return tuple(out)


def prepare_statement(sql: str, schema: Schema, real_db: str, scratch: str) -> Prepared:
    """Parse, take the read part of DML, retarget to the scratch schema, locate placeholders.

    Raises Unverifiable when the statement does not parse, reads nothing (INSERT ... VALUES), or
    has a placeholder that is not compared with a column."""
    try:
        tree = parse_statement(sql)
    except sqlglot.errors.SqlglotError as exc:
        raise Unverifiable(f"the statement does not parse: {str(exc).splitlines()[0]}") from None
    kind = _kind(tree)
    changed = False
    if kind != "select":
        read = read_part(tree)
        if read is None:
            raise Unverifiable(f"a {kind.upper()} without a SELECT part reads nothing to measure")
        tree, changed = read, True
    sources = referenced_sources(tree, real_db)
    changed = retarget(tree, real_db, scratch) or changed
    slots = [_slot(p, schema) for p in tree.find_all(exp.Placeholder)]
    return Prepared(tree, kind, changed or bool(slots), sql, slots, sources)


def _kind(tree: exp.Expr) -> str:
    if isinstance(tree, exp.Select | exp.Union | exp.Intersect | exp.Except):
        return "select"
    if isinstance(tree, exp.Update):
        return "update"
    if isinstance(tree, exp.Delete):
        return "delete"
    if isinstance(tree, exp.Insert):
        return "replace" if tree.args.get("is_replace") else "insert"
    raise Unverifiable(f"{type(tree).__name__.upper()} statements are not measured")


def _slot(p: exp.Placeholder, schema: Schema) -> Slot:
    parent = p.parent
    column: exp.Expr | None = None
    if isinstance(parent, _BINARY):
        other = parent.expression if p is parent.this else parent.this
        column = other
    elif isinstance(parent, exp.In | exp.Between) and p is not parent.this:
        column = parent.this
    if not isinstance(column, exp.Column) or not column.name:
        if isinstance(parent, exp.Limit | exp.Offset):
            where = "in LIMIT"
        else:
            where = f"in `{parent.sql('mysql')}`" if parent is not None else "alone"
        raise Unverifiable(
            f"a `?` placeholder {where} is not compared with a plain column, so no real value can be "
            "taken from the data (fill it in the source or give a logged example)"
        )
    source = _source_of(column, p, schema)
    return Slot(source, column.name)


def _select_sources(select: exp.Select) -> list[exp.Table]:
    out: list[exp.Table] = []
    from_ = select.args.get("from_") or select.args.get("from")
    if from_ is not None and isinstance(from_.this, exp.Table):
        out.append(from_.this)
    for join in select.args.get("joins") or ():
        if isinstance(join.this, exp.Table):
            out.append(join.this)
    return out


def _source_of(column: exp.Column, p: exp.Expr, schema: Schema) -> str:
    qualifier = column.table
    node: exp.Expr | None = p
    candidates: list[exp.Table] = []
    while node is not None:
        select = node.find_ancestor(exp.Select)
        if select is None:
            break
        tables = _select_sources(select)
        if qualifier:
            hit = [t for t in tables if _same(t.alias_or_name, qualifier)]
            if hit:
                return hit[0].name
        else:
            having = [t for t in tables if _has_column(schema, t.name, column.name)]
            if len(having) == 1:
                return having[0].name
            if len(tables) == 1 and schema.view(tables[0].name) is not None:
                return tables[0].name
            candidates = tables
            break
        node = select
    what = f"{qualifier}.{column.name}" if qualifier else column.name
    many = f" (it could be any of {', '.join(t.name for t in candidates)})" if len(candidates) > 1 else ""
    raise Unverifiable(f"cannot tell which table the placeholder's column {what} belongs to{many}")


def _has_column(schema: Schema, name: str, column: str) -> bool:
    table = schema.table(name)
    return table is not None and table.column(column) is not None


def fill(prepared: Prepared, values: Callable[[Slot, int], Any]) -> None:
    """Replace each placeholder (in order) with `values(slot, n)`, n counting the slot's earlier
    uses so `IN (?, ?)` gets different values."""
    seen: dict[Slot, int] = {}
    for placeholder, slot in zip(list(prepared.tree.find_all(exp.Placeholder)), prepared.slots, strict=True):
        n = seen.get(slot, 0)
        seen[slot] = n + 1
        placeholder.replace(literal(values(slot, n)))
    prepared.slots = []


def literal(value: Any) -> exp.Expr:
    if value is None:
        return exp.Null()
    if isinstance(value, bool):
        return exp.Literal.number(int(value))
    if isinstance(value, int | float):
        return exp.Literal.number(value)
    if isinstance(value, bytes | bytearray):
        try:
            return exp.Literal.string(bytes(value).decode("utf-8"))
        except UnicodeDecodeError:
            raise Unverifiable("the placeholder's column holds binary values") from None
    from decimal import Decimal

    if isinstance(value, Decimal):
        return exp.Literal.number(str(value))
    return exp.Literal.string(str(value))


def aliases_of(table: str, trees: Iterable[exp.Expr]) -> set[str]:
    """Names EXPLAIN may show for `table`: its aliases in the statement and in the view bodies."""
    out = {table.lower()}
    for tree in trees:
        for t in tree.find_all(exp.Table):
            if _same(t.name, table):
                out.add(t.alias_or_name.lower())
    return out


def has_order_without_limit(sql: str) -> bool:
    """True when the outermost query has ORDER BY and no LIMIT (results compared in order)."""
    try:
        tree = parse_statement(sql)
    except sqlglot.errors.SqlglotError:
        return False
    read = read_part(tree) if not isinstance(tree, exp.Query) else tree
    if read is None:
        return False
    return read.args.get("order") is not None and read.args.get("limit") is None
