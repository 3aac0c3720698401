"""`sqlops ingest ...`: backfill old Squid logs and report on the logging daemon."""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from sqlops.cli.app import AppContext, cli
from sqlops.cli.output import emit_json, format_option, progress_enabled, table
from sqlops.squid.status import IngestReport

log = logging.getLogger("sqlops.ingest")


@cli.group("ingest")
def ingest_group() -> None:
    """Squid access logs into the log table: backfill files, check the logging daemon.

    The live path is sqlops-logfile-daemon, started by Squid (see README, Squid logging).
    """


@ingest_group.command("load")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, allow_dash=True))
@click.option(
    "--log-format",
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
@click.option(
    "--format",
    "fmt",
    default="text",
    show_default=True,
    metavar="[text|json]",
    help="Output format; JSON fields are documented in README (JSON output). (A log format given "
    "here, the old spelling, still works with a warning: use --log-format.)",
)
@click.option("--json", "as_json", is_flag=True, hidden=True, help="Deprecated: --format json.")
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
    fmt: str,
    as_json: bool,
) -> int:
    """Load Squid access.log files (plain or .gz; - for stdin) into the log table.

    Resumable and idempotent: progress is committed with every batch, so an interrupted load
    continues where it stopped and loading a file again adds nothing (a file is recognised
    by its first 64 KiB, so access.log.1 and access.log.1.gz count as the same file). Lines
    that do not parse or that the server rejects go to sqlops_ingest_quarantine.

    Example: sqlops ingest load /var/log/squid/access.log.*.gz --log-format squid
    """
    from sqlops.squid.target import ingest_destination

    fmt, log_format = _output_and_log_format(fmt, log_format, as_json)
    dest = ingest_destination(app.loaded(), target, table, log_format)
    ingest = app.config.ingest
    ratio = ingest.max_quarantine_ratio if max_quarantine_ratio is None else max_quarantine_ratio
    options = {"method": method or ingest.method, "batch_rows": batch_rows or ingest.batch_rows}
    with _loader(dest, max_quarantine_ratio=ratio, force=force, **options) as loader:
        if forget:
            _forget_all(loader, files)
            return 0
        results = _load_all(loader, files, echo_each=fmt == "text")
    if fmt == "json":
        emit_json([r.to_dict() for r in results])
    return 0


def _loader(dest: Any, **options: Any) -> Any:
    from sqlops.squid.backfill import Loader

    return Loader(dest.database, dest.table, dest.format, **options)


def _forget_all(loader: Any, files: tuple[str, ...]) -> None:
    for path in files:
        removed = loader.forget(path)
        click.echo(f"{path}: " + ("load record removed" if removed else "no load record"))


def _load_all(loader: Any, files: tuple[str, ...], *, echo_each: bool) -> list[Any]:
    """Load each file in turn with a progress bar; a summary line per file in text output."""
    results = []
    for path in files:
        with _progress(path) as advance:
            result = loader.load(path, progress=advance, notes=lambda n: log.warning("%s", n))
        results.append(result)
        if echo_each:
            click.echo(_summary(result, loader.mode_description))
        if result.quarantined:
            log.warning(
                "%s: %d line(s) quarantined; see `sqlops ingest quarantine list`", path, result.quarantined
            )
    return results


def _output_and_log_format(fmt: str, log_format: str | None, as_json: bool) -> tuple[str, str | None]:
    """`--format` is the output format like everywhere else; it used to be the log format
    here, so a value other than text/json still means that, with a warning."""
    if as_json:
        log.warning("--json is deprecated; use --format json")
    if fmt in ("text", "json"):
        return ("json" if as_json else fmt), log_format
    if log_format is not None:
        raise click.UsageError(f"--format {fmt!r} is not text or json (the log format goes in --log-format)")
    log.warning("--format %s: the log format is now --log-format; --format is text or json", fmt)
    return ("json" if as_json else "text"), fmt


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
    database, every proxy writing into the table (machine and spool folder: its last commit,
    lag and quarantined lines), checkpoints, backfills and quarantined lines.

    Daemons are found through the status files in the spool folders (ingest.spool_dir and
    each [targets.NAME] spool_dir) of this machine.

    Example: sqlops ingest status --format json
    """
    from sqlops.squid.status import ingest_report, spool_roots

    config = app.config
    roots = spool_roots(config)
    report = ingest_report(roots, app.connect, table or config.schema.table)
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


def _status_text(report: IngestReport, roots: list[Path]) -> str:
    lines = [f"Daemons (spool: {', '.join(map(str, roots))}):"]
    if report.daemons:
        rows = []
        for d in report.daemons:
            st = d.status
            state = st.state if d.running else f"not running ({st.state})"
            flags = ["OVER CAP"] * st.over_cap + ["READING PAUSED"] * st.reading_paused
            rows.append(
                (
                    d.target,
                    st.pid,
                    state + (f" [{', '.join(flags)}]" if flags else ""),
                    _size(st.backlog_bytes),
                    st.lag_seconds,
                    st.rows_per_second,
                    st.rows_written,
                    st.lines_quarantined,
                    st.last_error or "-",
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
    for missing in db.get("missing_tables", []):
        lines.append(
            f"Database: table {missing} does not exist; `sqlops schema init` creates it "
            "(it only adds what is missing)"
        )
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
    proxies = report.proxies()
    if proxies:
        lines.append(f"Proxies writing into {db.get('table')} ({len(proxies)}):")
        lines.append(
            table(
                [
                    (
                        p["proxy"],
                        p["streams"],
                        p["position"],
                        p["last_commit_at"],
                        p["seconds_since_commit"],
                        "-" if p["lag_seconds"] is None else p["lag_seconds"],
                        p["rows_written"],
                        p["lines_quarantined"],
                    )
                    for p in proxies
                ],
                [
                    "proxy (host:spool)",
                    "streams",
                    "committed to byte",
                    "last commit (UTC)",
                    "s ago",
                    "lag s",
                    "rows",
                    "quarantined",
                ],
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


# ---------------------------------------------------------------------------------------------
# sqlops ingest quarantine ...


@ingest_group.group("quarantine")
def quarantine_group() -> None:
    """Lines that could not be stored: in sqlops_ingest_quarantine and in the quarantine.jsonl
    fallback files of the spool folders (written while the table could not be).

    Example: sqlops ingest quarantine list --reason 'not valid UTF-8'
    """


@dataclass(frozen=True)
class _Scope:
    """The options every quarantine command shares: which table, and which of its lines."""

    table: str | None
    target: str | None
    ids: tuple[int, ...]
    reason: str | None
    older_than: str | None
    source: str

    def resolve(self, app: AppContext, log_format: str | None = None) -> tuple[Any, Any]:
        """(destination, filter)."""
        from sqlops.squid.quarantine import QuarantineFilter, parse_age
        from sqlops.squid.target import ingest_destination

        dest = ingest_destination(app.loaded(), self.target, self.table, log_format)
        age = parse_age(self.older_than) if self.older_than else None
        return dest, QuarantineFilter(self.ids, self.reason, age, self.source)  # type: ignore[arg-type]


_SCOPE_OPTIONS = (
    click.option("--table", help="Log table (default: schema.table, or the target's)."),
    click.option("--target", help="The table of the daemon's [targets.NAME]."),
    click.option("--id", "ids", multiple=True, type=click.IntRange(min=1), help="Only this id (repeat)."),
    click.option("--reason", help="Only lines whose reason contains this text (any case)."),
    click.option("--older-than", help="Only lines quarantined longer ago than this: 30m, 12h, 7d, 2w."),
    click.option(
        "--source",
        type=click.Choice(["all", "table", "file"]),
        default="all",
        show_default=True,
        help="The quarantine table, the fallback files, or both.",
    ),
)


def _scope_options(func: Any) -> Any:
    """Add the shared options; the command receives them as one `scope` argument."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        names = ("table", "target", "ids", "reason", "older_than", "source")
        scope = _Scope(**{name: kwargs.pop(name) for name in names})
        return func(*args, scope=scope, **kwargs)

    for option in reversed(_SCOPE_OPTIONS):
        wrapper = option(wrapper)
    return wrapper


@contextlib.contextmanager
def _session_if(app: AppContext, wanted: bool) -> Iterator[Any]:
    """A session when the command needs the database, else None (fallback files only)."""
    if not wanted:
        yield None
        return
    with app.connect() as session:
        yield session


def _lines_table(lines: list[Any]) -> str:
    return table(
        [
            (q.ref, q.source, f"{q.created_at:%Y-%m-%d %H:%M:%S}", q.reason[:70], _preview(q.raw))
            for q in lines
        ],
        ["id", "source", "quarantined (UTC)", "reason", "line"],
    )


def _preview(raw: bytes, width: int = 60) -> str:
    text = raw.decode("utf-8", "backslashreplace").replace("\t", "\\t")
    return text if len(text) <= width else text[: width - 3] + "..."


@quarantine_group.command("list")
@_scope_options
@click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True)
@format_option
@click.pass_obj
def quarantine_list(app: AppContext, scope: _Scope, limit: int, fmt: str) -> int:
    """List quarantined lines, oldest first: id (FILE:LINE for fallback files), when, reason.

    Example: sqlops ingest quarantine list --older-than 7d --format json
    """
    from sqlops.squid.quarantine import list_quarantine
    from sqlops.squid.status import spool_roots

    dest, filt = scope.resolve(app)
    with _session_if(app, scope.source != "file") as session:
        listing = list_quarantine(session, spool_roots(app.config), dest.table, filt, limit)
    for note in listing.notes:
        log.warning("%s", note)
    if fmt == "json":
        emit_json(listing.to_dict())
    elif listing.lines:
        click.echo(_lines_table(listing.lines))
    else:
        click.echo(f"no quarantined lines for table {dest.table}")
    return 0


@quarantine_group.command("show")
@click.argument("ref")
@click.option("--table", help="Log table (default: schema.table, or the target's).")
@click.option("--target", help="The table of the daemon's [targets.NAME].")
@format_option
@click.pass_obj
def quarantine_show(app: AppContext, ref: str, table: str | None, target: str | None, fmt: str) -> int:
    """Show one quarantined line in full: REF is its id, or FILE:LINE for a fallback file.

    Example: sqlops ingest quarantine show 42
    """
    from sqlops.squid.quarantine import show
    from sqlops.squid.status import spool_roots
    from sqlops.squid.target import ingest_destination

    dest = ingest_destination(app.loaded(), target, table, None)
    with _session_if(app, ref.isdigit()) as session:
        line = show(session, spool_roots(app.config), dest.table, ref)
    if fmt == "json":
        emit_json(line.to_dict())
        return 0
    data = line.to_dict()
    for key in ("ref", "source", "stream", "position", "table", "created_at", "reason"):
        click.echo(f"{key + ':':12} {data[key]}")
    click.echo(f"{'line:':12} {data['text']}")
    click.echo(f"{'bytes:':12} {len(line.raw)} (raw_base64 in --format json)")
    return 0


@quarantine_group.command("replay")
@_scope_options
@click.option(
    "--log-format", "log_format", help="Log format to parse with (default: ingest.format, or the target's)."
)
@click.option("--method", type=click.Choice(["auto", "load-data", "insert"]), help="As for ingest load.")
@format_option
@click.pass_obj
def quarantine_replay(
    app: AppContext, scope: _Scope, log_format: str | None, method: str | None, fmt: str
) -> int:
    """Parse quarantined lines again and store those that now fit (after fixing the format or
    the table). Exactly once: stored lines leave the quarantine in the same transaction, so a
    second replay, or one after a failure part-way, never stores a line twice. Lines of the
    fallback files are first moved into the quarantine table. Lines still failing stay, with
    their new reason.

    Example: sqlops ingest quarantine replay --reason 'does not match' --log-format squid_mysql
    """
    from sqlops.squid.quarantine import replay
    from sqlops.squid.status import spool_roots

    dest, filt = scope.resolve(app, log_format)
    result = replay(
        dest.database,
        dest.table,
        dest.format,
        spool_roots(app.config),
        filt,
        method=method or app.config.ingest.method,
    )
    if fmt == "json":
        emit_json(result.to_dict())
        return 0
    click.echo(_replay_text(result))
    return 0


def _replay_text(result: Any) -> str:
    lines = []
    if result.adopted:
        lines.append(f"{result.adopted} line(s) moved from fallback files into the quarantine table")
    lines.append(
        f"{result.selected} line(s) replayed: {result.stored} stored, "
        f"{result.still_quarantined} still quarantined"
    )
    for why, count in sorted(result.reasons.items(), key=lambda item: -item[1]):
        lines.append(f"  {count:6d}  {why[:100]}")
    return "\n".join(lines)


@quarantine_group.command("purge")
@_scope_options
@click.option("--dry-run", is_flag=True, help="Only show what would be removed.")
@click.option("--all", "everything", is_flag=True, help="Allow purging without --id/--reason/--older-than.")
@format_option
@click.pass_obj
def quarantine_purge(app: AppContext, scope: _Scope, dry_run: bool, everything: bool, fmt: str) -> int:
    """Delete quarantined lines (table and fallback files) chosen by id, reason or age.

    Example: sqlops ingest quarantine purge --older-than 30d --dry-run
    """
    from sqlops.squid.quarantine import purge
    from sqlops.squid.status import spool_roots

    if not (scope.ids or scope.reason or scope.older_than or everything):
        raise click.UsageError("say which lines: --id, --reason or --older-than (or --all for every line)")
    dest, filt = scope.resolve(app)
    with _session_if(app, scope.source != "file") as session:
        result = purge(session, spool_roots(app.config), dest.table, filt, dry_run=dry_run)
    for note in result.notes:
        log.warning("%s", note)
    if fmt == "json":
        emit_json(result.to_dict())
        return 0
    click.echo(_purge_text(result, dry_run))
    return 0


def _purge_text(result: Any, dry_run: bool) -> str:
    verb = "would remove" if dry_run else "removed"
    data = result.to_dict()
    text = (
        f"{verb} {data['purged']} line(s): {data['from_table']} from the table, "
        f"{data['from_files']} from fallback files"
    )
    if dry_run and result.lines:
        text += "\n" + _lines_table(result.lines)
    return text
