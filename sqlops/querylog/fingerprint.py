"""Query fingerprints from a tokenizer: the *shape* of a statement, without its literal values.

One master regular expression splits a statement into tokens (comments, string literals with
their escapes and doubled quotes, quoted identifiers, numbers, hex/bit literals, words,
operators); a loop over the tokens then

* turns every literal (strings, numbers, ``0x..``/``X'..'``/``B'..'``, ``TRUE``/``FALSE``/
  ``NULL``) into ``?`` and folds a unary sign into it (``= -5`` and ``= 5`` are one shape);
* collapses ``IN (?, ?, ...)`` to ``IN (?+)`` and repeated identical ``VALUES`` rows to one;
* drops comments and optimizer hints, and unwraps executable comments (``/*!50001 ...*/``);
* prints reserved words in upper case, normalises white space, and removes backticks that are
  not needed (```a`.`id``` and ``a.id`` are one shape);
* never touches identifiers: ``a1.id``, ``db1.t2`` and ``utf8mb4`` stay as written.

Classes are grouped case-insensitively (:func:`class_key`), so ``select`` and ``SELECT`` are one
class; the text shown is the first one seen.

Speed: the tokenizer loop costs ~20 µs per statement, too much for a gigabyte of log, so
:class:`Fingerprinter` first splits the statement at its literals with one C-level
``re.split`` (the same literal and comment patterns as the tokenizer) and caches the result by
the non-literal pieces. Two statements that differ only inside literals share that key and
therefore the fingerprint; the tokenizer runs once per distinct key.
"""

from __future__ import annotations

import hashlib
import re
from typing import NamedTuple

from sqlops.querylog.keywords import FUNCTIONS, RESERVED, RESERVED_FUNCTIONS, TYPES

_IDC = rb"\w$\x80-\xff"  # bytes that continue an identifier (bytes regex: \w is ASCII)
_STRING = rb"'(?:[^'\\]++|\\[\s\S]|'')*+'"
_DQ_STRING = rb'"(?:[^"\\]++|\\[\s\S]|"")*+"'
# A charset introducer or N/X/B prefix belongs to the literal: _utf8mb4'x', X'0F', B'01'.
_INTRODUCER = rb"(?:(?<![" + _IDC + rb"@])(?:_[A-Za-z0-9]+|[nNxXbB]))?"
# A number never starts inside a word (a1, t2) or a variable, and never runs into one (1abc is
# an identifier). The first byte is consumed before the look-behind so the regex engine can
# skip quickly to candidate bytes.
_NUMBER = (
    rb"[0-9.](?<![" + _IDC + rb"@`.][0-9.])"
    rb"(?:(?<=0)[xX][0-9a-fA-F]+|(?<=0)[bB][01]+|(?<=[0-9])\d*(?:\.\d*)?|(?<=\.)\d+)"
    rb"(?:[eE][+-]?\d+)?(?![" + _IDC + rb"])"
)
_BLOCK_COMMENT = rb"/\*[\s\S]*?\*/"
_LINE_COMMENT = rb"\#[^\n]*|--(?=[\s\x00-\x1f]|$)[^\n]*"
_BACKTICK = rb"`(?:[^`]|``)*`"
_WORD = rb"[0-9]*[A-Za-z_$\x80-\xff][" + _IDC + rb"]*"

# Fast path: split at literals, keeping quoted identifiers and executable comments (group 1)
# so that a quote inside them is never taken for a literal. Other comments match group 2, which
# captures nothing: the comment text (often a request id) stays out of the cache key, yet the
# key still tells a comment (b"") from a literal (None).
# Public: the slow-log reader splits with it in its hot loop (no call per statement).
LITERAL_SPLIT = re.compile(
    rb"(?=[/`#\-'\"0-9.])(?:("
    + _BACKTICK
    + rb"|/\*M?![\s\S]*?\*/"
    + rb")|(?:/\*[\s\S]*?\*/|"
    + _LINE_COMMENT
    + rb")()|"
    + _STRING
    + rb"|"
    + _DQ_STRING
    + rb"|"
    + _NUMBER
    + rb")"
)

_TOKEN = re.compile(
    rb"|".join(
        [
            _BLOCK_COMMENT,
            rb"/\*[\s\S]*",  # unterminated comment: runs to the end
            _LINE_COMMENT,
            _INTRODUCER + rb"(?:" + _STRING + rb"|" + _DQ_STRING + rb")",
            _BACKTICK,
            rb"['\"`][\s\S]*",  # unterminated quote: runs to the end
            _NUMBER,
            rb"\?",
            # A variable; after a quote, "@" separates an account's user and host ('u'@'h').
            rb"(?<!['\"`])@@?(?:["
            + _IDC
            + rb".]+|"
            + _BACKTICK
            + rb"|"
            + _STRING
            + rb"|"
            + _DQ_STRING
            + rb")?",
            _WORD + rb"\(",  # a word glued to "(": a function call (or a table name, see below)
            _WORD,
            rb"<=>|<>|!=|<=|>=|:=|->>|->|<<|>>|&&|\|\||\S",
        ]
    )
)
_FULL_STRING = re.compile(_INTRODUCER + rb"(?:" + _STRING + rb"|" + _DQ_STRING + rb")")
_FULL_BACKTICK = re.compile(_BACKTICK)
_FULL_NUMBER = re.compile(_NUMBER)
_PLAIN_IDENT = re.compile(rb"[A-Za-z_$\x80-\xff][" + _IDC + rb"]*")
_EXECUTABLE = re.compile(rb"/\*M?!\d{0,6}([\s\S]*)\*/")

_NO_SPACE_BEFORE = frozenset((b",", b")", b";", b".", b")+"))
_LITERAL_WORDS = frozenset((b"NULL", b"TRUE", b"FALSE"))
_UNARY_AFTER = frozenset(
    (b"(", b",", b"=", b"<", b">", b"<=", b">=", b"<>", b"!=", b"<=>", b"*", b"/", b"+", b"-", b"%", b"^")
)
# A name followed by "(" after these words is a table (``INSERT INTO t (a)``, ``CREATE TABLE IF
# NOT EXISTS t (a INT)``); anywhere else it is a call (``CALL p(1)``, ``SELECT db.f(1)``). Either
# way the space before "(" and backticks around the name do not change the shape.
_TABLE_NAME_AFTER = frozenset((b"INTO", b"TABLE", b"REFERENCES", b"EXISTS"))
_IN_LIST_TOKENS = frozenset((b"?", b",", b"(", b")"))
_WORD_START = [bool(re.match(rb"[0-9A-Za-z_$\x80-\xff]", bytes([b]))) for b in range(256)]


class Fingerprint(NamedTuple):
    """An immutable record (a NamedTuple rather than a frozen dataclass: the hot loop builds
    and compares one per distinct statement layout, and tuples are several times cheaper).

    ``text``: the normalised statement shown to people; ``key``: what classes are grouped by
    (``text`` upper-cased); ``complete``: False when a string, quoted identifier or comment is
    still open at the end (the slow-log reader uses that to see header-like lines inside
    literals)."""

    text: bytes
    key: bytes
    complete: bool


def class_id(key: bytes) -> str:
    """The stable id of a class: 16 hex digits of SHA-256 over the grouping key."""
    return hashlib.sha256(key).hexdigest()[:16].upper()


class Fingerprinter:
    """Fingerprints statements, memoising by the non-literal pieces (see the module doc).

    Memory is bounded: at most `max_cached` keys, and a statement longer than BIG_STATEMENT
    (a bulk INSERT) is keyed by a 128-bit BLAKE2 digest of its pieces instead of the pieces.
    """

    BIG_STATEMENT = 16 * 1024

    def __init__(self, max_cached: int = 20_000) -> None:
        # Public so the slow-log hot loop can look up without a call:
        # cache.get(tuple(LITERAL_SPLIT.split(sql))).
        self.cache: dict[object, Fingerprint] = {}
        self._max = max_cached

    def __call__(self, sql: bytes) -> Fingerprint:
        if len(sql) > BIG_FINGERPRINT:
            return fingerprint_big(sql)  # bounded memory; such statements are rare: no cache
        pieces = LITERAL_SPLIT.split(sql)
        key: object
        if len(sql) > self.BIG_STATEMENT:
            key = hashlib.blake2b(repr(pieces).encode(), digest_size=16).digest()
        else:
            key = tuple(pieces)
        hit = self.cache.get(key)
        if hit is None:
            hit = fingerprint(sql)
            if len(self.cache) >= self._max:
                self.cache.clear()
            self.cache[key] = hit
        return hit


def lexically_complete(sql: bytes) -> bool:
    """True when no string, quoted identifier or block comment is left open (a C-speed check:
    whatever the split could not match as a whole literal or comment stays in a text piece)."""
    for text in LITERAL_SPLIT.split(sql)[::3]:
        if b"'" in text or b'"' in text or b"`" in text or b"/*" in text:
            return False
    return True


# Incremental form of lexically_complete for the slow-log reader, which extends an open
# statement one header-like line at a time: each call scans only the new text (checking the
# whole text again at each of up to 64 boundaries was quadratic).
_NEXT_OPENER = re.compile(rb"['\"`]|/\*|" + _LINE_COMMENT)
_CLOSERS = {
    b"'": re.compile(rb"(?:[^'\\]++|\\[\s\S]|'')*+'"),
    b'"': re.compile(rb'(?:[^"\\]++|\\[\s\S]|"")*+"'),
    b"`": re.compile(rb"(?:[^`]++|``)*+`"),
    b"/*": re.compile(rb"[\s\S]*?\*/"),
}


def lexical_state(data: bytes, start: int, end: int, state: bytes = b"") -> bytes:
    """What is open after data[start:end] when `state` was open before it: b"" (nothing), or
    the opening quote or ``/*``. Chained over consecutive ranges that end at a line end, the
    result is b"" exactly when lexically_complete() holds for the whole text."""
    pos = start
    while True:
        if state:
            m = _CLOSERS[state].match(data, pos, end)
            if m is None:
                return state
            pos, state = m.end(), b""
        m = _NEXT_OPENER.search(data, pos, end)
        if m is None:
            return b""
        opener = m.group()
        pos = m.end()
        if opener[0] not in (0x23, 0x2D):  # not a "#" / "-- " comment, which ends at the line end
            state = opener


def fingerprint(sql: bytes | str) -> Fingerprint:
    """Fingerprint one statement (or several separated by ``;``) with the full tokenizer."""
    if isinstance(sql, str):
        sql = sql.encode("utf-8", "surrogateescape")
    tokens: list[bytes] = _TOKEN.findall(sql)
    out: list[bytes] = []
    complete = True
    stack: list[int] = []  # indexes in `out` of open parentheses
    values_depth = -1  # stack depth of a VALUES row list, -1 when not in one
    last_row: tuple[int, int] | None = None
    ident_at = -1  # index in `out` of the last plain or quoted identifier
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        i += 1
        first = tok[0]
        last = i == len(tokens)

        if tok.startswith(b"/*"):
            if len(tok) < 4 or not tok.endswith(b"*/"):
                complete = False
                continue
            executable = _EXECUTABLE.fullmatch(tok)
            if executable:  # MySQL/MariaDB run the text inside /*!...*/: it is part of the shape
                tokens[i:i] = _TOKEN.findall(executable.group(1))
            continue  # comments and optimizer hints are not part of the shape
        if first == 0x23 or tok.startswith(b"--"):  # '#' or '-- ' comment
            continue
        if first in (0x27, 0x22) or (tok[-1] in (0x27, 0x22) and first != 0x40):  # string literal
            if last and not _FULL_STRING.fullmatch(tok):
                complete = False
                continue
            tok = b"?"
        elif first == 0x60:  # `quoted identifier`
            if last and not _FULL_BACKTICK.fullmatch(tok):
                complete = False
                continue
            inner = tok[1:-1]
            if _PLAIN_IDENT.fullmatch(inner) and inner.upper() not in RESERVED:
                tok = inner
            if values_depth == len(stack):
                values_depth, last_row = -1, None
            ident_at = len(out)
            out.append(tok)
            continue
        elif (0x30 <= first <= 0x39 or first == 0x2E) and _FULL_NUMBER.fullmatch(tok):
            tok = b"?"
        elif tok.endswith(b"(") and len(tok) > 1:  # word glued to "("
            word = tok[:-1]
            upper = word.upper()
            after_dot = bool(out) and out[-1] == b"."
            if upper == b"VALUES" and b"DUPLICATE" not in out:
                tokens[i:i] = [b"("]  # the VALUES clause, not the VALUES(col) function
                tok = b"VALUES"
            elif (
                not after_dot and upper in RESERVED and upper not in RESERVED_FUNCTIONS and upper not in TYPES
            ):
                tokens[i:i] = [b"("]  # IN(, AND(, ON(: a keyword, then a parenthesis
                tok = upper
            elif _table_context(out, len(out)):
                tokens[i:i] = [b"("]  # INSERT INTO t(a, b): a table name, not a call
                out.append(word)
                continue
            else:
                if not after_dot and (upper in RESERVED or upper in FUNCTIONS or upper in TYPES):
                    word = upper
                stack.append(len(out))
                out.append(word + b"(")
                continue

        if tok == b"?":
            if out and out[-1] in (b"-", b"+") and (len(out) == 1 or _is_unary_context(out[-2])):
                out.pop()
            if values_depth == len(stack):
                values_depth, last_row = -1, None
            out.append(b"?")
            continue

        if first in (0x28, 0x29):  # ( )
            if tok == b"(":
                if (
                    out
                    and (out[-1] in FUNCTIONS or out[-1] in TYPES)
                    and (len(out) < 2 or (out[-2] != b"." and out[-2] not in _TABLE_NAME_AFTER))
                ):
                    stack.append(len(out) - 1)
                    out[-1] = out[-1] + b"("
                elif out and ident_at == len(out) - 1 and not _table_context(out, ident_at):
                    # `p`(1) and p (1): the call p(1), one shape however it is spelled
                    stack.append(ident_at)
                    out[-1] = out[-1] + b"("
                else:
                    if values_depth == len(stack) and not (out and out[-1] in (b",", b"VALUES", b"ROW")):
                        values_depth, last_row = -1, None
                    stack.append(len(out))
                    out.append(b"(")
                continue
            out.append(b")")
            if not stack:
                continue
            start = stack.pop()
            if len(stack) == values_depth:
                last_row = _collapse_row(out, start, last_row)
            elif out[start] == b"(" and start > 0 and out[start - 1] == b"IN":
                _collapse_in_list(out, start)
            continue

        if _WORD_START[first]:
            upper = tok.upper()
            if upper in RESERVED and not (out and out[-1] == b"."):
                if upper in _LITERAL_WORDS and not _after_is(out):
                    tokens[i - 1 : i] = [b"?"]
                    i -= 1
                    continue
                tok = upper
                if upper == b"VALUES" and b"DUPLICATE" not in out:
                    values_depth, last_row = len(stack), None
                    out.append(tok)
                    continue
            elif (
                upper in FUNCTIONS
                and i < len(tokens)
                and tokens[i] == b"("
                and not (out and out[-1] in _TABLE_NAME_AFTER)
            ):
                tok = upper
        if values_depth == len(stack) and tok not in (b",", b"ROW"):
            values_depth, last_row = -1, None
        if _WORD_START[first] and tok.upper() not in RESERVED and tok.upper() not in FUNCTIONS:
            ident_at = len(out)
        out.append(tok)

    while out and out[-1] == b";":
        out.pop()
    text = _join(out)
    return Fingerprint(text, text.upper(), complete)


def _table_context(out: list[bytes], at: int) -> bool:
    """True when the (possibly qualified) name at out[at] follows INTO, TABLE, REFERENCES or
    EXISTS: then "(" after it opens a column list, not a call."""
    j = at - 1
    while j >= 1 and out[j] == b".":
        j -= 2
    return j >= 0 and out[j].upper() in _TABLE_NAME_AFTER


def _is_unary_context(previous: bytes) -> bool:
    """True when a +/- after `previous` is a sign, not a binary operator."""
    return previous in _UNARY_AFTER or previous.endswith(b"(") or previous in RESERVED


def _after_is(out: list[bytes]) -> bool:
    """NULL/TRUE/FALSE after IS, IS NOT or NOT are part of the operator, not literals."""
    return bool(out) and out[-1] in (b"IS", b"NOT")


def _collapse_in_list(out: list[bytes], start: int) -> None:
    """``IN (?, ?, ?)`` -> ``IN (?+)``; ``IN ((?, ?), (?, ?))`` -> ``IN ((?, ?)+)``."""
    inner = out[start + 1 : -1]
    if not inner or any(t not in _IN_LIST_TOKENS for t in inner):
        return
    items = _split_items(inner)
    if any(item != items[0] for item in items) or not items[0]:
        return
    first = items[0]
    out[start + 1 :] = [*first[:-1], first[-1] + b"+", b")"]


def _collapse_row(out: list[bytes], start: int, last_row: tuple[int, int] | None) -> tuple[int, int]:
    """Drop a VALUES row identical to the row before it; return the span of the kept row."""
    end = len(out)
    row_start = start - 1 if start > 0 and out[start - 1] == b"ROW" else start
    if (
        last_row is not None
        and last_row[1] == row_start - 1
        and out[row_start - 1] == b","
        and out[last_row[0] : last_row[1]] == out[row_start:end]
    ):
        del out[row_start - 1 :]
        return last_row
    return (row_start, end)


def _split_items(tokens: list[bytes]) -> list[list[bytes]]:
    items: list[list[bytes]] = [[]]
    depth = 0
    for tok in tokens:
        if tok == b"," and depth == 0:
            items.append([])
            continue
        if tok == b"(":
            depth += 1
        elif tok == b")":
            depth -= 1
        items[-1].append(tok)
    return items


def _join(out: list[bytes]) -> bytes:
    """Single spaces between tokens, none inside ``f(``, ``a.b``, before ``,`` or ``)``."""
    parts: list[bytes] = []
    previous = b""
    for tok in out:
        if parts and not (previous.endswith(b"(") or previous == b"." or tok in _NO_SPACE_BEFORE):
            parts.append(b" ")
        parts.append(tok)
        previous = tok
    return b"".join(parts)


# --------------------------------------------------------------------------------------------
# Statements over BIG_FINGERPRINT bytes (a 50 MB bulk INSERT): the tokenizer would hold millions
# of tokens. Their first PREFIX bytes (cut after a row, or before a literal) go through the
# tokenizer; the rest is reduced, one literal at a time and without keeping it, to the set of
# its non-literal pieces (white space dropped, upper case: for a bulk INSERT `,` `,NULL),(`
# and perhaps `)ONDUPLICATEKEYUPDATE...`). When that set is the set of the next row after the
# cut, which the tokenizer collapses into the row before it, the fingerprint is the head's:
# the tokenizer over the whole text would give the same. Otherwise a hash of the set is
# appended, so statements that differ past the prefix fall into different classes.

BIG_FINGERPRINT = 1024 * 1024
PREFIX = 64 * 1024
_IN_RUN = re.compile(rb"IN \(\?(?:, \?)*")
_WHITE = b" \t\r\n"


# LITERAL_SPLIT with the literals captured too (group 3), so that split() keeps every byte: the
# lengths of the pieces then tell where each window of a big statement really ends.
_SPLIT_ALL = re.compile(
    rb"(?=[/`#\-'\"0-9.])(?:("
    + _BACKTICK
    + rb"|/\*M?![\s\S]*?\*/"
    + rb")|(?:/\*[\s\S]*?\*/|"
    + _LINE_COMMENT
    + rb")()|("
    + _STRING
    + rb"|"
    + _DQ_STRING
    + rb"|"
    + _NUMBER
    + rb"))"
)
_WINDOW = 1024 * 1024
_OPENERS = re.compile(rb"['\"`]|/\*")


def _pieces(data: bytes, start: int, end: int) -> tuple[frozenset[bytes], bool]:
    """The distinct non-literal pieces of data[start:end] (white space dropped, upper case;
    quoted identifiers and executable comments included) and whether a literal or comment is
    left open. Works on 1 MiB windows with C-level split/join/translate, so memory stays bounded
    and no Python code runs per literal."""
    seen: set[bytes] = set()
    open_ = False
    pos = start
    window = _WINDOW
    while pos < end:
        stop = min(pos + window, end)
        parts = _SPLIT_ALL.split(data[pos:stop])
        texts = parts[0::4]
        if stop < end and len(parts) > 1:
            # The window may cut the last text piece: leave it whole to the next window.
            stop -= len(parts[-1])
            texts[-1] = b""
        joined = b"\x00".join(texts)
        opener = _OPENERS.search(joined)
        if opener is not None:
            if stop == end:
                open_ = True  # a literal or comment that never closes
            else:
                # A literal cut by the window (or one that never closes): the window ends
                # where it starts, and the next one begins there.
                index = joined.count(b"\x00", 0, opener.start())
                within = opener.start() - (joined.rfind(b"\x00", 0, opener.start()) + 1)
                offset = len(b"".join(filter(None, parts[: 4 * index]))) + within
                if offset == 0:
                    window *= 2  # one literal longer than the window: widen it
                    continue
                parts = parts[: 4 * index]
                texts = [*parts[0::4], texts[index][:within]]
                joined = b"\x00".join(texts)
                stop = pos + offset
        seen.update(joined.translate(None, _WHITE).upper().split(b"\x00"))
        seen.update(k for k in parts[1::4] if k is not None)
        pos, window = stop, _WINDOW
    seen.discard(b"")
    return frozenset(seen), open_


def _row_cuts(data: bytes, start: int, end: int, after: int, wanted: int) -> list[int]:
    """Up to `wanted` offsets just after a ``)`` followed by ``,`` outside literals, at or past
    `after`; gives up at the first literal or comment beyond after + PREFIX."""
    cuts: list[int] = []
    previous = start
    for m in LITERAL_SPLIT.finditer(data, start, end):
        gap_end = m.start()
        if gap_end > after:
            _gap_cuts(data, max(previous, after), gap_end, cuts, wanted)
            if len(cuts) >= wanted or gap_end >= after + PREFIX:
                return cuts
        previous = m.end()
    _gap_cuts(data, max(previous, after), end, cuts, wanted)
    return cuts


def _gap_cuts(data: bytes, lo: int, hi: int, cuts: list[int], wanted: int) -> None:
    at = data.find(b")", lo, hi)
    while at >= 0 and len(cuts) < wanted:
        nxt = at + 1
        while nxt < hi and data[nxt] in _WHITE:
            nxt += 1
        if nxt < hi and data[nxt] == 0x2C:  # ","
            cuts.append(at + 1)
        at = data.find(b")", at + 1, hi)


def fingerprint_big(data: bytes, start: int = 0, end: int | None = None) -> Fingerprint:
    """Fingerprint data[start:end] with bounded memory (see above)."""
    end = len(data) if end is None else end
    cuts = _row_cuts(data, start, end, start + PREFIX, 3)
    if not cuts:
        # No row boundary near PREFIX: cut before the first literal that starts past it.
        m = LITERAL_SPLIT.search(data, start + PREFIX, end)
        cuts = [m.start()] if m is not None else [end]
    cut = cuts[0]
    head = fingerprint(data[start:cut])
    if cut >= end:
        return head
    pieces, open_ = _pieces(data, cut, end)
    complete = head.complete and not open_
    # Two more rows collapse into the row before the cut; when the rest has exactly their
    # pieces, it is more rows like them, and the tokenizer would collapse those too.
    if (
        len(cuts) == 3
        and fingerprint(data[start : cuts[2]]) == head
        and pieces == _pieces(data, cut, cuts[2])[0]
    ):
        return Fingerprint(head.text, head.key, complete)
    digest = hashlib.blake2b(b"\x00".join(sorted(pieces)), digest_size=8).hexdigest().encode()
    text = _IN_RUN.sub(b"IN (?+", head.text) + b" ... /* over 1 MiB; the rest has shape " + digest + b" */"
    return Fingerprint(text, text.upper(), complete)
