"""The error hierarchy. Each class carries the process exit code the CLI maps it to.

Library code raises these; only the CLI boundary (`sqlops.cli.main`) turns them into a
message on stderr and an exit status (DESIGN.md §3). Messages say what happened, why, and how
to fix it, so `str(error)` is what the user reads.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_LOCKED = 4
EXIT_INTERRUPTED = 130

# Monitoring commands follow the Nagios plugin convention instead.
NAGIOS_OK = 0
NAGIOS_WARNING = 1
NAGIOS_CRITICAL = 2
NAGIOS_UNKNOWN = 3


class SqlopsError(Exception):
    """Base class: an operation failed (exit 1)."""

    exit_code = EXIT_FAILED

    def __init__(self, what: str, why: str | None = None, fix: str | None = None) -> None:
        super().__init__(what)
        self.what = what
        self.why = why
        self.fix = fix

    def one_line(self) -> str:
        """The message on one line (cache.log, status files): what (why); fix: ..."""
        text = self.what + (f" ({self.why})" if self.why else "")
        return text + (f"; fix: {self.fix}" if self.fix else "")

    def __str__(self) -> str:
        parts = [self.what]
        if self.why:
            parts.append(f"  why: {self.why}")
        if self.fix:
            parts.append(f"  fix: {self.fix}")
        return "\n".join(parts)


class UsageError(SqlopsError):
    """The command line or an input file is wrong (exit 2)."""

    exit_code = EXIT_USAGE


class ConfigError(UsageError):
    """The configuration is wrong: names the file, key and line where it can."""


class InputError(UsageError):
    """An input file is missing, unreadable or not in the expected format."""


class ConnectError(SqlopsError):
    """The database server could not be reached or refused us."""


class ServerError(SqlopsError):
    """The server rejected a statement; carries the MySQL error number."""

    def __init__(
        self, what: str, why: str | None = None, fix: str | None = None, errno: int | None = None
    ) -> None:
        super().__init__(what, why, fix)
        self.errno = errno


class LockHeldError(SqlopsError):
    """Another run holds the named lock for this job (exit 4)."""

    exit_code = EXIT_LOCKED


class PreconditionError(SqlopsError):
    """The database is not in a state the operation can start from (exit 1)."""
