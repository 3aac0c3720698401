"""`sqlops ingest status`: what the daemons report about themselves plus what the database says.

Each daemon rewrites ``<spool>/<target>/status-<pid>.json`` every two seconds (atomically);
the database holds the checkpoints, the backfill progress and the quarantine. The report
combines both; either side may be missing (no daemon on this machine, or no server access).
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlops.db import Session
from sqlops.private import write_private
from sqlops.squid.spool import journal_dirs
from sqlops.squid.writer import QUARANTINE_FILE

STALE_SECONDS = 10.0


class StatusFile:
    def __init__(self, path: Path) -> None:
        self.path = path

    def write(self, data: dict[str, Any]) -> None:
        with contextlib.suppress(OSError):
            write_private(self.path, json.dumps(data, indent=1, default=str) + "\n")


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
    data: dict[str, Any]
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
            "daemons": [
                {"target": d.target, "status_file": d.path, "running": d.running, **d.data}
                for d in self.daemons
            ],
            "journals_waiting": self.journals,
            "quarantine_files": self.quarantine_files,
            "database": self.database,
            "database_error": self.database_error,
        }


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
            for status in sorted(folder.glob("status-*.json")):
                try:
                    data = json.loads(status.read_text())
                except (OSError, ValueError):
                    continue
                pid = int(data.get("pid", 0))
                running = bool(pid) and _alive(pid) and time.time() - float(data.get("updated_at", 0)) < 60
                report = DaemonReport(folder.name, str(status), data, running)
                if running:
                    reports.append(report)
                elif latest_stopped is None or data.get("updated_at", 0) > latest_stopped.data.get(
                    "updated_at", 0
                ):
                    latest_stopped = report
            if latest_stopped is not None and not any(r.target == folder.name for r in reports):
                reports.append(latest_stopped)
            running_journals = {Path(r.data.get("journal", "")).name for r in reports if r.running}
            for journal in journal_dirs(folder):
                if journal.name in running_journals:
                    continue
                size = sum(f.stat().st_size for f in journal.glob("*.seg") if f.is_file())
                waiting.append({"target": folder.name, "journal": str(journal), "bytes": size})
    return reports, waiting


def inspect_database(session: Session, table: str) -> dict[str, Any]:
    """Checkpoints, backfills and quarantine counts for `table` (read-only)."""
    out: dict[str, Any] = {"table": table}
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
            "rows_written": int(rows),
            "lines_quarantined": int(quarantined),
            "updated_at": updated,
        }
        for stream, host, position, rows, quarantined, updated in session.query(
            "SELECT stream, host, position, rows_written, lines_quarantined, updated_at "
            "FROM sqlops_ingest_checkpoint WHERE target_table = %s ORDER BY updated_at DESC LIMIT 20",
            (table,),
        )
    ]
    out["loads"] = [
        {
            "id": int(load_id),
            "path": path,
            "position": int(position),
            "rows_written": int(rows),
            "lines_quarantined": int(quarantined),
            "complete": bool(complete),
            "updated_at": updated,
        }
        for load_id, path, position, rows, quarantined, complete, updated in session.query(
            "SELECT id, path, position, rows_written, lines_quarantined, complete, updated_at "
            "FROM sqlops_ingest_load WHERE target_table = %s ORDER BY updated_at DESC LIMIT 20",
            (table,),
        )
    ]
    total, last_day = session.query(
        "SELECT COUNT(*), COALESCE(SUM(created_at >= UTC_TIMESTAMP() - INTERVAL 1 DAY), 0) "
        "FROM sqlops_ingest_quarantine WHERE target_table = %s",
        (table,),
    )[0]
    out["quarantine"] = {
        "total": int(total),
        "last_24h": int(last_day),
        "recent_reasons": [
            {"reason": reason, "lines": int(count), "last_at": last}
            for reason, count, last in session.query(
                "SELECT reason, COUNT(*), MAX(created_at) FROM sqlops_ingest_quarantine "
                "WHERE target_table = %s AND created_at >= UTC_TIMESTAMP() - INTERVAL 7 DAY "
                "GROUP BY reason ORDER BY MAX(created_at) DESC LIMIT 10",
                (table,),
            )
        ],
    }
    return out
