"""The partition planner: exact SQL for the usual cases, and properties over dates and policies
(idempotence and gap-freedom) checked by applying the SQL text to an in-memory model."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.partition_model import Archive, Model, Part, ServerRefused, layout_violations

from sqlops.config import PartitionTableConfig
from sqlops.errors import ConfigError, PreconditionError
from sqlops.partitions.inspect import PartitionState
from sqlops.partitions.months import add_months, from_days, month_start, to_days, today_in_zone
from sqlops.partitions.planner import Policy, layout_anomalies, plan_layout, plan_rotate
from sqlops.plan import render

D = dt.date


def model_at(oldest: D, today: D, premake: int = 3, convert: bool = True) -> Model:
    return Model.from_specs("access_log", plan_layout(oldest, None, today, premake), convert=convert)


def run(model: Model, policy: Policy, today: D, flavour: str = "mariadb", **kw) -> list[str]:  # type: ignore[no-untyped-def]
    rp = plan_rotate(model.state(flavour=flavour), policy, today, **kw)
    for s in rp.plan.statements:
        if s.destructive and not policy.allow_destructive:
            continue
        model.apply(s.sql)
    return [s.sql for s in rp.plan.statements]


def test_to_days_matches_the_server() -> None:
    # Values read from MariaDB 10.11 and MySQL 9.7: SELECT TO_DAYS('2026-02-01'), TO_DAYS('0001-01-01')
    assert to_days(D(2026, 2, 1)) == 740013 and to_days(D(1, 1, 1)) == 366
    assert from_days(739982) == D(2026, 1, 1)


def test_layout_for_migrate_covers_the_data_premake_and_has_empty_first_and_catchall() -> None:
    specs = plan_layout(D(2025, 10, 14), None, D(2026, 1, 20), 3)
    assert [(s.name, s.upper) for s in specs] == [
        ("pfirst", D(2025, 10, 1)),
        ("p2025m10", D(2025, 11, 1)),
        ("p2025m11", D(2025, 12, 1)),
        ("p2025m12", D(2026, 1, 1)),
        ("p2026m01", D(2026, 2, 1)),
        ("p2026m02", D(2026, 3, 1)),
        ("p2026m03", D(2026, 4, 1)),
        ("p2026m04", D(2026, 5, 1)),
        ("pcatchall", None),
    ]
    # Rows dated past the horizon get their months too, so the catch-all starts empty.
    assert plan_layout(None, D(2026, 9, 3), D(2026, 1, 20), 1)[-2].upper == D(2026, 10, 1)
    with pytest.raises(PreconditionError, match="more than the server's 8192"):
        plan_layout(D(1000, 1, 1), None, D(2026, 1, 1), 3)


def test_rotate_splits_the_empty_catchall_and_a_second_plan_is_empty() -> None:
    model = model_at(D(2026, 1, 5), D(2026, 1, 20), premake=3)
    rp = plan_rotate(model.state(), Policy(premake_months=3), D(2026, 3, 2))
    assert [s.sql for s in rp.plan.statements] == [
        "ALTER TABLE `access_log` REORGANIZE PARTITION `pcatchall` INTO (\n"
        "  PARTITION `p2026m05` VALUES LESS THAN (TO_DAYS('2026-06-01')),\n"
        "  PARTITION `p2026m06` VALUES LESS THAN (TO_DAYS('2026-07-01')),\n"
        "  PARTITION `pcatchall` VALUES LESS THAN MAXVALUE\n)"
    ]
    assert rp.created == ("p2026m05", "p2026m06") and not rp.problems
    assert "premake 2 month(s) p2026m05..p2026m06 by splitting the empty pcatchall" in render(rp.plan)
    model.apply(rp.plan.statements[0].sql)
    assert not plan_rotate(model.state(), Policy(premake_months=3), D(2026, 3, 2)).plan


def test_mysql_gets_algorithm_inplace_before_the_partition_clause() -> None:
    model = model_at(D(2026, 1, 5), D(2026, 1, 20), premake=0)
    rp = plan_rotate(model.state(flavour="mysql"), Policy(premake_months=1), D(2026, 1, 20))
    assert rp.plan.statements[0].sql.startswith(
        "ALTER TABLE `access_log` ALGORITHM=INPLACE, REORGANIZE PARTITION `pcatchall` INTO"
    )


def test_catchall_with_rows_is_a_loud_problem_and_is_split_only_with_the_flag() -> None:
    model = model_at(D(2026, 1, 5), D(2026, 1, 20), premake=1)  # months up to p2026m02
    for day in (D(2026, 3, 3), D(2026, 4, 28), D(2026, 4, 29)):
        assert model.insert(day) == "pcatchall"
    policy = Policy(premake_months=1)
    rp = plan_rotate(model.state(), policy, D(2026, 4, 30))
    assert not rp.plan and len(rp.problems) == 1
    assert "pcatchall holds 3 row(s) dated 2026-03-01 to 2026-04-29" not in rp.problems[0]  # real dates:
    assert "holds 3 row(s) dated 2026-03-03 to 2026-04-29" in rp.problems[0]
    assert "--split-catchall" in rp.problems[0] and "0.0 s" in rp.problems[0]
    assert "-- note: problem: the catch-all partition pcatchall holds 3 row(s)" in render(rp.plan)

    rp = plan_rotate(model.state(), policy, D(2026, 4, 30), split_catchall=True)
    assert rp.created == ("p2026m03", "p2026m04", "p2026m05") and rp.lock_seconds is not None
    assert "split pcatchall (3 row(s)) into 3 month(s)" in rp.plan.statements[0].reason
    model.apply(rp.plan.statements[0].sql)
    assert [len(p.rows) for p in model.parts[-4:]] == [1, 2, 0, 0]
    assert not plan_rotate(model.state(), policy, D(2026, 4, 30)).plan


def test_rows_dated_far_in_the_future_are_not_split_into_years_of_months() -> None:
    model = model_at(D(2026, 1, 5), D(2026, 1, 20), premake=1)
    model.insert(D(2099, 1, 1))
    rp = plan_rotate(model.state(), Policy(premake_months=1), D(2026, 1, 20), split_catchall=True)
    assert not rp.plan and "fix or delete those rows" in rp.problems[0]


def test_retention_archives_with_convert_on_mariadb_and_exchange_elsewhere() -> None:
    for convert, flavour in ((True, "mariadb"), (False, "mysql")):
        model = model_at(D(2025, 10, 1), D(2025, 10, 1), premake=3, convert=convert)
        model.insert(D(2025, 10, 9))
        model.insert(D(2025, 11, 9))
        sql = run(model, Policy(premake_months=3, retention_months=1), D(2026, 1, 15), flavour)
        if convert:
            assert (
                "ALTER TABLE `access_log` CONVERT PARTITION `p2025m10` TO TABLE `access_log_2025m10`" in sql
            )
        else:
            assert sql[1:5] == [
                "CREATE TABLE `access_log_2025m10` LIKE `access_log`",
                "ALTER TABLE `access_log_2025m10` REMOVE PARTITIONING",
                "ALTER TABLE `access_log` EXCHANGE PARTITION `p2025m10` WITH TABLE `access_log_2025m10`",
                "ALTER TABLE `access_log` DROP PARTITION `p2025m10`",
            ]
        assert model.archives["access_log_2025m10"].rows == [D(2025, 10, 9)]
        assert "access_log_2025m11" in model.archives  # November is older than one month too
        # December (empty) stays: it is within the month before January.
        assert [p.name for p in model.parts][:3] == ["pfirst", "p2025m12", "p2026m01"]
        assert not plan_rotate(model.state(flavour=flavour), Policy(3, 1), D(2026, 1, 15)).plan


def test_expired_empty_months_are_dropped_and_full_ones_need_permission_without_archive() -> None:
    model = model_at(D(2025, 9, 1), D(2025, 9, 1), premake=1)
    model.insert(D(2025, 10, 2))
    keep = Policy(premake_months=1, retention_months=2, archive=False, allow_destructive=False)
    rp = plan_rotate(model.state(), keep, D(2026, 1, 10))
    assert [s.sql for s in rp.plan.statements if "DROP" in s.sql] == [
        "ALTER TABLE `access_log` DROP PARTITION `p2025m09`"  # empty: nothing to keep
    ]
    assert not any(s.destructive for s in rp.plan.statements)
    assert any("p2025m10" in n and "allow_destructive = true" in n for n in rp.plan.notes)
    allow = Policy(premake_months=1, retention_months=2, archive=False, allow_destructive=True)
    rp = plan_rotate(model.state(), allow, D(2026, 1, 10))
    drops = [s for s in rp.plan.statements if "DROP PARTITION `p2025m10`" in s.sql]
    assert len(drops) == 1 and drops[0].destructive and "[destructive]" in render(rp.plan)


def test_archive_name_collisions() -> None:
    model = model_at(D(2025, 10, 1), D(2025, 10, 1), premake=3, convert=True)
    model.insert(D(2025, 10, 9))
    model.archives["access_log_2025m10"] = Archive([D(2025, 10, 1)], partitioned=False)
    rp = plan_rotate(model.state(), Policy(3, 1), D(2026, 1, 15))
    assert any("access_log_2025m10 already exists and holds rows" in p for p in rp.problems)
    assert not any("p2025m10" in s.sql for s in rp.plan.statements)
    # An empty clone left partitioned by an interrupted run is reused (even where CONVERT exists).
    model.archives["access_log_2025m10"].rows = []
    model.archives["access_log_2025m10"].partitioned = True
    sql = run(model, Policy(3, 1), D(2026, 1, 15))
    assert sql[1:4] == [
        "ALTER TABLE `access_log_2025m10` REMOVE PARTITIONING",
        "ALTER TABLE `access_log` EXCHANGE PARTITION `p2025m10` WITH TABLE `access_log_2025m10`",
        "ALTER TABLE `access_log` DROP PARTITION `p2025m10`",
    ]
    assert model.archives["access_log_2025m10"].rows == [D(2025, 10, 9)]


def test_a_table_without_catchall_gets_months_and_one_via_add_partition() -> None:
    model = Model("access_log", [Part("y2026m01", D(2026, 1, 1))])
    sql = run(model, Policy(premake_months=0), D(2026, 1, 10))
    assert sql == [
        "ALTER TABLE `access_log` ADD PARTITION (\n"
        "  PARTITION `p2026m01` VALUES LESS THAN (TO_DAYS('2026-02-01')),\n"
        "  PARTITION `pcatchall` VALUES LESS THAN MAXVALUE\n)"
    ]
    assert not plan_rotate(model.state(), Policy(premake_months=0), D(2026, 1, 10)).plan


def test_unpartitioned_or_foreign_layouts_are_refused_with_a_fix() -> None:
    plain = PartitionState("access_log", "date_day", "date", "none", None)
    with pytest.raises(PreconditionError, match="sqlops partition migrate"):
        plan_rotate(plain, Policy(), D(2026, 1, 1))
    hashed = PartitionState("access_log", "date_day", "date", "other", "`id`")
    with pytest.raises(PreconditionError, match="partitioned by '`id`'"):
        plan_rotate(hashed, Policy(), D(2026, 1, 1))


def test_policy_from_config_validates() -> None:
    assert Policy.from_config("t", PartitionTableConfig(retention_months=12)).retention_months == 12
    with pytest.raises(ConfigError, match=r"partitions\.t\.premake_months"):
        Policy.from_config("t", PartitionTableConfig(premake_months=-1))
    with pytest.raises(ConfigError, match="retention_months"):
        Policy.from_config("t", PartitionTableConfig(retention_months=-2))


# -- time zones: "today" decides the month, and it follows DST in a named zone


@pytest.mark.parametrize(
    ("utc", "zone", "expected"),
    [
        # DST starts on 2026-03-29 in Berlin; at 22:30 UTC on 31 March it is already 1 April.
        (dt.datetime(2026, 3, 31, 22, 30), "Europe/Berlin", D(2026, 4, 1)),
        (dt.datetime(2026, 3, 31, 22, 30), "+01:00", D(2026, 3, 31)),  # a fixed offset does not
        (dt.datetime(2026, 3, 31, 22, 30), "UTC", D(2026, 3, 31)),
        # DST ends on 2026-10-25: on 31 October the offset is +01:00 again.
        (dt.datetime(2026, 10, 31, 22, 30), "Europe/Berlin", D(2026, 10, 31)),
        (dt.datetime(2026, 10, 31, 23, 30), "Europe/Berlin", D(2026, 11, 1)),
        (dt.datetime(2026, 10, 31, 22, 30), "+02:00", D(2026, 11, 1)),
        (dt.datetime(2026, 1, 1, 4, 0), "America/New_York", D(2025, 12, 31)),
    ],
)
def test_today_follows_the_configured_zone(utc: dt.datetime, zone: str, expected: D) -> None:
    assert today_in_zone(utc, zone) == expected


def test_rotate_on_the_dst_month_boundary_premakes_from_the_zone_month() -> None:
    model = model_at(D(2026, 1, 1), D(2026, 1, 1), premake=2)  # months up to p2026m03
    berlin = today_in_zone(dt.datetime(2026, 3, 31, 22, 30), "Europe/Berlin")
    fixed = today_in_zone(dt.datetime(2026, 3, 31, 22, 30), "+01:00")
    assert plan_rotate(model.state(), Policy(premake_months=2), berlin).created == (
        "p2026m04",
        "p2026m05",
        "p2026m06",
    )
    assert plan_rotate(model.state(), Policy(premake_months=2), fixed).created == ("p2026m04", "p2026m05")


# -- properties


policies = st.builds(
    Policy,
    premake_months=st.integers(0, 6),
    retention_months=st.one_of(st.none(), st.integers(0, 14)),
    archive=st.booleans(),
    allow_destructive=st.booleans(),
)
days = st.dates(min_value=D(2019, 1, 1), max_value=D(2031, 12, 31))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    oldest=days,
    start=days,
    policy=policies,
    convert=st.booleans(),
    steps=st.lists(st.tuples(st.integers(0, 200), st.integers(0, 5)), min_size=1, max_size=8),
)
def test_rotate_is_idempotent_gap_free_and_keeps_every_row(
    oldest: D, start: D, policy: Policy, convert: bool, steps: list[tuple[int, int]]
) -> None:
    """Migrate's layout at `start`, then rotations on later days (some after long pauses), with
    rows written on each rotation day: no statement is refused by the server's rules, a second
    plan is empty, the layout is gap-free, and no row is lost unless dropping was allowed."""
    flavour = "mariadb" if convert else "mysql"
    model = Model.from_specs(
        "access_log", plan_layout(min(oldest, start), None, start, policy.premake_months), convert
    )
    today = start
    inserted = 0
    for advance, writes in steps:
        today = today + dt.timedelta(days=advance)
        try:
            rp = plan_rotate(model.state(flavour=flavour), policy, today, split_catchall=True)
            for s in rp.plan.statements:
                model.apply(s.sql)
        except ServerRefused as exc:  # pragma: no cover - the assertion message is the point
            raise AssertionError(f"the server would refuse a planned statement: {exc}") from exc
        again = plan_rotate(model.state(flavour=flavour), policy, today, split_catchall=True)
        assert not again.plan, f"second plan on {today} is not empty:\n{render(again.plan)}"
        if not rp.problems:
            cutoff = None
            if policy.retention_months is not None:
                cutoff = add_months(month_start(today), -policy.retention_months)
            removed = policy.archive or policy.allow_destructive
            assert layout_violations(model.state(), today, policy.premake_months, cutoff, removed) == []
            assert layout_anomalies(model.state(), cutoff) == []  # rotate never warns of its own layout
            assert not model.state().catchall_rows
        for _ in range(writes):  # today's traffic lands in today's month, never the catch-all
            assert model.insert(today) != "pcatchall" or rp.problems
            inserted += 1
    lost = model.dropped_rows
    assert lost == 0 or (not policy.archive and policy.allow_destructive)
    assert model.total_rows() + lost == inserted


def test_a_month_dropped_by_hand_is_reported_and_repaired_only_on_request() -> None:
    model = Model.from_specs("access_log", plan_layout(D(2026, 1, 1), None, D(2026, 1, 10), 3))
    model.apply("ALTER TABLE `access_log` DROP PARTITION `p2026m02`")
    (anomaly,) = layout_anomalies(model.state())
    assert (anomaly.partition, anomaly.lower, anomaly.upper, anomaly.months) == (
        "p2026m03",
        D(2026, 2, 1),
        D(2026, 4, 1),
        2,
    )
    rp = plan_rotate(model.state(), Policy(premake_months=3), D(2026, 1, 10))
    assert not rp.plan and "p2026m03 spans 2 months" in rp.problems[0] and "--repair" in rp.problems[0]
    rp = plan_rotate(model.state(), Policy(premake_months=3), D(2026, 1, 10), repair=True)
    assert rp.created == ("p2026m02",) and not rp.problems
    for statement in rp.plan.statements:
        model.apply(statement.sql)
    assert layout_anomalies(model.state()) == []
    assert not plan_rotate(model.state(), Policy(premake_months=3), D(2026, 1, 10)).plan


def test_nowait_goes_after_the_first_table_name() -> None:
    from sqlops.plan import with_nowait

    assert with_nowait("/* sqlops:j */ ALTER TABLE `a``b` DROP PARTITION `p`") == (
        "/* sqlops:j */ ALTER TABLE `a``b` NOWAIT DROP PARTITION `p`"
    )
    assert with_nowait("RENAME TABLE `t` TO `o`, `n` TO `t`") == "RENAME TABLE `t` NOWAIT TO `o`, `n` TO `t`"
    assert with_nowait("CREATE TRIGGER x AFTER INSERT ON t") is None
