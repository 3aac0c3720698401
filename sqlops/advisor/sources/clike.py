"""The evaluator PHP and Perl share: statements, blocks, assignments and ``.`` concatenation.

It walks the token list once, keeping a variable scope per function (``function``/``sub``)
and the block depth inside it. ``$sql = ...`` assigns, ``$sql .= ...`` appends (conditionally
when written in a deeper block than the assignment, or under a Perl statement modifier
``... if $x``, or as the body of a brace-less ``if (...)``). A string expression is a chain of
operands joined by ``.``: literals, variables, constants, casts, calls; whatever a chain
passes to a call, returns or echoes is reported (see `scope.py`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sqlops.advisor.sources.constants import Constants
from sqlops.advisor.sources.scope import Collector, Scope
from sqlops.advisor.sources.tokens import Interp, Tok
from sqlops.advisor.sources.value import Hole, Value, concat, hole, text


@dataclass(frozen=True)
class Dialect:
    language: str
    lexical: bool  # functions see file-level variables (Perl `my` at file level)
    func_keywords: frozenset[str]
    class_keywords: frozenset[str]
    modifiers: frozenset[str]  # words before an assigned variable: my, our, static, ...
    control: frozenset[str]  # if/while/...: a brace-less body is conditional
    postfix: frozenset[str]  # Perl statement modifiers
    keywords: frozenset[str]  # words that are never operands
    value_calls: frozenset[str]  # casts and quote/escape calls: their result is a value
    list_calls: frozenset[str]  # implode/join: a list of unknown fragments
    bare_calls: bool  # a lowercase bareword is a call (Perl `time`) rather than nothing


@dataclass
class _Frame:
    kind: str  # func | class | block
    scope: Scope
    depth: int
    class_name: str | None


@dataclass
class Evaluator:
    dialect: Dialect
    collector: Collector
    constants: Constants
    scope: Scope = field(init=False)
    depth: int = 0
    class_name: str | None = None

    def __post_init__(self) -> None:
        self.scope = Scope(self.collector)

    # -- blocks and statements -----------------------------------------------------------

    def run(self, toks: list[Tok]) -> None:
        frames: list[_Frame] = []
        stmt: list[Tok] = []
        for tok in toks:
            if tok.kind != "op" or tok.text not in ";{}":
                stmt.append(tok)
                continue
            if tok.text == ";":
                self.statement(stmt)
            elif tok.text == "{":
                kind, name = self._block_kind(stmt)
                frames.append(_Frame(kind, self.scope, self.depth, self.class_name))
                if kind == "func":
                    self.scope = Scope(self.collector, self.scope if self.dialect.lexical else None)
                    self.depth = 0
                elif kind == "class":
                    self.class_name = name
                else:
                    self.statement(stmt)  # if (...), foreach (...): their expressions are uses
                    self.depth += 1
            else:
                self.statement(stmt)
                if frames:
                    self._leave(frames.pop())
            stmt = []
        self.statement(stmt)
        while frames:
            self._leave(frames.pop())
        self.scope.close()

    def _leave(self, frame: _Frame) -> None:
        if frame.kind == "func":
            self.scope.close()
        self.scope, self.depth, self.class_name = frame.scope, frame.depth, frame.class_name

    def _block_kind(self, stmt: list[Tok]) -> tuple[str, str | None]:
        for n, t in enumerate(stmt):
            if t.kind == "name" and t.text.lower() in self.dialect.func_keywords:
                return "func", None
            if t.kind == "name" and t.text.lower() in self.dialect.class_keywords:
                after = stmt[n + 1] if n + 1 < len(stmt) else None
                return "class", after.text if after is not None and after.kind == "name" else None
        return "block", None

    def statement(self, stmt: list[Tok], conditional: bool = False) -> None:
        if not stmt:
            return
        first = stmt[0]
        if first.is_op(":"):  # PHP `if (...):` / `else:` alternative syntax
            self.statement(stmt[1:], conditional)
            return
        if first.is_name("case", "default") and self.dialect.language == "php":
            colon = next((k for k, t in enumerate(stmt) if t.is_op(":")), len(stmt))
            self.statement(stmt[colon + 1 :], conditional=True)  # a switch case is conditional
            return
        if first.kind == "name" and first.text.lower() in self.dialect.control:
            i = 1
            if i < len(stmt) and stmt[i].is_op("("):
                close = _matching(stmt, i)
                self.uses(stmt[i + 1 : close])
                i = close + 1
            self.statement(stmt[i:], conditional=True)
            return
        cond = conditional or any(
            t.kind == "name" and t.text.lower() in self.dialect.postfix for t in stmt[1:]
        )
        i = 0
        while i < len(stmt) and stmt[i].kind == "name" and stmt[i].text.lower() in self.dialect.modifiers:
            i += 1
        if i + 1 < len(stmt) and stmt[i].kind == "var" and stmt[i + 1].is_op("=", ".="):
            target, op = stmt[i].text, stmt[i + 1].text
            value, j = self.chain(stmt, i + 2)
            if value is not None and not self.complete(stmt, j):
                end = self._expression_end(stmt, i + 2, stop_at_ternary=False)
                value, j = self.ternary(stmt, i + 2, end), end
            if value is not None:
                if op == "=":
                    self.scope.assign(target, value, self.depth)
                else:
                    self.scope.append(target, value, self.depth, conditional=cond)
            self.uses(stmt, j if value is not None else i + 2)
            return
        self.uses(stmt, i)

    def uses(self, stmt: list[Tok], i: int = 0) -> None:
        """Report every string expression in `stmt[i:]` (call arguments, return, echo)."""
        while i < len(stmt):
            value, j = self.chain(stmt, i)
            if value is not None and j > i:
                self.collector.emit(value, stmt[i].line)
                i = j
            else:
                i += 1

    # -- expressions ---------------------------------------------------------------------

    def chain(self, stmt: list[Tok], i: int) -> tuple[Value | None, int]:
        """Operands joined by ``.``. An operand followed by arithmetic (``$page * 50``, which
        binds tighter than ``.`` in PHP 8 and Perl) or that is no string expression at all
        becomes one opaque hole, so no literal text after it is lost."""
        value, j = self.operand(stmt, i)
        if value is None:
            return None, i
        parts: list[Value] = []
        start = i
        while True:
            if j < len(stmt) and stmt[j].is_op(*_ARITHMETIC):
                k = self._expression_end(stmt, j)
                self.uses(stmt[j:k])
                value = _opaque(stmt[start:k])
                j = k
            parts.append(value)
            if not (j + 1 < len(stmt) and stmt[j].is_op(".")):
                break
            start = j + 1
            more, k = self.operand(stmt, start)
            if more is None:
                k = self._expression_end(stmt, start)
                if k == start:
                    break
                self.uses(stmt[start:k])
                more = _opaque(stmt[start:k])
            value, j = more, k
        return concat(parts), j

    def complete(self, stmt: list[Tok], j: int) -> bool:
        """True when a chain ending at `j` is the whole right-hand side (not `$a ? .. : ..`)."""
        if j >= len(stmt):
            return True
        t = stmt[j]
        return t.is_op(*_BOUNDARY) or (t.kind == "name" and t.text.lower() in _BOUNDARY_WORDS)

    def ternary(self, stmt: list[Tok], start: int, end: int) -> Value:
        """`cond ? a : b` over stmt[start:end] as a choice of a and b when both are string
        chains; anything else (a comparison, ``?:``) is one opaque hole. What the expression
        passes to calls is reported either way."""
        toks = stmt[start:end]
        q = _top_level(toks, "?")
        colon = _top_level(toks, ":", q + 1) if q >= 0 else -1
        if q > 0 and colon > q + 1:
            self.uses(toks[:q])
            a, ja = self.chain(toks, q + 1)
            b, jb = self.chain(toks, colon + 1)
            if a is not None and b is not None and ja == colon and jb == len(toks):
                return Value.choice([a, b], self.collector.new_condition())
        self.uses(toks)
        return _opaque(toks)

    def _expression_end(self, stmt: list[Tok], j: int, stop_at_ternary: bool = True) -> int:
        depth = 0
        k = j
        while k < len(stmt):
            t = stmt[k]
            if t.is_op("(", "["):
                depth += 1
            elif t.is_op(")", "]"):
                if depth == 0:
                    break
                depth -= 1
            elif depth == 0 and (
                (stop_at_ternary and t.is_op(".", "?", ":"))
                or t.is_op(*_BOUNDARY)
                or (t.kind == "name" and t.text.lower() in _BOUNDARY_WORDS)
            ):
                break
            k += 1
        return k

    def operand(self, stmt: list[Tok], i: int) -> tuple[Value | None, int]:
        if i >= len(stmt):
            return None, i
        t = stmt[i]
        nxt = stmt[i + 1] if i + 1 < len(stmt) else None
        if t.kind == "str":
            return self.string(t), i + 1
        if t.kind == "num":
            return text(t.text), i + 1
        if t.kind == "cast":
            inner, j = self.operand(stmt, i + 1)
            shown = t.text + (stmt[i + 1].text if i + 1 < len(stmt) else "")
            return hole(Hole(f"cast {shown}", shown, value_like=True)), max(j, i + 1)
        if t.kind == "var":
            if nxt is not None and nxt.is_op("("):
                return self.call(t.text, stmt, i + 1, method=True)
            value = self.scope.lookup(t.text)
            if value is not None:
                return value, i + 1
            return hole(Hole(f"variable {t.text}", t.text)), i + 1
        if t.kind == "name":
            word = t.text
            if word.lower() in self.dialect.keywords:
                return None, i
            if nxt is not None and nxt.is_op("("):
                return self.call(word, stmt, i + 1)
            key = self.constant_key(word)
            if key is not None:
                return self.constants.value(key, word), i + 1
            if self.dialect.bare_calls and not (nxt is not None and nxt.is_op("=>")):
                return hole(Hole(f"function result {word}", word)), i + 1
            return None, i
        if t.is_op("("):
            inner, j = self.chain(stmt, i + 1)
            if inner is not None and j < len(stmt) and stmt[j].is_op(")"):
                return inner, j + 1
            close = _matching(stmt, i)
            return self.ternary(stmt, i + 1, close), min(close + 1, len(stmt))
        return None, i

    def call(self, name: str, stmt: list[Tok], open_at: int, method: bool = False) -> tuple[Value, int]:
        close = _matching(stmt, open_at)
        args = stmt[open_at + 1 : close]
        short = name.rsplit("->", 1)[-1].lower() if method else name.lower()
        shown = f"{name}()"
        if short == "sprintf" and args and args[0].kind == "str":
            parts = split_args(args)
            if len(parts[0]) == 1 and all(isinstance(p, str) for p in parts[0][0].parts):
                values = []
                for arg in parts[1:]:
                    value, j = self.chain(arg, 0)
                    if value is None or j != len(arg):
                        self.uses(arg)
                        value = _opaque(arg)
                    values.append(value)
                fmt = "".join(p for p in parts[0][0].parts if isinstance(p, str))
                return printf(fmt, values, parts[0][0].line), close + 1
        if not method and not args:
            key = self.constant_key(name, called=True)
            if key is not None and key in self.constants:
                return self.constants.value(key, name), close + 1
        self.uses(args)
        if short in self.dialect.value_calls:
            return hole(Hole(f"{shown}", shown, value_like=True)), close + 1
        if short in self.dialect.list_calls:
            return hole(Hole(f"{short}() of values not known statically", shown)), close + 1
        return hole(Hole(f"function result {shown}", shown)), close + 1

    def constant_key(self, word: str, called: bool = False) -> str | None:
        """The constants-table key of `word` when it names a constant, else None."""
        lang = self.dialect.language
        if "::" in word and lang == "php":
            owner, _, const = word.rpartition("::")
            if owner.lower() in ("self", "static") and self.class_name:
                owner = self.class_name
            elif owner.lower() == "parent" and self.class_name:
                owner = self.constants.parents.get(self.class_name, owner)
            return self.constants.class_key(lang, owner.lstrip("\\"), const)
        name = word.rsplit("::", 1)[-1] if lang == "perl" else word.lstrip("\\")
        key = f"{lang}:{name}"
        if key in self.constants or _looks_constant(name):
            return key
        return None

    def string(self, t: Tok) -> Value:
        parts: list[Value] = []
        for p in t.parts:
            if isinstance(p, str):
                parts.append(text(p))
            else:
                parts.append(self.interpolate(p))
        value = concat(parts)
        return Value(value.segments, t.line)

    def interpolate(self, p: Interp) -> Value:
        if p.tokens:
            value, j = self.chain(list(p.tokens), 0)
            if value is not None and j == len(p.tokens):
                return value
            return hole(Hole(f"expression {p.expr}", p.expr))
        if p.name is not None:
            value = self.scope.lookup(p.name)
            if value is not None:
                return value
            return hole(Hole(f"variable {p.expr}", p.expr))
        kind = "list" if p.expr.startswith("@") else "expression"
        return hole(Hole(f"{kind} {p.expr}", p.expr))


_ARITHMETIC = ("+", "-", "*", "/", "%", "**")
_BOUNDARY = (",", ")", "]", ";", "=>", "||", "&&", "//")
_BOUNDARY_WORDS = frozenset({"or", "and", "xor", "if", "unless", "while", "until", "for", "foreach", "as"})


def _opaque(toks: list[Tok]) -> Value:
    """An expression the evaluator does not follow; a value when no string is in it."""
    shown = " ".join(t.text for t in toks)
    if len(shown) > 40:
        shown = shown[:37] + "..."
    value_like = not any(t.kind == "str" for t in toks)
    return hole(Hole(f"expression {shown}", shown, value_like=value_like))


_PRINTF = re.compile(r"%%|%(?:(\d+)\$)?[-+ 0#]*(?:'.)?\d*(?:\.\d+)?([bcdeEfFgGosuxX])")


def printf(fmt: str, args: list[Value], line: int) -> Value:
    """``sprintf(fmt, ...)`` with a literal format: each conversion becomes its argument
    (``%1$s`` positional too); a numeric conversion of an unknown value is a value."""
    out: list[Value] = []
    pos = 0
    auto = 0
    for m in _PRINTF.finditer(fmt):
        out.append(text(fmt[pos : m.start()]))
        pos = m.end()
        if m.group() == "%%":
            out.append(text("%"))
            continue
        index = int(m.group(1)) - 1 if m.group(1) else auto
        auto += 0 if m.group(1) else 1
        if index < len(args):
            arg = args[index]
            if m.group(2) not in "sc" and arg.literal() is None:
                arg = hole(Hole(f"number formatted by {m.group()}", m.group(), value_like=True))
            out.append(arg)
        else:
            out.append(hole(Hole(f"missing sprintf argument {m.group()}", m.group())))
    out.append(text(fmt[pos:]))
    return Value(concat(out).segments, line)


def _looks_constant(name: str) -> bool:
    """TABLE_CUSTOMERS, DB_PREFIX: upper case with at least two letters."""
    return len(name) > 1 and name.isupper() and name.replace("_", "").isalnum() and not name[0].isdigit()


def _top_level(toks: list[Tok], op: str, start: int = 0) -> int:
    """Index of the first `op` outside brackets in toks[start:], or -1."""
    depth = 0
    for k in range(start, len(toks)):
        t = toks[k]
        if t.is_op("(", "["):
            depth += 1
        elif t.is_op(")", "]"):
            depth -= 1
        elif depth == 0 and t.is_op(op):
            return k
    return -1


def _matching(stmt: list[Tok], open_at: int) -> int:
    """Index of the bracket closing stmt[open_at] (or the end of the statement)."""
    pairs = {"(": ")", "[": "]"}
    want = pairs[stmt[open_at].text]
    depth = 0
    for k in range(open_at, len(stmt)):
        if stmt[k].is_op(stmt[open_at].text):
            depth += 1
        elif stmt[k].is_op(want):
            depth -= 1
            if depth == 0:
                return k
    return len(stmt)


def split_args(args: list[Tok]) -> list[list[Tok]]:
    """Call arguments split at top-level commas (and Perl's ``=>``)."""
    out: list[list[Tok]] = [[]]
    depth = 0
    for t in args:
        if t.is_op("(", "["):
            depth += 1
        elif t.is_op(")", "]"):
            depth -= 1
        if depth == 0 and t.is_op(",", "=>"):
            out.append([])
            continue
        out[-1].append(t)
    return out if out != [[]] else []


__all__ = ["Dialect", "Evaluator", "Interp", "Tok", "split_args"]
