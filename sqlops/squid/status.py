"""`sqlops ingest status`: what the daemons report about themselves plus what the database says.

Each daemon rewrites ``<spool>/<target>/status-<pid>.json`` every two seconds (atomically);
the database holds the checkpoints, the backfill progress and the quarantine. The report
combines both; either side may be missing (no daemon on this machine, or no server access).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pymysql

from sqlops.config import Config
from sqlops.db import Session, errno_of
from sqlops.errors import SqlopsError
from sqlops.private import write_private
from sqlops.squid.spool import FALLBACK_SPOOL, journal_dirs
from sqlops.squid.writer import CHECKPOINT_TABLE, LOAD_TABLE, QUARANTINE_FILE, QUARANTINE_TABLE
from sqlops.timestamps import epoch_rfc3339, times_rfc3339

STALE_SECONDS = 10.0


def spool_roots(config: Config) -> list[Path]:
    """The spool folders of this machine's daemons: ingest.spool_dir, each [targets.NAME]
    spool_dir and the /var/tmp fallback when it exists (no duplicates, in that order)."""
    roots = [Path(config.ingest.spool_dir)]
    roots += [Path(t.spool_dir) for t in config.targets.values() if t.spool_dir]
    roots += [FALLBACK_SPOOL] if FALLBACK_SPOOL.is_dir() else []
    return list(dict.fromkeys(roots))


@dataclass(frozen=True)
class DaemonStatus:
    """What a daemon says about itself in ``status-<pid>.json``: written by the daemon
    (:mod:`sqlops.squid.daemon_loop`), read by `sqlops ingest status`. Times are Unix seconds
    in the file; :meth:`to_dict` gives them as RFC 3339 UTC."""

    pid: int = 0
    argument: str = ""
    table: str | None = None
    journal: str = ""
    state: str = "?"
    mode: str | None = None
    started_at: float | None = None
    updated_at: float = 0.0
    bytes_read: int = 0
    backlog_bytes: int = 0
    lag_seconds: float = 0.0
    rows_written: int = 0
    rows_per_second: float = 0.0
    lines_quarantined: int = 0
    last_commit_at: float | None = None
    last_error: str | None = None
    last_error_at: float | None = None
    reading_paused: bool = False
    over_cap: bool = False
    spool_max_mb: int = 0
    journal_disk_bytes: int = 0

    _TIMES = ("started_at", "updated_at", "last_commit_at", "last_error_at")

    @classmethod
    def from_file_data(cls, data: dict[str, Any]) -> DaemonStatus:
        """From a status file's JSON; keys an older or newer daemon wrote differently are
        ignored (a running daemon of another version must not break the report)."""
        known = {f.name: f for f in dataclasses.fields(cls)}
        values: dict[str, Any] = {}
        for name, value in data.items():
            if name in known and value is not None:
                with contextlib.suppress(TypeError, ValueError):
                    default = known[name].default
                    kind = type(default) if default is not None and not isinstance(default, bool) else None
                    values[name] = kind(value) if kind in (int, float, str) else value
        return cls(**values)

    def file_data(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        for name in self._TIMES:
            out[name] = epoch_rfc3339(out[name])
        return out


class StatusFile:
    def __init__(self, path: Path) -> None:
        self.path = path

    def write(self, status: DaemonStatus) -> None:
        with contextlib.suppress(OSError):
            write_private(self.path, json.dumps(status.file_data(), indent=1, default=str) + "\n")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass
class DaemonReport:
    target: str
    path: str
    status: DaemonStatus
    running: bool


@dataclass
class IngestReport:
    daemons: list[DaemonReport] = field(default_factory=list)
    journals: list[dict[str, Any]] = field(default_factory=list)  # leftover journals on disk
    # Fallback quarantine files (written when the quarantine table could not be).
    quarantine_files: list[dict[str, Any]] = field(default_factory=list)
    database: dict[str, Any] | None = None
    database_error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "proxies": [times_rfc3339(p) for p in self.proxies()],
            "daemons": [
                {"target": d.target, "status_file": d.path, "running": d.running, **d.status.to_dict()}
                for d in self.daemons
            ],
            "journals_waiting": self.journals,
            "quarantine_files": self.quarantine_files,
            "database": times_rfc3339(self.database),
            "database_error": self.database_error,
        }

    def proxies(self) -> list[dict[str, Any]]:
        """Every proxy the database knows (its checkpoints), with the lag of its daemon when
        that daemon runs on this machine (its status file says how far behind it is)."""
        local = {Path(d.status.journal).name: d for d in self.daemons if d.running}
        out = []
        for proxy in (self.database or {}).get("proxies", []):
            daemon = local.get(proxy["stream"])
            lag = daemon.status.lag_seconds if daemon is not None else None
            out.append({**proxy, "lag_seconds": lag, "local_pid": daemon.status.pid if daemon else None})
        return out


def read_quarantine_files(spool_roots: list[Path]) -> list[dict[str, Any]]:
    """Fallback quarantine files (and their rotated copies) with their line counts."""
    out = []
    for root in spool_roots:
        for path in sorted(root.glob(f"*/{QUARANTINE_FILE}*")):
            lines = 0
            try:
                with path.open("rb") as handle:
                    while chunk := handle.read(1 << 20):
                        lines += chunk.count(b"\n")
            except OSError:
                continue
            out.append({"target": path.parent.name, "file": str(path), "lines": lines})
    return out


def read_daemons(spool_roots: list[Path]) -> tuple[list[DaemonReport], list[dict[str, Any]]]:
    """Status files of daemons (running ones, and the latest stopped one per target) and
    journals not owned by a running daemon."""
    reports: list[DaemonReport] = []
    waiting: list[dict[str, Any]] = []
    seen: set[Path] = set()
    for root in spool_roots:
        try:
            targets = sorted(p for p in root.iterdir() if p.is_dir())
        except OSError:
            continue
        for folder in targets:
            if folder in seen:
                continue
            seen.add(folder)
            latest_stopped: DaemonReport | None = None
            for status_path in sorted(folder.glob("status-*.json")):
                try:
                    status = DaemonStatus.from_file_data(json.loads(status_path.read_text()))
                except (OSError, ValueError, TypeError, AttributeError):
                    continue
                pid = status.pid
                running = bool(pid) and _alive(pid) and time.time() - status.updated_at < 60
                report = DaemonReport(folder.name, str(status_path), status, running)
                if running:
                    reports.append(report)
                elif latest_stopped is None or status.updated_at > latest_stopped.status.updated_at:
                    latest_stopped = report
            if latest_stopped is not None and not any(r.target == folder.name for r in reports):
                reports.append(latest_stopped)
            running_journals = {Path(r.status.journal).name for r in reports if r.running}
            for journal in journal_dirs(folder):
                if journal.name in running_journals:
                    continue
                size = sum(f.stat().st_size for f in journal.glob("*.seg") if f.is_file())
                waiting.append({"target": folder.name, "journal": str(journal), "bytes": size})
    return reports, waiting


def ingest_report(spool_roots: list[Path], connect: Callable[[], Session], table: str) -> IngestReport:
    """`sqlops ingest status`: the daemons of this machine and, when the server answers, what
    the database says about `table`. Neither side failing stops the other."""
    report = IngestReport()
    report.daemons, report.journals = read_daemons(spool_roots)
    report.quarantine_files = read_quarantine_files(spool_roots)
    try:
        session = connect()
    except SqlopsError as exc:
        report.database_error = exc.one_line()
        return report
    try:
        report.database = inspect_database(session, table)
    except pymysql.MySQLError as exc:  # privileges and the like: report, do not fail
        report.database_error = f"the server said ({errno_of(exc)}) {exc.args[-1]}"
    finally:
        session.close()
    return report


_MISSING = frozenset({1146})


def proxies(checkpoints: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    """The checkpoint rows grouped by proxy: the machine that wrote them and the spool folder
    of the daemon (``<spool>/<target>``; each journal is one daemon process's stream, so a
    restarted daemon adds a stream to its proxy). Per proxy: its streams, the newest one and
    how far it has committed (the byte after its last written line), rows and quarantined
    lines over its streams, and how long ago it last committed (by the server's clock)."""
    groups: dict[tuple[str, str], list[tuple[Any, ...]]] = {}
    for row in checkpoints:
        host, spool_path = str(row[1]), str(row[2])
        groups.setdefault((host, str(Path(spool_path).parent)), []).append(row)
    out = []
    for (host, spool), members in sorted(groups.items()):
        newest = max(members, key=lambda r: (r[6], r[0]))
        now = newest[7]
        out.append(
            {
                "proxy": f"{host}:{spool}",
                "host": host,
                "spool": spool,
                "streams": len(members),
                "stream": newest[0],
                "position": int(newest[3]),
                "rows_written": sum(int(r[4]) for r in members),
                "lines_quarantined": sum(int(r[5]) for r in members),
                "last_commit_at": newest[6],
                "seconds_since_commit": round((now - newest[6]).total_seconds(), 3),
            }
        )
    return out


def inspect_database(session: Session, table: str) -> dict[str, Any]:
    """Checkpoints, backfills and quarantine counts for `table` (read-only). A missing sqlops
    table is listed in "missing_tables" and its part left empty."""
    out: dict[str, Any] = {"table": table, "missing_tables": []}

    def rows(state_table: str, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        try:
            return session.query(sql, params)
        except pymysql.MySQLError as exc:
            if errno_of(exc) not in _MISSING:
                raise
            if state_table not in out["missing_tables"]:
                out["missing_tables"].append(state_table)
            return []

    out["rows_in_table_estimate"] = session.scalar(
        "SELECT TABLE_ROWS FROM information_schema.TABLES "
        "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s",
        (table,),
    )
    out["journals"] = [
        {
            "stream": stream,
            "host": host,
            "position": int(position),
            "rows_written": int(rows_written),
            "lines_quarantined": int(quarantined),
            "updated_at": updated,
        }
        for stream, host, position, rows_written, quarantined, updated in rows(
            CHECKPOINT_TABLE,
            "SELECT stream, host, position, rows_written, lines_quarantined, updated_at "
            f"FROM {CHECKPOINT_TABLE} WHERE target_table = %s ORDER BY updated_at DESC LIMIT 20",
            (table,),
        )
    ]
    out["proxies"] = proxies(
        rows(
            CHECKPOINT_TABLE,
            "SELECT stream, host, spool_path, position, rows_written, lines_quarantined, updated_at, "
            f"UTC_TIMESTAMP(3) FROM {CHECKPOINT_TABLE} WHERE target_table = %s",
            (table,),
        )
    )
    out["loads"] = [
        {
            "id": int(load_id),
            "path": path,
            "position": int(position),
            "rows_written": int(rows_written),
            "lines_quarantined": int(quarantined),
            "complete": bool(complete),
            "updated_at": updated,
        }
        for load_id, path, position, rows_written, quarantined, complete, updated in rows(
            LOAD_TABLE,
            "SELECT id, path, position, rows_written, lines_quarantined, complete, updated_at "
            f"FROM {LOAD_TABLE} WHERE target_table = %s ORDER BY updated_at DESC LIMIT 20",
            (table,),
        )
    ]
    totals = rows(
        QUARANTINE_TABLE,
        "SELECT COUNT(*), COALESCE(SUM(created_at >= UTC_TIMESTAMP() - INTERVAL 1 DAY), 0) "
        f"FROM {QUARANTINE_TABLE} WHERE target_table = %s",
        (table,),
    )
    total, last_day = totals[0] if totals else (0, 0)
    out["quarantine"] = {
        "total": int(total),
        "last_24h": int(last_day),
        "recent_reasons": [
            {"reason": reason, "lines": int(count), "last_at": last}
            for reason, count, last in rows(
                QUARANTINE_TABLE,
                f"SELECT reason, COUNT(*), MAX(created_at) FROM {QUARANTINE_TABLE} "
                "WHERE target_table = %s AND created_at >= UTC_TIMESTAMP() - INTERVAL 7 DAY "
                "GROUP BY reason ORDER BY MAX(created_at) DESC LIMIT 10",
                (table,),
            )
        ],
    }
    return out
