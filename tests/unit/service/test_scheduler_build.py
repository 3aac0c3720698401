"""The scheduler's jobs and triggers, with a fake clock (the trigger's own next-fire-time
arithmetic) instead of waiting: options, schedule parsing, time zones across DST."""

from __future__ import annotations

import datetime as dt
import threading
from zoneinfo import ZoneInfo

import pytest
from apscheduler.schedulers.background import BackgroundScheduler

from sqlops.config import Config, DatabaseConfig, ServeConfig
from sqlops.errors import ConfigError
from sqlops.service.scheduler import RunningJobs, build_scheduler, describe_jobs, parse_schedule

BERLIN = ZoneInfo("Europe/Berlin")


def build(**serve: object) -> BackgroundScheduler:
    config = Config(database=DatabaseConfig(time_zone="Europe/Berlin"), serve=ServeConfig(**serve))  # type: ignore[arg-type]
    return build_scheduler(
        config, stop=threading.Event(), running=RunningJobs(), scheduler_class=BackgroundScheduler
    )  # type: ignore[return-value]


def fires(expression: str, start: dt.datetime, count: int) -> list[dt.datetime]:
    trigger = parse_schedule(expression, BERLIN)
    out, now = [], start
    for _ in range(count):
        now = trigger.get_next_fire_time(None, now)
        out.append(now)
        now += dt.timedelta(seconds=1)
    return out


def test_jobs_coalesce_never_overlap_tolerate_misfires_and_run_at_start() -> None:
    scheduler = build(misfire_grace_seconds=7200)
    jobs = {j.id: j for j in scheduler.get_jobs()}
    assert set(jobs) == {"partition-rotate", "rollup-refresh"}
    for job in jobs.values():
        assert (job.coalesce, job.max_instances, job.misfire_grace_time) == (True, 1, 7200)
        assert job.trigger.timezone == BERLIN
        assert job.next_run_time is not None  # run_at_start: once right away
    assert (
        str(jobs["partition-rotate"].trigger.fields[6]) == "17"
        and str(jobs["partition-rotate"].trigger.fields[5]) == "3"
    )
    later = build(run_at_start=False)
    assert all(not getattr(j, "next_run_time", None) for j in later.get_jobs())


def test_an_empty_schedule_disables_a_job_and_all_disabled_is_an_error() -> None:
    assert [j.id for j in build(rollup_schedule="").get_jobs()] == ["partition-rotate"]
    with pytest.raises(ConfigError, match="every job of `sqlops serve` is disabled"):
        build(rollup_schedule="", rotate_schedule=" ")


def test_daily_rotate_keeps_local_wall_time_across_dst() -> None:
    times = fires("17 3 * * *", dt.datetime(2026, 3, 28, 12, tzinfo=BERLIN), 2)
    assert [t.isoformat() for t in times] == ["2026-03-29T03:17:00+02:00", "2026-03-30T03:17:00+02:00"]
    times = fires("17 3 * * *", dt.datetime(2026, 10, 24, 12, tzinfo=BERLIN), 2)
    assert [t.isoformat() for t in times] == ["2026-10-25T03:17:00+01:00", "2026-10-26T03:17:00+01:00"]


def test_crontab_weekdays_count_from_sunday_and_seconds_are_optional() -> None:
    saturday = dt.datetime(2026, 11, 28, 12, tzinfo=BERLIN)
    assert fires("0 4 * * 0", saturday, 1)[0].date() == dt.date(2026, 11, 29)  # Sunday, as in crontab
    assert fires("0 4 * * 7", saturday, 1)[0].date() == dt.date(2026, 11, 29)
    assert [t.date().isoweekday() for t in fires("0 4 * * 1-5", saturday, 5)] == [1, 2, 3, 4, 5]
    assert [t.second for t in fires("*/20 * * * * *", saturday, 3)] == [0, 20, 40]


@pytest.mark.parametrize("expression", ["daily", "1 2 3", "61 * * * *", "* * * * * * *"])
def test_bad_schedules_name_the_key(expression: str) -> None:
    with pytest.raises(ConfigError, match=r"serve\.rotate_schedule"):
        build(rotate_schedule=expression)


def test_misfire_grace_must_be_positive_and_list_shows_next_runs() -> None:
    with pytest.raises(ConfigError, match="misfire_grace_seconds"):
        build(misfire_grace_seconds=0)
    config = Config(database=DatabaseConfig(time_zone="Europe/Berlin"))
    rows = describe_jobs(config, now=dt.datetime(2026, 3, 28, 12, tzinfo=BERLIN))
    assert rows == [
        ("partition-rotate", "17 3 * * *", "2026-03-29 03:17:00 +0200"),
        ("rollup-refresh", "7 * * * *", "2026-03-28 12:07:00 +0100"),
    ]
