"""`sqlops advise`: workload-wide index and rewrite advice, proven with EXPLAIN on request."""

from __future__ import annotations

import sys
from typing import Any

import click

from sqlops.cli.app import AppContext, cli
from sqlops.cli.output import emit_json, log_options


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
def advise_cmd(app: AppContext, dsn: str | None, fmt: str, **options: Any) -> int:
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
    config = app.config
    request = AdviseRequest.from_options(options, config.digest, config.schema.table, config.rollup.table)
    request.check(server_given=app.server_configured() or bool(app.dsn))
    connect = (lambda: app.connect(maintenance=True)) if request.needs_server else None
    progress = _progress if sys.stderr.isatty() or request.verify or request.apply else None
    outcome = run_advise(request, connect, progress)
    if outcome.script is not None:
        click.echo(outcome.script, nl=False)
    else:
        _show(outcome.report, fmt)
    if outcome.applied:
        click.echo(f"sqlops advise: applied {outcome.applied} statement(s)", err=True)
    return 0


def _show(report: Any, fmt: str) -> None:
    from sqlops.advisor import report as render

    if fmt == "json":
        emit_json(render.report_json(report))
    elif fmt == "sql":
        click.echo(render.report_sql(report), nl=False)
    elif fmt == "markdown":
        click.echo(render.report_markdown(report), nl=False)
    else:
        click.echo(render.report_text(report), nl=False)
