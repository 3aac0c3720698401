"""`sqlops advise`: workload-wide index and rewrite advice, proven with EXPLAIN on request."""

from __future__ import annotations

import sys

import click

from sqlops.cli.app import AppContext, cli
from sqlops.cli.output import emit_json, log_options
from sqlops.errors import UsageError


def _progress(message: str) -> None:
    click.echo(f"sqlops advise: {message}", err=True)


@cli.command("advise")
@log_options
@click.option(
    "--from-server",
    is_flag=True,
    help="Add performance_schema digests (and unused indexes) of the --dsn server.",
)
@click.option(
    "--source",
    "sources",
    multiple=True,
    metavar="DIR|FILE",
    help="Application source (.php .pl .pm .cgi .py .sql) to read SQL from; repeatable.",
)
@click.option(
    "--schema",
    "schema_files",
    multiple=True,
    metavar="FILE.sql",
    help="DDL file(s) (mysqldump --no-data, SHOW CREATE TABLE) instead of a live server.",
)
@click.option(
    "--dsn",
    default=None,
    metavar="URL",
    help="Server to read the schema from (same as the global --dsn): mysql://user@host/db.",
)
@click.option(
    "--sample",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Measure column NDV and TEXT prefix selectivity on N sampled rows (live server).",
)
@click.option(
    "--verify",
    is_flag=True,
    help="Prove each advice on a scratch copy: EXPLAIN and execute before/after (live server).",
)
@click.option(
    "--verify-rows",
    type=click.IntRange(min=100),
    default=100_000,
    show_default=True,
    help="Rows per table copied to the scratch schema for --verify.",
)
@click.option(
    "--apply",
    "apply_",
    is_flag=True,
    help="Add the advised indexes on the real tables (online DDL, named lock, short lock wait).",
)
@click.option("--dry-run", is_flag=True, help="With --apply: print the script instead of running it.")
@click.option(
    "--budget",
    type=click.IntRange(min=0),
    default=5,
    show_default=True,
    help="New indexes per table at most.",
)
@click.option(
    "--min-gain",
    type=click.FloatRange(min=0, max=1),
    default=0.01,
    show_default=True,
    help="Advise an index only if it can win back this share of the workload's query time.",
)
@click.option(
    "--flavour",
    type=click.Choice(["mariadb", "mysql"]),
    default=None,
    help="Server flavour for DDL spelling without a server (IGNORED vs INVISIBLE) [default: mariadb].",
)
@click.option("--log-table", default=None, help="The Squid log table [default: the configured squid table].")
@click.option("--rollup-table", default=None, help="The daily rollup table [default: rollup.table].")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "sql", "markdown"]),
    default="text",
    show_default=True,
    help="Report format; sql prints a ready-to-run script.",
)
@click.pass_obj
def advise_cmd(
    app: AppContext,
    logs: tuple[str, ...],
    log_type: str,
    long_query_time: float | None,
    from_server: bool,
    sources: tuple[str, ...],
    schema_files: tuple[str, ...],
    dsn: str | None,
    sample: int,
    verify: bool,
    verify_rows: int,
    apply_: bool,
    dry_run: bool,
    budget: int,
    min_gain: float,
    flavour: str | None,
    log_table: str | None,
    rollup_table: str | None,
    fmt: str,
) -> int:
    """Propose indexes and query rewrites for a whole workload, ranked by the time they save.

    Reads the slow/general log, performance_schema digests and SQL inside application source;
    takes the schema from a live server or from DDL files (no server needed); proposes indexes
    (equality columns by selectivity, then a range or the ORDER BY/GROUP BY, prefixes for TEXT),
    merged across the workload under a per-table budget, skipping what existing indexes serve;
    rewrites (functions on columns, implicit conversions, OR across columns, NOT IN, reports
    that the daily rollup answers...); redundant indexes with the safe invisible-first path.
    --verify proves every advice on a scratch copy of the tables (never the real ones).

    Examples:

      sqlops advise --log slow.log --schema schema.sql

      sqlops advise --log slow.log.gz --source /var/www/admin --dsn mysql://root@localhost/squid --verify

      sqlops --dsn mysql://root@localhost/squid advise --log slow.log --apply --dry-run > add-indexes.sql
    """
    from sqlops.advisor.run import AdviseRequest, run_advise

    app.use_dsn(dsn)
    if not (logs or from_server or sources):
        raise UsageError(
            "nothing to advise on: give a workload",
            fix="sqlops advise --log slow.log --schema schema.sql  "
            "(or --source DIR, or --from-server with --dsn)",
        )
    if dry_run and not apply_:
        raise UsageError("--dry-run goes with --apply", fix="sqlops advise ... --apply --dry-run")
    live = bool(from_server or verify or apply_ or sample or not schema_files)
    if live and not app.server_configured() and not app.dsn:
        what = "--schema FILE.sql" if not schema_files else "a server"
        raise UsageError(
            f"no schema: give {what}",
            why="--from-server, --sample, --verify and --apply need a live server; without --schema "
            "the schema comes from one too",
            fix="sqlops advise --log slow.log --schema schema.sql   or   sqlops advise --log slow.log "
            "--dsn mysql://user@host/db",
        )
    config = app.config
    request = AdviseRequest(
        logs=logs,
        log_type=log_type,
        long_query_time=config.digest.long_query_time if long_query_time is None else long_query_time,
        jobs=config.digest.jobs,
        from_server=from_server,
        sources=sources,
        schema_files=schema_files,
        sample=sample,
        verify=verify,
        verify_rows=verify_rows,
        apply=apply_,
        dry_run=dry_run,
        budget=budget,
        min_gain=min_gain,
        flavour=flavour,
        log_table=log_table or config.schema.table,
        rollup_table=rollup_table or config.rollup.table,
    )
    connect = (lambda: app.connect(maintenance=True)) if live else None
    progress = _progress if sys.stderr.isatty() or verify or apply_ else None
    outcome = run_advise(request, connect, progress)
    if outcome.script is not None:
        click.echo(outcome.script, nl=False)
        return 0
    from sqlops.advisor import report as render

    report = outcome.report
    if fmt == "json":
        emit_json(render.report_json(report))
    elif fmt == "sql":
        click.echo(render.report_sql(report), nl=False)
    elif fmt == "markdown":
        click.echo(render.report_markdown(report), nl=False)
    else:
        click.echo(render.report_text(report), nl=False)
    if outcome.applied:
        click.echo(f"sqlops advise: applied {outcome.applied} statement(s)", err=True)
    return 0
