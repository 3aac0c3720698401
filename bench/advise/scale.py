"""`sqlops advise` on 10,000 distinct query classes over the bundled schema: time and peak RSS.

Generates a MySQL-style slow log (to a temp file) whose statements fall into `--classes`
distinct fingerprints over the tables and columns of tests/data/advisor/squid-reports-schema.sql:
varied tables, select lists (columns, `*`, aggregates with GROUP BY), 1-3 WHERE columns with
=, <, >, >=, BETWEEN, LIKE 'x%', LIKE '%x%', IN (...), IS NULL, functions on columns, ORDER BY
... LIMIT, and joins of access_log to users / site_categories / workstations. Each class appears
1-3 times with different literals. Then runs, `--runs` times,

    sqlops advise --log <that log> --schema tests/data/advisor/squid-reports-schema.sql --format json

(no server) under `/usr/bin/time -v`, and reports wall time and peak RSS, min–median–max.
Targets (issue #9): <= 30 s and <= 300 MB.

    .venv/bin/python -m bench.advise.scale --classes 10000 --runs 3

`BENCH_SQLOPS_ADVISE_SCALE` overrides the command (a template with {python} {log} {schema}).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCHEMA = REPO / "tests/data/advisor/squid-reports-schema.sql"
TARGET_S, TARGET_MB = 30.0, 300.0


def schema_columns(path: Path) -> dict[str, dict[str, str]]:
    """table -> {column: type} from the CREATE TABLE statements of a DDL file."""
    tables: dict[str, dict[str, str]] = {}
    for m in re.finditer(r"CREATE TABLE `(\w+)` \((.*?)\n\)", path.read_text(), re.S):
        cols = {}
        for line in m.group(2).splitlines():
            cm = re.match(r"\s+`(\w+)` (\w+)", line)
            if cm:
                cols[cm.group(1)] = cm.group(2).lower()
        tables[m.group(1)] = cols
    return tables


class Literals:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def value(self, ctype: str) -> str:
        r = self.rng
        if ctype in ("int", "bigint", "tinyint", "smallint", "mediumint"):
            return str(r.randrange(0, 100000))
        if ctype == "decimal":
            return f"{1790800000 + r.randrange(5_000_000)}.{r.randrange(1000):03d}"
        if ctype == "date":
            return f"'{dt.date(2026, 10, 1) + dt.timedelta(days=r.randrange(60))}'"
        if ctype in ("datetime", "timestamp"):
            return f"'2026-11-{r.randrange(1, 29):02d} {r.randrange(24):02d}:{r.randrange(60):02d}:00'"
        word = r.choice(("alice", "bmeyer", "10.11.2.3", "www.example.com", "TCP_MISS", "text/html", "Sales", "x"))
        return f"'{word}{r.randrange(1000)}'"


class Placeholders(Literals):
    def value(self, ctype: str) -> str:
        return "?"


OPS = ("=", "<", ">", ">=", "BETWEEN", "LIKE_PREFIX", "LIKE_ANY", "IN", "IS NULL", "FUNC")
JOINS = (
    ("users u", "u.username = a.http_username", "u", "users"),
    ("site_categories c", "c.domain = SUBSTRING_INDEX(SUBSTRING_INDEX(a.http_url, '/', 3), '/', -1)", "c", "site_categories"),
    ("workstations w", "w.ip_address = a.ip_client", "w", "workstations"),
)


def predicate(col: str, ctype: str, op: str, lit: Literals) -> str:
    v = lit.value
    if op == "BETWEEN":
        return f"{col} BETWEEN {v(ctype)} AND {v(ctype)}"
    if op == "LIKE_PREFIX":
        return f"{col} LIKE ?" if isinstance(lit, Placeholders) else f"{col} LIKE 'http://h{lit.rng.randrange(999)}/%'"
    if op == "LIKE_ANY":
        return f"{col} LIKE ?" if isinstance(lit, Placeholders) else f"{col} LIKE '%w{lit.rng.randrange(999)}%'"
    if op == "IN" and isinstance(lit, Placeholders):
        return f"{col} IN (?)"
    if op == "IN":
        return f"{col} IN ({', '.join(v(ctype) for _ in range(lit.rng.randrange(2, 7)))})"
    if op == "IS NULL":
        return f"{col} IS NULL"
    if op == "FUNC":
        return f"DATE({col}) = {lit.value('date')}" if ctype in ("date", "datetime") else f"LOWER({col}) = {v(ctype)}"
    return f"{col} {op} {v(ctype)}"


def generate_classes(tables: dict[str, dict[str, str]], n: int, seed: int) -> list:  # type: ignore[type-arg]
    """`n` distinct statement structures, each a function of a Literals -> SQL text."""
    rng = random.Random(seed)
    names = sorted(tables)
    weights = [6 if t == "access_log" else 1 for t in names]
    seen: set = set()  # type: ignore[type-arg]
    out = []
    while len(out) < n:
        table = rng.choices(names, weights)[0]
        cols = sorted(tables[table])
        where = tuple(sorted((c, rng.choice(OPS)) for c in rng.sample(cols, rng.randint(1, min(3, len(cols))))))
        kind = rng.choice(("cols", "cols", "star", "agg"))
        select = tuple(sorted(rng.sample(cols, rng.randint(1, min(4, len(cols)))))) if kind != "star" else ("*",)
        group = rng.choice(cols) if kind == "agg" else None
        order = rng.choice((None, None, *cols)) if kind != "agg" else None
        desc = rng.random() < 0.5
        join = rng.choice((None, None, None, *range(len(JOINS)))) if table == "access_log" else None
        if kind == "agg":
            select = select[:1]
        key = (table, where, kind, select, group, order, desc if order else None, join)
        shape = render(tables, key, Placeholders(rng))  # the fingerprint, near enough
        if shape in seen:
            continue
        seen.add(shape)
        out.append(key)
    return out


def render(tables: dict[str, dict[str, str]], key, lit: Literals) -> str:  # type: ignore[no-untyped-def]
    table, where, kind, select, group, order, desc, join = key
    types = tables[table]
    alias = "a" if join is not None else None
    qual = (lambda c: f"{alias}.{c}") if alias else (lambda c: c)
    if kind == "agg":
        head = f"SELECT {qual(group)}, COUNT(*), SUM({qual(select[0])})"
    elif kind == "star":
        head = "SELECT *" if alias is None else "SELECT a.*"
    else:
        head = "SELECT " + ", ".join(qual(c) for c in select)
    src = f"FROM {table}" + (f" {alias}" if alias else "")
    if join is not None:
        jt, on, ja, _ = JOINS[join]
        src += f" JOIN {jt} ON {on}"
        head += f", {ja}.*" if kind != "agg" else ""
    preds = " AND ".join(predicate(qual(c), types[c], op, lit) for c, op in where)
    sql = f"{head} {src} WHERE {preds}"
    if group:
        sql += f" GROUP BY {qual(group)}"
    if order:
        limit = "?" if isinstance(lit, Placeholders) else lit.rng.choice((10, 20, 50, 100))
        sql += f" ORDER BY {qual(order)}{' DESC' if desc else ''} LIMIT {limit}"
    return sql


def write_log(path: Path, classes: int, seed: int) -> int:
    tables = schema_columns(SCHEMA)
    keys = generate_classes(tables, classes, seed)
    rng = random.Random(seed + 1)
    lit = Literals(rng)
    entries = [(k, i) for k in keys for i in range(rng.randint(1, 3))]
    rng.shuffle(entries)
    t0 = dt.datetime(2026, 11, 30, 8, 0, tzinfo=dt.UTC)
    with path.open("w") as fh:
        fh.write("/usr/sbin/mysqld, Version: 9.7.4-2 ((Debian)). started with:\n"
                 "Tcp port: 3306  Unix socket: /run/mysqld/mysqld.sock\nTime                 Id Command    Argument\n")
        for n, (key, _) in enumerate(entries):
            ts = t0 + dt.timedelta(milliseconds=37 * n)
            examined = rng.randrange(1, 1_000_000)
            fh.write(f"# Time: {ts:%Y-%m-%dT%H:%M:%S.%fZ}\n"
                     f"# User@Host: reports[reports] @ web1 [10.20.0.5]  Id: {100 + n % 50:5d}\n"
                     f"# Query_time: {rng.random() * 2:.6f}  Lock_time: 0.000010 Rows_sent: {rng.randrange(100)}"
                     f"  Rows_examined: {examined}\n")
            if n == 0:
                fh.write("use squid_reports;\n")
            fh.write(f"SET timestamp={int(ts.timestamp())};\n{render(tables, key, lit)};\n")
    return len(entries)


def run_once(cmd: list[str]) -> tuple[float, float, str, int]:
    proc = subprocess.run(["/usr/bin/time", "-v", *cmd], capture_output=True, text=True, cwd=REPO)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)", proc.stderr)
    seconds = 0.0
    if wall:
        for part in wall.group(1).split(":"):
            seconds = seconds * 60 + float(part)
    return seconds, int(rss.group(1)) / 1024 if rss else 0.0, proc.stdout, proc.returncode


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--classes", type=int, default=10_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seed", type=int, default=9)
    ap.add_argument("--keep-log", help="write the generated log here (kept) instead of a temp file")
    args = ap.parse_args(argv)
    template = os.environ.get("BENCH_SQLOPS_ADVISE_SCALE",
                              "{python} -m sqlops advise --log {log} --schema {schema} --format json")
    with tempfile.TemporaryDirectory(prefix="sqlops-advise-scale-") as tmp:
        log = Path(args.keep_log) if args.keep_log else Path(tmp) / "scale-slow.log"
        entries = write_log(log, args.classes, args.seed)
        print(f"log: {log} ({log.stat().st_size / 1e6:.1f} MB, {entries} entries, {args.classes} distinct classes)")
        cmd = [p.format(python=sys.executable, log=str(log), schema=str(SCHEMA)) for p in shlex.split(template)]
        print("command: " + " ".join(shlex.quote(c) for c in cmd))
        secs, rss = [], []
        for i in range(args.runs):
            s, r, out, rc = run_once(cmd)
            if rc != 0:
                print(f"run {i + 1}: sqlops advise failed (exit {rc}); not available yet? stdout: {out[-300:]!r}")
                return 1
            try:
                data = json.loads(out)
                detail = f"{len(data.get('indexes', []))} indexes; keys {sorted(data)[:8]}"
            except ValueError:
                detail = "output is not JSON"
            print(f"run {i + 1}: {s:6.1f} s  {r:7.1f} MB  ({detail})", flush=True)
            secs.append(s)
            rss.append(r)
    med_s, med_r = statistics.median(secs), statistics.median(rss)
    print(f"sqlops advise, {args.classes} classes: {min(secs):.1f}–{med_s:.1f}–{max(secs):.1f} s, "
          f"peak RSS {min(rss):.0f}–{med_r:.0f}–{max(rss):.0f} MB (min–median–max of {args.runs})")
    print(f"targets <= {TARGET_S:.0f} s and <= {TARGET_MB:.0f} MB: "
          f"{'met' if max(secs) <= TARGET_S and max(rss) <= TARGET_MB else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
