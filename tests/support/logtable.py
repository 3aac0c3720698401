"""Log tables for partition, rollup and scheduler tests: sqlops' own access_log (via `schema
init`'s plan), rows on chosen days, and a partitioned layout made the way migrate makes it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlops.db import Session
from sqlops.partitions import ddl
from sqlops.partitions.planner import plan_layout
from sqlops.plan import execute
from sqlops.schema.init import plan_init

COLUMNS = (
    "time_since_epoch, time_response, ip_client, squid_request_status, http_status_code, http_reply_size, "
    "http_method, http_url, http_username, squid_hier_status, ip_server, http_mime_type, date_day"
)
STATUSES = (
    "TCP_MISS",
    "TCP_HIT",
    "TCP_MEM_HIT",
    "TCP_DENIED",
    "TCP_REFRESH_UNMODIFIED",
    "TCP_REFRESH_MODIFIED",
)


def create_log_table(session: Session, table: str = "access_log", *, trigger: bool = False) -> None:
    plan = plan_init(
        table,
        database=session.database,
        existing=set(),
        flavour=session.info.flavour,
        date_day_trigger_on=trigger,
        time_zone=session.settings.time_zone,
    )
    execute(session, plan)


def partition_like_migrate(
    session: Session, table: str, oldest: dt.date, today: dt.date, premake: int = 3
) -> tuple[ddl.PartitionSpec, ...]:
    """Partition an (empty or small) table with migrate's layout in one ALTER."""
    layout = plan_layout(oldest, None, today, premake)
    session.execute(
        f"ALTER TABLE `{table}` {ddl.primary_key_swap(('id', 'date_day'))} {ddl.partition_by('date_day', layout)}"
    )
    return layout


def row(day: dt.date, i: int = 0, *, user: str = "alice", client: str = "10.0.0.1") -> tuple[object, ...]:
    epoch = dt.datetime(day.year, day.month, day.day, 12, tzinfo=dt.UTC).timestamp() + i
    status = STATUSES[i % len(STATUSES)]
    code = "503" if i % 11 == 0 else "200"
    return (
        epoch,
        5 + i % 40,
        client,
        status,
        code,
        100 + i,
        "GET",
        f"http://ex.com/{i}",
        user,
        "HIER_DIRECT",
        "1.2.3.4",
        "text/html",
        day,
    )


def insert_rows(session: Session, rows: Iterable[tuple[object, ...]], table: str = "access_log") -> int:
    batch = list(rows)
    with session.raw.cursor() as cur:
        cur.executemany(
            f"INSERT INTO `{table}` ({COLUMNS}) VALUES ({', '.join(['%s'] * 13)})",
            batch,
        )
    return len(batch)


def insert_days(
    session: Session, days: Iterable[dt.date], per_day: int = 1, table: str = "access_log"
) -> int:
    return insert_rows(session, (row(d, i) for d in days for i in range(per_day)), table)


def partition_rows(session: Session, table: str = "access_log") -> dict[str, int]:
    """Exact rows per partition."""
    names = [
        r[0]
        for r in session.query(
            "SELECT PARTITION_NAME FROM information_schema.PARTITIONS WHERE TABLE_SCHEMA = DATABASE() "
            "AND TABLE_NAME = %s ORDER BY PARTITION_ORDINAL_POSITION",
            (table,),
        )
    ]
    return {n: int(session.scalar(f"SELECT COUNT(*) FROM `{table}` PARTITION (`{n}`)")) for n in names}
