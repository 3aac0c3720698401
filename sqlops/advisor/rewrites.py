"""Rewrite rules (issue #9): a class's example rewritten into a form an index (or the daily
rollup) can serve, each with an honest reason.

The example is parsed with sqlglot (MySQL dialect). Views are expanded into derived tables and,
where sqlglot's ``merge_subqueries`` can, merged into the outer query, so the rules see base
columns. Columns are resolved to their base table through the aliases of the enclosing SELECT
(unqualified columns: the table of the scope that has the column). When a table is not in the
schema, only the rules that need no column types apply (leading wildcards, OR, ORDER BY RAND
needs the primary key and so does not, constants on the left).

Every rule works on its own copy of the tree: one advice per rule and class, with every
occurrence of the pattern rewritten.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator

import sqlglot
from sqlglot import exp
from sqlglot.optimizer.merge_subqueries import merge_subqueries

from sqlops.advisor.analyze import expand_views, flatten_join_parens, mapping_schema, parse_statement
from sqlops.advisor.model import RewriteAdvice, RewriteKind, WorkloadClass
from sqlops.advisor.rewrite_rollup import rollup_rule
from sqlops.advisor.rewrite_util import (
    Ctx,
    conjuncts,
    is_const,
    resolve,
    strip_parens,
    tidy,
)
from sqlops.schema.model import Schema

_FLIP: dict[type[exp.Expr], type[exp.Expr]] = {
    exp.EQ: exp.EQ,
    exp.NEQ: exp.NEQ,
    exp.NullSafeEQ: exp.NullSafeEQ,
    exp.GT: exp.LT,
    exp.GTE: exp.LTE,
    exp.LT: exp.GT,
    exp.LTE: exp.GTE,
}
_CMP = tuple(_FLIP)


def rewrite_advice(
    cls: WorkloadClass,
    schema: Schema,
    *,
    rollup_table: str = "access_log_daily",
    log_table: str = "access_log",
) -> list[RewriteAdvice]:
    """Every rewrite rule that applies to the class's example (an empty list when it does not parse)."""
    try:
        tree = _prepare(cls.example, schema)
    except (sqlglot.errors.SqlglotError, RecursionError, ValueError, KeyError, AttributeError, TypeError):
        return []
    if tree is None:
        return []
    ctx = Ctx(schema, rollup_table, log_table)
    rules: list[
        Callable[[exp.Expr, Ctx], tuple[RewriteKind, str, exp.Expr | None, str, dict[str, object]] | None]
    ]
    rules = [
        _rule_dates,
        _rule_conversion,
        _rule_like,
        _rule_or,
        _rule_not_in,
        _rule_rand,
        _rule_star,
        _rule_constant_left,
        rollup_rule,
    ]
    out: list[RewriteAdvice] = []
    where = list(_where_nodes(tree))
    for rule in rules:
        if not _may_apply(rule, tree, where):
            continue  # a copy of the tree costs more than all the rules' checks together
        try:
            got = rule(tree.copy(), ctx)
        except (sqlglot.errors.SqlglotError, RecursionError, ValueError, KeyError, AttributeError, TypeError):
            continue
        if got is None:
            continue
        kind, table, new, reason, extra = got
        rewritten = tidy(new).sql(dialect="mysql") if new is not None else None
        out.append(
            RewriteAdvice(
                class_id=cls.id,
                kind=kind,
                table=table,
                original=cls.example,
                rewritten=rewritten,
                reason=reason,
                **extra,  # type: ignore[arg-type]
            )
        )
    return out


def _may_apply(rule: Callable[..., object], tree: exp.Expr, where: list[exp.Expr]) -> bool:
    """A cheap over-approximation of whether `rule` can find anything: the node each rule
    starts from. Rules run on a copy of the tree (they edit it), and at 10,000 classes copying it
    for every rule was more than half of the whole run."""
    if rule is _rule_dates:
        return any(isinstance(n, exp.Func) and not isinstance(n, exp.AggFunc) for n in where)
    if rule is _rule_conversion:
        return any(_number(n) is not None for n in where)
    if rule is _rule_like:
        return any(isinstance(n, exp.Like) for n in where)
    if rule is _rule_or:
        return tree.find(exp.Or) is not None
    if rule is _rule_not_in:
        return tree.find(exp.Not) is not None
    if rule is _rule_rand:
        return tree.find(exp.Rand) is not None
    if rule is _rule_star:
        return bool(tree.meta.get("select_star"))
    if rule is _rule_constant_left:
        return any(type(n) in _CMP and is_const(n.this) for n in where)
    if rule is rollup_rule:
        return tree.find(exp.AggFunc) is not None
    return True


def _dates_as_date_calls(tree: exp.Expr) -> exp.Expr:
    """`CAST(x AS DATE)` (how MySQL and MariaDB print DATE(x) inside view definitions) is
    DATE(x): one shape (TsOrDsToDate) for the rules."""
    for cast in list(tree.find_all(exp.Cast)):
        if cast.to.this == exp.DataType.Type.DATE:
            cast.replace(exp.TsOrDsToDate(this=cast.this))
    return tree


def _prepare(sql: str, schema: Schema) -> exp.Expr | None:
    tree = _prepare_tree(sql, schema)
    return _dates_as_date_calls(tree) if tree is not None else None


def _prepare_tree(sql: str, schema: Schema) -> exp.Expr | None:
    tree = parse_statement(sql)
    if not isinstance(tree, exp.Select | exp.Union | exp.Update | exp.Delete):
        return None
    star = isinstance(tree, exp.Select) and any(isinstance(p, exp.Star) for p in tree.expressions)
    if any(schema.view(t.name) is not None for t in tree.find_all(exp.Table)) and isinstance(
        tree, exp.Select
    ):
        from sqlglot.optimizer.qualify import qualify

        expanded = expand_views(flatten_join_parens(tree), schema)
        try:
            q = qualify(
                expanded,
                schema=mapping_schema(schema),
                dialect="mysql",
                validate_qualify_columns=False,
                identify=False,
                quote_identifiers=False,
            )
        except sqlglot.errors.OptimizeError:
            return expanded
        merged = merge_subqueries(q)
        merged.meta["select_star"] = star
        return merged
    tree.meta["select_star"] = star
    return tree


def _where_nodes(tree: exp.Expr) -> Iterator[exp.Expr]:
    for where in tree.find_all(exp.Where):
        yield from where.find_all(exp.Expr)


# --- rule 1: functions on date columns -------------------------------------------------------------


def _date_lit(node: exp.Expr) -> dt.date | None:
    if isinstance(node, exp.Literal) and node.is_string:
        try:
            return dt.date.fromisoformat(node.this.strip())
        except ValueError:
            return None
    return None


def _int_lit(node: exp.Expr) -> int | None:
    if isinstance(node, exp.Literal):
        try:
            return int(node.this)
        except ValueError:
            return None
    return None


def _s(d: dt.date) -> exp.Expr:
    return exp.Literal.string(d.isoformat())


def _next_day(node: exp.Expr) -> exp.Expr | None:
    d = _date_lit(node)
    if d is not None:
        return _s(d + dt.timedelta(days=1))
    if isinstance(node, exp.Placeholder):
        return exp.Add(
            this=node.copy(), expression=exp.Interval(this=exp.Literal.number(1), unit=exp.Var(this="DAY"))
        )
    return None


def _oriented(node: exp.Expr) -> tuple[type[exp.Expr], exp.Expr, exp.Expr] | None:
    """(operator, function side, constant side) with the constant moved to the right."""
    if type(node) not in _CMP or type(node) is exp.NullSafeEQ:
        return None
    left, right = node.this, node.expression
    if is_const(right) and not is_const(left):
        return type(node), left, right
    if is_const(left) and not is_const(right):
        return _FLIP[type(node)], right, left
    return None


def _bounds(op: type[exp.Expr], col: exp.Expr, value: exp.Expr, exact_date: bool) -> exp.Expr | None:
    """`DATE(col) op value` as a predicate on col itself (exact_date: col is a DATE)."""
    nxt = _next_day(value)
    if nxt is None:
        return None
    c = col.copy()
    if op is exp.EQ:
        if exact_date:
            return exp.EQ(this=c, expression=value.copy())
        return exp.and_(exp.GTE(this=c, expression=value.copy()), exp.LT(this=col.copy(), expression=nxt))
    if op is exp.GTE:
        return exp.GTE(this=c, expression=value.copy())
    if op is exp.GT:
        return exp.GTE(this=c, expression=nxt)
    if op is exp.LT:
        return exp.LT(this=c, expression=value.copy())
    if op is exp.LTE:
        return exp.LT(this=c, expression=nxt)
    return None


def _epoch_bounds(op: type[exp.Expr], col: exp.Expr, value: exp.Expr) -> exp.Expr | None:
    nxt = _next_day(value)
    if nxt is None:
        return None

    def ts(v: exp.Expr) -> exp.Expr:
        return exp.Anonymous(this="UNIX_TIMESTAMP", expressions=[v.copy()])

    shapes: dict[type[exp.Expr], list[tuple[type[exp.Expr], exp.Expr]]] = {
        exp.EQ: [(exp.GTE, value), (exp.LT, nxt)],
        exp.GTE: [(exp.GTE, value)],
        exp.GT: [(exp.GTE, nxt)],
        exp.LT: [(exp.LT, value)],
        exp.LTE: [(exp.LT, nxt)],
    }
    pieces = shapes.get(op)
    if pieces is None:
        return None
    return exp.and_(*[k(this=col.copy(), expression=ts(v)) for k, v in pieces])


def _rule_dates(tree: exp.Expr, ctx: Ctx):  # type: ignore[no-untyped-def]
    kinds: set[str] = set()
    cols: list[str] = []
    tables: list[str] = []
    placeholders = False
    for node in list(_where_nodes(tree)):
        if node.parent is None and node is not tree:
            continue
        pairs: list[tuple[type[exp.Expr], exp.Expr]] = []
        if isinstance(node, exp.Between) and is_const(node.args["low"]) and is_const(node.args["high"]):
            func = node.this
            pairs = [(exp.GTE, node.args["low"]), (exp.LTE, node.args["high"])]
        else:
            o = _oriented(node)
            if o is None:
                continue
            op, func, value = o
            pairs = [(op, value)]
        func = strip_parens(func)
        new: exp.Expr | None = None
        if isinstance(func, exp.TsOrDsToDate) and isinstance(func.this, exp.UnixToTime):
            col = func.this.this
            if not isinstance(col, exp.Column):
                continue
            table, column = resolve(col, ctx.schema)
            t = ctx.schema.table(table) if table else None
            if column is not None and not column.is_numeric:
                continue
            day = t.column("date_day") if t is not None else None
            if day is not None and day.base_type == "date":
                dcol = exp.column("date_day", table=col.table or None)
                if isinstance(node, exp.Between):
                    new = exp.Between(this=dcol, low=pairs[0][1].copy(), high=pairs[1][1].copy())
                else:
                    new = exp.and_(
                        *[b for b in (_bounds(op, dcol, v, True) for op, v in pairs) if b is not None]
                    )
                kinds.add("epoch_date")
                cols.append("date_day")
            else:
                parts = [_epoch_bounds(op, col, v) for op, v in pairs]
                if any(p is None for p in parts):
                    continue
                new = exp.and_(*parts)
                kinds.add("epoch_function")
                cols.append(col.name)
            tables.append(table or "")
        elif isinstance(func, exp.TsOrDsToDate) and isinstance(func.this, exp.Column):
            col = func.this
            table, column = resolve(col, ctx.schema)
            if column is None or not column.is_temporal or column.base_type == "time":
                continue
            parts = [_bounds(op, col, v, column.base_type == "date") for op, v in pairs]
            if any(p is None for p in parts):
                continue
            if isinstance(node, exp.Between) and column.base_type == "date":
                new = exp.Between(this=col.copy(), low=pairs[0][1].copy(), high=pairs[1][1].copy())
            else:
                new = exp.and_(*parts)
            kinds.add("date")
            cols.append(col.name)
            tables.append(table or "")
        elif isinstance(func, exp.Year) and not isinstance(node, exp.Between) and pairs[0][0] is not exp.NEQ:
            inner = func.this.this if isinstance(func.this, exp.TsOrDsToDate) else func.this
            if not isinstance(inner, exp.Column):
                continue
            table, column = resolve(inner, ctx.schema)
            if column is None or not column.is_temporal or column.base_type == "time":
                continue
            op, value = pairs[0]
            y = _int_lit(value)
            if y is None or not 1000 <= y < 9999:
                continue
            month = _month_partner(node, inner)
            if month is not None and op is exp.EQ:
                m, mnode = month
                lo = dt.date(y, m, 1)
                hi = dt.date(y + (m == 12), m % 12 + 1, 1)
                mnode.replace(exp.true())
            else:
                lo, hi = dt.date(y, 1, 1), dt.date(y + 1, 1, 1)
            ypieces: dict[type[exp.Expr], list[tuple[type[exp.Expr], dt.date]]] = {
                exp.EQ: [(exp.GTE, lo), (exp.LT, hi)],
                exp.GTE: [(exp.GTE, lo)],
                exp.GT: [(exp.GTE, hi)],
                exp.LT: [(exp.LT, lo)],
                exp.LTE: [(exp.LT, hi)],
            }
            new = exp.and_(*[k(this=inner.copy(), expression=_s(v)) for k, v in ypieces[op]])
            kinds.add("date")
            cols.append(inner.name)
            tables.append(table or "")
        if new is not None:
            placeholders = placeholders or any(isinstance(v, exp.Placeholder) for _, v in pairs)
            node.replace(exp.paren(new) if isinstance(node.parent, exp.Or | exp.Not) else new)
    if not kinds:
        return None
    _drop_true(tree)
    kind = "epoch_date" if kinds == {"epoch_date"} else "date_function"
    uniq = tuple(dict.fromkeys(cols))
    why = [
        f"a function on the column ({', '.join(uniq)}) hides it from every index: the server computes it for "
        "each row; the same condition as a range on the bare column can use an index on it"
    ]
    if "epoch_date" in kinds:
        why.append(
            "DATE(FROM_UNIXTIME(time_since_epoch)) uses the session time zone, date_day the logger's "
            "database.time_zone (computed at insert time): the two are equal only when those time zones are "
            "the same — check @@session.time_zone against the configured database.time_zone"
        )
    if "epoch_function" in kinds:
        why.append(
            "UNIX_TIMESTAMP() reads the date in the same session time zone FROM_UNIXTIME() uses, so the "
            "range is exact (except for a midnight skipped by a DST change)"
        )
    if placeholders:
        why.append("a placeholder is now used twice: the application must bind it twice")
    return kind, tables[0], tree, "; ".join(why), {"needs_index": uniq}


def _month_partner(node: exp.Expr, col: exp.Expr) -> tuple[int, exp.Expr] | None:
    parent = node.parent
    while isinstance(parent, exp.And | exp.Paren):
        parent = parent.parent
    top = node
    while isinstance(top.parent, exp.And | exp.Paren):
        top = top.parent
    for c in conjuncts(top):
        o = _oriented(c)
        if o is None or o[0] is not exp.EQ:
            continue
        f = strip_parens(o[1])
        if isinstance(f, exp.Month):
            inner = f.this.this if isinstance(f.this, exp.TsOrDsToDate) else f.this
            m = _int_lit(o[2])
            if isinstance(inner, exp.Column) and inner == col and m is not None and 1 <= m <= 12:
                return m, c
    return None


def _drop_true(tree: exp.Expr) -> None:
    for t in list(tree.find_all(exp.Boolean)):
        if t.this is True and isinstance(t.parent, exp.And):
            other = t.parent.expression if t.parent.this is t else t.parent.this
            t.parent.replace(other)


# --- rule 2: implicit conversion ---------------------------------------------------------------------


def _number(node: exp.Expr) -> str | None:
    if isinstance(node, exp.Neg) and isinstance(node.this, exp.Literal) and not node.this.is_string:
        inner = _number(node.this)
        return None if inner is None else "-" + inner
    if isinstance(node, exp.Literal) and not node.is_string and node.this.isdigit():
        return str(node.this)
    return None


def _rule_conversion(tree: exp.Expr, ctx: Ctx):  # type: ignore[no-untyped-def]
    cols: list[str] = []
    tables: list[str] = []
    for node in list(_where_nodes(tree)):
        targets: list[exp.Expr] = []
        if isinstance(node, exp.EQ | exp.NullSafeEQ | exp.NEQ):
            col, other = (
                (node.this, node.expression)
                if isinstance(node.this, exp.Column)
                else (node.expression, node.this)
            )
            if isinstance(col, exp.Column) and _number(other) is not None:
                targets = [other]
        elif isinstance(node, exp.In) and isinstance(node.this, exp.Column) and not node.args.get("query"):
            col = node.this
            targets = [e for e in node.expressions if _number(e) is not None]
            if len(targets) != len(node.expressions):
                targets = [] if any(not is_const(e) for e in node.expressions) else targets
        if not targets:
            continue
        table, column = resolve(col, ctx.schema)
        if column is None or not column.is_string:
            continue
        for t in targets:
            t.replace(exp.Literal.string(_number(t) or ""))
        cols.append(column.name)
        tables.append(table or "")
    if not cols:
        return None
    uniq = tuple(dict.fromkeys(cols))
    reason = (
        f"{', '.join(uniq)} is a string column compared with a number: the server converts every row's "
        "string "
        "to a number before comparing, so no index on the column can be used; comparing with the quoted "
        "string lets an index on it be used. Caveat: numerically, strings such as '0403' or '403 ' also "
        "equal "
        "403 and the string comparison does not match them (the results are compared when verified)"
    )
    return "implicit_conversion", tables[0], tree, reason, {"needs_index": uniq}


# --- rule 3: leading wildcard ------------------------------------------------------------------------


def _leading_wildcard(pattern: exp.Expr) -> bool:
    if isinstance(pattern, exp.Literal) and pattern.is_string:
        return pattern.this.startswith(("%", "_"))
    if isinstance(pattern, exp.Concat | exp.DPipe) and pattern.expressions:
        return _leading_wildcard(pattern.expressions[0])
    return False


def _rule_like(tree: exp.Expr, ctx: Ctx):  # type: ignore[no-untyped-def]
    for node in _where_nodes(tree):
        if (
            isinstance(node, exp.Like)
            and isinstance(node.this, exp.Column)
            and _leading_wildcard(node.expression)
        ):
            if isinstance(node.parent, exp.Not):
                continue
            table, _ = resolve(node.this, ctx.schema)
            reason = (
                f"LIKE with a leading wildcard on {node.this.name} ({node.sql(dialect='mysql')}) reads "
                "every row: no "
                "B-tree index can help, and there is no equivalent rewrite. Alternatives: a FULLTEXT index "
                "with "
                "MATCH ... AGAINST when the search is for words; a stored/generated column holding the part "
                "searched (such as the URL host) with an index; or, for a suffix search (LIKE '%x'), an "
                "indexed "
                "generated column REVERSE(col) searched with LIKE REVERSE('x') + '%'"
            )
            return "leading_wildcard", table or "", None, reason, {"equivalent": False}
    return None


# --- rule 4: OR across columns -> UNION ALL ----------------------------------------------------------


def _single_column(pred: exp.Expr) -> exp.Column | None:
    cols = list(pred.find_all(exp.Column))
    if pred.find(exp.Subquery, exp.Select) is not None or not cols:
        return None
    names = {(c.table, c.name.lower()) for c in cols}
    return cols[0] if len(names) == 1 else None


def _excluded(preds: list[exp.Expr], col: exp.Column, nullable: bool) -> exp.Expr:
    """Rows for which none of `preds` (all on `col`) is true: NOT p OR p IS NULL."""
    cond = exp.or_(*[p.copy() for p in preds]) if len(preds) > 1 else preds[0].copy()
    simple = isinstance(cond, exp.EQ) and is_const(cond.expression)
    neg: exp.Expr = (
        exp.NEQ(this=cond.this.copy(), expression=cond.expression.copy())
        if simple
        else exp.Not(this=exp.paren(cond))
    )
    if not nullable:
        return neg
    is_cmp = isinstance(cond, (*_CMP, exp.In, exp.Like, exp.Between)) and not isinstance(cond, exp.NullSafeEQ)
    null_of = col.copy() if is_cmp else exp.paren(cond.copy())
    return exp.paren(exp.or_(neg, exp.Is(this=null_of, expression=exp.Null())))


def _rule_or(tree: exp.Expr, ctx: Ctx):  # type: ignore[no-untyped-def]
    if not isinstance(tree, exp.Select) or tree.args.get("group") or tree.args.get("having"):
        return None
    if tree.args.get("distinct") or tree.find(exp.AggFunc) is not None or tree.args.get("joins"):
        return None
    where = tree.args.get("where")
    if where is None:
        return None
    terms = list(conjuncts(where.this))
    for i, term in enumerate(terms):
        t = strip_parens(term)
        if not isinstance(t, exp.Or):
            continue
        groups: dict[str, list[exp.Expr]] = {}
        anchor: dict[str, exp.Column] = {}
        ok = True
        for d in t.flatten():
            d = strip_parens(d)
            c = _single_column(d)
            if c is None:
                ok = False
                break
            groups.setdefault(c.name.lower(), []).append(d)
            anchor.setdefault(c.name.lower(), c)
        if not ok or len(groups) < 2:
            continue
        rest = [x for j, x in enumerate(terms) if j != i]
        table, _ = resolve(next(iter(anchor.values())), ctx.schema)
        tbl = ctx.schema.table(table) if table else None
        branches: list[exp.Select] = []
        seen: list[str] = []
        order, limit = tree.args.get("order"), tree.args.get("limit")
        for name, preds in groups.items():
            b = tree.copy()
            b.set("order", None)
            b.set("limit", None)
            cond: list[exp.Expr] = [x.copy() for x in rest]
            cond.append(exp.paren(exp.or_(*[p.copy() for p in preds])) if len(preds) > 1 else preds[0].copy())
            for prev in seen:
                col = anchor[prev]
                column = tbl.column(col.name) if tbl is not None else None
                cond.append(_excluded(groups[prev], col, column is None or column.nullable))
            b.set("where", exp.Where(this=exp.and_(*cond)))
            branches.append(b)
            seen.append(name)
        union: exp.Expr = branches[0]
        for b in branches[1:]:
            union = exp.union(union, b, distinct=False)
        note = ""
        if order is not None or limit is not None:
            outs = {p.alias_or_name.lower() for p in tree.expressions}
            star = any(isinstance(p, exp.Star) for p in tree.expressions)
            new_order = []
            for o in order.expressions if order is not None else []:
                if not isinstance(o.this, exp.Column) or not (star or o.this.name.lower() in outs):
                    return None
                oc = o.copy()
                oc.set("this", exp.column(o.this.name))
                new_order.append(oc)
            union = exp.select("*").from_(
                exp.Subquery(this=union, alias=exp.TableAlias(this=exp.to_identifier("u")))
            )
            if new_order:
                union.set("order", exp.Order(expressions=new_order))
            if limit is not None:
                union.set("limit", limit.copy())
            note = (
                "; the branches are wrapped in SELECT * FROM (... UNION ALL ...) AS u so that ORDER BY/LIMIT "
                "apply to the whole result, as before"
            )
        cols = tuple(a.name for a in anchor.values())
        reason = (
            f"OR across different columns ({', '.join(cols)}) lets one index serve only one side; as UNION "
            "ALL each "
            "branch can use an index on its own column. Later branches exclude the rows of earlier ones "
            "(NOT p OR p IS NULL), so the result is exactly the same — plain UNION would also collapse "
            "genuine "
            "duplicate rows. MySQL/MariaDB may already use an index_merge union for the OR: keep this only "
            "if "
            "measured faster" + note
        )
        return "or_to_union", table or "", union, reason, {"needs_index": cols}
    return None


# --- rule 5: NOT IN (subquery) -> NOT EXISTS ---------------------------------------------------------


def _not_null_in(where: exp.Expr | None, col: exp.Column) -> bool:
    if where is None:
        return False
    for c in conjuncts(where.this if isinstance(where, exp.Where) else where):
        if (
            isinstance(c, exp.Not)
            and isinstance(c.this, exp.Is)
            and isinstance(c.this.expression, exp.Null)
            and isinstance(c.this.this, exp.Column)
            and c.this.this.name.lower() == col.name.lower()
        ):
            return True
    return False


def _rule_not_in(tree: exp.Expr, ctx: Ctx):  # type: ignore[no-untyped-def]
    for node in list(tree.find_all(exp.Not)):
        inn = node.this
        if not isinstance(inn, exp.In) or not isinstance(inn.args.get("query"), exp.Subquery):
            continue
        outer = inn.this
        sub = inn.args["query"].this
        if not isinstance(outer, exp.Column) or not isinstance(sub, exp.Select) or len(sub.expressions) != 1:
            continue
        if any(sub.args.get(k) for k in ("group", "having", "limit", "distinct", "joins")):
            continue
        inner = strip_parens(sub.expressions[0])
        inner = inner.this if isinstance(inner, exp.Alias) else inner
        from_ = sub.args.get("from_")
        if not isinstance(inner, exp.Column) or from_ is None or not isinstance(from_.this, exp.Table):
            continue
        otable, ocol = resolve(outer, ctx.schema)
        itable = from_.this.name
        icol = ctx.schema.table(itable).column(inner.name) if ctx.schema.table(itable) else None  # type: ignore[union-attr]
        outer_sel = node.find_ancestor(exp.Select)
        outer_alias = None
        if outer_sel is not None and outer_sel.args.get("from_") is not None:
            outer_alias = outer_sel.args["from_"].this.alias_or_name
        elif isinstance(tree, exp.Update | exp.Delete):
            outer_alias = tree.this.alias_or_name if isinstance(tree.this, exp.Table) else None
        oq = outer.copy()
        if not oq.table and outer_alias:
            oq.set("table", exp.to_identifier(outer_alias))
        ialias = from_.this.alias_or_name
        if outer_alias and ialias.lower() == outer_alias.lower():
            ialias = ialias + "_2"
            from_.this.set("alias", exp.TableAlias(this=exp.to_identifier(ialias)))
            for c in sub.find_all(exp.Column):
                if not c.table or c.table.lower() == from_.this.name.lower():
                    c.set("table", exp.to_identifier(ialias))
        iq = inner.copy()
        iq.set("table", exp.to_identifier(ialias))
        body = sub.copy()
        body.set("expressions", [exp.Literal.number(1)])
        body = body.where(exp.EQ(this=iq, expression=oq))
        node.replace(exp.Not(this=exp.Exists(this=body)))
        onn = ocol is not None and (
            not ocol.nullable or _not_null_in(outer_sel and outer_sel.args.get("where"), outer)
        )
        inn_nn = icol is not None and (not icol.nullable or _not_null_in(sub.args.get("where"), inner))
        equivalent = bool(onn and inn_nn)
        base = (
            f"{outer.name} NOT IN (SELECT {inner.name} ...) becomes NOT EXISTS with a correlated lookup, "
            "which "
            f"an index on {itable}({inner.name}) serves as an anti-join"
        )
        if equivalent:
            reason = base + f"; equivalent because neither {outer.name} nor {inner.name} can be NULL"
        else:
            which = [
                n
                for n, nn in ((f"{otable or '?'}.{outer.name}", onn), (f"{itable}.{inner.name}", inn_nn))
                if not nn
            ]
            reason = base + (
                f"; NOT equivalent as it stands: {', '.join(which)} can be NULL (or is not in the schema). "
                "NOT IN "
                "returns no rows at all when the subquery yields a NULL, and never returns a row whose own "
                "value "
                "is NULL; NOT EXISTS returns those rows. Add IS NOT NULL conditions (or make the columns "
                "NOT NULL) "
                "if that is what the query means"
            )
        return (
            "not_in_to_not_exists",
            otable or "",
            tree,
            reason,
            {"needs_index": (inner.name,), "equivalent": equivalent},
        )
    return None


# --- rule 6: ORDER BY RAND() -------------------------------------------------------------------------


def _rule_rand(tree: exp.Expr, ctx: Ctx):  # type: ignore[no-untyped-def]
    if not isinstance(tree, exp.Select) or tree.args.get("joins") or tree.args.get("group"):
        return None
    order, limit = tree.args.get("order"), tree.args.get("limit")
    if (
        order is None
        or limit is None
        or len(order.expressions) != 1
        or not isinstance(order.expressions[0].this, exp.Rand)
    ):
        return None
    from_ = tree.args.get("from_")
    if from_ is None or not isinstance(from_.this, exp.Table):
        return None
    table = ctx.schema.table(from_.this.name)
    if table is None or len(table.primary_key) != 1:
        return None
    pk = table.column(table.primary_key[0])
    if pk is None or pk.base_type not in ("tinyint", "smallint", "mediumint", "int", "bigint"):
        return None
    alias = from_.this.alias_or_name
    pick = exp.select(f"FLOOR(RAND() * MAX({pk.name})) AS rand_id").from_(table.name)
    tree.set(
        "expressions",
        [exp.column(exp.Star(), table=alias) if isinstance(p, exp.Star) else p for p in tree.expressions],
    )
    tree = tree.join(
        exp.Subquery(this=pick, alias=exp.TableAlias(this=exp.to_identifier("r"))), join_type="CROSS"
    )
    tree = tree.where(
        exp.GTE(this=exp.column(pk.name, table=alias), expression=exp.column("rand_id", table="r"))
    )
    tree.set(
        "order", exp.Order(expressions=[exp.Ordered(this=exp.column(pk.name, table=alias), nulls_first=True)])
    )
    reason = (
        f"ORDER BY RAND() LIMIT n sorts every row of {table.name} to keep n; starting at a random "
        f"{pk.name} and "
        f"reading n rows in {pk.name} order reads only n rows. NOT equivalent: the rows are consecutive, not "
        f"independent picks, and not uniform when {pk.name} has gaps (rows after a gap are picked more "
        "often); "
        "with other conditions fewer than n rows can come back. The random start is a derived table so it is "
        "computed once (a RAND() subquery in WHERE may be evaluated per row)"
    )
    return "order_by_rand", table.name, tree, reason, {"needs_index": (pk.name,), "equivalent": False}


# --- rule 7: SELECT * --------------------------------------------------------------------------------


def _rule_star(tree: exp.Expr, ctx: Ctx):  # type: ignore[no-untyped-def]
    if not isinstance(tree, exp.Select) or not tree.meta.get("select_star") or tree.args.get("joins"):
        return None
    where = tree.args.get("where")
    from_ = tree.args.get("from_")
    if where is None or from_ is None or not isinstance(from_.this, exp.Table):
        return None
    cols: list[str] = []
    for c in conjuncts(where.this):
        c = strip_parens(c)
        if isinstance(c, (*_CMP, exp.In, exp.Between, exp.Is, exp.Like)):
            col = (
                c.this if isinstance(c.this, exp.Column) else (c.expression if isinstance(c, _CMP) else None)
            )
            if isinstance(col, exp.Column):
                cols.append(col.name)
    uniq = tuple(dict.fromkeys(cols))
    if not uniq or len(uniq) > 3:
        return None
    table, _ = resolve(exp.column(uniq[0], table=from_.this.alias_or_name), ctx.schema)
    reason = (
        f"SELECT * reads every column of {table or from_.this.name}, so each matching row is read from the "
        "table "
        f"even when an index finds it by {', '.join(uniq)}. List only the columns the page uses: an index on "
        f"({', '.join(uniq)} + those columns) can then cover the query without reading rows. Which columns "
        "the "
        "application needs only its code can tell, so nothing is rewritten"
    )
    return (
        "select_star",
        table or from_.this.name,
        None,
        reason,
        {"claims_speedup": False, "needs_index": uniq},
    )


# --- rule 8: constant on the left --------------------------------------------------------------------


def _rule_constant_left(tree: exp.Expr, ctx: Ctx):  # type: ignore[no-untyped-def]
    found: list[str] = []
    table = ""
    for node in list(_where_nodes(tree)):
        if type(node) in _CMP and is_const(node.this) and isinstance(node.expression, exp.Column):
            col = node.expression
            table = table or (resolve(col, ctx.schema)[0] or "")
            node.replace(_FLIP[type(node)](this=col.copy(), expression=node.this.copy()))
            found.append(col.name)
    if not found:
        return None
    reason = (
        f"the constant is on the left of the comparison with {', '.join(dict.fromkeys(found))}; the "
        "optimizer "
        "normalises this itself, so it changes nothing for speed — the column-first form is stated for "
        "readability only"
    )
    return "constant_on_left", table, tree, reason, {"claims_speedup": False}
