"""Plan rendering: a valid, reviewable script; DELIMITER only around compound statements."""

from __future__ import annotations

import datetime as dt

from sqlops.plan import Plan, Statement, render, tag


def test_render_numbers_reasons_and_marks_destructive() -> None:
    plan = Plan(
        "partition-rotate",
        "squid.access_log",
        (
            Statement("ALTER TABLE t ADD KEY k (a)", "an index\nover two lines"),
            Statement("ALTER TABLE t DROP PARTITION p2020m01;", "expired month", destructive=True),
        ),
        ("a note",),
    )
    text = render(plan, generated_at=dt.datetime(2026, 1, 2, 3, 4, 5))
    assert text == (
        "-- sqlops partition-rotate plan for squid.access_log, generated 2026-01-02 03:04:05 UTC\n"
        "-- note: a note\n"
        "\n"
        "-- 1. an index\n"
        "--    over two lines\n"
        "ALTER TABLE t ADD KEY k (a);\n"
        "\n"
        "-- 2. [destructive] expired month\n"
        "ALTER TABLE t DROP PARTITION p2020m01;\n"
    )


def test_semicolons_inside_literals_do_not_need_delimiter() -> None:
    plan = Plan("j", "t", (Statement("CREATE TABLE t (a INT COMMENT 'x; y')", "r"),))
    assert "DELIMITER" not in render(plan)


def test_compound_statement_is_wrapped_in_delimiter() -> None:
    plan = Plan(
        "j", "t", (Statement("CREATE TRIGGER x AFTER UPDATE ON t FOR EACH ROW BEGIN DO 1; DO 2; END", "r"),)
    )
    text = render(plan)
    assert (
        "DELIMITER $$\nCREATE TRIGGER x AFTER UPDATE ON t FOR EACH ROW BEGIN DO 1; DO 2; END $$\nDELIMITER ;\n"
        in text
    )


def test_empty_plan_says_nothing_to_do() -> None:
    plan = Plan("j", "t")
    assert not plan
    assert "-- nothing to do" in render(plan)


def test_tag_prefixes_job_comment() -> None:
    assert tag("schema-upgrade", "RENAME TABLE a TO b") == "/* sqlops:schema-upgrade */ RENAME TABLE a TO b"
