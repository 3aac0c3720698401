"""`sqlops digest --log a --log b`: one report over several servers' logs, each class with a
per-server breakdown (executions and time). The expected numbers come from reading the files
back with a plain regex, not from sqlops' parser."""

from __future__ import annotations

import json
import random
import re
import shutil
from collections import defaultdict
from pathlib import Path

import jsonschema
import pytest

from sqlops.cli import main

ROOT = Path(__file__).parents[3]
SCHEMA = json.loads((ROOT / "sqlops" / "querylog" / "digest.schema.json").read_text())
DATA = ROOT / "tests" / "data" / "querylog"
_ENTRY = re.compile(r"^# Query_time: ([0-9.]+) .*\n(?:#.*\n)*SET timestamp=\d+;\n(.*);$", re.M)


def _write_log(path: Path, rng: random.Random, lookups: int, updates: int) -> None:
    """A MariaDB-style slow log of `lookups` point selects and `updates` updates, shuffled."""
    statements = [f"SELECT * FROM items WHERE id = {rng.randrange(10_000)}" for _ in range(lookups)]
    statements += [f"UPDATE items SET price = {rng.randrange(99)} WHERE id = {i}" for i in range(updates)]
    rng.shuffle(statements)
    lines = ["/usr/sbin/mariadbd, Version: 10.11.19-MariaDB-log (Debian). started with:"]
    for n, sql in enumerate(statements):
        qt = rng.randrange(10, 900_000) / 1e6
        lines += [
            f"# Time: 261127 10:{n // 60 % 60:02d}:{n % 60:02d}",
            "# User@Host: shop[shop] @ web1 [10.0.0.5]",
            "# Thread_id: 7  Schema: shop  QC_hit: No",
            f"# Query_time: {qt:.6f}  Lock_time: 0.000010  Rows_sent: 1  Rows_examined: 1",
            f"SET timestamp={1795780000 + n};",
            f"{sql};",
        ]
    path.write_text("\n".join(lines) + "\n")


def _independent(path: Path) -> dict[str, tuple[int, float]]:
    """Executions and summed query time per statement kind, by regex over the file."""
    out: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
    for qt, sql in _ENTRY.findall(path.read_text()):
        kind = "select" if sql.startswith("SELECT") else "update"
        out[kind][0] += 1
        out[kind][1] += float(qt)
    return {k: (int(v[0]), v[1]) for k, v in out.items()}


def _digest(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["digest", *args])
    out, err = capsys.readouterr()
    assert code == 0, err
    return code, out


def test_two_servers_logs_break_down_per_server(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rng = random.Random(13)
    db1, db2 = tmp_path / "db1-slow.log", tmp_path / "db2-slow.log"
    _write_log(db1, rng, lookups=137, updates=21)
    _write_log(db2, rng, lookups=58, updates=0)
    expected = {str(db1): _independent(db1), str(db2): _independent(db2)}

    _code, out = _digest(capsys, "--log", str(db1), "--log", str(db2), "--format", "json")
    data = json.loads(out)
    jsonschema.validate(data, SCHEMA)
    kinds = {c["fingerprint"].split()[0].lower(): c for c in data["classes"]}
    assert set(kinds) == {"select", "update"}
    for kind, cls in kinds.items():
        shares = {s["name"]: s for s in cls["servers"]}
        want = {name: per[kind] for name, per in expected.items() if kind in per}
        assert set(shares) == set(want)  # db2 ran no update: it is not listed for that class
        for name, (count, seconds) in want.items():
            assert shares[name]["count"] == count
            assert shares[name]["query_time"] == pytest.approx(seconds, abs=1e-6)
        assert sum(s["count"] for s in cls["servers"]) == cls["count"]
    totals = {s["name"]: s["count"] for s in data["servers"]}
    assert totals == {name: sum(n for n, _t in per.values()) for name, per in expected.items()}

    _code, text = _digest(capsys, "--log", str(db1), "--log", str(db2))
    select = expected[str(db1)]["select"][0]
    both = select + expected[str(db2)]["select"][0]
    # The class table: the file, its executions and their share of the class.
    assert re.search(rf"^# {re.escape(str(db1))} +{select} +{round(select / both * 100)}% ", text, re.M)


def test_real_logs_of_both_flavours_total_per_server(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Captured MariaDB 10.11 and MySQL 9.7 slow logs as two servers: each class's share of a
    server equals that class's count when the server's log is digested alone."""
    maria = tmp_path / "maria.log"
    mysql = tmp_path / "mysql.log"
    shutil.copy(DATA / "mariadb1011-slow-all.log", maria)
    shutil.copy(DATA / "mysql97-slow.log", mysql)
    every = ("--format", "json", "--top", "100000")
    data = json.loads(_digest(capsys, "--log", str(maria), "--log", str(mysql), *every)[1])
    jsonschema.validate(data, SCHEMA)
    alone = {
        str(name): {c["id"]: c for c in json.loads(_digest(capsys, "--log", str(name), *every)[1])["classes"]}
        for name in (maria, mysql)
    }
    for cls in data["classes"]:
        shares = {s["name"]: s for s in cls["servers"]}
        assert set(shares) == {name for name, classes in alone.items() if cls["id"] in classes}
        for name, share in shares.items():
            single = alone[name][cls["id"]]
            assert share["count"] == single["count"]
            assert share["query_time"] == pytest.approx(single["query_time"]["total"], abs=1e-6)
    assert {s["name"]: s["count"] for s in data["servers"]} == {
        name: sum(c["count"] for c in classes.values()) for name, classes in alone.items()
    }


def test_server_without_from_server_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["digest", "--server", "mysql://root@127.0.0.1:3306/"])
    _out, err = capsys.readouterr()
    assert code != 0
    assert "--server is given without --from-server" in err and "add --from-server" in err
