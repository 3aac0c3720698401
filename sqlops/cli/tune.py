"""`sqlops tune ...`: check a host or guest against a tuning profile, render the files that
apply it, size Apache prefork, capture a machine's facts. Click only: each command parses its
options, calls one library function in sqlops.tuning and renders the result."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from sqlops.cli.app import AppContext, cli, nagios_plugin
from sqlops.cli.output import emit_json, format_option, table
from sqlops.errors import UsageError

log = logging.getLogger("sqlops.tune")


@cli.group("tune")
def tune_group() -> None:
    """Host, VM, MySQL and Apache tuning profiles (kvm-host, db-guest, web-guest, ...)."""


def root_option(func: Any) -> Any:
    return click.option(
        "--root",
        "root_dir",
        default="/",
        show_default=True,
        type=click.Path(file_okay=False),
        help="Read the machine's files under this folder (a `tune capture`, a mounted image).",
    )(func)


def profile_option(func: Any) -> Any:
    return click.option(
        "--profile",
        help="Profile name (see `sqlops tune profiles`); default: tune.profile, else detected.",
    )(func)


def _machine(root_dir: str) -> Any:
    from sqlops.tuning.facts import Root
    from sqlops.tuning.machine import Machine

    if not Path(root_dir).is_dir():
        raise UsageError(
            f"--root {root_dir} is not a folder", fix="pass / or a folder made by `sqlops tune capture`"
        )
    return Machine(Root(root_dir))


def _profile(app: AppContext, name: str | None, machine: Any) -> tuple[Any, str]:
    from sqlops.tuning import checks, profiles

    extra = app.config.tune.profile_dir
    if name:
        return profiles.load(name, extra), "--profile"
    if app.config.tune.profile:
        origin = app.loaded().source_of("tune.profile")
        return profiles.load(app.config.tune.profile, extra), f"config tune.profile ({origin})"
    detected, evidence = checks.detect_profile(machine)
    return profiles.load(detected, extra), evidence


@contextlib.contextmanager
def _session(app: AppContext, profile: Any, use_db: bool | None) -> Iterator[Any]:
    """A server session when the profile checks MySQL and a server is configured (or --db);
    else None. Only globals are read, so no database is selected."""
    wanted = profile.has("mysql") and use_db is not False and (use_db or app.server_configured())
    session = app.connect(with_database=False) if wanted else None
    try:
        yield session
    finally:
        if session is not None:
            session.close()


def out_option(help_text: str) -> Any:
    return click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help=help_text)


def db_option(func: Any) -> Any:
    return click.option(
        "--db/--no-db",
        "use_db",
        default=None,
        help="Check the server's slow-log settings (default: when a server is configured, e.g. --dsn).",
    )(func)


@tune_group.command("check")
@profile_option
@root_option
@db_option
@click.option("-v", "--verbose", is_flag=True, help="Print the reason and sources of passing items too.")
@format_option
@click.pass_obj
@nagios_plugin
def check(
    app: AppContext, profile: str | None, root_dir: str, use_db: bool | None, verbose: bool, fmt: str
) -> int:
    """Check this machine (or --root) against a profile; a Nagios plugin.

    Every item reads one fact (a /proc, /sys or /etc file, or the server) and reports the observed
    value, the expected one, a status, the reason and its sources. Exit 0 OK, 1 WARNING,
    2 CRITICAL, 3 UNKNOWN.

    Example: sqlops --dsn mysql://monitor@db1/ tune check -v
    """
    from sqlops.tuning import checks

    machine = _machine(root_dir)
    chosen, source = _profile(app, profile, machine)
    report = checks.run_with_server(
        machine, chosen, profile_source=source, session_for=lambda: _session(app, chosen, use_db)
    )
    if fmt == "json":
        emit_json(report.to_json())
    else:
        click.echo(report.as_text(verbose=verbose))
    return report.exit_code


@tune_group.command("render")
@profile_option
@root_option
@db_option
@out_option("Folder for the files (created).")
@click.option(
    "--flavour",
    type=click.Choice(["mariadb", "mysql"]),
    help="my.cnf snippet for this server (default: from --dsn or what is installed).",
)
@click.option("--dry-run", is_flag=True, help="Print the files instead of writing them.")
@format_option
@click.pass_obj
def render_cmd(
    app: AppContext,
    profile: str | None,
    root_dir: str,
    use_db: bool | None,
    out_dir: str,
    flavour: str | None,
    dry_run: bool,
    fmt: str,
) -> int:
    """Write the files that apply a profile into --out; never into the system.

    sysctl.d file, udev scheduler rule, tmpfiles.d for THP/KSM, ksmtuned.conf, fstab advice
    (text, never applied), MySQL/MariaDB slow-log snippet, Apache mpm_prefork.conf. The JSON
    output (also written as sqlops-render.json) lists the previous value of every setting: the
    rollback.

    Example: sqlops tune render --profile db-guest --out ./db1-tuning
    """
    from sqlops.tuning import render

    machine = _machine(root_dir)
    chosen, _ = _profile(app, profile, machine)
    render.check_out_dir(Path(out_dir))
    with _session(app, chosen, use_db) as session:
        rendering = render.render(machine, chosen, flavour=flavour, session=session)
    written = [] if dry_run else render.write(rendering, Path(out_dir))
    for note in rendering.notes:
        log.warning("%s", note)
    if fmt == "json":
        emit_json(rendering.to_json())
        return 0
    if rendering.files:
        click.echo(rendering.as_text(with_content=dry_run))
    if written:
        click.echo(render.written_summary(written, Path(out_dir)))
    return 0


@tune_group.command("prefork")
@click.option("--profile", default="web-guest", show_default=True, help="Profile with the [apache] settings.")
@root_option
@click.option(
    "--reserve-mib", type=click.IntRange(min=0), help="RAM kept for the OS (default: apache.os_reserve_mib)."
)
@format_option
@click.pass_obj
def prefork_cmd(app: AppContext, profile: str, root_dir: str, reserve_mib: int | None, fmt: str) -> int:
    """Size Apache prefork (MaxRequestWorkers, spare servers, ServerLimit) from this machine.

    Budget = MemTotal - OS reserve - RSS of every other service (mysqld, squid, ...) - the
    Apache parent (shared pages counted once); each child costs its private memory
    (Private_Clean + Private_Dirty from /proc/<pid>/smaps_rollup). Run it as root under load.

    Example: sudo sqlops tune prefork --reserve-mib 768
    """
    from sqlops.tuning import prefork, profiles

    machine = _machine(root_dir)
    chosen = profiles.load(profile, app.config.tune.profile_dir)
    sizing = prefork.size(machine, chosen, reserve_mib=reserve_mib)
    if fmt == "json":
        emit_json(sizing.to_json())
    else:
        click.echo(sizing.as_text())
    sizing.refuse_if_no_child_fits()
    return 0


@tune_group.command("capture")
@root_option
@out_option("New or empty folder for the snapshot.")
@format_option
@click.pass_obj
def capture_cmd(app: AppContext, root_dir: str, out_dir: str, fmt: str) -> int:
    """Copy the files the checks read into a fixture tree, to attach to a bug report.

    Replay it anywhere with `sqlops tune check --root DIR`. Secrets in option files are replaced.
    Run as root to include /proc/<pid>/smaps_rollup of other users' processes.

    Example: sudo sqlops tune capture --out /tmp/db1-capture && tar czf db1.tgz -C /tmp db1-capture
    """
    from sqlops.tuning import capture

    machine = _machine(root_dir)
    result = capture.capture(machine.root, Path(out_dir), app.config.tune.profile_dir)
    if fmt == "json":
        emit_json(result.to_json())
        return 0
    click.echo(
        f"captured {len(result.copied)} files and {len(result.placeholders)} placeholders into {result.out}"
    )
    for path, why in result.unreadable:
        click.echo(f"  not captured: {path}: {why}")
    return 0


@tune_group.command("profiles")
@format_option
@click.pass_obj
def profiles_cmd(app: AppContext, fmt: str) -> int:
    """List the tuning profiles and what they include.

    Example: sqlops tune profiles --format json
    """
    from sqlops.tuning import profiles

    extra = app.config.tune.profile_dir
    loaded = [profiles.load(name, extra) for name in profiles.available(extra)]
    if fmt == "json":
        emit_json([{"name": p.name, "summary": p.summary, "files": list(p.files)} for p in loaded])
    else:
        click.echo(
            table(
                [(p.name, " < ".join(reversed(p.files)), p.summary) for p in loaded],
                ["profile", "files", "summary"],
            )
        )
    return 0
