"""The token records the PHP and Perl lexers produce for the shared evaluator (`clike.py`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Interp:
    """A variable or expression interpolated into a string literal.

    ``name``: the variable to look up (``$id``, ``$row['x']``); ``tokens``: an expression to
    evaluate instead (Perl ``@{[ TABLE_X ]}``); neither: an unknown value (an array)."""

    expr: str
    name: str | None = None
    tokens: tuple[Tok, ...] = ()


@dataclass(frozen=True)
class Tok:
    """kind: str (parts: text and Interp) | var | name | num | op | cast | words."""

    kind: str
    text: str
    line: int
    parts: tuple[str | Interp, ...] = ()

    def is_op(self, *ops: str) -> bool:
        return self.kind == "op" and self.text in ops

    def is_name(self, *names: str) -> bool:
        return self.kind == "name" and self.text.lower() in names
