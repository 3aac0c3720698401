"""The daemon says when Squid's user cannot run this installation (a venv under /root)."""

from __future__ import annotations

import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from sqlops.squid import daemon, install_check
from sqlops.squid.daemon_loop import usage_and_check
from sqlops.squid.install_check import blocked

NOBODY = 65534


@pytest.fixture
def tree() -> Iterator[Path]:
    """/tmp/X/open/bin/python3 -> /tmp/X/closed/python3 (closed: 0700), like a venv made with
    a pyenv Python in /root. Under /tmp itself: pytest's own tmp folders are 0700."""
    if os.getuid() != 0:
        pytest.skip("needs root to build files another user cannot reach")  # CI runs as root
    root = Path(tempfile.mkdtemp(prefix="sqlops-install-", dir="/tmp"))
    root.chmod(0o755)
    closed = root / "closed"
    closed.mkdir(mode=0o700)
    (closed / "python3").write_text("")
    (closed / "python3").chmod(0o755)
    bin_dir = root / "open" / "bin"
    bin_dir.mkdir(parents=True, mode=0o755)
    (root / "open").chmod(0o755)
    bin_dir.chmod(0o755)
    (bin_dir / "python3").symlink_to(closed / "python3")
    (bin_dir / "direct").write_text("")
    (bin_dir / "direct").chmod(0o755)
    yield root
    shutil.rmtree(root)


def test_a_symlink_into_a_closed_folder_is_found(tree: Path) -> None:
    where = blocked(tree / "open" / "bin" / "python3", NOBODY, {NOBODY})
    assert where is not None and str(tree / "closed") in where and "drwx------" in where
    assert blocked(tree / "open" / "bin" / "direct", NOBODY, {NOBODY}) is None
    assert blocked(tree / "open" / "bin" / "python3", 0, {0}) is None


def test_daemon_help_and_check_warn_with_the_fix(
    tree: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "executable", str(tree / "open" / "bin" / "python3"))
    monkeypatch.setattr(install_check, "SQUID_USER", "nobody")
    assert usage_and_check(["--help"]) == 0
    err = capsys.readouterr().err
    assert "logfile_daemon /usr/local/bin/sqlops-logfile-daemon" in err  # README's path
    assert "Permission denied" in err and "/usr/bin/python3 -m venv" in err and str(tree / "closed") in err
    assert usage_and_check(["--check", "nobody"]) == 1
    monkeypatch.setattr(sys, "executable", str(tree / "open" / "bin" / "direct"))
    monkeypatch.setattr(install_check.sqlops, "__file__", str(tree / "open" / "x.py"))
    assert usage_and_check(["--check", "nobody"]) == 0


@pytest.fixture
def signals_kept() -> Iterator[None]:
    """daemon.main installs its signal handlers: put the test process's back."""
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)


def test_an_unreadable_installation_is_a_clear_start_up_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], signals_kept: None
) -> None:
    monkeypatch.setitem(sys.modules, "sqlops.squid.daemon_loop", None)  # import fails like EACCES
    assert daemon.main(["proxy1"]) == 1
    err = capsys.readouterr().err
    assert "cannot start" in err and "fix: build the virtualenv on the system Python" in err
