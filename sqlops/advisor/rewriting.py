"""Query rewrites: each with the rewritten SQL (or none, when there is no equivalent one) and
an honest reason — what changes, when it is not equivalent, what it needs to be faster.

Rules work on the sqlglot tree of the class's example. The column types come from the schema
model (a string column compared with a number, a DATE vs a DATETIME column, nullability for
NOT IN); views are expanded (analyze.prepare) when the statement reads one, so a predicate on
a view column is rewritten on the base column it stands for.

sqlglot reads MySQL's `DATE(x)` as TsOrDsToDate, `YEAR(x)` as Year(TsOrDsToDate(x)) and
`FROM_UNIXTIME(x)` as UnixToTime; views print `cast(x as date)`: all four shapes are handled.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator

import sqlglot
from sqlglot import exp

from sqlops.advisor.analyze import parse_statement, prepare
from sqlops.advisor.model import RewriteAdvice, RewriteKind, WorkloadClass
from sqlops.schema.model import Column, Schema, Table

_RANGE = (exp.GT, exp.GTE, exp.LT, exp.LTE)
_FLIP: dict[type, type] = {exp.GT: exp.LT, exp.GTE: exp.LTE, exp.LT: exp.GT, exp.LTE: exp.GTE, exp.EQ: exp.EQ}
TZ_CAVEAT = (
    "FROM_UNIXTIME() uses the session's time zone and date_day the logger's database.time_zone: "
    "the two agree when they are the same zone (sqlops pins both to database.time_zone)"
)


class _Resolver:
    """Column -> (table model, column model) for one statement, by alias or unique name."""

    def __init__(self, tree: exp.Expr, schema: Schema) -> None:
        self.schema = schema
        self.by_alias: dict[str, Table] = {}
        for t in tree.find_all(exp.Table):
            table = schema.table(t.name)
            if table is not None:
                self.by_alias[t.alias_or_name] = table
                self.by_alias.setdefault(t.name, table)

    def resolve(self, col: exp.Column) -> tuple[Table, Column] | None:
        if col.table:
            table = self.by_alias.get(col.table)
            found = table.column(col.name) if table else None
            return (table, found) if table and found else None
        tables = {t.name: t for t in self.by_alias.values()}  # Table holds dicts: not hashable
        hits = [(t, c) for t in tables.values() if (c := t.column(col.name)) is not None]
        return hits[0] if len(hits) == 1 else None


def rewrite_advice(
    cls: WorkloadClass,
    schema: Schema,
    *,
    rollup_table: str = "access_log_daily",
    log_table: str = "access_log",
) -> list[RewriteAdvice]:
    try:
        tree = parse_statement(cls.example)
    except (sqlglot.errors.SqlglotError, RecursionError, ValueError):
        return []
    if not isinstance(tree, exp.Select | exp.Union):
        return []  # DML rewrites would change what the statement writes: advice on SELECTs only
    reads_view = any(schema.view(t.name) is not None for t in tree.find_all(exp.Table))
    if reads_view:
        try:
            _, merged, _ = prepare(cls.example, schema)
        except (sqlglot.errors.SqlglotError, RecursionError, ValueError, KeyError, AttributeError, TypeError):
            return []
        if merged is None:
            return []
        tree = merged
    out: list[RewriteAdvice] = []
    for rule in RULES:
        try:
            out.extend(rule(cls, tree, schema, rollup_table, log_table))
        except (sqlglot.errors.SqlglotError, RecursionError, ValueError, KeyError, AttributeError, TypeError):
            continue  # one rule failing on an odd statement must not cost the others
    return out


Rule = Callable[[WorkloadClass, exp.Expr, Schema, str, str], Iterator[RewriteAdvice]]


def _advice(
    cls: WorkloadClass,
    kind: RewriteKind,
    table: str,
    rewritten: exp.Expr | None,
    reason: str,
    needs: tuple[str, ...] = (),
    *,
    equivalent: bool = True,
    speedup: bool = True,
) -> RewriteAdvice:
    return RewriteAdvice(
        class_id=cls.id,
        kind=kind,
        table=table,
        original=cls.example,
        rewritten=rewritten.sql("mysql") if rewritten is not None else None,
        reason=reason,
        needs_index=needs,
        equivalent=equivalent,
        claims_speedup=speedup,
    )


def _constant(node: exp.Expr) -> bool:
    return not any(True for _ in node.find_all(exp.Column)) and not node.find(exp.Select)


def _next_day(value: exp.Expr) -> exp.Expr | None:
    """'2026-10-03' -> '2026-10-04'; a placeholder -> `? + INTERVAL 1 DAY`."""
    if isinstance(value, exp.Literal) and value.is_string:
        try:
            day = dt.date.fromisoformat(value.name[:10])
        except ValueError:
            return None
        return exp.Literal.string((day + dt.timedelta(days=1)).isoformat())
    if isinstance(value, exp.Placeholder):
        return exp.Add(
            this=value.copy(), expression=exp.Interval(this=exp.Literal.number(1), unit=exp.var("DAY"))
        )
    return None


def _date_arg(node: exp.Expr) -> exp.Expr | None:
    """The argument of DATE(x) / CAST(x AS DATE), else None."""
    if isinstance(node, exp.TsOrDsToDate):
        return node.this
    if isinstance(node, exp.Cast) and node.to.this == exp.DataType.Type.DATE:
        return node.this
    return None


def _comparisons(tree: exp.Expr) -> Iterator[exp.Expr]:
    for select in tree.find_all(exp.Select):
        where = select.args.get("where")
        if where is None:
            continue
        yield from where.find_all(exp.EQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.Between)


def _sargable(col: exp.Column, op: type, value: exp.Expr, end: exp.Expr | None) -> exp.Expr | None:
    """`DATE(col) op value` as a range on col itself (end = the day after value)."""
    c = col.copy()
    if op is exp.EQ and end is not None:
        return exp.and_(exp.GTE(this=c, expression=value.copy()), exp.LT(this=col.copy(), expression=end))
    if op is exp.GTE:
        return exp.GTE(this=c, expression=value.copy())
    if op is exp.LT:
        return exp.LT(this=c, expression=value.copy())
    if op is exp.GT and end is not None:
        return exp.GTE(this=c, expression=end)
    if op is exp.LTE and end is not None:
        return exp.LT(this=c, expression=end)
    return None


def rule_date_functions(
    cls: WorkloadClass, tree: exp.Expr, schema: Schema, _rollup: str, _log: str
) -> Iterator[RewriteAdvice]:
    """DATE(col) = d, YEAR(col) = y and DATE(FROM_UNIXTIME(epoch)) = d -> ranges on columns."""
    resolver = _Resolver(tree, schema)
    for cmp in list(_comparisons(tree)):
        if isinstance(cmp, exp.Between):
            side, low, high = cmp.this, cmp.args["low"], cmp.args["high"]
            if not (_constant(low) and _constant(high)):
                continue
            op: type = exp.Between
            value: exp.Expr = low
        else:
            side, value = cmp.this, cmp.expression
            op = type(cmp)
            if _constant(side) and not _constant(value):
                side, value, op = value, side, _FLIP[op]
            if not _constant(value):
                continue
        year = isinstance(side, exp.Year)
        inner = _date_arg(side.this) if year else _date_arg(side)
        if inner is None:
            continue
        epoch = isinstance(inner, exp.UnixToTime)
        target = inner.this if epoch else inner
        if not isinstance(target, exp.Column):
            continue
        found = resolver.resolve(target)
        if found is None:
            continue
        table, column = found
        replacement: exp.Expr | None
        kind: RewriteKind = "date_function"
        needs = (column.name,)
        if year:
            if op is not exp.EQ or not (isinstance(value, exp.Literal) and not value.is_string):
                continue
            y = int(value.name)
            replacement = exp.and_(
                exp.GTE(this=target.copy(), expression=exp.Literal.string(f"{y}-01-01")),
                exp.LT(this=target.copy(), expression=exp.Literal.string(f"{y + 1}-01-01")),
            )
            why = f"YEAR({column.name}) hides the column from its index; a range on {column.name} uses it"
        elif epoch and table.column("date_day") is not None and table.column("date_day").is_temporal:  # type: ignore[union-attr]
            day = exp.column("date_day", table=target.table or None)
            replacement = (
                exp.Between(this=day, low=low.copy(), high=high.copy())
                if op is exp.Between
                else op(this=day, expression=value.copy())
            )
            kind, needs = "epoch_date", ("date_day",)
            why = (
                f"DATE(FROM_UNIXTIME({column.name})) is computed for every row; the Squid table stores the "
                "day "
                "in date_day (indexed and the partitioning column), so `date_day` answers the same "
                "question. " + TZ_CAVEAT
            )
        elif epoch:
            if op is exp.Between:
                end = _next_day(high)
                if end is None:
                    continue
                replacement = exp.and_(
                    exp.GTE(this=target.copy(), expression=exp.func("UNIX_TIMESTAMP", low.copy())),
                    exp.LT(this=target.copy(), expression=exp.func("UNIX_TIMESTAMP", end)),
                )
            else:
                end = _next_day(value)
                stamp = exp.func("UNIX_TIMESTAMP", value.copy())
                replacement = _sargable(target, op, stamp, exp.func("UNIX_TIMESTAMP", end) if end else None)
            why = (
                f"DATE(FROM_UNIXTIME({column.name})) is computed for every row; comparing {column.name} with "
                "UNIX_TIMESTAMP() of the day's bounds lets an index on it work (the bounds use the session "
                "time zone, "
                "as FROM_UNIXTIME does)"
            )
        else:
            if column.base_type == "date":
                replacement = (
                    exp.Between(this=target.copy(), low=low.copy(), high=high.copy())
                    if op is exp.Between
                    else op(this=target.copy(), expression=value.copy())
                )
            elif op is exp.Between:
                end = _next_day(high)
                replacement = (
                    exp.and_(
                        exp.GTE(this=target.copy(), expression=low.copy()),
                        exp.LT(this=target.copy(), expression=end),
                    )
                    if end is not None
                    else None
                )
            else:
                replacement = _sargable(target, op, value, _next_day(value))
            why = (
                f"DATE({column.name}) is computed for every row, so no index on {column.name} can be used; "
                f"the same days as a range on {column.name} can"
            )
        if replacement is None:
            continue
        rewritten = tree.copy()
        for node in rewritten.find_all(type(cmp)):
            if node == cmp:
                node.replace(exp.paren(replacement) if isinstance(node.parent, exp.Or) else replacement)
                break
        yield _advice(cls, kind, table.name, rewritten, why, needs)


def rule_implicit_conversion(
    cls: WorkloadClass, tree: exp.Expr, schema: Schema, _rollup: str, _log: str
) -> Iterator[RewriteAdvice]:
    """A string column compared with a number: every row's string is converted, no index."""
    resolver = _Resolver(tree, schema)
    rewritten = tree.copy()
    changed: list[tuple[Table, Column]] = []
    for node in list(rewritten.find_all(exp.EQ, exp.In)):
        if not isinstance(node.parent, exp.Where | exp.And | exp.Or | exp.Paren | exp.Not):
            continue
        col = node.this
        if not isinstance(col, exp.Column):
            continue
        found = resolver.resolve(col)
        if found is None or not found[1].is_string:
            continue
        values = node.expressions if isinstance(node, exp.In) else [node.expression]
        numbers = [v for v in values if isinstance(v, exp.Literal) and not v.is_string]
        if not numbers or len(numbers) != len(values):
            continue
        for v in numbers:
            v.replace(exp.Literal.string(v.name))
        changed.append(found)
    if changed:
        table, column = changed[0]
        yield _advice(
            cls,
            "implicit_conversion",
            table.name,
            rewritten,
            f"{column.name} is a {column.type} compared with a number: the server converts every row's value "
            "to a number, so no index on it can be used. Quoted, the comparison is on strings and can use an "
            "index. Not equivalent for values like '0403' or '403 ' (equal as numbers, not as strings).",
            (column.name,),
        )


def rule_leading_wildcard(
    cls: WorkloadClass, tree: exp.Expr, schema: Schema, _rollup: str, _log: str
) -> Iterator[RewriteAdvice]:
    resolver = _Resolver(tree, schema)
    for like in tree.find_all(exp.Like):
        if isinstance(like.parent, exp.Not) or like.args.get("negate"):
            continue  # NOT LIKE never uses an index, whatever the pattern
        pattern = like.expression
        if not (isinstance(pattern, exp.Literal) and pattern.is_string and pattern.name[:1] in ("%", "_")):
            continue
        found = resolver.resolve(like.this) if isinstance(like.this, exp.Column) else None
        if found is None:
            continue
        table, column = found
        yield _advice(
            cls,
            "leading_wildcard",
            table.name,
            None,
            f"LIKE '{pattern.name}' starts with a wildcard: no B-tree index on {column.name} can help, "
            "every row is "
            "read. Alternatives: a FULLTEXT index with MATCH ... AGAINST for whole words; a stored generated "
            "column (e.g. the URL's host) with its own index; for suffix searches, an indexed generated "
            "column "
            "holding REVERSE() of the value.",
            equivalent=False,
        )


def _top_conjuncts(where: exp.Expr) -> list[exp.Expr]:
    if isinstance(where, exp.And):
        return _top_conjuncts(where.this) + _top_conjuncts(where.expression)
    return [where]


def _disjuncts(node: exp.Expr) -> list[exp.Expr]:
    node = node.this if isinstance(node, exp.Paren) else node
    if isinstance(node, exp.Or):
        return _disjuncts(node.this) + _disjuncts(node.expression)
    return [node]


def rule_or_to_union(
    cls: WorkloadClass, tree: exp.Expr, schema: Schema, _rollup: str, _log: str
) -> Iterator[RewriteAdvice]:
    """`a = 1 OR b = 2` -> UNION ALL of the branches, each later branch excluding the earlier."""
    if not isinstance(tree, exp.Select) or tree.args.get("group") or tree.args.get("distinct"):
        return
    if any(isinstance(e.unalias(), exp.AggFunc) for e in tree.expressions):
        return
    where = tree.args.get("where")
    if where is None:
        return
    terms = _top_conjuncts(where.this)
    for i, term in enumerate(terms):
        branches = _disjuncts(term)
        if len(branches) < 2:
            continue
        columns = [{c.name.lower() for c in b.find_all(exp.Column)} for b in branches]
        if (
            len(set().union(*columns)) < 2
            or any(len(c) != 1 for c in columns)
            or len({min(c) for c in columns}) < 2
        ):
            continue
        others = terms[:i] + terms[i + 1 :]
        parts: list[exp.Select] = []
        for k, branch in enumerate(branches):
            conds = [t.copy() for t in others] + [branch.copy()]
            conds += [exp.not_(exp.func("COALESCE", exp.paren(b.copy()), exp.false())) for b in branches[:k]]
            part = tree.copy()
            part.set("order", None)
            part.set("limit", None)
            part.set("where", exp.Where(this=exp.and_(*conds)))
            parts.append(part)
        union: exp.Expr = parts[0]
        for part in parts[1:]:
            union = exp.union(union, part, distinct=False)
        order, limit = tree.args.get("order"), tree.args.get("limit")
        if order is not None or limit is not None:
            names = {e.alias_or_name.lower() for e in tree.expressions}
            wanted = {c.name.lower() for c in (order.find_all(exp.Column) if order is not None else ())}
            if not any(isinstance(e, exp.Star) for e in tree.expressions) and not wanted <= names:
                continue  # the outer ORDER BY would name a column the branches do not return
            outer = exp.select("*").from_(
                exp.Subquery(this=union, alias=exp.TableAlias(this=exp.to_identifier("u")))
            )
            if order is not None:
                o = order.copy()
                for c in o.find_all(exp.Column):
                    c.set("table", None)
                outer.set("order", o)
            if limit is not None:
                outer.set("limit", limit.copy())
            union = outer
        table = _first_table(tree, schema)
        cols = tuple(sorted({min(c) for c in columns}))
        yield _advice(
            cls,
            "or_to_union",
            table,
            union,
            f"OR across {', '.join(cols)}: one index cannot serve both sides, so the server often scans "
            "(MySQL and MariaDB may use an index_merge union instead; the rewrite is kept only if measured "
            "faster). UNION ALL of one branch per column, each later branch excluding the rows of the "
            "earlier "
            "ones (NOT COALESCE(cond, FALSE)), returns exactly the same rows, duplicates included; each "
            "branch "
            "can use its own index.",
            cols,
        )
        return


def _first_table(tree: exp.Expr, schema: Schema) -> str:
    for t in tree.find_all(exp.Table):
        table = schema.table(t.name)
        if table is not None:
            return table.name
    return ""


def rule_not_in_subquery(
    cls: WorkloadClass, tree: exp.Expr, schema: Schema, _rollup: str, _log: str
) -> Iterator[RewriteAdvice]:
    resolver = _Resolver(tree, schema)
    for neg in list(tree.find_all(exp.Not)):
        inner = neg.this.this if isinstance(neg.this, exp.Paren) else neg.this
        if not isinstance(inner, exp.In) or inner.args.get("query") is None:
            continue
        outer_col = inner.this
        sub = inner.args["query"].this
        if (
            not isinstance(outer_col, exp.Column)
            or not isinstance(sub, exp.Select)
            or len(sub.expressions) != 1
        ):
            continue
        inner_col = sub.expressions[0].unalias()
        from_ = sub.args.get("from_")
        if not isinstance(inner_col, exp.Column) or from_ is None or not isinstance(from_.this, exp.Table):
            continue
        inner_table = from_.this
        alias = inner_table.alias_or_name
        outer_alias = outer_col.table or _outer_alias(tree, outer_col, resolver)
        outer_model = resolver.by_alias.get(outer_alias) if outer_alias else None
        outer_column = outer_model.column(outer_col.name) if outer_model else None
        outer_found = (outer_model, outer_column) if outer_model and outer_column else None
        inner_model = schema.table(inner_table.name)
        inner_found = inner_model.column(inner_col.name) if inner_model else None
        # Qualify both sides: the outer column by its table, the inner by the subquery's table.
        outer_ref = outer_col.copy()
        if not outer_ref.table:
            outer_table = _outer_alias(tree, outer_col, resolver)
            if outer_table is None:
                continue
            outer_ref.set("table", exp.to_identifier(outer_table))
        correlated = exp.EQ(this=exp.column(inner_col.name, table=alias), expression=outer_ref)
        new_sub = sub.copy()
        new_sub.set("expressions", [exp.Literal.number(1)])
        cond = new_sub.args.get("where")
        new_sub.set("where", exp.Where(this=exp.and_(cond.this.copy(), correlated) if cond else correlated))
        rewritten = tree.copy()
        for node in rewritten.find_all(exp.Not):
            if node == neg:
                node.replace(exp.not_(exp.Exists(this=new_sub)))
                break
        nullable = (outer_found is None or outer_found[1].nullable) or (
            inner_found is None or inner_found.nullable
        )
        reason = (
            f"NOT IN (SELECT {inner_col.name} ...) is rewritten as a correlated NOT EXISTS, which the "
            "optimizer "
            f"runs as an anti-join using an index on {inner_table.name}.{inner_col.name}. "
        )
        if nullable:
            reason += (
                "Not equivalent here: a column involved can be NULL, and NOT IN returns no row at all when "
                "the "
                "subquery yields a NULL (NOT EXISTS ignores it); check that this is what the report means."
            )
        else:
            reason += "Both columns are NOT NULL, so the two forms return the same rows."
        yield _advice(
            cls,
            "not_in_to_not_exists",
            inner_model.name if inner_model else inner_table.name,
            rewritten,
            reason,
            (inner_col.name,),
            equivalent=not nullable,
        )


def _outer_alias(tree: exp.Expr, col: exp.Column, resolver: _Resolver) -> str | None:
    select = col.find_ancestor(exp.Select)
    from_ = select.args.get("from_") if select is not None else None
    if from_ is not None and isinstance(from_.this, exp.Table) and not select.args.get("joins"):  # type: ignore[union-attr]
        return from_.this.alias_or_name
    return None


def rule_order_by_rand(
    cls: WorkloadClass, tree: exp.Expr, schema: Schema, _rollup: str, _log: str
) -> Iterator[RewriteAdvice]:
    if not isinstance(tree, exp.Select):
        return
    order, limit = tree.args.get("order"), tree.args.get("limit")
    if order is None or not any(isinstance(o.this, exp.Rand) for o in order.expressions):
        return
    from_ = tree.args.get("from_")
    if from_ is None or not isinstance(from_.this, exp.Table) or tree.args.get("joins"):
        return
    table = schema.table(from_.this.name)
    if table is None or len(table.primary_key) != 1:
        return
    pk = table.column(table.primary_key[0])
    if pk is None or pk.base_type not in ("tinyint", "smallint", "mediumint", "int", "bigint"):
        return
    alias = from_.this.alias_or_name
    pick = exp.select(
        exp.alias_(
            exp.func("FLOOR", exp.Mul(this=exp.Rand(), expression=exp.func("MAX", exp.column(pk.name)))), "r"
        )
    ).from_(exp.to_table(table.name))
    rewritten = tree.copy()
    # nulls_first=True is MySQL's own ascending order (no CASE emulation in the output).
    rewritten.set(
        "order", exp.Order(expressions=[exp.Ordered(this=exp.column(pk.name, table=alias), nulls_first=True)])
    )
    rewritten = rewritten.join(
        exp.Subquery(this=pick, alias=exp.TableAlias(this=exp.to_identifier("pick"))),
        on=exp.GTE(this=exp.column(pk.name, table=alias), expression=exp.column("r", table="pick")),
    )
    n = limit.expression.name if limit is not None and limit.expression is not None else "n"
    yield _advice(
        cls,
        "order_by_rand",
        table.name,
        rewritten,
        f"ORDER BY RAND() reads and sorts every matching row to return {n}. Starting at a random "
        f"{pk.name} and reading forward in primary-key order reads only about {n} rows. Not equivalent: "
        f"rows after gaps in {pk.name} are picked more often, and consecutive rows come together.",
        (pk.name,),
        equivalent=False,
    )


def rule_select_star(
    cls: WorkloadClass, tree: exp.Expr, schema: Schema, _rollup: str, _log: str
) -> Iterator[RewriteAdvice]:
    if not isinstance(tree, exp.Select) or not any(isinstance(e, exp.Star) for e in tree.expressions):
        return
    where = tree.args.get("where")
    from_ = tree.args.get("from_")
    if where is None or from_ is None or not isinstance(from_.this, exp.Table):
        return
    table = schema.table(from_.this.name)
    if table is None or len(table.columns) < 4:
        return
    filters = sorted({c.name for c in where.find_all(exp.Column)})
    yield _advice(
        cls,
        "select_star",
        table.name,
        None,
        f"SELECT * reads all {len(table.columns)} columns of {table.name}: list only the columns the page "
        f"uses, and an index on ({', '.join(filters)}, those columns) can answer the query from the index "
        "alone, without reading the rows.",
        tuple(filters),
        speedup=False,
    )


def rule_constant_on_left(
    cls: WorkloadClass, tree: exp.Expr, schema: Schema, _rollup: str, _log: str
) -> Iterator[RewriteAdvice]:
    rewritten = tree.copy()
    flipped = []
    for cmp in list(rewritten.find_all(exp.EQ, exp.GT, exp.GTE, exp.LT, exp.LTE)):
        if isinstance(cmp.this, exp.Literal) and isinstance(cmp.expression, exp.Column):
            new = _FLIP[type(cmp)](this=cmp.expression.copy(), expression=cmp.this.copy())
            cmp.replace(new)
            flipped.append(new)
    if flipped:
        yield _advice(
            cls,
            "constant_on_left",
            _first_table(tree, schema),
            rewritten,
            "A constant on the left (`5 < col`) reads less naturally; the optimizer normalises it to `col "
            "> 5` "
            "itself, so this is for readability only — no speed-up is claimed.",
            speedup=False,
        )


_ROLLUP_SUMS = {"http_reply_size": "bytes", "time_response": "response_ms"}
_ROLLUP_KEYS = ("date_day", "http_username", "ip_client")


def rule_rollup(
    cls: WorkloadClass, tree: exp.Expr, schema: Schema, rollup: str, log: str
) -> Iterator[RewriteAdvice]:
    """Aggregates over the log table that the daily rollup answers exactly -> the rollup query."""
    target = schema.table(rollup)
    if target is None or schema.table(log) is None:
        return
    for select in list(tree.find_all(exp.Select)):
        rewritten_select = _rollup_select(select, log, target.name)
        if rewritten_select is None:
            continue
        rewritten = tree.copy() if select is not tree else rewritten_select
        if select is not tree:
            for node in rewritten.find_all(exp.Select):
                if node == select:
                    node.replace(rewritten_select)
                    break
        yield _advice(
            cls,
            "rollup",
            schema.table(log).name,  # type: ignore[union-attr]
            rewritten,
            f"the report aggregates {log} by day/user/client, which {target.name} already holds: it reads "
            "one "
            "row per user, client and day instead of every request. The rollup is as fresh as its last "
            "`sqlops rollup refresh` (hourly under `sqlops serve`), so today's figures can lag by up to an "
            "hour; "
            "NULL user names and clients are stored as ''. " + TZ_CAVEAT,
            ("date_day",),
        )
        return


def _rollup_select(select: exp.Select, log: str, rollup: str) -> exp.Select | None:
    from_ = select.args.get("from_")
    if from_ is None or not isinstance(from_.this, exp.Table) or from_.this.name.lower() != log.lower():
        return None
    if select.args.get("joins"):
        return None
    aggregates = [a for e in select.expressions for a in e.find_all(exp.AggFunc)]
    if not aggregates:
        return None
    new = select.copy()
    new.find(exp.Table).set("this", exp.to_identifier(rollup))  # type: ignore[union-attr]
    denied = False
    where = new.args.get("where")
    if where is not None:
        for term in _top_conjuncts(where.this):
            if _is_denied_filter(term):
                denied = True
                continue
            if not _only_keys(term):
                return None
        if denied:
            kept = [t for t in _top_conjuncts(where.this) if not _is_denied_filter(t)]
            new.set("where", exp.Where(this=exp.and_(*kept)) if kept else None)
    for group in (new.args.get("group"),):
        if group is not None and not all(_only_keys(g) for g in group.expressions):
            return None
    for agg in list(new.find_all(exp.AggFunc)):
        replacement = _rollup_aggregate(agg, denied)
        if replacement is None:
            return None
        agg.replace(replacement)
    for node in list(new.find_all(exp.TsOrDsToDate, exp.Cast)):  # DATE(FROM_UNIXTIME(epoch)) -> date_day
        arg = _date_arg(node)
        if (
            isinstance(arg, exp.UnixToTime)
            and isinstance(arg.this, exp.Column)
            and arg.this.name == "time_since_epoch"
        ):
            node.replace(exp.column("date_day", table=arg.this.table or None))
    for col in new.find_all(exp.Column):
        if col.name.lower() not in (*_ROLLUP_KEYS, "requests", "bytes", "response_ms", "denied"):
            return None
    return new


def _only_keys(node: exp.Expr) -> bool:
    cols = list(node.find_all(exp.Column))
    for col in cols:
        if col.name.lower() in _ROLLUP_KEYS:
            continue
        parent = col.parent
        date = parent.parent if isinstance(parent, exp.UnixToTime) else None
        if col.name == "time_since_epoch" and date is not None and _date_arg(date) is parent:
            continue
        return False
    return not any(isinstance(n, exp.Is) for n in node.find_all(exp.Is))  # NULL users are '' there


def _is_denied_filter(term: exp.Expr) -> bool:
    """The rollup's `denied` counts INSTR(squid_request_status, 'DENIED') > 0: only that exact
    filter (as LIKE '%DENIED%') maps onto it."""
    return (
        isinstance(term, exp.Like)
        and isinstance(term.this, exp.Column)
        and term.this.name == "squid_request_status"
        and isinstance(term.expression, exp.Literal)
        and term.expression.name.upper() == "%DENIED%"
    )


def _rollup_aggregate(node: exp.Expr, denied: bool) -> exp.Expr | None:
    if isinstance(node, exp.Count):
        arg = node.this
        if isinstance(arg, exp.Star) or (isinstance(arg, exp.Literal) and not arg.is_string):
            # COUNT(*) of no rows is 0, SUM() of no rows is NULL: keep the original's 0.
            return exp.func(
                "COALESCE",
                exp.func("SUM", exp.column("denied" if denied else "requests")),
                exp.Literal.number(0),
            )
        if isinstance(arg, exp.Distinct) and not denied:
            cols = arg.expressions
            if (
                len(cols) == 1
                and isinstance(cols[0], exp.Column)
                and cols[0].name in ("http_username", "ip_client")
            ):
                return node.copy()
        return None
    if denied:
        return None
    if isinstance(node, exp.Sum) and isinstance(node.this, exp.Column) and node.this.name in _ROLLUP_SUMS:
        return exp.func("SUM", exp.column(_ROLLUP_SUMS[node.this.name]))
    if isinstance(node, exp.Avg) and isinstance(node.this, exp.Column) and node.this.name == "time_response":
        return exp.Div(
            this=exp.func("SUM", exp.column("response_ms")),
            expression=exp.func("SUM", exp.column("requests")),
        )
    return None


RULES: tuple[Rule, ...] = (
    rule_rollup,
    rule_date_functions,
    rule_implicit_conversion,
    rule_or_to_union,
    rule_not_in_subquery,
    rule_order_by_rand,
    rule_leading_wildcard,
    rule_select_star,
    rule_constant_on_left,
)
