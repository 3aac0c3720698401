"""`advise`: from workload classes and a schema model to a ranked AdviceReport.

analyse every class -> index candidates per table access -> workload-wide selection under a
per-table budget -> rewrites -> redundant (and, with a server, unused) indexes -> optionally
verified on a scratch copy (advisor.verify). Pure except for the optional session.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

from sqlops.advisor.analyze import analyse_class
from sqlops.advisor.candidates import Candidate, candidates_for, lookup_sides
from sqlops.advisor.merge import DEFAULT_BUDGET, select_indexes
from sqlops.advisor.model import (
    AdviceReport,
    QueryAnalysis,
    RewriteAdvice,
    Unanalysed,
    WorkloadClass,
)
from sqlops.advisor.redundant import redundant_indexes
from sqlops.schema.model import Schema, Table

Progress = Callable[[str], None]


@dataclass(frozen=True)
class AdviseOptions:
    budget: int = DEFAULT_BUDGET  # new indexes per table
    max_columns: int = 5
    # Tables with fewer rows (when known) are read whole in microseconds: no index advice.
    min_rows: int = 1000
    # A class that examines at most this many rows per execution (when the log says) is fine.
    cheap_rows: int = 100
    log_table: str = "access_log"
    rollup_table: str = "access_log_daily"
    flavour: str | None = None  # "mariadb" | "mysql": which DDL spelling (IGNORED/INVISIBLE)
    jobs: int = 0  # processes for the analysis of big workloads (0 = one per core)
    # An index must win back at least this share of the workload's query time to be advised
    # (every index costs writes; a lookup that saves 0.1 % of the time is not worth one).
    min_gain: float = 0.01


# Below this many classes one process is faster than starting workers.
PARALLEL_MIN_CLASSES = 2000
_WORKER_SCHEMA: list[Schema] = []


def _analyse_in_worker(cls: WorkloadClass) -> QueryAnalysis:
    return analyse_class(cls, _WORKER_SCHEMA[0])


def analyse_all(classes: Sequence[WorkloadClass], schema: Schema, jobs: int = 0) -> list[QueryAnalysis]:
    """Each class parsed and analysed; big workloads over all cores (sqlglot is pure Python,
    ~5 ms per class: 10,000 classes take a minute in one process)."""
    import multiprocessing
    import os

    workers = jobs if jobs > 0 else (os.cpu_count() or 1)
    if (
        workers <= 1
        or len(classes) < PARALLEL_MIN_CLASSES
        or "fork" not in multiprocessing.get_all_start_methods()
    ):
        return [analyse_class(c, schema) for c in classes]
    _WORKER_SCHEMA[:] = [schema]  # inherited by the forked workers, not pickled per task
    try:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            return pool.map(_analyse_in_worker, classes, chunksize=100)
    finally:
        _WORKER_SCHEMA.clear()


def advise(
    classes: Sequence[WorkloadClass],
    schema: Schema,
    options: AdviseOptions | None = None,
    progress: Progress | None = None,
) -> AdviceReport:
    opts = options or AdviseOptions()
    say = progress or (lambda _m: None)
    by_id = {c.id: c for c in classes}
    say(f"analysing {len(classes)} classes")
    analyses = analyse_all(classes, schema, opts.jobs)
    # Statements that do not parse are listed one by one; SET/SHOW/CALL... (no table access the
    # advisor can see) only counted, or a log's session set-up would fill the report.
    unanalysed = tuple(
        Unanalysed(a.class_id, by_id[a.class_id].fingerprint, a.error)
        for a in analyses
        if a.error and (a.statement_kind != "other" or a.error.startswith("sqlglot"))
    )
    skipped = Counter(
        by_id[a.class_id].example.split(None, 1)[0].upper()
        for a in analyses
        if a.error and not a.error.startswith("sqlglot") and a.statement_kind == "other"
    )
    heavy = heavy_write_tables(classes, analyses, schema, opts.log_table)
    schema = with_sizes_from_log(schema, classes, analyses)
    candidates: list[Candidate] = []
    notes: list[str] = []
    unknown: Counter[str] = Counter()
    for analysis in analyses:
        cls = by_id[analysis.class_id]
        if analysis.error or not analysis.accesses or _cheap(cls, opts):
            continue
        candidates.extend(_class_candidates(analysis, schema, opts, heavy, unknown))
    if skipped:
        listed = ", ".join(f"{n} {word}" for word, n in sorted(skipped.items()))
        notes.append(f"not analysed (no table access to advise on): {listed} statement class(es)")
    for name, n in unknown.most_common():
        notes.append(
            f"table {name} (read by {n} class(es)) is not in the schema ({schema.origin}): no advice for it"
        )
    say(f"{len(candidates)} index candidates; merging across the workload")
    selection = select_indexes(
        candidates, schema.tables, by_id, budget=opts.budget, heavy_write_tables=heavy, min_gain=opts.min_gain
    )
    if selection.minor:
        minor = "; ".join(f"{a.table} ({', '.join(a.columns)})" for a in selection.minor[:6])
        notes.append(
            f"{len(selection.minor)} more index(es) would each win back less than {opts.min_gain:.0%} of the "
            f"workload's query time: {minor}{' …' if len(selection.minor) > 6 else ''} "
            "(lower --min-gain to list them)"
        )
    over: dict[str, list[str]] = {}
    for a in selection.over_budget:
        over.setdefault(a.table, []).append(f"({', '.join(a.columns)})")
    for table_name, shapes in over.items():
        notes.append(
            f"{len(shapes)} more index(es) on {table_name} are over the budget of {opts.budget}: "
            f"{'; '.join(shapes[:5])}{' …' if len(shapes) > 5 else ''} (raise --budget to rank them)"
        )
    rewrites = _rewrites(classes, analyses, schema, opts)
    drops = [d for table in schema.tables.values() for d in redundant_indexes(table, opts.flavour)]
    return AdviceReport(
        schema_origin=schema.origin,
        flavour=opts.flavour,
        classes=tuple(classes),
        analyses=tuple(analyses),
        indexes=selection.indexes,
        spares=selection.over_budget + selection.minor,
        rewrites=tuple(rewrites),
        drops=tuple(drops),
        unanalysed=unanalysed,
        notes=tuple(notes),
    )


def with_sizes_from_log(
    schema: Schema, classes: Sequence[WorkloadClass], analyses: Sequence[QueryAnalysis]
) -> Schema:
    """Row counts for tables the schema has none for (DDL files): a class that reads one table
    with no index (the slow log's not-using-indexes flag) examines the whole table each time,
    so its rows examined per execution is the table's size."""
    by_id = {c.id: c for c in classes}
    sizes: dict[str, int] = {}
    for a in analyses:
        c = by_id[a.class_id]
        if len(a.accesses) != 1 or not c.not_using_indexes or not c.rows_examined or not c.count:
            continue
        name = a.accesses[0].table
        sizes[name] = max(sizes.get(name, 0), c.rows_examined // c.count)
    tables = dict(schema.tables)
    changed = False
    for name, rows in sizes.items():
        t = schema.table(name)
        if t is not None and t.rows is None:
            tables[t.name] = replace(t, rows=rows)
            changed = True
    return replace(schema, tables=tables) if changed else schema


def _cheap(cls: WorkloadClass, opts: AdviseOptions) -> bool:
    """The log shows the class already reads few rows per execution: an index cannot help much."""
    if cls.rows_examined is None or cls.count == 0:
        return False
    per_exec = cls.rows_examined / cls.count
    sent = (cls.rows_sent or 0) / cls.count
    return per_exec <= max(opts.cheap_rows, 2 * sent)


def _class_candidates(
    analysis: QueryAnalysis,
    schema: Schema,
    opts: AdviseOptions,
    heavy: Mapping[str, str],
    unknown: Counter[str],
) -> list[Candidate]:
    out: list[Candidate] = []
    tables: dict[str, Table] = {}
    for a in analysis.accesses:
        t = schema.table(a.table)
        if t is None:
            unknown[a.table] += 1
        else:
            tables[a.table] = t
    # Group accesses by scope: the analysis lists them scope by scope; lookup sides are per scope.
    scopes: list[list] = []
    for a in analysis.accesses:
        if not scopes or len(scopes[-1]) >= scopes[-1][0].scope_tables:
            scopes.append([])
        scopes[-1].append(a)
    shares = _time_shares(analysis, tables)
    for scope in scopes:
        lookups = lookup_sides([a for a in scope if a.table in tables], tables)
        for access in scope:
            table = tables.get(access.table)
            if table is None or (table.rows is not None and table.rows < opts.min_rows):
                continue
            found = candidates_for(
                access,
                table,
                analysis.class_id,
                lookup_side=access.alias in lookups,
                heavy_writes=table.name in heavy,
                max_columns=opts.max_columns,
            )
            out.extend(replace(c, share=shares.get(table.name, 1.0)) for c in found)
    return out


def _time_shares(analysis: QueryAnalysis, tables: Mapping[str, Table]) -> dict[str, float]:
    """Which part of a join's time an index on each table can win back: its share of the rows
    the statement reads (row counts when known, else an equal split). Without it, a lookup
    index on a 10-row table would be ranked by the whole time of the scan it sits next to."""
    names = list(dict.fromkeys(a.table for a in analysis.accesses if a.table in tables))
    if len(names) <= 1:
        return {}
    rows = {n: tables[n].rows for n in names}
    if all(r is not None for r in rows.values()) and sum(r or 0 for r in rows.values()) > 0:
        total = float(sum(r or 0 for r in rows.values()))
        return {n: max((r or 0) / total, 0.01) for n, r in rows.items()}
    return dict.fromkeys(names, 1.0 / len(names))


def heavy_write_tables(
    classes: Sequence[WorkloadClass], analyses: Sequence[QueryAnalysis], schema: Schema, log_table: str
) -> dict[str, str]:
    """Tables written all day: the Squid log table, and tables the workload inserts into a lot."""
    out: dict[str, str] = {}
    log = schema.table(log_table)
    if log is not None:
        out[log.name] = "the Squid logging daemon inserts every request"
    by_id = {c.id: c for c in classes}
    total = sum(c.count for c in classes) or 1
    for a in analyses:
        if a.statement_kind not in ("insert", "replace"):
            continue
        cls = by_id[a.class_id]
        m = re.match(
            r"\s*(?:INSERT|REPLACE)\s+(?:LOW_PRIORITY\s+|DELAYED\s+|IGNORE\s+)*(?:INTO\s+)?`?([\w$]+)`?",
            cls.example,
            re.I,
        )
        if m and schema.table(m.group(1)) is not None and (cls.count >= 1000 or cls.count / total >= 0.2):
            name = schema.table(m.group(1)).name  # type: ignore[union-attr]
            out.setdefault(name, f"{cls.count} inserts in the workload")
    return out


def _rewrites(
    classes: Sequence[WorkloadClass], analyses: Sequence[QueryAnalysis], schema: Schema, opts: AdviseOptions
) -> list[RewriteAdvice]:
    """Rewrite rules run only on classes the analysis saw a pattern in (a finding), or that
    aggregate over the log table (the rollup rule): each run parses the statement again, which
    at 10,000 classes is a quarter of the time."""
    from sqlops.advisor.rewrites import rewrite_advice

    log = opts.log_table.lower()
    aggregates = ("COUNT(", "SUM(", "AVG(", "GROUP BY")
    by_id = {a.class_id: a for a in analyses}
    out: list[RewriteAdvice] = []
    for c in classes:
        a = by_id.get(c.id)
        if a is None:
            continue
        rollup_like = any(t.table.lower() == log for t in a.accesses) and any(
            f in c.fingerprint.upper() for f in aggregates
        )
        if not a.findings and not rollup_like:
            continue
        out.extend(rewrite_advice(c, schema, rollup_table=opts.rollup_table, log_table=opts.log_table))
    weight = {c.id: c.total_time for c in classes}
    out.sort(key=lambda r: (-weight.get(r.class_id, 0.0), r.kind))
    return out
