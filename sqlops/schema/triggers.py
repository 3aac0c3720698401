"""The optional BEFORE INSERT trigger that fills `date_day` for writers other than sqlops.

Squid's own log_db_daemon and ad-hoc scripts insert rows without `date_day`; the trigger
computes it from `time_since_epoch` in the configured zone with an expression that does not
depend on the inserting session's own time zone (DESIGN.md §4), and falls back to the day of
the insert when the epoch is NULL, so an insert never fails because of it.
"""

from __future__ import annotations

from sqlops.db import Flavour, quote_ident
from sqlops.plan import Statement
from sqlops.timezones import date_day_sql


def date_day_trigger_name(table: str, alternate: bool = False) -> str:
    """The trigger's name. An online rebuild creates it on the shadow table while the original
    still has one (names are unique per schema), so it alternates between two names."""
    suffix = "_sqlops_date_day" + ("_b" if alternate else "")
    return f"{table}{suffix}" if len(table) + len(suffix) <= 64 else f"{table[:40]}{suffix}"


def is_date_day_trigger(trigger: str, table: str) -> bool:
    return trigger in (date_day_trigger_name(table), date_day_trigger_name(table, alternate=True))


def date_day_expression(epoch_column: str, zone: str) -> str:
    """`date_day` of a row from its epoch column, or the current day when it is NULL."""
    return f"COALESCE({date_day_sql(epoch_column, zone)}, {date_day_sql('UNIX_TIMESTAMP()', zone)})"


def date_day_trigger(
    table: str,
    zone: str,
    flavour: Flavour | None,
    *,
    on_table_sql: str | None = None,
    name: str | None = None,
    replace: bool = True,
) -> list[Statement]:
    """Statements that (re)create the trigger for `table`. `on_table_sql` puts it on another
    table (the shadow of an online rebuild, as the engine's `{shadow}` placeholder). Without a
    flavour, the form both servers run."""
    name = quote_ident(name or date_day_trigger_name(table))
    body = (
        f"BEFORE INSERT ON {on_table_sql or quote_ident(table)} FOR EACH ROW "
        f"SET NEW.date_day = COALESCE(NEW.date_day, {date_day_expression('NEW.time_since_epoch', zone)})"
    )
    reason = f"fill {table}.date_day for writers that do not send it (time zone {zone})"
    if not replace:
        return [Statement(f"CREATE TRIGGER {name} {body}", reason)]
    if flavour == "mariadb":
        return [Statement(f"CREATE OR REPLACE TRIGGER {name} {body}", reason)]
    return [
        Statement(f"DROP TRIGGER IF EXISTS {name}", "replace the date_day trigger if it exists"),
        Statement(f"CREATE TRIGGER {name} {body}", reason),
    ]
