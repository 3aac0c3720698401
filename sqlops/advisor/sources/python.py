"""Python: SQL in string literals, read with the standard `ast` module (Python 3 syntax).

The parser already joins implicit adjacent literals (``"SELECT a " "FROM t"``) and splits
f-strings into text and expressions. Handled: ``+`` and ``+=`` onto a variable, f-string
``{x}``, ``%`` formatting and ``str.format`` with known arguments (a constant table name is
substituted), DB-API placeholders ``%s``/``%(name)s`` (and ``%%`` -> ``%``), qmark ``?`` and
named ``:name``. A file that is not Python 3 (a Python 2 script) is reported as unresolved.
"""

from __future__ import annotations

import ast
import itertools
import re

from sqlops.advisor.sources.constants import Constants, Definition
from sqlops.advisor.sources.scope import Collector, Scope
from sqlops.advisor.sources.value import Hole, Piece, Segment, Value, concat, hole, pieces, text

_PARAM = re.compile(r"%%|%\((\w+)\)[sdif]|%[sdif](?!\w)")
_PERCENT = re.compile(r"%%|%\((\w+)\)[-+ 0#]*\d*(?:\.\d+)?[sdifrx]|%[-+ 0#]*\d*(?:\.\d+)?[sdifrx]")
_FORMAT = re.compile(r"\{\{|\}\}|\{([^{}]*)\}")
_VALUE_CALLS = frozenset({"int", "float", "str", "bool", "escape_string", "literal", "quote", "len"})


def prepare(src: str) -> ast.Module | SyntaxError:
    try:
        return ast.parse(src)
    except SyntaxError as exc:
        return exc
    except ValueError as exc:  # NUL bytes
        return SyntaxError(str(exc))


def _looks_constant(name: str) -> bool:
    return len(name) > 1 and name.isupper() and not name[0].isdigit()


def collect_constants(tree: ast.Module | SyntaxError, file: str, constants: Constants) -> None:
    """Module- and class-level ``TABLE_X = "x"`` (UPPER_CASE names only: constants by convention)."""
    if isinstance(tree, SyntaxError):
        return
    # Class attributes too (`self.TABLE`, `Model.TABLE` resolve by name; two classes with
    # different values make the name ambiguous, which is then reported, not guessed).
    nodes = list(tree.body) + [n for c in tree.body if isinstance(c, ast.ClassDef) for n in c.body]
    for node in nodes:
        if (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
            and _looks_constant(node.targets[0].id)
        ):
            expr = node.value

            def evaluate(expr: ast.expr = expr) -> Value:
                return _Scanner(Collector(file, "python"), constants).expr(expr)

            constants.define(f"python:{node.targets[0].id}", Definition(file, node.lineno, evaluate))


def scan(
    tree: ast.Module | SyntaxError, file: str, constants: Constants, src: str | None = None
) -> Collector:
    collector = Collector(file, "python", named_params=True)
    if isinstance(tree, SyntaxError):
        collector.unresolved_file(
            tree.lineno or 1, f"not Python 3 syntax ({tree.msg}); SQL in this file was not read"
        )
        return collector
    scanner = _Scanner(collector, constants, src)
    scanner.body(tree.body, 0)
    scanner.scope.close()
    return collector


class _Scanner:
    def __init__(self, collector: Collector, constants: Constants, src: str | None = None) -> None:
        self.lines = src.split("\n") if src is not None else None
        self.collector = collector
        self.constants = constants
        self.scope = Scope(collector)

    # -- statements ----------------------------------------------------------------------

    def body(self, stmts: list[ast.stmt], depth: int) -> None:
        for node in stmts:
            self.stmt(node, depth)

    def stmt(self, node: ast.stmt, depth: int) -> None:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            outer = self.scope
            self.scope = Scope(self.collector)
            self.body(node.body, 0)
            self.scope.close()
            self.scope = outer
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            target = node.targets[0] if isinstance(node, ast.Assign) and len(node.targets) == 1 else None
            if isinstance(node, ast.AnnAssign):
                target = node.target
            name = _target(target)
            if node.value is None:
                return
            if name is None:
                self.use(node.value)
            else:
                self.scope.assign(name, self.expr(node.value), depth)
        elif isinstance(node, ast.AugAssign):
            name = _target(node.target)
            if name is not None and isinstance(node.op, ast.Add):
                self.scope.append(name, self.expr(node.value), depth)
            else:
                self.use(node.value)
        elif isinstance(node, ast.Expr | ast.Return):
            self.use(node.value)
        elif isinstance(node, ast.If | ast.While):
            self.use(node.test)
            self.body(node.body, depth + 1)
            self.body(node.orelse, depth + 1)
        elif isinstance(node, ast.For | ast.AsyncFor):
            self.use(node.iter)
            self.body(node.body, depth + 1)
            self.body(node.orelse, depth + 1)
        elif isinstance(node, ast.With | ast.AsyncWith):
            for item in node.items:
                self.use(item.context_expr)
            self.body(node.body, depth)
        elif isinstance(node, ast.Try):
            self.body(node.body, depth)
            for handler in node.handlers:
                self.body(handler.body, depth + 1)
            self.body(node.orelse, depth + 1)
            self.body(node.finalbody, depth)
        elif isinstance(node, ast.Match):
            self.use(node.subject)
            for case in node.cases:
                self.body(case.body, depth + 1)
        else:
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.expr):
                    self.use(child)
                elif isinstance(child, ast.stmt):
                    self.stmt(child, depth + 1)

    def use(self, node: ast.expr | None) -> None:
        if node is not None:
            self.collector.emit(self.expr(node), getattr(node, "lineno", None))

    # -- expressions ---------------------------------------------------------------------

    def expr(self, node: ast.expr) -> Value:
        line = getattr(node, "lineno", None)
        if isinstance(node, ast.Constant):
            if isinstance(node.value, str):
                return _params(node.value, line)
            if isinstance(node.value, bytes):
                return _params(node.value.decode("latin-1"), line)
            if isinstance(node.value, int | float) and not isinstance(node.value, bool):
                return text(repr(node.value))
            return hole(Hole(f"value {node.value!r}", repr(node.value), value_like=True))
        if isinstance(node, ast.JoinedStr):
            parts = []
            for v in node.values:
                if isinstance(v, ast.FormattedValue):
                    inner = self.expr(v.value)
                    if not inner.segments or (
                        inner.literal() is None and not isinstance(v.value, ast.Name | ast.Attribute)
                    ):
                        inner = hole(
                            Hole(f"f-string expression {{{ast.unparse(v.value)}}}", ast.unparse(v.value))
                        )
                    parts.append(inner)
                else:
                    parts.append(self.expr(v))
            return Value(concat(parts).segments, line)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            return self.expr(node.left) + self.expr(node.right)
        if (
            isinstance(node, ast.BinOp)
            and isinstance(node.op, ast.Mod)
            and isinstance(node.left, ast.Constant)
            and isinstance(node.left.value, str)
        ):
            return self._percent(node.left.value, node.right, line)
        if isinstance(node, ast.Call):
            return self._call(node, line)
        if isinstance(node, ast.IfExp):  # a if c else b: one statement per alternative
            self.use(node.test)
            return Value.choice(
                [self.expr(node.body), self.expr(node.orelse)], self.collector.new_condition()
            )
        if isinstance(node, ast.Name):
            found = self.scope.lookup(node.id)
            if found is not None:
                return found
            if f"python:{node.id}" in self.constants or _looks_constant(node.id):
                return self.constants.value(f"python:{node.id}", node.id)
            return hole(Hole(f"variable {node.id}", node.id))
        if isinstance(node, ast.Attribute):
            dotted = ast.unparse(node)
            found = self.scope.lookup(dotted)
            if found is not None:
                return found
            if _looks_constant(node.attr) and not isinstance(node.value, ast.Call):
                return self.constants.value(f"python:{node.attr}", dotted)
            self.use(node.value) if isinstance(node.value, ast.Call) else None
            return hole(Hole(f"variable {dotted}", dotted))
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.expr):
                self.use(child)
        shown = self.source(node)
        return hole(Hole(f"expression {shown}", shown))

    def source(self, node: ast.expr) -> str:
        """The expression as written (first line, shortened): cheaper than ast.unparse."""
        if self.lines is None or getattr(node, "end_lineno", None) is None:
            return type(node).__name__
        line = self.lines[node.lineno - 1].encode()
        end = node.end_col_offset if node.end_lineno == node.lineno else len(line)
        text = line[node.col_offset : end].decode("utf-8", "replace").strip()
        return text if len(text) <= 40 and node.end_lineno == node.lineno else text[:37] + "..."

    def _call(self, node: ast.Call, line: int | None) -> Value:
        func = node.func
        if (
            isinstance(func, ast.Attribute)
            and func.attr == "format"
            and isinstance(func.value, ast.Constant)
            and isinstance(func.value.value, str)
        ):
            args = [self.expr(a) for a in node.args]
            kwargs = {k.arg: self.expr(k.value) for k in node.keywords if k.arg}
            return self._format(func.value.value, args, kwargs, line)
        for a in node.args:
            self.use(a)
        for k in node.keywords:
            self.use(k.value)
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        shown = f"{self.source(func)}()"
        if isinstance(func, ast.Attribute) and func.attr == "join":
            return hole(Hole("join() of values not known statically", shown))
        if isinstance(func, ast.Attribute):
            self.use(func.value) if isinstance(func.value, ast.Call) else None
        return hole(Hole(f"function result {shown}", shown, value_like=name in _VALUE_CALLS))

    def _percent(self, fmt: str, right: ast.expr, line: int | None) -> Value:
        if isinstance(right, ast.Tuple):
            args: list[Value] | dict[str, Value] = [self.expr(e) for e in right.elts]
        elif isinstance(right, ast.Dict):
            args = {
                k.value: self.expr(v)
                for k, v in zip(right.keys, right.values, strict=True)
                if isinstance(k, ast.Constant) and isinstance(k.value, str)
            }
        else:
            args = [self.expr(right)]
        out: list[Value] = []
        pos = 0
        n = 0
        for m in _PERCENT.finditer(fmt):
            out.append(_params(fmt[pos : m.start()], None, convert=False))
            pos = m.end()
            if m.group() == "%%":
                out.append(text("%"))
                continue
            if m.group(1) is not None and isinstance(args, dict) and m.group(1) in args:
                out.append(args[m.group(1)])
            elif m.group(1) is None and isinstance(args, list) and n < len(args):
                out.append(args[n])
            else:
                out.append(hole(Hole(f"formatted value {m.group()}", m.group())))
            n += 1
        out.append(text(fmt[pos:]))
        return _reparam(concat(out), line)

    def _format(self, fmt: str, args: list[Value], kwargs: dict[str, Value], line: int | None) -> Value:
        out: list[Value] = []
        pos = 0
        auto = 0
        for m in _FORMAT.finditer(fmt):
            out.append(text(fmt[pos : m.start()]))
            pos = m.end()
            if m.group() in ("{{", "}}"):
                out.append(text(m.group()[0]))
                continue
            field = re.split(r"[!:]", m.group(1), maxsplit=1)[0]
            value: Value | None = None
            if field == "":
                value = args[auto] if auto < len(args) else None
                auto += 1
            elif field.isdigit():
                value = args[int(field)] if int(field) < len(args) else None
            else:
                value = kwargs.get(field)
            out.append(value if value is not None else hole(Hole(f"format field {m.group()}", m.group())))
        out.append(text(fmt[pos:]))
        return _reparam(concat(out), line)


def _target(node: ast.expr | None) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        return ast.unparse(node)
    return None


def _params(s: str, line: int | None, convert: bool = True) -> Value:
    """Literal text with DB-API ``%s``/``%(name)s`` placeholders as value holes (``%%`` is
    then a literal ``%``); text without placeholders is kept as it is."""
    if not convert or not any(m.group() != "%%" for m in _PARAM.finditer(s)):
        return text(s, line)
    parts: list[Piece] = []
    pos = 0
    for m in _PARAM.finditer(s):
        parts.append(s[pos : m.start()])
        pos = m.end()
        if m.group() == "%%":
            parts.append("%")
        else:
            parts.append(Hole(f"parameter {m.group()}", m.group(), value_like=True))
    parts.append(s[pos:])
    return pieces(parts, line)


def _reparam(value: Value, line: int | None) -> Value:
    """After ``%`` or ``format`` substitution the text may hold DB-API placeholders (``%%s``
    became ``%s``): re-read the joined text of each run of unconditional/same-condition parts."""
    out: list[Segment] = []
    for cond, group in itertools.groupby(value.segments, key=lambda seg: seg.cond):
        parts: list[Piece] = []
        buf: list[str] = []
        for p in [p for seg in group for p in seg.pieces] + [None]:
            if isinstance(p, str):
                buf.append(p)
                continue
            if buf:
                parts += [q for s in _params("".join(buf), None).segments for q in s.pieces]
                buf = []
            if p is not None:
                parts.append(p)
        out.append(Segment(tuple(parts), cond))
    return Value(tuple(out), line)
