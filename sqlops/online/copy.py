"""The online copy engine: rebuild a table under writers without blocking them.

Used by ``schema upgrade`` (widen columns, add ``date_day``) and ``partition migrate`` (PK
``(id, date_day)`` + RANGE partitions): one ALTER would be a locked table copy that stops every
insert for the whole copy (DESIGN.md §4). Instead:

1. ``CREATE TABLE shadow LIKE t`` and ALTER the *empty* shadow into the target definition;
2. AFTER INSERT/UPDATE/DELETE triggers on ``t`` mirror every write into the shadow;
3. read ``MAX(id)`` *after* the triggers exist and copy ``id <= cap`` in short chunks
   (``INSERT … SELECT … LOCK IN SHARE MODE ON DUPLICATE KEY UPDATE`` — rows the triggers
   already wrote win, and we never insert into ids the writer is creating, which deadlocked
   on the auto-increment lock when we did);
4. verify count and checksum of both tables in one consistent snapshot;
5. ``RENAME TABLE t TO old, shadow TO t`` atomically, drop the triggers and the old table.

The copy is a plan of typed steps (:mod:`sqlops.steps`): state write, DDL, state write (the
cap), chunked copy, verify, swap, state write, DDL (clean-up), state write. ``--dry-run`` renders
the steps :func:`copy_plan` returns and the run sends the same ones. Progress lives in
``sqlops_online_copy`` and each chunk commits its progress in the same transaction as its rows,
so a crashed run resumes exactly where it stopped: the plan is rebuilt from that progress and
leaves out the steps already done. ``abort`` drops the triggers and the shadow and leaves the
original untouched. Every DDL goes through :func:`sqlops.plan.execute`, which waits for open
transactions without queueing writers.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlops.db import Session, quote_ident, quote_string
from sqlops.errors import PreconditionError
from sqlops.plan import Plan, Statement
from sqlops.schema.inspect import existing_tables, inspect_table
from sqlops.schema.model import Table
from sqlops.schema.state import state_table_statement
from sqlops.steps import (
    HIGH,
    LOW,
    ROWS,
    Chunked,
    ChunkProgress,
    ChunkSizing,
    Ddl,
    StateWrite,
    Step,
    StepHooks,
    Swap,
    Verify,
    render_steps,
    run_steps,
)

log = logging.getLogger("sqlops.online")

STATE_TABLE = "sqlops_online_copy"


@dataclass(frozen=True)
class CopySpec:
    """What to build. Placeholders: ``{shadow}`` (quoted shadow name) in `alterations` and
    `shadow_statements`; ``{row}`` (a row alias: ``NEW`` in triggers, the source alias in
    the copy) in `computed` expressions."""

    job: str
    table: str
    # Clauses for ALTER TABLE {shadow} ... on the empty LIKE-copy, applied in order.
    alterations: tuple[str, ...]
    # Shadow columns the source does not have (or must recompute): (column, expression).
    computed: tuple[tuple[str, str], ...] = ()
    # More DDL for the shadow before the swap (e.g. its own BEFORE INSERT trigger).
    shadow_statements: tuple[tuple[str, str], ...] = ()  # (sql, reason)
    key: str = "id"
    keep_old: bool = False
    # Each chunk holds the shadow's AUTO-INC lock on MariaDB (innodb_autoinc_lock_mode=1) for its
    # whole duration, and a mirrored insert waits for it: keep chunks short.
    chunk_seconds: float = 0.1
    initial_chunk_rows: int = 2000
    max_chunk_rows: int = 50_000

    @property
    def shadow(self) -> str:
        return _short(f"_{self.table}_sqlops_new")

    @property
    def old(self) -> str:
        return _short(f"_{self.table}_sqlops_old")

    def trigger(self, event: str) -> str:
        return _short(f"{self.table}_sqlops_copy_{event}")

    @property
    def fingerprint(self) -> str:
        """Identifies the target definition, so a resume never continues a different change."""
        text = repr((self.job, self.table, self.alterations, self.computed, self.shadow_statements, self.key))
        return hashlib.sha1(text.encode()).hexdigest()


def _short(name: str) -> str:
    if len(name) <= 64:
        return name
    return name[:50] + "_" + hashlib.sha1(name.encode()).hexdigest()[:13]


CopyProgress = ChunkProgress


@dataclass
class CopyResult:
    table: str
    rows_copied: int
    cap: int
    seconds: float
    chunks: int
    resumed: bool
    verified_rows: int
    kept_old: str | None
    statements: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------------------------
# State


@dataclass(frozen=True)
class CopyState:
    job: str
    shadow: str
    old: str
    phase: str
    spec_hash: str
    cap: int | None
    copied_up_to: int
    rows_copied: int


def read_state(session: Session, table: str) -> CopyState | None:
    if STATE_TABLE not in existing_tables(session):
        return None
    rows = session.query(
        f"SELECT job, shadow_name, old_name, phase, spec_hash, cap_id, copied_up_to, rows_copied "
        f"FROM {STATE_TABLE} WHERE table_name = %s",
        (table,),
    )
    if not rows:
        return None
    job, shadow, old, phase, spec_hash, cap, copied, rows_copied = rows[0]
    return CopyState(
        job,
        shadow,
        old,
        phase,
        spec_hash,
        None if cap is None else int(cap),
        int(copied),
        int(rows_copied),
    )


# --------------------------------------------------------------------------------------------
# Steps (pure once the live table is known)


def _copied_columns(spec: CopySpec, source: tuple[str, ...]) -> list[tuple[str, str]]:
    """(shadow column, expression over {row}) for every column the shadow receives."""
    computed = dict(spec.computed)
    out = [(c, computed.pop(c, f"{{row}}.{quote_ident(c)}")) for c in source]
    out += list(computed.items())
    return out


def _select_list(columns: list[tuple[str, str]], row: str) -> str:
    return ", ".join(expr.format(row=row) for _, expr in columns)


def _column_list(columns: list[tuple[str, str]]) -> str:
    return ", ".join(quote_ident(c) for c, _ in columns)


def _where_table(spec: CopySpec) -> str:
    return f"WHERE table_name = {quote_string(spec.table)}"


def _lock_tables(spec: CopySpec) -> tuple[str, ...]:
    return (spec.table, spec.shadow, spec.old)


def _setup_statements(spec: CopySpec, source: tuple[str, ...]) -> list[Statement]:
    t, shadow = quote_ident(spec.table), quote_ident(spec.shadow)
    columns = _copied_columns(spec, source)
    names = _column_list(columns)
    key = quote_ident(spec.key)
    statements = [Statement(f"CREATE TABLE {shadow} LIKE {t}", f"shadow table for {spec.table}")]
    for clause in spec.alterations:
        statements.append(
            Statement(
                f"ALTER TABLE {shadow} {clause.format(shadow=shadow)}",
                "give the (empty, so instant) shadow the target definition",
            )
        )
    for sql, reason in spec.shadow_statements:
        statements.append(Statement(sql.format(shadow=shadow), reason))
    new_values = _select_list(columns, "NEW")
    statements += [
        Statement(
            f"CREATE TRIGGER {quote_ident(spec.trigger('ins'))} AFTER INSERT ON {t} FOR EACH ROW "
            f"REPLACE INTO {shadow} ({names}) VALUES ({new_values})",
            "mirror new rows into the shadow while the copy runs",
        ),
        Statement(
            f"CREATE TRIGGER {quote_ident(spec.trigger('upd'))} AFTER UPDATE ON {t} FOR EACH ROW "
            f"BEGIN DELETE FROM {shadow} WHERE {key} = OLD.{key}; "
            f"REPLACE INTO {shadow} ({names}) VALUES ({new_values}); END",
            "mirror updates (a changed key or partition column moves the row)",
        ),
        Statement(
            f"CREATE TRIGGER {quote_ident(spec.trigger('del'))} AFTER DELETE ON {t} FOR EACH ROW "
            f"DELETE FROM {shadow} WHERE {key} = OLD.{key}",
            "mirror deletes",
        ),
    ]
    return statements


def _record_start(spec: CopySpec) -> StateWrite:
    values = ", ".join(
        quote_string(v) for v in (spec.table, spec.job, spec.shadow, spec.old, "copying", spec.fingerprint)
    )
    return StateWrite(
        (
            Statement(
                f"DELETE FROM {STATE_TABLE} {_where_table(spec)}", "forget an earlier copy of this table"
            ),
            Statement(
                f"INSERT INTO {STATE_TABLE} (table_name, job, shadow_name, old_name, phase, spec_hash, "
                f"copied_up_to, rows_copied, started_at, updated_at) "
                f"VALUES ({values}, 0, 0, UTC_TIMESTAMP(3), UTC_TIMESTAMP(3))",
                "record the copy, so a crashed run resumes it",
            ),
        ),
        what=f"recording the copy of {spec.table}",
    )


def _record_cap(spec: CopySpec) -> StateWrite:
    key, t = quote_ident(spec.key), quote_ident(spec.table)
    return StateWrite(
        (
            Statement(
                f"UPDATE {STATE_TABLE} SET cap_id = (SELECT COALESCE(MAX({key}), 0) FROM {t}), "
                f"updated_at = UTC_TIMESTAMP(3) {_where_table(spec)}",
                "the copy stops at the highest id that existed once the triggers were in place "
                "(higher ones are the triggers' to copy)",
            ),
        ),
        what=f"recording the cap of the copy of {spec.table}",
    )


def _copy_step(spec: CopySpec, source: tuple[str, ...], low: int, rows_before: int) -> Chunked:
    """Copy the key range (@sqlops_low, @sqlops_high]; rows the triggers already wrote are left
    as they are, and only rows inserted by this chunk count (`key = key` on duplicates)."""
    columns = _copied_columns(spec, source)
    key, shadow = quote_ident(spec.key), quote_ident(spec.shadow)
    copy = Statement(
        f"INSERT INTO {shadow} ({_column_list(columns)}) "
        f"SELECT {_select_list(columns, 'src')} FROM {quote_ident(spec.table)} AS src "
        f"WHERE src.{key} > {LOW} AND src.{key} <= {HIGH} LOCK IN SHARE MODE "
        f"ON DUPLICATE KEY UPDATE {key} = {shadow}.{key}",
        "copy the chunk's rows",
    )
    progress = (
        Statement(f"SET {ROWS} = ROW_COUNT()", "rows this chunk inserted"),
        Statement(
            f"UPDATE {STATE_TABLE} SET copied_up_to = {HIGH}, rows_copied = rows_copied + {ROWS}, "
            f"updated_at = UTC_TIMESTAMP(3) {_where_table(spec)}",
            "commit the progress with the rows",
        ),
    )
    return Chunked(
        reason=f"copy the existing rows of {spec.table}",
        table=spec.table,
        key=spec.key,
        low=low,
        cap_sql=f"SELECT cap_id FROM {STATE_TABLE} {_where_table(spec)}",
        statements=(copy, *progress),
        sizing=ChunkSizing(spec.initial_chunk_rows, spec.max_chunk_rows, spec.chunk_seconds),
        attempts=10,
        rows_before=rows_before,
    )


def _checksum_sql(table: str, expressions: list[str]) -> str:
    # ISNULL() before each value keeps NULL and '' apart inside CONCAT_WS; SUM of CRC32 does
    # not depend on row order.
    parts = ", ".join(f"ISNULL({e}), {e}" for e in expressions)
    return f"SELECT COUNT(*), COALESCE(SUM(CRC32(CONCAT_WS('#', {parts}))), 0) FROM {table} AS src"


_BINARY_TYPES = {"binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob", "bit"}
_TEXT_TYPES = {"char", "varchar", "tinytext", "text", "mediumtext", "longtext", "enum", "set"}


def _comparable(expression: str, base_type: str | None) -> str:
    """Both sides of the checksum as the same bytes: text in utf8mb4 whatever its charset on
    either side (a latin1 column copied into utf8mb4 is equal), binary as hex."""
    if base_type in _BINARY_TYPES:
        return f"HEX({expression})"
    if base_type in _TEXT_TYPES:
        return f"CONVERT({expression} USING utf8mb4)"
    return expression


def _verify_step(spec: CopySpec, table: Table) -> Verify:
    """Count and checksum both tables in one consistent snapshot (the triggers write in the
    same transaction as the source change, so a snapshot sees both or neither). Each column is
    compared by its source type (copies only widen within a type family); a computed column
    has no source type and is compared as it is."""
    columns = _copied_columns(spec, table.column_names)
    computed = dict(spec.computed)

    def kind(name: str) -> str | None:
        col = table.column(name)
        return None if name in computed or col is None else col.base_type

    src_sql = _checksum_sql(
        quote_ident(spec.table), [_comparable(e.format(row="src"), kind(c)) for c, e in columns]
    )
    dst_sql = _checksum_sql(
        quote_ident(spec.shadow), [_comparable(f"src.{quote_ident(c)}", kind(c)) for c, _ in columns]
    )
    return Verify(f"the copy of {spec.table}", src_sql, dst_sql)


def _swap_step(spec: CopySpec) -> Swap:
    t, shadow, old = quote_ident(spec.table), quote_ident(spec.shadow), quote_ident(spec.old)
    return Swap(
        (Statement(f"RENAME TABLE {t} TO {old}, {shadow} TO {t}", "swap the tables atomically"),),
        _lock_tables(spec),
    )


def _record_phase(spec: CopySpec, phase: str) -> StateWrite:
    return StateWrite(
        (
            Statement(
                f"UPDATE {STATE_TABLE} SET phase = {quote_string(phase)}, updated_at = UTC_TIMESTAMP(3) "
                f"{_where_table(spec)}",
                "record the swap: a crash from here on only finishes the clean-up",
            ),
        ),
        what=f"recording the swap of {spec.table}",
    )


def _cleanup_steps(spec: CopySpec, *, old_exists: bool) -> list[Step]:
    drops = [
        Statement(f"DROP TRIGGER IF EXISTS {quote_ident(spec.trigger(e))}", "remove the mirror trigger")
        for e in ("ins", "upd", "del")
    ]
    if not spec.keep_old and old_exists:
        drops.append(
            Statement(f"DROP TABLE {quote_ident(spec.old)}", f"drop the old copy of {spec.table} (verified)")
        )
    return [Ddl(tuple(drops), _lock_tables(spec)), _forget(spec)]


def _forget(spec: CopySpec) -> StateWrite:
    return StateWrite(
        (Statement(f"DELETE FROM {STATE_TABLE} {_where_table(spec)}", f"forget the copy of {spec.table}"),),
        what=f"forgetting the copy of {spec.table}",
    )


# --------------------------------------------------------------------------------------------
# The plan: the steps still to run, from the recorded progress


@dataclass(frozen=True)
class CopyPlan:
    job: str
    target: str
    steps: tuple[Step, ...]
    notes: tuple[str, ...]
    resumed: bool
    state: CopyState | None

    def render(self) -> Plan:
        return render_steps(self.job, self.target, self.steps, self.notes)


def _mirror_triggers_present(spec: CopySpec, table: Table) -> bool:
    wanted = {spec.trigger(e) for e in ("ins", "upd", "del")}
    return wanted <= {t.name for t in table.triggers}


def copy_plan(session: Session, spec: CopySpec) -> CopyPlan:
    """Read the progress and the live table (read-only) and return the steps that run (or
    finish) the copy: what ``--dry-run`` renders and :func:`run_online_copy` sends."""
    present = existing_tables(session)
    state = read_state(session, spec.table)
    target = f"{session.database}.{spec.table}"
    steps: list[Step] = []
    if STATE_TABLE not in present:
        steps.append(Ddl((state_table_statement(STATE_TABLE),)))
    if state is not None and state.spec_hash != spec.fingerprint:
        raise PreconditionError(
            f"an unfinished {state.job} of {spec.table} with a different target exists",
            why=f"{STATE_TABLE} has a copy in phase {state.phase!r} for another definition",
            fix=f"finish it with the command that started it, or undo it with `--abort` ({state.job})",
        )
    if state is not None and state.phase == "swapped":
        steps += _cleanup_steps(spec, old_exists=spec.old in present)
        return CopyPlan(
            spec.job,
            target,
            tuple(steps),
            (f"the copy of {spec.table} was swapped in: finishing",),
            True,
            state,
        )
    table = inspect_table(session, spec.table)
    if table is None:
        raise PreconditionError(f"table {spec.table!r} does not exist in {session.database!r}")
    if table.column(spec.key) is None:
        raise PreconditionError(f"table {spec.table!r} has no column {spec.key!r} to copy by")
    source = table.column_names
    resumed = state is not None and spec.shadow in present and _mirror_triggers_present(spec, table)
    if resumed:
        assert state is not None
        low, before = state.copied_up_to, state.rows_copied
    else:
        if state is not None:
            log.warning("an unfinished copy of %s lost its shadow or triggers; starting over", spec.table)
            steps.append(Ddl(_abort_statements(spec, table, present), _lock_tables(spec)))
        elif spec.shadow in present:
            raise PreconditionError(
                f"table {spec.shadow!r} exists but no copy is recorded for {spec.table}",
                fix=f"drop it if it is a leftover (DROP TABLE {quote_ident(spec.shadow)}), then retry",
            )
        steps += [
            _record_start(spec),
            Ddl(tuple(_setup_statements(spec, source)), _lock_tables(spec)),
            _record_cap(spec),
        ]
        low, before = 0, 0
    steps += [
        _copy_step(spec, source, low, before),
        _verify_step(spec, table),
        _swap_step(spec),
        _record_phase(spec, "swapped"),
        *_cleanup_steps(spec, old_exists=True),
    ]
    notes = (
        f"online copy of {spec.table}: writers keep working; rows they write are mirrored by triggers",
        *((f"resuming the copy at {spec.key} = {low}",) if resumed else ()),
    )
    return CopyPlan(spec.job, target, tuple(steps), notes, resumed, state)


# --------------------------------------------------------------------------------------------
# Running


ProgressCallback = Callable[[CopyProgress], None]


def run_online_copy(
    session: Session,
    spec: CopySpec,
    *,
    progress: ProgressCallback | None = None,
    before_swap: Callable[[Session], None] | None = None,
    throttle: Callable[[], None] | None = None,
    plan: CopyPlan | None = None,
) -> CopyResult:
    """Run (or resume) the copy to the end: the steps of :func:`copy_plan` (or `plan`, built
    under the same lock). `session` should be a maintenance session (short lock_wait_timeout);
    the caller holds the job's named lock. `throttle` is called before every chunk."""
    plan = plan or copy_plan(session, spec)
    if plan.resumed and plan.state is not None and plan.state.phase != "swapped":
        log.info("resuming the copy of %s at %s = %s", spec.table, spec.key, plan.state.copied_up_to)
    hooks = StepHooks(progress=progress, throttle=throttle, before_swap=before_swap)
    done = run_steps(session, spec.job, plan.target, plan.steps, hooks=hooks)
    state = plan.state
    already = state.rows_copied if state is not None and plan.resumed else 0
    if state is not None and state.phase == "swapped":
        return CopyResult(
            spec.table, state.rows_copied, state.cap or 0, 0.0, 0, True, 0, None, done.statements
        )
    return CopyResult(
        table=spec.table,
        rows_copied=already + done.rows,
        cap=done.cap,
        seconds=done.seconds,
        chunks=done.chunks,
        resumed=plan.resumed,
        verified_rows=done.verified_rows,
        kept_old=spec.old if spec.keep_old else None,
        statements=done.statements,
    )


# --------------------------------------------------------------------------------------------
# Abort


def _abort_statements(spec: CopySpec, table: Table | None, present: set[str]) -> tuple[Statement, ...]:
    triggers = {t.name for t in table.triggers} if table is not None else set()
    statements = [
        Statement(f"DROP TRIGGER IF EXISTS {quote_ident(spec.trigger(e))}", "remove the mirror trigger")
        for e in ("ins", "upd", "del")
        if spec.trigger(e) in triggers
    ]
    if spec.shadow in present:
        statements.append(Statement(f"DROP TABLE IF EXISTS {quote_ident(spec.shadow)}", "remove the shadow"))
    return tuple(statements)


def abort_plan(session: Session, spec: CopySpec) -> Plan:
    """The statements that undo an unfinished copy, for the objects that exist (read-only)."""
    present = existing_tables(session)
    statements = _abort_statements(spec, inspect_table(session, spec.table), present)
    state = read_state(session, spec.table)
    notes: tuple[str, ...] = ()
    if state is not None and state.phase == "swapped":
        notes = (
            f"the copy of {spec.table} was already swapped in: nothing to abort; run it again to finish",
        )
    elif not statements:
        notes = (f"nothing to abort: no unfinished copy of {spec.table}",)
    return Plan(spec.job, spec.table, statements, notes)


def abort_online_copy(session: Session, spec: CopySpec) -> list[str]:
    """Undo an unfinished copy: drop the triggers and the shadow, forget the progress. The
    original table is untouched. After the swap there is nothing to undo: finish instead.
    Returns the DDL sent (none when there was nothing to undo)."""
    state = read_state(session, spec.table)
    if state is not None and state.phase == "swapped":
        raise PreconditionError(
            f"the copy of {spec.table} was already swapped in; there is nothing left to abort",
            fix="run the command again without --abort to finish the clean-up",
        )
    present = existing_tables(session)
    drops = Ddl(_abort_statements(spec, inspect_table(session, spec.table), present), _lock_tables(spec))
    steps: list[Step] = [Ddl((state_table_statement(STATE_TABLE),))] if STATE_TABLE not in present else []
    steps += [drops, _forget(spec)] if drops.statements else [_forget(spec)]
    run_steps(session, spec.job, spec.table, steps)
    return [s.sql for s in drops.statements]
