"""`advise --verify` on real servers: advice measured on a scratch copy, never the real tables."""

from __future__ import annotations

import pytest

from sqlops.advisor.model import IndexAdvice, RewriteAdvice, WorkloadClass
from sqlops.advisor.verify import VerifyResult, verify_advice
from sqlops.db import quote_ident
from sqlops.schema.inspect import inspect_schema
from sqlops.schema.model import IndexPart

ROWS = 30_000

# 0..29999 as a 200 x 150 cross join: portable (MySQL's recursion depth defaults to 1000).
NUMBERS = (
    "WITH RECURSIVE s(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM s WHERE n < 199) "
    "SELECT a.n * 150 + b.n AS i FROM s a CROSS JOIN s b WHERE b.n < 150"
)


def _setup(db) -> None:  # type: ignore[no-untyped-def]
    db.sql(
        "CREATE TABLE orders (id INT AUTO_INCREMENT PRIMARY KEY, customer_id INT NOT NULL, "
        "flag TINYINT NOT NULL, amount INT NOT NULL, created DATETIME NOT NULL, note VARCHAR(40) NOT NULL, "
        "KEY idx_amount (amount)) ENGINE=InnoDB"
    )
    db.sql(
        "INSERT INTO orders (customer_id, flag, amount, created, note) "
        "SELECT i % 3000, IF(i % 10 = 0, 1, 0), i % 97, TIMESTAMP('2026-09-01 00:00:00') + INTERVAL (i * 3) MINUTE, "
        f"CONCAT('note-', i) FROM ({NUMBERS}) AS numbers"
    )
    db.sql("CREATE TABLE customers (id INT PRIMARY KEY, name VARCHAR(40) NOT NULL) ENGINE=InnoDB")
    db.sql(
        f"INSERT INTO customers (id, name) SELECT i, CONCAT('c', i) FROM ({NUMBERS}) AS numbers WHERE i < 3000"
    )
    db.sql(
        "CREATE VIEW v_orders AS SELECT o.id, o.customer_id, o.amount, c.name "
        "FROM orders o JOIN customers c ON c.id = o.customer_id"
    )
    db.sql("ANALYZE TABLE orders, customers")


def _class(cid: str, sql: str, total_time: float = 1.0) -> WorkloadClass:
    return WorkloadClass(
        id=cid,
        fingerprint=sql,
        example=sql,
        database=None,
        count=10,
        total_time=total_time,
        rows_examined=None,
        rows_sent=None,
        not_using_indexes=True,
        origins=("slow log",),
    )


def _index(table: str, name: str, columns: tuple[str, ...], classes: tuple[str, ...]) -> IndexAdvice:
    parts = tuple(IndexPart(c) for c in columns)
    cols = ", ".join(p.sql() for p in parts)
    return IndexAdvice(
        table=table,
        name=name,
        parts=parts,
        unique=False,
        ddl=f"ALTER TABLE {quote_ident(table)} ADD INDEX {quote_ident(name)} ({cols}), ALGORITHM=INPLACE, LOCK=NONE",
        classes=classes,
        served_time=1.0,
        reason="test",
    )


def _scratch_schemas(db) -> list[str]:  # type: ignore[no-untyped-def]
    return [
        r[0]
        for r in db.sql(
            "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE 'sqlops\\_scratch\\_%'"
        )
    ]


def _indexes(db) -> list[tuple]:  # type: ignore[no-untyped-def]
    return db.sql(
        "SELECT TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX, COLUMN_NAME FROM information_schema.STATISTICS "
        "WHERE TABLE_SCHEMA = DATABASE() ORDER BY 1, 2, 3"
    )


def _verify(db, classes, indexes=(), rewrites=(), **kw) -> VerifyResult:  # type: ignore[no-untyped-def]
    with db.connect() as session:
        schema = inspect_schema(session)
        result = verify_advice(session, schema, {c.id: c for c in classes}, indexes, rewrites, **kw)
        # the session is given back on the application's database
        assert session.scalar("SELECT DATABASE()") == db.name
        return result


def test_index_that_helps_is_kept_with_evidence(db) -> None:  # type: ignore[no-untyped-def]
    _setup(db)
    real_before = _indexes(db)
    cls = _class("c1", "SELECT id, amount FROM orders WHERE customer_id = 1234")
    idx = _index("orders", "idx_customer", ("customer_id",), ("c1",))
    lines: list[str] = []
    result = _verify(db, [cls], [idx], progress=lines.append)

    assert [i.name for i in result.indexes] == ["idx_customer"]
    assert result.rejected == ()
    ev = result.indexes[0].evidence
    assert ev is not None and ev.verified and ev.helps, ev
    (ce,) = ev.classes
    assert ce.before.rows_examined >= ROWS
    assert ce.after.rows_examined * 10 <= ce.before.rows_examined
    assert ce.before.plan_access == "ALL" and ce.before.plan_key is None
    assert ce.after.plan_key == "idx_customer"
    assert ce.after.plan_access == "ref"
    assert ce.before.rows_returned == ce.after.rows_returned == 10
    assert ce.after.analyze  # ANALYZE FORMAT=JSON / EXPLAIN ANALYZE text
    assert ev.scratch_rows == {"orders": ROWS}
    assert result.scratch_rows["orders"] == ROWS
    assert result.scratch_schema.startswith("sqlops_scratch_")
    assert any("copying orders" in line for line in lines)
    # the real tables were never touched, the scratch schema is gone
    assert _indexes(db) == real_before
    assert result.scratch_schema not in _scratch_schemas(db)


def test_index_that_does_not_help_is_rejected(db) -> None:  # type: ignore[no-untyped-def]
    _setup(db)
    # 90 % of the rows have flag = 0. MariaDB keeps scanning with the index in place (no gain);
    # MySQL 9.7 assumes the two values split evenly (no histogram), takes the index, reads 27k
    # rows through it and gets several times slower (a regression). Rejected either way.
    cls = _class("c2", "SELECT SUM(amount), COUNT(note) FROM orders WHERE flag = 0")
    idx = _index("orders", "idx_flag", ("flag",), ("c2",))
    result = _verify(db, [cls], [idx])

    assert result.indexes == ()
    (rejected,) = result.rejected
    ev = rejected.evidence
    assert ev is not None and ev.verified and not ev.helps
    (ce,) = ev.classes
    assert ce.after.rows_examined > 0.8 * ce.before.rows_examined
    assert ce.after.rows_returned == 1
    if ce.after.plan_key == "idx_flag":
        assert ev.note.startswith("regression: class c2"), ev.note
        assert ce.after.seconds > 1.1 * ce.before.seconds
    else:
        assert ev.note.startswith("no gain"), ev.note
        assert ce.after.plan_access == ce.before.plan_access == "ALL"
    if db.flavour == "mariadb":
        assert ce.after.plan_key is None


def test_sampled_copy_of_a_big_table(db) -> None:  # type: ignore[no-untyped-def]
    _setup(db)
    cls = _class(
        "c1",
        "SELECT o.id, c.name FROM orders o JOIN customers c ON c.id = o.customer_id WHERE o.customer_id = 17",
    )
    idx = _index("orders", "idx_customer", ("customer_id",), ("c1",))
    result = _verify(db, [cls], [idx], sample_rows=10_000)
    assert 5_000 < result.scratch_rows["orders"] < 15_000  # a spread sample, not the first rows
    assert result.scratch_rows["customers"] == 3000  # small tables are copied whole
    assert [i.name for i in result.indexes] == ["idx_customer"]


def test_equivalent_rewrite_is_kept(db) -> None:  # type: ignore[no-untyped-def]
    _setup(db)
    original = "SELECT id, amount FROM orders WHERE DATE(created) = '2026-10-03'"
    rw = RewriteAdvice(
        class_id="c3",
        kind="date_function",
        table="orders",
        original=original,
        rewritten="SELECT id, amount FROM orders WHERE created >= '2026-10-03' AND created < '2026-10-04'",
        reason="a range on created can use an index",
        needs_index=("created",),
    )
    idx = _index("orders", "idx_created", ("created",), ("c3",))
    result = _verify(db, [_class("c3", original)], [idx], [rw])

    (kept,) = result.rewrites
    assert result.dropped_rewrites == ()
    ev = kept.evidence
    assert ev is not None and ev.verified and ev.helps, ev
    (ce,) = ev.classes
    assert ce.same_result is True
    assert ce.before.rows_returned == ce.after.rows_returned == 480
    assert ce.before.plan_access == "ALL"
    assert ce.after.plan_key == "idx_created" and ce.after.plan_access == "range"
    assert "idx_created" in ev.note


def test_non_equivalent_rewrite_is_dropped(db) -> None:  # type: ignore[no-untyped-def]
    _setup(db)
    original = "SELECT id, amount FROM orders WHERE DATE(created) = '2026-10-03'"
    wrong = RewriteAdvice(
        class_id="c4",
        kind="date_function",
        table="orders",
        original=original,
        # `>` loses the row written at midnight
        rewritten="SELECT id, amount FROM orders WHERE created > '2026-10-03' AND created < '2026-10-04'",
        reason="wrong on purpose",
        needs_index=("created",),
    )
    random = RewriteAdvice(
        class_id="c5",
        kind="order_by_rand",
        table="orders",
        original="SELECT id FROM orders ORDER BY RAND() LIMIT 1",
        rewritten="SELECT id FROM orders WHERE id >= 15000 ORDER BY id LIMIT 1",
        reason="different rows on purpose",
        equivalent=False,
    )
    note = RewriteAdvice(
        class_id="c6",
        kind="constant_on_left",
        table="orders",
        original="SELECT id FROM orders WHERE 5 = amount",
        rewritten="SELECT id FROM orders WHERE amount = 5",
        reason="the optimizer does it already",
        claims_speedup=False,
    )
    result = _verify(db, [_class("c4", original)], [], [wrong, random, note])

    (dropped,) = result.dropped_rewrites
    assert dropped.class_id == "c4"
    assert dropped.evidence is not None
    assert "returned 479 rows instead of 480" in dropped.evidence.note
    assert dropped.evidence.classes[0].same_result is False
    kept = {r.class_id: r for r in result.rewrites}
    assert set(kept) == {"c5", "c6"}
    assert kept["c5"].evidence is not None and kept["c5"].evidence.verified
    assert kept["c5"].evidence.classes[0].same_result is None  # measured, not compared
    assert kept["c6"].evidence is None  # passed through unmeasured
    assert result.scratch_schema not in _scratch_schemas(db)


def test_query_over_a_view_runs_on_scratch_tables(db) -> None:  # type: ignore[no-untyped-def]
    _setup(db)
    # qualified with the real database: retargeted to the scratch schema
    sql = f"SELECT name, amount FROM {quote_ident(db.name)}.v_orders WHERE customer_id = 77"
    cls = _class("c7", sql)
    idx = _index("orders", "idx_customer", ("customer_id",), ("c7",))
    result = _verify(db, [cls], [idx])

    (kept,) = result.indexes
    ev = kept.evidence
    assert ev is not None and ev.helps, ev
    (ce,) = ev.classes
    assert db.name not in ce.sql and result.scratch_schema in ce.sql
    assert ce.after.plan_key == "idx_customer"
    assert ce.after.rows_returned == 10
    assert set(ev.scratch_rows) == {"orders", "customers"}
    assert db.sql("SELECT COUNT(*) FROM information_schema.VIEWS WHERE TABLE_SCHEMA = DATABASE()") == [(1,)]


def test_placeholders_are_filled_with_real_values(db) -> None:  # type: ignore[no-untyped-def]
    _setup(db)
    select = _class("c8", "SELECT o.id FROM orders AS o WHERE o.customer_id = ? AND amount IN (?, ?)")
    update = _class("c9", "UPDATE orders SET amount = 0 WHERE customer_id = ?")
    limit = _class("c10", "SELECT id FROM orders WHERE customer_id = 5 LIMIT ?")
    idx = _index("orders", "idx_customer", ("customer_id",), ("c8", "c9", "c10"))
    result = _verify(db, [select, update, limit], [idx])

    (kept,) = result.indexes
    ev = kept.evidence
    assert ev is not None and ev.helps, ev
    by_id = {ce.class_id: ce for ce in ev.classes}
    assert set(by_id) == {"c8", "c9"}
    assert "?" not in by_id["c8"].sql and "?" not in by_id["c9"].sql
    assert by_id["c9"].sql.upper().startswith("SELECT")  # DML measured through its read part
    assert by_id["c9"].before.rows_returned == 10 and by_id["c9"].after.plan_key == "idx_customer"
    assert "LIMIT" in result.unverifiable["c10"]
    # the UPDATE was never executed, not even on the copy's source
    assert db.sql("SELECT COUNT(*) FROM orders WHERE amount = 0") == [(ROWS // 97 + 1,)]


def test_several_indexes_on_one_table(db) -> None:  # type: ignore[no-untyped-def]
    _setup(db)
    c1 = _class("c1", "SELECT id FROM orders WHERE customer_id = 99")
    c2 = _class("c2", "SELECT id FROM orders WHERE note = 'note-12345'")
    i1 = _index("orders", "idx_customer", ("customer_id",), ("c1",))
    i2 = _index("orders", "idx_note", ("note",), ("c2",))
    result = _verify(db, [c1, c2], [i1, i2])
    assert [i.name for i in result.indexes] == ["idx_customer", "idx_note"]
    assert any("together" in n for n in result.notes)


@pytest.mark.parametrize("boom", [RuntimeError, KeyboardInterrupt])
def test_scratch_schema_dropped_after_an_error(db, boom) -> None:  # type: ignore[no-untyped-def]
    _setup(db)
    real_before = _indexes(db)
    seen: list[str] = []

    def progress(line: str) -> None:
        seen.append(line)
        if line.startswith("verify: measuring idx_customer"):  # the index is being added on the copy
            raise boom("stop here")

    cls = _class("c1", "SELECT id FROM orders WHERE customer_id = 3")
    idx = _index("orders", "idx_customer", ("customer_id",), ("c1",))
    with pytest.raises(boom):
        _verify(db, [cls], [idx], progress=progress)
    name = seen[0].rsplit(" ", 1)[1]
    assert name.startswith("sqlops_scratch_")
    assert name not in _scratch_schemas(db)
    assert _indexes(db) == real_before


def test_scratch_schema_dropped_when_the_session_breaks(db) -> None:  # type: ignore[no-untyped-def]
    """A Ctrl-C in the middle of a statement leaves the pinned connection unusable: the scratch
    schema is then dropped from a new connection."""
    _setup(db)
    seen: list[str] = []
    with db.connect() as session:
        schema = inspect_schema(session)

        def progress(line: str) -> None:
            seen.append(line)
            if line.startswith("verify: measuring class"):
                session.raw.close()  # what a broken connection looks like to the driver
                raise KeyboardInterrupt

        cls = _class("c1", "SELECT id FROM orders WHERE customer_id = 3")
        idx = _index("orders", "idx_customer", ("customer_id",), ("c1",))
        with pytest.raises(KeyboardInterrupt):
            verify_advice(session, schema, {"c1": cls}, [idx], [], progress=progress)
    name = seen[0].rsplit(" ", 1)[1]
    assert name.startswith("sqlops_scratch_")
    assert name not in _scratch_schemas(db)


def _setup_order_trap(db) -> None:  # type: ignore[no-untyped-def]
    # `a` is unique and increasing; b = 7 only on the 10 rows with the largest `a`. With an index
    # on `a`, both servers read `... WHERE b = 7 ORDER BY a LIMIT 5` along that index, expecting
    # to meet five b = 7 rows early (no statistics on b): they meet them at the very end, after a
    # primary-key lookup per row. Measured here: MariaDB 10.11 7.5 -> 35 ms, MySQL 9.7 8 -> 46 ms.
    db.sql(
        "CREATE TABLE trap (id INT AUTO_INCREMENT PRIMARY KEY, a INT NOT NULL, b INT NOT NULL, "
        "pad CHAR(200) NOT NULL) ENGINE=InnoDB"
    )
    db.sql(
        f"INSERT INTO trap (a, b, pad) SELECT i, IF(i >= {ROWS - 10}, 7, i % 5), REPEAT('x', 200) "
        f"FROM ({NUMBERS}) AS numbers"
    )
    db.sql("ANALYZE TABLE trap")


def test_index_that_slows_a_class_it_does_not_serve_is_rejected(db) -> None:  # type: ignore[no-untyped-def]
    _setup_order_trap(db)
    served = _class("served", "SELECT pad FROM trap WHERE a = 12345")
    bystander = _class("bystander", "SELECT * FROM trap WHERE b = 7 ORDER BY a LIMIT 5", total_time=5.0)
    idx = _index("trap", "idx_a", ("a",), ("served",))
    lines: list[str] = []
    result = _verify(db, [served, bystander], [idx], progress=lines.append)

    assert result.indexes == ()
    (rejected,) = result.rejected
    ev = rejected.evidence
    assert ev is not None and ev.verified and not ev.helps
    # the served class did get faster: the rejection is the bystander's
    (ce,) = ev.classes
    assert ce.class_id == "served" and ce.after.plan_key == "idx_a"
    assert ce.after.rows_examined * 100 < ce.before.rows_examined
    assert ev.note.startswith("regression of classes it does not serve: class bystander"), ev.note
    assert "idx_a" in ev.note
    assert any("other class(es) reading trap before" in line for line in lines)


def test_bystander_that_is_not_slowed_does_not_block_the_index(db) -> None:  # type: ignore[no-untyped-def]
    _setup_order_trap(db)
    served = _class("served", "SELECT pad FROM trap WHERE a = 12345")
    # reads the table, the new index changes nothing for it (no filter or order on `a`)
    other = _class("other", "SELECT COUNT(*) FROM trap WHERE b = 7 AND pad <> ''", total_time=5.0)
    idx = _index("trap", "idx_a", ("a",), ("served",))
    result = _verify(db, [served, other], [idx])

    assert [i.name for i in result.indexes] == ["idx_a"]
    ev = result.indexes[0].evidence
    assert ev is not None and ev.helps and "does not serve" not in ev.note, ev


def test_a_class_slowed_several_times_over_is_no_trade_off(db) -> None:  # type: ignore[no-untyped-def]
    _setup_order_trap(db)
    # the served class holds far more of the logged time than the one slowed, but the slowed
    # one gets 4-6x slower (an index walk that only grows with the real table): rejected
    served = _class("served", "SELECT pad FROM trap WHERE a = 12345", total_time=500.0)
    bystander = _class("bystander", "SELECT * FROM trap WHERE b = 7 ORDER BY a LIMIT 5", total_time=0.5)
    result = _verify(db, [served, bystander], [_index("trap", "idx_a", ("a",), ("served",))])

    assert result.indexes == ()
    (rejected,) = result.rejected
    ev = rejected.evidence
    assert ev is not None and ev.verified and not ev.helps
    (served_ev,) = ev.classes
    assert served_ev.class_id == "served" and served_ev.after.plan_key == "idx_a"
    assert ev.note.startswith("regression of classes it does not serve: class bystander"), ev.note


def test_a_spare_takes_the_slot_of_a_rejected_index(db) -> None:  # type: ignore[no-untyped-def]
    _setup(db)
    useless = _class("c2", "SELECT SUM(amount), COUNT(note) FROM orders WHERE flag = 0")
    lookup = _class("c1", "SELECT id, amount FROM orders WHERE customer_id = 1234")
    advised = _index("orders", "idx_flag", ("flag",), ("c2",))
    spare = _index("orders", "idx_customer", ("customer_id",), ("c1",))
    with db.connect() as session:
        schema = inspect_schema(session)
        result = verify_advice(
            session, schema, {c.id: c for c in (useless, lookup)}, [advised], (), spares=[spare], budget=1
        )
    assert [i.name for i in result.indexes] == ["idx_customer"]
    assert [i.name for i in result.rejected] == ["idx_flag"]
    ev = result.indexes[0].evidence
    assert ev is not None and ev.helps and ev.note.startswith("left out at first"), ev
