"""Settings: one frozen dataclass, loaded from TOML, with documented defaults.

Rule: every key here is documented in ``config.example.toml`` and the README; an
invalid value fails at start-up with a ``ConfigError`` naming the key.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class ConfigError(ValueError):
    """An invalid configuration value; the message names the key."""


def _default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "packserve"


@dataclass(frozen=True, slots=True)
class CachePolicy:
    """Cache-Control lifetimes (seconds) for URLs that name a commit by a movable name."""

    max_age: int
    s_maxage: int | None = None
    stale_while_revalidate: int | None = None
    stale_if_error: int | None = None


@dataclass(frozen=True, slots=True)
class Settings:
    """Every setting of the service, with its default."""

    repository: Path = Path(".")
    host: str = "127.0.0.1"
    port: int = 8000
    # Ref namespaces the URL grammar may name; nothing else is reachable by name.
    namespaces: tuple[str, ...] = ("refs/heads/", "refs/tags/")
    # Full commit ids always get `public, max-age=31536000, immutable`.
    branch_cache: CachePolicy = CachePolicy(
        max_age=60, s_maxage=60, stale_while_revalidate=60, stale_if_error=86400
    )
    tag_cache: CachePolicy = CachePolicy(
        max_age=600, s_maxage=3600, stale_while_revalidate=600, stale_if_error=86400
    )
    abbrev_cache: CachePolicy = CachePolicy(max_age=3600, stale_if_error=86400)
    # Serve markup and scripts as text/plain under a sandboxing CSP (untrusted branches).
    raw_mode: bool = False
    # Value of Access-Control-Allow-Origin; None sends no CORS headers.
    cors_origin: str | None = "*"
    listings: bool = True
    spa_fallback: bool = False
    not_found_page: bool = False
    cache_dir: Path = field(default_factory=_default_cache_dir)
    cache_max_bytes: int = 1 << 30
    max_path_length: int = 4096
    max_ranges: int = 50


_POLICY_KEYS = ("branch_cache", "tag_cache", "abbrev_cache")


def _check_type(key: str, value: Any, expected: type | tuple[type, ...]) -> None:
    # bool is an int subclass; a `true` where a number belongs is still a mistake.
    if isinstance(value, bool) and expected is int:
        raise ConfigError(f"{key}: expected an integer, got {value!r}")
    if not isinstance(value, expected):
        name = getattr(expected, "__name__", str(expected))
        raise ConfigError(f"{key}: expected {name}, got {value!r}")


def _policy(key: str, table: Any) -> CachePolicy:
    if not isinstance(table, dict):
        raise ConfigError(f"{key}: expected a table")
    known = {f.name for f in dataclasses.fields(CachePolicy)}
    for name, value in table.items():
        if name not in known:
            raise ConfigError(f"{key}.{name}: unknown key")
        if value is not None:
            _check_type(f"{key}.{name}", value, int)
            if value < 0:
                raise ConfigError(f"{key}.{name}: must be >= 0")
    if "max_age" not in table:
        raise ConfigError(f"{key}.max_age: required")
    return CachePolicy(**table)


def from_mapping(data: dict[str, Any], base: Settings | None = None) -> Settings:
    """Build settings from a parsed TOML table, validating every key."""
    settings = base or Settings()
    changes: dict[str, Any] = {}
    types = {f.name: f for f in dataclasses.fields(Settings)}
    for key, value in data.items():
        if key not in types:
            raise ConfigError(f"{key}: unknown key")
        if key in _POLICY_KEYS:
            changes[key] = _policy(key, value)
        elif key in ("repository", "cache_dir"):
            _check_type(key, value, str)
            changes[key] = Path(value)
        elif key == "namespaces":
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ConfigError("namespaces: expected a list of strings")
            for ns in value:
                if not ns.startswith("refs/") or not ns.endswith("/"):
                    raise ConfigError(f"namespaces: {ns!r} must look like 'refs/<name>/'")
            changes[key] = tuple(value)
        elif key == "cors_origin":
            if value is not None and (not isinstance(value, str) or value == ""):
                raise ConfigError("cors_origin: expected an origin string such as '*'")
            changes[key] = value or None
        elif key in ("raw_mode", "listings", "spa_fallback", "not_found_page"):
            _check_type(key, value, bool)
            changes[key] = value
        elif key == "host":
            _check_type(key, value, str)
            changes[key] = value
        else:
            _check_type(key, value, int)
            if key == "port" and not 0 <= value <= 65535:
                raise ConfigError("port: must be 0..65535")
            if key != "port" and value < 1:
                raise ConfigError(f"{key}: must be >= 1")
            changes[key] = value
    return dataclasses.replace(settings, **changes)


def load(path: str | os.PathLike[str]) -> Settings:
    """Load settings from a TOML file; raise ``ConfigError`` naming the bad key."""
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    return from_mapping(data)
