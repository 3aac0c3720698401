"""`sqlops advise --apply`: the advised indexes as a Plan, run under a named lock.

:func:`plan_apply` is pure: one ``ALTER TABLE `db`.`t` ADD INDEX ..., ALGORITHM=INPLACE,
LOCK=NONE`` per index (online: reads and writes go on while the index builds), with a reason
naming the classes it serves; redundant indexes are never dropped here — they are *hidden*
(MySQL 8+ ``ALTER INDEX i INVISIBLE``, MariaDB >= 10.6 ``ALTER INDEX i IGNORED``), the safe first
step: the optimizer stops using the index at once, and ``VISIBLE`` / ``NOT IGNORED`` brings it
back instantly if something gets slower. The hide steps come after the additions, so a query
whose index is replaced by a wider one is never left without an index.
``sqlops.plan.render(plan)`` prints the plan for ``--dry-run``.

:func:`apply_plan` takes ``GET_LOCK('sqlops:advise:<db>.<table>')`` for every table the plan
changes, sets a short ``lock_wait_timeout`` for the session (restored afterwards) so an ALTER
waiting for a metadata lock gives up — and `plan.execute` retries — instead of queueing the
application behind it, and runs the plan through the one executor.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Sequence

from sqlops.advisor.model import DropAdvice, IndexAdvice
from sqlops.cluster.guard import job_lock
from sqlops.db import ServerInfo, Session, lock_name, qualified, quote_ident
from sqlops.plan import ExecutionResult, LockWait, Plan, Statement, execute

JOB = "advise"

# `ALTER TABLE `db`.`t` ...` as plan_apply writes it (identifiers with doubled backticks).
_TARGET = re.compile(r"^\s*ALTER\s+TABLE\s+`((?:[^`]|``)+)`\.`((?:[^`]|``)+)`", re.I)


def index_sql(schema_name: str, idx: IndexAdvice) -> str:
    """The online ADD INDEX statement for `idx`, qualified with the schema."""
    target = qualified(schema_name, idx.table)
    expected_head = f"ALTER TABLE {target} "
    if idx.ddl.startswith(expected_head) and "ALGORITHM=INPLACE" in idx.ddl and "LOCK=NONE" in idx.ddl:
        return idx.ddl.strip().rstrip(";")
    kind = "UNIQUE INDEX" if idx.unique else "INDEX"
    cols = ", ".join(p.sql() for p in idx.parts)
    return f"ALTER TABLE {target} ADD {kind} {quote_ident(idx.name)} ({cols}), ALGORITHM=INPLACE, LOCK=NONE"


def hide_sql(schema_name: str, drop: DropAdvice, info: ServerInfo) -> str:
    keyword = info.index_visibility_keyword
    return f"ALTER TABLE {qualified(schema_name, drop.table)} ALTER INDEX {quote_ident(drop.index)} {keyword}"


def can_hide(info: ServerInfo) -> bool:
    """MariaDB >= 10.6 has IGNORED indexes, MySQL >= 8.0 INVISIBLE ones."""
    return info.at_least(10, 6) if info.is_mariadb else info.at_least(8, 0)


def plan_apply(
    schema_name: str,
    indexes: Sequence[IndexAdvice],
    drops: Sequence[DropAdvice] = (),
    *,
    info: ServerInfo,
) -> Plan:
    """The advised indexes (then the hide steps for redundant ones) as a Plan (pure)."""
    statements: list[Statement] = []
    notes: list[str] = []
    for idx in indexes:
        served = ", ".join(idx.classes) or "no class"
        n = len(idx.classes)
        reason = (
            f"add index {idx.name} on {idx.table} ({', '.join(idx.columns)}) for "
            f"{n} class{'es' if n != 1 else ''} ({served}): {idx.reason}"
        )
        if idx.write_cost:
            reason += f"\nwrite cost: {idx.write_cost}"
        if idx.evidence is not None and idx.evidence.verified:
            reason += f"\nverified on a scratch copy: {idx.evidence.note}"
        statements.append(Statement(index_sql(schema_name, idx), reason))
    for drop in drops:
        if not can_hide(info):
            notes.append(
                f"{drop.table}.{drop.index} is {drop.kind} but {info.describe()} cannot hide an index "
                f"(needs MariaDB 10.6+ or MySQL 8.0+); drop it by hand after checking: {drop.drop_ddl}"
            )
            continue
        back = "NOT IGNORED" if info.is_mariadb else "VISIBLE"
        covered = f" (covered by {drop.covered_by})" if drop.covered_by else ""
        reason = (
            f"hide {drop.kind} index {drop.index} on {drop.table}{covered}: {drop.reason}\n"
            f"the optimizer stops using it now; undo with ALTER INDEX {quote_ident(drop.index)} {back}; "
            f"once nothing got slower, drop it: {drop.drop_ddl}"
        )
        statements.append(Statement(hide_sql(schema_name, drop, info), reason))
    return Plan(JOB, schema_name, tuple(statements), tuple(notes))


def plan_tables(plan: Plan) -> list[tuple[str, str]]:
    """(schema, table) of every statement's ALTER TABLE target, sorted (the lock order)."""
    out: set[tuple[str, str]] = set()
    for statement in plan.statements:
        m = _TARGET.match(statement.sql)
        if m:
            out.add((m.group(1).replace("``", "`"), m.group(2).replace("``", "`")))
        else:
            out.add((plan.target, "*"))
    return sorted(out)


def apply_plan(session: Session, plan: Plan, *, lock_wait: LockWait | None = None) -> ExecutionResult:
    """Run the plan under the per-table named locks, through the executor's lock waiting
    (database.ddl_lock_wait / ddl_deadline): an ALTER never queues the application's
    statements behind it while another session holds the table's metadata lock.

    Raises LockHeldError (exit 4) when another run holds a table's lock, PlanExecutionError when
    a statement fails (saying what already ran), LockWaitExpired at the deadline."""
    if not plan:
        return ExecutionResult(plan)
    tables = plan_tables(plan)
    wait = lock_wait or LockWait.for_tables(
        session.settings, *(t for s, t in tables if t != "*" and s == session.database)
    )
    with contextlib.ExitStack() as stack:
        for schema_name, table in tables:
            stack.enter_context(job_lock(session, lock_name(JOB, schema_name, table)))
        return execute(session, plan, lock_wait=wait)
