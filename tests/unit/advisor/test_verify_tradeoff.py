"""How --verify weighs a slowdown against a gain (the arithmetic; the measuring is tested on real
servers in tests/integration/test_advise_verify.py)."""

from __future__ import annotations

import math

from sqlops.advisor.model import ClassEvidence, Measurement, WorkloadClass
from sqlops.advisor.verify import TRADE_OFF_MAX, _Verifier
from sqlops.advisor.verify_explain import uses_index
from sqlops.schema.model import Schema


def _cls(cid: str, total_time: float) -> WorkloadClass:
    return WorkloadClass(cid, cid, "SELECT 1", None, 10, total_time, None, None, False, ("slow log",))


def _evidence(cid: str, before: float, after: float) -> ClassEvidence:
    return ClassEvidence(
        cid, "SELECT 1", Measurement(100, before, None, "ALL"), Measurement(100, after, "i", "ref")
    )


def _verifier(**weights: float) -> _Verifier:
    classes = {c: _cls(c, w) for c, w in weights.items()}
    return _Verifier(None, Schema({}), classes, "db", 1000, 1, None)  # type: ignore[arg-type]


def test_saved_time_is_the_logged_time_times_the_measured_change() -> None:
    v = _verifier(a=100.0, b=10.0)
    assert v._saved(_evidence("a", 0.100, 0.010)) == 100.0 * (1 - 0.1)
    assert v._saved(_evidence("b", 0.010, 0.020)) == -10.0  # twice as slow: its whole time again


def test_a_slowdown_beyond_the_limit_is_an_unbounded_loss() -> None:
    v = _verifier(a=1e9)
    assert v._saved(_evidence("a", 0.010, 0.010 * TRADE_OFF_MAX * 1.01)) == -math.inf
    assert v._saved(_evidence("a", 0.010, 0.010 * TRADE_OFF_MAX * 0.99)) > -math.inf


def test_index_merge_keys_name_each_index() -> None:
    assert uses_index("ix_a", "ix_a")
    assert uses_index("union(ix_a,ix_b)", "IX_B")
    assert uses_index("ix_a,ix_b", "ix_a")
    assert not uses_index("ix_ab", "ix_a")
    assert not uses_index(None, "ix_a")


# EXPLAIN FORMAT=JSON of `SELECT id FROM t WHERE a = 5 OR b = 7` with KEY ka (a), KEY kb (b), captured
# from MariaDB 10.11.19: the merge's keys are inside "index_merge", there is no top-level "key".
MARIADB_INDEX_MERGE = '{"query_block": {"select_id": 1, "nested_loop": [{"table": {"table_name": "t", "access_type": "index_merge", "possible_keys": ["ka", "kb"], "key_length": "5,5", "index_merge": {"union": [{"range": {"key": "ka", "used_key_parts": ["a"]}}, {"range": {"key": "kb", "used_key_parts": ["b"]}}]}, "rows": 22, "filtered": 100, "attached_condition": "t.a = 5 or t.b = 7"}}]}}'


def test_a_mariadb_index_merge_names_both_keys() -> None:
    from sqlops.advisor.verify_explain import parse_plan

    (node,) = parse_plan(MARIADB_INDEX_MERGE)
    assert node.access == "index_merge"
    assert uses_index(node.key, "ka") and uses_index(node.key, "kb")
