"""Proof for the advice (`sqlops advise --verify`): measure it on a scratch copy, keep what helps.

Nothing here touches the real tables except to read them. For each table an advice touches (and
every table and view the affected statements read, so joins and views work) a scratch schema
``sqlops_scratch_<random>`` gets ``CREATE TABLE ... LIKE`` and a copy of the rows — the whole
table up to `sample_rows`, else a sample spread over the whole table (``WHERE RAND() < f``; a
sampled big table joined to fully copied small tables keeps its joins). Views are recreated
over the scratch tables; triggers are not copied (``LIKE`` copies neither triggers nor foreign
keys). The scratch tables are analysed, the statements run with the scratch schema as default
database, and the scratch schema is dropped at the end — also after an error or Ctrl-C.

Each affected class is measured **before** (the copy as it is) and **after** (the advised index
added to the scratch copy, each index alone, then all of a table's indexes together):
``EXPLAIN FORMAT=JSON`` (chosen key and access type for the advised table, see
:mod:`sqlops.advisor.verify_explain`), then the statement executed `runs` times: rows examined is
the sum of the session's ``Handler_read_first/key/last/next/prev/rnd/rnd_next`` deltas (the same
measure on both servers), time the best run. MariaDB ``ANALYZE FORMAT=JSON`` / MySQL
``EXPLAIN ANALYZE`` runs once afterwards and its text is kept on the measurement.

An index is kept when, weighted by the classes' total time (or count), rows examined or time drop
to at most 90 % and no served class got more than 10 % (and 2 ms) slower. A time difference only
counts when the work changed (another plan or other rows examined): the same plan reading the
same rows is the same query, and a difference in its time is noise.

Rewrites run original and rewritten on the scratch data; the results are compared as multisets of
rows — in order only when the original has ORDER BY and no LIMIT (with a LIMIT, ties may be cut
differently by two correct plans, so order is not compared; neither is it when there is no ORDER
BY). A rewrite whose results differ is dropped with the reason. Rewrites with
``equivalent=False`` are measured but not compared; ``claims_speedup=False`` ones pass unmeasured.

DML (UPDATE/DELETE/INSERT ... SELECT) is measured through its read part, never executed.
"""

from __future__ import annotations

import contextlib
import logging
import math
import re
import secrets
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import pymysql
import sqlglot
from sqlglot import exp

from sqlops.advisor.model import (
    ClassEvidence,
    Evidence,
    IndexAdvice,
    Measurement,
    RewriteAdvice,
    WorkloadClass,
)
from sqlops.advisor.verify_explain import choose, parse_plan, uses_index
from sqlops.advisor.verify_sql import (
    Prepared,
    Slot,
    Unverifiable,
    aliases_of,
    fill,
    has_order_without_limit,
    prepare_statement,
    retarget,
)
from sqlops.db import Session, connect, errno_of, qualified, quote_ident
from sqlops.errors import PreconditionError, UsageError
from sqlops.plan import Plan, Statement, execute, tag
from sqlops.schema.inspect import inspect_schema
from sqlops.schema.model import IndexPart, Schema

log = logging.getLogger("sqlops.advisor.verify")

JOB = "advise-verify"
HANDLERS = (
    "Handler_read_first",
    "Handler_read_key",
    "Handler_read_last",
    "Handler_read_next",
    "Handler_read_prev",
    "Handler_read_rnd",
    "Handler_read_rnd_next",
)
GAIN = 0.9  # keep an index when rows examined or time fall to at most this fraction
SLOWER = 1.10  # a served class more than 10 % slower is a regression ...
FLOOR = 0.002  # ... and only when it is also this many seconds slower (noise on sub-ms queries)
TRADE_OFF_MAX = 3.0  # a class slowed more than this many times is never a trade-off
PAIRED_ROUNDS = 4  # a suspected regression is re-measured this many times hidden and visible
SPARES = 6  # per table: at most this many left-out candidates are measured as replacements
BYSTANDERS = 40  # per table: at most this many classes it does not serve are watched for regressions
STATEMENT_SECONDS = 300  # cap per measured statement on the scratch copy
LOOSE_SQL_MODE = "NO_ENGINE_SUBSTITUTION"  # copying legacy rows (zero dates) into LIKE copies


@dataclass(frozen=True)
class VerifyResult:
    indexes: tuple[IndexAdvice, ...]  # kept: helps=True, or verified=False when it could not be measured
    rejected: tuple[IndexAdvice, ...]  # measured and no gain or a regression (Evidence.note says which)
    rewrites: tuple[RewriteAdvice, ...]  # kept (evidence attached when measured)
    dropped_rewrites: tuple[RewriteAdvice, ...]  # results differed on the scratch copy (Evidence.note)
    scratch_schema: str  # "" when nothing needed a scratch schema
    notes: tuple[str, ...] = ()
    scratch_rows: Mapping[str, int] = field(default_factory=dict)  # table -> rows copied
    unverifiable: Mapping[str, str] = field(default_factory=dict)  # class id -> why it was not measured


def verify_advice(
    session: Session,
    schema: Schema,
    classes: Mapping[str, WorkloadClass],
    indexes: Sequence[IndexAdvice],
    rewrites: Sequence[RewriteAdvice],
    *,
    sample_rows: int = 100_000,
    runs: int = 3,
    progress: Callable[[str], None] | None = None,
    spares: Sequence[IndexAdvice] = (),
    budget: int = 5,
) -> VerifyResult:
    """Measure every index and rewrite on a scratch copy; see the module docstring.

    `spares`: ranked candidates the advice left out; measured to fill a table's free budget
    slots (up to `budget` kept per table) and to repair an index rejected only because it
    slows a class it does not serve, when a spare serves that class (see `_repair`)."""
    real_db = session.database or session.scalar("SELECT DATABASE()")
    if not real_db:
        raise UsageError(
            "verify needs the application's database",
            why="the session has no default database",
            fix="put the database in the DSN: mysql://user@host/squid",
        )
    measurable = [r for r in rewrites if _measurable(r)]
    if not indexes and not measurable:
        return VerifyResult((), (), tuple(rewrites), (), "", ("nothing to verify",))
    verifier = _Verifier(session, schema, classes, str(real_db), max(1, sample_rows), max(1, runs), progress)
    verifier.budget = max(1, budget)
    tables = {i.table.lower() for i in indexes}
    per_table: Counter[str] = Counter()
    for spare in spares:  # a bounded number per advised table: each costs a build on the copy
        if spare.table.lower() in tables and per_table[spare.table.lower()] < SPARES:
            per_table[spare.table.lower()] += 1
            verifier.spares.append(spare)
    with verifier.scratch():
        return verifier.run(indexes, rewrites)


def _measurable(r: RewriteAdvice) -> bool:
    return r.rewritten is not None and r.claims_speedup


@dataclass
class _Run:
    """One statement executed and measured."""

    measurement: Measurement
    rows: list[tuple[Any, ...]]


class _Verifier:
    def __init__(
        self,
        session: Session,
        schema: Schema,
        classes: Mapping[str, WorkloadClass],
        real_db: str,
        sample_rows: int,
        runs: int,
        progress: Callable[[str], None] | None,
    ) -> None:
        self.session = session
        self.schema = schema
        self.classes = classes
        self.real_db = real_db
        self.sample_rows = sample_rows
        self.runs = runs
        self.say = progress or (lambda _m: None)
        self.name = "sqlops_scratch_" + secrets.token_hex(4)
        self.copied: dict[str, int] = {}  # real table name -> rows copied
        self.views: dict[str, Any] = {}  # view name -> parsed body (for EXPLAIN aliases)
        self.notes: list[str] = []
        self.unverifiable: dict[str, str] = {}
        self.overhead: dict[str, int] = {}
        self.values: dict[Slot, list[Any]] = {}
        self.bystanders: dict[str, dict[str, Prepared]] = {}  # table (lower) -> class id -> statement
        self.watched_before: dict[tuple[str, str], Measurement] = {}  # (table, class id) -> before
        self.spares: list[IndexAdvice] = []
        self.budget = 5
        self.slowed: dict[tuple[str, str], list[ClassEvidence]] = {}  # (table, index) -> bystanders it slowed
        self.served_ok: dict[tuple[str, str], bool] = {}  # (table, index) -> helped its own classes
        self.regressed: dict[tuple[str, str], bool] = {}  # (table, index) -> slowed some class

    # ---------------------------------------------------------------- scratch schema lifecycle

    @contextlib.contextmanager
    def scratch(self) -> Iterator[None]:
        previous_db = self.session.scalar("SELECT DATABASE()")
        saved = self._save_variables()
        created = False
        try:
            self.say(f"verify: creating scratch schema {self.name}")
            try:
                self._ddl(f"CREATE DATABASE {quote_ident(self.name)}", "scratch schema for advise --verify")
            except Exception as exc:
                raise PreconditionError(
                    f"cannot create the scratch schema {self.name}",
                    why=str(exc).splitlines()[0],
                    fix="--verify needs CREATE and DROP on `sqlops_scratch_%` databases: "
                    "GRANT ALL ON `sqlops\\_scratch\\_%`.* TO the sqlops user",
                ) from exc
            created = True
            yield
        finally:
            if created:
                self._drop_scratch()
            with contextlib.suppress(Exception):
                self._restore_variables(saved, previous_db)

    def _drop_scratch(self) -> None:
        self.say(f"verify: dropping scratch schema {self.name}")
        try:
            self._ddl(f"DROP DATABASE IF EXISTS {quote_ident(self.name)}", "drop the scratch schema", True)
            return
        except BaseException as exc:  # a Ctrl-C mid-query leaves the pinned connection unusable
            log.warning(
                "dropping %s on the verify session failed (%s); using a new connection", self.name, exc
            )
        try:
            other = connect(self.session.settings, with_database=False)
        except Exception as exc:
            log.error("scratch schema %s is left behind (%s): DROP DATABASE it by hand", self.name, exc)
            return
        try:
            with contextlib.suppress(pymysql.MySQLError):
                other.execute(f"KILL QUERY {int(self.session.connection_id)}")
            other.execute("SET SESSION lock_wait_timeout = 60")
            other.execute(tag(JOB, f"DROP DATABASE IF EXISTS {quote_ident(self.name)}"))
        except Exception as exc:
            log.error("scratch schema %s is left behind (%s): DROP DATABASE it by hand", self.name, exc)
        finally:
            other.close()

    def _save_variables(self) -> dict[str, Any]:
        names = ["sql_mode", "foreign_key_checks"]
        names.append("max_statement_time" if self.session.info.is_mariadb else "max_execution_time")
        saved: dict[str, Any] = {}
        for name in names:
            with contextlib.suppress(pymysql.MySQLError):
                saved[name] = self.session.scalar(f"SELECT @@SESSION.{name}")
        return saved

    def _restore_variables(self, saved: Mapping[str, Any], previous_db: str | None) -> None:
        for name, value in saved.items():
            with contextlib.suppress(pymysql.MySQLError):
                self.session.execute(f"SET SESSION {name} = %s", (value,))
        if previous_db:
            self.session.execute(f"USE {quote_ident(previous_db)}")

    def _ddl(self, sql: str, reason: str, destructive: bool = False) -> None:
        plan = Plan(JOB, self.name, (Statement(sql, reason, destructive=destructive),))
        execute(self.session, plan, allow_destructive=destructive)

    # ---------------------------------------------------------------- the run

    def run(self, indexes: Sequence[IndexAdvice], rewrites: Sequence[RewriteAdvice]) -> VerifyResult:
        prepared: dict[str, Prepared] = {}
        wanted_ids = list(dict.fromkeys(c for i in indexes for c in i.classes))
        for cid in wanted_ids:
            p = self._prepare_class(cid)
            if p is not None:
                prepared[cid] = p
        for cid in dict.fromkeys(c for i in self.spares for c in i.classes):
            if cid not in prepared:
                with contextlib.suppress(Unverifiable):
                    if cid in self.classes:
                        prepared[cid] = self._prepare(self.classes[cid].example)
        self.bystanders = self._find_bystanders(indexes, prepared)
        rewrite_sql: dict[int, tuple[Prepared, Prepared] | str] = {}
        for n, r in enumerate(rewrites):
            if not _measurable(r):
                continue
            try:
                rewrite_sql[n] = (self._prepare(r.original), self._prepare(r.rewritten or ""))
            except Unverifiable as exc:
                rewrite_sql[n] = str(exc)

        sources: list[str] = [i.table for i in indexes] + [r.table for r in rewrites if _measurable(r)]
        sources += [i.table for i in self.spares]
        for p in prepared.values():
            sources.extend(p.sources)
        for watched in self.bystanders.values():
            for p in watched.values():
                sources.extend(p.sources)
        for pair in rewrite_sql.values():
            if not isinstance(pair, str):
                sources.extend(pair[0].sources + pair[1].sources)
        self._build(sources)
        self._refresh_rollups(rewrites)
        self._set_measuring_session()

        for cid, p in list(prepared.items()):
            try:
                self._fill(p)
            except Unverifiable as exc:
                self._unverifiable(cid, str(exc))
                del prepared[cid]
        for watched in self.bystanders.values():
            for cid, p in list(watched.items()):
                if cid in prepared:
                    continue  # served elsewhere: already filled
                try:
                    self._fill(p)
                except Unverifiable:
                    del watched[cid]  # only watched, never advised on: nothing to report

        kept, rejected = self._verify_indexes(indexes, prepared)
        kept_rw, dropped_rw = self._verify_rewrites(rewrites, rewrite_sql, indexes)
        return VerifyResult(
            tuple(kept),
            tuple(rejected),
            tuple(kept_rw),
            tuple(dropped_rw),
            self.name,
            tuple(self.notes),
            dict(self.copied),
            dict(self.unverifiable),
        )

    def _find_bystanders(
        self, indexes: Sequence[IndexAdvice], prepared: Mapping[str, Prepared]
    ) -> dict[str, dict[str, Prepared]]:
        """Per advised table, the heaviest classes that read it but no advised index serves.

        The optimizer may pick a new index for a statement it was not built for (an equality on a
        column that is not selective for this value, an index merge of an OR) and make that
        statement slower: such classes are measured before and after too, and an index that
        slows one down is rejected like one that slows a served class."""
        served: dict[str, set[str]] = {}
        for idx in indexes:
            served.setdefault(idx.table.lower(), set()).update(idx.classes)
        names: dict[str, set[str]] = {t: {t} for t in served}
        for view in self.schema.views.values():
            for base in self.schema.base_tables(view.name):
                if base.lower() in names:
                    names[base.lower()].add(view.name.lower())
        found: dict[str, dict[str, Prepared]] = {t: {} for t in served}
        for cls in sorted(self.classes.values(), key=lambda c: -self._weight(c.id)):
            text = cls.example.lower()
            tables = [
                t
                for t, ns in names.items()
                if cls.id not in served[t] and len(found[t]) < BYSTANDERS and any(n in text for n in ns)
            ]
            if not tables:
                continue
            try:
                p = prepared.get(cls.id) or self._prepare(cls.example)
            except Unverifiable:
                continue
            reads = {b.lower() for src in p.sources for b in self.schema.base_tables(src)}
            for t in tables:
                if t in reads:
                    found[t][cls.id] = p
        return {t: w for t, w in found.items() if w}

    def _unverifiable(self, cid: str, why: str) -> None:
        self.unverifiable[cid] = why
        self.notes.append(f"class {cid}: not measured: {why}")
        self.say(f"verify: class {cid} not measured: {why}")

    def _prepare(self, sql: str) -> Prepared:
        return prepare_statement(sql, self.schema, self.real_db, self.name)

    def _prepare_class(self, cid: str) -> Prepared | None:
        cls = self.classes.get(cid)
        if cls is None:
            self._unverifiable(cid, "the class is not in the workload given to verify")
            return None
        try:
            return self._prepare(cls.example)
        except Unverifiable as exc:
            self._unverifiable(cid, str(exc))
            return None

    # ---------------------------------------------------------------- building the copy

    def _build(self, sources: Sequence[str]) -> None:
        tables: list[str] = []
        views: list[str] = []

        def visit(name: str, depth: int = 0) -> None:
            table = self.schema.table(name)
            if table is not None:
                if table.name not in tables:
                    tables.append(table.name)
                return
            view = self.schema.view(name)
            if view is None or view.name in views or depth > 16:
                return
            for base in view.base_tables:
                visit(base, depth + 1)
            views.append(view.name)  # after its bases: creation order

        for name in sources:
            visit(name)
        self.session.execute("SET SESSION sql_mode = %s", (LOOSE_SQL_MODE,))
        self.session.execute("SET SESSION foreign_key_checks = 0")
        for name in tables:
            self._copy_table(name)
        self.session.execute(f"USE {quote_ident(self.name)}")
        for name in views:
            self._create_view(name)
        if tables:
            self.session.query(
                tag(JOB, "ANALYZE TABLE " + ", ".join(qualified(self.name, t) for t in tables))
            )

    def _refresh_rollups(self, rewrites: Sequence[RewriteAdvice]) -> None:
        """A rollup rewrite is compared on equal data: the scratch rollup is rebuilt from the
        scratch log rows the way `sqlops rollup refresh` counts them (the copied rollup rows
        would belong to log rows the sample does not hold)."""
        from sqlops.rollup.daily import merge_sql

        done: set[str] = set()
        for r in rewrites:
            if r.kind != "rollup" or not r.rewritten or self.schema.table(r.table) is None:
                continue
            before = {t.name.lower() for t in sqlglot.parse_one(r.original, read="mysql").find_all(exp.Table)}
            after = sqlglot.parse_one(r.rewritten, read="mysql").find_all(exp.Table)
            for name in {t.name for t in after if t.name.lower() not in before} - done:
                target = self.schema.table(name)
                if target is None:
                    continue
                done.add(name)
                self.session.execute(tag(JOB, f"DELETE FROM {quote_ident(target.name)}"))
                self.session.execute(tag(JOB, merge_sql(r.table, target.name, "TRUE")))
                self.notes.append(
                    f"{target.name} rebuilt on the scratch copy from its {r.table} rows (as `sqlops rollup "
                    "refresh` counts them), so rollup rewrites are compared on the same data"
                )

    def _copy_table(self, name: str) -> None:
        table = self.schema.table(name)
        # rows and columns as they are now, on the real table
        live = inspect_schema(self.session, tables=[name], schema=self.real_db).tables.get(name)
        estimate = table.rows if table is not None and table.rows else 0
        if not estimate and live is not None:
            estimate = live.rows or 0
        self._ddl(
            f"CREATE TABLE {qualified(self.name, name)} LIKE {qualified(self.real_db, name)}",
            f"scratch copy of {name}",
        )
        columns = [quote_ident(c.name) for c in (live.columns if live else ()) if not c.generated]
        cols = ", ".join(columns)
        source = qualified(self.real_db, name)
        if estimate <= self.sample_rows:
            where, how = "", "whole table"
        else:
            fraction = self.sample_rows / estimate
            where, how = (
                f" WHERE RAND() < {fraction:.8f}",
                f"sample of about {self.sample_rows} of ~{estimate}",
            )
        self.say(f"verify: copying {name} ({how})")
        self.session.execute(
            tag(JOB, f"INSERT INTO {qualified(self.name, name)} ({cols}) SELECT {cols} FROM {source}{where}")
        )
        self.copied[name] = int(
            self.session.scalar(f"SELECT COUNT(*) FROM {qualified(self.name, name)}") or 0
        )

    def _create_view(self, name: str) -> None:
        view = self.schema.view(name)
        assert view is not None
        algorithm = ""
        with contextlib.suppress(pymysql.MySQLError, IndexError):
            create = str(self.session.query(f"SHOW CREATE VIEW {qualified(self.real_db, name)}")[0][1])
            m = re.search(r"\bALGORITHM\s*=\s*(MERGE|TEMPTABLE)\b", create, re.I)
            algorithm = f"ALGORITHM={m.group(1).upper()} " if m else ""
        bodies: list[str] = []
        try:
            tree = sqlglot.parse_one(view.sql, read="mysql")
            retarget(tree, self.real_db, self.name)
            bodies.append(tree.sql(dialect="mysql"))
            self.views[name] = tree
        except sqlglot.errors.SqlglotError:
            pass
        # The servers print definitions fully qualified with backticks: a textual retarget is the
        # fallback when sqlglot cannot reproduce the definition faithfully.
        bodies.append(view.sql.replace(quote_ident(self.real_db) + ".", quote_ident(self.name) + "."))
        error: BaseException | None = None
        for body in bodies:
            try:
                self._ddl(
                    f"CREATE {algorithm}VIEW {qualified(self.name, name)} AS {body}",
                    f"view {name} over the scratch tables",
                )
                return
            except Exception as exc:
                error = exc
        self.notes.append(f"view {name} could not be recreated on the scratch copy: {error}")

    def _set_measuring_session(self) -> None:
        saved_mode = "STRICT_TRANS_TABLES,NO_ENGINE_SUBSTITUTION"
        with contextlib.suppress(pymysql.MySQLError):
            saved_mode = str(self.session.scalar("SELECT @@GLOBAL.sql_mode"))
        # The application's statements run under the server's sql_mode, not our copy's loose one.
        self.session.execute("SET SESSION sql_mode = %s", (saved_mode,))
        if self.session.info.is_mariadb:
            with contextlib.suppress(pymysql.MySQLError):
                self.session.execute("SET SESSION query_cache_type = OFF")
            self.session.execute(f"SET SESSION max_statement_time = {STATEMENT_SECONDS}")
        else:
            self.session.execute(f"SET SESSION max_execution_time = {STATEMENT_SECONDS * 1000}")
        first = self._handlers()
        second = self._handlers()
        self.overhead = {k: second[k] - first[k] for k in HANDLERS}

    # ---------------------------------------------------------------- placeholders

    def _fill(self, p: Prepared) -> None:
        if p.slots:
            fill(p, self._value)

    def _value(self, slot: Slot, n: int) -> Any:
        if slot not in self.values:
            col = quote_ident(slot.column)
            try:
                rows = self.session.query(
                    tag(
                        JOB,
                        f"SELECT {col} FROM {qualified(self.name, slot.source)} WHERE {col} IS NOT NULL "
                        f"GROUP BY {col} ORDER BY COUNT(*) DESC, {col} LIMIT 8",
                    )
                )
            except pymysql.MySQLError as exc:
                raise Unverifiable(f"no value for {slot.source}.{slot.column}: {exc.args[-1]}") from None
            if not rows:
                raise Unverifiable(f"the scratch copy of {slot.source} has no value in {slot.column}")
            self.values[slot] = [r[0] for r in rows]
        values = self.values[slot]
        return values[n % len(values)]

    # ---------------------------------------------------------------- measuring

    def _handlers(self) -> dict[str, int]:
        rows = self.session.query("SHOW SESSION STATUS LIKE 'Handler_read%'")
        got = {str(k): int(v) for k, v in rows}
        return {k: got.get(k, 0) for k in HANDLERS}

    def _aliases(self, p: Prepared, table: str) -> set[str]:
        return aliases_of(table, [p.tree, *self.views.values()])

    def _measure(self, p: Prepared, table: str, prefer_key: str | None = None) -> _Run:
        sql = p.sql()
        try:
            explain = str(self.session.scalar(tag(JOB, "EXPLAIN FORMAT=JSON " + sql)) or "")
            examined = 0
            best = math.inf
            result: list[tuple[Any, ...]] = []
            for attempt in range(self.runs):
                h0 = self._handlers()
                started = time.perf_counter()
                rows = self.session.query(tag(JOB, sql))
                seconds = time.perf_counter() - started
                h1 = self._handlers()
                if attempt == 0:
                    examined = sum(max(0, h1[k] - h0[k] - self.overhead.get(k, 0)) for k in HANDLERS)
                    result = rows
                best = min(best, seconds)
        except pymysql.MySQLError as exc:
            raise Unverifiable(
                f"the server refused it on the scratch copy: ({errno_of(exc)}) {exc.args[-1]}"
            ) from None
        analyze = self._analyze(sql)
        node = choose(parse_plan(explain), table, self._aliases(p, table), prefer_key)
        measurement = Measurement(
            rows_examined=examined,
            seconds=best,
            plan_key=node.key if node else None,
            plan_access=node.access if node else None,
            rows_returned=len(result),
            analyze=analyze,
        )
        return _Run(measurement, result)

    def _analyze(self, sql: str) -> str:
        head = "ANALYZE FORMAT=JSON " if self.session.info.is_mariadb else "EXPLAIN ANALYZE "
        try:
            rows = self.session.query(tag(JOB, head + sql))
        except pymysql.MySQLError as exc:
            return f"({head.strip()} failed: {exc.args[-1]})"
        return "\n".join(str(r[0]) for r in rows)

    def _scratch_rows_for(
        self, cids: Sequence[str], prepared: Mapping[str, Prepared], table: str
    ) -> dict[str, int]:
        names = {table.lower()}
        for cid in cids:
            p = prepared.get(cid)
            if p is None:
                continue
            for s in p.sources:
                names.update(t.lower() for t in self.schema.base_tables(s))
        return {t: n for t, n in self.copied.items() if t.lower() in names}

    # ---------------------------------------------------------------- indexes

    def _add_index(self, table: str, name: str, parts: Sequence[IndexPart], unique: bool) -> None:
        kind = "UNIQUE INDEX" if unique else "INDEX"
        cols = ", ".join(p.sql() for p in parts)
        self._ddl(
            f"ALTER TABLE {qualified(self.name, table)} ADD {kind} {quote_ident(name)} ({cols})",
            f"advised index {name} on the scratch copy of {table}",
        )
        self.session.query(tag(JOB, f"ANALYZE TABLE {qualified(self.name, table)}"))

    def _drop_index(self, table: str, name: str) -> None:
        self._ddl(
            f"ALTER TABLE {qualified(self.name, table)} DROP INDEX {quote_ident(name)}",
            f"remove advised index {name} from the scratch copy",
            True,
        )

    def _set_visible(self, table: str, names: Sequence[str], visible: bool) -> None:
        if self.session.info.is_mariadb:  # IGNORED indexes: MariaDB 10.6+
            state = "NOT IGNORED" if visible else "IGNORED"
        else:
            state = "VISIBLE" if visible else "INVISIBLE"
        for name in names:
            self._ddl(
                f"ALTER TABLE {qualified(self.name, table)} ALTER INDEX {quote_ident(name)} {state}",
                f"paired measurement: {name} {state.lower()} on the scratch copy",
            )

    def _paired(self, e: ClassEvidence, p: Prepared, table: str, names: Sequence[str]) -> ClassEvidence:
        """A suspected slowdown measured again, paired: the statement run with the new
        indexes hidden from the optimizer (MySQL INVISIBLE, MariaDB IGNORED: the plan of
        "before") and visible, alternating, seconds apart. The before figure was taken minutes
        earlier, and on a shared machine that alone can make a query look 10-20 % slower.
        Returns the evidence with the paired best times, which replace the earlier ones."""
        best = {True: math.inf, False: math.inf}
        try:
            for r in range(PAIRED_ROUNDS):
                for visible in (False, True) if r % 2 == 0 else (True, False):
                    self._set_visible(table, names, visible)
                    started = time.perf_counter()
                    self.session.query(tag(JOB, p.sql()))
                    best[visible] = min(best[visible], time.perf_counter() - started)
        except pymysql.MySQLError as exc:
            self.notes.append(f"class {e.class_id}: paired measurement failed ({exc}); the first one stands")
            return e
        finally:
            with contextlib.suppress(pymysql.MySQLError):
                self._set_visible(table, names, True)
        return replace(
            e,
            before=replace(e.before, seconds=best[False]),
            after=replace(e.after, seconds=best[True]),
        )

    def _confirm(self, e: ClassEvidence, p: Prepared, table: str, names: Sequence[str]) -> ClassEvidence:
        return self._paired(e, p, table, names) if _slower(e.before, e.after) else e

    def _verify_indexes(
        self, indexes: Sequence[IndexAdvice], prepared: dict[str, Prepared]
    ) -> tuple[list[IndexAdvice], list[IndexAdvice]]:
        before: dict[str, Measurement] = {}
        everything = [*indexes, *self.spares]
        for cid in list(dict.fromkeys(c for i in everything for c in i.classes)):
            p = prepared.get(cid)
            if p is None:
                continue
            table = next(i.table for i in everything if cid in i.classes)
            self.say(f"verify: measuring class {cid} before")
            try:
                before[cid] = self._measure(p, table).measurement
            except Unverifiable as exc:
                self._unverifiable(cid, str(exc))
                del prepared[cid]
        for table, watched in self.bystanders.items():
            self.say(f"verify: measuring {len(watched)} other class(es) reading {table} before")
            for cid, p in list(watched.items()):
                try:
                    self.watched_before[(table, cid)] = self._measure(p, table).measurement
                except Unverifiable:
                    del watched[cid]

        kept: list[IndexAdvice] = []
        rejected: list[IndexAdvice] = []
        by_table: dict[str, list[IndexAdvice]] = {}
        for idx in indexes:
            by_table.setdefault(idx.table.lower(), []).append(idx)
        for key, group in by_table.items():
            passed: list[IndexAdvice] = []
            failed: list[IndexAdvice] = []
            for idx in group:
                evidence = self._verify_index(idx, prepared, before)
                (passed if evidence.helps or not evidence.verified else failed).append(
                    replace(idx, evidence=evidence)
                )
            pool = [i for i in self.spares if i.table.lower() == key]
            for idx in failed:
                pair = self._repair(idx, pool, passed, prepared, before)
                if pair:
                    passed.extend(pair)
                else:
                    rejected.append(idx)
            passed += self._fill_slots(passed, pool, prepared, before)
            measured = [i for i in passed if i.evidence is not None and i.evidence.verified]
            if len(measured) > 1:
                for idx in self._together(measured, prepared, before):
                    passed = [i for i in passed if i.name != idx.name]
                    rejected.append(idx)
                passed += self._fill_slots(passed, pool, prepared, before)
            kept.extend(passed)
        order = {(i.table, i.name): n for n, i in enumerate(indexes)}
        kept.sort(key=lambda i: order.get((i.table, i.name), 0))
        return kept, rejected

    def _verify_index(
        self, idx: IndexAdvice, prepared: Mapping[str, Prepared], before: Mapping[str, Measurement]
    ) -> Evidence:
        served = [c for c in idx.classes if c in prepared and c in before]
        rows = self._scratch_rows_for(idx.classes, prepared, idx.table)
        missing = [c for c in idx.classes if c not in served]
        if self.schema.table(idx.table) is None or idx.table.lower() not in {t.lower() for t in self.copied}:
            return Evidence(
                False, False, (), rows, f"not measured: table {idx.table} is not in the scratch copy"
            )
        if not served:
            why = "; ".join(f"{c}: {self.unverifiable.get(c, 'not measurable')}" for c in missing)
            return Evidence(False, False, (), rows, f"not measured: no served class could run ({why})")
        self.say(f"verify: measuring {idx.name} on {idx.table} ({len(served)} class(es))")
        try:
            self._add_index(idx.table, idx.name, idx.parts, idx.unique)
        except Exception as exc:
            return Evidence(True, False, (), rows, f"the server refused the index on the scratch copy: {exc}")
        evidence: list[ClassEvidence] = []
        try:
            for cid in served:
                try:
                    after = self._measure(prepared[cid], idx.table, idx.name).measurement
                except Unverifiable as exc:
                    self.notes.append(f"class {cid} with {idx.name}: {exc}")
                    continue
                e = ClassEvidence(cid, prepared[cid].sql(), before[cid], after)
                evidence.append(self._confirm(e, prepared[cid], idx.table, [idx.name]))
            slowed = self._watched_regressions(idx.table, [idx.name])
        finally:
            self._drop_index(idx.table, idx.name)
        if not evidence:
            return Evidence(False, False, (), rows, "not measured: the statements failed with the index")
        helps, note = self._judge(evidence)
        self.slowed[(idx.table.lower(), idx.name)] = slowed
        self.served_ok[(idx.table.lower(), idx.name)] = helps
        self.regressed[(idx.table.lower(), idx.name)] = bool(slowed) or note.startswith("regression")
        if slowed:
            gain = sum(self._saved(e) for e in evidence)
            loss = -sum(self._saved(e) for e in slowed)
            listing = ", ".join(_regression(e) for e in slowed)
            if helps and gain > loss:
                note = (
                    f"trade-off: it also makes class(es) it does not serve slower ({listing}): "
                    f"{gain:.1f} s of the logged query time won against {loss:.1f} s lost; " + note
                )
            else:
                helps = False
                note = f"regression of classes it does not serve: {listing}; " + note
        if missing:
            note += f"; {len(missing)} served class(es) not measured"
        return Evidence(True, helps, tuple(evidence), rows, note)

    def _fill_slots(
        self,
        passed: Sequence[IndexAdvice],
        pool: list[IndexAdvice],
        prepared: Mapping[str, Prepared],
        before: Mapping[str, Measurement],
    ) -> list[IndexAdvice]:
        """Free budget slots (an advised index was rejected) go to the next spares that help."""
        added: list[IndexAdvice] = []
        while len(passed) + len(added) < self.budget and pool:
            spare = pool.pop(0)
            evidence = self._verify_index(spare, prepared, before)
            if evidence.verified and evidence.helps:
                self.say(f"verify: {spare.name} (left out at first) takes a free slot on {spare.table}")
                note = "left out at first (over the budget or below --min-gain), measured for a free slot: "
                added.append(replace(spare, evidence=replace(evidence, note=note + evidence.note)))
        return added

    def _repair(
        self,
        idx: IndexAdvice,
        pool: list[IndexAdvice],
        passed: Sequence[IndexAdvice],
        prepared: Mapping[str, Prepared],
        before: Mapping[str, Measurement],
    ) -> list[IndexAdvice]:
        """An index that helps its own classes but makes the optimizer read another class
        through it (a GROUP BY or ORDER BY on its first column, say, walked along the index with
        a row lookup each) may still be worth having when another index serves that class
        better: with both in place the optimizer takes that one. Partners are the kept indexes,
        then the spares, that serve the slowed classes; a spare must slow nothing alone (it
        need not win: a covering index walked in GROUP BY order reads as many entries as the
        scan did). The pair is kept when, together, no class is slower than before. Returns the
        indexes to add to the kept ones ([idx] or [idx, spare], with notes), or [] (rejected)."""
        key = (idx.table.lower(), idx.name)
        slowed = {e.class_id for e in self.slowed.get(key, [])}
        if not slowed or not self.served_ok.get(key) or len(passed) + 1 > self.budget:
            return []
        partners = [(p, True) for p in passed if slowed & set(p.classes)]
        if len(passed) + 2 <= self.budget:
            partners += [(p, False) for p in pool if slowed & set(p.classes)]
        for partner, kept in partners:
            evidence = partner.evidence
            if not kept:
                evidence = self._verify_index(partner, prepared, before)
                if not evidence.verified or self.regressed.get((partner.table.lower(), partner.name), True):
                    pool.remove(partner)
                    continue
            trial = [
                replace(idx, evidence=replace(idx.evidence, helps=True) if idx.evidence else None),
                partner,
            ]
            if self._together(trial, prepared, before):
                continue  # together some class is still slower: try the next partner
            names = ", ".join(sorted(slowed & set(partner.classes)))
            self.say(f"verify: {idx.name} kept with {partner.name}, which serves class(es) {names} better")
            old = idx.evidence
            idx_note = (
                f"kept together with {partner.name}: alone it slowed class(es) {', '.join(sorted(slowed))}, "
                f"which {partner.name} serves; together no class is slower than before"
                + (f"; alone: {old.note}" if old else "")
            )
            repaired = replace(idx, evidence=replace(old, helps=True, note=idx_note) if old else None)
            if kept:
                return [repaired]
            pool.remove(partner)
            note = f"added so that class(es) {names} do not take {idx.name}: " + (
                evidence.note if evidence else ""
            )
            # Kept for what it does together (the pair was measured): it helps in that sense.
            return [
                repaired,
                replace(partner, evidence=replace(evidence, helps=True, note=note) if evidence else None),
            ]
        return []

    def _watched_regressions(self, table: str, names: Sequence[str]) -> list[ClassEvidence]:
        """The classes that read `table` without being served on it and got slower with the
        indexes `names` (on the copy now) than before, confirmed by a paired measurement."""
        slowed: list[ClassEvidence] = []
        for cid, p in self.bystanders.get(table.lower(), {}).items():
            b = self.watched_before.get((table.lower(), cid))
            if b is None:
                continue
            try:
                a = self._measure(p, table).measurement
            except Unverifiable:
                continue
            e = self._confirm(ClassEvidence(cid, p.sql(), b, a), p, table, names)
            if _slower(e.before, e.after):
                slowed.append(e)
        return slowed

    def _together(
        self,
        group: Sequence[IndexAdvice],
        prepared: Mapping[str, Prepared],
        before: Mapping[str, Measurement],
    ) -> list[IndexAdvice]:
        """All of a table's indexes that passed alone, on the copy at once: the optimizer now
        chooses among them, and may choose one that makes a class slower than it was before any
        of them. The index the slowed statement's plan uses is rejected, and the rest measured
        again, until no class is slower. Returns the rejected indexes (with the evidence)."""
        table = group[0].table
        remaining = list(group)
        rejected: list[IndexAdvice] = []
        while len(remaining) > 1:
            served = list(
                dict.fromkeys(c for i in remaining for c in i.classes if c in prepared and c in before)
            )
            names = [i.name for i in remaining]
            self.say(f"verify: measuring {', '.join(names)} together on {table}")
            added: list[str] = []
            try:
                for idx in remaining:
                    try:
                        self._add_index(idx.table, idx.name, idx.parts, idx.unique)
                        added.append(idx.name)
                    except Exception as exc:
                        self.notes.append(f"{table}: {idx.name} could not be added with the others: {exc}")
                slowed: list[ClassEvidence] = []
                for cid in served:
                    with contextlib.suppress(Unverifiable):
                        after = self._measure(prepared[cid], table).measurement
                        e = self._confirm(
                            ClassEvidence(cid, prepared[cid].sql(), before[cid], after),
                            prepared[cid],
                            table,
                            added,
                        )
                        if _slower(e.before, e.after):
                            slowed.append(e)
                slowed.extend(self._watched_regressions(table, added))
            finally:
                for name in added:
                    self._drop_index(table, name)
            blamed = [
                i
                for i in remaining
                if -sum(self._saved(e) for e in slowed if uses_index(e.after.plan_key, i.name))
                > self._gain(i, {e.class_id for e in slowed})
            ]
            slowed_ids = {e.class_id for e in slowed}
            kept_anyway = [
                i
                for i in remaining
                if i not in blamed and any(uses_index(e.after.plan_key, i.name) for e in slowed)
            ]
            for i in kept_anyway if not blamed else ():  # the verdict of the last round only
                self.notes.append(
                    f"{table}: with the others, {i.name} makes "
                    + ", ".join(_regression(e) for e in slowed if uses_index(e.after.plan_key, i.name))
                    + f" — kept: it wins back more ({self._gain(i, slowed_ids):.1f} s) than that costs"
                )
            if not slowed:
                self.notes.append(f"{table}: {' + '.join(added)} together: no class slower than before")
                break
            if not blamed:
                if not kept_anyway:
                    self.notes.append(
                        f"{table}: {' + '.join(added)} together: "
                        + ", ".join(_regression(e) for e in slowed)
                        + " (the plans use none of them: kept)"
                    )
                break
            # One at a time, the one that wins least first: without it the others may be fine.
            for idx in sorted(blamed, key=lambda i: self._gain(i, slowed_ids))[:1]:
                remaining.remove(idx)
                why = ", ".join(_regression(e) for e in slowed if uses_index(e.after.plan_key, idx.name))
                old = idx.evidence
                note = f"regression with the table's other advised indexes: {why}" + (
                    f"; alone: {old.note}" if old else ""
                )
                rejected.append(
                    replace(
                        idx,
                        evidence=replace(old, helps=False, note=note)
                        if old
                        else Evidence(True, False, (), {}, note),
                    )
                )
                self.say(f"verify: {idx.name} rejected: {why}")
        return rejected

    def _saved(self, e: ClassEvidence) -> float:
        """Seconds of the class's logged time an index wins back (negative: costs), by the
        measured speed-up: total time x (1 - after / before). A class more than TRADE_OFF_MAX
        times slower counts as an unbounded loss: on a sample such a plan change (an index
        merge instead of a scan that stops at the LIMIT, a full index walk with row lookups) only
        grows with the real table — measured 15x on a 100k-row copy, 750x at 1M rows."""
        factor = e.after.seconds / max(e.before.seconds, 1e-9)
        if factor > TRADE_OFF_MAX:
            return -math.inf
        return self._weight(e.class_id) * (1 - factor)

    def _gain(self, idx: IndexAdvice, without: frozenset[str] | set[str] = frozenset()) -> float:
        """What the index won alone, over its classes other than `without` (the slowed ones,
        whose loss is weighed separately)."""
        if idx.evidence is None:
            return 0.0
        return sum(self._saved(e) for e in idx.evidence.classes if e.class_id not in without)

    def _weight(self, cid: str) -> float:
        cls = self.classes.get(cid)
        if cls is None:
            return 1.0
        return cls.total_time if cls.total_time > 0 else float(max(cls.count, 1))

    def _judge(self, evidence: Sequence[ClassEvidence]) -> tuple[bool, str]:
        total = sum(self._weight(e.class_id) for e in evidence) or 1.0
        rows_ratio = 0.0
        time_ratio = 0.0
        regressions: list[str] = []
        for e in evidence:
            b, a = e.before, e.after
            w = self._weight(e.class_id) / total
            same_work = (b.plan_key, b.plan_access, b.rows_examined) == (
                a.plan_key,
                a.plan_access,
                a.rows_examined,
            )
            r = (
                a.rows_examined / b.rows_examined
                if b.rows_examined
                else (1.0 if not a.rows_examined else 2.0)
            )
            t = 1.0 if same_work or abs(a.seconds - b.seconds) < FLOOR else a.seconds / max(b.seconds, 1e-9)
            rows_ratio += w * r
            time_ratio += w * t
            if _slower(b, a):
                regressions.append(_regression(e))
        b_rows = sum(e.before.rows_examined for e in evidence)
        a_rows = sum(e.after.rows_examined for e in evidence)
        b_time = sum(e.before.seconds for e in evidence)
        a_time = sum(e.after.seconds for e in evidence)
        plans = "; ".join(f"{e.class_id}: {_plan(e.before)} → {_plan(e.after)}" for e in evidence[:3]) + (
            " …" if len(evidence) > 3 else ""
        )
        summary = (
            f"rows examined {b_rows:,} → {a_rows:,}{_factor(b_rows, a_rows)}, best time {_ms(b_time)} → "
            f"{_ms(a_time)} over {len(evidence)} class{'es' if len(evidence) != 1 else ''} (EXPLAIN {plans})"
        )
        if regressions:
            # One index serves several classes: slower for one of them is acceptable only when the
            # logged query time it wins back on the others is larger than what that one loses.
            net = sum(self._saved(e) for e in evidence)
            if net > 0 and (rows_ratio <= GAIN or time_ratio <= GAIN):
                return True, (
                    f"trade-off: slower for {', '.join(regressions)}, but {net:.1f} s of the logged query "
                    f"time won back in all; " + summary
                )
            return False, "regression: " + ", ".join(regressions) + "; " + summary
        if rows_ratio <= GAIN or time_ratio <= GAIN:
            return True, summary
        return False, "no gain: " + summary

    # ---------------------------------------------------------------- rewrites

    def _verify_rewrites(
        self,
        rewrites: Sequence[RewriteAdvice],
        prepared: Mapping[int, tuple[Prepared, Prepared] | str],
        indexes: Sequence[IndexAdvice],
    ) -> tuple[list[RewriteAdvice], list[RewriteAdvice]]:
        kept: list[RewriteAdvice] = []
        dropped: list[RewriteAdvice] = []
        for n, r in enumerate(rewrites):
            pair = prepared.get(n)
            if pair is None:
                kept.append(r)
                continue
            if isinstance(pair, str):
                self.notes.append(f"rewrite {r.kind} for class {r.class_id}: not measured: {pair}")
                kept.append(replace(r, evidence=Evidence(False, False, note=f"not measured: {pair}")))
                continue
            evidence = self._verify_rewrite(r, pair, indexes)
            if evidence.classes and evidence.classes[0].same_result is False:
                dropped.append(replace(r, evidence=evidence))
                self.say(f"verify: rewrite {r.kind} for class {r.class_id} dropped: {evidence.note}")
            else:
                kept.append(replace(r, evidence=evidence))
        return kept, dropped

    def _verify_rewrite(
        self, r: RewriteAdvice, pair: tuple[Prepared, Prepared], indexes: Sequence[IndexAdvice]
    ) -> Evidence:
        original, rewritten = pair
        rows = {t: n for t, n in self.copied.items() if t.lower() == r.table.lower()}
        try:
            self._fill(original)
            self._fill(rewritten)
        except Unverifiable as exc:
            return Evidence(False, False, (), rows, f"not measured: {exc}")
        notes: list[str] = []
        added: str | None = None
        if r.needs_index:
            added, note = self._index_for(r, indexes)
            if note:
                notes.append(note)
        self.say(f"verify: measuring rewrite {r.kind} for class {r.class_id}")
        try:
            try:
                before = self._measure(original, r.table)
                after = self._measure(rewritten, r.table, added)
            except Unverifiable as exc:
                return Evidence(False, False, (), rows, f"not measured: {exc}")
        finally:
            if added is not None:
                self._drop_index(r.table, added)
        same: bool | None = None
        if r.equivalent:
            same, why = _compare(before.rows, after.rows, has_order_without_limit(r.original))
            if not same:
                ce = ClassEvidence(r.class_id, rewritten.sql(), before.measurement, after.measurement, False)
                return Evidence(True, False, (ce,), rows, f"dropped: {why}")
        else:
            notes.append("not result-compared: the rewrite changes the results on purpose")
        ce = ClassEvidence(r.class_id, rewritten.sql(), before.measurement, after.measurement, same)
        helps, summary = self._judge([ce])
        if same:
            notes.insert(0, "same result on the scratch copy")
        return Evidence(True, helps, (ce,), rows, "; ".join([summary, *notes]))

    def _index_for(self, r: RewriteAdvice, indexes: Sequence[IndexAdvice]) -> tuple[str | None, str]:
        """Add the advised index the rewrite needs to the scratch copy (name, note)."""
        need = [c.lower() for c in r.needs_index]
        table = self.schema.table(r.table)
        if table is not None and any(
            i.usable_for_lookups and set(need) <= {c.lower() for c in i.columns[: len(need)]}
            for i in table.indexes
        ):
            return None, ""
        for idx in indexes:
            if idx.table.lower() == r.table.lower() and set(need) <= {
                c.lower() for c in idx.columns[: len(need)]
            }:
                try:
                    self._add_index(idx.table, idx.name, idx.parts, idx.unique)
                except Exception as exc:
                    return None, f"advised index {idx.name} could not be added: {exc}"
                return (
                    idx.name,
                    f"measured with advised index {idx.name} ({', '.join(idx.columns)}) on the copy",
                )
        return None, f"no index on ({', '.join(r.needs_index)}) exists or is advised: measured without one"


def _compare(a: list[tuple[Any, ...]], b: list[tuple[Any, ...]], ordered: bool) -> tuple[bool, str]:
    if len(a) != len(b):
        return False, f"returned {len(b)} rows instead of {len(a)} on the scratch copy"
    if ordered:
        if a == b:
            return True, ""
        if Counter(a) == Counter(b):
            return False, f"returned the same {len(a)} rows in another order (the original has ORDER BY)"
    elif Counter(a) == Counter(b):
        return True, ""
    differ = sum((Counter(a) - Counter(b)).values())
    return False, f"returned {differ} of {len(a)} rows different from the original on the scratch copy"


def _slower(b: Measurement, a: Measurement) -> bool:
    """A regression: other work (another plan or other rows examined) that takes more than 10 %
    and FLOOR longer. The same plan reading the same rows is the same query: its time is noise."""
    same_work = (b.plan_key, b.plan_access, b.rows_examined) == (a.plan_key, a.plan_access, a.rows_examined)
    return not same_work and a.seconds > b.seconds * SLOWER and a.seconds - b.seconds > FLOOR


def _regression(e: ClassEvidence) -> str:
    b, a = e.before, e.after
    return f"class {e.class_id} {_ms(b.seconds)} → {_ms(a.seconds)} ({_plan(b)} → {_plan(a)})"


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def _factor(before: int, after: int) -> str:
    if after and before >= after * 2:
        return f" ({before / after:,.0f}× fewer)"
    if not after and before:
        return " (none)"
    return ""


def _plan(m: Measurement) -> str:
    return f"{m.plan_access or '?'}" + (f" on {m.plan_key}" if m.plan_key else "")
