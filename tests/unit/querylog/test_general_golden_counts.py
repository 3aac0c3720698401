"""The general-log goldens checked against the raw logs, not against the reader: a few lines of
plain parsing here (one regex per record, the thread's user/host/database remembered from its
Connect, Init DB and USE records) count what each golden file must say. Nothing in
sqlops.querylog is called, so a reader bug that the golden file captured shows up here."""

from __future__ import annotations

import ast
import datetime as dt
import re
from collections import Counter
from pathlib import Path

import pytest

DATA = Path(__file__).parents[2] / "data" / "querylog"
GENERAL = ["mariadb1011-general.log", "mysql97-general.log"]

# A record: optional time (MariaDB YYMMDD HH:MM:SS, only when it changed; MySQL ISO 8601 on each),
# tabs, the thread id, the command, a tab, the argument. Continuation lines carry none of this.
RECORD = re.compile(
    r"^(\d{6} [ \d]\d:\d\d:\d\d|\d{4}-\d\d-\d\dT[\d:.]+Z)?\t+ *(\d+) (Query|Execute|Connect|Init DB|Prepare|Quit)\t(.*)$"
)
CONNECT = re.compile(r"(\S+)@(\S+) on (\S*)")
USE = re.compile(r"use\s+`?(\w+)`?\s*;?\s*$", re.I)


def _time(text: str) -> dt.datetime:
    if "T" in text:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return dt.datetime.strptime(text, "%y%m%d %H:%M:%S").replace(tzinfo=dt.UTC)


def raw_counts(name: str) -> dict[str, object]:
    """Statements (Query and Execute records), per user, host and database, the time range,
    and each statement's line number with its first line of text."""
    users: Counter[str] = Counter()
    hosts: Counter[str] = Counter()
    dbs: Counter[str] = Counter()
    threads: dict[str, tuple[str, str, str]] = {}
    first_lines: dict[int, str] = {}
    stamp = None
    times = []
    for number, line in enumerate((DATA / name).read_text(encoding="utf-8").splitlines(), 1):
        m = RECORD.match(line)
        if not m:
            continue
        when, thread, command, argument = m.groups()
        stamp = _time(when) if when else stamp
        user, host, db = threads.get(thread, ("", "", ""))
        if command == "Connect":
            user, host, db = CONNECT.match(argument).groups()  # type: ignore[union-attr]
        elif command == "Init DB":
            db = argument
        elif command in ("Query", "Execute"):
            if use := USE.match(argument):  # USE x counts in x, the database it leaves the session in
                db = use.group(1)
            users[user] += 1
            hosts[host] += 1
            if db:
                dbs[db] += 1
            times.append(stamp)
            first_lines[number] = argument
        threads[thread] = (user, host, db)
    return {
        "statements": len(first_lines),
        "users": users,
        "hosts": hosts,
        "dbs": dbs,
        "range": (min(times), max(times)),
        "first_lines": first_lines,
    }


def golden(name: str) -> dict[str, object]:
    """What the golden file says, summed over its classes."""
    text = (DATA / "golden" / (name + ".txt")).read_text(encoding="utf-8")
    totals: dict[str, Counter[str]] = {"users": Counter(), "hosts": Counter(), "dbs": Counter()}
    counts = []
    for m in re.finditer(
        r"^class \S+ count=(\d+) .*? dbs=(\{.*?\}) users=(\{.*?\}) hosts=(\{.*?\}) ", text, re.M
    ):
        counts.append(int(m.group(1)))
        for key, group in (("dbs", 2), ("users", 3), ("hosts", 4)):
            totals[key].update(ast.literal_eval(m.group(group)))
    head = re.search(r"^statements (\d+)  classes (\d+)", text, re.M)
    span = re.search(r"^time range (.+) \.\. (.+)$", text, re.M)
    assert head and span
    worst = {
        int(line): ast.literal_eval(sql)
        for line, sql in re.findall(r"^  worst: line (\d+) .*?: (.+)$", text, re.M)
    }
    return {
        "statements": int(head.group(1)),
        "classes": int(head.group(2)),
        "class_counts": counts,
        "range": (dt.datetime.fromisoformat(span.group(1)), dt.datetime.fromisoformat(span.group(2))),
        "worst": worst,
        **totals,
    }


@pytest.mark.parametrize("name", GENERAL)
def test_general_golden_totals_match_the_raw_log(name: str) -> None:
    raw, gold = raw_counts(name), golden(name)
    assert gold["statements"] == raw["statements"] == sum(gold["class_counts"])  # type: ignore[arg-type]
    assert len(gold["class_counts"]) == gold["classes"]  # type: ignore[arg-type]
    assert gold["users"] == raw["users"] and gold["hosts"] == raw["hosts"]
    assert gold["dbs"] == raw["dbs"]
    assert gold["range"] == raw["range"]


@pytest.mark.parametrize("name", GENERAL)
def test_general_golden_examples_are_on_their_lines(name: str) -> None:
    first_lines = raw_counts(name)["first_lines"]
    worst = golden(name)["worst"]
    assert len(worst) == golden(name)["classes"]  # type: ignore[arg-type]
    for line, sql in worst.items():  # type: ignore[attr-defined]
        assert line in first_lines, f"line {line} is not a Query/Execute record"
        assert sql.startswith(first_lines[line].rstrip()[:100]), (line, sql)  # type: ignore[index]


def test_mysql_general_classes_by_hand() -> None:
    """The capture's loop ran six statements three times (read off the file: ids 1-3, skus 0-2,
    price > 0/10/20, ...); everything else once; PREPARE's Prepare record is not a statement."""
    text = (DATA / "mysql97-general.log").read_text(encoding="utf-8")
    for prefix in (
        "SELECT * FROM items WHERE id = ",
        "SELECT id FROM items WHERE sku = ",
        "SELECT COUNT(*) FROM items WHERE price > ",
        "SELECT a1.id, b2.sku FROM items a1 JOIN items b2",
        "UPDATE items SET price = price + 1 WHERE id IN (",
        "SELECT sku,\n",
    ):
        assert text.count(" Query\t" + prefix) == 3, prefix
    counts = golden("mysql97-general.log")["class_counts"]
    assert sorted(counts)[-6:] == [3] * 6  # type: ignore[call-overload]
    assert counts.count(2) == 1  # type: ignore[attr-defined]  # SELECT 1; and SELECT 2: one class
    assert text.count(" Execute\t") == 1 and text.count(" Prepare\t") == 1
