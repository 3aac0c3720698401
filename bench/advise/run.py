"""`sqlops advise` vs a naive index set vs a measuring oracle, on the Squid report workload (issue #9).

The workload database (`bench.advise.workload`, default 1,000,000 rows) is loaded once per
flavour; then four index sets ("arms") are measured on it by *real execution*, interleaved over
`--runs` repetitions (the arm order rotates each run), each starting from the loaded schema
(PK + idx_date_day on access_log, the rollup's keys, primary keys elsewhere) and dropped again:

- **none**: nothing added (the "before" of every ratio);
- **sqlops**: the indexes `sqlops advise --log <bundled slow log of the flavour> --format json`
  proposes for the bench database (`data["indexes"][i]["ddl"]`, applied as given);
- **naive**: one single-column index on each column any WHERE clause mentions (prefix 100 on
  TEXT/BLOB), the columns of the most-run pages first;
- **oracle**: a greedy search that builds each candidate index for real (1-3 columns from each
  shape's equality, range, join, ORDER BY and GROUP BY columns, equality columns first),
  measures the workload with it and keeps the best one while it saves >= 1 % of the workload's
  rows examined before any index (lazy greedy: a candidate's last gain is its bound). It
  searches on a sampled copy (every `--oracle-sample`-th row of access_log, default 10 %, side
  tables whole) and is measured at full size like the others.

Every arm may add at most `--budget` (5) indexes per table; extra ones (sqlops' last) are cut.

The measure: for every shape of `bench.advise.queries` and `--params` (3) seeded parameter
sets, the session's `Handler_read%` status counters summed over the statement (minus the
constant cost of SHOW STATUS itself), i.e. rows and index entries the storage engine handed to
the server, the same on MariaDB and MySQL, plus wall time (execute + fetch). Workload benefit
B = 1 - sum(weight x reads_after) / sum(weight x reads_before). A shape is a *suspect* when its
median time is > 10 % and > 2 ms above the none arm's; the arms were measured minutes apart on a
shared machine, so every suspect is then measured *paired*: the arm's indexes built again, the
shape's statements run `--paired-rounds` times with the indexes visible and as often with them
INVISIBLE (MySQL) / IGNORED (MariaDB) — the optimizer's "none" — alternating, seconds apart. A
regression is a suspect whose paired median is still > 10 % and > 2 ms slower. DDL that fails is *invalid*; an index
that is a left prefix of another index on its table (present or added) is *redundant*.

    .venv/bin/python -m bench.advise.run --flavour mariadb --rows 1000000 --runs 3
    .venv/bin/python -m bench.advise.run --flavour both --reuse --oracle-from bench/advise/oracle-mariadb-1000000.json

Servers: BENCH_MARIADB_DSN / BENCH_MYSQL_DSN (default 127.0.0.1:3306 and :33097), database
`sqlops_bench_advise` (and `..._sample`), dropped at the end unless --keep. The sqlops command is
`BENCH_SQLOPS_ADVISE` if set (a template with {python} {dsn} {log}), else
`python -m sqlops --dsn {dsn} advise --log {log} --verify --format json` (the proof mode: each
index measured on a scratch copy, the ones that do not help or that slow a class down dropped).
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import itertools
import json
import math
import os
import shlex
import statistics
import subprocess
import sys
import time
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
for p in (REPO, REPO / "tests"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

from bench.advise import workload  # noqa: E402
from bench.advise.queries import SHAPES, Shape, parameter_sets, render  # noqa: E402
from bench.advise.workload import q  # noqa: E402

DSNS = {
    "mariadb": os.environ.get("BENCH_MARIADB_DSN", "mysql://root@127.0.0.1:3306/"),
    "mysql": os.environ.get("BENCH_MYSQL_DSN", "mysql://root@127.0.0.1:33097/"),
}
LOGS = {
    "mariadb": REPO / "tests/data/advisor/squid-reports-mariadb1011-slow.log",
    "mysql": REPO / "tests/data/advisor/squid-reports-mysql97-slow.log",
}
DATABASE = "sqlops_bench_advise"
TEXT_TYPES = {"tinytext", "text", "mediumtext", "longtext", "tinyblob", "blob", "mediumblob", "longblob"}
REGRESSION = 1.10
NOISE_S = 0.002
PAIRED_BUDGET_S = 30.0  # per suspect shape: more rounds only while the paired check is this quick


def say(text: str = "") -> None:
    print(text, flush=True)


# ---------------------------------------------------------------------------------------------
# Indexes


@dataclass(frozen=True)
class Index:
    table: str
    columns: tuple[str, ...]  # "col" or "col(40)"
    ddl: str = ""

    def parts(self) -> tuple[tuple[str, int | None], ...]:
        return tuple(parse_col(c) for c in self.columns)

    def name(self) -> str:
        raw = "bx_" + "_".join(n for n, _ in self.parts())
        if len(raw) > 60:
            raw = raw[:50] + "_" + hashlib.sha1(raw.encode()).hexdigest()[:8]
        return raw

    def sql(self) -> str:
        if self.ddl:
            return self.ddl
        cols = ", ".join(f"`{n}`" + (f"({p})" if p else "") for n, p in self.parts())
        return f"ALTER TABLE `{self.table}` ADD INDEX `{self.name()}` ({cols})"

    def label(self) -> str:
        return f"{self.table}({', '.join(self.columns)})"


def parse_col(text: str) -> tuple[str, int | None]:
    text = text.strip().strip("`")
    if text.endswith(")") and "(" in text:
        name, _, prefix = text[:-1].partition("(")
        return name.strip().strip("`"), int(prefix)
    return text, None


Snapshot = dict[tuple[str, str], tuple[tuple[str, int | None], ...]]


def snapshot(conn) -> Snapshot:  # type: ignore[no-untyped-def]
    rows = q(conn, "SELECT TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX, COLUMN_NAME, SUB_PART FROM information_schema.STATISTICS "
                   "WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX")
    out: dict[tuple[str, str], list[tuple[str, int | None]]] = defaultdict(list)
    for table, index, _seq, column, sub in rows:
        out[(table, index)].append((column, int(sub) if sub is not None else None))
    return {k: tuple(v) for k, v in out.items()}


def reset(conn, base: Snapshot) -> None:  # type: ignore[no-untyped-def]
    for table, index in sorted(set(snapshot(conn)) - set(base)):
        q(conn, f"ALTER TABLE `{table}` DROP INDEX `{index}`")


def is_left_prefix(a: tuple[tuple[str, int | None], ...], b: tuple[tuple[str, int | None], ...]) -> bool:
    """a is a left prefix of b (a column prefix counts when it is no longer than b's)."""
    if len(a) > len(b):
        return False
    for i, ((an, ap), (bn, bp)) in enumerate(zip(a, b, strict=False)):
        if an.lower() != bn.lower():
            return False
        last = i == len(a) - 1
        if ap != bp and not ((last and bp is None) or (last and ap is not None and bp is not None and ap <= bp)):
            return False
    return True


def redundant_of(snap: Snapshot, added: set[tuple[str, str]]) -> list[str]:
    """Added indexes that are a left prefix of another index of their table."""
    out = []
    for key in sorted(added):
        table, name = key
        cols = snap[key]
        for other, ocols in snap.items():
            if other == key or other[0] != table:
                continue
            if is_left_prefix(cols, ocols) and (cols != ocols or other not in added or other < key):
                out.append(f"{table}.{name}({', '.join(c + (f'({p})' if p else '') for c, p in cols)})")
                break
    return out


@dataclass
class Applied:
    added: list[tuple[Index, tuple[str, str]]] = field(default_factory=list)
    invalid: list[tuple[Index, str]] = field(default_factory=list)
    cut: list[Index] = field(default_factory=list)
    seconds: float = 0.0
    redundant: list[str] = field(default_factory=list)


def apply(conn, indexes: list[Index], base: Snapshot, budget: int) -> Applied:  # type: ignore[no-untyped-def]
    out = Applied()
    per_table: Counter[str] = Counter()
    started = time.monotonic()
    for index in indexes:
        if per_table[index.table] >= budget:
            out.cut.append(index)
            continue
        before = set(snapshot(conn))
        try:
            q(conn, index.sql())
        except Exception as exc:  # any failure is "invalid DDL", reported with its message
            out.invalid.append((index, str(exc)))
            continue
        new = sorted(set(snapshot(conn)) - before)
        per_table[index.table] += 1
        out.added.extend((index, key) for key in new)
    out.seconds = time.monotonic() - started
    snap = snapshot(conn)
    out.redundant = redundant_of(snap, {key for _, key in out.added})
    return out


# ---------------------------------------------------------------------------------------------
# Measurement


class Meter:
    """Handler_read% deltas and wall time of single statements on one session."""

    def __init__(self, conn) -> None:  # type: ignore[no-untyped-def]
        self.conn = conn
        if workload.is_mariadb(conn):
            q(conn, "SET SESSION query_cache_type = OFF")
        q(conn, "SET SESSION time_zone = '+00:00'")
        a, b, c = self.reads(), self.reads(), self.reads()
        self.overhead = min(b - a, c - b)

    def reads(self) -> int:
        return sum(int(v) for _, v in q(self.conn, "SHOW SESSION STATUS LIKE 'Handler_read%'"))

    def run(self, sql: str) -> tuple[int, float]:
        before = self.reads()
        started = time.perf_counter()
        with self.conn.cursor() as cur:
            cur.execute(sql)
            cur.fetchall()
        seconds = time.perf_counter() - started
        return max(0, self.reads() - before - self.overhead), seconds


@dataclass
class ShapeResult:
    reads: list[int] = field(default_factory=list)
    times: list[float] = field(default_factory=list)

    @property
    def mean_reads(self) -> float:
        return statistics.fmean(self.reads) if self.reads else 0.0


def measure(meter: Meter, statements: dict[str, list[str]], shapes: list[Shape] | None = None) -> dict[str, ShapeResult]:
    out: dict[str, ShapeResult] = {}
    for shape in shapes or SHAPES:
        res = out[shape.name] = ShapeResult()
        for sql in statements[shape.name]:
            r, t = meter.run(sql)
            res.reads.append(r)
            res.times.append(t)
    return out


def set_visible(conn, applied: Applied, visible: bool) -> None:  # type: ignore[no-untyped-def]
    if workload.is_mariadb(conn):
        state = "NOT IGNORED" if visible else "IGNORED"
    else:
        state = "VISIBLE" if visible else "INVISIBLE"
    for _index, (table, name) in applied.added:
        q(conn, f"ALTER TABLE `{table}` ALTER INDEX `{name}` {state}")


def paired(meter: Meter, applied: Applied, statements: list[str], rounds: int) -> tuple[float, float]:
    """Median time of the statements without (indexes hidden) and with the arm's indexes,
    alternating which goes first, so both see the same machine load."""
    times: dict[bool, list[float]] = {True: [], False: []}
    started = time.monotonic()
    try:
        for r in range(rounds):
            if r >= 2 and time.monotonic() - started > PAIRED_BUDGET_S:
                break  # seconds-long statements at 1M rows: two rounds each way are enough
            for visible in (False, True) if r % 2 == 0 else (True, False):
                set_visible(meter.conn, applied, visible)
                for sql in statements:
                    times[visible].append(meter.run(sql)[1])
    finally:
        set_visible(meter.conn, applied, True)
    return statistics.median(times[False]), statistics.median(times[True])


def slower(before: float, after: float) -> bool:
    return after > before * REGRESSION and after - before > NOISE_S


def workload_cost(results: dict[str, ShapeResult], weights: dict[str, float]) -> float:
    return sum(weights[n] * r.mean_reads for n, r in results.items())


def workload_time(results: dict[str, ShapeResult], weights: dict[str, float]) -> float:
    return sum(weights[n] * statistics.fmean(r.times) for n, r in results.items())


def statements_for(model: workload.Model, n: int, seed: int) -> dict[str, list[str]]:
    return {s.name: [render(s.sql, p) for p in parameter_sets(model, s, n, seed)] for s in SHAPES}


# ---------------------------------------------------------------------------------------------
# The arms


def column_types(conn) -> dict[tuple[str, str], str]:  # type: ignore[no-untyped-def]
    return {
        (t, c): str(ty).lower()
        for t, c, ty in q(conn, "SELECT TABLE_NAME, COLUMN_NAME, DATA_TYPE FROM information_schema.COLUMNS "
                                "WHERE TABLE_SCHEMA = DATABASE()")
    }


def col_spec(types: dict[tuple[str, str], str], table: str, column: str) -> str:
    return f"{column}(100)" if types[(table, column)] in TEXT_TYPES else column


def leads_existing(base: Snapshot, table: str, column: str) -> bool:
    return any(t == table and cols[0][0].lower() == column.lower() for (t, _), cols in base.items())


def naive_set(types: dict[tuple[str, str], str], base: Snapshot) -> list[Index]:
    """One single-column index per WHERE column, per table the most-run pages' columns first."""
    score: dict[tuple[str, str], float] = defaultdict(float)
    for shape in SHAPES:
        for table, roles in shape.cols.items():
            for column in roles.get("where", ()):
                score[(table, column)] += shape.weight
    out = []
    for (table, column), _ in sorted(score.items(), key=lambda kv: (-kv[1], kv[0])):
        if (table, column) not in types:
            raise SystemExit(f"queries.py annotates {table}.{column}, which the schema does not have")
        if not leads_existing(base, table, column):
            out.append(Index(table, (col_spec(types, table, column),)))
    return out


def candidates(types: dict[tuple[str, str], str], base: Snapshot) -> list[Index]:
    """1-3 column candidates per shape and table: equality columns first (every order), then
    one range, ORDER BY or GROUP BY column; join columns alone and before equality columns."""
    seen: dict[tuple[str, tuple[str, ...]], Index] = {}
    for shape in SHAPES:
        for table, roles in shape.cols.items():
            eq = list(roles.get("eq", ()))
            rng = list(roles.get("range", ()))
            join = list(roles.get("join", ()))
            tail = rng + list(roles.get("order", ())) + list(roles.get("group", ()))
            combos: list[tuple[str, ...]] = [(x,) for x in eq + rng + join + list(roles.get("order", ()))]
            for k in range(1, min(3, len(eq)) + 1):
                for perm in itertools.permutations(eq, k):
                    combos.append(perm)
                    if k < 3:
                        combos.extend((*perm, t) for t in tail if t not in perm)
            for j in join:
                combos.extend((j, e) for e in eq if e != j)
                combos.extend((j, t) for t in tail if t != j)
            for cols in combos:
                if len(set(cols)) != len(cols):
                    continue
                specs = tuple(col_spec(types, table, c) for c in cols)
                index = Index(table, specs)
                if any(t == table and is_left_prefix(index.parts(), ic) for (t, _), ic in base.items()):
                    continue
                seen.setdefault((table, cols), index)
    return list(seen.values())


@dataclass
class OracleResult:
    indexes: list[Index]
    evaluations: int
    seconds: float
    sample_rows: int
    sample_cost_before: float
    sample_cost_after: float
    log: list[str]


def oracle_search(conn, model: workload.Model, *, budget: int, params: int, seed: int, min_gain: float) -> OracleResult:  # type: ignore[no-untyped-def]
    started = time.monotonic()
    types = column_types(conn)
    base = snapshot(conn)
    reset(conn, base)
    meter = Meter(conn)
    stmts = statements_for(model, params, seed + 1)
    weights = {s.name: s.weight for s in SHAPES}
    current = {n: r.mean_reads for n, r in measure(meter, stmts).items()}
    cost0 = sum(weights[n] * v for n, v in current.items())
    threshold = min_gain * cost0
    cands = candidates(types, base)
    say(f"  oracle: {len(cands)} candidates, sample workload cost {cost0:,.0f} reads, "
        f"threshold {threshold:,.0f} ({min_gain:.0%})")
    bound = {c: math.inf for c in cands}
    fresh: dict[Index, int] = {}
    newcosts: dict[Index, dict[str, float]] = {}
    chosen: list[Index] = []
    per_table: Counter[str] = Counter()
    evaluations = 0
    log = []

    def affected(index: Index) -> list[Shape]:
        names = {n for n, _ in index.parts()}
        return [s for s in SHAPES if s.columns(index.table) & names]

    def evaluate(index: Index) -> float:
        nonlocal evaluations
        evaluations += 1
        shapes = affected(index)
        try:
            q(conn, index.sql())
        except Exception:
            return -math.inf
        try:
            res = measure(meter, stmts, shapes)
        finally:
            q(conn, f"ALTER TABLE `{index.table}` DROP INDEX `{index.name()}`")
        newcosts[index] = {n: r.mean_reads for n, r in res.items()}
        return sum(weights[n] * (current[n] - v) for n, v in newcosts[index].items())

    for rnd in itertools.count(1):
        pool = [
            c for c in cands
            if per_table[c.table] < budget and c not in chosen
            and not any(c.table == x.table and is_left_prefix(c.parts(), x.parts()) for x in chosen)
        ]
        best = None
        while pool:
            pool.sort(key=lambda c: bound[c], reverse=True)
            top = pool[0]
            if fresh.get(top) == rnd:
                best = top
                break
            bound[top] = evaluate(top)
            fresh[top] = rnd
        if best is None or bound[best] < threshold:
            if best is not None:
                log.append(f"stop: best remaining {best.label()} saves {bound[best]:,.0f} < {threshold:,.0f}")
            break
        q(conn, best.sql())
        chosen.append(best)
        per_table[best.table] += 1
        current.update(newcosts[best])
        for old in [x for x in chosen if x is not best and x.table == best.table and is_left_prefix(x.parts(), best.parts())]:
            # the new index extends an earlier choice: drop the earlier one (it is now redundant)
            q(conn, f"ALTER TABLE `{old.table}` DROP INDEX `{old.name()}`")
            chosen.remove(old)
            per_table[old.table] -= 1
            current.update({n: r.mean_reads for n, r in measure(meter, stmts, affected(old)).items()})
            log.append(f"round {rnd}: - {old.label()} (a left prefix of {best.label()})")
        total = sum(weights[n] * v for n, v in current.items())
        line = f"round {rnd}: + {best.label()} saves {bound[best]:,.0f} -> cost {total:,.0f} ({evaluations} evaluations)"
        log.append(line)
        say("  oracle " + line)
    cost1 = sum(weights[n] * v for n, v in current.items())
    reset(conn, base)
    ((rows,),) = q(conn, "SELECT COUNT(*) FROM access_log")
    return OracleResult(chosen, evaluations, time.monotonic() - started, int(rows), cost0, cost1, log)


class SqlopsUnavailable(RuntimeError):
    pass


def sqlops_set(dsn: str, log: Path) -> tuple[list[Index], float, str]:
    template = os.environ.get("BENCH_SQLOPS_ADVISE", "{python} -m sqlops --dsn {dsn} advise --log {log} --verify --format json")
    cmd = [part.format(python=sys.executable, dsn=dsn, log=str(log)) for part in shlex.split(template)]
    if not log.exists():
        raise SqlopsUnavailable(f"sqlops advise not available: the captured log {log} is missing")
    started = time.monotonic()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1800, cwd=REPO)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SqlopsUnavailable(f"sqlops advise not available: {exc}") from None
    seconds = time.monotonic() - started
    shown = " ".join(shlex.quote(c) for c in cmd)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise SqlopsUnavailable(f"sqlops advise not available: `{shown}` exited {proc.returncode}: {' | '.join(tail)}")
    try:
        data = json.loads(proc.stdout)
        items = data["indexes"]
        indexes = [Index(str(i["table"]), tuple(str(c) for c in i["columns"]), str(i["ddl"])) for i in items]
    except (ValueError, KeyError, TypeError) as exc:
        raise SqlopsUnavailable(
            f"sqlops advise not available: its JSON has no usable data['indexes'][*].table/columns/ddl ({exc!r})"
        ) from None
    return indexes, seconds, shown


# ---------------------------------------------------------------------------------------------
# The benchmark


@dataclass
class ArmRuns:
    name: str
    indexes: list[Index]
    runs: list[dict[str, ShapeResult]] = field(default_factory=list)
    applied: Applied | None = None
    error: str = ""


def mmm(values: list[float], fmt: str = "{:.2f}") -> str:
    if not values:
        return "-"
    return "–".join(fmt.format(v) for v in (min(values), statistics.median(values), max(values)))


def bench_flavour(flavour: str, args: argparse.Namespace) -> dict:
    DATABASE = args.database
    dsn = workload.with_database(args.dsn or DSNS[flavour], DATABASE)
    sample_db = f"{DATABASE}_sample"
    model = workload.Model.build(args.seed)
    figures: dict = {"flavour": flavour, "rows": args.rows, "budget": args.budget, "params": args.params,
                     "runs": args.runs}
    conn = workload.connect(dsn, database="")
    ((version,),) = q(conn, "SELECT VERSION()")
    say(f"=== {flavour}: {version} ({dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores) ===")
    figures["version"] = version
    existing = q(conn, "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s AND TABLE_NAME = 'access_log'",
                 (DATABASE,))[0][0]
    if args.reuse and existing:
        ((n,),) = q(conn, f"SELECT COUNT(*) FROM `{DATABASE}`.access_log")
        say(f"reusing {DATABASE} ({n} rows)")
        figures["rows"] = int(n)
    else:
        res = workload.load(dsn, args.rows, seed=args.seed, say=say)
        figures["load_seconds"] = round(res.seconds, 1)
        figures["load_method"] = res.method
        figures["mib"] = round(res.mib)
    q(conn, f"USE `{DATABASE}`")
    base = snapshot(conn)
    reset(conn, base)  # (nothing to drop after a fresh load; a reused db may have leftovers: none expected)
    types = column_types(conn)

    arms: list[ArmRuns] = [ArmRuns("none", [])]
    # sqlops first: it may EXPLAIN against the database, which must have no bench index yet.
    if "sqlops" in args.arms:
        try:
            idx, secs, shown = sqlops_set(dsn, LOGS[flavour])
            say(f"sqlops advise: {len(idx)} indexes proposed in {secs:.1f} s ({shown})")
            figures["sqlops_seconds"] = round(secs, 1)
            arms.append(ArmRuns("sqlops", idx))
        except SqlopsUnavailable as exc:
            say(str(exc))
            arms.append(ArmRuns("sqlops", [], error=str(exc)))
    if "naive" in args.arms:
        arms.append(ArmRuns("naive", naive_set(types, base)))
    if "oracle" in args.arms:
        if args.oracle_from:
            data = json.loads(Path(args.oracle_from).read_text())
            oracle_idx = [Index(i["table"], tuple(i["columns"])) for i in data["indexes"]]
            say(f"oracle: {len(oracle_idx)} indexes from {args.oracle_from}")
        else:
            every = max(1, round(100 / args.oracle_sample))
            started = time.monotonic()
            n = workload.sample_copy(conn, DATABASE, sample_db, every)
            copy_s = time.monotonic() - started
            say(f"oracle: sampled copy {sample_db} with {n} rows (every {every}th) in {copy_s:.1f} s")
            try:
                result = oracle_search(conn, model, budget=args.budget, params=max(1, args.params - 1),
                                       seed=args.seed, min_gain=args.min_gain)
            finally:
                q(conn, f"USE `{DATABASE}`")
                if not args.keep:
                    q(conn, f"DROP DATABASE IF EXISTS `{sample_db}`")
            oracle_idx = result.indexes
            figures["oracle"] = {"seconds": round(result.seconds, 1), "evaluations": result.evaluations,
                                 "sample_rows": result.sample_rows, "sample_copy_seconds": round(copy_s, 1),
                                 "sample_cost_before": result.sample_cost_before,
                                 "sample_cost_after": result.sample_cost_after, "log": result.log}
            say(f"oracle: {len(oracle_idx)} indexes after {result.evaluations} evaluations in {result.seconds:.0f} s "
                f"(sample B = {1 - result.sample_cost_after / result.sample_cost_before:.3f})")
            cache = Path(args.oracle_save or REPO / f"bench/advise/oracle-{flavour}-{figures['rows']}.json")
            cache.write_text(json.dumps({"flavour": flavour, "rows": figures["rows"], "version": version,
                                         "indexes": [asdict(i) | {"ddl": i.sql()} for i in oracle_idx],
                                         "search": figures["oracle"]}, indent=2) + "\n")
            say(f"oracle: index set saved to {cache}")
        arms.append(ArmRuns("oracle", oracle_idx))

    meter = Meter(conn)
    stmts = statements_for(model, args.params, args.seed)
    weights = {s.name: s.weight for s in SHAPES}
    measured = [a for a in arms if not a.error]
    started = time.monotonic()
    for run in range(args.runs):
        order = measured[run % len(measured):] + measured[: run % len(measured)]
        for arm in order:
            reset(conn, base)
            applied = apply(conn, arm.indexes, base, args.budget)
            if arm.applied is None:
                arm.applied = applied
            t0 = time.monotonic()
            arm.runs.append(measure(meter, stmts))
            say(f"  run {run + 1}: {arm.name:<7} {len(applied.added):2d} indexes (built in {applied.seconds:5.1f} s), "
                f"workload measured in {time.monotonic() - t0:5.1f} s")
        reset(conn, base)
    figures["measure_seconds"] = round(time.monotonic() - started, 1)

    none = arms[0]
    before_t = {n: statistics.median(t for run in none.runs for t in run[n].times) for n in weights}
    confirmed: dict[str, list[str]] = {}
    suspects: dict[str, list[str]] = {}
    for arm in measured[1:]:
        suspects[arm.name] = [
            n for n in weights
            if slower(before_t[n], statistics.median(t for run in arm.runs for t in run[n].times))
        ]
        confirmed[arm.name] = []
        if not suspects[arm.name] or args.paired_rounds < 1:
            confirmed[arm.name] = [f"{n} (unpaired)" for n in suspects[arm.name]]
            continue
        reset(conn, base)
        applied = apply(conn, arm.indexes, base, args.budget)
        for n in suspects[arm.name]:
            b, a = paired(meter, applied, stmts[n], args.paired_rounds)
            verdict = "regression" if slower(b, a) else "noise"
            say(f"  paired {arm.name:<7} {n:<28} {b * 1000:8.1f} -> {a * 1000:8.1f} ms  {verdict}")
            if verdict == "regression":
                confirmed[arm.name].append(f"{n} ({b * 1000:.1f} -> {a * 1000:.1f} ms paired)")
        reset(conn, base)
    before = {n: statistics.fmean(r.mean_reads for r in (run[n] for run in none.runs)) for n in weights}
    cost_before = sum(weights[n] * v for n, v in before.items())
    say()
    say(f"{figures['rows']:,} rows, {len(SHAPES)} shapes x {args.params} parameter sets, {args.runs} runs, "
        f"budget {args.budget} per table; reads = Handler_read% deltas")
    say(f"{'arm':<8} {'B':>7} {'indexes':>8} {'regress':>8} {'suspect':>8} {'invalid':>8} {'redund':>7} {'cut':>4} "
        f"{'build s':>8}  weighted workload time s (min–median–max)")
    summary = {}
    for arm in arms:
        if arm.error:
            say(f"{arm.name:<8} {arm.error}")
            summary[arm.name] = {"error": arm.error}
            continue
        after = {n: statistics.fmean(run[n].mean_reads for run in arm.runs) for n in weights}
        benefit = 1 - sum(weights[n] * v for n, v in after.items()) / cost_before
        regress = confirmed.get(arm.name, [])
        suspect = suspects.get(arm.name, [])
        ap = arm.applied or Applied()
        times = [workload_time(run, weights) for run in arm.runs]
        say(f"{arm.name:<8} {benefit:7.3f} {len(ap.added):8d} {len(regress):8d} {len(suspect):8d} {len(ap.invalid):8d} "
            f"{len(ap.redundant):7d} {len(ap.cut):4d} {ap.seconds:8.1f}  {mmm(times)}")
        summary[arm.name] = {
            "B": round(benefit, 4), "indexes": len(ap.added), "regressions": regress, "suspects": suspect,
            "invalid": [f"{i.label()}: {e}" for i, e in ap.invalid], "redundant": ap.redundant,
            "cut_by_budget": [i.label() for i in ap.cut], "build_seconds": round(ap.seconds, 1),
            "workload_seconds": [round(t, 3) for t in times],
            "index_set": [i.label() for i, _ in ap.added],
            "per_shape_reads": {n: round(v) for n, v in after.items()},
        }
    for arm in arms:
        if not arm.error and arm.name != "none":
            details = summary[arm.name]
            say(f"  {arm.name}: {', '.join(details['index_set']) or '(none)'}")
            for key in ("regressions", "suspects", "invalid", "redundant", "cut_by_budget"):
                if details[key]:
                    say(f"    {key}: {'; '.join(details[key])}")
    s, o, nv = summary.get("sqlops", {}), summary.get("oracle", {}), summary.get("naive", {})
    if "B" in s and "B" in o and o["B"] and o["indexes"]:
        say(f"sqlops / oracle: B {s['B'] / o['B']:.2f}, indexes {s['indexes'] / o['indexes']:.2f}")
    if "B" in s and "B" in nv and nv["B"] and nv["indexes"]:
        say(f"sqlops vs naive: B {s['B']:.3f} vs {nv['B']:.3f} ({s['B'] / nv['B']:.2f}x), "
            f"indexes {s['indexes']} vs {nv['indexes']}")
    if "B" in o and "B" in nv and nv["B"]:
        say(f"oracle vs naive: B {o['B']:.3f} vs {nv['B']:.3f}, indexes {o['indexes']} vs {nv['indexes']}")
    if args.per_shape:
        names = [a.name for a in arms if not a.error]
        say(f"{'shape':<28} {'weight':>6} " + " ".join(f"{n:>12}" for n in names))
        for n in weights:
            say(f"{n:<28} {weights[n]:6g} " + " ".join(
                f"{summary[a]['per_shape_reads'][n] if a != 'none' else round(before[n]):12,}" for a in names))
    figures["arms"] = summary
    figures["cost_before"] = cost_before
    if not args.keep:
        q(conn, f"DROP DATABASE IF EXISTS `{DATABASE}`")
    conn.close()
    return figures


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--flavour", choices=("mariadb", "mysql", "both"), default="mariadb")
    ap.add_argument("--dsn", help="server URL (default BENCH_<FLAVOUR>_DSN or the local servers)")
    ap.add_argument("--rows", type=int, default=workload.DEFAULT_ROWS)
    ap.add_argument("--database", default=DATABASE, help=f"bench database (default {DATABASE}; the oracle adds _sample)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--params", type=int, default=3, help="parameter sets per shape (the oracle uses one fewer)")
    ap.add_argument("--budget", type=int, default=5, help="new indexes per table")
    ap.add_argument("--arms", default="sqlops,naive,oracle", help="comma-separated subset of sqlops,naive,oracle")
    ap.add_argument("--oracle-sample", type=float, default=10.0, help="percent of access_log the oracle searches on")
    ap.add_argument("--min-gain", type=float, default=0.01, help="oracle stops below this share of the before cost")
    ap.add_argument("--oracle-from", help="take the oracle's index set from this JSON (saved by an earlier run)")
    ap.add_argument("--oracle-save", help="where to save the oracle's index set (default bench/advise/oracle-<flavour>-<rows>.json)")
    ap.add_argument("--reuse", action="store_true", help="keep an existing bench database instead of reloading")
    ap.add_argument("--keep", action="store_true", help="do not drop the databases at the end")
    ap.add_argument("--paired-rounds", type=int, default=5,
                    help="rounds of the paired hidden/visible check of each suspect regression (0: none)")
    ap.add_argument("--per-shape", action="store_true", help="print reads per shape and arm")
    ap.add_argument("--json", help="write all figures to this file")
    ap.add_argument("--seed", type=int, default=workload.DEFAULT_SEED)
    args = ap.parse_args(argv)
    args.arms = {a.strip() for a in args.arms.split(",") if a.strip()}
    flavours = ("mariadb", "mysql") if args.flavour == "both" else (args.flavour,)
    out = [bench_flavour(f, args) for f in flavours]
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
