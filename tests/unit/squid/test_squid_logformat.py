"""Squid logformat specs compiled into parsers: golden cases, Squid's own tokenising rules,
and round trips of generated native lines."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).parents[2]))
from support.golden import assert_golden, load_pairs

from sqlops.errors import ConfigError
from sqlops.squid.logformat import (
    BUILTIN_FORMATS,
    CANONICAL,
    LineError,
    compile_format,
    detect_format,
    resolve_spec,
    tokenize,
)
from sqlops.squid.protocol import iter_log_lines

DATA = Path(__file__).parents[2] / "data" / "squid"
CASES = DATA / "logformat"


def render(spec: str, data: bytes) -> str:
    fmt = compile_format(spec)
    out = [f"# format {fmt.name}: {fmt.spec!r}", f"# fills: {', '.join(fmt.columns)}"]
    out.append(f"# codes without a column: {' '.join(fmt.unmapped) or '(none)'}")
    for number, line in enumerate(data.split(b"\n")[:-1], start=1):
        out.append(f"\nline {number}: {line!r}")
        try:
            values = fmt.parse(line)
        except LineError as exc:
            out.append(f"  ERROR: {exc}")
            continue
        for column, value in zip(CANONICAL, values, strict=True):
            if column in fmt.columns:
                out.append(f"  {column} = {value!r}")
    return "\n".join(out) + "\n"


@pytest.mark.parametrize("case", [name for name, _, _ in load_pairs(CASES, "spec", "parsed")])
def test_golden(case: str) -> None:
    spec = (CASES / f"{case}.spec").read_text().rstrip("\n")
    data = (CASES / f"{case}.log").read_bytes()
    assert_golden(render(spec, data), CASES / f"{case}.parsed")


@pytest.mark.parametrize(
    ("capture", "spec"),
    [
        ("native-squid-5.7.bin", "squid"),
        ("squid_mysql-squid-5.7.bin", "squid_mysql"),
        ("tsv-squid-5.7.bin", "%ts.%03tu\t%tr\t%>a\t%Ss\t%>Hs\t%<st\t%rm\t%ru\t%[un\t%Sh\t%<a\t%mt"),
    ],
)
def test_real_captures_parse_to_the_same_values(capture: str, spec: str) -> None:
    """Squid wrote the same three requests in three formats: all give the same columns."""
    lines = [line for _, line in iter_log_lines((DATA / capture).read_bytes(), 0)]
    parsed = [compile_format(spec).parse(line) for line in lines]
    assert [p[CANONICAL.index("http_url")] for p in parsed] == [
        b"http://127.0.0.1:8099/caf\xe9/latin1",
        b"http://127.0.0.1:8099/caf\xc3\xa9/utf8",
        b"http://127.0.0.1:8099/user",
    ]
    assert parsed[0] == (
        b"1795781685.727",
        b"4",
        b"127.0.0.1",
        b"127.0.0.1",
        b"404",
        b"639",
        b"GET",
        b"http://127.0.0.1:8099/caf\xe9/latin1",
        b"-",
        b"text/html",
        b"TCP_MISS",
        b"HIER_DIRECT",
    )


def test_detects_log_db_daemons_two_formats() -> None:
    native = [line for _, line in iter_log_lines((DATA / "native-squid-5.7.bin").read_bytes(), 0)]
    mysql = [line for _, line in iter_log_lines((DATA / "squid_mysql-squid-5.7.bin").read_bytes(), 0)]
    assert detect_format(native) == "squid"
    assert detect_format(mysql) == "squid_mysql"
    assert detect_format([b"garbage", *mysql[:1]]) == "squid_mysql"
    assert detect_format([b"garbage"]) is None


def test_tokens_follow_squids_rules() -> None:
    tokens = tokenize('%>a %[un "%rm %ru" %{Referer}>h %"{User-Agent}>h %-10.20un %03tu %http::>Hs %%')
    codes = [(t.code, t.encoding, t.arg, t.left, t.zero, t.width, t.max_width) for t in tokens if t.code]
    assert codes == [
        (">a", "", None, False, False, None, None),
        ("un", "[", None, False, False, None, None),
        ("rm", '"', None, False, False, None, None),  # inside literal quotes: quoted encoding
        ("ru", '"', None, False, False, None, None),
        (">h", "", "Referer", False, False, None, None),
        (">h", '"', "User-Agent", False, False, None, None),
        ("un", "", None, True, False, 10, 20),
        ("tu", "", None, False, True, 3, None),
        (">Hs", "", None, False, False, None, None),  # http:: is the default namespace
    ]
    assert tokens[-1].code is None and tokens[-1].text.endswith("%")  # %% is a literal percent
    # {arg} after the code (external_acl style) and namespaced codes
    after = [t for t in tokenize("%>h{Host} %ssl::>sni %tr") if t.code]
    assert [(t.code, t.arg) for t in after] == [(">h", "Host"), ("ssl::>sni", None), ("tr", None)]
    # longest match: %<st is one code, not %<s + t
    assert [t.code for t in tokenize("%<st%<sh%st") if t.code] == ["<st", "<sh", "st"]


def test_spec_sources() -> None:
    assert resolve_spec("squid") == ("squid", BUILTIN_FORMATS["squid"])
    assert resolve_spec("logformat mine %ts %ru") == ("mine", "%ts %ru")
    assert resolve_spec("%ts\t%ru") == ("custom", "%ts\t%ru")
    with pytest.raises(ConfigError, match="unknown log format"):
        resolve_spec("squidd")
    with pytest.raises(ConfigError, match="unknown format code"):
        compile_format("%ts %zz")
    with pytest.raises(ConfigError, match="no % codes"):
        compile_format("logformat x %%")


def test_unmapped_codes_are_reported_not_fatal() -> None:
    fmt = compile_format("%ts.%03tu %>a %ru %{Referer}>h %>p %sn")
    assert fmt.unmapped == ("%{Referer}>h", "%>p", "%sn")
    values = fmt.parse(b"1700000000.001 192.0.2.1 http://x/ http://ref/ 50123 42")
    assert values[CANONICAL.index("ip_client")] == b"192.0.2.1"
    assert values[CANONICAL.index("time_response")] is None  # not in the format


def test_dash_means_no_number() -> None:
    fmt = compile_format("%ts.%03tu %tr %<st %ru")
    values = fmt.parse(b"1700000000.001 - - http://x/")
    assert values[:2] == (b"1700000000.001", None)
    assert values[CANONICAL.index("http_reply_size")] is None
    # a millisecond count without zero padding is still milliseconds
    assert compile_format("%ts.%tu %ru").parse(b"1700000000.7 http://x/")[0] == b"1700000000.007"


# --------------------------------------------------------------------------------------------
# Property: lines laid out exactly as Squid's native format parse back to their values.

_token = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=30).map(
    str.encode
)
_url_bytes = st.binary(min_size=1, max_size=80).map(
    lambda b: b"http://h/" + bytes(c if c > 0x20 and c != 0x7F else 0x5F for c in b)
)


@settings(max_examples=300, deadline=None)
@given(
    seconds=st.integers(0, 10**12 - 1),
    millis=st.integers(0, 999),
    elapsed=st.integers(0, 10**9),
    client=_token,
    status=st.from_regex(r"[A-Z_]{3,30}", fullmatch=True).map(str.encode),
    code=st.integers(0, 999),
    size=st.integers(0, 2**63),
    method=st.from_regex(r"[A-Z]{1,12}", fullmatch=True).map(str.encode),
    url=_url_bytes,
    user=_token,
    hier=st.from_regex(r"[A-Z_]{3,30}", fullmatch=True).map(str.encode),
    server=_token.filter(lambda b: b"/" not in b),
    mime=_token,
)
def test_native_round_trip(
    seconds: int,
    millis: int,
    elapsed: int,
    client: bytes,
    status: bytes,
    code: int,
    size: int,
    method: bytes,
    url: bytes,
    user: bytes,
    hier: bytes,
    server: bytes,
    mime: bytes,
) -> None:
    # Squid's own layout: "%9ld.%03d %6ld %s %s/%03d %lld %s %s %s %s/%s %s"
    line = b"%9d.%03d %6d %s %s/%03d %d %s %s %s %s/%s %s" % (
        seconds,
        millis,
        elapsed,
        client,
        status,
        code,
        size,
        method,
        url,
        user,
        hier,
        server,
        mime,
    )
    values = compile_format("squid").parse(line.lstrip())
    assert values == (
        b"%d.%03d" % (seconds, millis),
        b"%d" % elapsed,
        client,
        server,
        b"%03d" % code,
        b"%d" % size,
        method,
        url,
        user,
        mime,
        status,
        hier,
    )
