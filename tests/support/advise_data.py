"""A small Squid reporting database for the advisor's server tests: the bundled schema
(tests/data/advisor/squid-reports-schema.sql, captured from MariaDB) created in a test
database, and seeded, skewed rows (a few heavy users and clients, 30 days)."""

from __future__ import annotations

import random
from pathlib import Path

from sqlops.db import Session
from sqlops.schema.ddl import split_ddl

SCHEMA_FILE = Path(__file__).parents[1] / "data" / "advisor" / "squid-reports-schema.sql"
STATUSES = ("TCP_MISS/200", "TCP_HIT/200", "TCP_MEM_HIT/200", "TCP_DENIED/403", "TCP_TUNNEL/200")


def create_schema(session: Session) -> None:
    for statement in split_ddl(SCHEMA_FILE.read_text(), str(SCHEMA_FILE)):
        session.execute(statement.sql)


def fill(session: Session, rows: int = 20_000, seed: int = 7) -> None:
    rnd = random.Random(seed)
    users = [f"user{n:03d}" for n in range(1, 201)]
    weights = [1 / n for n in range(1, len(users) + 1)]  # Zipf-like: user001 is the heaviest
    session.execute(
        "INSERT INTO departments (id, name, cost_center) VALUES (1, 'IT', 'C1'), (2, 'Sales', 'C2')"
    )
    session.query(
        "INSERT INTO users (username, full_name, department_id, email, active, created_at) VALUES "
        + ", ".join(["(%s, %s, %s, %s, 1, '2026-01-01')"] * len(users)),
        [v for i, u in enumerate(users) for v in (u, u.title(), 1 + i % 2, f"{u}@example.org")],
    )
    start = 1_790_000_000  # 2026-09-21 UTC
    batch: list[object] = []
    n_batch = 0
    for i in range(rows):
        user = rnd.choices(users, weights)[0]
        epoch = start + rnd.randrange(30 * 86400) + round(rnd.random(), 3)  # date_day follows it exactly
        status = STATUSES[i % 17 % len(STATUSES)]
        host = f"site{int(rnd.paretovariate(1.2)) % 500}.example.com"
        batch += [
            epoch,
            rnd.randrange(1, 900),
            f"10.0.{users.index(user) % 50}.{users.index(user)}",
            status.split("/")[1],
            rnd.randrange(200, 200_000),
            "GET" if i % 9 else "CONNECT",
            f"http://{host}/p/{rnd.randrange(100)}",
            user,
            status.split("/")[0],
            epoch,
        ]
        n_batch += 1
        if n_batch == 1000 or i == rows - 1:
            session.execute(
                "INSERT INTO access_log (time_since_epoch, time_response, ip_client, http_status_code, "
                "http_reply_size, http_method, http_url, http_username, squid_request_status, date_day) VALUES "
                + ", ".join(["(%s, %s, %s, %s, %s, %s, %s, %s, %s, DATE(FROM_UNIXTIME(%s)))"] * n_batch),
                batch,
            )
            batch, n_batch = [], 0
    session.query("ANALYZE TABLE access_log, users, departments")
