"""Example data and config paths that README shows exist (e.g. the prefork fixture's root)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).parents[3]


def test_readme_repository_paths_exist() -> None:
    text = (ROOT / "README.md").read_text()
    paths = set(re.findall(r"(?<![\w/.-])((?:tests/data|configs)/[\w./-]*[\w/])", text))
    assert "tests/data/tuning/web-guest/root" in paths
    missing = sorted(p for p in paths if "*" not in p and "<" not in p and not (ROOT / p).exists())
    assert missing == []
