"""The one my.cnf parser: the connection reader and the tuning facts read a file the same way
(they had drifted: the connection reader kept an inline comment in the value and did not drop
the `loose-` prefix)."""

from __future__ import annotations

from pathlib import Path

from sqlops.mycnf import read_option_file
from sqlops.tuning.facts import Root, mysql_server_options

CNF = """\
# a comment line
; another
[client]
host = db1.example   # the primary
loose-port = 3307
password = "se#cret"  # quoted: the # is part of it
ssl-verify-server-cert
user='report'
[mysqld]
loose-slow-query-log = 1   # on
long_query_time = 0.5 ; not a comment start inside a line
skip-name-resolve
!includedir /etc/mysql/conf.d/
"""


def _root(tmp_path: Path) -> Path:
    (tmp_path / "etc/mysql/conf.d").mkdir(parents=True)
    (tmp_path / "etc/mysql/my.cnf").write_text(CNF)
    (tmp_path / "etc/mysql/conf.d/z.cnf").write_text(
        "[client]\nuser = later # wins\n[mysqld]\nmax-connections=80\n"
    )
    return tmp_path


def test_the_connection_reader_drops_inline_comments_and_loose_prefixes(tmp_path: Path) -> None:
    root = _root(tmp_path)
    cnf = root / "etc/mysql/my.cnf"
    cnf.write_text(CNF.replace("/etc/mysql/conf.d/", str(root / "etc/mysql/conf.d")))
    got = read_option_file(cnf)
    assert got == {
        "host": "db1.example",
        "port": "3307",
        "password": "se#cret",
        "tls.verify": "1",
        "user": "later",
    }


def test_the_tuning_facts_read_the_same_file_the_same_way(tmp_path: Path) -> None:
    options = mysql_server_options(Root(_root(tmp_path)))
    values = {name: s.value for name, s in options.items()}
    assert values == {
        "slow_query_log": "1",
        "long_query_time": "0.5 ; not a comment start inside a line",
        "skip_name_resolve": "ON",
        "max_connections": "80",
    }
    assert options["max_connections"].where.endswith("conf.d/z.cnf:4")
