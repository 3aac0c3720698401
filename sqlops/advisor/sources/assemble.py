"""Turning the pieces of one statement into SQL text with ``?`` placeholders, or a reason.

A hole becomes ``?`` only where SQL expects a *value*: inside a quoted SQL literal (the quotes
go with it: ``name = '$x'`` -> ``name = ?``), after a comparison operator, ``LIKE``,
``LIMIT``/``OFFSET``, ``BETWEEN .. AND``, ``INTERVAL``, arithmetic, in an ``IN (..)`` or
``VALUES (..)`` list, or (a cast or quote()/escape call) as a function argument. A hole in an
*identifier* position (after ``FROM``/``JOIN``/``INTO``/``UPDATE``/``TABLE``, glued to a name
like ``{$prefix}users``, a column before an operator) or anywhere else makes the statement
unresolved, with a reason naming the hole: guessing would make a different query.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlops.advisor.sources.value import Hole, Piece

_TOKEN = re.compile(
    r"(?P<ws>\s+)"
    r"|(?P<comment>/\*.*?\*/|(?:--(?=\s|$)|\#)[^\n]*)"
    r"|(?P<str>'(?:[^'\\]|\\.|'')*'|\"(?:[^\"\\]|\\.|\"\")*\")"
    r"|(?P<bt>`(?:[^`]|``)*`)"
    r"|(?P<hole>\x00\d+\x00)"
    r"|(?P<word>[\w$@]+)"
    r"|(?P<op><=>|<>|!=|<=|>=|:=|\|\||&&|.)",
    re.S,
)
_MARK = re.compile(r"\x00(\d+)\x00")
_TABLE_BEFORE = frozenset({"FROM", "JOIN", "INTO", "UPDATE", "TABLE", "STRAIGHT_JOIN"})
_VALUE_BEFORE = frozenset(
    {"=", "<", ">", "<=", ">=", "<>", "!=", "<=>", ":=", "+", "-", "*", "/", "%", "DIV", "MOD"}
    | {"LIKE", "REGEXP", "RLIKE", "LIMIT", "OFFSET", "BETWEEN", "INTERVAL", "THEN", "ELSE", "AGAINST"}
)
_OPERATORS = frozenset({"=", "<", ">", "<=", ">=", "<>", "!=", "<=>", "LIKE", "IN", "IS", "NOT", "BETWEEN"})
_COLUMN_LIST_BEFORE = frozenset({"SELECT", "DISTINCT", "BY", ",", "."})
_CLAUSES = frozenset({"SELECT", "FROM", "WHERE", "SET", "LIMIT", "ORDER", "GROUP", "HAVING", "ON", "VALUES"})
_START = re.compile(r"^(?:\s+|/\*.*?\*/|--[^\n]*|#[^\n]*|\()*", re.S)
_KIND = re.compile(r"(SELECT|INSERT|UPDATE|DELETE|REPLACE|WITH)\b", re.I)
# Checks that keep UI text ("Select a customer", "Update failed") out: the clause every
# statement of that kind must have.
_SHAPE = {
    "SELECT": re.compile(r"\bFROM\b|^SELECT\s+(?:[\w.]+\s*\(|@@|\d|\?|'|\"|\*\s*$)", re.I | re.S),
    "INSERT": re.compile(r"\b(?:VALUES?|SELECT|SET)\b", re.I),
    "REPLACE": re.compile(
        r"^REPLACE\s+(?:LOW_PRIORITY\s+|DELAYED\s+)?(?:INTO\b|\w+\s*(?:\(|VALUES|SET))", re.I
    ),
    "UPDATE": re.compile(r"\bSET\b", re.I),
    "DELETE": re.compile(r"^DELETE\b.*\bFROM\b", re.I | re.S),
    "WITH": re.compile(r"\bAS\s*\(.*\bSELECT\b", re.I | re.S),
}


def sql_kind(sql: str) -> str | None:
    """The statement keyword when `sql` looks like a DML/query statement, else None."""
    body = sql[_START.match(sql).end() :]  # type: ignore[union-attr]
    m = _KIND.match(body)
    if m is None:
        return None
    word = m.group(1)
    kind = word.upper()
    # SQL is written SELECT or select; "Select a customer from the list:" is a sentence.
    if word not in (kind, word.lower()) or body.rstrip().endswith((":", "!", ".")):
        return None
    return kind if _SHAPE[kind].search(body) else None


def may_be_sql(parts: tuple[Piece, ...]) -> bool:
    """A cheap test before `assemble`: the text before the first hole starts like a statement
    (most string expressions in a program are not SQL at all)."""
    lead = []
    for p in parts:
        if not isinstance(p, str):
            break
        lead.append(p)
    head = "".join(lead)
    body = head[_START.match(head).end() :]  # type: ignore[union-attr]
    return _KIND.match(body) is not None


@dataclass(frozen=True)
class Assembled:
    sql: str  # with ? for value holes, {show} for unresolved ones
    reasons: tuple[str, ...]  # empty when the statement is complete


def assemble(parts: tuple[Piece, ...], *, named_params: bool = False) -> Assembled:
    """Join literal text and holes into one statement (see the module doc).

    `named_params`: PDO/sqlite ``:name`` placeholders outside quotes become ``?`` too."""
    holes: list[Hole] = []
    marked = []
    for p in parts:
        if isinstance(p, str):
            marked.append(p.replace("\x00", ""))
        else:
            marked.append(f"\x00{len(holes)}\x00")
            holes.append(p)
    source = "".join(marked)
    out: list[str] = []
    reasons: list[str] = []
    tokens = [(m.lastgroup or "op", m.group(), m.start(), m.end()) for m in _TOKEN.finditer(source)]
    prev = prev2 = ""
    clause = ""
    parens: list[bool] = []  # True for a value list: IN (..), VALUES (..)
    between = between_and = False
    for n, (kind, tok, start, end) in enumerate(tokens):
        if kind == "ws":
            out.append("\n" if out and _is_line_comment(out[-1]) else " ")
            continue
        if kind == "comment":
            out.append(tok)
            continue
        if kind in ("str", "bt") and "\x00" in tok:
            if kind == "str":
                tok = "?"  # a quoted literal with a variable in it is one value
            else:
                reasons.append(_reason(holes[int(_MARK.search(tok).group(1))], _ident_what(prev)))  # type: ignore[union-attr]
                tok = _MARK.sub(lambda m: "{" + holes[int(m.group(1))].show + "}", tok)
        elif kind == "hole":
            h = holes[int(tok[1:-1])]
            glued = _glued(source, start, end)
            nxt = _next_significant(tokens, n)
            in_values = bool(parens) and parens[-1]
            if not glued and (
                prev in _VALUE_BEFORE
                or (prev == "AND" and between_and)
                or (prev == "(" and in_values)
                or (prev == "," and (in_values or (clause == "LIMIT" and not parens)))
                or (h.value_like and prev in ("(", ",") and clause not in ("FROM", ""))
            ):
                tok = "?"
            elif h.reason is not None and not glued and prev not in _TABLE_BEFORE:
                reasons.append(h.reason)
                tok = "{" + h.show + "}"
            else:
                if prev in _TABLE_BEFORE or (prev == "," and clause == "FROM" and not parens):
                    what = "table name"
                elif glued or nxt.upper() in _OPERATORS or prev in _COLUMN_LIST_BEFORE:
                    what = "column name" if not _glued_table(prev, prev2) else "table name"
                else:
                    what = "SQL text"
                reasons.append(_reason(h, what))
                tok = "{" + h.show + "}"
        sig = tok.upper() if kind == "word" else ("?" if tok == "?" or kind == "str" else tok)
        if kind == "word":
            if sig in _CLAUSES and not parens:
                clause = sig
            elif sig in ("JOIN", "INTO", "UPDATE") and not parens:
                clause = "FROM"
            if sig == "BETWEEN":
                between = True
            elif sig == "AND" and between:
                between = False  # BETWEEN a AND b: this AND is part of the operator
                between_and = True
                out.append(tok)
                prev2, prev = prev, sig
                continue
        elif tok == "(":
            parens.append(prev in ("IN", "VALUES", "VALUE"))
        elif tok == ")" and parens:
            parens.pop()
        between_and = False
        out.append(tok)
        prev2, prev = prev, sig
    sql = "".join(out).strip()
    while sql.endswith(";"):
        sql = sql[:-1].rstrip()
    if named_params:
        sql = _named(sql)
    return Assembled(sql, tuple(dict.fromkeys(reasons)))


def _reason(h: Hole, what: str) -> str:
    if h.reason is not None:
        return h.reason
    return f"{what} comes from {h.desc}"


def _ident_what(prev: str) -> str:
    return "table name" if prev in _TABLE_BEFORE else "column name"


def _glued_table(prev: str, prev2: str) -> bool:
    return prev in _TABLE_BEFORE


def _glued(source: str, start: int, end: int) -> bool:
    """A hole written against a name (``{$prefix}users``, ``log_$year``, ``$db.t``) is part
    of an identifier."""
    before = source[start - 1] if start else " "
    after = source[end] if end < len(source) else " "
    return bool(re.match(r"[\w.`]", before)) or bool(re.match(r"[\w.`]", after))


def _next_significant(tokens: list[tuple[str, str, int, int]], n: int) -> str:
    for kind, tok, _s, _e in tokens[n + 1 :]:
        if kind not in ("ws", "comment"):
            return tok
    return ""


def _is_line_comment(tok: str) -> bool:
    return tok.startswith(("--", "#"))


_NAMED = re.compile(
    r"('(?:[^'\\]|\\.|'')*'|\"(?:[^\"\\]|\\.|\"\")*\"|`(?:[^`]|``)*`)|(?<![:\w]):[A-Za-z_]\w*"
)


def _named(sql: str) -> str:
    return _NAMED.sub(lambda m: m.group(1) or "?", sql)
