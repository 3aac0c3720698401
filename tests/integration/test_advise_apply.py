"""`advise --apply`: the advised indexes as a Plan — rendered for --dry-run, executed under a lock."""

from __future__ import annotations

import logging

import pytest

from sqlops.advisor.apply import apply_plan, plan_apply
from sqlops.advisor.model import DropAdvice, IndexAdvice
from sqlops.db import ServerInfo, lock_name, named_lock, quote_ident
from sqlops.errors import LockHeldError
from sqlops.plan import render
from sqlops.schema.model import IndexPart

MARIADB = ServerInfo.parse("10.11.19-MariaDB-0+deb12u1")
MYSQL = ServerInfo.parse("9.7.4-2")


def _setup(db) -> None:  # type: ignore[no-untyped-def]
    db.sql(
        "CREATE TABLE orders (id INT AUTO_INCREMENT PRIMARY KEY, customer_id INT NOT NULL, "
        "created DATETIME NOT NULL, note VARCHAR(40) NOT NULL, KEY idx_customer_old (customer_id)) ENGINE=InnoDB"
    )
    db.sql(
        "INSERT INTO orders (customer_id, created, note) WITH RECURSIVE s(n) AS "
        "(SELECT 0 UNION ALL SELECT n + 1 FROM s WHERE n < 499) "
        "SELECT n % 50, TIMESTAMP('2026-10-01') + INTERVAL n MINUTE, CONCAT('n', n) FROM s"
    )


def _index(name: str = "idx_customer_created") -> IndexAdvice:
    parts = (IndexPart("customer_id"), IndexPart("created", descending=False))
    return IndexAdvice(
        table="orders",
        name=name,
        parts=parts,
        unique=False,
        ddl=f"ALTER TABLE `orders` ADD INDEX `{name}` (`customer_id`, `created`), ALGORITHM=INPLACE, LOCK=NONE",
        classes=("c1", "c2"),
        served_time=3.5,
        reason="serves equality filters, then a range for 2 classes",
    )


def _drop(info: ServerInfo) -> DropAdvice:
    return DropAdvice(
        table="orders",
        index="idx_customer_old",
        kind="left_prefix",
        covered_by="idx_customer_created",
        reason="its columns are a left prefix of idx_customer_created",
        hide_ddl=f"ALTER TABLE `orders` ALTER INDEX `idx_customer_old` {info.index_visibility_keyword}",
        drop_ddl="ALTER TABLE `orders` DROP INDEX `idx_customer_old`",
    )


@pytest.mark.parametrize("info", [MARIADB, MYSQL], ids=["mariadb", "mysql"])
def test_dry_run_script(info: ServerInfo) -> None:
    plan = plan_apply("shop", [_index()], [_drop(info)], info=info)
    assert plan.job == "advise"
    assert len(plan) == 2
    script = render(plan)
    assert (
        "ALTER TABLE `shop`.`orders` ADD INDEX `idx_customer_created` (`customer_id`, `created`), "
        "ALGORITHM=INPLACE, LOCK=NONE;" in script
    )
    assert "for 2 classes (c1, c2)" in script
    keyword = "IGNORED" if info.is_mariadb else "INVISIBLE"
    assert f"ALTER TABLE `shop`.`orders` ALTER INDEX `idx_customer_old` {keyword};" in script
    assert "DROP INDEX" not in plan.statements[1].sql  # hiding, never dropping
    assert script.index("ADD INDEX") < script.index("ALTER INDEX")  # add first, then hide
    assert not plan.destructive


def test_old_servers_cannot_hide() -> None:
    old = ServerInfo.parse("10.5.20-MariaDB")
    plan = plan_apply("shop", [], [_drop(old)], info=old)
    assert not plan
    assert "cannot hide" in plan.notes[0]


def _statistics(db) -> dict[str, tuple]:  # type: ignore[no-untyped-def]
    rows = db.sql(
        "SELECT INDEX_NAME, GROUP_CONCAT(COLUMN_NAME ORDER BY SEQ_IN_INDEX) FROM information_schema.STATISTICS "
        "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'orders' GROUP BY INDEX_NAME"
    )
    return {r[0]: r[1] for r in rows}


def _hidden(db, index: str) -> bool:  # type: ignore[no-untyped-def]
    column = "IGNORED = 'YES'" if db.flavour == "mariadb" else "IS_VISIBLE = 'NO'"
    rows = db.sql(
        f"SELECT {column} FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() "
        "AND TABLE_NAME = 'orders' AND INDEX_NAME = %s",
        (index,),
    )
    return bool(rows and rows[0][0])


def test_apply_adds_the_index_and_hides_the_redundant_one(db, caplog) -> None:  # type: ignore[no-untyped-def]
    _setup(db)
    with db.connect() as session:
        session.execute("SET SESSION lock_wait_timeout = 77")
        plan = plan_apply(db.name, [_index()], [_drop(session.info)], info=session.info)
        with caplog.at_level(logging.INFO, logger="sqlops.plan"):
            result = apply_plan(session, plan)
        assert len(result.executed) == 2
        assert session.scalar("SELECT @@SESSION.lock_wait_timeout") == 77  # restored
        assert session.scalar("SELECT IS_USED_LOCK(%s)", (lock_name("advise", db.name, "orders"),)) is None
    stats = _statistics(db)
    assert stats["idx_customer_created"] == "customer_id,created"
    assert "idx_customer_old" in stats  # hidden, not dropped
    assert _hidden(db, "idx_customer_old")
    assert not _hidden(db, "idx_customer_created")
    sent = [r.getMessage() for r in caplog.records]
    assert any(
        f"/* sqlops:advise */ ALTER TABLE {quote_ident(db.name)}.`orders` ADD INDEX" in m for m in sent
    )
    assert any("/* sqlops:advise */" in m and "ALTER INDEX `idx_customer_old`" in m for m in sent)
    # the hidden index is no longer chosen by the optimizer
    plan_json = db.sql(
        "EXPLAIN FORMAT=JSON SELECT id FROM orders IGNORE INDEX (idx_customer_created) WHERE customer_id = 3"
    )
    assert "idx_customer_old" not in plan_json[0][0]


def test_hide_undo_statement_works(db) -> None:  # type: ignore[no-untyped-def]
    _setup(db)
    with db.connect() as session:
        info = session.info
        apply_plan(session, plan_apply(db.name, [], [_drop(info)], info=info))
    assert _hidden(db, "idx_customer_old")
    back = "NOT IGNORED" if db.flavour == "mariadb" else "VISIBLE"
    db.sql(f"ALTER TABLE orders ALTER INDEX idx_customer_old {back}")
    assert not _hidden(db, "idx_customer_old")


def test_lock_held_by_another_run(db) -> None:  # type: ignore[no-untyped-def]
    _setup(db)
    with (
        db.connect() as other,
        named_lock(other, lock_name("advise", db.name, "orders")),
        db.connect() as session,
    ):
        plan = plan_apply(db.name, [_index()], info=session.info)
        with pytest.raises(LockHeldError) as caught:
            apply_plan(session, plan)
        assert f"connection {other.connection_id}" in str(caught.value)
    assert "idx_customer_created" not in _statistics(db)
