"""The advisor's library entry point: inputs -> workload -> schema -> advice -> proof -> apply.

The CLI builds an AdviseRequest and calls :func:`run_advise`; so can a script or a test.
A server connection is opened only when something needs one (live schema, performance_schema,
sampling, --verify, --apply), through the `connect` callable the caller provides.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlops.advisor.advise import AdviseOptions, Progress, advise
from sqlops.advisor.model import AdviceReport, WorkloadClass
from sqlops.advisor.workload import from_digest, from_sources, merge_classes
from sqlops.errors import PreconditionError, UsageError
from sqlops.schema.model import Schema


@dataclass(frozen=True)
class AdviseRequest:
    logs: Sequence[str] = ()
    log_type: str = "auto"
    long_query_time: float | None = None
    jobs: int = 0
    from_server: bool = False
    sources: Sequence[str] = ()
    schema_files: Sequence[str] = ()
    sample: int = 0
    verify: bool = False
    verify_rows: int = 100_000
    apply: bool = False
    dry_run: bool = False
    budget: int = 5
    min_gain: float = 0.01
    flavour: str | None = None
    log_table: str = "access_log"
    rollup_table: str = "access_log_daily"

    @classmethod
    def from_options(
        cls, options: Mapping[str, Any], digest: Any, log_table: str, rollup_table: str
    ) -> AdviseRequest:
        """From the CLI's options (click names; `apply_`), config defaults filled in."""
        o = dict(options)
        o["apply"] = o.pop("apply_", False)
        if o.get("long_query_time") is None:
            o["long_query_time"] = digest.long_query_time
        o["log_table"] = o.get("log_table") or log_table
        o["rollup_table"] = o.get("rollup_table") or rollup_table
        return cls(jobs=digest.jobs, **o)

    @property
    def needs_server(self) -> bool:
        """performance_schema, sampling, proof and apply need one; so does the schema without
        DDL files."""
        return bool(self.from_server or self.verify or self.apply or self.sample or not self.schema_files)

    def check(self, *, server_given: bool) -> None:
        """Refuse combinations that cannot work, before anything is read."""
        if not (self.logs or self.from_server or self.sources):
            raise UsageError(
                "nothing to advise on: give a workload",
                fix="sqlops advise --log slow.log --schema schema.sql  "
                "(or --source DIR, or --from-server with --dsn)",
            )
        if self.dry_run and not self.apply:
            raise UsageError("--dry-run goes with --apply", fix="sqlops advise ... --apply --dry-run")
        if self.needs_server and not server_given:
            what = "--schema FILE.sql" if not self.schema_files else "a server"
            raise UsageError(
                f"no schema: give {what}",
                why="--from-server, --sample, --verify and --apply need a live server; without --schema "
                "the schema comes from one too",
                fix="sqlops advise --log slow.log --schema schema.sql   or   sqlops advise --log slow.log "
                "--dsn mysql://user@host/db",
            )


@dataclass(frozen=True)
class AdviseOutcome:
    report: AdviceReport
    script: str | None = None  # --apply --dry-run: the script to print instead of the report
    applied: int = 0


def collect_workload(
    request: AdviseRequest, session: Any | None, progress: Progress | None
) -> tuple[list[WorkloadClass], list[str]]:
    say = progress or (lambda _m: None)
    groups: list[list[WorkloadClass]] = []
    notes: list[str] = []
    if request.logs:
        from sqlops.querylog.reader import ReadOptions, digest_logs

        say(f"reading {len(request.logs)} log file(s)")
        report = digest_logs(
            list(request.logs),
            ReadOptions(
                log_type=request.log_type,  # type: ignore[arg-type]
                long_query_time=request.long_query_time,
                jobs=request.jobs,
            ),
        )
        groups.append(from_digest(report))
        if report.skipped_total:
            notes.append(f"{report.skipped_total} log entries skipped by the reader (see `sqlops digest`)")
    if request.from_server and session is not None:
        from sqlops.querylog.perfschema import read_digest_table

        say("reading performance_schema digests")
        groups.append(from_digest(read_digest_table(session, "the server")))
    if request.sources:
        say(f"reading SQL from {len(request.sources)} source path(s)")
        classes, unresolved = from_sources(request.sources)
        groups.append(classes)
        for file, line, reason in unresolved[:50]:
            notes.append(f"{file}:{line}: SQL not completed statically: {reason}")
        if len(unresolved) > 50:
            notes.append(f"… and {len(unresolved) - 50} more statements not completed statically")
    classes = merge_classes(groups)
    if not classes:
        raise UsageError(
            "the inputs hold no SQL statements",
            why="no statement was found in the logs, performance_schema or source given",
            fix="check the files (`sqlops digest --log FILE` shows what is read)",
        )
    return classes, notes


def load_schema(request: AdviseRequest, session: Any | None, classes: Sequence[WorkloadClass]) -> Schema:
    if request.schema_files:
        from sqlops.schema.ddl import load_schema_files

        return load_schema_files(list(request.schema_files))
    if session is None:  # pragma: no cover - the CLI refuses this combination earlier
        raise UsageError("no schema", fix="give --schema FILE.sql or a server with --dsn")
    from sqlops.schema.inspect import inspect_schema

    if not session.database:
        raise UsageError(
            "the server connection names no database",
            fix="put the database in the DSN: mysql://user@host/squid (or database.database in the config)",
        )
    schema = inspect_schema(session)
    if not schema.tables:
        raise PreconditionError(
            f"database {session.database} has no tables",
            why="the advice is about the tables the workload reads",
            fix="point --dsn at the application's database",
        )
    return replace(
        schema,
        origin=f"{session.database} on {session.info.describe()}",
        flavour="mariadb" if session.info.is_mariadb else "mysql",
    )


def _sampled(schema: Schema, report: AdviceReport, session: Any, rows: int) -> Schema:
    from sqlops.schema.inspect import with_sampled_stats

    wanted: dict[str, set[str]] = {}
    for analysis in report.analyses:
        for a in analysis.accesses:
            cols = (
                set(a.equality) | set(a.ranges) | set(a.joins) | set(a.group_by) | {c for c, _ in a.order_by}
            )
            wanted.setdefault(a.table, set()).update(cols)
    return with_sampled_stats(session, schema, wanted, rows)


def run_advise(
    request: AdviseRequest,
    connect: Callable[[], Any] | None,
    progress: Progress | None = None,
) -> AdviseOutcome:
    session = connect() if connect is not None else None
    try:
        return _run(request, session, progress)
    finally:
        if session is not None:
            session.close()


def _run(request: AdviseRequest, session: Any | None, progress: Progress | None) -> AdviseOutcome:
    say = progress or (lambda _m: None)
    classes, notes = collect_workload(request, session, progress)
    schema = load_schema(request, session, classes)
    flavour = request.flavour or schema.flavour or "mariadb"
    options = AdviseOptions(
        min_gain=request.min_gain,
        budget=request.budget,
        log_table=request.log_table,
        rollup_table=request.rollup_table,
        flavour=flavour,
    )
    report = advise(classes, schema, options, progress)
    if session is not None and request.sample:
        say(f"sampling {request.sample} rows per table for column statistics")
        schema = _sampled(schema, report, session, request.sample)
        report = advise(classes, schema, options, progress)
    if session is not None and request.from_server:
        from sqlops.advisor.redundant import inspect_unused_indexes, unused_index_advice

        unused, note = inspect_unused_indexes(session, session.database)
        report = replace(
            report,
            drops=report.drops
            + tuple(unused_index_advice(schema.tables, unused, note, flavour, report.drops)),
        )
    report = replace(report, notes=tuple(notes) + report.notes)
    if request.verify and session is not None:
        report = _verify(report, schema, session, request, progress)
    if request.apply and session is not None:
        from sqlops.advisor.apply import apply_plan, plan_apply
        from sqlops.plan import render

        plan = plan_apply(session.database, report.indexes, (), info=session.info)
        if request.dry_run:
            return AdviseOutcome(report, script=render(plan))
        result = apply_plan(session, plan)
        return AdviseOutcome(report, applied=len(result.executed))
    return AdviseOutcome(report)


def _verify(
    report: AdviceReport, schema: Schema, session: Any, request: AdviseRequest, progress: Progress | None
) -> AdviceReport:
    from sqlops.advisor.verify import verify_advice

    by_id = {c.id: c for c in report.classes}
    result = verify_advice(
        session,
        schema,
        by_id,
        report.indexes,
        report.rewrites,
        sample_rows=request.verify_rows,
        progress=progress,
        spares=report.spares,
        budget=request.budget,
    )
    notes = list(result.notes)
    for r in result.dropped_rewrites:
        why = r.evidence.note if r.evidence else "it did not return the same rows"
        why = why if why.startswith("dropped") else "dropped: " + why
        notes.append(f"rewrite [{r.kind}] of class {r.class_id} {why}")
    # Keep a rewrite only when it was measured to help, or when it is advice that claims no
    # measured speed-up (notes, non-equivalent alternatives) or could not be measured.
    kept_rewrites = []
    for r in result.rewrites:
        ev = r.evidence
        if ev is not None and ev.verified and not ev.helps and r.claims_speedup and r.equivalent:
            notes.append(f"rewrite [{r.kind}] of class {r.class_id} measured and dropped: {ev.note}")
        else:
            kept_rewrites.append(r)
    for class_id, why in sorted(result.unverifiable.items()):
        notes.append(f"class {class_id} was not measured: {why}")
    return replace(
        report,
        indexes=tuple(result.indexes),
        rejected=tuple(result.rejected),
        rewrites=tuple(kept_rewrites),
        notes=report.notes + tuple(notes),
    )
