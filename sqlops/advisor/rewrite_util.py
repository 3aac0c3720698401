"""Helpers of the rewrite rules (sqlops.advisor.rewrites): column resolution, constants, tidy output."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from sqlglot import exp

from sqlops.schema.model import Column, Schema


@dataclass(frozen=True)
class Ctx:
    schema: Schema
    rollup_table: str
    log_table: str


def strip_parens(node: exp.Expr) -> exp.Expr:
    while isinstance(node, exp.Paren):
        node = node.this
    return node


def conjuncts(cond: exp.Expr) -> Iterator[exp.Expr]:
    cond = strip_parens(cond)
    if isinstance(cond, exp.And):
        yield from conjuncts(cond.this)
        yield from conjuncts(cond.expression)
    else:
        yield cond


def is_const(node: exp.Expr) -> bool:
    """A value that does not depend on the row: literals, placeholders, NOW(), arithmetic of those."""
    node = strip_parens(node)
    if isinstance(node, exp.Literal | exp.Placeholder | exp.Null | exp.Boolean):
        return True
    if isinstance(node, exp.Column | exp.Subquery | exp.Select | exp.Rand | exp.Star):
        return False
    if isinstance(node, exp.Neg | exp.Add | exp.Sub | exp.Mul | exp.Div | exp.Interval | exp.Func | exp.Cast):
        return node.find(exp.Column, exp.Subquery, exp.Select, exp.Rand) is None
    return False


def _sources(select: exp.Select) -> list[exp.Expr]:
    out: list[exp.Expr] = []
    from_ = select.args.get("from_")
    if from_ is not None:
        out.append(from_.this)
    out.extend(j.this for j in select.args.get("joins") or ())
    return out


def resolve(col: exp.Column, schema: Schema) -> tuple[str | None, Column | None]:
    """(base table name, schema column) a column reference reads; (name, None) for an unknown
    table; (None, None) when it cannot be told."""
    node: exp.Expr | None = col
    first_table: str | None = None
    while node is not None:
        node = node.parent
        if isinstance(node, exp.Select | exp.Update | exp.Delete):
            if isinstance(node, exp.Select):
                sources = _sources(node)
            else:
                sources = [node.this] if node.this is not None else []
            tables = [s for s in sources if isinstance(s, exp.Table)]
            for t in tables:
                if col.table:
                    if col.table.lower() == t.alias_or_name.lower():
                        known = schema.table(t.name)
                        return (known.name if known else t.name), (known.column(col.name) if known else None)
                    continue
                known = schema.table(t.name)
                if known is not None and known.column(col.name) is not None:
                    return known.name, known.column(col.name)
            if not col.table and len(sources) == 1 and len(tables) == 1 and first_table is None:
                first_table = tables[0].name
    return first_table, None


def tidy(tree: exp.Expr) -> exp.Expr:
    """Readable output after sqlglot's qualify: `t AS t` -> `t`, `t.c AS c` -> `c` in single-table
    scopes without subqueries."""
    for t in tree.find_all(exp.Table):
        if t.alias and t.alias.lower() == t.name.lower():
            t.set("alias", None)
    for sel in tree.find_all(exp.Select):
        sources = _sources(sel)
        if len(sources) != 1 or not isinstance(sources[0], exp.Table):
            continue
        if any(True for s in sel.find_all(exp.Subquery, exp.Exists) if s is not sel):
            continue
        alias = sources[0].alias_or_name.lower()
        for c in sel.find_all(exp.Column):
            if c.table and c.table.lower() == alias:
                c.set("table", None)
        for p in list(sel.expressions):
            if (
                isinstance(p, exp.Alias)
                and isinstance(p.this, exp.Column)
                and p.alias.lower() == p.this.name.lower()
            ):
                p.replace(p.this)
    for p in list(tree.find_all(exp.Alias)):
        if p.alias.startswith("_col_"):  # qualify's name for an unnamed expression
            p.replace(p.this)
    return tree
