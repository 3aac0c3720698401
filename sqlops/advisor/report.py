"""Rendering an AdviceReport: text (default), json (documented in README), sql (a script
ready to run, each statement commented with the classes it serves), markdown."""

from __future__ import annotations

from typing import Any

from sqlops.advisor.model import (
    AdviceReport,
    ClassEvidence,
    DropAdvice,
    Evidence,
    IndexAdvice,
    Measurement,
    RewriteAdvice,
    WorkloadClass,
)

JSON_VERSION = 1


def _short(text: str, limit: int = 160) -> str:
    one = " ".join(text.split())
    return one if len(one) <= limit else one[: limit - 1] + "…"


def _classes(report: AdviceReport) -> dict[str, WorkloadClass]:
    return {c.id: c for c in report.classes}


def _served(ids: tuple[str, ...], by_id: dict[str, WorkloadClass]) -> str:
    cs = [by_id[i] for i in ids if i in by_id]
    total = sum(c.total_time for c in cs)
    count = sum(c.count for c in cs)
    return f"{len(cs)} class(es), {count} execution(s), {total:.3f} s total"


def _measure_text(m: Measurement) -> str:
    key = m.plan_key or "no index"
    return f"{m.rows_examined:,} rows examined, {m.seconds * 1000:.1f} ms ({m.plan_access or '?'} via {key})"


def _evidence_lines(ev: Evidence | None, indent: str) -> list[str]:
    if ev is None:
        return [f"{indent}evidence: not verified (run with --dsn and --verify to prove it on a scratch copy)"]
    if not ev.verified:
        return [f"{indent}evidence: not verified: {ev.note}"]
    out = [
        f"{indent}evidence ({'helps' if ev.helps else 'no gain'}; scratch rows: "
        + ", ".join(f"{t} {n:,}" for t, n in sorted(ev.scratch_rows.items()))
        + ")"
    ]
    for ce in ev.classes:
        out.append(f"{indent}  {ce.class_id}: before {_measure_text(ce.before)}")
        out.append(f"{indent}  {' ' * len(ce.class_id)}  after  {_measure_text(ce.after)}")
        if ce.same_result is not None:
            out.append(
                f"{indent}  {' ' * len(ce.class_id)}  same result: {'yes' if ce.same_result else 'NO'}"
            )
    if ev.note:
        out.append(f"{indent}  {ev.note}")
    return out


def report_text(report: AdviceReport) -> str:
    by_id = _classes(report)
    lines = [
        f"sqlops advise: {len(report.classes)} query classes, schema from {report.schema_origin}",
        "",
    ]
    if report.indexes:
        lines.append(f"# Indexes to add ({len(report.indexes)}), ranked by the query time they can win back")
        for n, a in enumerate(report.indexes, 1):
            lines.append(f"{n}. {a.ddl};")
            lines.append(f"   why: {a.reason}")
            lines.append(f"   serves: {_served(a.classes, by_id)}")
            for cid in a.classes[:5]:
                c = by_id.get(cid)
                if c:
                    lines.append(f"     - {cid} {_short(c.fingerprint, 110)}")
            if len(a.classes) > 5:
                lines.append(f"     - … and {len(a.classes) - 5} more")
            if a.replaces:
                lines.append(f"   makes redundant: {', '.join(a.replaces)} (a left prefix of this one)")
            if a.write_cost:
                lines.append(f"   write cost: {a.write_cost}")
            lines.extend(_evidence_lines(a.evidence, "   "))
        lines.append("")
    else:
        lines.append("# Indexes to add: none (existing indexes serve the workload, or nothing would help)")
        lines.append("")
    if report.rewrites:
        lines.append(f"# Rewrites ({len(report.rewrites)})")
        for n, r in enumerate(report.rewrites, 1):
            c = by_id.get(r.class_id)
            lines.append(f"{n}. [{r.kind}] {r.table}: {_short(r.original, 140)}")
            if r.rewritten:
                lines.append(f"   rewrite: {_short(r.rewritten, 400)}")
            lines.append(f"   why: {r.reason}")
            if c and c.total_time:
                lines.append(f"   class {r.class_id}: {c.count} execution(s), {c.total_time:.3f} s total")
            if r.claims_speedup and r.rewritten:
                lines.extend(_evidence_lines(r.evidence, "   "))
        lines.append("")
    if report.drops:
        lines.append(f"# Existing indexes to retire ({len(report.drops)}): make invisible first, drop later")
        for d in report.drops:
            lines.append(f"- {d.table}.{d.index} [{d.kind}]: {d.reason}")
            lines.append(f"    {d.hide_ddl};")
            lines.append(f"    later: {d.drop_ddl};")
        lines.append("")
    if report.rejected:
        lines.append(f"# Measured and rejected ({len(report.rejected)})")
        for a in report.rejected:
            lines.append(f"- {a.table} ({', '.join(a.columns)}): {a.evidence.note if a.evidence else ''}")
        lines.append("")
    if report.unanalysed:
        lines.append(f"# Classes not analysed ({len(report.unanalysed)})")
        for u in report.unanalysed:
            lines.append(f"- {u.class_id} {_short(u.fingerprint, 90)}: {u.reason}")
        lines.append("")
    if report.notes:
        lines.append("# Notes")
        lines.extend(f"- {n}" for n in report.notes)
        lines.append("")
    return "\n".join(lines)


def report_sql(report: AdviceReport) -> str:
    by_id = _classes(report)
    lines = [
        "-- sqlops advise: index advice as a script (review it; statements use ALGORITHM=INPLACE, LOCK=NONE)",
        f"-- schema: {report.schema_origin}",
        "",
    ]
    for a in report.indexes:
        lines.append(f"-- {a.reason}")
        lines.append(f"-- serves {_served(a.classes, by_id)}: {', '.join(a.classes)}")
        if a.write_cost:
            lines.append(f"-- write cost: {a.write_cost}")
        lines.append(a.ddl + ";")
        lines.append("")
    for d in report.drops:
        lines.append(f"-- {d.table}.{d.index} [{d.kind}]: {_short(d.reason, 200)}")
        lines.append(f"-- step 1 (reversible): {d.hide_ddl};")
        lines.append(f"-- step 2 (after a business cycle): {d.drop_ddl};")
        lines.append("")
    for r in report.rewrites:
        if not r.rewritten:
            continue
        lines.append(f"-- rewrite [{r.kind}] for class {r.class_id}: {_short(r.reason, 200)}")
        lines.append("-- " + _short(r.rewritten, 1000))
        lines.append("")
    return "\n".join(lines)


def report_markdown(report: AdviceReport) -> str:
    by_id = _classes(report)
    out = [f"# sqlops advise\n\n{len(report.classes)} query classes; schema from `{report.schema_origin}`.\n"]
    if report.indexes:
        out.append("## Indexes to add\n")
        out.append("| # | table | index | serves | why |")
        out.append("|---|---|---|---|---|")
        for n, a in enumerate(report.indexes, 1):
            cols = ", ".join(p.column + (f"({p.prefix})" if p.prefix else "") for p in a.parts)
            out.append(f"| {n} | {a.table} | ({cols}) | {_served(a.classes, by_id)} | {a.reason} |")
        out.append("\n```sql\n" + "\n".join(a.ddl + ";" for a in report.indexes) + "\n```\n")
    if report.rewrites:
        out.append("## Rewrites\n")
        for r in report.rewrites:
            out.append(f"- **{r.kind}** on `{r.table}`: {r.reason}")
            if r.rewritten:
                out.append(f"\n  ```sql\n  {_short(r.rewritten, 2000)}\n  ```")
    if report.drops:
        out.append("\n## Existing indexes to retire\n")
        for d in report.drops:
            out.append(f"- `{d.table}.{d.index}` ({d.kind}): {d.reason}. First `{d.hide_ddl};`")
    if report.unanalysed:
        out.append("\n## Not analysed\n")
        out.extend(f"- `{_short(u.fingerprint, 100)}`: {u.reason}" for u in report.unanalysed)
    if report.notes:
        out.append("\n## Notes\n")
        out.extend(f"- {n}" for n in report.notes)
    return "\n".join(out) + "\n"


def _measure_json(m: Measurement) -> dict[str, Any]:
    return {
        "rows_examined": m.rows_examined,
        "seconds": round(m.seconds, 6),
        "rows_returned": m.rows_returned,
        "key": m.plan_key,
        "access": m.plan_access,
    }


def _evidence_json(ev: Evidence | None) -> dict[str, Any] | None:
    if ev is None:
        return None

    def one(ce: ClassEvidence) -> dict[str, Any]:
        return {
            "class_id": ce.class_id,
            "sql": ce.sql,
            "before": _measure_json(ce.before),
            "after": _measure_json(ce.after),
            "same_result": ce.same_result,
        }

    return {
        "verified": ev.verified,
        "helps": ev.helps,
        "scratch_rows": dict(ev.scratch_rows),
        "note": ev.note,
        "classes": [one(c) for c in ev.classes],
    }


def _index_json(a: IndexAdvice) -> dict[str, Any]:
    return {
        "table": a.table,
        "name": a.name,
        "columns": [p.column + (f"({p.prefix})" if p.prefix else "") for p in a.parts],
        "parts": [{"column": p.column, "prefix": p.prefix, "descending": p.descending} for p in a.parts],
        "unique": a.unique,
        "ddl": a.ddl,
        "classes": list(a.classes),
        "served_time": round(a.served_time, 6),
        "reason": a.reason,
        "write_cost": a.write_cost,
        "replaces": list(a.replaces),
        "evidence": _evidence_json(a.evidence),
    }


def _rewrite_json(r: RewriteAdvice) -> dict[str, Any]:
    return {
        "class_id": r.class_id,
        "kind": r.kind,
        "table": r.table,
        "original": r.original,
        "rewritten": r.rewritten,
        "reason": r.reason,
        "needs_index": list(r.needs_index),
        "equivalent": r.equivalent,
        "claims_speedup": r.claims_speedup,
        "evidence": _evidence_json(r.evidence),
    }


def _drop_json(d: DropAdvice) -> dict[str, Any]:
    return {
        "table": d.table,
        "index": d.index,
        "kind": d.kind,
        "covered_by": d.covered_by,
        "reason": d.reason,
        "hide_ddl": d.hide_ddl,
        "drop_ddl": d.drop_ddl,
    }


def report_json(report: AdviceReport) -> dict[str, Any]:
    return {
        "schema_version": JSON_VERSION,
        "schema": report.schema_origin,
        "flavour": report.flavour,
        "classes": [
            {
                "id": c.id,
                "fingerprint": c.fingerprint,
                "example": c.example,
                "count": c.count,
                "total_time": round(c.total_time, 6),
                "rows_examined": c.rows_examined,
                "origins": list(c.origins),
                "locations": [f"{f}:{n}" for f, n in c.locations],
            }
            for c in report.classes
        ],
        "indexes": [_index_json(a) for a in report.indexes],
        "rewrites": [_rewrite_json(r) for r in report.rewrites],
        "drops": [_drop_json(d) for d in report.drops],
        "rejected": [_index_json(a) for a in report.rejected],
        "unanalysed": [
            {"class_id": u.class_id, "fingerprint": u.fingerprint, "reason": u.reason}
            for u in report.unanalysed
        ],
        "notes": list(report.notes),
    }
