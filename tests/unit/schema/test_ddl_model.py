"""The schema model from DDL text: what mysqldump / SHOW CREATE TABLE print, parsed offline."""

from __future__ import annotations

import pytest

from sqlops.errors import InputError
from sqlops.schema.ddl import load_schema_files, parse_ddl_text, split_ddl
from sqlops.schema.model import IndexPart

DUMP = """-- MariaDB dump 10.19
/*!40101 SET NAMES utf8mb4 */;
DROP TABLE IF EXISTS `t`;
CREATE TABLE `t` (
  `id` bigint(20) unsigned NOT NULL AUTO_INCREMENT,
  `u` varchar(255) CHARACTER SET latin1 DEFAULT NULL COMMENT 'semicolon; inside',
  `url` mediumtext,
  `d` date NOT NULL,
  PRIMARY KEY (`id`,`d`),
  UNIQUE KEY `uq` (`u`(10), `d` DESC),
  KEY `k2` (`url`(100)) COMMENT 'x' IGNORED,
  KEY `k3` (`d`) USING BTREE,
  KEY (`d`, `u`),
  FULLTEXT KEY `ft` (`u`)
) ENGINE=InnoDB AUTO_INCREMENT=5001 DEFAULT CHARSET=utf8mb4
/*!50100 PARTITION BY RANGE (to_days(`d`))
(PARTITION p0 VALUES LESS THAN (1) ENGINE = InnoDB,
 PARTITION pmax VALUES LESS THAN MAXVALUE ENGINE = InnoDB) */;
INSERT INTO `t` VALUES (1,'a;b','x','2020-01-01');
DELIMITER ;;
CREATE TRIGGER x BEFORE INSERT ON t FOR EACH ROW BEGIN SET NEW.d = CURDATE(); END ;;
DELIMITER ;
CREATE TABLE users (id int primary key, email varchar(100) NOT NULL, name text) ENGINE=MyISAM;
CREATE INDEX ix_email ON users (email);
ALTER TABLE users ADD INDEX ix_name (name(20)), ADD UNIQUE KEY uq_mail (email);
CREATE ALGORITHM=UNDEFINED DEFINER=`root`@`localhost` SQL SECURITY DEFINER VIEW `v` AS
  select `t`.`u` AS `u`, users.email from `t` join users on users.id = t.id;
CREATE VIEW v2 AS SELECT * FROM v;
"""


@pytest.fixture
def schema():
    return parse_ddl_text(DUMP, "dump.sql")


def test_columns_types_nullability_charset(schema) -> None:
    t = schema.table("t")
    assert [c.name for c in t.columns] == ["id", "u", "url", "d"]
    by = {c.name: c for c in t.columns}
    assert (by["id"].type, by["id"].nullable, by["id"].auto_increment) == ("bigint unsigned", False, True)
    assert (by["u"].base_type, by["u"].length, by["u"].charset) == ("varchar", 255, "latin1")
    assert by["url"].is_text_or_blob and by["url"].charset == "utf8mb4"  # the table default
    assert by["d"].is_temporal and not by["d"].nullable
    assert t.engine == "InnoDB" and t.rows == 5000  # AUTO_INCREMENT=5001 as a size hint


def test_indexes_order_prefix_direction_visibility(schema) -> None:
    t = schema.table("t")
    assert [i.name for i in t.indexes] == ["PRIMARY", "uq", "k2", "k3", "d", "ft"]
    assert t.primary_key == ("id", "d")
    uq = t.index("uq")
    assert uq.unique and uq.parts == (IndexPart("u", 10), IndexPart("d", None, True))
    assert t.index("k2").parts == (IndexPart("url", 100),) and not t.index("k2").visible  # MariaDB IGNORED
    assert t.index("d").columns == ("d", "u")  # an unnamed key is named after its first column
    assert t.index("ft").kind == "FULLTEXT" and not t.index("ft").usable_for_lookups


def test_partitioning_read_from_version_comment(schema) -> None:
    p = schema.table("t").partitioning
    assert (p.method, p.expression, p.partitions) == ("RANGE", "to_days(`d`)", ("p0", "pmax"))


def test_create_index_and_alter_table_apply_in_order(schema) -> None:
    users = schema.table("USERS")  # names are looked up case-insensitively
    assert users.engine == "MyISAM"
    assert [(i.name, i.columns, i.unique) for i in users.secondary_indexes] == [
        ("ix_email", ("email",), False),
        ("ix_name", ("name",), False),
        ("uq_mail", ("email",), True),
    ]
    assert users.index("ix_name").parts[0].prefix == 20


def test_views_and_their_base_tables(schema) -> None:
    assert set(schema.views) == {"v", "v2"}
    assert schema.view("v").base_tables == ("t", "users")
    assert schema.base_tables("v2") == ("t", "users")  # a view over a view, recursively
    assert schema.base_tables("t") == ("t",)
    assert schema.base_tables("nope") == ()


def test_split_keeps_lines_and_ignores_semicolons_in_literals() -> None:
    statements = split_ddl(DUMP, "dump.sql")
    create = next(s for s in statements if s.sql.startswith("CREATE TABLE `t`"))
    assert create.line == 4
    assert "semicolon; inside" in create.sql
    assert not any("TRIGGER" in s.sql for s in statements)  # DELIMITER blocks are dropped


def test_unparseable_create_table_names_file_and_line(tmp_path) -> None:
    bad = tmp_path / "bad.sql"
    bad.write_text("-- one\nCREATE TABLE x (a int, PRIMARY KEY a);\n")
    with pytest.raises(InputError) as err:
        load_schema_files([bad])
    assert f"{bad}:2" in str(err.value)


def test_a_file_without_tables_is_an_input_error(tmp_path) -> None:
    empty = tmp_path / "empty.sql"
    empty.write_text("SELECT 1;\n")
    with pytest.raises(InputError, match="no CREATE TABLE"):
        load_schema_files([empty])
    with pytest.raises(InputError, match="cannot read schema file"):
        load_schema_files([tmp_path / "missing.sql"])
