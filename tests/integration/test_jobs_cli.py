"""`sqlops jobs`: the job name is checked, times are RFC 3339 UTC (both flavours)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from e2e.ingest_harness import config_for

from sqlops.cli import main as sqlops_main
from sqlops.config import load_config
from sqlops.jobruns import RECORDED_JOBS, recorded_run

RFC3339_UTC = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$"


def test_job_name_is_validated_and_times_carry_the_zone(db: Any, tmp_path: Path, capsys: Any) -> None:
    config = config_for(db, tmp_path)
    with recorded_run(load_config(config).config.database, "partition-rotate", f"{db.name}.access_log"):
        pass
    base = ["--config", str(config), "jobs"]
    capsys.readouterr()
    assert sqlops_main([*base, "--job", "nonsense"]) == 2
    err = capsys.readouterr().err
    assert "'nonsense' is not a job" in err and all(name in err for name in RECORDED_JOBS)
    assert sqlops_main([*base, "--job", "partition-rotate", "--format", "json"]) == 0
    (run,) = json.loads(capsys.readouterr().out)["runs"]
    assert re.match(RFC3339_UTC, run["started_at"]) and re.match(RFC3339_UTC, run["finished_at"]), run
    assert sqlops_main([*base, "--job", "partition-rotate", "--failed"]) == 0
    assert capsys.readouterr().out.strip() == "no failed partition-rotate runs recorded"


def test_recorded_jobs_are_the_jobs_that_record_runs() -> None:
    from sqlops.partitions import migrate, planner
    from sqlops.rollup import daily
    from sqlops.schema import upgrade

    assert sorted(RECORDED_JOBS) == sorted({migrate.JOB, planner.ROTATE_JOB, daily.JOB, upgrade.JOB})
