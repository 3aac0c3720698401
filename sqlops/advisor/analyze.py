"""Per-class analysis with sqlglot: how each statement reads each base table.

A class's example is parsed (MySQL dialect), DML is turned into its read part, views are
inlined as derived tables, then sqlglot's `qualify` resolves every column to its table and
`merge_subqueries` folds simple derived tables (and so the views) into the outer query — after
that a predicate on a view column is a predicate on the base column it comes from.

Each SELECT scope (outer query, subqueries, derived tables, UNION branches, CTEs) is read on its
own: per base table the equality columns (`=`, `IN`, `IS NULL`, `<=>` against constants,
placeholders or outer columns), range columns (`<`, `>`, `BETWEEN`, `LIKE 'prefix%'`), join
columns, GROUP BY, ORDER BY with directions, the columns read and LIMIT. Patterns that defeat
an index (functions on columns, implicit conversions, leading wildcards, OR across columns...)
become Findings for the rewrite rules.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import sqlglot
from sqlglot import exp
from sqlglot.optimizer.merge_subqueries import merge_subqueries
from sqlglot.optimizer.qualify import qualify
from sqlglot.optimizer.scope import Scope, traverse_scope
from sqlglot.schema import MappingSchema

from sqlops.advisor.model import Finding, QueryAnalysis, TableAccess, WorkloadClass
from sqlops.schema.model import Schema

# Functions whose value does not depend on the row: `col = NOW()` is still an equality.
# sqlglot logs "unsupported syntax, falling back to Command" for CALL, PREPARE...: the analysis
# reports those classes itself, the warning would only clutter stderr.
logging.getLogger("sqlglot").setLevel(logging.ERROR)
_RANGE_OPS = (exp.GT, exp.GTE, exp.LT, exp.LTE)
_FLIP = {exp.GT: "<", exp.GTE: "<=", exp.LT: ">", exp.LTE: ">="}


def sqlglot_schema(schema: Schema) -> dict[str, object]:
    return {t.name: {c.name: c.type or "text" for c in t.columns} for t in schema.tables.values()}


def parse_statement(sql: str) -> exp.Expr:
    """Parse one statement (MySQL dialect); raises sqlglot.errors.SqlglotError."""
    statements = [s for s in sqlglot.parse(sql, read="mysql") if s is not None]
    if len(statements) != 1:
        raise sqlglot.errors.ParseError(f"expected one statement, found {len(statements)}")
    return statements[0]


def statement_kind(tree: exp.Expr) -> str:
    if isinstance(tree, exp.Select | exp.Union | exp.Intersect | exp.Except):
        return "select"
    for kind, cls in (("update", exp.Update), ("delete", exp.Delete), ("insert", exp.Insert)):
        if isinstance(tree, cls):
            if kind == "insert" and tree.args.get("is_replace"):
                return "replace"
            return kind
    return "other"


def read_part(tree: exp.Expr) -> exp.Expr | None:
    """The SELECT that reads what a statement reads: DML turned into its read part."""
    if isinstance(tree, exp.Select | exp.Union | exp.Intersect | exp.Except):
        return tree
    if isinstance(tree, exp.Insert):
        source = tree.args.get("expression")
        return source if isinstance(source, exp.Select | exp.Union) else None
    if isinstance(tree, exp.Update):
        select = exp.select("*").from_(tree.this.copy())
        for join in tree.args.get("joins") or ():  # multi-table UPDATE t1 JOIN t2 ON ...
            select = select.join(join.copy())
        from_ = tree.args.get("from_") or tree.args.get("from")
        if from_ is not None:
            select = select.join(from_.this.copy())
        return _with_where_order_limit(select, tree)
    if isinstance(tree, exp.Delete):
        target = tree.args.get("using") or tree.this
        if isinstance(target, list):
            target = target[0]
        select = exp.select("*").from_(target.copy())
        for join in tree.args.get("joins") or ():
            select = select.join(join.copy())
        return _with_where_order_limit(select, tree)
    return None


def _with_where_order_limit(select: exp.Select, dml: exp.Expr) -> exp.Select:
    where = dml.args.get("where")
    if where is not None:
        select = select.where(where.this.copy())
    order = dml.args.get("order")
    if order is not None:
        select.set("order", order.copy())
    limit = dml.args.get("limit")
    if limit is not None:
        select.set("limit", limit.copy())
    return select


def expand_views(tree: exp.Expr, schema: Schema, depth: int = 0) -> exp.Expr:
    """Replace each view reference with its SELECT as a derived table of the same alias."""
    if depth > 8 or not schema.views:
        return tree
    changed = False
    for table in list(tree.find_all(exp.Table)):
        view = schema.view(table.name)
        if view is None or isinstance(table.parent, exp.Schema):
            continue
        try:
            body = sqlglot.parse_one(view.sql, read="mysql")
        except sqlglot.errors.SqlglotError:
            continue
        alias = table.alias or table.name
        body = flatten_join_parens(body)
        table.replace(exp.Subquery(this=body, alias=exp.TableAlias(this=exp.to_identifier(alias))))
        changed = True
    return expand_views(tree, schema, depth + 1) if changed else tree


def flatten_join_parens(tree: exp.Expr) -> exp.Expr:
    """`FROM ((a JOIN b ON ..) JOIN c ON ..)` -> `FROM a JOIN b ON .. JOIN c ON ..`.

    MySQL and MariaDB print every view's joins nested like that; sqlglot reads the parentheses
    as unnamed subqueries, which its merge step cannot fold. The left-deep forms are equivalent.
    """
    for select in list(tree.find_all(exp.Select)):
        from_ = select.args.get("from_")
        if from_ is None or not _is_join_paren(from_.this):
            continue
        table, joins = _unnest(from_.this)
        from_.set("this", table)
        select.set("joins", joins + list(select.args.get("joins") or []))
    return tree


def _is_join_paren(node: exp.Expr) -> bool:
    return (
        isinstance(node, exp.Subquery) and not node.alias and isinstance(node.this, exp.Subquery | exp.Table)
    )


def _unnest(node: exp.Expr) -> tuple[exp.Expr, list[exp.Expr]]:
    outer = list(node.args.get("joins") or [])
    if _is_join_paren(node):
        table, inner = _unnest(node.this)
        return table, inner + outer
    if isinstance(node, exp.Table):
        bare = node.copy()
        bare.set("joins", None)
        return bare, outer
    return node, outer


def prepare(sql: str, schema: Schema) -> tuple[str, exp.Expr | None, list[Finding]]:
    """(statement kind, qualified read part or None, findings seen before qualification).

    The tree is changed in place (no copies: at 10,000 classes a deep copy per class costs
    seconds); the rare fallback parses the statement again instead."""
    tree = parse_statement(sql)
    kind = statement_kind(tree)
    read = read_part(tree)
    if read is None:
        return kind, None, []
    read = expand_views(flatten_join_parens(read), schema)
    # DML's read part is a synthetic SELECT *: only a real one is worth a finding.
    early = _star_findings(read, schema) if kind == "select" else []
    if _qualify_single_table(read, schema):
        return kind, read, early
    try:
        qualified = _qualify(read, mapping_schema(schema))
    except sqlglot.errors.OptimizeError:
        # A column the schema does not know (an outdated DDL file): resolve what can be
        # resolved without types; unknown columns simply give no candidates.
        again = read_part(parse_statement(sql))
        assert again is not None
        again = expand_views(flatten_join_parens(again), schema)
        try:
            qualified = _qualify(again.copy(), {})
        except sqlglot.errors.OptimizeError:
            # Tables the schema does not have at all: keep the statement unqualified; its
            # tables are still reported (as not in the schema), their columns give nothing.
            return kind, again, early
    return kind, merge_subqueries(qualified), early


def _qualify_single_table(read: exp.Expr, schema: Schema) -> bool:
    """The fast path for the common case — one known table, no join, no subquery, no CTE:
    every column of that table is its column. sqlglot's qualify does the same in ~1 ms per
    statement, which is a third of the analysis time on a 10,000-class workload."""
    if not isinstance(read, exp.Select) or read.args.get("joins") or read.args.get("with_"):
        return False
    from_ = read.args.get("from_")
    if from_ is None or not isinstance(from_.this, exp.Table):
        return False
    table = schema.table(from_.this.name)
    if (
        table is None
        or any(True for _ in read.find_all(exp.Subquery))
        or len(list(read.find_all(exp.Select))) > 1
    ):
        return False
    alias = from_.this.alias_or_name
    names = {c.name.lower() for c in table.columns}
    # ORDER BY / GROUP BY / HAVING name a select-list alias before a column of the same name
    # (`SUM(bytes) AS bytes ... ORDER BY bytes` sorts by the sum): leave those to the alias.
    aliases = {p.alias.lower() for p in read.expressions if isinstance(p, exp.Alias)}
    for col in read.find_all(exp.Column):
        if col.table or col.is_star or col.name.lower() not in names:
            continue
        if col.name.lower() in aliases and col.find_ancestor(exp.Order, exp.Group, exp.Having) is not None:
            continue
        col.set("table", exp.to_identifier(alias))
    return True


_MAPPING_CACHE: list[tuple[Schema, MappingSchema]] = []


def mapping_schema(schema: Schema) -> MappingSchema:
    """sqlglot's schema object for ours, built once per Schema (building it is ~3 ms)."""
    if _MAPPING_CACHE and _MAPPING_CACHE[0][0] is schema:
        return _MAPPING_CACHE[0][1]
    built = MappingSchema(sqlglot_schema(schema), dialect="mysql")
    _MAPPING_CACHE[:] = [(schema, built)]
    return built


def _qualify(tree: exp.Expr, schema: MappingSchema | dict[str, object]) -> exp.Expr:
    return qualify(
        tree,
        schema=schema,
        dialect="mysql",
        validate_qualify_columns=False,
        identify=False,
        quote_identifiers=False,
    )


def analyse_class(cls: WorkloadClass, schema: Schema) -> QueryAnalysis:
    try:
        kind, read, early = prepare(cls.example, schema)
    except (
        sqlglot.errors.SqlglotError,
        RecursionError,
        ValueError,
        KeyError,
        AttributeError,
        TypeError,
    ) as exc:
        return QueryAnalysis(cls.id, "other", None, error=_parse_error(exc))
    if read is None:
        if kind == "other":
            word = (cls.example.split() or ["?"])[0].upper()
            why = f"{word} statements are not analysed (no table access the advisor can see)"
            return QueryAnalysis(cls.id, kind, None, error=why)
        return QueryAnalysis(cls.id, kind, None)  # INSERT ... VALUES: nothing read
    accesses: list[TableAccess] = []
    findings: list[Finding] = list(early)
    try:
        for scope in traverse_scope(read):
            a, f = _analyse_scope(scope, schema)
            accesses.extend(a)
            findings.extend(f)
    except (
        sqlglot.errors.SqlglotError,
        RecursionError,
        ValueError,
        KeyError,
        AttributeError,
        TypeError,
    ) as exc:
        return QueryAnalysis(cls.id, kind, None, error=_parse_error(exc))
    # The read part's SQL is kept for DML only (a SELECT's is the example itself): generating
    # SQL for every class would cost a few ms each.
    read_sql = read.sql("mysql") if kind != "select" else cls.example
    return QueryAnalysis(cls.id, kind, read_sql, tuple(accesses), tuple(_unique(findings)))


def _parse_error(exc: BaseException) -> str:
    errors = getattr(exc, "errors", None)
    if errors:
        e = errors[0]
        return (
            f"sqlglot cannot parse it: {e.get('description')} (line {e.get('line')}, column {e.get('col')})"
        )
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return f"sqlglot cannot analyse it: {text[:200]}"


def _unique(items: Iterable[Finding]) -> list[Finding]:
    out: list[Finding] = []
    for item in items:
        if item not in out:
            out.append(item)
    return out


def _star_findings(read: exp.Expr, schema: Schema) -> list[Finding]:
    """`SELECT *` is expanded by qualify, so look for it first."""
    out = []
    for select in read.find_all(exp.Select):
        stars = [
            e
            for e in select.expressions
            if isinstance(e, exp.Star) or (isinstance(e, exp.Column) and e.is_star)
        ]
        if not stars:
            continue
        from_ = select.args.get("from_") or select.args.get("from")
        if from_ is None:
            continue
        tables = [t.name for t in ([from_.this] + [j.this for j in select.args.get("joins") or ()])]
        for name in tables:
            if isinstance(name, str) and schema.table(name) is not None:
                out.append(Finding("select_star", schema.table(name).name, (), "SELECT *"))  # type: ignore[union-attr]
    return out


class _ScopeReader:
    """Collects the per-table facts of one SELECT scope."""

    def __init__(self, scope: Scope, schema: Schema) -> None:
        self.scope = scope
        self.schema = schema
        self.tables: dict[str, str] = {}  # alias -> base table name
        for alias, source in scope.sources.items():
            if isinstance(source, exp.Table) and source.name:
                table = schema.table(source.name)
                self.tables[alias] = table.name if table else source.name
        self.eq: dict[str, list[str]] = {a: [] for a in self.tables}
        self.ranges: dict[str, list[str]] = {a: [] for a in self.tables}
        self.joins: dict[str, list[str]] = {a: [] for a in self.tables}
        self.other: dict[str, bool] = dict.fromkeys(self.tables, False)
        self.like: dict[str, list[tuple[str, int]]] = {a: [] for a in self.tables}
        self.findings: list[Finding] = []

    def local(self, node: exp.Expr) -> tuple[str, str] | None:
        """(alias, column) when `node` is a plain column of a base table of this scope."""
        if isinstance(node, exp.Column) and not node.is_star and node.table in self.tables:
            return node.table, node.name
        return None

    def is_constant(self, node: exp.Expr) -> bool:
        """A value the row does not change: literal, placeholder, NULL, outer column, NOW()..."""
        if isinstance(node, exp.Subquery | exp.Select):
            return False
        return all(col.table and col.table not in self.tables for col in node.find_all(exp.Column))

    def add(self, bucket: dict[str, list[str]], ref: tuple[str, str]) -> None:
        alias, column = ref
        if column not in bucket[alias]:
            bucket[alias].append(column)

    def column_type(self, ref: tuple[str, str]) -> tuple[bool, bool]:
        """(is string, is numeric) of a column, (False, False) when unknown."""
        table = self.schema.table(self.tables[ref[0]])
        col = table.column(ref[1]) if table else None
        if col is None:
            return False, False
        return col.is_string, col.is_numeric

    def finding(
        self, kind: str, ref: tuple[str, str] | None, node: exp.Expr, columns: tuple[str, ...] = ()
    ) -> None:
        table = self.tables[ref[0]] if ref else (next(iter(self.tables.values()), ""))
        cols = columns or ((ref[1],) if ref else ())
        self.findings.append(Finding(kind, table, cols, node.sql("mysql")[:300]))  # type: ignore[arg-type]

    def mark_other(self, node: exp.Expr) -> None:
        for col in node.find_all(exp.Column):
            if col.table in self.tables:
                self.other[col.table] = True

    def read_condition(self, cond: exp.Expr) -> None:
        for term in _conjuncts(cond):
            self.read_term(term)

    def read_term(self, term: exp.Expr) -> None:
        if isinstance(term, exp.Paren):
            self.read_condition(term.this)
            return
        if isinstance(term, exp.EQ | exp.NullSafeEQ):
            self.read_comparison(term, term.this, term.expression, equality=True)
        elif isinstance(term, _RANGE_OPS):
            self.read_comparison(term, term.this, term.expression, equality=False)
        elif isinstance(term, exp.Between):
            ref = self.local(term.this)
            if ref and self.is_constant(term.args["low"]) and self.is_constant(term.args["high"]):
                self.add(self.ranges, ref)
            else:
                self.read_function_side(term, term.this)
        elif isinstance(term, exp.In):
            ref = self.local(term.this)
            if ref and term.args.get("query") is not None:
                self.add(self.eq, ref)
            elif ref and all(self.is_constant(e) for e in term.expressions):
                if self.conversion(ref, term.expressions, term):
                    return
                self.add(self.eq, ref)
            else:
                self.read_function_side(term, term.this)
        elif isinstance(term, exp.Is):
            ref = self.local(term.this)
            if ref and isinstance(term.expression, exp.Null):
                self.add(self.eq, ref)
            else:
                self.mark_other(term)
        elif isinstance(term, exp.Like):
            self.read_like(term)
        elif isinstance(term, exp.Not):
            inner = term.this.this if isinstance(term.this, exp.Paren) else term.this
            if isinstance(inner, exp.In) and inner.args.get("query") is not None:
                self.finding("not_in_subquery", self.local(inner.this), term)
            elif isinstance(inner, exp.Like):
                pass  # NOT LIKE never uses an index, whatever the pattern: nothing to rewrite
            elif isinstance(inner, exp.Is):
                ref = self.local(inner.this)
                if ref:  # IS NOT NULL: a range (everything but the NULLs)
                    self.add(self.ranges, ref)
                    return
            self.mark_other(term)
        elif isinstance(term, exp.Or):
            self.read_or(term)
        else:
            self.mark_other(term)

    def read_comparison(self, term: exp.Expr, left: exp.Expr, right: exp.Expr, *, equality: bool) -> None:
        lref, rref = self.local(left), self.local(right)
        if lref and rref:
            if lref[0] != rref[0] and equality:
                self.add(self.joins, lref)
                self.add(self.joins, rref)
            else:
                self.mark_other(term)
            return
        ref, value, flipped = (lref, right, False) if lref else (rref, left, True)
        if ref is None:
            self.read_function_side(term, left if not self.is_constant(left) else right)
            return
        if not self.is_constant(value):
            self.mark_other(term)
            return
        if self.conversion(ref, [value], term):
            return
        if (flipped and not isinstance(term, exp.EQ | exp.NullSafeEQ)) or (
            flipped and isinstance(value, exp.Literal)
        ):
            self.finding("constant_on_left", ref, term)
        self.add(self.eq if equality else self.ranges, ref)

    def conversion(self, ref: tuple[str, str], values: Iterable[exp.Expr], term: exp.Expr) -> bool:
        """A string column compared with a number: the server converts every row, no index."""
        is_string, _ = self.column_type(ref)
        if is_string and any(isinstance(v, exp.Literal) and not v.is_string for v in values):
            self.finding("implicit_conversion", ref, term)
            self.other[ref[0]] = True
            return True
        return False

    def read_function_side(self, term: exp.Expr, side: exp.Expr) -> None:
        """`f(col) op constant`: the column is hidden inside a function (not sargable)."""
        cols = [c for c in side.find_all(exp.Column) if c.table in self.tables]
        if cols and isinstance(side, exp.Func | exp.Anonymous | exp.Binary | exp.Cast):
            self.finding("function_on_column", (cols[0].table, cols[0].name), term)
        self.mark_other(term)

    def read_like(self, term: exp.Like) -> None:
        if term.args.get("negate"):  # NOT LIKE (sqlglot's form of it) never uses an index
            self.mark_other(term)
            return
        ref = self.local(term.this)
        pattern = term.expression
        if ref is None:
            self.read_function_side(term, term.this)
            return
        if isinstance(pattern, exp.Literal) and pattern.is_string:
            text = pattern.name
            if text[:1] in ("%", "_"):
                self.finding("leading_wildcard", ref, term)
                self.other[ref[0]] = True
                return
            fixed = _literal_prefix(text)
            self.add(self.ranges, ref)
            self.like[ref[0]].append((ref[1], fixed))
        elif self.is_constant(pattern):
            self.add(self.ranges, ref)  # a placeholder pattern: usually a prefix search in admin pages
        else:
            self.mark_other(term)

    def read_or(self, term: exp.Or) -> None:
        branches = list(_disjuncts(term))
        refs = set()
        simple = True
        for b in branches:
            b = b.this if isinstance(b, exp.Paren) else b
            if isinstance(b, exp.EQ | exp.In | exp.Is | exp.NullSafeEQ) and self.local(b.this):
                values = b.expressions if isinstance(b, exp.In) else [b.expression]
                if all(self.is_constant(v) for v in values):
                    refs.add(self.local(b.this))
                    continue
            simple = False
        if simple and len(refs) == 1:
            ref = refs.pop()
            if ref is not None:
                self.add(self.eq, ref)  # a = 1 OR a = 2 is an IN list
            return
        columns = tuple(sorted({c.name for c in term.find_all(exp.Column) if c.table in self.tables}))
        if len(columns) > 1:
            first = next((c for c in term.find_all(exp.Column) if c.table in self.tables), None)
            self.finding("or_across_columns", (first.table, first.name) if first else None, term, columns)
        self.mark_other(term)


def _literal_prefix(pattern: str) -> int:
    """Characters before the first unescaped wildcard of a LIKE pattern."""
    n = 0
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            n += 1
            i += 2
            continue
        if ch in "%_":
            break
        n += 1
        i += 1
    return n


def _flatten(cond: exp.Expr, op: type[exp.Connector]) -> Iterable[exp.Expr]:
    """The terms of `a AND b AND (c AND d)` (or of an OR chain), parentheses looked through."""
    if isinstance(cond, op):
        yield from _flatten(cond.this, op)
        yield from _flatten(cond.expression, op)
    elif isinstance(cond, exp.Paren) and isinstance(cond.this, op):
        yield from _flatten(cond.this, op)
    else:
        yield cond


def _conjuncts(cond: exp.Expr) -> Iterable[exp.Expr]:
    return _flatten(cond, exp.And)


def _disjuncts(cond: exp.Expr) -> Iterable[exp.Expr]:
    return _flatten(cond, exp.Or)


def _analyse_scope(scope: Scope, schema: Schema) -> tuple[list[TableAccess], list[Finding]]:
    select = scope.expression
    if not isinstance(select, exp.Select):
        return [], []
    reader = _ScopeReader(scope, schema)
    if not reader.tables:
        return [], []
    where = select.args.get("where")
    if where is not None:
        reader.read_condition(where.this)
    for join in select.args.get("joins") or ():
        on = join.args.get("on")
        if on is not None:
            reader.read_condition(on)
        for ident in join.args.get("using") or ():
            name = ident.name
            for alias, table_name in reader.tables.items():
                known = schema.table(table_name)
                if known is None or known.column(name) is not None:
                    reader.add(reader.joins, (alias, name))
    group = _columns_of(select.args.get("group"), reader, select)
    order = _order_of(select, reader)
    order_node = select.args.get("order")
    for o in order_node.expressions if order_node is not None else ():
        if isinstance(o.this, exp.Rand):
            reader.finding("order_by_rand", None, o)
    selected = _selected(select, reader)
    limit = _limit(select)
    accesses = []
    for alias, table in reader.tables.items():
        accesses.append(
            TableAccess(
                table=table,
                alias=alias,
                equality=tuple(reader.eq[alias]),
                ranges=tuple(c for c in reader.ranges[alias] if c not in reader.eq[alias]),
                joins=tuple(c for c in reader.joins[alias] if c not in reader.eq[alias]),
                group_by=tuple(c for a, c in group if a == alias),
                order_by=tuple((c, d) for a, c, d in order if a == alias),
                selected=tuple(selected.get(alias, ())),
                limit=limit,
                other_filters=reader.other[alias],
                like_prefixes=tuple(reader.like[alias]),
                scope_tables=len(reader.tables),
            )
        )
    # GROUP BY / ORDER BY over several tables cannot come from one index: keep them only when
    # they all belong to one table (recorded above per table, and checked by the candidates).
    return accesses, reader.findings


def _columns_of(node: exp.Expr | None, reader: _ScopeReader, select: exp.Select) -> list[tuple[str, str]]:
    if node is None:
        return []
    out: list[tuple[str, str]] = []
    for e in node.expressions:
        ref = reader.local(_resolve_alias(e, select))
        if ref is None:
            return out  # an expression: the index can serve only the leading part
        out.append(ref)
    return out


def _order_of(select: exp.Select, reader: _ScopeReader) -> list[tuple[str, str, bool]]:
    order = select.args.get("order")
    if order is None:
        return []
    out: list[tuple[str, str, bool]] = []
    for o in order.expressions:
        target = _resolve_alias(o.this, select)
        ref = reader.local(target)
        if ref is None:
            break  # ORDER BY an expression: only the columns before it can come from an index
        out.append((ref[0], ref[1], bool(o.args.get("desc"))))
    return out


def _resolve_alias(node: exp.Expr, select: exp.Select) -> exp.Expr:
    """ORDER BY/GROUP BY a select-list alias or position -> the expression it names."""
    if isinstance(node, exp.Column) and not node.table:
        for projection in select.expressions:
            if isinstance(projection, exp.Alias) and projection.alias == node.name:
                return projection.this
    if isinstance(node, exp.Literal) and not node.is_string and node.name.isdigit():
        i = int(node.name) - 1
        if 0 <= i < len(select.expressions):
            p = select.expressions[i]
            return p.this if isinstance(p, exp.Alias) else p
    return node


def _selected(select: exp.Select, reader: _ScopeReader) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for projection in select.expressions:  # an unexpanded `*` / `t.*` reads every column
        if isinstance(projection, exp.Star):
            for alias in reader.tables:
                out.setdefault(alias, []).append("*")
        elif isinstance(projection, exp.Column) and projection.is_star and projection.table in reader.tables:
            out.setdefault(projection.table, []).append("*")
    for col in select.find_all(exp.Column):
        if col.is_star:
            continue
        if col.table in reader.tables and col.find_ancestor(exp.Select) is select:
            names = out.setdefault(col.table, [])
            if col.name not in names:
                names.append(col.name)
    return out


def _limit(select: exp.Select) -> int | None:
    limit = select.args.get("limit")
    if limit is None:
        return None
    value = limit.args.get("expression") or limit.this
    if isinstance(value, exp.Literal) and not value.is_string:
        try:
            return int(value.name)
        except ValueError:
            return None
    return 1000  # a placeholder: some page size
