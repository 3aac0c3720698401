"""Constants defined anywhere in the scanned tree (PHP ``define()``/``const``/class constants,
Perl ``use constant``, Python module-level UPPER_CASE names), resolved when a statement is
assembled.

Definitions are collected from every file first, so a page can use a constant its
``config.inc.php`` defines. A definition is kept unevaluated and evaluated on first use (it may
be built from other constants). Names are per language (``php:TABLE_X``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlops.advisor.sources.value import Hole, Value, hole, text


@dataclass(frozen=True)
class Definition:
    file: str
    line: int
    evaluate: Callable[[], Value]


class Constants:
    def __init__(self) -> None:
        self._defs: dict[str, list[Definition]] = {}
        self._cache: dict[str, Value | str] = {}
        self._busy: set[str] = set()
        self.parents: dict[str, str] = {}  # PHP class -> the class it extends

    def class_key(self, lang: str, owner: str, const: str) -> str:
        """The key of a class constant, looked up along the `extends` chain."""
        cls: str | None = owner
        seen: set[str] = set()
        while cls is not None and cls not in seen:
            key = f"{lang}:{cls}::{const}"
            if key in self._defs:
                return key
            seen.add(cls)
            cls = self.parents.get(cls)
        return f"{lang}:{owner}::{const}"

    def define(self, key: str, definition: Definition) -> None:
        self._defs.setdefault(key, []).append(definition)

    def __contains__(self, key: str) -> bool:
        return key in self._defs

    def resolve(self, key: str) -> Value | str:
        """The constant's text as a value, or the reason it cannot be used."""
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        name = key.split(":", 1)[1]
        defs = self._defs.get(key)
        if not defs:
            return f"constant {name} is not defined in the scanned files"
        if key in self._busy:
            return f"constant {name} is defined in terms of itself"
        self._busy.add(key)
        try:
            values: dict[str, list[Definition]] = {}
            for d in defs:
                literal = d.evaluate().literal()
                if literal is None:
                    result: Value | str = (
                        f"constant {name} ({d.file}:{d.line}) is not a literal the scanner can evaluate"
                    )
                    self._cache[key] = result
                    return result
                values.setdefault(literal, []).append(d)
        finally:
            self._busy.discard(key)
        if len(values) > 1:
            where = ", ".join(f"{d.file}:{d.line}" for ds in values.values() for d in ds[:1])
            result = f"constant {name} has different values in the scanned files ({where})"
        else:
            result = text(next(iter(values)))
        self._cache[key] = result
        return result

    def value(self, key: str, show: str) -> Value:
        """The constant as a value; an unusable one becomes a hole carrying its reason."""
        resolved = self.resolve(key)
        if isinstance(resolved, Value):
            return resolved
        return hole(Hole(desc=f"constant {show}", show=show, reason=resolved))
