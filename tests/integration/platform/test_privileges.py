"""The privileges README documents are enough for each role, on both flavours."""

from __future__ import annotations

import uuid

import pymysql

from sqlops.db import connect
from sqlops.plan import execute
from sqlops.schema.init import plan_init
from sqlops.schema.inspect import existing_tables
from sqlops.schema.upgrade import analyse_upgrade, run_upgrade


def _user(db, grants: list[str]) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    name, password = f"sqlops_t_{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    db.sql(f"CREATE USER '{name}'@'{db.server.client_host}' IDENTIFIED BY '{password}'")
    for grant in grants:
        db.sql(grant.format(db=db.name, user=f"'{name}'@'{db.server.client_host}'"))
    return name, password


def test_maintenance_and_logging_accounts(db) -> None:  # type: ignore[no-untyped-def]
    admin_grants = [
        "GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, ALTER, DROP, INDEX, TRIGGER, LOCK TABLES "
        "ON `{db}`.* TO {user}"
    ]
    binlog = db.sql("SELECT @@log_bin, @@log_bin_trust_function_creators")[0]
    if binlog == (1, 0):  # MySQL 8+ logs binary by default: triggers then need SUPER (README)
        admin_grants.append("GRANT SUPER ON *.* TO {user}")
    admin, admin_pw = _user(db, admin_grants)
    logger = ""
    try:
        with connect(db.settings(user=admin, password=admin_pw), maintenance=True) as session:
            plan = plan_init(
                "access_log",
                database=db.name,
                existing=existing_tables(session),
                flavour=session.info.flavour,
                date_day_trigger_on=True,
                time_zone="+00:00",
            )
            execute(session, plan)
            run_upgrade(
                session,
                analyse_upgrade(session, "access_log"),
                zone="+00:00",
                default_day=None,
                keep_old=False,
            )
        # Table grants need the table to exist: README says to grant after `schema init`.
        logger, logger_pw = _user(
            db,
            ["GRANT SELECT, INSERT ON `{db}`.access_log TO {user}"],
        )
        with connect(db.settings(user=logger, password=logger_pw)) as session:
            session.execute(
                "INSERT INTO access_log (time_since_epoch, http_url) VALUES (1764543600, 'http://x/')"
            )
            try:
                session.execute("DROP TABLE access_log")
            except pymysql.MySQLError as exc:
                assert exc.args[0] == 1142  # the logging account cannot change the schema
            else:
                raise AssertionError("the logging account could drop the log table")
    finally:
        for name in filter(None, (admin, logger)):
            db.sql(f"DROP USER IF EXISTS '{name}'@'{db.server.client_host}'")
