"""Connections on both flavours: pinned session settings, flavour, named locks, errors."""

from __future__ import annotations

import pytest

from sqlops.db import connect, lock_name, named_lock, quote_ident
from sqlops.errors import ConfigError, ConnectError, LockHeldError


def test_session_settings_are_pinned(db) -> None:  # type: ignore[no-untyped-def]
    with db.connect(time_zone="+03:00") as session:
        tz, mode, charset = session.query("SELECT @@time_zone, @@sql_mode, @@character_set_connection")[0]
        assert tz == "+03:00"
        assert "STRICT_TRANS_TABLES" in mode
        assert charset == "utf8mb4"
        assert session.info.flavour == db.flavour
        assert session.info.version >= ((10, 6, 0) if db.flavour == "mariadb" else (8, 0, 0))


def test_utc_name_works_without_zone_tables(db) -> None:  # type: ignore[no-untyped-def]
    with db.connect(time_zone="UTC") as session:
        assert session.scalar("SELECT @@time_zone") == "+00:00"


def test_named_zone_needs_the_servers_zone_tables(db) -> None:  # type: ignore[no-untyped-def]
    loaded = db.sql("SELECT COUNT(*) FROM mysql.time_zone_name WHERE Name = 'Europe/Berlin'")[0][0]
    if loaded:  # someone loaded the tables (mysql_tzinfo_to_sql): the zone must then just work
        with db.connect(time_zone="Europe/Berlin") as session:
            assert session.scalar("SELECT @@time_zone") == "Europe/Berlin"
        return
    with pytest.raises(ConfigError) as err:
        db.connect(time_zone="Europe/Berlin")
    assert "mysql_tzinfo_to_sql" in str(err.value)


def test_wrong_port_is_a_connect_error(db) -> None:  # type: ignore[no-untyped-def]
    settings = db.settings(port=1, connect_timeout=2)
    with pytest.raises(ConnectError) as err:
        connect(settings)
    assert "cannot connect" in str(err.value) and err.value.fix


def test_unknown_database_says_how_to_create_it(db) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConnectError, match="CREATE DATABASE"):
        connect(db.settings(database=db.name + "_missing"))


def test_named_lock_names_the_holder(db) -> None:  # type: ignore[no-untyped-def]
    name = lock_name("partition-rotate", db.name, "access_log")
    with db.connect() as first, db.connect() as second:
        with named_lock(first, name):
            with pytest.raises(LockHeldError) as err, named_lock(second, name):
                pass
            assert f"connection {first.connection_id}" in str(err.value)
            assert err.value.exit_code == 4
        with named_lock(second, name):  # released by the first holder
            pass


def test_long_lock_names_fit_the_server_limit(db) -> None:  # type: ignore[no-untyped-def]
    name = lock_name("partition-rotate", "d" * 64, "t" * 64)
    assert len(name) <= 64
    with db.connect() as session, named_lock(session, name):
        assert session.scalar("SELECT IS_USED_LOCK(%s)", (name,)) == session.connection_id


def test_quote_ident_round_trips_awkward_names(db) -> None:  # type: ignore[no-untyped-def]
    awkward = "we`ird tab;le"
    with db.connect() as session:
        session.execute(f"CREATE TABLE {quote_ident(awkward)} (a INT)")
        assert (
            session.scalar(
                "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s",
                (awkward,),
            )
            == 1
        )


def test_an_offset_the_server_rejects_is_not_blamed_on_zone_tables(db) -> None:  # type: ignore[no-untyped-def]
    """MariaDB 10.11 accepts offsets -12:59..+13:00, MySQL 9.7 -13:59..+14:00 (both verified)."""
    if db.flavour == "mysql":
        with db.connect(time_zone="+14:00") as session:
            assert session.scalar("SELECT @@time_zone") == "+14:00"
        return
    with pytest.raises(ConfigError) as err:
        db.connect(time_zone="+14:00")
    text = str(err.value)
    assert "rejects the time zone offset '+14:00'" in text and "-12:59 to +13:00" in text, text
    assert "mysql_tzinfo_to_sql" not in text and "tables are empty" not in text
