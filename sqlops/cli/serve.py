"""`sqlops serve`: the maintenance scheduler (rotate daily, rollup hourly by default)."""

from __future__ import annotations

import click

from sqlops.cli.app import AppContext, cli
from sqlops.cli.output import table


@cli.command("serve")
@click.option("--list", "list_only", is_flag=True, help="Print the jobs and their next run times, then exit.")
@click.pass_obj
def serve(app: AppContext, list_only: bool) -> int:
    """Run partition rotate and the traffic rollup on their schedules until SIGTERM.

    Schedules are crontab expressions in [serve] (rotate_schedule, rollup_schedule), read in
    serve.time_zone (default database.time_zone). Missed runs are coalesced, a job never runs
    twice at once, and every run is recorded (see `sqlops jobs`). SIGTERM/SIGINT let running
    jobs finish, then it exits 0. configs/systemd/sqlops.service runs it under systemd.

    Example: sqlops --config /etc/sqlops/sqlops.toml serve
    """
    from sqlops.service.scheduler import describe_jobs
    from sqlops.service.scheduler import serve as run_service

    config = app.config
    if list_only:
        click.echo(table(describe_jobs(config), ["job", "schedule", "next scheduled run"]))
        return 0
    return run_service(config)
