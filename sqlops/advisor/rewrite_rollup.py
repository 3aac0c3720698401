"""The rollup rule: an aggregate over the log table that the daily rollup answers exactly.

The rollup (sqlops/rollup/daily.py) holds one row per (date_day, COALESCE(http_username, ''),
COALESCE(ip_client, '')) with requests = COUNT(*), bytes = COALESCE(SUM(http_reply_size), 0),
response_ms = COALESCE(SUM(time_response), 0) and denied = rows whose squid_request_status
contains DENIED (INSTR, case-insensitive like LIKE). Only mappings that are exact are made.
"""

from __future__ import annotations

from sqlglot import exp

from sqlops.advisor.rewrite_util import Ctx, conjuncts, is_const, strip_parens

_DIMS = ("date_day", "http_username", "ip_client")


def _is_epoch_day(node: exp.Expr) -> bool:
    node = strip_parens(node)
    return (
        isinstance(node, exp.TsOrDsToDate)
        and isinstance(node.this, exp.UnixToTime)
        and isinstance(node.this.this, exp.Column)
        and node.this.this.name.lower() == "time_since_epoch"
    )


def _dim(node: exp.Expr, flags: set[str]) -> str | None:
    node = strip_parens(node)
    if isinstance(node, exp.Column) and node.name.lower() in _DIMS:
        return node.name.lower()
    if _is_epoch_day(node):
        flags.add("tz")
        return "date_day"
    return None


def _map_agg(node: exp.Expr, grouped: bool, flags: set[str], denied: bool) -> exp.Expr | None:
    def s(col: str) -> exp.Expr:
        return exp.Sum(this=exp.column(col))

    if isinstance(node, exp.Count):
        arg = node.this
        # COUNT(*) and COUNT(<non-NULL constant>) — views print COUNT(*) as count(0).
        if isinstance(arg, exp.Star) or (isinstance(arg, exp.Literal) and not arg.is_string):
            got = s("denied" if denied else "requests")
            return got if grouped else exp.func("COALESCE", got, exp.Literal.number(0))
        if isinstance(arg, exp.Distinct) and len(arg.expressions) == 1:
            d = _dim(arg.expressions[0], flags)
            if d is None:
                return None
            if d == "date_day":
                return exp.Count(this=exp.Distinct(expressions=[exp.column("date_day")]))
            flags.add("empty")
            return exp.Count(
                this=exp.Distinct(expressions=[exp.func("NULLIF", exp.column(d), exp.Literal.string(""))])
            )
        return None
    if denied:
        return None
    if isinstance(node, exp.Sum) and isinstance(node.this, exp.Column):
        target = {"http_reply_size": "bytes", "time_response": "response_ms"}.get(node.this.name.lower())
        if target is None:
            return None
        flags.add("sum")
        return s(target)
    if (
        isinstance(node, exp.Avg)
        and isinstance(node.this, exp.Column)
        and node.this.name.lower() == "time_response"
    ):
        flags.add("avg")
        return exp.Div(this=s("response_ms"), expression=s("requests"))
    if isinstance(node, exp.Min | exp.Max):
        d = _dim(node.this, flags)
        if d == "date_day":
            return type(node)(this=exp.column("date_day"))
    return None


def _filter(c: exp.Expr, flags: set[str]) -> exp.Expr | bool | None:
    """The rollup's form of one WHERE conjunct; True for the denied counter; None if not answerable."""
    c = strip_parens(c)
    flip: dict[type[exp.Expr], type[exp.Expr]] = {
        exp.GT: exp.LT,
        exp.GTE: exp.LTE,
        exp.LT: exp.GT,
        exp.LTE: exp.GTE,
        exp.EQ: exp.EQ,
    }
    if type(c) in flip and is_const(c.this) and not is_const(c.expression):
        c = flip[type(c)](this=c.expression.copy(), expression=c.this.copy())
    if (
        isinstance(c, exp.Like)
        and isinstance(c.this, exp.Column)
        and c.this.name.lower() == "squid_request_status"
    ):
        if isinstance(c.expression, exp.Literal) and c.expression.this.upper() == "%DENIED%":
            return True
        return None
    if isinstance(c, exp.Is) and isinstance(c.expression, exp.Null):
        d = _dim(c.this, flags)
        if d in ("http_username", "ip_client"):
            flags.add("null")
            return exp.EQ(this=exp.column(d), expression=exp.Literal.string(""))
        return None
    if isinstance(c, exp.Not) and isinstance(c.this, exp.Is) and isinstance(c.this.expression, exp.Null):
        d = _dim(c.this.this, flags)
        if d in ("http_username", "ip_client"):
            flags.add("null")
            return exp.NEQ(this=exp.column(d), expression=exp.Literal.string(""))
        return None
    if isinstance(c, exp.EQ | exp.In | exp.GT | exp.GTE | exp.LT | exp.LTE | exp.Between):
        d = _dim(c.this, flags)
        values = [v for k, v in c.args.items() if k != "this" and isinstance(v, exp.Expr)]
        values += list(c.expressions) if isinstance(c, exp.In) else []
        if d is None or c.args.get("query") is not None or not all(is_const(v) for v in values):
            return None
        if d != "date_day" and not isinstance(c, exp.EQ | exp.In):
            return None
        if d != "date_day" and any(isinstance(v, exp.Literal) and v.this == "" for v in values):
            return None
        new = c.copy()
        new.set("this", exp.column(d))
        return new
    return None


def _rollup_select(tree: exp.Expr, ctx: Ctx):  # type: ignore[no-untyped-def]
    if not isinstance(tree, exp.Select) or tree.args.get("joins") or tree.args.get("with_"):
        return None
    from_ = tree.args.get("from_")
    if (
        from_ is None
        or not isinstance(from_.this, exp.Table)
        or from_.this.name.lower() != ctx.log_table.lower()
    ):
        return None
    if tree.find(exp.Subquery, exp.Exists) is not None or tree.args.get("distinct"):
        return None
    log = ctx.schema.table(ctx.log_table)
    flags: set[str] = set()
    group = tree.args.get("group")
    groups = []
    for g in group.expressions if group is not None else []:
        d = _dim(g, flags)
        if d is None:
            return None
        groups.append(d)
    where = tree.args.get("where")
    filters: list[exp.Expr] = []
    denied = False
    for c in conjuncts(where.this) if where is not None else []:
        f = _filter(c, flags)
        if f is None:
            return None
        if f is True:
            denied = True
        else:
            filters.append(f)  # type: ignore[arg-type]
    grouped = group is not None
    has_agg = False
    mapped: dict[int, exp.Expr] = {}
    for agg in list(tree.find_all(exp.AggFunc)):
        m = _map_agg(agg, grouped, flags, denied)
        if m is None:
            return None
        mapped[id(agg)] = m
        has_agg = True
    if not has_agg:
        return None
    new = tree.copy()
    for agg, orig in zip(list(new.find_all(exp.AggFunc)), list(tree.find_all(exp.AggFunc)), strict=True):
        agg.replace(mapped[id(orig)].copy())
    projections = []
    for p, orig in zip(new.expressions, tree.expressions, strict=True):
        name = orig.alias if isinstance(orig, exp.Alias) else None
        body = p.this if isinstance(p, exp.Alias) else p
        if body.find(exp.AggFunc) is None and not isinstance(body, exp.Literal):
            d = _dim(body, flags)
            if d is None:
                return None
            nullable = log is not None and (log.column(d) is None or log.column(d).nullable)  # type: ignore[union-attr]
            body = (
                exp.func("NULLIF", exp.column(d), exp.Literal.string(""))
                if d != "date_day" and nullable
                else exp.column(d)
            )
            if d != "date_day" and nullable:
                flags.add("empty")
        if name is None and not (
            isinstance(body, exp.Column) and isinstance(orig, exp.Column) and body.name == orig.name
        ):
            name = orig.sql(dialect="mysql") if not isinstance(orig, exp.Column) else orig.name
        projections.append(exp.alias_(body, name) if name else body)
    new.set("expressions", projections)
    new.set("from_", exp.From(this=exp.to_table(ctx.rollup_table)))
    new.set("where", exp.Where(this=exp.and_(*filters)) if filters else None)
    if group is not None:
        new.set("group", exp.Group(expressions=[exp.column(d) for d in groups]))
    for o in new.find_all(exp.Ordered):
        d = _dim(o.this, flags)
        if d is not None:
            o.set("this", exp.column(d))
    for c in new.find_all(exp.Column):
        c.set("table", None)
    why = [
        f"{ctx.rollup_table} answers this aggregate: rows read drop from every {ctx.log_table} row of the "
        "period "
        "to one row per user, client and day",
        "the rollup must be refreshed (`sqlops rollup refresh`, hourly under `sqlops serve`): today's "
        "rows lag by "
        "up to an hour, and the rollup keeps days whose "
        f"{ctx.log_table} rows were already archived or dropped",
    ]
    if denied:
        why.append(
            "squid_request_status LIKE '%DENIED%' is exactly the rollup's denied counter (INSTR(..., "
            "'DENIED') > 0)"
        )
    if "tz" in flags:
        why.append(
            "DATE(FROM_UNIXTIME(time_since_epoch)) is read as date_day: FROM_UNIXTIME uses the session "
            "time zone, "
            "date_day the logger's database.time_zone; equal only when they are the same"
        )
    if "null" in flags or "empty" in flags:
        why.append(
            "the rollup stores a NULL user or client as '' (COALESCE(..., '')): IS NULL becomes = '', and "
            "NULLIF(..., '') turns it back — exact as long as the log holds no genuinely empty names"
        )
    if "sum" in flags:
        why.append("a group whose summed values are all NULL gives 0 instead of NULL")
    tr = log.column("time_response") if log is not None else None
    avg_nullable = "avg" in flags and (tr is None or tr.nullable)
    if "avg" in flags:
        why.append(
            "AVG(time_response) becomes SUM(response_ms) / SUM(requests), which counts rows with a NULL "
            "time_response in the divisor"
            + (": not equivalent where time_response can be NULL" if avg_nullable else "")
        )
    return "rollup", ctx.log_table, new, "; ".join(why), {"equivalent": not avg_nullable, "needs_index": ()}


def rollup_rule(tree: exp.Expr, ctx: Ctx):  # type: ignore[no-untyped-def]
    """The statement itself, or — for a report over an aggregating view such as
    v_daily_traffic, which stays a derived table after view expansion — the view's SELECT,
    replaced in place so the outer query (filters, ORDER BY) is kept as written."""
    got = _rollup_select(tree, ctx)
    if got is not None or not isinstance(tree, exp.Select):
        return got
    for sub in tree.find_all(exp.Subquery):
        inner = sub.this
        if not isinstance(inner, exp.Select):
            continue
        found = _rollup_select(inner.copy(), ctx)
        if found is None or found[2] is None:
            continue
        kind, table, new_inner, reason, extra = found
        sub.set("this", new_inner)
        return kind, table, tree, reason + "; the view's own SELECT is the part rewritten", extra
    return None
