"""The root click group, its global options and the per-invocation context object."""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, field
from typing import Any

import click

from sqlops import __version__
from sqlops.config import LoadedConfig, dsn_has_password, load_config

log = logging.getLogger("sqlops")


@dataclass
class AppContext:
    """What global options resolved to; commands ask it for config and sessions."""

    config_path: str | None
    dsn: str | None
    debug: bool
    overrides: dict[str, Any] = field(default_factory=dict)
    _loaded: LoadedConfig | None = None
    _warned: bool = False

    def loaded(self) -> LoadedConfig:
        if self._loaded is None:
            self._loaded = load_config(self.config_path, dsn=self.dsn, overrides=self.overrides)
            if not self.debug:
                logging.getLogger("sqlops").setLevel(self._loaded.config.logging.level.upper())
            if not self._warned:  # once per run, though flags may reload the config
                self._warned = True
                for warning in self._loaded.warnings:
                    log.warning("%s", warning)
        return self._loaded

    def override(self, dotted: str, value: Any) -> None:
        """Record a command's own flag (e.g. ``--table``) before the config is first loaded."""
        if value is not None:
            self.overrides[dotted] = value
            self._loaded = None

    def use_dsn(self, dsn: str | None) -> None:
        """A command's own `--dsn` (e.g. `advise --dsn URL`): the same as the global option."""
        if dsn:
            self.dsn = dsn
            self._loaded = None

    def server_configured(self) -> bool:
        """True when any connection setting was given (flag, env, file), not just defaults."""
        loaded = self.loaded()
        keys = ("database.host", "database.port", "database.unix_socket", "database.user")
        return any(loaded.source_of(k).kind != "default" for k in keys)

    @property
    def config(self):  # type: ignore[no-untyped-def]
        return self.loaded().config

    def connect(self, *, maintenance: bool = False, with_database: bool = True, zone_in_python: bool = False):  # type: ignore[no-untyped-def]
        from sqlops.db import connect

        return connect(
            self.config.database,
            maintenance=maintenance,
            with_database=with_database,
            zone_in_python=zone_in_python,
        )


def setup_logging(debug: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("sqlops: %(levelname)s: %(message)s"))
    root = logging.getLogger("sqlops")
    root.handlers[:] = [handler]
    root.propagate = False
    root.setLevel(logging.DEBUG if debug else logging.INFO)


@click.group(
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog="Example: sqlops --dsn mysql://sqlops@db1/squid schema status",
)
@click.version_option(__version__, prog_name="sqlops")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    envvar="SQLOPS_CONFIG",
    help="TOML config file (default /etc/sqlops/sqlops.toml when it exists).",
)
@click.option(
    "--dsn",
    help="Server URL mysql://user@host[:port]/database[?unix_socket=PATH]. Put the password "
    "in an option file, MYSQL_PWD or the config, not here (argv shows in ps).",
)
@click.option("--debug", is_flag=True, help="Verbose logs and tracebacks on errors.")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, dsn: str | None, debug: bool) -> None:
    """sqlops: Squid logging into MySQL/MariaDB, partition maintenance, query advice, host tuning.

    Global options go before the command: sqlops --dsn URL COMMAND ...
    """
    setup_logging(debug)
    if dsn and dsn_has_password(dsn):
        log.warning(
            "the password in --dsn is visible to every local user in ps; prefer an option file, "
            "MYSQL_PWD or database.password in the config"
        )
    ctx.obj = AppContext(config_path=config_path, dsn=dsn, debug=debug)


def nagios_plugin(func: Any) -> Any:
    """Mark a command as a Nagios-style plugin: it returns 0/1/2/3 itself, and errors it did
    not handle (including usage errors) become UNKNOWN (3) with one status line."""
    import functools

    from sqlops.errors import NAGIOS_UNKNOWN, SqlopsError

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except SqlopsError as exc:
            click.echo(f"UNKNOWN - {exc.what}")
            if exc.why or exc.fix:
                click.echo(str(exc), err=True)
            return NAGIOS_UNKNOWN
        except Exception as exc:
            import pymysql

            if isinstance(exc, pymysql.MySQLError):
                click.echo(f"UNKNOWN - server error {exc.args}")
                return NAGIOS_UNKNOWN
            raise

    wrapper.sqlops_nagios = True  # type: ignore[attr-defined]
    return wrapper


def is_nagios_plugin(command: click.Command | None) -> bool:
    return bool(command is not None and getattr(command.callback, "sqlops_nagios", False))
