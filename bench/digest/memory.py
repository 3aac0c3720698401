"""Benchmark: memory and time of `sqlops digest` on inputs that used to blow up, with
pt-query-digest on the same files in the same run.

Cases (generated under bench/data/ when missing):

* ``big-statement``: one 50 MB bulk INSERT (a single entry) between a few ordinary entries;
* ``classes-300k``: 300,000 entries, each a different statement shape (300,000 classes);
* ``literals-40m``: 40 MB of entries whose string literals hold header-like lines
  (``# Time:``, ``# User@Host:``, ``# Query_time:``), 20 of them per literal.

Prints seconds and peak RSS (process tree, sampled every 20 ms) per tool and case.

Usage:
    python bench/digest/memory.py [--case NAME ...] [--rounds 1] [--skip-pt] [--jobs 1]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench import run_measured  # noqa: E402

DATA = HERE.parents[1] / "bench" / "data"
OUT = HERE.parents[1] / "bench" / "out"


def _head(i: int, query_time: float = 0.5) -> str:
    return (
        f"# Time: 2026-11-27T10:{i // 60 % 60:02d}:{i % 60:02d}.{i % 1000000:06d}Z\n"
        f"# User@Host: app[app] @  [10.0.0.{i % 7}]  Id: {i % 5000}\n"
        f"# Query_time: {query_time:.6f}  Lock_time: 0.000010 Rows_sent: 1  Rows_examined: {i % 1000}\n"
        f"SET timestamp={1795770000 + i};\n"
    )


def big_statement(fh: TextIO) -> None:
    for i in range(3):
        fh.write(_head(i) + f"SELECT * FROM t WHERE id = {i};\n")
    fh.write(_head(3, 35.0) + "INSERT INTO big (id, name, price, note) VALUES ")
    row, written, target = 0, 0, 50 * 1024 * 1024
    rows = []
    while written < target:
        text = f"({row}, 'name {row}', {row % 1000}.{row % 100:02d}, NULL)"
        rows.append(text)
        written += len(text) + 1
        row += 1
        if len(rows) == 10000:
            fh.write(",".join(rows) + ",")
            rows.clear()
    fh.write(",".join(rows or ["(0, '', 0, NULL)"]) + ";\n")
    for i in range(4, 7):
        fh.write(_head(i) + f"SELECT * FROM t WHERE id = {i};\n")


def classes_300k(fh: TextIO) -> None:
    for i in range(300_000):
        fh.write(_head(i, (i % 1000) / 1000) + f"SELECT c{i}, d FROM t{i % 100} WHERE id = {i};\n")


def literals_40m(fh: TextIO) -> None:
    fake = "".join(
        f"# Time: 2020-01-01T00:00:{k:02d}.000000Z\n# User@Host: x[x] @ y [10.0.0.1]  Id: {k}\n"
        "# Query_time: 99.000000  Lock_time: 0.000000 Rows_sent: 0  Rows_examined: 0\nSELECT 1;\n"
        for k in range(20)
    )
    written, i, target = 0, 0, 40 * 1024 * 1024
    while written < target:
        entry = _head(i) + f"INSERT INTO notes (id, body) VALUES ({i}, 'pasted log:\n{fake}');\n"
        fh.write(entry)
        written += len(entry)
        i += 1


CASES: dict[str, Callable[[TextIO], None]] = {
    "big-statement": big_statement,
    "classes-300k": classes_300k,
    "literals-40m": literals_40m,
}


def ensure(case: str) -> Path:
    path = DATA / f"digest-{case}.log"
    if not path.exists():
        DATA.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        with tmp.open("w", encoding="utf-8", newline="\n") as fh:
            CASES[case](fh)
        tmp.rename(path)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", action="append", choices=sorted(CASES), help="default: all")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--skip-pt", action="store_true")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    print(f"{'case':<14} {'tool':<16} {'MB':>5} {'seconds':>8} {'RSS tree':>9}  classes")
    for case in args.case or list(CASES):
        path = ensure(case)
        size_mb = path.stat().st_size / 1e6
        for _ in range(args.rounds):
            ours_cmd = [
                sys.executable,
                "-c",
                "import sys; from sqlops.cli import main; sys.exit(main(sys.argv[1:]))",
                "digest",
                "--log",
                str(path),
                "--format",
                "json",
                "--top",
                "20",
                "--jobs",
                str(args.jobs),
            ]
            tools = [("sqlops digest", ours_cmd)]
            if not args.skip_pt:
                tools.append(
                    ("pt-query-digest", ["pt-query-digest", "--output", "json", "--limit", "20", str(path)])
                )
            for name, cmd in tools:
                out = OUT / f"memory-{case}-{name.split()[0]}.json"
                secs, rss, _ = run_measured(cmd, out)
                classes = _classes(out, name)
                print(
                    f"{case:<14} {name:<16} {size_mb:5.0f} {secs:8.1f} {rss / 1024:8.0f}M  {classes}",
                    flush=True,
                )


def _classes(out: Path, tool: str) -> str:
    import json

    try:
        data = json.loads(out.read_text())
    except ValueError:
        return "?"
    if tool.startswith("sqlops"):
        beyond = data.get("classes_beyond_cap")
        extra = f" ({beyond['classes']} beyond the cap)" if beyond else ""
        return f"{data['class_count']}{extra}"
    return f"{len(data.get('classes', []))} listed"


if __name__ == "__main__":
    main()
