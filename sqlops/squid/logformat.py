"""Squid ``logformat`` specs compiled into line parsers that map onto ``access_log`` columns.

A spec is the same string squid.conf takes after ``logformat <name>``: literal text and
``%`` codes with optional modifiers ``% [encoding] [-] [[0]width][.max] [{arg}] code [{arg}]``.
:func:`compile_format` turns it into one anchored regular expression (one group per code)
and a mapping from codes to the columns of Squid's ``log_db_daemon`` table. Codes without a
column are parsed and ignored; :attr:`LogFormat.unmapped` lists them so the caller can report
them once.

Values are kept as the bytes Squid logged (``-`` stays ``-`` in text columns, exactly as
``log_db_daemon`` stores it); numeric columns get ``None`` for ``-``. :meth:`LogFormat.parse`
returns a tuple in :data:`CANONICAL` order or raises :class:`LineError` with the reason.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from sqlops.errors import ConfigError

# Squid's built-in formats (squid.conf.documented, Squid 5) and the classic log_db_daemon one.
BUILTIN_FORMATS: dict[str, str] = {
    "squid": "%ts.%03tu %6tr %>a %Ss/%03>Hs %<st %rm %ru %[un %Sh/%<a %mt",
    "squid_mysql": "%ts.%03tu %6tr %>a %Ss %03Hs %<st %rm %ru %un %Sh %<A %mt",
    "common": '%>a %[ui %[un [%tl] "%rm %ru HTTP/%rv" %>Hs %<st %Ss:%Sh',
    "combined": '%>a %[ui %[un [%tl] "%rm %ru HTTP/%rv" %>Hs %<st "%{Referer}>h" "%{User-Agent}>h" %Ss:%Sh',
    "referrer": "%ts.%03tu %>a %{Referer}>h %ru",
    "useragent": '%>a [%tl] "%{User-Agent}>h"',
}

# With `log_mime_hdrs on` Squid appends " [request headers] [reply headers]" to these.
_MIME_HEADER_FORMATS = {"squid", "common", "combined"}

# The access_log columns a parsed line fills, in the order parse() returns them.
CANONICAL: tuple[str, ...] = (
    "time_since_epoch",
    "time_response",
    "ip_client",
    "ip_server",
    "http_status_code",
    "http_reply_size",
    "http_method",
    "http_url",
    "http_username",
    "http_mime_type",
    "squid_request_status",
    "squid_hier_status",
)

# Codes that fill a column, best source first (the first code present in a spec wins).
_COLUMN_SOURCES: dict[str, tuple[str, ...]] = {
    "time_response": ("tr",),
    "ip_client": (">a", ">A"),
    "ip_server": ("<a", "<A"),
    "http_status_code": (">Hs", "Hs"),
    "http_reply_size": ("<st",),
    "http_method": ("rm", ">rm"),
    "http_url": ("ru", ">ru", "<ru"),
    "http_username": ("un", "ul", "ue", "us", "ui"),
    "http_mime_type": ("mt",),
    "squid_request_status": ("Ss",),
    "squid_hier_status": ("Sh",),
}
_NUMERIC_COLUMNS = {"time_response", "http_reply_size"}


def _words(text: str) -> list[str]:
    return text.split()


# Every code Squid 5 accepts without a namespace (longest match wins, as in Squid).
_CODES = frozenset(
    _words(
        """
        % sn err_code err_detail note master_xaction
        >a >A >p >eui >la >lp >qos >nfmark la lp <a <A <p <la <lp <qos <nfmark >handshake oa
        ts tu tl tg tr dt tS busy_time
        et ea un ul ue ui us credentials
        rm >rm <rm ru >ru <ru >rs <rs >rd <rd >rP <rP rp >rp <rp rv >rv <rv rG >v
        >h >ha <h <ha
        <Hs >Hs Hs mt st >st <st >sh <sh <sH <sS <bs <pt <tt
        Ss Sh
        """
    )
)
_NAMESPACES = ("http", "ssl", "tls", "icap", "adapt", "proxy_protocol", "transport")
_NAMESPACED_CODE = re.compile(r"[<>]?[A-Za-z_]+")

# Value domains decide the regex of a field.
_NUMBER = frozenset(
    _words(
        """
        ts tu tr dt sn >p <p lp >lp <lp st >st <st >sh <sh <sH <sS <bs <pt <tt <Hs >Hs Hs
        busy_time master_xaction >qos <qos >nfmark <nfmark
        """
    )
)
_DECIMAL = frozenset({"tS"})
_URLISH = frozenset(_words("ru >ru <ru rp >rp <rp"))
_TOKEN = frozenset(
    _words(
        """
        >a >A <a <A la >la <la oa >eui Ss Sh mt rm >rm <rm rv >rv <rv >rs <rs >rd <rd >rP <rP
        un ul ue ui us err_code rG >v
        """
    )
)
# Everything else (headers, notes, err_detail, tl/tg, ...) is free text that may contain spaces.

NONE, QUOTES, MIMEBLOB, URL, SHELL, RAW = "", '"', "[", "#", "/", "'"


class LineError(ValueError):
    """A log line that does not fit the format or the table; the message is the reason."""


@dataclass(frozen=True)
class Token:
    """One piece of a spec: literal text (`code` None) or a % code with its modifiers."""

    code: str | None
    text: str = ""  # the literal text, or the code as written (for messages)
    encoding: str = NONE  # explicit or inherited from surrounding quotes/brackets
    left: bool = False
    zero: bool = False
    width: int | None = None
    max_width: int | None = None
    arg: str | None = None


def resolve_spec(spec: str) -> tuple[str, str]:
    """(name, spec) for a built-in name, a ``logformat NAME SPEC`` line or a bare spec."""
    text = spec.strip("\r\n")
    if text in BUILTIN_FORMATS:
        return text, BUILTIN_FORMATS[text]
    head = text.lstrip()
    if head.startswith("logformat ") or head.startswith("logformat\t"):
        parts = head.split(None, 2)
        if len(parts) < 3:
            raise ConfigError(f"logformat line {spec!r} has no format specification")
        return parts[1], _strip_one_separator(head, parts[1])
    if "%" not in text:
        raise ConfigError(
            f"unknown log format {spec!r}",
            fix=f"use one of {', '.join(BUILTIN_FORMATS)} or a logformat spec such as "
            "'%ts.%03tu %6tr %>a %Ss/%03>Hs %<st %rm %ru %[un %Sh/%<a %mt'",
        )
    return "custom", text


def _strip_one_separator(line: str, name: str) -> str:
    rest = line[line.index(name, len("logformat")) + len(name) :]
    return rest[1:] if rest[:1] in (" ", "\t") else rest


def tokenize(spec: str) -> list[Token]:
    """Split a spec into tokens, following Squid's own rules: a literal ``"`` toggles quoted
    encoding for the codes after it and ``[``/``]`` switch to the log_mime_hdrs encoding."""
    tokens: list[Token] = []
    context = NONE
    i, n = 0, len(spec)
    while i < n:
        if spec[i] != "%":
            j = spec.find("%", i)
            j = n if j < 0 else j
            literal = spec[i:j]
            for ch in literal:
                if ch == '"':
                    context = QUOTES if context == NONE else (NONE if context == QUOTES else context)
                elif ch == "[" and context == NONE:
                    context = MIMEBLOB
                elif ch == "]" and context == MIMEBLOB:
                    context = NONE
            tokens.append(Token(None, literal))
            i = j
            continue
        start = i
        i += 1
        if i >= n:
            raise ConfigError(f"logformat {spec!r}: a lone % at the end")
        encoding = context
        if spec[i] in "\"'[#/":
            encoding = spec[i]
            i += 1
        left = zero = False
        width = max_width = None
        arg = None
        if i < n and spec[i] == "-":
            left, i = True, i + 1
        if i < n and spec[i] == "0":
            zero, i = True, i + 1
        m = re.compile(r"\d+").match(spec, i)
        if m:
            width, i = int(m.group()), m.end()
        if i < n and spec[i] == "." and i + 1 < n and spec[i + 1].isdigit():
            m = re.compile(r"\d+").match(spec, i + 1)
            assert m is not None
            max_width, i = int(m.group()), m.end()
        if i < n and spec[i] == "{":
            arg, i = _read_arg(spec, i)
        code, i = _read_code(spec, i, start)
        if arg is None and i < n and spec[i] == "{":
            arg, i = _read_arg(spec, i)
        if code == "%":
            tokens.append(Token(None, "%"))
            continue
        tokens.append(Token(code, spec[start:i], encoding, left, zero, width, max_width, arg))
    return _merge_literals(tokens)


def _read_arg(spec: str, i: int) -> tuple[str, int]:
    end = spec.find("}", i)
    if end < 0:
        raise ConfigError(f"logformat {spec!r}: '{{' at {i} is not closed")
    return spec[i + 1 : end], end + 1


def _read_code(spec: str, i: int, start: int) -> tuple[str, int]:
    for ns in _NAMESPACES:
        prefix = ns + "::"
        if spec.startswith(prefix, i):
            if ns == "http":
                i += len(prefix)
                break
            m = _NAMESPACED_CODE.match(spec, i + len(prefix))
            if m:
                return prefix + m.group(), m.end()
    for length in range(min(12, len(spec) - i), 0, -1):
        if spec[i : i + length] in _CODES:
            return spec[i : i + length], i + length
    raise ConfigError(
        f"logformat: unknown format code at {spec[start : start + 12]!r}",
        why="the code is not one Squid 5 documents (see squid.conf.documented, TAG: logformat)",
        fix="check the spelling against the logformat line in squid.conf",
    )


def _merge_literals(tokens: list[Token]) -> list[Token]:
    out: list[Token] = []
    for token in tokens:
        if token.code is None and out and out[-1].code is None:
            out[-1] = Token(None, out[-1].text + token.text)
        elif token.code is None and not token.text:
            continue
        else:
            out.append(token)
    return out


# --------------------------------------------------------------------------------------------
# Compilation


def _value_pattern(token: Token) -> str:
    """The regex (no group) for one field's value."""
    code = token.code or ""
    bare = code.split("::", 1)[-1]
    if code in _NUMBER:
        return r"-|-?\d+"
    if code in _DECIMAL:
        return r"-|-?\d+(?:\.\d+)?"
    if token.encoding == SHELL:
        return r'"(?:[^"\\]|\\.)*"|\S*'
    if code in _TOKEN or bare in _TOKEN or token.encoding == URL:
        return r"\S+"
    if token.encoding == QUOTES:
        return r'(?:[^"\\]|\\.)*?'
    if token.encoding == MIMEBLOB:
        return r"[^\[\]]*?"
    if code in _URLISH:
        return r".+?"
    return r".*?"


def _field_regex(token: Token) -> str:
    return _pad(token, f"({_value_pattern(token)})")


def _pad(token: Token, body: str) -> str:
    """Allow the blanks Squid adds to reach a field's minimum width."""
    if token.width and not token.zero:
        return body + " *" if token.left else " *" + body
    return body


_LOOSE = (r".+?", r".*?", r'(?:[^"\\]|\\.)*?', r"[^\[\]]*?", r'"(?:[^"\\]|\\.)*"|\S*')


@dataclass(frozen=True)
class LogFormat:
    """A compiled format: `parse(line)` gives the canonical column values."""

    name: str
    spec: str
    tokens: tuple[Token, ...]
    regex: re.Pattern[bytes]
    columns: tuple[str, ...]  # canonical columns this format fills
    unmapped: tuple[str, ...]  # codes (as written) that have no column
    sources: dict[str, int]  # column -> regex group index (0-based) for plain columns
    epoch_groups: tuple[int, int | None] | None  # (%ts, %tu) groups when the time comes from them
    loose_groups: frozenset[int]  # groups whose value may contain blanks or tabs
    _extract: Callable[[tuple[bytes, ...]], tuple[bytes | None, ...]]

    def parse(self, line: bytes, start: int = 0) -> tuple[bytes | None, ...]:
        """Canonical values of `line[start:]`; LineError when it does not fit."""
        m = self.regex.fullmatch(line, start)
        if m is None:
            raise LineError(f"does not match log format {self.name!r}")
        return self._extract(m.groups())

    def matches(self, line: bytes) -> bool:
        return self.regex.fullmatch(line) is not None

    def strict_pattern(self, captures: dict[int, str], epoch: str | None) -> tuple[str, list[int]] | None:
        """Regex text for one whole line in which the fields in `captures` (field index →
        value regex) are captured and the other fields keep their normal pattern uncaptured.
        With `epoch`, ``%ts.%tu`` is captured as one group with that regex (reported as
        field -1). Returns the pattern and the field each group holds; None when `epoch` is
        given but the format has no ``%ts.%03tu`` pair."""
        parts: list[str] = []
        order: list[int] = []
        tokens = list(self.tokens)
        field = -1
        i = 0
        merged = False
        while i < len(tokens):
            token = tokens[i]
            if token.code is None:
                parts.append(re.escape(token.text))
                i += 1
                continue
            field += 1
            if (
                epoch is not None
                and token.code == "ts"
                and i + 2 < len(tokens)
                and tokens[i + 1].code is None
                and tokens[i + 1].text == "."
                and tokens[i + 2].code == "tu"
                and tokens[i + 2].zero
                and tokens[i + 2].width == 3
            ):
                parts.append(_pad(token, f"({epoch})"))
                order.append(-1)
                field += 1  # %tu is consumed too
                i += 3
                merged = True
                continue
            if field in captures:
                parts.append(_pad(token, f"({captures[field]})"))
                order.append(field)
            else:
                parts.append(_pad(token, f"(?:{_value_pattern(token)})"))
            i += 1
        if epoch is not None and not merged:
            return None
        return "".join(parts), order


@lru_cache(maxsize=32)
def compile_format(spec: str) -> LogFormat:
    """Compile a built-in name, a ``logformat`` line or a spec string (cached)."""
    name, text = resolve_spec(spec)
    tokens = tokenize(text)
    fields = [t for t in tokens if t.code is not None]
    if not fields:
        raise ConfigError(f"log format {spec!r} has no % codes")
    pattern = "".join(_field_regex(t) if t.code else re.escape(t.text) for t in tokens)
    if name in _MIME_HEADER_FORMATS and text == BUILTIN_FORMATS[name]:
        pattern += r"(?: \[[^\]]*\] \[[^\]]*\])?"
    regex = re.compile(pattern.encode("utf-8"), re.DOTALL)

    index: dict[str, int] = {}
    for position, token in enumerate(fields):
        assert token.code is not None
        index.setdefault(token.code.removeprefix("http::"), position)

    used: set[int] = set()
    getters: list[Callable[[tuple[bytes, ...]], bytes | None]] = []
    filled: list[str] = []
    sources: dict[str, int] = {}
    epoch = _epoch_getter(fields, index, used)
    getters.append(epoch if epoch is not None else _none)
    if epoch is not None:
        filled.append("time_since_epoch")
    for column in CANONICAL[1:]:
        source = next((index[c] for c in _COLUMN_SOURCES[column] if c in index), None)
        if source is None:
            getters.append(_none)
            continue
        used.add(source)
        filled.append(column)
        sources[column] = source
        getters.append(_numeric_getter(source) if column in _NUMERIC_COLUMNS else _text_getter(source))
    epoch_groups = None
    if "ts" in index:
        epoch_groups = (index["ts"], index.get("tu"))
    unmapped = tuple(dict.fromkeys(t.text for i, t in enumerate(fields) if i not in used))
    loose = frozenset(i for i, t in enumerate(fields) if _value_pattern(t) in _LOOSE)
    return LogFormat(
        name=name,
        spec=text,
        tokens=tuple(tokens),
        regex=regex,
        columns=tuple(filled),
        unmapped=unmapped,
        sources=sources,
        epoch_groups=epoch_groups,
        loose_groups=loose,
        _extract=_combine(getters),
    )


def _none(groups: tuple[bytes, ...]) -> None:
    return None


def _text_getter(i: int) -> Callable[[tuple[bytes, ...]], bytes | None]:
    def get(groups: tuple[bytes, ...]) -> bytes | None:
        return groups[i]

    return get


def _numeric_getter(i: int) -> Callable[[tuple[bytes, ...]], bytes | None]:
    def get(groups: tuple[bytes, ...]) -> bytes | None:
        value = groups[i]
        return None if value == b"-" else value

    return get


def _combine(
    getters: list[Callable[[tuple[bytes, ...]], bytes | None]],
) -> Callable[[tuple[bytes, ...]], tuple[bytes | None, ...]]:
    frozen = tuple(getters)

    def extract(groups: tuple[bytes, ...]) -> tuple[bytes | None, ...]:
        return tuple(g(groups) for g in frozen)

    return extract


def _epoch_getter(
    fields: list[Token], index: dict[str, int], used: set[int]
) -> Callable[[tuple[bytes, ...]], bytes | None] | None:
    """time_since_epoch from %ts[.%tu], else from %tl / %tg in their default layout."""
    if "ts" in index:
        ts = index["ts"]
        used.add(ts)
        if "tu" not in index:
            return _numeric_getter(ts)
        tu = index["tu"]
        used.add(tu)

        def seconds_and_millis(groups: tuple[bytes, ...]) -> bytes | None:
            seconds, millis = groups[ts], groups[tu]
            if seconds == b"-":
                return None
            if millis == b"-":
                return seconds
            return seconds + b"." + millis.rjust(3, b"0")

        return seconds_and_millis
    for code in ("tl", "tg"):
        if code in index and fields[index[code]].arg is None:
            position = index[code]
            used.add(position)
            return _clock_getter(position, utc_default=code == "tg")
    return None


def _clock_getter(position: int, *, utc_default: bool) -> Callable[[tuple[bytes, ...]], bytes | None]:
    def get(groups: tuple[bytes, ...]) -> bytes | None:
        value = groups[position]
        return None if value == b"-" else _clock_epoch(value, utc_default)

    return get


@lru_cache(maxsize=4096)
def _clock_epoch(value: bytes, utc_default: bool) -> bytes:
    """``10/Oct/2024:13:55:36 +0200`` (Squid's default %tl/%tg layout) as Unix seconds."""
    text = value.decode("ascii", "replace").strip()
    try:
        if len(text) > 20:
            stamp = dt.datetime.strptime(text, "%d/%b/%Y:%H:%M:%S %z")
        else:
            if not utc_default:
                raise ValueError("local time without a zone offset")
            stamp = dt.datetime.strptime(text, "%d/%b/%Y:%H:%M:%S").replace(tzinfo=dt.UTC)
    except ValueError as exc:
        raise LineError(f"time {text!r} is not in Squid's %tl layout ({exc})") from None
    return str(int(stamp.timestamp())).encode()


def detect_format(lines: list[bytes], candidates: tuple[str, ...] = ("squid", "squid_mysql")) -> str | None:
    """The first candidate that parses most of `lines` (the legacy daemon target does not know
    which of log_db_daemon's two formats Squid sends); None when no line fits any."""
    best, best_hits = None, 0
    for name in candidates:
        fmt = compile_format(name)
        hits = sum(1 for line in lines if fmt.matches(line))
        if hits > best_hits:
            best, best_hits = name, hits
    return best
