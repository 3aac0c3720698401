"""PHP: a lexer for the code between ``<?php`` and ``?>``, and its constant definitions.

Strings: ``'..'`` (only ``\\'`` and ``\\\\`` are escapes), ``".."`` and heredoc ``<<<EOT``
(escapes and interpolation of ``$x``, ``$row[0]``, ``$obj->p``, ``{$row['x']}``,
``${x}``), nowdoc ``<<<'EOT'`` (neither). PHP 7.3 closing markers may be indented: that
indentation is removed from every line of the body, as PHP does.
"""

from __future__ import annotations

import re

from sqlops.advisor.sources.clike import Dialect, Evaluator, split_args
from sqlops.advisor.sources.constants import Constants, Definition
from sqlops.advisor.sources.scope import Collector
from sqlops.advisor.sources.tokens import Interp, Tok
from sqlops.advisor.sources.value import Hole, Value, hole

DIALECT = Dialect(
    language="php",
    lexical=False,
    func_keywords=frozenset({"function", "fn"}),
    class_keywords=frozenset({"class", "interface", "trait", "enum"}),
    modifiers=frozenset({"static", "global", "var", "public", "private", "protected", "readonly"}),
    control=frozenset({"if", "elseif", "else", "while", "for", "foreach"}),
    postfix=frozenset(),
    keywords=frozenset(
        {"return", "echo", "print", "new", "clone", "include", "include_once", "require", "require_once"}
        | {"if", "else", "elseif", "while", "for", "foreach", "as", "switch", "case", "default", "break"}
        | {"continue", "function", "fn", "class", "const", "and", "or", "xor", "instanceof", "true"}
        | {"false", "null", "use", "namespace", "throw", "try", "catch", "finally", "yield", "global"}
    ),
    value_calls=frozenset(
        {"intval", "floatval", "boolval", "strval", "addslashes", "mysql_real_escape_string"}
        | {"mysqli_real_escape_string", "mysql_escape_string", "real_escape_string", "escape_string"}
        | {"quote", "escape", "pg_escape_string", "date", "time", "mktime", "strtotime", "md5", "sha1"}
        | {"number_format", "count", "abs", "round", "max", "min", "uniqid"}
    ),
    list_calls=frozenset({"implode", "join"}),
    bare_calls=False,
)

_IDENT = re.compile(r"[A-Za-z_\x80-\U0010ffff][\w\x80-\U0010ffff]*")
_NAME = re.compile(r"\\?[A-Za-z_\x80-\U0010ffff][\w\x80-\U0010ffff]*(?:\\[A-Za-z_][\w]*)*")
_CAST = re.compile(r"\(\s*(int|integer|float|double|bool|boolean|string)\s*\)", re.I)
_NUMBER = re.compile(r"0[xX][0-9a-fA-F_]+|\d[\d_]*(?:\.\d+)?(?:[eE][+-]?\d+)?")
_HEREDOC = re.compile(r"<<<[ \t]*([\"']?)([A-Za-z_]\w*)\1\r?\n")
_LINE_COMMENT = re.compile(r"(?:[^\n?]|\?(?!>))*")
_OPS = (".=", "+=", "->", "?->", "=>", "===", "==", "!==", "!=", "::", "&&", "||", "<=", ">=", "??")
_OP = re.compile("|".join(re.escape(o) for o in _OPS) + "|.", re.S)
_SPACE = re.compile(r"[^\S\n]+")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "v": "\v", "e": "\x1b", "f": "\f", "\\": "\\", "$": "$"}


def lex(src: str) -> list[Tok]:
    toks: list[Tok] = []
    i, n, line = 0, len(src), 1
    php = False
    while i < n:
        if not php:
            j = src.find("<?", i)
            if j < 0:
                break
            line += src.count("\n", i, j)
            i = j + (5 if src.startswith("<?php", j) else 3 if src.startswith("<?=", j) else 2)
            php = True
            continue
        c = src[i]
        if c == "\n":
            line += 1
            i += 1
        elif c.isspace():
            i = _SPACE.match(src, i).end()  # type: ignore[union-attr]
        elif src.startswith("?>", i):
            toks.append(Tok("op", ";", line))
            php = False
            i += 2
        elif (c == "#" and not src.startswith("#[", i)) or src.startswith("//", i):
            i = _LINE_COMMENT.match(src, i).end()  # type: ignore[union-attr]
        elif src.startswith("/*", i):
            j = src.find("*/", i + 2)
            j = n if j < 0 else j + 2
            line += src.count("\n", i, j)
            i = j
        elif c == "'":
            j, body = _single(src, i + 1)
            toks.append(Tok("str", src[i:j], line, (body,)))
            line += src.count("\n", i, j)
            i = j
        elif c == '"':
            parts, j = interpolate(src, i + 1, '"')
            toks.append(Tok("str", src[i:j], line, tuple(parts)))
            line += src.count("\n", i, j)
            i = j
        elif (m := _HEREDOC.match(src, i)) is not None:
            tok, j = _heredoc(src, m, line)
            toks.append(tok)
            line += src.count("\n", i, j)
            i = j
        elif c == "$" and i + 1 < n and (src[i + 1] == "$" or _IDENT.match(src, i + 1)):
            j = _variable_end(src, i)
            toks.append(Tok("var", _normal(src[i:j]), line))
            i = j
        elif c == "(" and (m := _CAST.match(src, i)) is not None:
            toks.append(Tok("cast", f"({m.group(1).lower()})", line))
            i = m.end()
        elif (m := _NAME.match(src, i)) is not None:
            j = m.end()
            while src.startswith("::", j) and (m2 := _IDENT.match(src, j + 2)) is not None:
                j = m2.end()
            toks.append(Tok("name", src[i:j], line))
            i = j
        elif (m := _NUMBER.match(src, i)) is not None:
            toks.append(Tok("num", m.group(), line))
            i = m.end()
        else:
            op = _OP.match(src, i).group()  # type: ignore[union-attr]
            toks.append(Tok("op", op, line))
            i += len(op)
    return toks


def _single(src: str, i: int) -> tuple[int, str]:
    out = []
    n = len(src)
    while i < n:
        c = src[i]
        if c == "\\" and i + 1 < n and src[i + 1] in "\\'":
            out.append(src[i + 1])
            i += 2
            continue
        if c == "'":
            return i + 1, "".join(out)
        out.append(c)
        i += 1
    return n, "".join(out)


def interpolate(src: str, i: int, end: str | None) -> tuple[list[str | Interp], int]:
    """Parse an interpolating string body from `i` to the `end` quote (None: to the end)."""
    parts: list[str | Interp] = []
    buf: list[str] = []
    n = len(src)

    def flush() -> None:
        if buf:
            parts.append("".join(buf))
            buf.clear()

    while i < n:
        c = src[i]
        if end is not None and c == end:
            flush()
            return parts, i + 1
        if c == "\\" and i + 1 < n:
            e = src[i + 1]
            if e in _ESCAPES or (e == end):
                buf.append(_ESCAPES.get(e, e))
                i += 2
                continue
            if m := re.match(r"[0-7]{1,3}", src[i + 1 : i + 4]):
                buf.append(chr(int(m.group(), 8)))
                i += 1 + len(m.group())
                continue
            if m := re.match(r"x([0-9A-Fa-f]{1,2})", src[i + 1 : i + 4]):
                buf.append(chr(int(m.group(1), 16)))
                i += 1 + len(m.group())
                continue
            buf.append(c)
            i += 1
            continue
        if c == "{" and src.startswith("{$", i):
            j = _brace_end(src, i)
            flush()
            parts.append(Interp(src[i + 1 : j - 1].strip(), name=_normal(src[i + 1 : j - 1])))
            i = j
            continue
        if c == "$" and src.startswith("${", i):
            j = src.find("}", i)
            j = n if j < 0 else j + 1
            flush()
            parts.append(Interp(src[i:j], name="$" + src[i + 2 : j - 1].strip()))
            i = j
            continue
        if c == "$" and (m := _IDENT.match(src, i + 1)) is not None:
            j = m.end()
            if src.startswith("[", j) and (k := src.find("]", j)) > 0:
                j = k + 1
            elif src.startswith("->", j) and (m2 := _IDENT.match(src, j + 2)) is not None:
                j = m2.end()
            flush()
            parts.append(Interp(src[i:j], name=_normal(src[i:j])))
            i = j
            continue
        buf.append(c)
        i += 1
    flush()
    return parts, n


def _heredoc(src: str, m: re.Match[str], line: int) -> tuple[Tok, int]:
    quote, label = m.group(1), m.group(2)
    close = re.compile(r"^([ \t]*)" + re.escape(label) + r"\b", re.M)
    found = close.search(src, m.end())
    if found is None:
        body, end, indent = src[m.end() :], len(src), ""
    else:
        body, end, indent = src[m.end() : found.start()], found.end(), found.group(1)
    lines = body.split("\n")
    if lines and lines[-1].strip() == "":
        lines.pop()  # the newline before the closing marker is not part of the string
    if indent:
        lines = [ln[len(indent) :] if ln.startswith(indent) else ln.lstrip(" \t") for ln in lines]
    body = "\n".join(lines)
    if quote == "'":
        parts: list[str | Interp] = [body]
    else:
        parts, _ = interpolate(body, 0, None)
    return Tok("str", src[m.start() : end], line, tuple(parts)), end


def _variable_end(src: str, i: int) -> int:
    """End of ``$x``, ``$$x``, ``$row['a'][0]``, ``$this->db->conn``."""
    j = i + 1
    while j < len(src) and src[j] == "$":
        j += 1
    m = _IDENT.match(src, j)
    j = m.end() if m else j
    while j < len(src):
        if src[j] == "[":
            k = _bracket_end(src, j)
            if k < 0:
                break
            j = k
        elif src.startswith(("->", "?->"), j):
            start = j + (2 if src[j] == "-" else 3)
            m = _IDENT.match(src, start)
            if m is None:
                break
            j = m.end()
        else:
            break
    return j


def _bracket_end(src: str, i: int) -> int:
    depth = 0
    j = i
    while j < len(src):
        c = src[j]
        if c in "'\"":
            k = src.find(c, j + 1)
            if k < 0:
                return -1
            j = k + 1
            continue
        if c == "\n":
            return -1
        if c == "[":
            depth += 1
        elif c == "]":
            depth -= 1
            if depth == 0:
                return j + 1
        j += 1
    return -1


def _brace_end(src: str, i: int) -> int:
    depth = 0
    j = i
    while j < len(src):
        c = src[j]
        if c in "'\"" and depth:
            k = src.find(c, j + 1)
            j = len(src) if k < 0 else k + 1
            continue
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return j + 1
        j += 1
    return len(src)


def _normal(expr: str) -> str:
    """One spelling for lookups: no spaces, single quotes (``$row[ "x" ]`` == ``$row['x']``)."""
    return re.sub(r"\s+", "", expr).replace('"', "'")


# --------------------------------------------------------------------------------------------
# Constants


def collect_constants(toks: list[Tok], file: str, constants: Constants) -> None:
    """``define('NAME', expr)``, top-level and class ``const NAME = expr``, ``extends``."""
    depth = 0
    classes: list[tuple[str, int]] = []
    pending: str | None = None
    for n, t in enumerate(toks):
        if t.is_op("{"):
            depth += 1
            if pending is not None:
                classes.append((pending, depth))
                pending = None
        elif t.is_op("}"):
            if classes and classes[-1][1] == depth:
                classes.pop()
            depth -= 1
        elif t.kind == "name" and t.text.lower() in DIALECT.class_keywords and n + 1 < len(toks):
            if toks[n + 1].kind == "name":
                pending = toks[n + 1].text
                if n + 3 < len(toks) and toks[n + 2].is_name("extends") and toks[n + 3].kind == "name":
                    constants.parents[pending] = toks[n + 3].text.lstrip("\\")
        elif t.is_name("define") and n + 1 < len(toks) and toks[n + 1].is_op("("):
            args = split_args(toks[n + 2 : _close(toks, n + 1)])
            if len(args) >= 2 and len(args[0]) == 1 and args[0][0].kind == "str":
                name = "".join(p for p in args[0][0].parts if isinstance(p, str))
                _define(constants, f"php:{name.lstrip(chr(92))}", file, t.line, args[1], None)
        elif t.is_name("const") and n + 1 < len(toks):
            end = n + 1
            while end < len(toks) and not toks[end].is_op(";", "{", "}"):
                end += 1
            cls = classes[-1][0] if classes else None
            for item in split_args(toks[n + 1 : end]):
                if len(item) >= 3:
                    at = next((k for k, x in enumerate(item) if x.is_op("=")), -1)
                    if at < 1:
                        continue
                    name = item[at - 1].text  # `const string NAME = ...` (PHP 8.3 typed) too
                    key = f"php:{cls}::{name}" if cls else f"php:{name}"
                    _define(constants, key, file, item[0].line, item[at + 1 :], cls)


def _define(constants: Constants, key: str, file: str, line: int, expr: list[Tok], cls: str | None) -> None:
    def evaluate() -> Value:
        ev = Evaluator(DIALECT, Collector(file, "php"), constants)
        ev.class_name = cls
        value, j = ev.chain(expr, 0)
        if value is None or j != len(expr):
            return hole(Hole("expression", "expression"))
        return value

    constants.define(key, Definition(file, line, evaluate))


def _close(toks: list[Tok], open_at: int) -> int:
    depth = 0
    for k in range(open_at, len(toks)):
        if toks[k].is_op("("):
            depth += 1
        elif toks[k].is_op(")"):
            depth -= 1
            if depth == 0:
                return k
    return len(toks)


def scan(src: str, file: str, constants: Constants, toks: list[Tok] | None = None) -> Collector:
    collector = Collector(file, "php", named_params=True)
    Evaluator(DIALECT, collector, constants).run(toks if toks is not None else lex(src))
    return collector
