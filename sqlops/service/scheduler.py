"""The maintenance scheduler behind `sqlops serve` (APScheduler 3.x, BlockingScheduler).

Jobs come from ``[serve]`` as crontab expressions read in an explicit zone (``serve.time_zone``,
default ``database.time_zone``). Every job runs with ``coalesce=True`` (missed runs collapse into
one), ``max_instances=1`` (a slow run is never overlapped by the next) and a generous
``misfire_grace_time``; with ``run_at_start`` each job also runs once right after start, so a
restart before the daily slot never skips a rotate (the jobs are idempotent).

SIGTERM and SIGINT stop it gracefully: no new runs start, running jobs are asked to stop at
their next safe point (the rollup between chunks) and waited for, then the process exits 0.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger

from sqlops.config import Config
from sqlops.errors import ConfigError
from sqlops.service import jobs
from sqlops.timezones import python_zone

log = logging.getLogger("sqlops.serve")

# crontab numbers weekdays from Sunday (0 or 7); APScheduler 3 from Monday: use names.
_WEEKDAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun"]


@dataclass(frozen=True)
class JobDef:
    id: str
    key: str  # the config key holding its schedule
    schedule: str
    func: Callable[[Config, threading.Event], Any]


def job_defs(config: Config) -> list[JobDef]:
    serve = config.serve
    defs = [
        JobDef("partition-rotate", "serve.rotate_schedule", serve.rotate_schedule, jobs.rotate_all),
        JobDef("rollup-refresh", "serve.rollup_schedule", serve.rollup_schedule, jobs.rollup),
    ]
    return [d for d in defs if d.schedule.strip()]


def _weekday_names(field: str) -> str:
    return re.sub(r"\d+", lambda m: _WEEKDAYS[int(m.group())] if int(m.group()) <= 7 else m.group(), field)


def parse_schedule(expression: str, zone: dt.tzinfo, key: str = "schedule") -> CronTrigger:
    """A crontab expression: five fields (minute hour day month weekday, weekday 0/7 = Sunday
    as in crontab), or six with seconds first."""
    fields = expression.split()
    if len(fields) not in (5, 6):
        raise ConfigError(
            f"{key} = {expression!r} is not a crontab expression",
            fix="write five fields, minute hour day month weekday, e.g. '17 3 * * *' (daily 03:17); "
            "an empty string disables the job",
        )
    second = fields.pop(0) if len(fields) == 6 else "0"
    minute, hour, day, month, weekday = fields
    try:
        return CronTrigger(
            second=second,
            minute=minute,
            hour=hour,
            day=day,
            month=month,
            day_of_week=_weekday_names(weekday),
            timezone=zone,
        )
    except ValueError as exc:
        raise ConfigError(f"{key} = {expression!r} is not a valid schedule", why=str(exc)) from None


class RunningJobs:
    """Counts running jobs so shutdown can wait for them."""

    def __init__(self) -> None:
        self._count = 0
        self._cond = threading.Condition()

    def wrap(self, job: JobDef, config: Config, stop: threading.Event) -> Callable[[], None]:
        def run() -> None:
            with self._cond:
                self._count += 1
            log.info("%s: starting", job.id)
            try:
                job.func(config, stop)
            finally:
                with self._cond:
                    self._count -= 1
                    self._cond.notify_all()

        return run

    def wait_idle(self, timeout: float) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self._count == 0, timeout)


def schedule_zone(config: Config) -> dt.tzinfo:
    return python_zone(config.serve.time_zone or config.database.time_zone)


def build_scheduler(
    config: Config,
    *,
    stop: threading.Event,
    running: RunningJobs,
    scheduler_class: type[BaseScheduler] = BlockingScheduler,
    now: dt.datetime | None = None,
) -> BaseScheduler:
    """The scheduler with one job per enabled schedule (validated before anything starts)."""
    zone = schedule_zone(config)
    grace = config.serve.misfire_grace_seconds
    if grace < 1:
        raise ConfigError(f"serve.misfire_grace_seconds must be at least 1, not {grace}")
    defs = job_defs(config)
    if not defs:
        raise ConfigError(
            "every job of `sqlops serve` is disabled",
            fix="set serve.rotate_schedule and/or serve.rollup_schedule to a crontab expression",
        )
    scheduler = scheduler_class(
        timezone=zone,
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": grace},
    )
    start_at = now or dt.datetime.now(zone)
    for job in defs:
        trigger = parse_schedule(job.schedule, zone, job.key)
        extra: dict[str, Any] = {"next_run_time": start_at} if config.serve.run_at_start else {}
        scheduler.add_job(
            running.wrap(job, config, stop),
            trigger,
            id=job.id,
            name=job.id,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=grace,
            replace_existing=True,
            **extra,
        )
    return scheduler


def describe_jobs(config: Config, now: dt.datetime | None = None) -> list[tuple[str, str, str]]:
    """(job, schedule, next scheduled run) for `serve --list`; validates the schedules."""
    zone = schedule_zone(config)
    moment = now or dt.datetime.now(zone)
    out = []
    for job in job_defs(config):
        upcoming = parse_schedule(job.schedule, zone, job.key).get_next_fire_time(None, moment)
        out.append((job.id, job.schedule, f"{upcoming:%Y-%m-%d %H:%M:%S %z}"))
    return out


def serve(config: Config, *, shutdown_timeout: float = 600.0) -> int:
    """Run until SIGTERM/SIGINT; returns the exit status."""
    stop = threading.Event()
    running = RunningJobs()
    scheduler = build_scheduler(config, stop=stop, running=running)
    # APScheduler's own warnings (a run skipped because the previous one still runs, a missed
    # run) go to the same stderr log as ours.
    aps = logging.getLogger("apscheduler")
    aps.handlers[:] = logging.getLogger("sqlops").handlers
    aps.setLevel(logging.WARNING)
    aps.propagate = False

    def on_signal(signum: int, _frame: object) -> None:
        if stop.is_set():
            return
        log.info("%s received: no new runs; waiting for running jobs to finish", signal.Signals(signum).name)
        stop.set()
        scheduler.shutdown(wait=False)

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        zone = schedule_zone(config)
        log.info("sqlops serve: %d job(s), schedules in %s", len(scheduler.get_jobs()), zone)
        for job in job_defs(config):
            log.info(
                "  %s: '%s'%s", job.id, job.schedule, " (and once now)" if config.serve.run_at_start else ""
            )
        scheduler.start()  # blocks until on_signal shuts it down
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if not running.wait_idle(shutdown_timeout):
        log.error("jobs still running after %.0f s; exiting anyway", shutdown_timeout)
        return 1
    log.info("sqlops serve stopped")
    return 0
