"""The scheduled jobs. Each calls the function its CLI command calls (origin 'scheduler', so
`sqlops jobs` tells them apart) and never lets an error escape into the scheduler: a failed
run is logged and recorded in sqlops_job_runs, where `partition check` sees it."""

from __future__ import annotations

import logging
import threading

from sqlops.config import Config
from sqlops.errors import LockHeldError, SqlopsError

log = logging.getLogger("sqlops.serve")
ORIGIN = "scheduler"


def rotate_all(config: Config, stop: threading.Event | None = None) -> int:
    """`partition rotate` for every configured table; returns how many failed."""
    from sqlops.partitions.rotate import TableRotate, describe_rotate, rotate_tables

    def report(entry: TableRotate) -> None:
        if entry.skipped and entry.error is not None:
            log.warning("rotate of %s skipped: %s", entry.table, entry.error.what)
        elif entry.error is not None:
            log.error("rotate of %s failed: %s", entry.table, entry.error)
        elif entry.outcome is not None:
            log.info("%s", describe_rotate(entry.outcome))

    return rotate_tables(config, origin=ORIGIN, stop=stop, on_table=report).failed


def rollup(config: Config, stop: threading.Event | None = None) -> bool:
    """`rollup refresh`; stops between chunks when the service is asked to stop."""
    from sqlops.rollup.daily import run_rollup

    try:
        outcome = run_rollup(config, origin=ORIGIN, stop=stop)
    except LockHeldError as exc:
        log.warning("rollup skipped: %s", exc.what)
        return True
    except SqlopsError as exc:
        log.error("rollup failed: %s", exc)
        return False
    except Exception:
        log.exception("rollup failed unexpectedly")
        return False
    log.info(
        "rollup of %s into %s: %d row(s) in %d chunk(s), %.2f s%s",
        outcome.source,
        outcome.target,
        outcome.rows_read,
        outcome.chunks,
        outcome.seconds,
        " (stopped early for shutdown)" if outcome.stopped else "",
    )
    return True
