"""`schema status`: what exists in the database and how it differs from sqlops' definitions."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlops.db import Session
from sqlops.schema.definitions import state_defs
from sqlops.schema.inspect import existing_tables
from sqlops.schema.upgrade import UpgradeAnalysis, analyse_upgrade


@dataclass
class SchemaStatus:
    database: str
    server: str
    table: str
    analysis: UpgradeAnalysis | None
    want_trigger: bool
    state_tables: dict[str, bool] = field(default_factory=dict)

    @property
    def up_to_date(self) -> bool:
        a = self.analysis
        return (
            a is not None
            and a.columns_current
            and (a.has_date_day_trigger or not self.want_trigger)
            and not a.unfinished_copy
            and all(self.state_tables.values())
        )

    def advice(self) -> list[str]:
        out = []
        if self.analysis is None:
            out.append(f"create the table: sqlops schema init --table {self.table}")
        else:
            a = self.analysis
            if a.unfinished_copy:
                out.append(f"an unfinished {a.unfinished_copy} exists: run it again to finish, or --abort")
            if a.incompatible:
                out.append("some columns have another type: convert them by hand (see above)")
            elif not a.columns_current:
                out.append("bring the table up to date online: sqlops schema upgrade (review with --dry-run)")
            elif self.want_trigger and not a.has_date_day_trigger:
                out.append("schema.date_day_trigger is on but the trigger is missing: sqlops schema upgrade")
            if a.adds_date_day and a.null_epoch_rows:
                out.append(
                    f"{a.null_epoch_rows} row(s) have no time_since_epoch: pass --default-day to upgrade"
                )
        if not all(self.state_tables.values()):
            out.append("create the missing state tables: sqlops schema init")
        return out

    def as_dict(self) -> dict[str, Any]:
        a = self.analysis
        table: dict[str, Any] = {"name": self.table, "exists": a is not None}
        if a is not None:
            table.update(
                columns=[
                    {
                        "name": c.name,
                        "expected": c.expected.type,
                        "current": c.current.type if c.current else None,
                        "verdict": c.verdict,
                        "nullable_mismatch": c.nullable_mismatch,
                        "needs_change": c.needs_change,
                    }
                    for c in a.columns
                ],
                extra_columns=[c for c in a.live.column_names if a.expected.column(c) is None],
                primary_key=list(a.live.primary_key),
                missing_indexes=[{"name": n, "columns": list(cols)} for n, cols in a.missing_indexes],
                date_day_trigger=a.has_date_day_trigger,
                charset=a.charset,
                partitioned=a.live.partitioned,
                estimated_rows=a.live.estimated_rows,
                size_bytes=a.live.size_bytes,
                rows_without_epoch=a.null_epoch_rows if a.adds_date_day else None,
                unfinished_online_copy=a.unfinished_copy,
            )
        return {
            "database": self.database,
            "server": self.server,
            "up_to_date": self.up_to_date,
            "table": table,
            "state_tables": self.state_tables,
            "advice": self.advice(),
        }

    def as_text(self) -> str:
        lines = [f"database {self.database} on {self.server}"]
        a = self.analysis
        if a is None:
            lines.append(f"table {self.table}: MISSING")
        else:
            lines.append(
                f"table {self.table}: ~{a.live.estimated_rows} rows, {a.live.size_bytes / 2**20:.1f} MiB, "
                f"charset {a.charset}, primary key ({', '.join(a.live.primary_key)})"
                + (", partitioned" if a.live.partitioned else "")
            )
            width = max(len(c.name) for c in a.columns)
            for c in a.columns:
                lines.append(f"  {c.name.ljust(width)}  {c.describe()}")
            for name, cols in a.missing_indexes:
                lines.append(f"  index {name} ({', '.join(cols)}): missing")
            wanted = "wanted" if self.want_trigger else "optional"
            lines.append(
                f"  date_day trigger: {'present' if a.has_date_day_trigger else 'absent'} ({wanted})"
            )
        for name, exists in self.state_tables.items():
            lines.append(f"state table {name}: {'ok' if exists else 'MISSING'}")
        lines.append("status: " + ("up to date" if self.up_to_date else "differs"))
        lines += [f"advice: {line}" for line in self.advice()]
        return "\n".join(lines)


def inspect_status(session: Session, table: str, *, want_trigger: bool = False) -> SchemaStatus:
    tables = existing_tables(session)
    analysis = analyse_upgrade(session, table) if table in tables else None
    return SchemaStatus(
        database=session.database,
        server=session.info.describe(),
        table=table,
        analysis=analysis,
        want_trigger=want_trigger,
        state_tables={d.name: d.name in tables for d in state_defs()},
    )
