"""`sqlops ingest ...`: backfill old Squid logs and report on the logging daemon."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from pathlib import Path
from typing import Any

import click

from sqlops.cli.app import AppContext, cli
from sqlops.cli.output import emit_json, format_option, progress_enabled, table

log = logging.getLogger("sqlops.ingest")


@cli.group("ingest")
def ingest_group() -> None:
    """Squid access logs into the log table: backfill files, check the logging daemon.

    The live path is sqlops-logfile-daemon, started by Squid (see README, Squid logging).
    """


def _resolve(
    app: AppContext, target: str | None, table: str | None, log_format: str | None
) -> tuple[Any, str, str]:
    """(database settings, table, format) from --target or the configuration."""
    if target:
        from sqlops.squid.target import resolve_target

        path = app.loaded().path  # --config names the file whose [targets.NAME] is meant
        env = {**os.environ, **({"SQLOPS_CONFIG": str(path)} if path else {})}
        resolved = resolve_target(target, env=env)
        return resolved.database, table or resolved.table, log_format or resolved.format or "auto"
    config = app.config
    return config.database, table or config.schema.table, log_format or config.ingest.format


@ingest_group.command("load")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, allow_dash=True))
@click.option(
    "--format",
    "log_format",
    help="Log format: squid, squid_mysql, common, combined, auto (detect squid/squid_mysql), "
    "or a logformat spec as in squid.conf (default: ingest.format).",
)
@click.option("--table", help="Log table (default: schema.table, or the target's).")
@click.option("--target", help="Write where the daemon's [targets.NAME] writes (database, table, format).")
@click.option(
    "--method",
    type=click.Choice(["auto", "load-data", "insert"]),
    help="auto: LOAD DATA LOCAL INFILE when the server allows it, else multi-row INSERT.",
)
@click.option(
    "--batch-rows", type=click.IntRange(min=1), help="Rows per transaction (default: ingest.batch_rows)."
)
@click.option(
    "--max-quarantine-ratio",
    type=click.FloatRange(0, 1),
    help="Fail when more than this share of lines is quarantined (default: ingest.max_quarantine_ratio).",
)
@click.option("--force", is_flag=True, help="Load again from the start even if recorded as loaded.")
@click.option(
    "--forget", is_flag=True, help="Only remove the record that FILES were loaded (nothing is loaded)."
)
@click.option("--json", "as_json", is_flag=True, help="Print the per-file summary as JSON.")
@click.pass_obj
def load(
    app: AppContext,
    files: tuple[str, ...],
    log_format: str | None,
    table: str | None,
    target: str | None,
    method: str | None,
    batch_rows: int | None,
    max_quarantine_ratio: float | None,
    force: bool,
    forget: bool,
    as_json: bool,
) -> int:
    """Load Squid access.log files (plain or .gz; - for stdin) into the log table.

    Resumable and idempotent: progress is committed with every batch, so an interrupted load
    continues where it stopped and loading a file again adds nothing (a file is recognised
    by its first 64 KiB, so access.log.1 and access.log.1.gz count as the same file). Lines
    that do not parse or that the server rejects go to sqlops_ingest_quarantine.

    Example: sqlops ingest load /var/log/squid/access.log.*.gz --format squid
    """
    from sqlops.squid.backfill import Loader

    settings, table_name, spec = _resolve(app, target, table, log_format)
    ingest = app.config.ingest
    results = []
    ratio = ingest.max_quarantine_ratio if max_quarantine_ratio is None else max_quarantine_ratio
    with Loader(
        settings,
        table_name,
        spec,
        method=method or ingest.method,
        batch_rows=batch_rows or ingest.batch_rows,
        max_quarantine_ratio=ratio,
        force=force,
    ) as loader:
        if forget:
            for path in files:
                removed = loader.forget(path)
                click.echo(f"{path}: " + ("load record removed" if removed else "no load record"))
            return 0
        for path in files:
            with _progress(path) as advance:
                result = loader.load(path, progress=advance, notes=lambda n: log.warning("%s", n))
            results.append(result)
            if not as_json:
                click.echo(_summary(result, loader.mode_description))
            if result.quarantined:
                log.warning(
                    "%s: %d line(s) quarantined; see `sqlops ingest status` "
                    "and the table sqlops_ingest_quarantine",
                    path,
                    result.quarantined,
                )
    if as_json:
        emit_json(
            [
                {
                    "file": r.path,
                    "load_id": r.load_id,
                    "status": r.status,
                    "format": r.format,
                    "started_at_byte": r.started_at_byte,
                    "bytes_read": r.bytes_read,
                    "lines": r.lines,
                    "rows": r.rows,
                    "quarantined": r.quarantined,
                    "seconds": round(r.seconds, 3),
                    "rows_per_second": round(r.rows_per_second, 1),
                }
                for r in results
            ]
        )
    return 0


def _summary(result: Any, via: str) -> str:
    if result.status == "empty":
        return f"{result.path}: empty"
    if result.status == "already loaded":
        done = f"load #{result.load_id}, {result.started_at_byte} bytes"
        return f"{result.path}: already loaded ({done}), nothing new"
    where = f", resumed at byte {result.started_at_byte}" if result.status == "resumed" else ""
    return (
        f"{result.path}: {result.rows} rows, {result.quarantined} quarantined, {result.seconds:.2f} s "
        f"({result.rows_per_second:,.0f} rows/s) via {via}{where}"
    )


@contextlib.contextmanager
def _progress(path: str):  # type: ignore[no-untyped-def]
    """A progress bar over the file's bytes on disk, when stderr is a terminal."""
    if path == "-" or not progress_enabled():
        yield None
        return
    try:
        size = os.path.getsize(path)
    except OSError:
        yield None
        return
    with click.progressbar(length=size, label=os.path.basename(path), file=sys.stderr) as bar:
        yield bar.update


@ingest_group.command("status")
@format_option
@click.option("--table", help="Log table (default: schema.table).")
@click.pass_obj
def status(app: AppContext, fmt: str, table: str | None) -> int:
    """Show the logging daemons (journal backlog, lag, rows/s, last error) and, from the
    database, checkpoints, backfills and quarantined lines.

    Daemons are found through the status files in the spool folders (ingest.spool_dir and
    each [targets.NAME] spool_dir) of this machine.

    Example: sqlops ingest status --format json
    """
    from sqlops.errors import SqlopsError
    from sqlops.squid.spool import FALLBACK_SPOOL
    from sqlops.squid.status import IngestReport, inspect_database, read_daemons, read_quarantine_files

    config = app.config
    roots = [Path(config.ingest.spool_dir)]
    roots += [Path(t.spool_dir) for t in config.targets.values() if t.spool_dir]
    roots += [FALLBACK_SPOOL] if FALLBACK_SPOOL.is_dir() else []
    report = IngestReport()
    report.daemons, report.journals = read_daemons(list(dict.fromkeys(roots)))
    report.quarantine_files = read_quarantine_files(list(dict.fromkeys(roots)))
    table_name = table or config.schema.table
    try:
        session = app.connect()
    except SqlopsError as exc:
        report.database_error = exc.what
    else:
        try:
            report.database = inspect_database(session, table_name)
        except Exception as exc:  # missing state tables, privileges: report, do not fail
            report.database_error = str(exc)
        finally:
            session.close()
    if fmt == "json":
        emit_json(report.to_dict())
    else:
        click.echo(_status_text(report, roots))
    return 0


def _size(value: int) -> str:
    size = float(value)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return str(value)


def _status_text(report: Any, roots: list[Path]) -> str:
    lines = [f"Daemons (spool: {', '.join(map(str, roots))}):"]
    if report.daemons:
        rows = []
        for d in report.daemons:
            data = d.data
            state = data.get("state", "?") if d.running else f"not running ({data.get('state', '?')})"
            flags = []
            if data.get("over_cap"):
                flags.append("OVER CAP")
            if data.get("reading_paused"):
                flags.append("READING PAUSED")
            rows.append(
                (
                    d.target,
                    data.get("pid"),
                    state + (f" [{', '.join(flags)}]" if flags else ""),
                    _size(int(data.get("backlog_bytes", 0))),
                    data.get("lag_seconds", 0),
                    data.get("rows_per_second", 0),
                    data.get("rows_written", 0),
                    data.get("lines_quarantined", 0),
                    data.get("last_error") or "-",
                )
            )
        lines.append(
            table(
                rows,
                ["target", "pid", "state", "backlog", "lag s", "rows/s", "rows", "quarantined", "last error"],
            )
        )
    else:
        lines.append("  (no daemon status files)")
    if report.journals:
        lines.append("Journals waiting for the next daemon start:")
        lines.append(
            table(
                [(j["target"], j["journal"], _size(j["bytes"])) for j in report.journals],
                ["target", "journal", "size"],
            )
        )
    if report.quarantine_files:
        lines.append("Quarantine files (the quarantine table could not be written):")
        lines.append(
            table(
                [(q["target"], q["file"], q["lines"]) for q in report.quarantine_files],
                ["target", "file", "lines"],
            )
        )
    if report.database_error:
        lines.append(f"Database: not checked ({report.database_error})")
        return "\n".join(lines)
    db = report.database or {}
    quarantine = db.get("quarantine", {})
    lines.append(
        f"Database table {db.get('table')}: about {db.get('rows_in_table_estimate') or 0} rows; "
        f"quarantined lines: {quarantine.get('total', 0)} total, "
        f"{quarantine.get('last_24h', 0)} in the last 24 h"
    )
    if quarantine.get("recent_reasons"):
        lines.append(
            table(
                [(r["lines"], r["last_at"], r["reason"][:100]) for r in quarantine["recent_reasons"]],
                ["lines", "last", "reason (last 7 days)"],
            )
        )
    if db.get("journals"):
        lines.append("Daemon checkpoints:")
        lines.append(
            table(
                [
                    (j["stream"], j["host"], j["position"], j["rows_written"], j["updated_at"])
                    for j in db["journals"]
                ],
                ["journal", "host", "bytes written", "rows", "updated (UTC)"],
            )
        )
    if db.get("loads"):
        lines.append("Backfills (sqlops ingest load):")
        lines.append(
            table(
                [
                    (ld["path"], ld["position"], ld["rows_written"], "yes" if ld["complete"] else "no")
                    for ld in db["loads"]
                ],
                ["file", "bytes loaded", "rows", "complete"],
            )
        )
    return "\n".join(lines)
