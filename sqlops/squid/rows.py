"""Parsed log lines → rows of the live log table, checked against its column types.

:class:`RowEncoder` takes the canonical values of :mod:`sqlops.squid.logformat` and produces one
row in either of two wire forms: a ``LOAD DATA`` line (tab-separated, ``\\N`` for NULL) or a
``VALUES`` tuple for a multi-row INSERT. Values are checked against the *live* table (read
from ``information_schema``), so a value the server would truncate or reject (``LOAD DATA
LOCAL`` turns such errors into warnings) is caught here and the line goes to quarantine with
the reason instead.

URLs are bytes: ``http_url`` gets the text with invalid UTF-8 bytes as ``\\xNN``
(backslashreplace) and ``http_url_raw`` the exact bytes only when they differ
(see ``sql/access_log.sql``). Other text columns have no raw twin: a value that is not UTF-8
quarantines its line (the exact bytes are kept there); a VARBINARY column stores any bytes.
``date_day`` is the request's day in the configured zone,
computed with :func:`sqlops.timezones.local_date_of_epoch`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from operator import itemgetter
from typing import Any, Literal

from sqlops.squid.logformat import CANONICAL, LineError, LogFormat
from sqlops.timezones import local_date_of_epoch

Mode = Literal["tsv", "sql"]

# Output order: canonical columns with the raw URL next to the URL, then the day.
OUTPUT_ORDER: tuple[str, ...] = (*CANONICAL[:8], "http_url_raw", *CANONICAL[8:], "date_day")

_INT_RANGES = {
    "tinyint": 8,
    "smallint": 16,
    "mediumint": 24,
    "int": 32,
    "integer": 32,
    "bigint": 64,
}
_TEXT_BYTES = {"tinytext": 255, "text": 65535, "mediumtext": 16777215, "longtext": 4294967295}
_BLOB_BYTES = {
    "tinyblob": 255,
    "blob": 65535,
    "mediumblob": 16777215,
    "longblob": 4294967295,
    "varbinary": None,
    "binary": None,
}


@dataclass(frozen=True)
class ColumnSpec:
    """What a live column accepts, from information_schema.COLUMNS."""

    name: str
    kind: Literal["int", "decimal", "text", "binary", "date", "other"]
    nullable: bool = True
    max_chars: int | None = None  # char/varchar
    max_bytes: int | None = None  # text/blob types
    int_min: int = 0
    int_max: int = 0
    int_digits: int = 0  # decimal: digits before the point
    frac_digits: int = 0  # decimal: digits after the point

    @classmethod
    def from_information_schema(
        cls,
        name: str,
        data_type: str,
        column_type: str,
        char_length: int | None,
        precision: int | None,
        scale: int | None,
        nullable: bool,
    ) -> ColumnSpec:
        data_type = data_type.lower()
        if data_type in _INT_RANGES:
            bits = _INT_RANGES[data_type]
            if "unsigned" in column_type.lower():
                return cls(name, "int", nullable, int_min=0, int_max=2**bits - 1)
            return cls(name, "int", nullable, int_min=-(2 ** (bits - 1)), int_max=2 ** (bits - 1) - 1)
        if data_type == "decimal":
            p, s = int(precision or 10), int(scale or 0)
            return cls(name, "decimal", nullable, int_digits=p - s, frac_digits=s)
        if data_type in ("char", "varchar"):
            return cls(name, "text", nullable, max_chars=int(char_length or 0))
        if data_type in _TEXT_BYTES:
            return cls(name, "text", nullable, max_bytes=_TEXT_BYTES[data_type])
        if data_type in _BLOB_BYTES:
            limit = _BLOB_BYTES[data_type]
            return cls(name, "binary", nullable, max_bytes=limit if limit is not None else char_length)
        if data_type == "date":
            return cls(name, "date", nullable)
        return cls(name, "other", nullable)


_TYPE = re.compile(r"(\w+)(?:\((\d+)(?:,(\d+))?\))?(.*)")


def columns_from_definition(columns: Iterable[Any]) -> dict[str, ColumnSpec]:
    """Column specs from a schema file's parsed columns (`sqlops.schema.definitions`), without
    a server: what `sqlops schema init` creates. Auto-increment `id` is left out."""
    out: dict[str, ColumnSpec] = {}
    for column in columns:
        if column.name == "id":
            continue
        match = _TYPE.fullmatch(column.type)
        assert match is not None, column.type
        data_type, first, second, _ = match.groups()
        number = int(first) if first else None
        out[column.name] = ColumnSpec.from_information_schema(
            column.name,
            data_type,
            column.type,
            number,
            number,
            int(second) if second else None,
            column.nullable,
        )
    return out


# --------------------------------------------------------------------------------------------
# Escaping for the two wire forms


_TSV_NULL = b"\\N"
_SQL_NULL = b"NULL"
_SQL_SPECIAL = re.compile(rb"[\\'\x00\n\r\x1a]")
_SQL_ESCAPES = {
    b"\\": b"\\\\",
    b"'": b"\\'",
    b"\x00": b"\\0",
    b"\n": b"\\n",
    b"\r": b"\\r",
    b"\x1a": b"\\Z",
}


def tsv_escape(value: bytes) -> bytes:
    """Escape a field for ``LOAD DATA ... FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\'``."""
    if b"\\" in value:
        value = value.replace(b"\\", b"\\\\")
    if b"\t" in value:
        value = value.replace(b"\t", b"\\t")
    if b"\n" in value:
        value = value.replace(b"\n", b"\\n")
    return value


def tsv_unescape(field: bytes) -> bytes | None:
    """Inverse of :func:`tsv_escape` (None for ``\\N``)."""
    if field == _TSV_NULL:
        return None
    if b"\\" not in field:
        return field
    out = bytearray()
    i = 0
    while i < len(field):
        ch = field[i]
        if ch == 0x5C and i + 1 < len(field):
            nxt = field[i + 1 : i + 2]
            out += {b"t": b"\t", b"n": b"\n", b"0": b"\x00", b"N": b"N"}.get(nxt, nxt)
            i += 2
        else:
            out.append(ch)
            i += 1
    return bytes(out)


def sql_literal(value: bytes) -> bytes:
    """A quoted string literal (the sessions run without NO_BACKSLASH_ESCAPES)."""
    if _SQL_SPECIAL.search(value):
        value = _SQL_SPECIAL.sub(lambda m: _SQL_ESCAPES[m.group()], value)
    return b"'" + value + b"'"


def sql_hex(value: bytes) -> bytes:
    return b"X'" + value.hex().encode() + b"'"


# --------------------------------------------------------------------------------------------
# The encoder


class DayCache:
    """`local_date_of_epoch` for whole seconds, remembered (log times repeat and cluster)."""

    def __init__(self, zone: str) -> None:
        self.zone = zone
        self._days: dict[int, bytes] = {}

    def day(self, seconds: int) -> bytes:
        day = self._days.get(seconds)
        if day is None:
            if len(self._days) > 200_000:
                self._days.clear()
            try:
                day = local_date_of_epoch(seconds, self.zone).isoformat().encode()
            except (ValueError, OverflowError, OSError):
                year = int(1970 + seconds // 31_556_952)
                raise LineError(f"timestamp {seconds} is out of range (year {year})") from None
            self._days[seconds] = day
        return day

    def today(self) -> bytes:
        return self.day(int(time.time()))


Field = Callable[[bytes | None], bytes]

# Printable ASCII without blank and backslash (and without the quote for SQL literals): values
# made only of these need no escaping in either wire form.
_STRICT_TSV = r"[!-\[\]-~]"
_STRICT_SQL = r"[!-&(-\[\]-~]"
_DAY_MARK = b"\x00day\x00"


class _BlockCodec:
    def __init__(
        self,
        regex: re.Pattern[bytes],
        getter: Callable[..., tuple[bytes, ...]],
        epoch: Callable[..., bytes],
        template: bytes,
    ) -> None:
        self.regex = regex
        self.getter = getter
        self.epoch = epoch
        self.template = template
        self.templates: dict[bytes, bytes] = {}


class RowEncoder:
    """Encode canonical values into one row of the live table, or raise LineError."""

    def __init__(self, fmt: LogFormat, columns: Mapping[str, ColumnSpec], zone: str, mode: Mode) -> None:
        self.format = fmt
        self.mode = mode
        self.days = DayCache(zone)
        self.null = _TSV_NULL if mode == "tsv" else _SQL_NULL
        filled = set(fmt.columns)
        self.missing = tuple(c for c in fmt.columns if c not in columns)
        self.unfilled = tuple(c for c in columns if c not in OUTPUT_ORDER)
        out: list[str] = []
        for name in OUTPUT_ORDER:
            if name not in columns:
                continue
            wanted = name == "date_day" or name in filled
            if wanted or (name == "http_url_raw" and "http_url" in filled and "http_url" in columns):
                out.append(name)
        self.columns: tuple[str, ...] = tuple(out)
        self._specs = dict(columns)
        self._raw_url = "http_url_raw" in self.columns
        self._sep = b"\t" if mode == "tsv" else b","
        steps: list[Callable[[tuple[bytes | None, ...]], bytes]] = []
        for name in self.columns:
            if name == "http_url_raw":
                continue  # emitted together with http_url
            index = CANONICAL.index(name) if name in CANONICAL else CANONICAL.index("time_since_epoch")
            if name == "http_url":
                steps.append(self._url_step(index, self._field(columns[name])))
            elif name == "date_day":
                steps.append(self._day_step(index))
            else:
                steps.append(self._value_step(index, self._field(columns[name])))
        self._steps = tuple(steps)
        self._fast = self._compile_fast()
        self._blocks: dict[bytes, _BlockCodec | None] = {}

    # -- public

    def encode(self, values: tuple[bytes | None, ...]) -> bytes:
        """One row from canonical values (the general path: escaping, UTF-8, limits)."""
        row = self._sep.join([step(values) for step in self._steps])
        return row if self.mode == "tsv" else b"(" + row + b")"

    def encode_line(self, line: bytes, start: int = 0) -> bytes:
        """Parse `line[start:]` and encode it; LineError with the reason when it cannot be
        stored. Plain ASCII lines take a generated fast path with the same result."""
        if self._fast is not None:
            row = self._fast(line, start)
            if row is not None:
                return row
        return self.encode(self.format.parse(line, start))

    def encode_block(
        self, text: bytes, prefix: bytes = b"", other_lines: int = 0
    ) -> tuple[bytes, int] | None:
        """Encode many lines at once: `text` is whole lines, each starting with `prefix` but for
        `other_lines` (protocol messages the caller counted, which must not match).
        Returns (rows, count) with every row terminated (``\n`` for LOAD DATA, ``,\n`` for
        INSERT), or None unless *every* line is plain ASCII within its columns' limits and
        all fall on one `date_day` — then the caller goes line by line. One regex pass and
        C-level formatting, no Python code per line; same bytes as :meth:`encode_line`."""
        if prefix not in self._blocks:
            self._blocks[prefix] = self._compile_block(prefix)
        codec = self._blocks[prefix]
        if codec is None:
            return None
        groups = codec.regex.findall(text)
        count = len(groups)
        if count == 0 or count + other_lines != text.count(b"\n"):
            return None
        epochs = list(map(float, map(codec.epoch, groups)))
        try:
            day = self.days.day(int(min(epochs)))
            if self.days.day(int(max(epochs))) != day:
                return None
        except LineError:
            return None  # line by line: only the bad line is quarantined
        template = codec.templates.get(day)
        if template is None:
            template = codec.template.replace(_DAY_MARK, day)
            codec.templates = {day: template}
        rows = map(template.__mod__, map(codec.getter, groups))
        terminator = b"\n" if self.mode == "tsv" else b",\n"
        return terminator.join(rows) + terminator, count

    def _compile_block(self, prefix: bytes) -> _BlockCodec | None:
        fmt, tsv = self.format, self.mode == "tsv"
        if fmt.epoch_groups is None or "date_day" not in self.columns:
            return None
        plain = _STRICT_TSV if tsv else _STRICT_SQL
        captures: dict[int, str] = {}
        pieces: list[tuple[str, int | bytes]] = []
        epoch_digits = 12
        for name in self.columns:
            spec = self._specs[name]
            if name == "time_since_epoch":
                if spec.kind != "decimal" or spec.frac_digits < 3:
                    return None
                epoch_digits = spec.int_digits
                pieces.append(("value", -1))
            elif name == "date_day":
                pieces.append(("day", b""))
            elif name == "http_url_raw":
                pieces.append(("const", self.null))
            else:
                field = fmt.sources[name]
                if spec.kind == "int" and spec.int_max > 9:
                    captures[field] = rf"\d{{1,{len(str(spec.int_max)) - 1}}}"
                    pieces.append(("value", field))
                elif spec.kind == "text" and name not in ("time_response", "http_reply_size"):
                    limit = spec.max_chars if spec.max_chars is not None else spec.max_bytes
                    captures[field] = f"{plain}{{1,{limit}}}" if limit and limit < 65536 else f"{plain}+"
                    pieces.append(("text", field))
                else:
                    return None
        strict = fmt.strict_pattern(captures, rf"\d{{1,{epoch_digits}}}\.\d{{3}}")
        if strict is None:
            return None
        pattern, order = strict
        if len(order) < 2:
            return None
        template_parts: list[bytes] = []
        picks: list[int] = []
        for kind, what in pieces:
            if kind == "value":
                template_parts.append(b"%s")
                picks.append(order.index(what))  # type: ignore[arg-type]
            elif kind == "text":
                template_parts.append(b"%s" if tsv else b"'%s'")
                picks.append(order.index(what))  # type: ignore[arg-type]
            elif kind == "day":
                template_parts.append(_DAY_MARK if tsv else b"'" + _DAY_MARK + b"'")
            else:
                template_parts.append(what.replace(b"%", b"%%"))  # type: ignore[union-attr]
        template = self._sep.join(template_parts)
        if not tsv:
            template = b"(" + template + b")"
        regex = re.compile(b"^" + re.escape(prefix) + pattern.encode() + b"$", re.MULTILINE)
        return _BlockCodec(regex, itemgetter(*picks), itemgetter(order.index(-1)), template)

    # -- the generated fast path

    def _compile_fast(self) -> Callable[[bytes, int], bytes | None] | None:
        """Specialise encoding for this format and table: a line that is ASCII and needs no
        escaping, with every value inside its column's limits, is encoded straight from the
        regex groups. Anything else returns None and goes the general way. Both paths give
        identical bytes (tests/unit/squid/test_rows.py checks that)."""
        fmt, tsv = self.format, self.mode == "tsv"
        if fmt.epoch_groups is None and ("time_since_epoch" in self.columns or "date_day" in self.columns):
            return None
        code = ["def fast(line, start):", "    m = _match(line, start)", "    if m is None: return None"]
        unclean = ["not line.isascii()", "b'\\\\' in line"]
        if not tsv:
            unclean += ['b"\'" in line', "b'\\x00' in line", "b'\\r' in line", "b'\\x1a' in line"]
        code.append(f"    if {' or '.join(unclean)}: return None")
        code.append("    g = m.groups()")
        parts: list[str] = []
        if fmt.epoch_groups is not None:
            ts, tu = fmt.epoch_groups
            spec = self._specs.get("time_since_epoch")
            digits = spec.int_digits if spec is not None and spec.kind == "decimal" else 12
            code.append(f"    s = g[{ts}]")
            code.append(f"    if not s.isdigit() or len(s) > {digits}: return None")
            if tu is not None:
                if spec is not None and spec.frac_digits < 3:
                    return None
                code.append(f"    u = g[{tu}]")
                code.append("    if len(u) != 3 or not u.isdigit(): return None")
                code.append("    e = s + b'.' + u")
            else:
                code.append("    e = s")
        for number, name in enumerate(self.columns):
            spec = self._specs[name]
            if name == "time_since_epoch":
                if spec.kind != "decimal":
                    return None
                parts.append("e")
            elif name == "date_day":
                parts.append("_day(int(s))" if tsv else 'b"\'" + _day(int(s)) + b"\'"')
            elif name == "http_url_raw":
                parts.append("NULL")
            else:
                var, group = f"v{number}", fmt.sources[name]
                code.append(f"    {var} = g[{group}]")
                numeric_dash = name in ("time_response", "http_reply_size")
                if spec.kind == "int":
                    guard = f"len({var}) > 9 or not {var}.isdigit()"
                    if numeric_dash:
                        code.append(f"    if {var} == b'-': {var} = NULL")
                        code.append(f"    elif {guard}: return None")
                    else:
                        code.append(f"    if {guard}: return None")
                    parts.append(var)
                elif spec.kind == "text":
                    if numeric_dash:
                        return None
                    limit = spec.max_chars if spec.max_chars is not None else spec.max_bytes
                    if limit is not None:
                        code.append(f"    if len({var}) > {limit}: return None")
                    if tsv and group in fmt.loose_groups:
                        code.append(f"    if b'\\t' in {var}: return None")
                    parts.append(var if tsv else f'b"\'" + {var} + b"\'"')
                else:
                    return None
        joined = "SEP.join((" + ", ".join(parts) + ",))"
        code.append(f"    return {joined}" if tsv else f"    return b'(' + {joined} + b')'")
        scope: dict[str, object] = {
            "_match": fmt.regex.fullmatch,
            "_day": self.days.day,
            "NULL": self.null,
            "SEP": self._sep,
        }
        exec(compile("\n".join(code), f"<sqlops fast encoder {fmt.name}>", "exec"), scope)
        self.fast_source = "\n".join(code)
        return scope["fast"]  # type: ignore[return-value]

    # -- steps (one per output column)

    @staticmethod
    def _value_step(index: int, field: Field) -> Callable[[tuple[bytes | None, ...]], bytes]:
        def step(values: tuple[bytes | None, ...]) -> bytes:
            return field(values[index])

        return step

    def _day_step(self, index: int) -> Callable[[tuple[bytes | None, ...]], bytes]:
        days = self.days
        tsv = self.mode == "tsv"

        def step(values: tuple[bytes | None, ...]) -> bytes:
            epoch = values[index]
            if epoch is None:
                day = days.today()
            else:
                dot = epoch.find(b".")
                day = days.day(int(epoch if dot < 0 else epoch[:dot]))
            return day if tsv else b"'" + day + b"'"

        return step

    def _url_step(self, index: int, field: Field) -> Callable[[tuple[bytes | None, ...]], bytes]:
        null, sep, with_raw, tsv = self.null, self._sep, self._raw_url, self.mode == "tsv"
        raw_spec = self._specs.get("http_url_raw")
        raw_limit = raw_spec.max_bytes if raw_spec is not None else None

        def step(values: tuple[bytes | None, ...]) -> bytes:
            url = values[index]
            if url is None:
                return null + sep + null if with_raw else null
            raw = None
            if not url.isascii():
                try:
                    url.decode("utf-8")
                except UnicodeDecodeError:
                    raw = url
                    url = url.decode("utf-8", "backslashreplace").encode("utf-8")
            text = field(url)
            if not with_raw:
                return text
            if raw is None:
                return text + sep + null
            if raw_limit is not None and len(raw) > raw_limit:
                raise LineError(f"http_url_raw: {len(raw)} bytes, the column holds {raw_limit}")
            return text + sep + (tsv_escape(raw) if tsv else sql_hex(raw))

        return step

    # -- columns

    def _field(self, spec: ColumnSpec) -> Field:
        quote = self._quote
        null = self.null
        name = spec.name

        if spec.kind == "int":
            low, high = spec.int_min, spec.int_max

            def integer(value: bytes | None) -> bytes:
                if value is None:
                    return null
                digits = value[1:] if value[:1] == b"-" else value
                if not digits.isdigit():
                    raise LineError(f"{name}: {value[:40]!r} is not an integer")
                if len(digits) > 9 or value[:1] == b"-":
                    number = int(value)
                    if not low <= number <= high:
                        raise LineError(f"{name}: {number} is outside the column's range {low}..{high}")
                return value

            return integer

        if spec.kind == "decimal":
            int_digits, frac_digits = spec.int_digits, spec.frac_digits

            def decimal(value: bytes | None) -> bytes:
                if value is None:
                    return null
                whole, _, frac = value.partition(b".")
                sign = whole[:1] == b"-"
                whole = whole[1:] if sign else whole
                if not whole.isdigit() or (frac and not frac.isdigit()):
                    raise LineError(f"{name}: {value[:40]!r} is not a number")
                if len(whole.lstrip(b"0")) > int_digits or len(frac) > frac_digits:
                    size = f"DECIMAL({int_digits + frac_digits},{frac_digits})"
                    raise LineError(f"{name}: {value[:40]!r} does not fit {size}")
                return value

            return decimal

        if spec.kind == "text":
            max_chars, max_bytes = spec.max_chars, spec.max_bytes

            def text(value: bytes | None) -> bytes:
                if value is None:
                    return null
                chars = None
                if not value.isascii():
                    try:
                        chars = len(value.decode("utf-8"))
                    except UnicodeDecodeError as exc:
                        # A text column cannot hold these bytes, and a \xNN stand-in would
                        # read like a real backslash sequence: keep the exact line instead.
                        raise LineError(
                            f"{name}: not valid UTF-8 (byte 0x{value[exc.start]:02x} at offset "
                            f"{exc.start}); only http_url keeps raw bytes (http_url_raw). To store "
                            f"such values make {name} VARBINARY, then `sqlops ingest quarantine replay`"
                        ) from None
                if max_chars is not None and len(value) > max_chars:
                    count = chars if chars is not None else len(value)
                    if count > max_chars:
                        raise LineError(f"{name}: {count} characters, the column holds {max_chars}")
                if max_bytes is not None and len(value) > max_bytes:
                    raise LineError(f"{name}: {len(value)} bytes, the column holds {max_bytes}")
                return quote(value)

            return text

        if spec.kind == "binary":
            max_bytes = spec.max_bytes
            mode = self.mode

            def binary(value: bytes | None) -> bytes:
                if value is None:
                    return null
                if max_bytes is not None and len(value) > max_bytes:
                    raise LineError(f"{name}: {len(value)} bytes, the column holds {max_bytes}")
                return tsv_escape(value) if mode == "tsv" else sql_hex(value)

            return binary

        def other(value: bytes | None) -> bytes:
            return null if value is None else quote(value)

        return other

    def _quote(self, value: bytes) -> bytes:
        return tsv_escape(value) if self.mode == "tsv" else sql_literal(value)

    def describe_gaps(self) -> list[str]:
        """Human notes about format/table mismatches, reported once at start."""
        notes = []
        if self.missing:
            notes.append(f"the table has no column for {', '.join(self.missing)} (values dropped)")
        if self.format.unmapped:
            notes.append(f"log format codes without a column: {' '.join(self.format.unmapped)} (ignored)")
        return notes
