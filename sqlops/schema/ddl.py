"""The schema model from DDL text (a `mysqldump --no-data`, `SHOW CREATE TABLE` output, or
hand-written schema files), parsed with sqlglot — so the advisor works with no server at all.

sqlglot (30.x) reads MySQL's CREATE TABLE well but not everything servers print, so the text
is prepared first, each step for a reason:

- `/*!50100 ... */` version comments hold real DDL (mysqldump wraps partitioning in them):
  MySQL executes their content, so we unwrap it;
- MariaDB's `IGNORED` index option is MySQL's `INVISIBLE` (sqlglot knows only the latter);
- `PARTITION BY ...` is cut off and read by our own small parser: sqlglot cannot read
  `VALUES LESS THAN MAXVALUE`, and the advisor needs only the method, expression and names;
- statements the model does not need (SET, INSERT data, LOCK TABLES, triggers and routines
  inside DELIMITER blocks) are skipped before parsing, so a full dump loads quickly.

CREATE TABLE, CREATE VIEW, CREATE [UNIQUE] INDEX, ALTER TABLE ADD/DROP INDEX|KEY and
DROP TABLE/VIEW are applied in file order.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import sqlglot
from sqlglot import exp

from sqlops.errors import InputError
from sqlops.schema.model import (
    Column,
    Index,
    IndexPart,
    Partitioning,
    Schema,
    Table,
    View,
    base_type_of,
    length_of,
    normalise_type,
)

_VERSION_COMMENT = re.compile(r"/\*!\d{5,6}\s?(.*?)\*/", re.S)
_IGNORED = re.compile(r"\b(NOT\s+)?IGNORED\b", re.I)
_DELIMITER = re.compile(r"^\s*DELIMITER\s+(\S+)\s*$", re.I | re.M)
_WANTED = re.compile(r"^\s*(CREATE|ALTER|DROP)\b", re.I)
_SKIP_CREATE = re.compile(
    r"^\s*CREATE\s+(?:DEFINER\s*=\s*\S+\s+)?(?:DATABASE|SCHEMA|TRIGGER|PROCEDURE|FUNCTION|EVENT|USER|ROLE)\b",
    re.I,
)
_DROP_SKIP = re.compile(r"^\s*DROP\s+(?:DATABASE|SCHEMA|TRIGGER|PROCEDURE|FUNCTION|EVENT|USER)\b", re.I)
_PARTITION_NAME = re.compile(r"\bPARTITION\s+`?([A-Za-z0-9_$]+)`?\s+VALUES\b", re.I)


@dataclass(frozen=True)
class DdlStatement:
    sql: str
    source: str
    line: int


def load_schema_files(paths: Sequence[str | Path]) -> Schema:
    """Every table and view the files define, in file order (later statements win)."""
    statements: list[DdlStatement] = []
    for path in paths:
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            raise InputError(
                f"cannot read schema file {p}: {exc.strerror or exc}",
                fix="give a DDL file (e.g. `mysqldump --no-data db > schema.sql`) with --schema",
            ) from exc
        statements.extend(split_ddl(text, str(p)))
    schema = parse_ddl(statements)
    if not schema.tables:
        raise InputError(
            f"no CREATE TABLE found in {', '.join(str(p) for p in paths)}",
            fix="the schema file should hold CREATE TABLE statements, e.g. from `mysqldump --no-data db`",
        )
    return replace(schema, origin=", ".join(str(p) for p in paths))


def parse_ddl_text(text: str, source: str = "<ddl>") -> Schema:
    return replace(parse_ddl(split_ddl(text, source)), origin=source)


def split_ddl(text: str, source: str = "<ddl>") -> list[DdlStatement]:
    """The statements of a DDL file with their first line, split at `;` outside quotes and
    comments; DELIMITER blocks (triggers, routines) are dropped."""
    text = _drop_delimiter_blocks(text)
    out: list[DdlStatement] = []
    start = 0
    i, n = 0, len(text)
    quote: str | None = None
    while i < n:
        ch = text[i]
        if quote:
            if ch == "\\" and quote != "`":
                i += 2
                continue
            if ch == quote:
                quote = None
        elif ch in "'\"`":
            quote = ch
        elif (
            ch == "-" and text.startswith("--", i) and (i + 2 >= n or text[i + 2] in " \t\r\n")
        ) or ch == "#":
            i = _line_end(text, i)
            continue
        elif ch == "/" and text.startswith("/*", i) and not text.startswith("/*!", i):
            end = text.find("*/", i + 2)
            i = n if end < 0 else end + 2
            continue
        elif ch == ";":
            _append(out, text, start, i, source)
            start = i + 1
        i += 1
    _append(out, text, start, n, source)
    return out


def _line_end(text: str, i: int) -> int:
    end = text.find("\n", i)
    return len(text) if end < 0 else end


def _append(out: list[DdlStatement], text: str, start: int, end: int, source: str) -> None:
    chunk = text[start:end]
    body = _strip_comments(chunk).strip()
    if not body:
        return
    # The statement's line is that of its first line of SQL, after blank and comment lines.
    offset = 0
    for piece in chunk.splitlines(keepends=True):
        stripped = piece.strip()
        if stripped and not stripped.startswith(("-- ", "#")) and stripped != "--":
            offset += len(piece) - len(piece.lstrip())
            break
        offset += len(piece)
    line = text.count("\n", 0, start + offset) + 1
    out.append(DdlStatement(body, source, line))


def _strip_comments(sql: str) -> str:
    lines = [ln for ln in sql.splitlines() if not ln.lstrip().startswith(("-- ", "#")) and ln.strip() != "--"]
    return "\n".join(lines)


def _drop_delimiter_blocks(text: str) -> str:
    """Blank out `DELIMITER ;;` ... `DELIMITER ;` (keeping line numbers)."""
    out: list[str] = []
    inside = False
    for line in text.split("\n"):
        m = _DELIMITER.match(line)
        if m:
            inside = m.group(1) != ";"
            out.append("")
            continue
        out.append("" if inside else line)
    return "\n".join(out)


def parse_ddl(statements: Iterable[DdlStatement]) -> Schema:
    tables: dict[str, Table] = {}
    views: dict[str, View] = {}
    for st in statements:
        sql = _VERSION_COMMENT.sub(lambda m: m.group(1), st.sql).strip()
        if not _WANTED.match(sql) or _SKIP_CREATE.match(sql) or _DROP_SKIP.match(sql):
            continue
        sql, partitioning = _cut_partitioning(sql)
        sql = _IGNORED.sub(lambda m: "VISIBLE" if m.group(1) else "INVISIBLE", sql)
        try:
            tree = sqlglot.parse_one(sql, read="mysql")
        except sqlglot.errors.ParseError as exc:
            if re.match(r"^\s*(CREATE\s+(TABLE|INDEX|UNIQUE)|ALTER\s+TABLE)", sql, re.I):
                raise InputError(
                    f"{st.source}:{st.line}: cannot parse this statement: {_first_error(exc)}",
                    fix="check the DDL (it should be what `SHOW CREATE TABLE` or `mysqldump --no-data` "
                    "prints), "
                    "or give the schema of a live server with --dsn instead",
                ) from exc
            continue  # other statements (CREATE VIEW with exotic syntax...) do not stop the load
        _apply(tree, sql, partitioning, tables, views)
    return Schema(tables=tables, views=views)


def _first_error(exc: sqlglot.errors.ParseError) -> str:
    errors = getattr(exc, "errors", None) or []
    if errors:
        e = errors[0]
        return f"{e.get('description')} at line {e.get('line')}, column {e.get('col')}"
    return str(exc).splitlines()[0]


def _apply(
    tree: exp.Expr,
    sql: str,
    partitioning: Partitioning | None,
    tables: dict[str, Table],
    views: dict[str, View],
) -> None:
    if isinstance(tree, exp.Create):
        kind = (tree.args.get("kind") or "").upper()
        if kind == "TABLE" and isinstance(tree.this, exp.Schema):
            table = table_from_create(tree, partitioning)
            tables[table.name] = table
        elif kind == "TABLE" and tree.args.get("expression") is None and isinstance(tree.this, exp.Table):
            like = tree.find(exp.LikeProperty)
            if like is not None and like.this.name in tables:  # CREATE TABLE t2 LIKE t1
                tables[tree.this.name] = replace(tables[like.this.name], name=tree.this.name)
        elif kind == "VIEW":
            name = tree.this.name
            select = tree.args.get("expression")
            if select is not None:
                views[name] = View(name, select.sql("mysql"), referenced_tables(select))
        elif kind == "INDEX" and isinstance(tree.this, exp.Index):
            _add_create_index(tree, tables)
    elif isinstance(tree, exp.Alter) and isinstance(tree.this, exp.Table):
        _apply_alter(tree, tables)
    elif isinstance(tree, exp.Drop):
        name = tree.this.name if tree.this is not None else ""
        kind = (tree.args.get("kind") or "").upper()
        (views if kind == "VIEW" else tables).pop(name, None)


def table_from_create(tree: exp.Create, partitioning: Partitioning | None = None) -> Table:
    schema = tree.this
    name = schema.this.name
    props = tree.args.get("properties")
    engine = charset = None
    rows: int | None = None
    if props is not None:
        for p in props.expressions:
            if isinstance(p, exp.EngineProperty):
                engine = p.this.name
            elif isinstance(p, exp.CharacterSetProperty):
                charset = p.this.name.lower()
            elif isinstance(p, exp.CollateProperty) and charset is None:
                charset = p.this.name.split("_", 1)[0].lower()
            elif isinstance(p, exp.AutoIncrementProperty):
                # mysqldump keeps `AUTO_INCREMENT=N`: at most N-1 rows were ever inserted, a
                # good enough size hint to tell a 10-row lookup table from a log table.
                try:
                    rows = max(0, int(p.this.name) - 1)
                except ValueError:
                    rows = None
    columns: list[Column] = []
    indexes: list[Index] = []
    for item in schema.expressions:
        if isinstance(item, exp.ColumnDef):
            col, inline_key = _column(item)
            columns.append(col)
            if inline_key is not None:
                indexes.append(inline_key)
        elif isinstance(item, exp.PrimaryKey):
            indexes.append(Index("PRIMARY", _parts(item.expressions), unique=True, primary=True))
        elif isinstance(item, exp.UniqueColumnConstraint):
            inner = item.this
            parts = _parts(inner.expressions if isinstance(inner, exp.Schema) else item.expressions)
            key_name = inner.this.name if isinstance(inner, exp.Schema) and inner.this is not None else ""
            indexes.append(Index(key_name or _default_name(parts, indexes), parts, unique=True))
        elif isinstance(item, exp.IndexColumnConstraint):
            parts = _parts(item.expressions)
            kind = str(item.args.get("kind") or "BTREE").upper()
            key_name = item.this.name if item.this is not None else ""
            indexes.append(
                Index(key_name or _default_name(parts, indexes), parts, kind=kind, visible=_visible(item))
            )
    pk = [i for i in indexes if i.primary]
    ordered = pk + [i for i in indexes if not i.primary]
    return Table(
        name=name,
        columns=tuple(replace(c, charset=c.charset or (charset if c.is_string else None)) for c in columns),
        indexes=tuple(ordered),
        engine=engine,
        charset=charset,
        partitioning=partitioning,
        rows=rows,
    )


def _column(item: exp.ColumnDef) -> tuple[Column, Index | None]:
    kind = item.args.get("kind")
    type_sql = kind.sql("mysql") if kind is not None else ""
    raw = normalise_type(type_sql)
    nullable = True
    auto = False
    charset = None
    key: Index | None = None
    for constraint in item.constraints:
        k = constraint.kind
        if isinstance(k, exp.NotNullColumnConstraint):
            nullable = bool(k.args.get("allow_null"))
        elif isinstance(k, exp.AutoIncrementColumnConstraint):
            auto = True
        elif isinstance(k, exp.CharacterSetColumnConstraint):
            charset = k.this.name.lower()
        elif isinstance(k, exp.PrimaryKeyColumnConstraint):
            key = Index("PRIMARY", (IndexPart(item.name),), unique=True, primary=True)
            nullable = False
        elif isinstance(k, exp.UniqueColumnConstraint):
            key = Index(item.name, (IndexPart(item.name),), unique=True)
    base = base_type_of(raw)
    return (
        Column(
            name=item.name,
            base_type=base,
            type=raw,
            nullable=nullable,
            length=length_of(raw),
            charset=charset,
            auto_increment=auto,
            raw_type=" ".join(type_sql.lower().split()),
        ),
        key,
    )


def _parts(expressions: Iterable[exp.Expression]) -> tuple[IndexPart, ...]:
    parts: list[IndexPart] = []
    for e in expressions:
        desc = False
        if isinstance(e, exp.Ordered):
            desc = bool(e.args.get("desc"))
            e = e.this
        prefix = None
        if isinstance(e, exp.ColumnPrefix):
            prefix = int(e.expression.name)
            e = e.this
        if isinstance(e, exp.Paren | exp.Func | exp.Binary):
            continue  # a functional key part (MySQL 8.0.13+): not a column the advisor can use
        if isinstance(e, exp.Anonymous):  # `col(10)` some sqlglot versions read as a call
            if len(e.expressions) == 1 and isinstance(e.expressions[0], exp.Literal):
                parts.append(IndexPart(e.name, int(e.expressions[0].name), desc))
            continue
        parts.append(IndexPart(e.name, prefix, desc))
    return tuple(parts)


def _visible(item: exp.Expression) -> bool:
    for opt in item.args.get("options") or ():
        if isinstance(opt, exp.IndexConstraintOption) and opt.args.get("visible") is False:
            return False
    return True


def _default_name(parts: tuple[IndexPart, ...], existing: Sequence[Index]) -> str:
    """The name the server gives an unnamed key: its first column, then `_2`, `_3`..."""
    base = parts[0].column if parts else "key"
    names = {i.name.lower() for i in existing}
    if base.lower() not in names:
        return base
    n = 2
    while f"{base}_{n}".lower() in names:
        n += 1
    return f"{base}_{n}"


def _add_create_index(tree: exp.Create, tables: dict[str, Table]) -> None:
    index = tree.this
    table_name = index.args["table"].name
    table = tables.get(table_name)
    if table is None:
        return
    params = index.args.get("params")
    columns = params.args.get("columns") if params is not None else []
    parts = _parts(columns or [])
    kind = str(tree.args.get("kind") or "")
    unique = bool(tree.args.get("unique"))
    new = Index(index.name or _default_name(parts, table.indexes), parts, unique=unique)
    if kind.upper() == "INDEX":
        tables[table_name] = replace(table, indexes=(*table.indexes, new))


def _apply_alter(tree: exp.Alter, tables: dict[str, Table]) -> None:
    table_name = tree.this.name
    table = tables.get(table_name)
    if table is None:
        return
    indexes = list(table.indexes)
    for action in tree.args.get("actions") or ():
        if isinstance(action, exp.AddConstraint):
            for c in action.expressions:
                if isinstance(c, exp.IndexColumnConstraint):
                    parts = _parts(c.expressions)
                    name = c.this.name if c.this is not None else _default_name(parts, indexes)
                    kind = str(c.args.get("kind") or "BTREE").upper()
                    indexes.append(Index(name, parts, kind=kind, visible=_visible(c)))
                elif isinstance(c, exp.UniqueColumnConstraint):
                    inner = c.this
                    parts = _parts(inner.expressions if isinstance(inner, exp.Schema) else [])
                    name = inner.this.name if isinstance(inner, exp.Schema) and inner.this else ""
                    indexes.append(Index(name or _default_name(parts, indexes), parts, unique=True))
                elif isinstance(c, exp.PrimaryKey):
                    indexes = [i for i in indexes if not i.primary]
                    indexes.insert(0, Index("PRIMARY", _parts(c.expressions), unique=True, primary=True))
        elif isinstance(action, exp.Drop) and (action.args.get("kind") or "").upper() in ("INDEX", "KEY"):
            gone = action.this.name.lower()
            indexes = [i for i in indexes if i.name.lower() != gone]
    tables[table_name] = replace(table, indexes=tuple(indexes))


def referenced_tables(select: exp.Expr) -> tuple[str, ...]:
    """Tables a query reads, in order of appearance, without its own CTE names."""
    ctes = {c.alias_or_name.lower() for c in select.find_all(exp.CTE)}
    out: list[str] = []
    for t in select.find_all(exp.Table, bfs=False):  # depth first: the order they are written in
        name = t.name
        if name and name.lower() not in ctes and name not in out:
            out.append(name)
    return tuple(out)


def _cut_partitioning(sql: str) -> tuple[str, Partitioning | None]:
    """Split `CREATE TABLE (...) options PARTITION BY ...` into the part sqlglot reads and our
    partitioning record (method, expression, partition names)."""
    if not re.match(r"^\s*CREATE\s+TABLE\b", sql, re.I):
        return sql, None
    close = _table_body_end(sql)
    if close < 0:
        return sql, None
    m = re.search(r"\bPARTITION\s+BY\s+", sql[close:], re.I)
    if not m:
        return sql, None
    cut = close + m.start()
    clause = sql[close + m.end() :]
    method_m = re.match(r"((?:LINEAR\s+)?(?:RANGE|LIST|HASH|KEY)(?:\s+COLUMNS)?)\s*\(", clause, re.I)
    if not method_m:
        return sql[:cut], Partitioning("UNKNOWN", clause.strip()[:200])
    start = method_m.end() - 1
    end = _matching_paren(clause, start)
    expression = clause[start + 1 : end].strip() if end > 0 else ""
    names = tuple(_PARTITION_NAME.findall(clause[end + 1 :] if end > 0 else ""))
    method = " ".join(method_m.group(1).upper().split())
    return sql[:cut].rstrip(), Partitioning(method, expression, names)


def _table_body_end(sql: str) -> int:
    """Index just after the `)` that closes the column list of CREATE TABLE."""
    open_at = sql.find("(")
    if open_at < 0:
        return -1
    end = _matching_paren(sql, open_at)
    return end + 1 if end > 0 else -1


def _matching_paren(text: str, open_at: int) -> int:
    depth = 0
    quote: str | None = None
    i = open_at
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\" and quote != "`":
                i += 2
                continue
            if ch == quote:
                quote = None
        elif ch in "'\"`":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return -1
