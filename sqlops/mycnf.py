"""Read a my.cnf-style option file (``[client]`` group) for connection settings.

Only what sqlops needs: host, port, user, password, socket, database and the TLS options,
with `!include` / `!includedir` followed as the MySQL client does. Values may be quoted.
"""

from __future__ import annotations

from pathlib import Path

from sqlops.errors import ConfigError

# option-file name -> [database] key (dotted below database.)
_KEYS = {
    "host": "host",
    "port": "port",
    "user": "user",
    "password": "password",
    "socket": "unix_socket",
    "database": "database",
    "ssl-ca": "tls.ca",
    "ssl_ca": "tls.ca",
    "ssl-cert": "tls.cert",
    "ssl_cert": "tls.cert",
    "ssl-key": "tls.key",
    "ssl_key": "tls.key",
    "ssl-verify-server-cert": "tls.verify",
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
    _read(path, group, out, depth=0)
    return out


def _read(path: Path, group: str, out: dict[str, str], depth: int) -> None:
    if depth > 10:
        raise ConfigError(f"option file {path}: !include nested too deeply")
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise ConfigError(f"cannot read option file {path}", why=str(exc)) from None
    current = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("!include "):
            _read(Path(line.split(None, 1)[1]), group, out, depth + 1)
            continue
        if line.startswith("!includedir "):
            folder = Path(line.split(None, 1)[1])
            for child in sorted(folder.glob("*.cnf")):
                _read(child, group, out, depth + 1)
            continue
        if line.startswith("[") and line.endswith("]"):
            current = line[1:-1].strip()
            continue
        if current != group:
            continue
        if "=" in line:
            name, value = (part.strip() for part in line.split("=", 1))
        else:
            name, value = line, "1"  # a bare flag such as ssl-verify-server-cert
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        key = _KEYS.get(name.lower())
        if key:
            out[key] = value
