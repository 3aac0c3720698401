"""Command-line interface: click only. Each command group lives in its own module; `main()`
maps library errors to messages and exit codes (DESIGN.md §3)."""

from __future__ import annotations

import sys
import traceback

import click
import pymysql

from sqlops.cli import advise as advise_cmd  # noqa: F401  (registers `sqlops advise`)
from sqlops.cli import (  # noqa: F401  (registers the groups)
    config_cmd,
    ingest,
    jobs,
    partition,
    rollup,
    schema_cmd,
    serve,
    tune,
)
from sqlops.cli import digest as digest_cmd  # noqa: F401  (registers `sqlops digest`)
from sqlops.cli.app import cli, is_nagios_plugin
from sqlops.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_USAGE, NAGIOS_UNKNOWN, SqlopsError

# An example under each command group's --help (the commands have their own in their help).
GROUP_EXAMPLES = {
    "config": "sqlops --config /etc/sqlops/sqlops.toml config show --format json",
    "ingest": "sqlops ingest load /var/log/squid/access.log.1.gz",
    "partition": "sqlops partition rotate --dry-run > rotate.sql",
    "rollup": "sqlops rollup refresh --since 2026-11-01 --dry-run",
    "schema": "sqlops --dsn mysql://admin@db1/squid schema init --create-database",
    "tune": "sqlops tune check --profile db-guest",
}
for _name, _example in GROUP_EXAMPLES.items():
    cli.commands[_name].epilog = f"Example: {_example}"


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `sqlops` console script; returns the exit status."""
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    try:
        result = cli.main(args=args, prog_name="sqlops", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except (click.exceptions.Abort, KeyboardInterrupt):
        click.echo("sqlops: interrupted", err=True)
        return EXIT_INTERRUPTED
    except click.ClickException as exc:
        exc.show()
        ctx = getattr(exc, "ctx", None)
        return NAGIOS_UNKNOWN if ctx is not None and is_nagios_plugin(ctx.command) else EXIT_USAGE
    except SqlopsError as exc:
        if debug:
            traceback.print_exc()
        click.echo(f"sqlops: {'error: ' if exc.exit_code else ''}{exc}", err=True)  # exit 0: a skip
        return exc.exit_code
    except pymysql.MySQLError as exc:
        if debug:
            traceback.print_exc()
        code, message = ((*tuple(exc.args), "", ""))[:2]
        click.echo(f"sqlops: error: the server said ({code}) {message}", err=True)
        click.echo("  fix: run again with --debug to see the statement and a traceback", err=True)
        return EXIT_FAILED
    except Exception as exc:  # the boundary: anything else is a bug, reported briefly
        if debug:
            traceback.print_exc()
        else:
            click.echo(
                f"sqlops: internal error: {type(exc).__name__}: {exc} (run with --debug for a traceback)",
                err=True,
            )
        return EXIT_FAILED
    return int(result or 0)


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover
    run()
