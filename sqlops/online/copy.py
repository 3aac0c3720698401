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

Progress lives in ``sqlops_online_copy`` and each chunk commits its progress in the same
transaction as its rows, so a crashed run resumes exactly where it stopped; ``abort`` drops the
triggers and the shadow and leaves the original untouched. Every DDL goes through
:func:`sqlops.plan.execute`, which waits for open transactions without queueing writers.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlops.db import Session, quote_ident, retry_transaction, utc_now
from sqlops.errors import PreconditionError
from sqlops.plan import LockWait, Plan, Statement, execute
from sqlops.schema.inspect import table_exists
from sqlops.schema.state import ensure_state_table

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


@dataclass
class CopyProgress:
    cap: int
    copied_up_to: int
    rows_copied: int
    chunk_rows: int
    seconds: float


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
# Planning (pure once the live columns are known)


def _source_columns(session: Session, table: str) -> list[str]:
    return [
        r[0]
        for r in session.query(
            "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() "
            "AND TABLE_NAME = %s ORDER BY ORDINAL_POSITION",
            (table,),
        )
    ]


def _copied_columns(spec: CopySpec, source: list[str]) -> list[tuple[str, str]]:
    """(shadow column, expression over {row}) for every column the shadow receives."""
    computed = dict(spec.computed)
    out = [(c, computed.pop(c, f"{{row}}.{quote_ident(c)}")) for c in source]
    out += list(computed.items())
    return out


def _select_list(columns: list[tuple[str, str]], row: str) -> str:
    return ", ".join(expr.format(row=row) for _, expr in columns)


def _column_list(columns: list[tuple[str, str]]) -> str:
    return ", ".join(quote_ident(c) for c, _ in columns)


def _setup_statements(spec: CopySpec, source: list[str]) -> list[Statement]:
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


def _copy_statement(spec: CopySpec, source: list[str], low: str = "%s", high: str = "%s") -> str:
    """Copy the key range (low, high]; rows the triggers already wrote are left as they are."""
    columns = _copied_columns(spec, source)
    key = quote_ident(spec.key)
    return (
        f"INSERT INTO {quote_ident(spec.shadow)} ({_column_list(columns)}) "
        f"SELECT {_select_list(columns, 'src')} FROM {quote_ident(spec.table)} AS src "
        f"WHERE src.{key} > {low} AND src.{key} <= {high} LOCK IN SHARE MODE "
        f"ON DUPLICATE KEY UPDATE {key} = {quote_ident(spec.shadow)}.{key}"
    )


def _swap_statements(spec: CopySpec) -> list[Statement]:
    t, shadow, old = quote_ident(spec.table), quote_ident(spec.shadow), quote_ident(spec.old)
    out = [
        Statement(f"RENAME TABLE {t} TO {old}, {shadow} TO {t}", "swap the tables atomically"),
        *[
            Statement(f"DROP TRIGGER IF EXISTS {quote_ident(spec.trigger(e))}", "remove the mirror trigger")
            for e in ("ins", "upd", "del")
        ],
    ]
    if not spec.keep_old:
        out.append(Statement(f"DROP TABLE {old}", f"drop the old copy of {spec.table} (verified)"))
    return out


def plan_online_copy(session: Session, spec: CopySpec) -> Plan:
    """The whole copy as a reviewable script (``--dry-run``). The chunked copy is shown as one
    statement over the full key range; the run sends it in short chunks."""
    source = _source_columns(session, spec.table)
    if not source:
        raise PreconditionError(f"table {spec.table!r} does not exist in {session.database!r}")
    statements = _setup_statements(spec, source)
    key = quote_ident(spec.key)
    statements.append(
        Statement(
            f"SET @sqlops_cap = (SELECT MAX({key}) FROM {quote_ident(spec.table)})",
            "the copy stops at the highest id that existed once the triggers were in place",
        )
    )
    statements.append(
        Statement(
            _copy_statement(spec, source, "0", "@sqlops_cap"),
            f"copy the existing rows; sqlops sends this in chunks of about {spec.chunk_seconds} s "
            "each, committing its progress with every chunk",
        )
    )
    statements += _swap_statements(spec)
    notes = (
        f"online copy of {spec.table}: writers keep working; rows they write are mirrored by triggers",
        "the verification step (count + checksum in one consistent snapshot) runs before the swap",
    )
    return Plan(spec.job, f"{session.database}.{spec.table}", tuple(statements), notes)


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
    if not table_exists(session, STATE_TABLE):
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


def _triggers_of(session: Session, table: str) -> set[str]:
    return {
        r[0]
        for r in session.query(
            "SELECT TRIGGER_NAME FROM information_schema.TRIGGERS WHERE EVENT_OBJECT_SCHEMA = DATABASE() "
            "AND EVENT_OBJECT_TABLE = %s",
            (table,),
        )
    }


# --------------------------------------------------------------------------------------------
# Running


ProgressCallback = Callable[[CopyProgress], None]


def run_online_copy(
    session: Session,
    spec: CopySpec,
    *,
    progress: ProgressCallback | None = None,
    before_swap: Callable[[Session], None] | None = None,
    throttle: Callable[[], object] | None = None,
) -> CopyResult:
    """Run (or resume) the copy to the end. `session` should be a maintenance session
    (short lock_wait_timeout); the caller holds the job's named lock."""
    started = time.monotonic()
    ensure_state_table(session, STATE_TABLE)
    state = read_state(session, spec.table)
    resumed = False
    sent: list[str] = []

    if state is not None and state.spec_hash != spec.fingerprint:
        raise PreconditionError(
            f"an unfinished {state.job} of {spec.table} with a different target exists",
            why=f"{STATE_TABLE} has a copy in phase {state.phase!r} for another definition",
            fix=f"finish it with the command that started it, or undo it with `--abort` ({state.job})",
        )
    if state is not None and state.phase == "swapped":
        _finish_after_swap(session, spec, sent)
        return CopyResult(spec.table, state.rows_copied, state.cap or 0, 0.0, 0, True, 0, None, sent)

    source = _source_columns(session, spec.table)
    if not source:
        raise PreconditionError(f"table {spec.table!r} does not exist in {session.database!r}")
    if spec.key not in source:
        raise PreconditionError(f"table {spec.table!r} has no column {spec.key!r} to copy by")

    if state is not None and table_exists(session, spec.shadow) and _has_mirror_triggers(session, spec):
        resumed = True
        log.info("resuming the copy of %s at %s = %s", spec.table, spec.key, state.copied_up_to)
    else:
        if state is not None:
            log.warning("an unfinished copy of %s lost its shadow or triggers; starting over", spec.table)
            _drop_copy_objects(session, spec, sent)
        elif table_exists(session, spec.shadow):
            raise PreconditionError(
                f"table {spec.shadow!r} exists but no copy is recorded for {spec.table}",
                fix=f"drop it if it is a leftover (DROP TABLE {quote_ident(spec.shadow)}), then retry",
            )
        _record_start(session, spec)
        _execute_ddl(session, spec, _setup_statements(spec, source), sent)
        cap = session.scalar(f"SELECT MAX({quote_ident(spec.key)}) FROM {quote_ident(spec.table)}")
        session.execute(
            f"UPDATE {STATE_TABLE} SET cap_id = %s, updated_at = %s WHERE table_name = %s",
            (int(cap or 0), utc_now(), spec.table),
        )
        state = read_state(session, spec.table)
        assert state is not None

    cap = state.cap or 0
    chunks, rows_copied = _copy_chunks(session, spec, source, state, cap, started, progress, throttle)
    verified = verify_copy(session, spec, source)
    if before_swap:
        before_swap(session)
    _execute_ddl(session, spec, _swap_statements(spec)[:1], sent)
    session.execute(
        f"UPDATE {STATE_TABLE} SET phase = 'swapped', updated_at = %s WHERE table_name = %s",
        (utc_now(), spec.table),
    )
    _finish_after_swap(session, spec, sent)
    return CopyResult(
        table=spec.table,
        rows_copied=rows_copied,
        cap=cap,
        seconds=time.monotonic() - started,
        chunks=chunks,
        resumed=resumed,
        verified_rows=verified,
        kept_old=spec.old if spec.keep_old else None,
        statements=sent,
    )


def _execute_ddl(session: Session, spec: CopySpec, statements: list[Statement], sent: list[str]) -> None:
    """Run engine DDL (triggers, RENAME) so that writers never queue behind it for longer than
    `database.ddl_lock_wait` (see :class:`sqlops.plan.LockWait`)."""
    result = execute(
        session,
        Plan(spec.job, spec.table, tuple(statements)),
        allow_destructive=True,
        lock_wait=LockWait.for_tables(session.settings, spec.table, spec.shadow, spec.old),
    )
    sent += [e.statement.sql for e in result.executed]


def _has_mirror_triggers(session: Session, spec: CopySpec) -> bool:
    wanted = {spec.trigger(e) for e in ("ins", "upd", "del")}
    return wanted <= _triggers_of(session, spec.table)


def _record_start(session: Session, spec: CopySpec) -> None:
    now = utc_now()
    with session.transaction():
        session.execute(f"DELETE FROM {STATE_TABLE} WHERE table_name = %s", (spec.table,))
        session.execute(
            f"INSERT INTO {STATE_TABLE} (table_name, job, shadow_name, old_name, phase, spec_hash, "
            f"copied_up_to, rows_copied, started_at, updated_at) "
            f"VALUES (%s, %s, %s, %s, 'copying', %s, 0, 0, %s, %s)",
            (spec.table, spec.job, spec.shadow, spec.old, spec.fingerprint, now, now),
        )


def _copy_chunks(
    session: Session,
    spec: CopySpec,
    source: list[str],
    state: CopyState,
    cap: int,
    started: float,
    progress: ProgressCallback | None,
    throttle: Callable[[], object] | None = None,
) -> tuple[int, int]:
    """Copy (copied_up_to, cap] in chunks sized to take about `chunk_seconds` each."""
    key, table = quote_ident(spec.key), quote_ident(spec.table)
    copy_sql = _copy_statement(spec, source)
    last, rows_copied = state.copied_up_to, state.rows_copied
    chunk = spec.initial_chunk_rows
    chunks = 0
    # Locking reads in REPEATABLE READ take next-key locks, so a concurrent DELETE of a row
    # being copied waits for the chunk and its trigger then removes the copied row.
    session.execute("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
    while last < cap:
        if throttle is not None:
            throttle()  # e.g. wait while replicas lag (sqlops.cluster.lag)
        upper_rows = session.query(
            f"SELECT {key} FROM {table} WHERE {key} > %s AND {key} <= %s ORDER BY {key} LIMIT 1 OFFSET %s",
            (last, cap, chunk - 1),
        )
        upper = int(upper_rows[0][0]) if upper_rows else cap
        t0 = time.monotonic()
        copied = _copy_one_chunk(session, spec, copy_sql, last, upper, rows_copied)
        elapsed = time.monotonic() - t0
        last, rows_copied, chunks = upper, rows_copied + copied, chunks + 1
        # Aim each chunk at chunk_seconds: the writer's inserts can wait on the chunk's
        # auto-increment and gap locks for that long, never more.
        if elapsed > 0:
            scale = max(0.5, min(2.0, spec.chunk_seconds / elapsed))
            chunk = int(max(100, min(spec.max_chunk_rows, chunk * scale)))
        if progress:
            progress(CopyProgress(cap, last, rows_copied, chunk, time.monotonic() - started))
    return chunks, rows_copied


def _copy_one_chunk(session: Session, spec: CopySpec, copy_sql: str, low: int, high: int, before: int) -> int:
    def work() -> int:
        with session.raw.cursor() as cur:
            # With `key = key` on duplicates, only rows inserted by this chunk count.
            count = int(cur.execute(copy_sql, (low, high)))
            cur.execute(
                f"UPDATE {STATE_TABLE} SET copied_up_to = %s, rows_copied = %s, updated_at = %s "
                f"WHERE table_name = %s",
                (high, before + count, utc_now(), spec.table),
            )
        return count

    return retry_transaction(session, work, what=f"chunk {low}..{high}", attempts=10)


def _checksum_sql(table: str, expressions: list[str]) -> str:
    # ISNULL() before each value keeps NULL and '' apart inside CONCAT_WS; SUM of CRC32 does
    # not depend on row order.
    parts = ", ".join(f"ISNULL({e}), {e}" for e in expressions)
    return f"SELECT COUNT(*), COALESCE(SUM(CRC32(CONCAT_WS('#', {parts}))), 0) FROM {table} AS src"


_BINARY_TYPES = {"binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob", "bit"}
_TEXT_TYPES = {"char", "varchar", "tinytext", "text", "mediumtext", "longtext", "enum", "set"}


def _comparable(expression: str, data_type: str) -> str:
    """Both sides of the checksum as the same bytes: text in utf8mb4 whatever its charset on
    either side (a latin1 column copied into utf8mb4 is equal), binary as hex."""
    if data_type in _BINARY_TYPES:
        return f"HEX({expression})"
    if data_type in _TEXT_TYPES:
        return f"CONVERT({expression} USING utf8mb4)"
    return expression


def verify_copy(session: Session, spec: CopySpec, source: list[str]) -> int:
    """Count and checksum both tables in one consistent snapshot (the triggers write in the
    same transaction as the source change, so a snapshot sees both or neither)."""
    columns = _copied_columns(spec, source)
    types = dict(
        session.query(
            "SELECT COLUMN_NAME, DATA_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() "
            "AND TABLE_NAME = %s",
            (spec.shadow,),
        )
    )
    src_sql = _checksum_sql(
        quote_ident(spec.table), [_comparable(e.format(row="src"), types[c]) for c, e in columns]
    )
    dst_sql = _checksum_sql(
        quote_ident(spec.shadow), [_comparable(f"src.{quote_ident(c)}", types[c]) for c, _ in columns]
    )
    (src_count, src_sum), (dst_count, dst_sum) = retry_transaction(
        session,
        lambda: (session.query(src_sql)[0], session.query(dst_sql)[0]),
        what=f"verifying the copy of {spec.table}",
        attempts=5,
        start="START TRANSACTION WITH CONSISTENT SNAPSHOT",
    )
    if (src_count, src_sum) != (dst_count, dst_sum):
        raise PreconditionError(
            f"verification of the copy of {spec.table} failed: {src_count} rows (checksum {src_sum}) "
            f"in the table, {dst_count} rows (checksum {dst_sum}) in the shadow",
            why="something wrote to the shadow table, or a trigger was dropped during the copy",
            fix="nothing was swapped; undo with --abort and run the command again",
        )
    log.info("verified %s rows of %s (checksum %s)", src_count, spec.table, src_sum)
    return int(src_count)


def _finish_after_swap(session: Session, spec: CopySpec, sent: list[str]) -> None:
    statements = _swap_statements(spec)[1:]
    if not table_exists(session, spec.old):
        statements = [s for s in statements if not s.sql.startswith("DROP TABLE")]
    _execute_ddl(session, spec, statements, sent)
    session.execute(f"DELETE FROM {STATE_TABLE} WHERE table_name = %s", (spec.table,))


def _drop_copy_objects(session: Session, spec: CopySpec, sent: list[str]) -> None:
    plan = plan_abort_online_copy(session, spec)
    _execute_ddl(session, spec, list(plan.statements), sent)


def plan_abort_online_copy(session: Session, spec: CopySpec) -> Plan:
    """The statements that undo an unfinished copy, for the objects that exist (read-only)."""
    triggers = _triggers_of(session, spec.table)
    statements = [
        Statement(f"DROP TRIGGER IF EXISTS {quote_ident(spec.trigger(e))}", "remove the mirror trigger")
        for e in ("ins", "upd", "del")
        if spec.trigger(e) in triggers
    ]
    if table_exists(session, spec.shadow):
        statements.append(Statement(f"DROP TABLE IF EXISTS {quote_ident(spec.shadow)}", "remove the shadow"))
    state = read_state(session, spec.table)
    notes: tuple[str, ...] = ()
    if state is not None and state.phase == "swapped":
        notes = (
            f"the copy of {spec.table} was already swapped in: nothing to abort; run it again to finish",
        )
    elif not statements:
        notes = (f"nothing to abort: no unfinished copy of {spec.table}",)
    return Plan(spec.job, spec.table, tuple(statements), notes)


def abort_online_copy(session: Session, spec: CopySpec) -> list[str]:
    """Undo an unfinished copy: drop the triggers and the shadow, forget the progress. The
    original table is untouched. After the swap there is nothing to undo: finish instead.
    Returns the statements sent (none when there was nothing to undo)."""
    ensure_state_table(session, STATE_TABLE)
    state = read_state(session, spec.table)
    sent: list[str] = []
    if state is not None and state.phase == "swapped":
        raise PreconditionError(
            f"the copy of {spec.table} was already swapped in; there is nothing left to abort",
            fix="run the command again without --abort to finish the clean-up",
        )
    _drop_copy_objects(session, spec, sent)
    session.execute(f"DELETE FROM {STATE_TABLE} WHERE table_name = %s", (spec.table,))
    return sent
