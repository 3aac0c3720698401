"""Tuning profiles: small TOML files with a summary, an optional include and a comment on every
value saying why and where the advice comes from (DESIGN.md §6 example 7, after tuned's
``profiles/*/tuned.conf``).

The comment directly above a key (or after it on the same line) *is* the reason a check prints,
and the URLs in it are its sources, so the explanation lives in one place. Shipped profiles are
in ``configs/profiles``; ``tune.profile_dir`` adds a folder whose files win over shipped ones
of the same name.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlops.errors import ConfigError
from sqlops.resources import data_dir

# What each section may hold: key -> expected kind. "*" accepts any key name.
_INT, _NUM, _BOOL, _STR, _STRS, _INTS, _SYSCTL = (
    "int",
    "number",
    "bool",
    "string",
    "strings",
    "ints",
    "sysctl",
)
SCHEMA: dict[str, dict[str, str]] = {
    "": {"summary": _STR, "include": _STRS},
    "sysctl": {"*": _SYSCTL},
    "block": {"rotational": _STRS, "nonrotational": _STRS},
    "thp": {"enabled": _STRS, "defrag": _STRS},
    "hugepages": {"allow_unused": _BOOL},
    "ksm": {"run": _INTS, "max_unshared_ratio": _NUM, "multi_tenant": _BOOL},
    "ksmtuned": {"*": _INT},
    "virtio": {"nic_driver": _STR},
    "proxmox": {
        "scsihw": _STR,
        "iothread": _BOOL,
        "cache": _STRS,
        "discard_on_thin": _BOOL,
        "nic_model": _STR,
        "db_vm_pattern": _STR,
        "db_fixed_memory": _BOOL,
    },
    "mysql": {
        "slow_query_log": _BOOL,
        "long_query_time": _NUM,
        "log_queries_not_using_indexes": _BOOL,
        "log_throttle_queries_not_using_indexes": _INT,
        "log_slow_extra": _BOOL,
        "log_slow_verbosity": _STR,
    },
    "apache": {
        "mpm": _STR,
        "os_reserve_mib": _INT,
        "max_connections_per_child": _INT,
        "min_spare_servers": _INT,
        "min_spare_percent": _INT,
        "max_spare_percent": _INT,
        "fallback_child_mib": _INT,
    },
}
_URL = re.compile(r"https?://[^\s)>\]]+")


@dataclass(frozen=True)
class Range:
    """A sysctl expectation: render `set`, accept `low`..`high` (inclusive)."""

    set: int | str
    low: int | None = None
    high: int | None = None

    def accepts(self, observed: str) -> bool:
        if isinstance(self.set, str):  # exact text, whitespace-insensitive (the schema allows no range)
            return " ".join(observed.split()) == " ".join(self.set.split())
        try:
            number = int(observed.split()[0])
        except (ValueError, IndexError):
            return False
        low = self.set if self.low is None else self.low
        high = self.set if self.high is None else self.high
        return low <= number <= high

    def describe(self) -> str:
        if self.low is None and self.high is None:
            return str(self.set)
        return (
            f"{self.low if self.low is not None else '-inf'}..{self.high if self.high is not None else 'inf'}"
        )


@dataclass(frozen=True)
class ProfileValue:
    section: str
    key: str
    value: Any
    why: str
    sources: tuple[str, ...]
    where: str  # file:line

    @property
    def dotted(self) -> str:
        return f"{self.section}.{self.key}" if self.section else self.key


@dataclass(frozen=True)
class Profile:
    name: str
    summary: str
    files: tuple[str, ...]  # file names, in the order applied: includes first
    values: dict[tuple[str, str], ProfileValue]

    def get(self, section: str, key: str) -> ProfileValue | None:
        return self.values.get((section, key))

    def value(self, section: str, key: str, default: Any = None) -> Any:
        found = self.values.get((section, key))
        return default if found is None else found.value

    def section(self, section: str) -> list[ProfileValue]:
        return [v for (s, _), v in self.values.items() if s == section]

    def has(self, section: str) -> bool:
        return any(s == section for s, _ in self.values)


def profile_dirs(extra: str | None = None) -> list[Path]:
    dirs = [Path(extra)] if extra else []
    return [*dirs, data_dir("configs") / "profiles"]


def available(extra: str | None = None) -> dict[str, Path]:
    """Profile name -> file; a file in `extra` hides a shipped one of the same name."""
    out: dict[str, Path] = {}
    for folder in reversed(profile_dirs(extra)):
        for path in sorted(folder.glob("*.toml")) if folder.is_dir() else []:
            out[path.stem] = path
    return dict(sorted(out.items()))


def load(name: str, extra: str | None = None) -> Profile:
    """Load profile `name` with its includes merged (the including file wins)."""
    files = available(extra)
    values: dict[tuple[str, str], ProfileValue] = {}
    order: list[str] = []
    _load_into(name, files, values, order, stack=())
    summary = values.pop(("", "summary")).value
    values.pop(("", "include"), None)
    return Profile(name, summary, tuple(order), values)


def _load_into(
    name: str,
    files: dict[str, Path],
    values: dict[tuple[str, str], ProfileValue],
    order: list[str],
    stack: tuple[str, ...],
) -> None:
    if name in stack:
        raise ConfigError(
            f"profile {name!r} includes itself ({' -> '.join((*stack, name))})",
            fix="remove the include that closes the loop",
        )
    path = files.get(name)
    if path is None:
        known = ", ".join(files) or "(none)"
        where = f" (included by {stack[-1]!r})" if stack else ""
        raise ConfigError(
            f"unknown tuning profile {name!r}{where}",
            fix=f"use one of: {known}; or add {name}.toml to tune.profile_dir",
        )
    own = parse_profile(path)
    if ("", "summary") not in own:
        raise ConfigError(f"{path}: profile has no summary", fix='add a line: summary = "what it is for"')
    include = own.get(("", "include"))
    for parent in include.value if include else []:
        _load_into(parent, files, values, order, (*stack, name))
    order.append(path.name)
    values.update(own)


def parse_profile(path: Path) -> dict[tuple[str, str], ProfileValue]:
    """One profile file, validated, with the comment of every key attached to it."""
    try:
        text = path.read_text(encoding="utf-8")
        data = tomllib.loads(text)
    except OSError as exc:
        raise ConfigError(f"cannot read profile {path}", why=str(exc)) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML", why=str(exc)) from None
    comments = _comments(text)
    out: dict[tuple[str, str], ProfileValue] = {}
    for section, key, value in _leaves(data):
        line, why = comments.get((section, key), (0, ""))
        located = f"{path}:{line}"
        kind = _kind_of(section, key, located)
        value = _check(value, kind, f"{section + '.' if section else ''}{key}", located)
        sources = tuple(dict.fromkeys(u.rstrip(".,;") for u in _URL.findall(why)))
        out[(section, key)] = ProfileValue(section, key, value, _prose(why), sources, f"{path.name}:{line}")
    return out


def _leaves(data: dict[str, Any]) -> Iterable[tuple[str, str, Any]]:
    for key, value in data.items():
        if isinstance(value, dict):
            for inner, item in value.items():
                yield key, inner, item
        else:
            yield "", key, value


def _kind_of(section: str, key: str, where: str) -> str:
    if section not in SCHEMA:
        known = ", ".join(f"[{s}]" for s in SCHEMA if s)
        raise ConfigError(f"{where}: unknown profile section [{section}]", fix=f"use one of {known}")
    keys = SCHEMA[section]
    if key in keys:
        return keys[key]
    if "*" in keys:
        return keys["*"]
    label = f"[{section}] " if section else ""
    raise ConfigError(f"{where}: unknown key {label}{key!r}", fix=f"known keys: {', '.join(keys)}")


def _check(value: Any, kind: str, dotted: str, where: str) -> Any:
    def bad(expected: str) -> ConfigError:
        return ConfigError(f"{where}: {dotted} must be {expected}, not {value!r}")

    if kind == _STRS:
        value = [value] if isinstance(value, str) else value
        if not (isinstance(value, list) and value and all(isinstance(v, str) for v in value)):
            raise bad("a string or a non-empty list of strings")
        return tuple(value)
    if kind == _INTS:
        if not (isinstance(value, list) and value and all(type(v) is int for v in value)):
            raise bad("a non-empty list of integers")
        return tuple(value)
    if kind == _SYSCTL:
        if isinstance(value, dict):
            unknown = set(value) - {"set", "min", "max"}
            if unknown or "set" not in value or not all(type(v) is int for v in value.values()):
                raise bad("an integer, a string or { set = N, min = N, max = N }")
            return Range(value["set"], value.get("min"), value.get("max"))
        if type(value) is int or isinstance(value, str):
            return Range(value)
        raise bad("an integer, a string or { set = N, min = N, max = N }")
    expected_type: dict[str, tuple[type, ...]] = {
        _INT: (int,),
        _NUM: (int, float),
        _BOOL: (bool,),
        _STR: (str,),
    }
    types = expected_type[kind]
    if not isinstance(value, types) or (kind != _BOOL and isinstance(value, bool)):
        raise bad({_INT: "an integer", _NUM: "a number", _BOOL: "true or false", _STR: "a string"}[kind])
    return value


_HEADER = re.compile(r"^\s*\[\s*([^\]\s]+)\s*\]\s*(?:#.*)?$")
_KEY = re.compile(r"""^\s*(?:"([^"]+)"|'([^']+)'|([A-Za-z0-9_-]+))\s*=\s*(.*)$""")


def _comments(text: str) -> dict[tuple[str, str], tuple[int, str]]:
    """(section, key) -> (line, comment text): the comment lines directly above a key, plus a
    trailing comment on its own line. A blank line or a header ends a comment block."""
    out: dict[tuple[str, str], tuple[int, str]] = {}
    section = ""
    pending: list[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not stripped:
            pending = []
            continue
        if stripped.startswith("#"):
            pending.append(stripped.lstrip("#").strip())
            continue
        header = _HEADER.match(raw)
        if header:
            section, pending = header.group(1).strip("\"'"), []
            continue
        key = _KEY.match(raw)
        if key:
            name = key.group(1) or key.group(2) or key.group(3)
            trailing = _trailing_comment(key.group(4))
            why = " ".join([*pending, trailing] if trailing else pending).strip()
            out[(section, name)] = (number, why)
        pending = []
    return out


def _prose(comment: str) -> str:
    """The comment without its links and "Source(s):" labels: the reason, in words."""
    text = _URL.sub("", comment)
    text = re.sub(r"\bSources?:", "", text)
    return re.sub(r"\s+", " ", text).strip().rstrip(":").strip()


def _trailing_comment(rest: str) -> str:
    """The `# ...` after a value, outside quotes."""
    quote = None
    for i, ch in enumerate(rest):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch == "#":
            return rest[i + 1 :].strip()
    return ""
