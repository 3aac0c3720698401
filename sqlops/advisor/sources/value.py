"""Symbolic string values: what a string expression in application code evaluates to.

A value is literal text with *holes* (a variable, a function result, a cast) in it. Appends
made under a condition (``if (...) { $sql .= " AND b = 1"; }``) are kept as segments tagged
with the condition, so the assembler can produce the unconditional statement plus one variant
per conditional part (see :meth:`Value.variants`) — text is never invented, only selected.
"""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Hole:
    """A part of a string whose text is not known statically.

    ``desc`` names it for a reason ("variable $table", "function result get_table()");
    ``show`` is how it appears in an unresolved fragment; ``value_like`` marks a cast, a
    quote/escape call or a driver placeholder: certainly a value, never an identifier;
    ``reason`` is a complete reason that does not depend on where the hole sits (an undefined
    constant)."""

    desc: str
    show: str
    value_like: bool = False
    reason: str | None = None


Piece = str | Hole


@dataclass(frozen=True)
class Segment:
    pieces: tuple[Piece, ...]
    cond: int | None = None  # the conditional append this text came from, None if unconditional
    branch: int | None = None  # for `c ? a : b`: which alternative of `cond` (one is always taken)


@dataclass(frozen=True)
class Value:
    """Segments in order; ``line`` is where the first string literal of the value starts."""

    segments: tuple[Segment, ...]
    line: int | None = None

    @property
    def has_text(self) -> bool:
        return any(isinstance(p, str) and p for s in self.segments for p in s.pieces)

    def __add__(self, other: Value) -> Value:
        return Value(self.segments + other.segments, self.line if self.line is not None else other.line)

    def under(self, cond: int) -> Value:
        """The same text, appended under condition `cond` (nested conditions keep their own)."""
        return Value(
            tuple(s if s.cond is not None else replace(s, cond=cond) for s in self.segments), self.line
        )

    def literal(self) -> str | None:
        """The whole text when it has no holes and no conditional parts, else None."""
        out = []
        for s in self.segments:
            if s.cond is not None:
                return None
            for p in s.pieces:
                if not isinstance(p, str):
                    return None
                out.append(p)
        return "".join(out)

    def variants(self, limit: int = 16) -> list[tuple[Piece, ...]]:
        """The unconditional path, then that path with each conditional part alone (at most
        `limit`): n conditional appends give n + 1 statements, not 2**n. The unconditional
        path takes the first alternative of each ``c ? a : b``; each other alternative is a
        variant of its own."""
        groups: dict[int, list[int | None]] = {}
        for s in self.segments:
            if s.cond is not None and s.branch not in groups.setdefault(s.cond, []):
                groups[s.cond].append(s.branch)
        # -1: the optional part is left out; a branch index: that alternative is taken.
        base: dict[int, int | None] = {c: (b[0] if b[0] is not None else -1) for c, b in groups.items()}
        choices = [base]
        for c, branches in groups.items():
            for b in branches if branches[0] is None else branches[1:]:
                choices.append({**base, c: b})
        return [_pieces(self.segments, choice) for choice in choices[: limit + 1]]

    @staticmethod
    def choice(alternatives: list[Value], cond: int) -> Value:
        """One of `alternatives` (a ternary); each keeps its own nested conditions."""
        segments = tuple(
            s if s.cond is not None else replace(s, cond=cond, branch=k)
            for k, v in enumerate(alternatives)
            for s in (v.segments or (Segment(()),))  # an empty "" alternative is a path too
        )
        line = next((v.line for v in alternatives if v.line is not None), None)
        return Value(segments, line)


def _pieces(segments: tuple[Segment, ...], choice: dict[int, int | None]) -> tuple[Piece, ...]:
    return tuple(
        p for s in segments if s.cond is None or choice.get(s.cond, -1) == s.branch for p in s.pieces
    )


def text(s: str, line: int | None = None) -> Value:
    return Value((Segment((s,)),), line)


def hole(h: Hole) -> Value:
    return Value((Segment((h,)),))


def pieces(parts: list[Piece], line: int | None = None) -> Value:
    return Value((Segment(tuple(parts)),), line)


def concat(values: list[Value]) -> Value:
    out = Value(())
    for v in values:
        out = out + v
    return out
