"""Benchmark: `sqlops digest` against pt-query-digest on the same generated slow log, same run.

Prints, for both tools: wall time, MB/s, peak RSS (sum over the process tree, sampled every
20 ms, and the largest single process), classes found against the ground truth and how many
true classes got exactly their true count; then the speed ratio.

Usage:
    python bench/digest/bench.py [--log bench/data/digest-1g.log] [--size-mb 1024] [--jobs 0] [--rounds 3]

--jobs 1 measures the single-core path; CPU time (user + system of all processes) is the figure
that holds when other work shares the cores.

The log (and its .truth.json) is generated first when missing (bench/digest/generate.py).
pt-query-digest runs with --output json --limit 100000 so that every class is listed.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from sqlops.querylog.fingerprint import class_id, fingerprint  # noqa: E402


def tree_rss_kb(root: int) -> tuple[int, int]:
    """(sum, max) of VmRSS over `root` and its descendants, in KiB."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status") as fh:
                status = fh.read()
        except OSError:
            continue
        pid = int(entry)
        ppid = int(status.split("PPid:")[1].split()[0])
        children.setdefault(ppid, []).append(pid)
        if "VmRSS:" in status:
            rss[pid] = int(status.split("VmRSS:")[1].split()[0])
    total = peak = 0
    stack = [root]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        peak = max(peak, rss.get(pid, 0))
        stack.extend(children.get(pid, []))
    return total, peak


def run_measured(cmd: list[str], out_path: Path) -> tuple[float, int, int]:
    """Run `cmd` with stdout to `out_path`; return (seconds, peak tree RSS KiB, peak process RSS KiB)."""
    return run_measured_cpu(cmd, out_path)[:3]  # type: ignore[return-value]


def run_measured_cpu(cmd: list[str], out_path: Path) -> tuple[float, int, int, float]:
    """run_measured plus the CPU time (user + system) of the command and all its processes."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = _run_measured(cmd, out_path)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return (*result, cpu)


def _run_measured(cmd: list[str], out_path: Path) -> tuple[float, int, int]:
    with out_path.open("wb") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.PIPE)
        peaks = [0, 0]
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                total, single = tree_rss_kb(proc.pid)
                peaks[0] = max(peaks[0], total)
                peaks[1] = max(peaks[1], single)
                time.sleep(0.02)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, err = proc.communicate()
        elapsed = time.perf_counter() - start
        done.set()
        sampler.join()
    if proc.returncode != 0:
        raise SystemExit(f"{cmd[0]} failed ({proc.returncode}): {err.decode(errors='replace')[-2000:]}")
    return elapsed, peaks[0], peaks[1]


def pt_fingerprint(sql: str) -> str:
    out = subprocess.run(
        ["pt-fingerprint", "--query", sql], capture_output=True, text=True, check=False
    )  # exits 1 even on success
    return out.stdout.strip()


def agreement_sqlops(report: dict, truth: dict) -> tuple[int, int]:
    """(classes found, true classes whose count matches exactly)."""
    by_id = {c["id"]: c["count"] for c in report["classes"]}
    exact = 0
    for shape, count in truth["counts"].items():
        if not count:
            continue
        if shape == truth["admin_shape"]:
            text = b"administrator command: Quit"
            key = text.upper()
        else:
            key = fingerprint(truth["samples"][shape]).key
        if by_id.get(class_id(key)) == count:
            exact += 1
    return report["class_count"], exact


def agreement_pt(report: dict, truth: dict) -> tuple[int, int]:
    by_fp: dict[str, int] = {}
    for c in report["classes"]:
        by_fp[c["fingerprint"]] = by_fp.get(c["fingerprint"], 0) + int(c["query_count"])
    exact = 0
    for shape, count in truth["counts"].items():
        if not count:
            continue
        fp = (
            "administrator command: Quit"
            if shape == truth["admin_shape"]
            else pt_fingerprint(truth["samples"][shape])
        )
        if by_fp.get(fp) == count:
            exact += 1
    return len(report["classes"]), exact


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--log", type=Path, default=HERE.parents[1] / "bench" / "data" / "digest-1g.log")
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--jobs", type=int, default=0)
    parser.add_argument("--skip-pt", action="store_true", help="only run sqlops (for profiling)")
    parser.add_argument("--rounds", type=int, default=1, help="interleaved sqlops/pt pairs (min-median-max)")
    args = parser.parse_args()
    truth_path = Path(str(args.log) + ".truth.json")
    if not args.log.exists() or not truth_path.exists():
        args.log.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [sys.executable, str(HERE / "generate.py"), str(args.log), "--size-mb", str(args.size_mb)],
            check=True,
        )
    truth = json.loads(truth_path.read_text())
    size_mb = args.log.stat().st_size / 1e6
    out_dir = HERE.parents[1] / "bench" / "out"
    out_dir.mkdir(parents=True, exist_ok=True)
    print(
        f"input: {args.log} ({size_mb:.0f} MB, {truth['entries']} entries, {truth['classes']} true classes)"
    )
    print(f"cpus: {os.cpu_count()}  python: {sys.version.split()[0]}")

    sqlops_cmd = [
        sys.executable,
        "-c",
        "import sys; from sqlops.cli import main; sys.exit(main(sys.argv[1:]))",
        "digest",
        "--log",
        str(args.log),
        "--format",
        "json",
        "--top",
        "1000000",
        "--jobs",
        str(args.jobs),
    ]
    pt_cmd = ["pt-query-digest", "--output", "json", "--limit", "100000", str(args.log)]
    runs: dict[str, list[tuple[float, int, int, float]]] = {"sqlops digest": [], "pt-query-digest": []}
    rows = []
    for round_no in range(args.rounds):
        # Interleaved: each round runs both tools back to back, so load on the machine hits both.
        runs["sqlops digest"].append(run_measured_cpu(sqlops_cmd, out_dir / "sqlops.json"))
        if not args.skip_pt:
            runs["pt-query-digest"].append(run_measured_cpu(pt_cmd, out_dir / "pt.json"))
        print(
            f"round {round_no + 1}: "
            + "; ".join(
                f"{name} {r[-1][0]:.1f} s wall, {r[-1][3]:.1f} s CPU" for name, r in runs.items() if r
            ),
            flush=True,
        )
    ours = json.loads((out_dir / "sqlops.json").read_text())
    ours_classes, ours_exact = agreement_sqlops(ours, truth)
    rows.append(("sqlops digest", runs["sqlops digest"], ours_classes, ours_exact, ours["queries"]))
    if not args.skip_pt:
        pt = json.loads((out_dir / "pt.json").read_text())
        pt_classes, pt_exact = agreement_pt(pt, truth)
        pt_queries = sum(int(c["query_count"]) for c in pt["classes"])
        rows.append(("pt-query-digest", runs["pt-query-digest"], pt_classes, pt_exact, pt_queries))

    print()
    print(
        f"{'tool (median)':<16} {'seconds':>8} {'CPU s':>7} {'MB/s':>7} {'RSS tree':>9} {'RSS max':>8} "
        f"{'classes':>8} {'truth':>6} {'exact':>6} {'entries':>9} {'truth':>9}"
    )
    for name, measured, classes, exact, queries in rows:
        secs = statistics.median(m[0] for m in measured)
        cpu = statistics.median(m[3] for m in measured)
        rss = max(m[1] for m in measured)
        rss1 = max(m[2] for m in measured)
        print(
            f"{name:<16} {secs:8.1f} {cpu:7.1f} {size_mb / secs:7.1f} {rss / 1024:8.0f}M {rss1 / 1024:7.0f}M "
            f"{classes:>8} {truth['classes']:>6} {exact:>6} {queries:>9} {truth['entries']:>9}"
        )
    if len(rows) == 2:
        pairs = list(zip(runs["sqlops digest"], runs["pt-query-digest"], strict=True))
        for label, index in (("wall time", 0), ("CPU time", 3)):
            ratios = sorted(p[index] / o[index] for o, p in pairs)
            print(
                f"{label} ratio pt-query-digest / sqlops over {len(ratios)} paired runs: "
                f"min {ratios[0]:.1f}x, median {statistics.median(ratios):.1f}x, max {ratios[-1]:.1f}x"
            )
    print("(classes: classes reported; exact: true classes whose statement count the tool got exactly)")


if __name__ == "__main__":
    main()
