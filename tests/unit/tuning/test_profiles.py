"""Profiles: every shipped value carries a reason and a source; includes merge; errors name the
file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from sqlops.errors import ConfigError
from sqlops.tuning import profiles
from sqlops.tuning.profiles import Range

SHIPPED = sorted(profiles.available())


def test_the_profiles_the_issue_asks_for_are_shipped() -> None:
    assert {"kvm-host", "db-guest", "web-guest"} <= set(SHIPPED)


@pytest.mark.parametrize("name", SHIPPED)
def test_every_value_has_a_comment_with_a_reason_and_a_source(name: str) -> None:
    profile = profiles.load(name)
    assert profile.summary
    assert profile.values, name
    for value in profile.values.values():
        assert len(value.why) > 20, f"{value.where} {value.dotted}: no reason in the comment"
        assert value.sources, f"{value.where} {value.dotted}: no source link in the comment"
        assert all(url.startswith("https://") for url in value.sources), value.sources
        assert "http" not in value.why, f"{value.where}: links belong in sources, not in the reason"


def test_includes_merge_and_the_including_profile_wins() -> None:
    db = profiles.load("db-guest")
    assert db.files == ("base.toml", "guest.toml", "db-guest.toml")
    swappiness = db.get("sysctl", "vm.swappiness")
    assert swappiness is not None and swappiness.value == Range(1, 1, 10)
    assert swappiness.where.startswith("db-guest.toml:")
    # inherited unchanged from base
    zone = db.get("sysctl", "vm.zone_reclaim_mode")
    assert zone is not None and zone.where.startswith("base.toml:")
    assert db.value("ksm", "run") == (0,)  # from guest
    assert db.value("block", "rotational") == ("mq-deadline", "none")  # guest overrides base


def test_range_accepts() -> None:
    assert Range(10, 1, 10).accepts("1") and Range(10, 1, 10).accepts("10")
    assert not Range(10, 1, 10).accepts("0") and not Range(10, 1, 10).accepts("60")
    assert Range(0).accepts("0") and not Range(0).accepts("1")
    assert not Range(10, 1, 10).accepts("garbage")
    assert Range("4096 16384 4194304").accepts("4096\t16384   4194304")
    assert Range(10, 1, 10).describe() == "1..10" and Range(0).describe() == "0"


def write(folder: Path, name: str, text: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.toml").write_text(text)


def test_a_profile_dir_adds_profiles_and_wins_over_shipped_ones(tmp_path: Path) -> None:
    write(
        tmp_path,
        "db-guest",
        'summary = "ours"\ninclude = "guest"\n[sysctl]\n# why we want 5. https://example.org/why\n"vm.swappiness" = 5\n',
    )
    write(tmp_path, "squid-only", 'summary = "squid box"\ninclude = "guest"\n')
    assert {"squid-only", "kvm-host"} <= set(profiles.available(str(tmp_path)))
    ours = profiles.load("db-guest", str(tmp_path))
    assert ours.summary == "ours"
    assert ours.value("sysctl", "vm.swappiness") == Range(5)
    pv = ours.get("sysctl", "vm.swappiness")
    assert pv is not None and pv.why == "why we want 5." and pv.sources == ("https://example.org/why",)
    assert ours.get("mysql", "slow_query_log") is None  # the shipped db-guest is hidden, not merged


def test_trailing_comments_count_as_the_reason(tmp_path: Path) -> None:
    write(
        tmp_path,
        "p",
        'summary = "s"\n[apache]\nos_reserve_mib = 768  # more room for Squid https://example.org/r\n',
    )
    pv = profiles.load("p", str(tmp_path)).get("apache", "os_reserve_mib")
    assert pv is not None and pv.value == 768
    assert pv.why == "more room for Squid" and pv.sources == ("https://example.org/r",)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('summary = "s"\n[sysclt]\n"vm.swappiness" = 1\n', "unknown profile section [sysclt]"),
        ('summary = "s"\n[apache]\nmax_clients = 150\n', "unknown key [apache] 'max_clients'"),
        ('summary = "s"\n[apache]\nos_reserve_mib = "lots"\n', "apache.os_reserve_mib must be an integer"),
        ('summary = "s"\n[sysctl]\n"vm.swappiness" = { set = 1, low = 0 }\n', "vm.swappiness must be"),
        ('[sysctl]\n"vm.swappiness" = 1\n', "has no summary"),
        ('summary = "s"\ninclude = "nope"\n', "unknown tuning profile 'nope'"),
        ('summary = "s"\ninclude = "p"\n', "includes itself"),
        ('summary = "s"\n[thp\n', "not valid TOML"),
    ],
)
def test_bad_profiles_are_config_errors_naming_file_and_line(tmp_path: Path, text: str, message: str) -> None:
    write(tmp_path, "p", text)
    with pytest.raises(ConfigError) as raised:
        profiles.load("p", str(tmp_path))
    assert message in str(raised.value)
    if "unknown key" in message or "must be" in message:
        assert f"{tmp_path / 'p.toml'}:3" in str(raised.value)


def test_unknown_profile_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError) as raised:
        profiles.load("db-gest")
    assert "db-guest" in (raised.value.fix or "")
