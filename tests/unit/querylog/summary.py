"""A compact, stable text form of a DigestReport for golden files (one line per class plus
its fingerprint and worst example), so a reviewer can check a golden file against the log."""

from __future__ import annotations

from sqlops.querylog.digest import METRICS, DigestReport, MetricSummary


def _m(m: MetricSummary | None) -> str:
    if m is None:
        return "-"
    return f"{m.total:g}/{m.min:g}/{m.max:g}" if m.min is not None and m.max is not None else f"{m.total:g}"


def summarize(report: DigestReport) -> str:
    lines = [
        f"statements {report.queries}  classes {report.class_count}  skipped {report.skipped_total}",
        f"time range {report.first_seen} .. {report.last_seen}",
        "sources "
        + "; ".join(
            f"{s.name.rsplit('/', 1)[-1]} {s.kind} entries={s.entries} headers={s.server_headers}"
            for s in report.sources
        ),
    ]
    for s in report.skipped:
        lines.append(f"skipped {s.source.rsplit('/', 1)[-1]}:{s.line}: {s.reason}")
    for c in report.classes:
        stats = " ".join(f"{name}={_m(c.metrics.get(name))}" for name in METRICS)
        lines.append(
            f"class {c.id} count={c.count} {stats} dbs={c.databases} users={c.users} hosts={c.hosts} "
            f"no_index={c.no_index_count}/{c.no_index_unknown} errors={c.errors} "
            f"seen={c.first_seen}..{c.last_seen}"
        )
        lines.append(f"  fingerprint: {c.fingerprint}")
        if c.extra:
            lines.append("  extra: " + ", ".join(f"{e.name}={e.total:g}/max {e.max:g}" for e in c.extra))
        if c.example is not None:
            ex = c.example
            where = f"line {ex.line} db={ex.database} t={ex.query_time} at={ex.timestamp}"
            lines.append(f"  worst: {where}: {ex.sql[:120]!r}")
    return "\n".join(lines) + "\n"


def accumulator_state(acc: object, *, positions: bool = True) -> dict[str, object]:
    """Everything a DigestAccumulator knows, as plain comparable values. Without `positions`
    the source/line/offset of examples and skipped items are left out (they differ when the
    same entries come from two files instead of one)."""
    from sqlops.querylog.digest import DB, LINE, POS, SOURCE, SQL, TS, DigestAccumulator

    assert isinstance(acc, DigestAccumulator)
    acc.flush()
    classes = {}
    for key, c in acc.classes.items():
        worst = c.worst
        assert worst is not None
        example = (worst[0], worst[SQL], worst[DB], worst[TS])
        if positions:
            example += (worst[SOURCE], worst[POS], worst[LINE])
        classes[key] = (
            c.text,
            c.count,
            tuple(c.ns),
            tuple(c.sums),
            tuple(c.mins),
            tuple(c.maxs),
            tuple(s.state() for s in c.sketches),
            c.ts_min,
            c.ts_max,
            dict(c.db_counts),
            dict(c.user_counts),
            dict(c.host_counts),
            c.no_index_yes,
            c.no_index_no,
            c.errors,
            {k: tuple(v) for k, v in c.extras.items()},
            example,
            c.first if positions else None,
        )
    skipped = sorted((s, p, line, r) if positions else (0, 0, 0, r) for s, p, line, r in acc.skipped)
    return {"classes": classes, "skipped": skipped, "skipped_total": acc.skipped_total}
