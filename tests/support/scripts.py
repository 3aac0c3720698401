"""Read a script rendered by sqlops.plan.render back into its statements, so a test can compare
what --dry-run printed with what a run sent."""

from __future__ import annotations


def statements_in(script: str) -> list[str]:
    out: list[str] = []
    current: list[str] = []
    delimiter = ";"
    for line in script.splitlines():
        if not current and (not line.strip() or line.startswith("--")):
            continue
        if line.startswith("DELIMITER "):
            delimiter = line.split()[1]
            continue
        current.append(line)
        if line.rstrip().endswith(delimiter):
            text = "\n".join(current).rstrip()
            out.append(normal(text[: -len(delimiter)]))
            current = []
    assert not current, f"unterminated statement: {current}"
    return out


def normal(sql: str) -> str:
    """A statement as render() prints it: no surrounding space, no trailing semicolon."""
    return sql.strip().rstrip(";").strip()
