"""Aggregation: statements grouped by fingerprint into classes, and the report records.

Readers (slow log, general log, performance_schema) produce one :data:`Row` per statement and
hand it to :class:`DigestAccumulator`. Rows are buffered per class and folded into the class
statistics a batch at a time, so sums, minima, maxima and the quantile sketch run in C
(``sum``/``min``/``Counter``) rather than once per statement in Python.

Everything an accumulator holds is exact and order-independent (integer microseconds, integer
bucket counts, earliest-position tie breaks), so accumulators of byte ranges of a file merge
into exactly the accumulator of the whole file.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlops.querylog.fingerprint import Fingerprint, class_id
from sqlops.querylog.sketch import QuantileSketch, decade_histogram

# The statistics every class carries. Times are integer microseconds inside, seconds outside.
METRICS = ("query_time", "lock_time", "rows_sent", "rows_examined", "rows_affected", "bytes_sent")
TIME_METRICS = frozenset(("query_time", "lock_time"))
N_METRICS = len(METRICS)

# Row layout (a plain tuple: millions are made, a dataclass per statement would cost seconds).
# 0-5 the METRICS (int or None), then:
TS, DB, USER, HOST, NO_INDEX, ERRNO, EXTRAS, SQL, POS, LINE, SOURCE, EXPLAIN = range(6, 18)
Row = tuple[Any, ...]

# The database of a MySQL slow-log entry is the last `use` written before it. A byte-range
# worker that has not seen one yet records this marker; the merge replaces it with the
# database in effect at the end of the previous range.
INHERIT = b"\x00inherit"

# Examples longer than this are cut (the class keeps the full fingerprint).
EXAMPLE_LIMIT = 256 * 1024

SortKey = Literal["total", "avg", "count", "rows_examined"]
SORT_KEYS: tuple[str, ...] = ("total", "avg", "count", "rows_examined")


class ClassAccumulator:
    """Running statistics of one class (internal; the report turns it into QueryClass)."""

    __slots__ = (
        "by_source",
        "count",
        "db_counts",
        "errors",
        "extras",
        "first",
        "host_counts",
        "key",
        "maxs",
        "mins",
        "no_index_no",
        "no_index_yes",
        "ns",
        "sketches",
        "sums",
        "text",
        "ts_max",
        "ts_min",
        "user_counts",
        "worst",
    )

    def __init__(self, fp: Fingerprint, first: tuple[int, int, int]) -> None:
        self.key = fp.key
        self.text = fp.text
        self.first = first  # (source, pos, line) of the entry whose text is shown
        self.count = 0
        self.ns = [0] * N_METRICS
        self.sums = [0] * N_METRICS
        self.mins: list[int | None] = [None] * N_METRICS
        self.maxs: list[int | None] = [None] * N_METRICS
        self.sketches = [QuantileSketch() for _ in range(N_METRICS)]
        self.ts_min: float | None = None
        self.ts_max: float | None = None
        # Plain dicts: a Counter costs microseconds to make, and runs with many classes make
        # one class per statement.
        self.db_counts: dict[bytes | None, int] = {}
        self.user_counts: dict[bytes | None, int] = {}
        self.host_counts: dict[bytes | None, int] = {}
        self.no_index_yes = 0
        self.no_index_no = 0
        self.errors = 0
        self.extras: dict[bytes, list[float]] = {}  # name -> [n, sum, max]
        self.worst: Row | None = None
        # Per input (log file or server): [statements, query time in us]. A cluster's or a
        # fleet's logs read as one report, and this says which server the class ran on.
        self.by_source: dict[int, list[int]] = {}

    def add_rows(self, rows: list[Row]) -> None:
        if len(rows) == 1:
            self._add_row(rows[0])
            return
        cols = list(zip(*rows, strict=True))
        self.count += len(rows)
        for m in range(N_METRICS):
            col = cols[m]
            values = [v for v in col if v is not None] if None in col else list(col)
            if not values:
                continue
            self._add_extremes(m, len(values), sum(values), min(values), max(values))
            self.sketches[m].add_many(values)
        times = cols[TS]
        present = [t for t in times if t is not None] if None in times else times
        if present:
            low_t, high_t = min(present), max(present)
            if self.ts_min is None or low_t < self.ts_min:
                self.ts_min = low_t
            if self.ts_max is None or high_t > self.ts_max:
                self.ts_max = high_t
        _count_into(self.db_counts, Counter(cols[DB]))
        _count_into(self.user_counts, Counter(cols[USER]))
        _count_into(self.host_counts, Counter(cols[HOST]))
        flags = cols[NO_INDEX]
        self.no_index_yes += flags.count(True)
        self.no_index_no += flags.count(False)
        errnos = cols[ERRNO]
        self.errors += len(errnos) - errnos.count(None) - errnos.count(0)
        extras = cols[EXTRAS]
        if extras.count(None) != len(extras):
            for entry in extras:
                if entry:
                    for name, value in entry.items():
                        self._add_extra(name, 1, value, value)
        qtimes = cols[0]
        if None in qtimes:
            ranked: Any = [-1 if v is None else v for v in qtimes]
        else:
            ranked = qtimes
        best = max(range(len(rows)), key=ranked.__getitem__)  # first of equals: earliest
        self._offer_worst(rows[best])
        self._add_by_source(cols[SOURCE], qtimes)

    def _add_by_source(self, sources: tuple[int, ...], qtimes: tuple[Any, ...]) -> None:
        first = sources[0]
        if sources.count(first) == len(sources):  # the usual batch: all from one input
            total = sum(v for v in qtimes if v is not None) if None in qtimes else sum(qtimes)
            self._add_source_share(first, len(sources), total)
            return
        for source, qt in zip(sources, qtimes, strict=True):
            self._add_source_share(source, 1, qt or 0)

    def _add_source_share(self, source: int, n: int, query_time_us: int) -> None:
        slot = self.by_source.get(source)
        if slot is None:
            self.by_source[source] = [n, query_time_us]
        else:
            slot[0] += n
            slot[1] += query_time_us

    def _add_row(self, row: Row) -> None:
        """add_rows for one row (a class seen once per batch: runs with many classes)."""
        self.count += 1
        for m in range(N_METRICS):
            v = row[m]
            if v is not None:
                self._add_extremes(m, 1, v, v, v)
                self.sketches[m].add_one(v)
        t = row[TS]
        if t is not None:
            if self.ts_min is None or t < self.ts_min:
                self.ts_min = t
            if self.ts_max is None or t > self.ts_max:
                self.ts_max = t
        for counts, value in (
            (self.db_counts, row[DB]),
            (self.user_counts, row[USER]),
            (self.host_counts, row[HOST]),
        ):
            counts[value] = counts.get(value, 0) + 1
        flag = row[NO_INDEX]
        if flag is True:
            self.no_index_yes += 1
        elif flag is False:
            self.no_index_no += 1
        if row[ERRNO]:
            self.errors += 1
        if row[EXTRAS]:
            for name, value in row[EXTRAS].items():
                self._add_extra(name, 1, value, value)
        self._offer_worst(row)
        self._add_source_share(row[SOURCE], 1, row[0] or 0)

    def _add_extremes(self, m: int, n: int, total: int, low: int, high: int) -> None:
        """Fold n values with this total, minimum and maximum into metric m."""
        self.ns[m] += n
        self.sums[m] += total
        old_low, old_high = self.mins[m], self.maxs[m]
        self.mins[m] = low if old_low is None or low < old_low else old_low
        self.maxs[m] = high if old_high is None or high > old_high else old_high

    def _add_extra(self, name: bytes, n: int, total: float, high: float) -> None:
        """Fold n values of an extra field (their total and maximum) into the class."""
        slot = self.extras.get(name)
        if slot is None:
            self.extras[name] = [n, total, high]
        else:
            slot[0] += n
            slot[1] += total
            if high > slot[2]:
                slot[2] = high

    def _offer_worst(self, row: Row) -> None:
        current = self.worst
        if current is None or _worse(row, current):
            self.worst = row

    def merge(self, other: ClassAccumulator) -> None:
        if (other.first[0], other.first[1]) < (self.first[0], self.first[1]):
            self.first, self.text = other.first, other.text
        self.count += other.count
        for m in range(N_METRICS):
            if not other.ns[m]:
                continue
            low, high = other.mins[m], other.maxs[m]
            assert low is not None and high is not None
            self._add_extremes(m, other.ns[m], other.sums[m], low, high)
            self.sketches[m].merge(other.sketches[m])
        if other.ts_min is not None and (self.ts_min is None or other.ts_min < self.ts_min):
            self.ts_min = other.ts_min
        if other.ts_max is not None and (self.ts_max is None or other.ts_max > self.ts_max):
            self.ts_max = other.ts_max
        _count_into(self.db_counts, other.db_counts)
        _count_into(self.user_counts, other.user_counts)
        _count_into(self.host_counts, other.host_counts)
        self.no_index_yes += other.no_index_yes
        self.no_index_no += other.no_index_no
        self.errors += other.errors
        for name, (n_extra, total_extra, max_extra) in other.extras.items():
            self._add_extra(name, int(n_extra), total_extra, max_extra)
        if other.worst is not None:
            self._offer_worst(other.worst)
        for source, (n_source, time_source) in other.by_source.items():
            self._add_source_share(source, n_source, time_source)

    def resolve_inherited(self, db: bytes | None) -> None:
        """Replace the INHERIT marker by the database in effect where this range started."""
        n = self.db_counts.pop(INHERIT, 0)
        if n:
            self.db_counts[db] = self.db_counts.get(db, 0) + n
        # Compare by value: a worker's rows come back pickled, so the marker is a copy there.
        if self.worst is not None and self.worst[DB] == INHERIT:
            row = list(self.worst)
            row[DB] = db
            self.worst = tuple(row)

    def shift_lines(self, source: int, offset: int) -> None:
        """Make line numbers of `source` absolute (a byte-range worker counts from its start)."""
        if self.first[0] == source:
            self.first = (source, self.first[1], self.first[2] + offset)
        if self.worst is not None and self.worst[SOURCE] == source:
            row = list(self.worst)
            row[LINE] += offset
            self.worst = tuple(row)


def _count_into(counts: dict[bytes | None, int], more: dict[bytes | None, int]) -> None:
    for key, n in more.items():
        counts[key] = counts.get(key, 0) + n


def _worse(row: Row, current: Row) -> bool:
    """Higher query time wins; among equals the earlier entry (source, position)."""
    a = -1 if row[0] is None else row[0]
    b = -1 if current[0] is None else current[0]
    if a != b:
        return bool(a > b)
    return bool((row[SOURCE], row[POS]) < (current[SOURCE], current[POS]))


@dataclass
class SourceStats:
    """Per input file counters (mutable while reading)."""

    name: str
    kind: str = "unknown"  # slow | general | performance_schema
    bytes_read: int = 0
    entries: int = 0  # statements that became part of a class
    server_headers: int = 0
    nul_bytes: int = 0


@dataclass(frozen=True)
class Skipped:
    """Something in the input that did not become a statement, and why."""

    source: str
    line: int
    reason: str


class DigestAccumulator:
    """All classes of one run plus the per-source counters and the list of skipped input."""

    MAX_SKIPPED_KEPT = 1000
    FLUSH_ROWS = 20_000  # rows buffered before folding them into the classes (memory bound)
    # Classes kept in full. Past this, the classes with the least total query time are folded
    # into one "beyond the cap" aggregate (each costs a few KiB; 300,000 would need gigabytes);
    # later statements of a folded class go there too. Their number is still counted exactly.
    MAX_CLASSES = 10_000

    def __init__(self, window: tuple[float | None, float | None] | None = None) -> None:
        # --since/--until: statements whose timestamp is outside [since, until), or unknown,
        # are counted in `outside_window` and left out of every class.
        self.window = window
        self.outside_window = 0
        self.classes: dict[bytes, ClassAccumulator] = {}
        self.beyond_cap: ClassAccumulator | None = None
        self.folded: set[bytes] = set()  # 8-byte hashes of the folded class keys
        self.fold_below = 0  # the largest total query time (us) of a class folded so far
        self.pending: dict[bytes, list[Row]] = {}
        self.pending_fp: dict[bytes, Fingerprint] = {}
        self.sources: list[SourceStats] = []
        self.skipped: list[tuple[int, int, int, str]] = []  # (source, pos, line, reason)
        self.skipped_total = 0
        self.skipped_by_reason: Counter[str] = Counter()
        self.pending_rows = 0

    # -- input side ------------------------------------------------------------------------

    def add_source(self, name: str, kind: str = "unknown") -> int:
        self.sources.append(SourceStats(name=name, kind=kind))
        return len(self.sources) - 1

    def add(self, fp: Fingerprint, row: Row) -> None:
        sql = row[SQL]
        if len(sql) > EXAMPLE_LIMIT:
            # Only the example's text is ever shown: keep no more of a huge statement.
            row = (*row[:SQL], sql[: EXAMPLE_LIMIT + 1], *row[SQL + 1 :])
        rows = self.pending.get(fp.key)
        if rows is None:
            self.pending[fp.key] = rows = []
            self.pending_fp[fp.key] = fp
        rows.append(row)
        # Long statements count as one row per KiB, so buffered text stays around 20 MB.
        self.pending_rows += 1 + (len(row[SQL]) >> 10)
        if self.pending_rows >= self.FLUSH_ROWS:
            self.flush()

    def skip(self, source: int, pos: int, line: int, reason: str) -> None:
        self.skipped_total += 1
        self.skipped_by_reason[reason.split(":", 1)[0]] += 1
        if len(self.skipped) < self.MAX_SKIPPED_KEPT:
            self.skipped.append((source, pos, line, reason))

    def flush(self) -> None:
        classes = self.classes
        folded = self.folded
        window = self.window
        for key, rows in self.pending.items():
            if window is not None:
                rows = self._in_window(rows, window)
                if not rows:
                    continue
            acc = classes.get(key)
            if acc is None:
                if folded and (
                    _short_key(key) in folded or (self._light(rows) and len(classes) >= self.MAX_CLASSES)
                ):
                    # A folded class, or (at the cap) a new one lighter than everything folded
                    # so far: straight into the aggregate, without making a class to fold later.
                    self.folded.add(_short_key(key))
                    self._beyond().add_rows(rows)
                    continue
                first = rows[0]
                acc = classes[key] = ClassAccumulator(
                    self.pending_fp[key], (first[SOURCE], first[POS], first[LINE])
                )
                acc.add_rows(rows)
                if len(classes) > self.MAX_CLASSES:
                    self._fold_smallest()  # now, not after the batch: a batch can be all new classes
                continue
            acc.add_rows(rows)
        self.pending.clear()
        self.pending_fp.clear()
        self.pending_rows = 0

    def _in_window(self, rows: list[Row], window: tuple[float | None, float | None]) -> list[Row]:
        low = float("-inf") if window[0] is None else window[0]
        high = float("inf") if window[1] is None else window[1]
        kept = [r for r in rows if r[TS] is not None and low <= r[TS] < high]
        self.outside_window += len(rows) - len(kept)
        return kept

    def _light(self, rows: list[Row]) -> bool:
        return sum(r[0] or 0 for r in rows) <= self.fold_below

    def _beyond(self) -> ClassAccumulator:
        if self.beyond_cap is None:
            self.beyond_cap = ClassAccumulator(Fingerprint(b"", b"", True), (0, 0, 0))
        return self.beyond_cap

    def _fold_smallest(self) -> None:
        """Fold the classes with the least total query time (then fewest statements) into the
        beyond-the-cap aggregate, down to 3/4 of MAX_CLASSES so that this runs rarely."""
        ranked = sorted(self.classes.items(), key=lambda kv: (kv[1].sums[0], kv[1].count, kv[0]))
        beyond = self._beyond()
        for key, acc in ranked[: len(ranked) - self.MAX_CLASSES * 3 // 4]:
            self.fold_below = max(self.fold_below, acc.sums[0])
            beyond.merge(acc)
            self.folded.add(_short_key(key))
            del self.classes[key]
        beyond.worst = None  # no example: it is many classes

    # -- combining ---------------------------------------------------------------------------

    def merge(self, other: DigestAccumulator, *, source_map: dict[int, int] | None = None) -> None:
        """Fold `other` into this one. `source_map` renumbers other's sources (default: same)."""
        self.flush()
        other.flush()
        if source_map is None:
            source_map = {i: i for i in range(len(other.sources))}
        for key, acc in other.classes.items():
            _renumber(acc, source_map)
            mine = self.classes.get(key)
            if mine is None:
                self.classes[key] = acc
            else:
                mine.merge(acc)
        for s, pos, line, reason in other.skipped:
            if len(self.skipped) < self.MAX_SKIPPED_KEPT:
                self.skipped.append((source_map[s], pos, line, reason))
        self.skipped_total += other.skipped_total
        self.skipped_by_reason.update(other.skipped_by_reason)
        self.outside_window += other.outside_window
        if other.beyond_cap is not None:
            self._beyond().merge(other.beyond_cap)
            self._beyond().worst = None
        self.folded |= other.folded
        self.fold_below = max(self.fold_below, other.fold_below)
        if len(self.classes) > self.MAX_CLASSES:
            self._fold_smallest()


def _short_key(key: bytes) -> bytes:
    return hashlib.blake2b(key, digest_size=8).digest()


def _renumber(acc: ClassAccumulator, source_map: dict[int, int]) -> None:
    if all(k == v for k, v in source_map.items()):
        return
    acc.first = (source_map[acc.first[0]], acc.first[1], acc.first[2])
    if acc.worst is not None:
        row = list(acc.worst)
        row[SOURCE] = source_map[row[SOURCE]]
        acc.worst = tuple(row)
    acc.by_source = {source_map[s]: share for s, share in acc.by_source.items()}


# --------------------------------------------------------------------------------------------
# Report records


@dataclass(frozen=True)
class MetricSummary:
    """One statistic of a class. Times are in seconds; counts are whole numbers.

    ``count`` is how many statements reported the value (MySQL's slow log has no
    Rows_affected or Bytes_sent unless log_slow_extra is on). Quantiles come from the sketch
    (within 1 %), the rest is exact. performance_schema gives only totals for some values
    (min/max None) and p95/p99 only on MySQL 8+.
    """

    count: int
    total: float
    min: float | None
    max: float | None
    avg: float
    p50: float | None
    p95: float | None
    p99: float | None


@dataclass(frozen=True)
class QueryExample:
    """The worst statement of a class (highest query time; earliest among equals)."""

    sql: str
    database: str | None
    timestamp: dt.datetime | None
    query_time: float | None
    source: str
    line: int
    truncated: bool
    explain: str | None = None


@dataclass(frozen=True)
class ExtraMetric:
    """A server-specific numeric field (Tmp_tables, Engine_time, Read_key, ...)."""

    name: str
    count: int
    total: float
    max: float


@dataclass(frozen=True)
class ServerShare:
    """What one input (a server's log file, or a server read with --from-server) contributed
    to a class, or to the whole report."""

    name: str
    count: int
    query_time: float


@dataclass(frozen=True)
class QueryClass:
    """Every statement with the same fingerprint, and what they cost together."""

    id: str
    fingerprint: str
    count: int
    metrics: dict[str, MetricSummary | None]
    rows_examined_per_sent: float | None
    first_seen: dt.datetime | None
    last_seen: dt.datetime | None
    databases: dict[str, int]
    users: dict[str, int]
    hosts: dict[str, int]
    # log_queries_not_using_indexes: statements the server (or the long_query_time rule)
    # marked as using no index, and how many had no information either way.
    not_using_indexes: bool
    no_index_count: int
    no_index_unknown: int
    errors: int
    extra: tuple[ExtraMetric, ...]
    example: QueryExample | None
    # Set only for classes read from performance_schema.
    server_digest: str | None = None
    # Statements per decade of query time: 1 us, 10 us, 100 us, 1 ms, 10 ms, 100 ms, 1 s, 10 s+.
    query_time_histogram: tuple[int, ...] | None = None
    # Per input (log file or server), in the order they were given; inputs without a
    # statement of this class are left out.
    servers: tuple[ServerShare, ...] = ()

    def metric(self, name: str) -> MetricSummary | None:
        return self.metrics.get(name)


@dataclass(frozen=True)
class SourceSummary:
    name: str
    kind: str
    bytes: int
    entries: int
    server_headers: int


@dataclass(frozen=True)
class BeyondCap:
    """Classes folded together once a run had more than DigestAccumulator.MAX_CLASSES."""

    classes: int
    statements: int
    query_time: float


@dataclass(frozen=True)
class DigestReport:
    """The result of a digest run; `classes` is ranked by `sort` (all of them)."""

    sources: tuple[SourceSummary, ...]
    queries: int
    class_count: int
    skipped_total: int
    skipped_by_reason: dict[str, int]
    skipped: tuple[Skipped, ...]
    first_seen: dt.datetime | None
    last_seen: dt.datetime | None
    totals: dict[str, MetricSummary | None]
    sort: str
    classes: tuple[QueryClass, ...] = field(default_factory=tuple)
    beyond_cap: BeyondCap | None = None
    # Statements left out by --since/--until (outside the window, or without a timestamp).
    outside_window: int = 0
    # Every input's share of the whole report (beyond-the-cap classes included).
    servers: tuple[ServerShare, ...] = ()


def _to_datetime(ts: float | None) -> dt.datetime | None:
    if ts is None:
        return None
    return dt.datetime.fromtimestamp(ts, tz=dt.UTC)


def _text(value: bytes | None) -> str | None:
    return None if value is None else value.decode("utf-8", "replace")


def _scale(metric: str) -> float:
    return 1e-6 if metric in TIME_METRICS else 1.0


def _summary(acc: ClassAccumulator, m: int) -> MetricSummary | None:
    n = acc.ns[m]
    if not n:
        return None
    name = METRICS[m]
    scale = _scale(name)
    low, high = acc.mins[m], acc.maxs[m]
    assert low is not None and high is not None
    integers = name not in TIME_METRICS
    sketch = acc.sketches[m]

    def q(p: float) -> float | None:
        value = sketch.quantile(p, integers=integers)
        if value is None:
            return None
        value = min(max(value, low), high)  # the exact extremes bound every estimate
        return round(value * scale, 6) if scale != 1.0 else value

    return MetricSummary(
        count=n,
        total=round(acc.sums[m] * scale, 6),
        min=round(low * scale, 6),
        max=round(high * scale, 6),
        avg=round(acc.sums[m] / n * scale, 6),
        p50=q(0.5),
        p95=q(0.95),
        p99=q(0.99),
    )


def _named_counts(counter: dict[bytes | None, int]) -> dict[str, int]:
    items = [(k.decode("utf-8", "replace"), n) for k, n in counter.items() if k is not None and n]
    items.sort(key=lambda kv: (-kv[1], kv[0]))
    return dict(items)


def to_query_class(acc: ClassAccumulator, source_names: list[str]) -> QueryClass:
    metrics = {METRICS[m]: _summary(acc, m) for m in range(N_METRICS)}
    sent, examined = metrics["rows_sent"], metrics["rows_examined"]
    ratio = None
    if sent is not None and examined is not None:
        ratio = round(examined.total / sent.total, 2) if sent.total else None
    example = None
    if acc.worst is not None:
        w = acc.worst
        sql: bytes = w[SQL]
        truncated = len(sql) > EXAMPLE_LIMIT
        example = QueryExample(
            sql=sql[:EXAMPLE_LIMIT].decode("utf-8", "replace"),
            database=_text(None if w[DB] == INHERIT else w[DB]),
            timestamp=_to_datetime(w[TS]),
            query_time=None if w[0] is None else round(w[0] * 1e-6, 6),
            source=source_names[w[SOURCE]],
            line=w[LINE],
            truncated=truncated,
            explain=_text(w[EXPLAIN]),
        )
    extra = tuple(
        ExtraMetric(name.decode("ascii", "replace"), int(n), round(total, 6), round(high, 6))
        for name, (n, total, high) in sorted(acc.extras.items())
    )
    return QueryClass(
        id=class_id(acc.key),
        fingerprint=acc.text.decode("utf-8", "replace"),
        count=acc.count,
        metrics=metrics,
        rows_examined_per_sent=ratio,
        first_seen=_to_datetime(acc.ts_min),
        last_seen=_to_datetime(acc.ts_max),
        databases=_named_counts(acc.db_counts),
        users=_named_counts(acc.user_counts),
        hosts=_named_counts(acc.host_counts),
        not_using_indexes=acc.no_index_yes > 0,
        no_index_count=acc.no_index_yes,
        no_index_unknown=acc.count - acc.no_index_yes - acc.no_index_no,
        errors=acc.errors,
        extra=extra,
        example=example,
        query_time_histogram=decade_histogram(acc.sketches[0]) if acc.ns[0] else None,
        servers=server_shares(acc.by_source, source_names),
    )


def server_shares(by_source: dict[int, list[int]], source_names: list[str]) -> tuple[ServerShare, ...]:
    return tuple(
        ServerShare(source_names[s], n, round(us * 1e-6, 6)) for s, (n, us) in sorted(by_source.items()) if n
    )


def sort_classes(classes: Iterable[QueryClass], sort: str) -> tuple[QueryClass, ...]:
    """Rank classes; ties go to the higher count, then the class id (stable across runs)."""

    def total(c: QueryClass, name: str) -> float:
        m = c.metrics.get(name)
        return m.total if m is not None else 0.0

    def avg(c: QueryClass) -> float:
        m = c.metrics.get("query_time")
        return m.avg if m is not None else 0.0

    keys = {
        "total": lambda c: (-total(c, "query_time"), -c.count, c.id),
        "avg": lambda c: (-avg(c), -c.count, c.id),
        "count": lambda c: (-c.count, -total(c, "query_time"), c.id),
        "rows_examined": lambda c: (-total(c, "rows_examined"), -c.count, c.id),
    }
    return tuple(sorted(classes, key=keys[sort]))


def build_report(acc: DigestAccumulator, sort: str = "total") -> DigestReport:
    """Turn an accumulator into the ranked report (every class; renderers apply --top)."""
    acc.flush()
    names = [s.name for s in acc.sources]
    classes = [to_query_class(c, names) for c in acc.classes.values()]
    totals_acc = ClassAccumulator(Fingerprint(b"", b"", True), (0, 0, 0))
    for c in acc.classes.values():
        totals_acc.merge(c)
    beyond = None
    if acc.beyond_cap is not None:
        totals_acc.merge(acc.beyond_cap)
        beyond = BeyondCap(
            classes=len(acc.folded),
            statements=acc.beyond_cap.count,
            query_time=round(acc.beyond_cap.sums[0] * 1e-6, 6),
        )
    totals = {METRICS[m]: _summary(totals_acc, m) for m in range(N_METRICS)}
    skipped = tuple(
        Skipped(names[s], line, reason) for s, _pos, line, reason in sorted(acc.skipped, key=lambda x: x[:2])
    )
    return DigestReport(
        sources=tuple(
            SourceSummary(s.name, s.kind, s.bytes_read, s.entries, s.server_headers) for s in acc.sources
        ),
        queries=sum(c.count for c in classes) + (beyond.statements if beyond else 0),
        class_count=len(classes) + (beyond.classes if beyond else 0),
        skipped_total=acc.skipped_total,
        skipped_by_reason=dict(sorted(acc.skipped_by_reason.items())),
        skipped=skipped,
        first_seen=_to_datetime(totals_acc.ts_min),
        last_seen=_to_datetime(totals_acc.ts_max),
        totals=totals,
        sort=sort,
        classes=sort_classes(classes, sort),
        beyond_cap=beyond,
        outside_window=acc.outside_window,
        servers=server_shares(totals_acc.by_source, names),
    )
