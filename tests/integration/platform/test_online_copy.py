"""The online copy engine: mirrored writes, resume after a crash, abort, verification."""

from __future__ import annotations

import pytest

from sqlops.errors import PreconditionError
from sqlops.online.copy import CopySpec, abort_online_copy, read_state, run_online_copy

SPEC = CopySpec(
    job="test-copy",
    table="t",
    alterations=("MODIFY COLUMN v VARCHAR(100) NULL, ADD COLUMN v_len INT NULL",),
    computed=(("v_len", "CHAR_LENGTH({row}.v)"),),
    initial_chunk_rows=100,
)


def _table(db, rows: int) -> None:  # type: ignore[no-untyped-def]
    db.sql("CREATE TABLE t (id INT NOT NULL AUTO_INCREMENT PRIMARY KEY, v VARCHAR(10) NULL, n INT NULL)")
    conn = db.server.admin(db.name)
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO t (v, n) VALUES (%s, %s)", [(f"v{i}", i) for i in range(1, rows + 1)])
    conn.close()


def test_copy_mirrors_inserts_updates_and_deletes_made_during_the_copy(db) -> None:  # type: ignore[no-untyped-def]
    _table(db, 3000)
    other = db.server.admin(db.name)
    done: list[int] = []

    def progress(p) -> None:  # type: ignore[no-untyped-def]
        # Writes while the copy is half-way: below the copied point, above it, and new rows.
        if done or p.copied_up_to < 1000:
            return
        done.append(p.copied_up_to)
        with other.cursor() as cur:
            cur.execute("UPDATE t SET v = 'changed' WHERE id IN (10, 2500)")
            cur.execute("DELETE FROM t WHERE id IN (20, 2600)")
            cur.execute("INSERT INTO t (v, n) VALUES ('new', -1)")
            cur.execute("UPDATE t SET id = 100000 WHERE id = 30")

    with db.connect() as session:
        result = run_online_copy(session, SPEC, progress=progress)
    other.close()
    assert done, "the progress hook never ran mid-copy"
    assert result.verified_rows == 3000 - 2 + 1
    rows = dict(db.sql("SELECT id, v FROM t WHERE id IN (10, 20, 30, 2500, 2600, 100000)"))
    assert rows == {10: "changed", 2500: "changed", 100000: "v30"}
    assert db.sql("SELECT COUNT(*) FROM t WHERE v_len = CHAR_LENGTH(v)")[0][0] == 2999
    assert db.sql("SELECT v, v_len FROM t WHERE n = -1") == [("new", 3)]
    assert {r[0] for r in db.sql("SHOW TABLES")} == {"t", "sqlops_online_copy"}
    assert db.sql("SHOW TRIGGERS") == []


def test_resume_after_a_crash_mid_copy_copies_each_row_once(db) -> None:  # type: ignore[no-untyped-def]
    _table(db, 5000)

    class Crash(Exception):
        pass

    def crash(p) -> None:  # type: ignore[no-untyped-def]
        if p.copied_up_to >= 1500:
            raise Crash()

    with db.connect() as session, pytest.raises(Crash):
        run_online_copy(session, SPEC, progress=crash)
    with db.connect() as session:
        state = read_state(session, "t")
        assert state is not None and state.phase == "copying" and 1500 <= state.copied_up_to < 5000
        copied_before = db.sql(f"SELECT COUNT(*) FROM `{SPEC.shadow}`")[0][0]
        assert copied_before == state.copied_up_to
        db.sql("INSERT INTO t (v, n) VALUES ('during', 0)")  # the triggers still mirror it
        result = run_online_copy(session, SPEC)
    assert result.resumed
    assert result.rows_copied == 5000
    assert db.sql("SELECT COUNT(*), COUNT(DISTINCT id) FROM t") == [(5001, 5001)]


def test_abort_leaves_the_original_untouched(db) -> None:  # type: ignore[no-untyped-def]
    _table(db, 500)

    def crash(p) -> None:  # type: ignore[no-untyped-def]
        raise KeyboardInterrupt

    with db.connect() as session, pytest.raises(KeyboardInterrupt):
        run_online_copy(session, SPEC, progress=crash)
    assert len(db.sql("SHOW TRIGGERS")) == 3
    with db.connect() as session:
        abort_online_copy(session, SPEC)
        assert read_state(session, "t") is None
    assert {r[0] for r in db.sql("SHOW TABLES")} == {"t", "sqlops_online_copy"}
    assert db.sql("SHOW TRIGGERS") == []
    assert [r[0] for r in db.sql("SHOW COLUMNS FROM t")] == ["id", "v", "n"]
    assert db.sql("SELECT COUNT(*) FROM t")[0][0] == 500


def test_verification_catches_a_tampered_shadow(db) -> None:  # type: ignore[no-untyped-def]
    _table(db, 300)
    tampered: list[bool] = []

    def tamper(p) -> None:  # type: ignore[no-untyped-def]
        if not tampered and p.copied_up_to >= p.cap:
            db.sql(f"UPDATE `{SPEC.shadow}` SET v = 'oops' WHERE id = 5")
            tampered.append(True)

    with db.connect() as session, pytest.raises(PreconditionError, match="verification"):
        run_online_copy(session, SPEC, progress=tamper)
    assert [r[0] for r in db.sql("SHOW COLUMNS FROM t")] == ["id", "v", "n"]  # nothing swapped


def test_a_different_change_cannot_resume_someone_elses_copy(db) -> None:  # type: ignore[no-untyped-def]
    _table(db, 200)

    def crash(p) -> None:  # type: ignore[no-untyped-def]
        raise RuntimeError("stop")

    with db.connect() as session, pytest.raises(RuntimeError):
        run_online_copy(session, SPEC, progress=crash)
    other = CopySpec(job="other", table="t", alterations=("ADD COLUMN z INT NULL",))
    with db.connect() as session, pytest.raises(PreconditionError, match="different target"):
        run_online_copy(session, other)
