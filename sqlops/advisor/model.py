"""Records the advisor passes between its stages (all frozen; no behaviour beyond naming).

analyse  -> QueryAnalysis (per class: TableAccess per base table, Findings for rewrite rules)
candidates/merge -> IndexAdvice (one proposed index, the classes it serves)
rewrites -> RewriteAdvice (a rewritten statement and why)
redundant -> DropAdvice (an existing index that is duplicate, redundant or unused)
verify   -> Evidence attached to each advice (EXPLAIN / executed before and after)
report   -> AdviceReport (everything, ranked)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from sqlops.schema.model import IndexPart


@dataclass(frozen=True)
class WorkloadClass:
    """One query class of the workload, whichever input it came from (classes merge by id)."""

    id: str  # the digest's class id (fingerprint hash)
    fingerprint: str
    example: str  # one real statement (literals from a log; `?` placeholders from source code)
    database: str | None
    count: int  # executions seen (1 per location for source code)
    total_time: float  # seconds, 0 when unknown (source code, general log)
    rows_examined: int | None  # total over the class, when the log says
    rows_sent: int | None
    not_using_indexes: bool
    origins: tuple[str, ...]  # "slow log", "general log", "performance_schema", "source"
    locations: tuple[tuple[str, int], ...] = ()  # file:line from application source


@dataclass(frozen=True)
class ColumnRef:
    table: str  # base table name (views expanded)
    column: str


@dataclass(frozen=True)
class TableAccess:
    """How one statement scope reads one base table."""

    table: str
    alias: str
    equality: tuple[str, ...] = ()  # =, IN, IS NULL, <=> against constants/placeholders/outer refs
    ranges: tuple[str, ...] = ()  # <, >, <=, >=, BETWEEN, LIKE 'prefix%'
    joins: tuple[str, ...] = ()  # columns equated with another table's columns
    group_by: tuple[str, ...] = ()
    order_by: tuple[tuple[str, bool], ...] = ()  # (column, descending)
    selected: tuple[str, ...] = ()  # columns this scope reads from the table ("*" = all)
    limit: int | None = None
    other_filters: bool = False  # the table also has predicates no index can use (functions, OR...)
    like_prefixes: tuple[tuple[str, int], ...] = ()  # (column, literal prefix length) of LIKE 'x%'
    scope_tables: int = 1  # tables in the same scope (1 = no join)


FindingKind = Literal[
    "function_on_column",
    "implicit_conversion",
    "leading_wildcard",
    "or_across_columns",
    "not_in_subquery",
    "order_by_rand",
    "select_star",
    "constant_on_left",
    "rollup_candidate",
]


@dataclass(frozen=True)
class Finding:
    """A pattern the analysis saw that a rewrite rule may act on."""

    kind: FindingKind
    table: str
    columns: tuple[str, ...]
    detail: str  # e.g. the offending expression as SQL


@dataclass(frozen=True)
class QueryAnalysis:
    class_id: str
    statement_kind: str  # select | update | delete | insert | replace | other
    read_sql: str | None  # the read part as a SELECT (DML turned into its read), None if it did not parse
    accesses: tuple[TableAccess, ...] = ()
    findings: tuple[Finding, ...] = ()
    error: str | None = None  # why the class could not be analysed


@dataclass(frozen=True)
class Measurement:
    """One statement executed on the scratch copy."""

    rows_examined: int  # sum of the session's Handler_read_* counters around the execution
    seconds: float  # best of the runs
    plan_key: str | None  # the index EXPLAIN chose for the advised table (None = full scan)
    plan_access: str | None  # access type (ALL, ref, range, index...)
    rows_returned: int = 0
    analyze: str = ""  # MariaDB ANALYZE FORMAT=JSON / MySQL EXPLAIN ANALYZE output (one run)


@dataclass(frozen=True)
class ClassEvidence:
    class_id: str
    sql: str  # the statement that was executed (placeholders filled when they had to be)
    before: Measurement
    after: Measurement
    same_result: bool | None = None  # rewrites only: original and rewritten returned the same rows


@dataclass(frozen=True)
class Evidence:
    verified: bool  # True when measured on a server, False when --verify was not asked for or impossible
    helps: bool  # measured: fewer rows examined or less time, and no regression
    classes: tuple[ClassEvidence, ...] = ()
    scratch_rows: dict[str, int] = field(default_factory=dict)  # table -> rows copied to the scratch schema
    note: str = ""


@dataclass(frozen=True)
class IndexAdvice:
    table: str
    name: str
    parts: tuple[IndexPart, ...]
    unique: bool
    ddl: str  # ALTER TABLE `t` ADD INDEX `name` (...), ALGORITHM=INPLACE, LOCK=NONE
    classes: tuple[str, ...]  # class ids served
    served_time: float  # total query time of the classes served (the ranking key)
    reason: str  # why these columns in this order
    write_cost: str | None = None  # stated for heavy-insert tables
    replaces: tuple[str, ...] = ()  # existing indexes this one makes redundant (left prefixes)
    evidence: Evidence | None = None

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(p.column for p in self.parts)


RewriteKind = Literal[
    "date_function",
    "epoch_date",
    "implicit_conversion",
    "leading_wildcard",
    "or_to_union",
    "not_in_to_not_exists",
    "order_by_rand",
    "select_star",
    "constant_on_left",
    "rollup",
]


@dataclass(frozen=True)
class RewriteAdvice:
    class_id: str
    kind: RewriteKind
    table: str
    original: str  # the class example
    rewritten: str | None  # None when the advice has no equivalent automatic rewrite
    reason: str  # honest: what changes, when it is (not) equivalent, what it needs (an index...)
    needs_index: tuple[str, ...] = ()  # columns an index should have for the rewrite to help
    equivalent: bool = True  # False: semantics differ on purpose (ORDER BY RAND alternatives)
    claims_speedup: bool = True  # False for notes (constant on the left: the optimizer does it)
    evidence: Evidence | None = None


DropKind = Literal["duplicate", "left_prefix", "pk_suffix", "unused"]


@dataclass(frozen=True)
class DropAdvice:
    table: str
    index: str
    kind: DropKind
    covered_by: str | None  # the index that makes it redundant
    reason: str
    hide_ddl: str  # ALTER TABLE ... ALTER INDEX ... INVISIBLE (MySQL) / IGNORED (MariaDB)
    drop_ddl: str


@dataclass(frozen=True)
class Unanalysed:
    class_id: str
    fingerprint: str
    reason: str


@dataclass(frozen=True)
class AdviceReport:
    schema_origin: str
    flavour: str | None
    classes: tuple[WorkloadClass, ...]
    analyses: tuple[QueryAnalysis, ...]
    indexes: tuple[IndexAdvice, ...]
    rewrites: tuple[RewriteAdvice, ...]
    drops: tuple[DropAdvice, ...]
    unanalysed: tuple[Unanalysed, ...]
    notes: tuple[str, ...] = ()
    rejected: tuple[IndexAdvice, ...] = ()  # candidates --verify measured and dropped (no gain)
    # Ranked candidates left out (over the budget, then below --min-gain): --verify measures them
    # when an advised index is rejected (a slot is free) or to keep a class off a new index's plan.
    spares: tuple[IndexAdvice, ...] = ()
