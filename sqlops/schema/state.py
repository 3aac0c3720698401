"""sqlops' own state tables (sql/sqlops_state.sql), created on first use when missing."""

from __future__ import annotations

from sqlops.db import Session
from sqlops.schema.definitions import state_defs


def ensure_state_table(session: Session, name: str) -> None:
    """CREATE TABLE IF NOT EXISTS for one state table, so a command works before `schema init`."""
    for definition in state_defs():
        if definition.name == name:
            session.execute(definition.create_sql.rstrip(";"))
            return
    raise KeyError(f"{name} is not defined in sql/sqlops_state.sql")
