"""Expected table definitions, read from the schema files in ``sql/``.

The files are the single source of truth: ``schema init`` sends them (with the configured
table name), and ``schema status`` / ``schema upgrade`` compare a live table with the columns
sqlglot parses out of them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import sqlglot
from sqlglot import exp

from sqlops.db import quote_ident
from sqlops.resources import sql_text
from sqlops.schema.model import normalise_type

ACCESS_LOG_FILE = "access_log.sql"
STATE_FILE = "sqlops_state.sql"
ACCESS_LOG_NAME = "access_log"


@dataclass(frozen=True)
class ColumnDef:
    name: str
    type: str  # normalised, lower case: "bigint unsigned", "varchar(255)", "decimal(15,3)"
    nullable: bool
    definition: str  # the column definition as written in the file (for ALTER ... MODIFY)


@dataclass(frozen=True)
class TableDef:
    name: str
    create_sql: str
    columns: tuple[ColumnDef, ...]
    primary_key: tuple[str, ...]
    indexes: tuple[tuple[str, tuple[str, ...]], ...]  # (name, columns) of secondary keys

    def column(self, name: str) -> ColumnDef | None:
        return next((c for c in self.columns if c.name == name), None)

    def renamed(self, name: str) -> TableDef:
        if name == self.name:
            return self
        sql = _CREATE.sub(lambda m: m.group(1) + quote_ident(name), self.create_sql, count=1)
        return TableDef(name, sql, self.columns, self.primary_key, self.indexes)


_CREATE = re.compile(r"(CREATE\s+TABLE\s+IF\s+NOT\s+EXISTS\s+)`?[A-Za-z0-9_$]+`?", re.IGNORECASE)


def parse_file(name: str) -> tuple[TableDef, ...]:
    """Every CREATE TABLE in a schema file."""
    text = sql_text(name)
    out = []
    for statement in _split_statements(text):
        tree = sqlglot.parse_one(statement, read="mysql")
        if not isinstance(tree, exp.Create) or tree.kind != "TABLE":
            continue
        out.append(_table_def(tree, statement))
    return tuple(out)


def _split_statements(text: str) -> list[str]:
    """Statements of a schema file, split at the `;` tokens sqlglot's tokenizer finds (so a
    `;` inside a string literal does not split), without the `--` comment lines."""
    body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("--"))
    out, start = [], 0
    for token in sqlglot.tokenize(body, read="mysql"):
        if token.token_type == sqlglot.TokenType.SEMICOLON:
            out.append(body[start : token.start].strip() + ";")
            start = token.end + 1
    tail = body[start:].strip()
    return [s for s in [*out, tail + ";" if tail else ""] if s.strip(";").strip()]


def _table_def(tree: exp.Create, statement: str) -> TableDef:
    schema = tree.this
    name = schema.this.name
    columns: list[ColumnDef] = []
    primary: tuple[str, ...] = ()
    indexes: list[tuple[str, tuple[str, ...]]] = []
    for item in schema.expressions:
        if isinstance(item, exp.ColumnDef):
            nullable = True
            for constraint in item.constraints:
                if isinstance(constraint.kind, exp.NotNullColumnConstraint):
                    nullable = bool(constraint.kind.args.get("allow_null"))
            kind = item.args["kind"].sql("mysql")
            columns.append(
                ColumnDef(item.name, normalise_type(kind), nullable, _column_source(statement, item.name))
            )
        elif isinstance(item, exp.PrimaryKey):
            primary = tuple(_key_names(item))
        elif isinstance(item, exp.IndexColumnConstraint):
            indexes.append((item.this.name if item.this else "", tuple(_key_names(item))))
    return TableDef(name, statement, tuple(columns), primary, tuple(indexes))


def _key_names(node: exp.Expression) -> list[str]:
    return [c.name for c in node.find_all(exp.Column)] or [
        i.name for i in node.expressions if isinstance(i, exp.Identifier | exp.Ordered)
    ]


def _column_source(statement: str, column: str) -> str:
    """The column's definition text exactly as written in the file (comments included)."""
    for line in statement.splitlines():
        stripped = line.strip().rstrip(",")
        if re.match(rf"`?{re.escape(column)}`?\s", stripped):
            return re.sub(r"^(\S+)\s+", r"\1 ", stripped)  # drop the file's column alignment
    raise ValueError(f"column {column} not found in schema file text")


@lru_cache(maxsize=1)
def _access_log() -> TableDef:
    (table,) = parse_file(ACCESS_LOG_FILE)
    return table


def access_log_def(name: str = ACCESS_LOG_NAME) -> TableDef:
    return _access_log().renamed(name)


@lru_cache(maxsize=1)
def state_defs() -> tuple[TableDef, ...]:
    return parse_file(STATE_FILE)
