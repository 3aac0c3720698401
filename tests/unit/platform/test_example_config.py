"""configs/sqlops.example.toml loads and documents every key of every section."""

from __future__ import annotations

import re
from pathlib import Path

from sqlops.config import Config, load_config, scalar_keys

EXAMPLE = Path(__file__).resolve().parents[3] / "configs" / "sqlops.example.toml"


def test_example_config_loads() -> None:
    loaded = load_config(EXAMPLE, env={"HOME": "/nonexistent"})
    assert loaded.config.database.time_zone == "+00:00"


def test_every_key_is_documented_in_its_section() -> None:
    """Each key appears (set or commented out) under its own [section] header."""
    sections: dict[str, set[str]] = {}
    current = ""
    for line in EXAMPLE.read_text().splitlines():
        header = re.match(r"^\s*#?\s*\[([A-Za-z0-9_.\-]+)\]", line)
        if header:
            current = header.group(1)
            continue
        assign = re.match(r"^\s*#?\s*([a-z_]+)\s*=", line)
        if assign:
            sections.setdefault(current, set()).add(assign.group(1))
    missing = []
    for dotted in scalar_keys(Config, named=True):
        section, key = dotted.rsplit(".", 1)
        pattern = re.compile("^" + re.escape(section).replace(r"\*", r"[^.]+") + "$")
        if not any(pattern.match(s) and key in keys for s, keys in sections.items()):
            missing.append(dotted)
    assert missing == [], f"undocumented keys in {EXAMPLE.name}: {missing}"
