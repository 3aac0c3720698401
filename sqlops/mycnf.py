"""my.cnf-style option files: the one parser, and the ``[client]`` reader for connections.

:func:`option_lines` reads the format as the MySQL and MariaDB programs do — groups, ``name =
value`` and bare flags, ``#``/``;`` comment lines and inline ``# comments``, single or double
quoted values (a ``#`` inside quotes is kept), the ``loose-`` prefix, ``-`` and ``_`` alike in
names, and ``!include`` / ``!includedir`` — on any file access, so the tuning facts read a
server's option files under ``--root`` with it too. :func:`read_option_file` takes what sqlops
needs for a connection: host, port, user, password, socket, database and the TLS options.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlops.errors import ConfigError

MAX_INCLUDE_DEPTH = 10


@dataclass(frozen=True)
class OptionLine:
    group: str | None  # lower case, None before the first [group]
    name: str  # lower case, `_` for `-`, without the `loose_` prefix
    value: str | None  # None for a bare flag (`skip-name-resolve`)
    path: str
    line: int


def parse_value(text: str) -> str:
    """The value after `=`: quotes removed, an inline comment cut off."""
    text = text.strip()
    if text[:1] in ("'", '"'):
        end = text.find(text[0], 1)
        if end > 0:
            return text[1:end]
    return text.split("#", 1)[0].strip()


def normal_name(name: str) -> str:
    return name.strip().lower().replace("-", "_").removeprefix("loose_")


def option_lines(
    path: str,
    read: Callable[[str], str | None],
    list_dir: Callable[[str], Iterable[str]],
    *,
    depth: int = 0,
    too_deep: Callable[[str], None] | None = None,
) -> Iterator[OptionLine]:
    """Every option of `path` and the files it includes, in the order the programs read them
    (later wins). `read(path)` returns the text or None (skipped); `list_dir(folder)` the
    option files of an ``!includedir`` in order."""
    if depth > MAX_INCLUDE_DEPTH:
        if too_deep is not None:
            too_deep(path)
        return
    text = read(path)
    if text is None:
        return
    group: str | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("!includedir"):
            folder = line.split(None, 1)[1].strip() if " " in line else ""
            for child in list_dir(folder):
                yield from option_lines(child, read, list_dir, depth=depth + 1, too_deep=too_deep)
            continue
        if line.startswith("!include"):
            child = line.split(None, 1)[1].strip() if " " in line else ""
            yield from option_lines(child, read, list_dir, depth=depth + 1, too_deep=too_deep)
            continue
        if line.startswith("["):
            group = line.split("#", 1)[0].strip().strip("[] ").lower()
            continue
        name, sep, value = line.partition("=")
        yield OptionLine(group, normal_name(name), parse_value(value) if sep else None, path, number)


# option-file name (normalised) -> [database] key (dotted below database.)
_KEYS = {
    "host": "host",
    "port": "port",
    "user": "user",
    "password": "password",
    "socket": "unix_socket",
    "database": "database",
    "ssl_ca": "tls.ca",
    "ssl_cert": "tls.cert",
    "ssl_key": "tls.key",
    "ssl_verify_server_cert": "tls.verify",
}


def read_option_file(path: Path, group: str = "client") -> dict[str, str]:
    """Settings from `group` in `path` (later values win, as in mysql). Keys are relative to
    the [database] section of sqlops' config."""
    if not path.is_file():
        raise ConfigError(
            f"option file {path} does not exist",
            fix="fix database.option_file, or create the file with a [client] section",
        )
    out: dict[str, str] = {}
    for option in option_lines(str(path), _read_text, _cnf_files, too_deep=_too_deep):
        key = _KEYS.get(option.name)
        if option.group == group.lower() and key:
            out[key] = "1" if option.value is None else option.value  # a bare flag: on
    return out


def _read_text(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise ConfigError(f"cannot read option file {path}", why=str(exc)) from None


def _cnf_files(folder: str) -> list[str]:
    return [str(p) for p in sorted(Path(folder).glob("*.cnf"))]


def _too_deep(path: str) -> None:
    raise ConfigError(f"option file {path}: !include nested too deeply")
