"""sqlops' own state tables (sql/sqlops_state.sql), created on first use when missing.

The CREATE goes through the executor like every other DDL (tagged, logged); planners that
render a script put :func:`state_table_statement` into their plan instead, so a dry run shows
the state table it would create.
"""

from __future__ import annotations

from sqlops.db import Session
from sqlops.plan import Plan, Statement, execute
from sqlops.schema.definitions import state_defs


def state_table_statement(name: str) -> Statement:
    """CREATE TABLE IF NOT EXISTS for one state table."""
    for definition in state_defs():
        if definition.name == name:
            return Statement(definition.create_sql.rstrip(";"), f"create sqlops' state table {name}")
    raise KeyError(f"{name} is not defined in sql/sqlops_state.sql")


def ensure_state_table(session: Session, name: str, *, job: str = "state") -> None:
    """Create one state table when missing, so a command works before `schema init`."""
    execute(session, Plan(job, name, (state_table_statement(name),)))
