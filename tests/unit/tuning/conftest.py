"""Shared by the tuning tests: the fixture trees and a CLI runner that never reads this machine's
configuration (HOME, MYSQL_* and SQLOPS_* are cleared) and runs from tests/data/tuning, so the
root paths in the golden files are the same relative paths on every checkout."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from sqlops.cli import main

sys.path.insert(0, str(Path(__file__).parent))
from tuning_cases import DATA

Runner = Callable[..., tuple[int, str, str]]


@pytest.fixture
def in_data(monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(DATA)
    return DATA


@pytest.fixture
def run_cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> Runner:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for name in list(os.environ):
        if (
            name.startswith(("MYSQL_", "SQLOPS_"))
            and not name.startswith("SQLOPS_TEST")
            and name != "SQLOPS_UPDATE_GOLDEN"
        ):
            monkeypatch.delenv(name)
    monkeypatch.chdir(DATA)

    def run(*args: str) -> tuple[int, str, str]:
        code = main(list(args))
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run
