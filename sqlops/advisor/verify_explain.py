"""Reading `EXPLAIN FORMAT=JSON` from both flavours (pure).

Three shapes meet here:

- MariaDB and MySQL's classic format (`explain_json_format_version=1`): `query_block` with
  `nested_loop`, `table`, `grouping_operation`, `ordering_operation`, `duplicates_removal`,
  `union_result.query_specifications`, `materialized` / `materialized_from_subquery`,
  `filesort`, `temporary_table`... Each table node has `table_name` (the alias), `access_type`
  (ALL, ref, eq_ref, range, index, const...) and `key`.
- MySQL 9.x's default format 2.0 (`json_schema_version: "2.0"`): a tree of `inputs`; a table
  node has `table_name` (the real name), `alias`, `index_name` and `access_type` "table" (a
  scan) or "index" with `index_access_type` (index_lookup, index_range_scan, index_scan).

Rather than follow each container by name, every dict in the document is visited and table
nodes are recognised by their keys, so nesting we did not list is still read.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

_V2_ACCESS = {
    "index_lookup": "ref",
    "index_range_scan": "range",
    "index_scan": "index",
    "full_text_search": "fulltext",
    "index_merge": "index_merge",
}


@dataclass(frozen=True)
class PlanTable:
    alias: str
    table: str | None  # the real table name when the format says it (MySQL 2.0), else None
    key: str | None
    access: str | None


def parse_plan(text: str) -> list[PlanTable]:
    try:
        doc = json.loads(text)
    except (TypeError, ValueError):
        return []
    out: list[PlanTable] = []
    _walk(doc, out)
    return out


def _walk(node: Any, out: list[PlanTable]) -> None:
    if isinstance(node, dict):
        entry = _entry(node)
        if entry is not None:
            out.append(entry)
        for value in node.values():
            _walk(value, out)
    elif isinstance(node, list):
        for value in node:
            _walk(value, out)


def _entry(node: dict[str, Any]) -> PlanTable | None:
    name = node.get("table_name")
    if not isinstance(name, str) or "access_type" not in node or name.startswith("<"):
        return None
    access = node.get("access_type")
    if "index_access_type" in node or "operation" in node or "alias" in node:  # MySQL format 2.0
        alias = str(node.get("alias") or name)
        key = node.get("index_name")
        if access == "table":
            access = "ALL"
        elif access == "index":
            kind = str(node.get("index_access_type") or "")
            access = _V2_ACCESS.get(kind, kind or "index")
            if access == "ref" and str(node.get("operation", "")).startswith("Single-row"):
                access = "eq_ref"
        return PlanTable(alias, name, str(key) if key else None, str(access) if access else None)
    key = node.get("key")
    if not key and access == "index_merge":
        # MariaDB lists an index merge's keys inside it (MySQL's `key` is "union(a,b)" already)
        found: list[str] = []
        _merge_keys(node.get("index_merge"), found)
        key = ",".join(dict.fromkeys(found))
    return PlanTable(name, None, str(key) if key else None, str(access) if access else None)


def _merge_keys(node: Any, out: list[str]) -> None:
    if isinstance(node, dict):
        if isinstance(node.get("key"), str):
            out.append(node["key"])
        for value in node.values():
            _merge_keys(value, out)
    elif isinstance(node, list):
        for value in node:
            _merge_keys(value, out)


def uses_index(plan_key: str | None, name: str) -> bool:
    """Whether a plan's key names the index: one key, or an index merge's list
    ("union(a,b)", "a,b")."""
    return bool(plan_key) and name.lower() in re.findall(r"[\w$]+", str(plan_key).lower())


def choose(
    plan: list[PlanTable], table: str, aliases: set[str], prefer_key: str | None = None
) -> PlanTable | None:
    """The node for `table` (matched by real name or alias); the one using `prefer_key` if any."""
    low = table.lower()
    hits = [p for p in plan if (p.table or "").lower() == low or p.alias.lower() in aliases]
    if prefer_key:
        for p in hits:
            if p.key and p.key.lower() == prefer_key.lower():
                return p
    return hits[0] if hits else None
