"""sqlops-logfile-daemon: Squid's ``logfile_daemon``, writing access log lines into MySQL.

Squid starts it once per ``access_log daemon:<ARG> <format>`` line with argv[1] = ARG and a
socketpair on stdin; stderr goes to cache.log. This entry module only catches SIGTERM/SIGINT
from the first instant (Squid may stop a daemon it has just started) and hands over to
:mod:`sqlops.squid.daemon_loop`, which describes how the daemon works.
"""

from __future__ import annotations

import os
import signal
import sys


def main(argv: list[str] | None = None) -> int:
    """Console script ``sqlops-logfile-daemon ARG`` (ARG: what follows ``daemon:``)."""
    stop_requested: list[bool] = []

    def early(signum: int, frame: object) -> None:
        stop_requested.append(True)

    signal.signal(signal.SIGTERM, early)
    signal.signal(signal.SIGINT, early)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        from sqlops.squid.daemon_loop import run
    except (ImportError, PermissionError) as exc:
        # Parts of the installation this user cannot read (a venv or packages under /root).
        import pwd

        from sqlops.squid.install_check import FIX, problem_for

        user = pwd.getpwuid(os.getuid()).pw_name
        why = problem_for(user) or f"{type(exc).__name__}: {exc}"
        # One line: it lands in Squid's cache.log.
        sys.stderr.write(f"sqlops-logfile-daemon: ERROR: cannot start: {exc}; {why}; fix: {FIX}\n")
        return 1
    return run(sys.argv[1:] if argv is None else argv, stop_requested)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
