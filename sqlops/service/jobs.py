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
    from sqlops.partitions.rotate import run_rotate, targets
    from sqlops.rollup.daily import RollupTarget

    failed = 0
    for target in targets(config):
        if stop is not None and stop.is_set():
            break
        try:
            outcome = run_rotate(
                config.database, target, origin=ORIGIN, rollup=RollupTarget.from_config(config)
            )
        except LockHeldError as exc:
            log.warning("rotate of %s skipped: %s", target.table, exc.what)
        except SqlopsError as exc:
            failed += 1
            log.error("rotate of %s failed: %s", target.table, exc)
        except Exception:  # a bug must not stop the other tables or the scheduler
            failed += 1
            log.exception("rotate of %s failed unexpectedly", target.table)
        else:
            rp = outcome.rotate_plan
            log.info(
                "rotate of %s: %d statement(s) in %.2f s; created %s, archived %s, dropped %s",
                outcome.target,
                len(outcome.executed),
                outcome.seconds,
                ", ".join(rp.created) or "none",
                ", ".join(t for _, t in rp.archived) or "none",
                ", ".join(rp.dropped) or "none",
            )
    return failed


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
