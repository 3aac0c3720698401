"""Variables of one function (or file) scope, and the collector that turns values into results.

A variable's SQL is reported when the value is *used*: passed to a call (``query($sql)``,
``$dbh->prepare($sql)``), returned or echoed. A value that was built but never used that way
is reported when the variable is reassigned or its scope ends, unless it went into another
value (``$q = $base . " LIMIT 1"``: only ``$q`` is a statement).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlops.advisor.sources.assemble import assemble, may_be_sql, sql_kind
from sqlops.advisor.sources.model import SourceStatement, Unresolved
from sqlops.advisor.sources.value import Value

FRAGMENT_WIDTH = 160


@dataclass
class Var:
    value: Value
    depth: int
    used: bool = False  # reported, or folded into another value


class Collector:
    """Results of one file; every (sql, line) is reported once."""

    def __init__(self, file: str, language: str, *, named_params: bool = False) -> None:
        self.file = file
        self.language = language
        self.named_params = named_params
        self.statements: list[SourceStatement] = []
        self.unresolved: list[Unresolved] = []
        self._seen: set[tuple[str, int]] = set()
        self._cond = 0

    def new_condition(self) -> int:
        self._cond += 1
        return self._cond

    def emit(self, value: Value, line: int | None = None) -> None:
        if not value.has_text:
            return
        at = value.line or line or 0
        for parts in value.variants():
            if not may_be_sql(parts):
                continue
            done = assemble(parts, named_params=self.named_params)
            if sql_kind(done.sql) is None or (done.sql, at) in self._seen:
                continue
            self._seen.add((done.sql, at))
            if done.reasons:
                self.unresolved.append(Unresolved(self.file, at, "; ".join(done.reasons), _short(done.sql)))
            else:
                self.statements.append(SourceStatement(done.sql, self.file, at, self.language))

    def unresolved_file(self, line: int, reason: str) -> None:
        self.unresolved.append(Unresolved(self.file, line, reason, ""))


@dataclass
class Scope:
    """The variables of one function; `parent` is read (never consumed) for lexical languages."""

    collector: Collector
    parent: Scope | None = None
    vars: dict[str, Var] = field(default_factory=dict)

    def lookup(self, name: str) -> Value | None:
        var = self.vars.get(name)
        if var is not None:
            var.used = True
            return var.value
        if self.parent is not None:
            outer = self.parent._peek(name)
            if outer is not None:
                return outer
        return None

    def _peek(self, name: str) -> Value | None:
        var = self.vars.get(name)
        if var is not None:
            return var.value
        return self.parent._peek(name) if self.parent is not None else None

    def assign(self, name: str, value: Value, depth: int) -> None:
        self._flush(name)
        self.vars[name] = Var(value, depth)

    def append(self, name: str, value: Value, depth: int, conditional: bool = False) -> None:
        var = self.vars.get(name)
        if var is None:
            outer = self.parent._peek(name) if self.parent is not None else None
            if outer is None:
                self.vars[name] = Var(value, depth)
                return
            var = self.vars[name] = Var(outer, depth)
        if conditional or depth > var.depth:
            value = value.under(self.collector.new_condition())
        var.value = var.value + value
        var.used = False

    def use(self, name: str) -> None:
        var = self.vars.get(name)
        if var is not None:
            var.used = True

    def close(self) -> None:
        for name in list(self.vars):
            self._flush(name)
        self.vars.clear()

    def _flush(self, name: str) -> None:
        var = self.vars.get(name)
        if var is not None and not var.used:
            self.collector.emit(var.value)


def _short(sql: str) -> str:
    return sql if len(sql) <= FRAGMENT_WIDTH else sql[: FRAGMENT_WIDTH - 3] + "..."
