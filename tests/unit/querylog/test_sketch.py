"""The quantile sketch: relative error within 1 % of the exact quantile at the same rank, and
merging equals adding everything to one sketch."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from sqlops.querylog.sketch import RELATIVE_ERROR, QuantileSketch, sketch_of

values = st.lists(st.integers(min_value=0, max_value=10**12), min_size=1, max_size=500)


def exact_lower_quantile(data: list[int], q: float) -> int:
    """The nearest-rank quantile: the smallest value that at least q of the values do not exceed."""
    ordered = sorted(data)
    return ordered[max(math.ceil(q * len(ordered)) - 1, 0)]


def test_small_classes_have_p95_and_p99_at_their_maximum() -> None:
    for n in range(1, 20):
        sketch = sketch_of(list(range(1, n + 1)))
        assert sketch.quantile(0.95, integers=True) == n
        assert sketch.quantile(0.99, integers=True) == n
    # 100 values: p99 is the 99th, p50 the 50th.
    sketch = sketch_of(list(range(1, 101)))
    assert abs(sketch.quantile(0.99, integers=True) - 99) <= 99 * RELATIVE_ERROR  # type: ignore[operator]
    assert sketch.quantile(0.5, integers=True) == 50


@settings(max_examples=300, deadline=None)
@given(values, st.sampled_from([0.0, 0.25, 0.5, 0.9, 0.95, 0.99, 1.0]))
def test_relative_error_bound(data: list[int], q: float) -> None:
    estimate = sketch_of(data).quantile(q)
    exact = exact_lower_quantile(data, q)
    assert estimate is not None
    if exact == 0:
        assert estimate == 0
    else:
        assert abs(estimate - exact) <= RELATIVE_ERROR * exact + 1e-9


@settings(max_examples=200, deadline=None)
@given(values, values)
def test_merge_equals_union(a: list[int], b: list[int]) -> None:
    merged = sketch_of(a)
    merged.merge(sketch_of(b))
    assert merged.state() == sketch_of(a + b).state()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=40), min_size=1, max_size=200))
def test_small_integers_are_exact(data: list[int]) -> None:
    # Below ~50 every bucket holds one integer, so row counts like 0..40 come back exactly.
    sketch = sketch_of(data)
    for q in (0.0, 0.5, 0.95, 1.0):
        assert sketch.quantile(q, integers=True) == exact_lower_quantile(data, q)


def test_empty_sketch() -> None:
    assert QuantileSketch().quantile(0.5) is None
