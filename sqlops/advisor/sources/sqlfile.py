"""``.sql`` files: statements split on the delimiter the way the mysql client does it.

Quotes (``'``, ``"``, backticks, with backslash escapes and doubled quotes) and comments
(``-- ``, ``#``, ``/* */``) never end a statement; a ``DELIMITER //`` line changes the
delimiter until the next ``DELIMITER`` line. Only queries and DML count (``sql_kind``):
DDL, ``SET``, ``USE`` and routine definitions are skipped silently.
"""

from __future__ import annotations

import re

from sqlops.advisor.sources.assemble import assemble, sql_kind
from sqlops.advisor.sources.model import SourceStatement
from sqlops.advisor.sources.scope import Collector

_DELIMITER = re.compile(r"[ \t]*delimiter[ \t]+(\S+)[ \t]*\r?$", re.I | re.M)
_QUOTED = re.compile(r"'(?:[^'\\]|\\.|'')*'?|\"(?:[^\"\\]|\\.|\"\")*\"?|`(?:[^`]|``)*`?", re.S)


def split(src: str) -> list[tuple[str, int]]:
    """(statement text, line of its first character) for every statement in `src`."""
    out: list[tuple[str, int]] = []
    delimiter = ";"
    i, n, line = 0, len(src), 1
    start: int | None = None
    start_line = 1

    def flush(end: int) -> None:
        nonlocal start
        if start is not None:
            body = src[start:end].strip()
            if body:
                out.append((body, start_line))
        start = None

    while i < n:
        if (i == 0 or src[i - 1] == "\n") and (m := _DELIMITER.match(src, i)) is not None:
            flush(i)
            delimiter = m.group(1)
            line += src.count("\n", i, m.end())
            i = m.end()
            continue
        c = src[i]
        if c == "\n":
            line += 1
            i += 1
            continue
        if c.isspace():
            i += 1
            continue
        if (src.startswith("--", i) and (i + 2 >= n or src[i + 2].isspace())) or c == "#":
            j = src.find("\n", i)
            i = n if j < 0 else j
            continue
        if src.startswith("/*", i) and not src.startswith("/*!", i):
            j = src.find("*/", i + 2)
            j = n if j < 0 else j + 2
            line += src.count("\n", i, j)
            i = j
            continue
        if src.startswith(delimiter, i):
            flush(i)
            i += len(delimiter)
            continue
        if start is None:
            start, start_line = i, line
        if c in "'\"`":
            m = _QUOTED.match(src, i)
            j = m.end() if m else n
            line += src.count("\n", i, j)
            i = j
            continue
        i += 1
    flush(n)
    return out


def scan(src: str, file: str) -> Collector:
    collector = Collector(file, "sql")
    for body, line in split(src):
        if sql_kind(body) is None:
            continue
        done = assemble((body,))
        collector.statements.append(SourceStatement(done.sql, file, line, "sql"))
    return collector
