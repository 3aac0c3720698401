"""Canonical values → rows of access_log (sql/access_log.sql): limits, URL bytes, escaping,
and the fast paths giving exactly what the general path gives."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sqlops.schema.definitions import access_log_def
from sqlops.squid.logformat import LineError, compile_format
from sqlops.squid.rows import (
    ColumnSpec,
    RowEncoder,
    columns_from_definition,
    sql_literal,
    tsv_escape,
    tsv_unescape,
)

COLUMNS = columns_from_definition(access_log_def().columns)
NATIVE = compile_format("squid")


def line(
    *,
    client: bytes = b"192.0.2.1",
    size: bytes = b"639",
    url: bytes = b"http://example.com/",
    user: bytes = b"-",
    mime: bytes = b"text/html",
    server: bytes = b"192.0.2.9",
    status: bytes = b"TCP_MISS",
    seconds: bytes = b"1700000000",
) -> bytes:
    return b"%s.123      4 %s %s/200 %s GET %s %s HIER_DIRECT/%s %s" % (
        seconds,
        client,
        status,
        size,
        url,
        user,
        server,
        mime,
    )


def encoder(mode: str = "tsv", zone: str = "+00:00", columns: dict[str, ColumnSpec] = COLUMNS) -> RowEncoder:
    return RowEncoder(NATIVE, columns, zone, mode)  # type: ignore[arg-type]


def fields(row: bytes) -> dict[str, bytes]:
    enc = encoder()
    return dict(zip(enc.columns, row.split(b"\t"), strict=True))


def test_columns_in_table_order_with_raw_url_and_day() -> None:
    assert encoder().columns == (
        "time_since_epoch",
        "time_response",
        "ip_client",
        "ip_server",
        "http_status_code",
        "http_reply_size",
        "http_method",
        "http_url",
        "http_url_raw",
        "http_username",
        "http_mime_type",
        "squid_request_status",
        "squid_hier_status",
        "date_day",
    )


def test_edge_values_fit_the_sqlops_table() -> None:
    row = encoder().encode_line(
        line(
            client=b"::ffff:192.168.100.200",
            size=b"3221225472",
            user=b"u" * 40,
            mime=b"application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        )
    )
    got = fields(row)
    assert got["ip_client"] == b"::ffff:192.168.100.200"
    assert got["http_reply_size"] == b"3221225472"
    assert got["http_username"] == b"u" * 40
    assert len(got["http_mime_type"]) == 71
    assert got["date_day"] == b"2023-11-14"
    assert got["time_since_epoch"] == b"1700000000.123"


def test_day_follows_the_configured_zone() -> None:
    # 1700000000 is 2023-11-14 22:13:20 UTC
    assert fields(encoder(zone="+02:00").encode_line(line()))["date_day"] == b"2023-11-15"
    assert fields(encoder(zone="-01:00").encode_line(line()))["date_day"] == b"2023-11-14"


@pytest.mark.parametrize(
    ("url", "text", "raw"),
    [
        (b"http://h/caf\xe9", b"http://h/caf\\\\xe9", b"http://h/caf\xe9"),  # Latin-1: kept exactly
        (b"http://h/caf\xc3\xa9", b"http://h/caf\xc3\xa9", b"\\N"),  # valid UTF-8: text only
        (b"http://h/a\\b", b"http://h/a\\\\b", b"\\N"),  # a backslash is escaped for LOAD DATA
        (b"http://h/\xff\\", b"http://h/\\\\xff\\\\", b"http://h/\xff\\\\"),
    ],
)
def test_url_bytes(url: bytes, text: bytes, raw: bytes) -> None:
    got = fields(encoder().encode_line(line(url=url)))
    assert got["http_url"] == text
    assert got["http_url_raw"] == raw
    # what the server stores after unescaping: text is the backslashreplace form
    assert tsv_unescape(got["http_url"]) == url.decode("utf-8", "backslashreplace").encode()


def test_sql_form() -> None:
    row = encoder("sql").encode_line(line(url=b"http://h/it's\xe9", user=b"o'neil"))
    assert row.startswith(b"(1700000000.123,4,'192.0.2.1','192.0.2.9','200',639,'GET',")
    assert b"'http://h/it\\'s\\\\xe9',X'687474703a2f2f682f69742773e9'" in row
    assert b",'o\\'neil','text/html','TCP_MISS','HIER_DIRECT','2023-11-14')" in row


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"user": b"x" * 256}, "http_username: 256 characters, the column holds 255"),
        ({"status": b"T" * 65}, "squid_request_status: 65 characters, the column holds 64"),
        ({"size": b"18446744073709551616"}, "http_reply_size: 18446744073709551616 is outside"),
        ({"seconds": b"1234567890123"}, "time_since_epoch: b'1234567890123.123' does not fit DECIMAL(15,3)"),
        ({"user": "é".encode() * 256}, "http_username: 256 characters, the column holds 255"),
    ],
)
def test_values_that_do_not_fit_are_refused_with_a_reason(kwargs: dict[str, bytes], reason: str) -> None:
    for mode in ("tsv", "sql"):
        with pytest.raises(LineError, match=re.escape(reason)):
            encoder(mode).encode_line(line(**kwargs))


def test_multibyte_characters_count_as_characters() -> None:
    got = fields(encoder().encode_line(line(user="é".encode() * 255)))
    assert got["http_username"] == "é".encode() * 255


def test_log_db_daemon_table_limits() -> None:
    """The table log_db_daemon creates: CHAR(15) client, INTEGER sizes, VARCHAR(20) user."""
    spec = ColumnSpec.from_information_schema
    legacy = {
        "time_since_epoch": spec("time_since_epoch", "decimal", "decimal(15,3)", None, 15, 3, True),
        "time_response": spec("time_response", "int", "int(11)", None, 10, 0, True),
        "ip_client": spec("ip_client", "char", "char(15)", 15, None, None, True),
        "http_reply_size": spec("http_reply_size", "int", "int(11)", None, 10, 0, True),
        "http_url": spec("http_url", "text", "text", 65535, None, None, True),
        "http_username": spec("http_username", "varchar", "varchar(20)", 20, None, None, True),
    }
    enc = encoder(columns=legacy)
    assert enc.columns == (
        "time_since_epoch",
        "time_response",
        "ip_client",
        "http_reply_size",
        "http_url",
        "http_username",
    )
    assert enc.missing == (
        "ip_server",
        "http_status_code",
        "http_method",
        "http_mime_type",
        "squid_request_status",
        "squid_hier_status",
    )
    with pytest.raises(LineError, match="ip_client: 22 characters, the column holds 15"):
        enc.encode_line(line(client=b"::ffff:192.168.100.200"))
    with pytest.raises(LineError, match="http_reply_size: 3221225472 is outside the column's range"):
        enc.encode_line(line(size=b"3221225472"))
    # without http_url_raw the URL is stored as text only
    assert enc.encode_line(line(url=b"http://h/\xe9")).split(b"\t")[4] == b"http://h/\\\\xe9"


def test_escaping_round_trips() -> None:
    for value in (b"", b"a\\b", b"\t\n\\N", b"\\", b"plain"):
        assert tsv_unescape(tsv_escape(value)) == value
    assert tsv_unescape(b"\\N") is None
    assert sql_literal(b"a'b\\c\x00\n\r\x1a") == b"'a\\'b\\\\c\\0\\n\\r\\Z'"


# --------------------------------------------------------------------------------------------
# The generated per-line fast path and the block path must give the general path's bytes.

_value = st.one_of(
    st.binary(min_size=1, max_size=40).map(lambda b: bytes(c for c in b if c not in b" \n") or b"x"),
    st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=40).map(str.encode),
)


# Values the fast paths take (printable ASCII without the bytes either encoding escapes), so
# that every example compares the fast path with the general one; `_value` adds the odd ones.
_plain = st.text(
    st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters="\\'"), min_size=1, max_size=40
).map(str.encode)
_size = st.integers(0, 999_999_999).map(lambda n: b"%d" % n)  # the fast path takes up to 9 digits


def _fast_and_general(enc: RowEncoder, text: bytes) -> tuple[bytes | str | None, bytes | str]:
    try:
        expected: bytes | str = enc.encode(NATIVE.parse(text))
    except LineError as exc:
        expected = str(exc)
    try:
        got: bytes | str = enc.encode_line(text)
    except LineError as exc:
        got = str(exc)
    assert got == expected
    assert enc._fast is not None
    return enc._fast(b"L" + text, 1), expected


@settings(max_examples=300, deadline=None)
@given(
    client=_plain,
    url=_plain,
    user=_plain,
    mime=_plain,
    server=_plain.filter(lambda v: b"/" not in v),
    size=_size,
    mode=st.sampled_from(["tsv", "sql"]),
)
def test_fast_path_equals_general_path(
    client: bytes, url: bytes, user: bytes, mime: bytes, server: bytes, size: bytes, mode: str
) -> None:
    text = line(client=client, url=b"http://h/" + url, user=user, mime=mime, server=server, size=size)
    fast, expected = _fast_and_general(encoder(mode), text)
    assert fast is not None, "a plain line must take the fast path"
    assert fast == expected


@settings(max_examples=200, deadline=None)
@given(
    client=_value,
    url=_value,
    user=_value,
    mime=_value,
    server=_value.filter(lambda v: b"/" not in v),
    size=st.integers(0, 2**64 + 5).map(lambda n: b"%d" % n),
    mode=st.sampled_from(["tsv", "sql"]),
)
def test_fast_path_refuses_or_equals_the_general_path_on_any_value(
    client: bytes, url: bytes, user: bytes, mime: bytes, server: bytes, size: bytes, mode: str
) -> None:
    text = line(client=client, url=b"http://h/" + url, user=user, mime=mime, server=server, size=size)
    fast, expected = _fast_and_general(encoder(mode), text)
    assert fast is None or fast == expected


DAY_START = 1700006400  # 2023-11-15 00:00 UTC: +0..86399 s stays on one day (encoder zone UTC)


@settings(max_examples=200, deadline=None)
@given(
    rows=st.lists(st.tuples(_plain, _plain, st.integers(0, 86399)), min_size=1, max_size=20),
    mode=st.sampled_from(["tsv", "sql"]),
)
def test_block_path_equals_line_by_line(rows: list[tuple[bytes, bytes, int]], mode: str) -> None:
    enc = encoder(mode)
    lines = [line(url=b"http://h/" + u, user=us, seconds=b"%d" % (DAY_START + t)) for u, us, t in rows]
    text = b"".join(b"L" + x + b"\nF\n" for x in lines).replace(b"\nF\n", b"\n")
    block = enc.encode_block(text, b"L")
    assert block is not None, "plain lines of one day must take the block path"
    data, count = block
    terminator = b"\n" if mode == "tsv" else b",\n"
    assert count == len(lines)
    assert data == b"".join(enc.encode_line(x) + terminator for x in lines)


def test_block_path_refuses_mixed_days_and_odd_lines() -> None:
    enc = encoder()
    same_day = b"L" + line(seconds=b"1700000000") + b"\nL" + line(seconds=b"1700000001") + b"\n"
    assert enc.encode_block(same_day, b"L") is not None
    two_days = b"L" + line(seconds=b"1700000000") + b"\nL" + line(seconds=b"1700100000") + b"\n"
    assert enc.encode_block(two_days, b"L") is None
    with_rotate = same_day + b"R\n"
    assert enc.encode_block(with_rotate, b"L") is None
    latin1 = b"L" + line(url=b"http://h/\xe9") + b"\n"
    assert enc.encode_block(latin1, b"L") is None
    assert enc.encode_block(line() + b"\n", b"") is not None  # backfill: no protocol prefix


def test_plain_lines_take_the_fast_paths() -> None:
    for mode in ("tsv", "sql"):
        enc = encoder(mode)
        text = line()
        general = enc.encode(NATIVE.parse(text))
        assert enc._fast is not None and enc._fast(text, 0) == general
        block = enc.encode_block(text + b"\n" + text + b"\n", b"")
        terminator = b"\n" if mode == "tsv" else b",\n"
        assert block == (general + terminator + general + terminator, 2)


def test_block_path_skips_the_flushes_it_was_told_about() -> None:
    enc = encoder()
    one, two = line(), line(seconds=b"1700000001")
    expected = enc.encode_line(one) + b"\n" + enc.encode_line(two) + b"\n"
    text = b"F\nL" + one + b"\nF\nL" + two + b"\nF\n"
    assert enc.encode_block(text, b"L", 3) == (expected, 2)
    assert enc.encode_block(text, b"L", 2) is None  # a line nobody accounted for
