"""`sqlops digest`: rank the statements of slow/general logs (or performance_schema) by class."""

from __future__ import annotations

from typing import Any

import click

from sqlops.cli.app import AppContext, cli
from sqlops.cli.output import emit_json, format_option, log_options
from sqlops.errors import UsageError
from sqlops.querylog.digest import SORT_KEYS


@cli.command("digest")
@log_options
@click.option(
    "--from-server", is_flag=True, help="Read performance_schema digests of the --dsn server instead."
)
@click.option(
    "--server",
    "servers",
    multiple=True,
    metavar="DSN",
    help="With --from-server: a server to read (mysql://user@host:port/); repeat for a cluster's nodes "
    "or a primary and its replicas: one report with a per-server breakdown.",
)
@click.option(
    "--source",
    "sources",
    multiple=True,
    metavar="DIR|FILE",
    help="Application code (.php/.inc/.phtml, .pl/.pm/.cgi, .py, .sql) to read SQL from; repeat for "
    "several; alone, or with --log to add an application-SQL section.",
)
@click.option(
    "--top", type=click.IntRange(min=0), default=None, help="Classes to show [default: 20, or digest.top]."
)
@click.option(
    "--sort",
    type=click.Choice(SORT_KEYS),
    default=None,
    help="Rank by total query time, avg time, count or rows_examined [default: total, or digest.sort].",
)
@click.option(
    "--jobs", type=click.IntRange(min=0), default=None, help="Parallel readers for big files (0 = cores)."
)
@click.option(
    "--since",
    metavar="TIME",
    default=None,
    help="Only statements at or after TIME: 2026-11-27, '2026-11-27 10:00' (UTC unless a zone is given) "
    "or an age such as 2h, 30m, 7d.",
)
@click.option(
    "--until", metavar="TIME", default=None, help="Only statements before TIME (same forms as --since)."
)
@click.option(
    "--example-length",
    type=click.IntRange(min=0),
    default=1024,
    show_default=True,
    help="Shorten examples in the text report to this many characters (0: whole); JSON keeps them.",
)
@format_option
@click.pass_obj
def digest(
    app: AppContext,
    logs: tuple[str, ...],
    from_server: bool,
    servers: tuple[str, ...],
    sources: tuple[str, ...],
    top: int | None,
    sort: str | None,
    log_type: str,
    long_query_time: float | None,
    jobs: int | None,
    since: str | None,
    until: str | None,
    example_length: int,
    fmt: str,
) -> int:
    """Group statements by fingerprint and rank the classes (like pt-query-digest).

    Reads MySQL 5.7-9.x, MariaDB and Percona Server slow logs and general logs; prints a
    profile and per-class statistics (count, query/lock time total/min/max/avg/p50/p95/p99,
    rows sent/examined/affected, bytes, databases, users, hosts, not-using-indexes flag,
    worst example). Skipped input is listed with file:line.

    With --source, SQL statements are read out of PHP, Perl and Python code and .sql files
    (constants and concatenation resolved, variables as ? placeholders) and grouped into the
    same classes, each with its file:line locations; statements that cannot be completed
    statically are listed with the reason.

    Example: sqlops digest --log /var/log/mysql/slow.log --top 10 --sort avg

    Example: sqlops digest --source /var/www/admin --log slow.log --format json

    Example: sqlops digest --log slow.log --since 2026-11-27T08:00 --until 2026-11-27T12:00

    Several logs (one per server) or several --server DSNs read as one workload: every class
    also says how many executions and how much time each server (or file) contributed.

    Example: sqlops digest --log db1-slow.log --log db2-slow.log --log db3-slow.log

    Example: sqlops digest --from-server --server mysql://sqlops@db1/ --server mysql://sqlops@db2/
    """
    from sqlops.querylog.reader import ReadOptions, digest_logs
    from sqlops.querylog.render import report_json, report_text

    settings = app.config.digest
    top = settings.top if top is None else top
    sort = settings.sort if sort is None else sort
    if servers and not from_server:
        raise UsageError(
            "--server is given without --from-server",
            why="--server names a server whose performance_schema digests --from-server reads",
            fix="add --from-server (sqlops digest --from-server --server mysql://user@db1/ --server ...)",
        )
    if (from_server and logs) or not (from_server or logs or sources):
        raise UsageError(
            "give either --log FILE (one or more) or --from-server, and/or --source DIR",
            fix="sqlops digest --log slow.log   or   sqlops --dsn mysql://user@host/ digest --from-server"
            "   or   sqlops digest --source /var/www/app",
        )
    from sqlops.querylog.timewindow import check_window, parse_time_bound

    since_ts = None if since is None else parse_time_bound("--since", since)
    until_ts = None if until is None else parse_time_bound("--until", until)
    check_window(since_ts, until_ts)
    if from_server and (since_ts is not None or until_ts is not None):
        raise UsageError(
            "--since/--until apply to log entries, not to --from-server",
            why="performance_schema keeps totals per digest, not per statement",
            fix="leave --since/--until out, or read the slow log with --log",
        )
    application = _application_sql(sources, top, fmt) if sources else None
    if not (logs or from_server):
        if fmt == "json":
            emit_json({"application_sql": application})
        else:
            click.echo(application, nl=False)
        return 0
    if from_server:
        report = _read_servers(app, servers, sort)
    else:
        options = ReadOptions(
            log_type=log_type,  # type: ignore[arg-type]
            long_query_time=settings.long_query_time if long_query_time is None else long_query_time,
            jobs=settings.jobs if jobs is None else jobs,
            since=since_ts,
            until=until_ts,
        )
        report = digest_logs(list(logs), options, sort)
    if fmt == "json":
        data = report_json(report, top)
        if application is not None:
            data["application_sql"] = application
        emit_json(data)
    else:
        click.echo(report_text(report, top, example_length), nl=False)
        if application is not None:
            click.echo("")
            click.echo(application, nl=False)
    return 0


def _read_servers(app: AppContext, dsns: tuple[str, ...], sort: str) -> Any:
    """performance_schema of the --dsn server, or of every --server DSN (each read with the
    configuration as --dsn DSN would give it: password, TLS and time zone from the config)."""
    from contextlib import ExitStack

    from sqlops.db import connect, describe_target
    from sqlops.querylog.perfschema import read_digest_tables

    settings = [app.config.database] if not dsns else [_server_settings(app, dsn) for dsn in dsns]
    names = [describe_target(s) for s in settings]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise UsageError(
            f"--server names {', '.join(repeated)} more than once",
            why="each server's executions would be counted twice",
            fix="give every server once",
        )
    with ExitStack() as stack:
        sessions = [stack.enter_context(connect(s, with_database=False)) for s in settings]
        return read_digest_tables(list(zip(sessions, names, strict=True)), sort)


def _server_settings(app: AppContext, dsn: str) -> Any:
    one = AppContext(config_path=app.config_path, dsn=dsn, debug=app.debug, overrides=dict(app.overrides))
    one._warned = True  # the config's warnings were shown once already
    return one.config.database


def _application_sql(sources: tuple[str, ...], top: int, fmt: str) -> Any:
    """The --source section: a JSON object or the text block (read before the logs, so a
    missing source path fails fast)."""
    from sqlops.advisor.sources import scan_sources
    from sqlops.advisor.sources.classes import source_classes
    from sqlops.advisor.sources.render import source_json, source_text

    scan = scan_sources(list(sources))
    classes = source_classes(scan)
    return source_json(scan, classes, top) if fmt == "json" else source_text(scan, classes, top)
