"""Constants of the tuning tests: where the fixture trees are, and which profile each one is
checked against (a module of its own: `conftest` is ambiguous with tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "data" / "tuning"
CASES = {"pve-host": "kvm-host", "db-guest": "db-guest", "old-guest": "db-guest", "web-guest": "web-guest"}
