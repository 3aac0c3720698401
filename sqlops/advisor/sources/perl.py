"""Perl: a lexer good enough for the SQL in CGI scripts and modules, and ``use constant``.

Strings: ``'..'``, ``".."``, ``q{}``/``qq{}`` with any delimiter (bracket pairs nest),
heredocs ``<<"EOT"``, ``<<'EOT'``, ``<<EOT``, ``<<~EOT`` (the terminator's indentation is
removed from every line, as Perl does). Interpolation of ``$x``, ``${x}``, ``$h{k}``,
``$r->{k}[0]``, ``@list`` (an unknown value) and ``@{[ expr ]}`` (evaluated: a constant
there resolves). Regexes (``m//``, ``s///``, ``qr//``, ``tr///``, a bare ``/../``), POD and
everything after ``__END__`` are skipped.
"""

from __future__ import annotations

import re

from sqlops.advisor.sources.clike import Dialect, Evaluator
from sqlops.advisor.sources.constants import Constants, Definition
from sqlops.advisor.sources.scope import Collector
from sqlops.advisor.sources.tokens import Interp, Tok
from sqlops.advisor.sources.value import Hole, Value, hole

DIALECT = Dialect(
    language="perl",
    lexical=True,
    func_keywords=frozenset({"sub"}),
    class_keywords=frozenset(),
    modifiers=frozenset({"my", "our", "local", "state"}),
    control=frozenset({"if", "elsif", "else", "unless", "while", "until", "for", "foreach"}),
    postfix=frozenset({"if", "unless", "while", "until", "for", "foreach"}),
    keywords=frozenset(
        {"return", "print", "printf", "say", "my", "our", "local", "state", "if", "unless", "elsif"}
        | {"else", "while", "until", "for", "foreach", "and", "or", "not", "xor", "eq", "ne", "lt"}
        | {"gt", "le", "ge", "cmp", "x", "die", "warn", "sub", "use", "no", "package", "require"}
        | {"undef", "defined", "last", "next", "redo", "do", "eval", "exists", "delete", "ref"}
    ),
    value_calls=frozenset({"quote", "int", "time", "lc", "uc", "abs", "length", "scalar"}),
    list_calls=frozenset({"join"}),
    bare_calls=True,
)

_IDENT = re.compile(r"[A-Za-z_]\w*(?:::\w+)*")
_NUMBER = re.compile(r"0[xX][0-9a-fA-F_]+|\d[\d_]*(?:\.\d+)?(?:[eE][+-]?\d+)?")
_HEREDOC = re.compile(r"<<(~?)(?:\"([^\"\n]*)\"|'([^'\n]*)'|([A-Za-z_]\w*))")
_QUOTE_OPS = frozenset({"q", "qq", "qw", "qr", "m", "s", "tr", "y"})
_PAIRS = {"(": ")", "[": "]", "{": "}", "<": ">"}
_REGEX_AFTER = frozenset(
    {"split", "grep", "map", "join", "and", "or", "not", "if", "unless", "return", "when"}
)
_OPS = (
    "<=>", "...", "**=", "||=", "//=", ".=", "+=", "-=", "x=", "=~", "!~", "->", "=>", "::", "==", "!=",
    "<=", ">=", "&&", "||", "//", "**", "..", "++", "--",
)  # fmt: skip
_OP = re.compile("|".join(re.escape(o) for o in _OPS) + "|.", re.S)
_SPACE = re.compile(r"[^\S\n]+")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", "e": "\x1b", "a": "\a", "f": "\f"}
_SPECIAL_VAR = re.compile(r"\$(?:#\{|#?[A-Za-z_]\w*(?:::\w+)*|\{\^?\w+\}|[0-9]+|[_@!$&;,./\\0])")


def lex(src: str, line: int = 1) -> list[Tok]:
    toks: list[Tok] = []
    i, n = 0, len(src)
    pending: list[tuple[int, str, str, bool]] = []  # (token index, terminator, quote, indented)
    while i < n:
        c = src[i]
        if i == 0 or src[i - 1] == "\n":
            if c == "=" and re.match(r"=[A-Za-z]", src[i : i + 2]):
                m = re.compile(r"^=cut\b.*$", re.M).search(src, i)
                j = n if m is None else m.end()
                line += src.count("\n", i, j)
                i = j
                continue
            if src.startswith(("__END__", "__DATA__"), i):
                break
        if c == "\n":
            line += 1
            i += 1
            if pending:
                i, line = _heredoc_bodies(src, i, line, pending, toks)
                pending = []
            continue
        if c.isspace():
            i = _SPACE.match(src, i).end()  # type: ignore[union-attr]
            continue
        if c == "#":
            j = src.find("\n", i)
            i = n if j < 0 else j
            continue
        prev = toks[-1] if toks else None
        if c == "$" and (m := _SPECIAL_VAR.match(src, i)) is not None:
            j = m.end()
            if m.group().endswith("{") or m.group() == "$":
                j = _balanced(src, j - 1) if src[j - 1] == "{" else j
            j = _subscripts(src, j)
            toks.append(Tok("var", _normal(src[i:j]), line))
            i = j
        elif c == "@" and i + 1 < n and (src[i + 1] in "{$" or _IDENT.match(src, i + 1)):
            j = _balanced(src, i + 1) if src[i + 1] == "{" else _var_name_end(src, i + 1)
            toks.append(Tok("var", _normal(src[i:j]), line))
            i = j
        elif c == "'":
            body, j = _delimited(src, i + 1, "'")
            toks.append(Tok("str", src[i:j], line, (_single(body, "'"),)))
            line += src.count("\n", i, j)
            i = j
        elif c == '"':
            body, j = _delimited(src, i + 1, '"')
            toks.append(Tok("str", src[i:j], line, tuple(interpolate(body, '"', line))))
            line += src.count("\n", i, j)
            i = j
        elif c == "`":
            _body, j = _delimited(src, i + 1, "`")
            line += src.count("\n", i, j)
            i = j
        elif (m := _HEREDOC.match(src, i)) is not None and not (prev and prev.kind in ("var", "num")):
            label = (
                m.group(2) if m.group(2) is not None else m.group(3) if m.group(3) is not None else m.group(4)
            )
            quote = "'" if m.group(3) is not None else '"'
            pending.append((len(toks), label, quote, m.group(1) == "~"))
            toks.append(Tok("str", "", line, ()))
            i = m.end()
        elif (m := _IDENT.match(src, i)) is not None:
            word = m.group()
            j = m.end()
            if word in _QUOTE_OPS and _quote_delimiter(src, j):
                tok, j = _quote_like(src, j, word, line)
                if tok is not None:
                    toks.append(tok)
                line += src.count("\n", i, j)
                i = j
                continue
            toks.append(Tok("name", word, line))
            i = j
        elif (
            c == "&" and i + 1 < n and _IDENT.match(src, i + 1) and not (prev and prev.kind in ("var", "num"))
        ):
            m2 = _IDENT.match(src, i + 1)
            assert m2 is not None
            toks.append(Tok("name", m2.group(), line))
            i = m2.end()
        elif c.isdigit() and (m := _NUMBER.match(src, i)) is not None:
            toks.append(Tok("num", m.group(), line))
            i = m.end()
        elif c == "/" and not _division(prev):
            _body, j = _delimited(src, i + 1, "/")
            j = _flags(src, j)
            line += src.count("\n", i, j)
            toks.append(Tok("words", src[i:j], line))
            i = j
        else:
            op = _OP.match(src, i).group()  # type: ignore[union-attr]
            toks.append(Tok("op", op, line))
            i += len(op)
    return toks


def _division(prev: Tok | None) -> bool:
    if prev is None:
        return False
    if prev.kind in ("var", "num", "str"):
        return True
    if prev.kind == "name":
        return prev.text not in _REGEX_AFTER
    return prev.is_op(")", "]", "}")


def _heredoc_bodies(
    src: str, i: int, line: int, pending: list[tuple[int, str, str, bool]], toks: list[Tok]
) -> tuple[int, int]:
    for index, label, quote, indented in pending:
        pattern = (
            r"^([ \t]*)" + re.escape(label) + r"[ \t]*\r?$" if indented else r"^" + re.escape(label) + r"\r?$"
        )
        m = re.compile(pattern, re.M).search(src, i)
        if m is None:
            body, end, indent = src[i:], len(src), ""
        else:
            body, end, indent = src[i : m.start()], m.end(), (m.group(1) if indented else "")
        if indent:
            body = "".join(ln[len(indent) :] if ln.startswith(indent) else ln for ln in body.splitlines(True))
        start_line = toks[index].line
        parts: list[str | Interp] = [body] if quote == "'" else interpolate(body, None, start_line)
        toks[index] = Tok("str", f"<<{label}", start_line, tuple(parts))
        line += src.count("\n", i, end)
        i = end + 1 if end < len(src) and src[end] == "\n" else end
        if end < len(src) and src[end] == "\n":
            line += 1
    return i, line


def _quote_delimiter(src: str, j: int) -> bool:
    """True when the word before `j` (q, qq, s, m, ...) starts a quote: ``q{``, ``s/a/b/``,
    ``qq (..)``; not a hash key ``s => 1``, a call ``y(...)`` after space is still a quote."""
    k = j
    while k < len(src) and src[k] in " \t":
        k += 1
    if k >= len(src):
        return False
    c = src[k]
    if c.isalnum() or c == "_" or c in "=,;)" or (c == "#" and k > j):
        return False
    return not (c == "-" and src.startswith("->", k))


def _quote_like(src: str, j: int, word: str, line: int) -> tuple[Tok | None, int]:
    while j < len(src) and src[j] in " \t\n":
        j += 1
    if j >= len(src):
        return None, j
    delim = src[j]
    body, k = _delimited(src, j + 1, delim)
    if word in ("s", "tr", "y"):
        if delim in _PAIRS:
            while k < len(src) and src[k].isspace():
                k += 1
            if k < len(src):
                _second, k = _delimited(src, k + 1, src[k])
        else:
            _second, k = _delimited(src, k, delim)
    if word in ("m", "qr", "s", "tr", "y"):
        return Tok("words", src[j:k], line), _flags(src, k)
    if word == "qw":
        return Tok("words", body, line), k
    if word == "q":
        return Tok("str", src[j:k], line, (_single(body, _PAIRS.get(delim, delim)),)), k
    return Tok("str", src[j:k], line, tuple(interpolate(body, _PAIRS.get(delim, delim), line))), k


def _flags(src: str, j: int) -> int:
    while j < len(src) and src[j].isalpha():
        j += 1
    return j


def _delimited(src: str, i: int, opening: str) -> tuple[str, int]:
    """The body from `i` up to the closing delimiter (bracket pairs nest); returns (body, end)."""
    closing = _PAIRS.get(opening, opening)
    depth = 1
    j = i
    while j < len(src):
        c = src[j]
        if c == "\\":
            j += 2
            continue
        if c == closing:
            depth -= 1
            if depth == 0:
                return src[i:j], j + 1
        elif c == opening:
            depth += 1
        j += 1
    return src[i:], len(src)


def _single(body: str, delim: str) -> str:
    return re.sub(r"\\([\\" + re.escape(delim) + r"])", r"\1", body)


def _balanced(src: str, i: int) -> int:
    """End of the bracket group opening at src[i]."""
    _body, j = _delimited(src, i + 1, src[i])
    return j


def _var_name_end(src: str, i: int) -> int:
    if src[i] == "$":
        i += 1
    m = _IDENT.match(src, i)
    return m.end() if m else i


def _subscripts(src: str, j: int) -> int:
    """``[0]``, ``{key}``, ``->[0]``, ``->{k}`` and ``->method`` after a variable."""
    while j < len(src):
        if src[j] in "[{":
            j = _balanced(src, j)
        elif src.startswith("->", j) and j + 2 < len(src) and src[j + 2] in "[{":
            j = _balanced(src, j + 2)
        elif src.startswith("->", j) and (m := _IDENT.match(src, j + 2)) is not None:
            j = m.end()
        else:
            return j
    return j


def interpolate(body: str, delim: str | None, line: int) -> list[str | Interp]:
    parts: list[str | Interp] = []
    buf: list[str] = []
    i, n = 0, len(body)

    def flush() -> None:
        if buf:
            parts.append("".join(buf))
            buf.clear()

    while i < n:
        c = body[i]
        if c == "\\" and i + 1 < n:
            e = body[i + 1]
            if e == "x" and (m := re.match(r"x(?:\{([0-9A-Fa-f]+)\}|([0-9A-Fa-f]{1,2}))", body[i + 1 :])):
                buf.append(chr(min(int(m.group(1) or m.group(2), 16), 0x10FFFF)))
                i += 1 + len(m.group())
                continue
            buf.append(_ESCAPES.get(e, e))
            i += 2
            continue
        if c == "@" and body.startswith("@{[", i):
            j = _balanced(body, i + 1)
            inner = body[i + 3 : j - 2]
            flush()
            parts.append(Interp(body[i:j], tokens=tuple(lex(inner, line))))
            i = j
            continue
        if c == "@" and (m := _IDENT.match(body, i + 1)) is not None:
            j = _subscripts(body, m.end())
            flush()
            parts.append(Interp(body[i:j]))
            i = j
            continue
        if c == "$" and i + 1 < n and body[i + 1] == "{":
            j = _balanced(body, i + 1)
            inner = body[i + 2 : j - 1].strip()
            flush()
            if inner.startswith("\\"):  # ${\ EXPR}: a reference to the value of EXPR
                parts.append(Interp(body[i:j], tokens=tuple(lex(inner[1:], line))))
            elif _IDENT.fullmatch(inner):
                k = _subscripts(body, j)
                parts.append(Interp(body[i:k], name=_normal("$" + inner + body[j:k])))
                j = k
            else:
                parts.append(Interp(body[i:j]))
            i = j
            continue
        if c == "$" and (m := _IDENT.match(body, i + 1)) is not None:
            j = m.end()
            while j < n and (body[j] in "[{" or body.startswith(("->[", "->{"), j)):
                k = j + 2 if body[j] == "-" else j
                j = _balanced(body, k)
            flush()
            parts.append(Interp(body[i:j], name=_normal(body[i:j])))
            i = j
            continue
        buf.append(c)
        i += 1
    flush()
    return parts


def _normal(expr: str) -> str:
    return re.sub(r"\s+", "", expr).replace('"', "'")


# --------------------------------------------------------------------------------------------
# Constants


def collect_constants(toks: list[Tok], file: str, constants: Constants) -> None:
    """``use constant NAME => expr;`` and ``use constant { A => expr, B => expr };``."""
    for n, t in enumerate(toks):
        if not (t.is_name("use") and n + 2 < len(toks) and toks[n + 1].is_name("constant")):
            continue
        start = n + 2
        if toks[start].is_op("{"):
            end = start + 1
            depth = 1
            while end < len(toks) and depth:
                depth += 1 if toks[end].is_op("{") else -1 if toks[end].is_op("}") else 0
                end += 1
            body = toks[start + 1 : end - 1]
        else:
            end = start
            while end < len(toks) and not toks[end].is_op(";"):
                end += 1
            body = toks[start:end]
        for item in _items(body):
            if len(item) >= 3 and item[0].kind in ("name", "str") and item[1].is_op("=>", ","):
                name = (
                    item[0].text
                    if item[0].kind == "name"
                    else "".join(p for p in item[0].parts if isinstance(p, str))
                )
                _define(constants, f"perl:{name}", file, item[0].line, item[2:])


def _items(body: list[Tok]) -> list[list[Tok]]:
    """`NAME => expr` pairs split at top-level commas (the first comma of a pair is kept)."""
    out: list[list[Tok]] = [[]]
    depth = 0
    for t in body:
        if t.is_op("(", "[", "{"):
            depth += 1
        elif t.is_op(")", "]", "}"):
            depth -= 1
        if depth == 0 and t.is_op(",") and len(out[-1]) > 1:
            out.append([])
            continue
        out[-1].append(t)
    return out


def _define(constants: Constants, key: str, file: str, line: int, expr: list[Tok]) -> None:
    def evaluate() -> Value:
        ev = Evaluator(DIALECT, Collector(file, "perl"), constants)
        value, j = ev.chain(expr, 0)
        if value is None or j != len(expr):
            return hole(Hole("expression", "expression"))
        return value

    constants.define(key, Definition(file, line, evaluate))


def scan(src: str, file: str, constants: Constants, toks: list[Tok] | None = None) -> Collector:
    collector = Collector(file, "perl")
    Evaluator(DIALECT, collector, constants).run(toks if toks is not None else lex(src))
    return collector
