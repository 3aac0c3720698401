"""A mergeable streaming quantile sketch with bounded relative error (DDSketch's idea).

Positive values fall into logarithmic buckets ``(γ^(k-1), γ^k]`` with ``γ = (1+α)/(1-α)``;
answering a quantile with the bucket's midpoint ``2γ^k/(γ+1)`` is within ``α`` of the true
value. Zeros are counted apart. Buckets are integer counts, so merging two sketches (the
parallel reader does) gives exactly the sketch of the concatenated input, in any order.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from itertools import repeat
from operator import mul

RELATIVE_ERROR = 0.01
_GAMMA = (1 + RELATIVE_ERROR) / (1 - RELATIVE_ERROR)
_INV_LOG_GAMMA = 1 / math.log(_GAMMA)


class QuantileSketch:
    """Counts of values per logarithmic bucket; values are non-negative numbers."""

    __slots__ = ("buckets", "count", "zeros")

    def __init__(self) -> None:
        self.buckets: dict[int, int] = {}
        self.zeros = 0
        self.count = 0

    def add_many(self, values: list[int]) -> None:
        """Add a batch of values; the bucket arithmetic runs in C (map/Counter)."""
        zeros = values.count(0)
        self.zeros += zeros
        self.count += len(values)
        if zeros == len(values):
            return
        keys = Counter(map(math.ceil, map(mul, map(math.log, filter(None, values)), repeat(_INV_LOG_GAMMA))))
        buckets = self.buckets
        for key, n in keys.items():
            buckets[key] = buckets.get(key, 0) + n

    def add_one(self, value: int) -> None:
        self.count += 1
        if not value:
            self.zeros += 1
            return
        key = math.ceil(math.log(value) * _INV_LOG_GAMMA)
        self.buckets[key] = self.buckets.get(key, 0) + 1

    def merge(self, other: QuantileSketch) -> None:
        self.zeros += other.zeros
        self.count += other.count
        buckets = self.buckets
        for key, n in other.buckets.items():
            buckets[key] = buckets.get(key, 0) + n

    def quantile(self, q: float, *, integers: bool = False) -> float | None:
        """The nearest-rank quantile, within RELATIVE_ERROR: the smallest value that at least
        ``q`` of all values do not exceed (0-based rank ``ceil(q*count) - 1``). So p95 and p99
        of a class with fewer than 20 and 100 statements are its maximum, as they should be
        (the old lower quantile at rank ``q*(count-1)`` put them below it).

        With ``integers`` a bucket that holds a single integer answers that integer exactly.
        """
        if self.count == 0:
            return None
        rank = max(math.ceil(q * self.count - 1e-9) - 1, 0)
        seen = self.zeros
        if rank < seen:
            return 0
        for key in sorted(self.buckets):
            seen += self.buckets[key]
            if rank < seen:
                return _bucket_value(key, integers)
        return _bucket_value(max(self.buckets), integers)

    def state(self) -> tuple[int, int, tuple[tuple[int, int], ...]]:
        """A plain value for equality checks and serialisation."""
        return (self.count, self.zeros, tuple(sorted(self.buckets.items())))


def _bucket_value(key: int, integers: bool) -> float:
    upper = _GAMMA**key
    if integers:
        lower = upper / _GAMMA
        if math.floor(upper) - math.floor(lower) == 1:
            return float(math.floor(upper))
    return 2 * upper / (_GAMMA + 1)


def sketch_of(values: Iterable[int]) -> QuantileSketch:
    sketch = QuantileSketch()
    sketch.add_many(list(values))
    return sketch


def decade_histogram(sketch: QuantileSketch, decades: int = 8) -> tuple[int, ...]:
    """Counts per power of ten of the values (which are microseconds for times): [0, 10),
    [10, 100), ... and everything from 10^(decades-1) up in the last one. A bucket goes by its
    midpoint, so a value within 1 % of a power of ten may be counted in the neighbouring decade."""
    counts = [0] * decades
    counts[0] = sketch.zeros
    for key, n in sketch.buckets.items():
        value = 2 * _GAMMA**key / (_GAMMA + 1)
        decade = math.floor(math.log10(value)) if value >= 1 else 0
        counts[min(max(decade, 0), decades - 1)] += n
    return tuple(counts)
