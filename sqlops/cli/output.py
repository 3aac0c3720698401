"""Output helpers shared by every command: --format, JSON, plain tables, progress."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import click

from sqlops.textfmt import table

__all__ = ["copy_progress", "emit_json", "format_option", "log_options", "progress_enabled", "table"]

F = TypeVar("F", bound=Callable[..., Any])


def format_option(func: F) -> F:
    """`--format text|json` for reporting subcommands."""
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(["text", "json"]),
        default="text",
        show_default=True,
        help="Output format; JSON fields are documented in README (JSON output).",
    )(func)


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=False, default=_json_default))


def _json_default(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "backslashreplace")
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return str(value)


def progress_enabled() -> bool:
    """Progress bars only when a person watches (stderr is a terminal)."""
    return sys.stderr.isatty()


@contextlib.contextmanager
def copy_progress(label: str) -> Iterator[Callable[[Any], None]]:
    """A callback for online-copy progress: a bar on a terminal, a log line per 10% otherwise."""
    import logging

    log = logging.getLogger("sqlops.progress")
    with contextlib.ExitStack() as stack:
        bar: Any = None
        shown = 0
        last_decile = -1

        def update(p: Any) -> None:
            nonlocal bar, shown, last_decile
            permille = min(1000, p.copied_up_to * 1000 // p.cap) if p.cap else 1000
            if progress_enabled():
                if bar is None:
                    bar = stack.enter_context(
                        click.progressbar(length=1000, label=f"copying {label}", file=sys.stderr)
                    )
                bar.update(permille - shown)
                shown = permille
                return
            if permille // 100 != last_decile:
                last_decile = permille // 100
                log.info(
                    "copying %s: %d%% (%d rows, id %d of %d, %.0f s)",
                    label,
                    permille // 10,
                    p.rows_copied,
                    p.copied_up_to,
                    p.cap,
                    p.seconds,
                )

        yield update


def log_options(func: F) -> F:
    """`--log FILE...`, `--type` and `--long-query-time`: how `digest` and `advise` read logs."""
    for option in reversed(
        (
            click.option(
                "--log",
                "logs",
                multiple=True,
                metavar="FILE",
                help="Slow or general query log; repeat for several; '-' reads standard input; .gz is read "
                "as is.",
            ),
            click.option(
                "--type",
                "log_type",
                type=click.Choice(["auto", "slow", "general"]),
                default="auto",
                show_default=True,
                help="Log type; auto looks at the first block.",
            ),
            click.option(
                "--long-query-time",
                type=click.FloatRange(min=0),
                default=None,
                help="The server's long_query_time (s): faster entries were logged for not using indexes.",
            ),
        )
    ):
        func = option(func)
    return func
