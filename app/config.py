"""Settings: one frozen dataclass, loaded from TOML, with documented defaults.

Rules:
1. Every key here is documented in ``config.example.toml`` and the README; an invalid
   value fails at start-up with a ``ConfigError`` whose message starts with the key.
2. Precedence, lowest first: defaults < TOML file < ``PACKSERVE_<KEY>`` environment
   variables (only the keys in ``ENV_KEYS``) < command-line flags.
3. ``to_mapping`` is the inverse of ``from_mapping``: settings travel to worker processes
   as JSON of that mapping, so every value must survive the round trip.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import re
import tomllib
from collections.abc import Callable, Mapping
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
class RepositoryMount:
    """One repository of a multi-repository deployment and where it is reachable.

    ``prefix`` mounts it at ``<prefix>/<ref>/<path>``; ``host`` serves it at the root of
    that host name. When neither is given the prefix is ``/<name>``.
    """

    name: str
    path: Path
    prefix: str | None = None
    host: str | None = None


ACCESS_LOG_FORMATS = ("off", "text", "json")


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
    # Several repositories from one process; empty means just `repository` at the root.
    repositories: tuple[RepositoryMount, ...] = ()
    # `<ref-slug>.<base_domain>` serves that ref at the root (see app/ops/slug.py).
    base_domain: str | None = None
    # 302 from a branch URL to the same path under the full commit id, so a CDN caches
    # immutably and one page never mixes files of two commits.
    redirect_branches: bool = False
    access_log: str = "text"
    metrics: bool = True
    workers: int = 1
    # Passed to uvicorn: trust X-Forwarded-For/-Proto only from these peers.
    proxy_headers: bool = True
    forwarded_allow_ips: str = "127.0.0.1"
    # Seconds in-flight responses get to finish after SIGTERM before they are cut.
    graceful_timeout: int = 30

    def mounts(self) -> tuple[RepositoryMount, ...]:
        """The repositories to serve: ``repositories``, or ``repository`` at the root."""
        if self.repositories:
            return self.repositories
        return (RepositoryMount(name="default", path=self.repository, prefix=""),)


# ---------------------------------------------------------------------------- parsing

_POLICY_KEYS = ("branch_cache", "tag_cache", "abbrev_cache")
_BOOL_KEYS = (
    "raw_mode", "listings", "spa_fallback", "not_found_page",
    "redirect_branches", "metrics", "proxy_headers",
)
_PATH_KEYS = ("repository", "cache_dir")
# A DNS name: labels of letters, digits and inner hyphens (RFC 1123 §2.1).
_HOSTNAME = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))*")
# Names appear in URL prefixes and in preview host labels (`<slug>--<name>`), so they are
# DNS-label material without "--", short enough to leave room for a slug.
_REPO_NAME = re.compile(r"(?=.{1,32}\Z)[a-z0-9]+(-[a-z0-9]+)*")


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


def _hostname(key: str, value: Any) -> str:
    _check_type(key, value, str)
    name = str(value).lower().rstrip(".")
    if len(name) > 253 or not _HOSTNAME.fullmatch(name):
        raise ConfigError(f"{key}: {value!r} is not a host name")
    return name


def _prefix(key: str, raw: Any) -> str:
    _check_type(key, raw, str)
    value = str(raw)
    if value == "":
        return value
    segments = value.split("/")
    if not value.startswith("/") or value.endswith("/") or "" in segments[1:]:
        raise ConfigError(f"{key}: {value!r} must look like '/name' (no trailing slash)")
    if segments[1].startswith("-") or any(s in (".", "..") for s in segments):
        raise ConfigError(f"{key}: {value!r} may not use '/-' (reserved) or dot segments")
    return value


def _mount(key: str, table: Any) -> RepositoryMount:
    if not isinstance(table, dict):
        raise ConfigError(f"{key}: expected a table with name and path")
    known = {f.name for f in dataclasses.fields(RepositoryMount)}
    for name in table:
        if name not in known:
            raise ConfigError(f"{key}.{name}: unknown key")
    for name in ("name", "path"):
        if name not in table:
            raise ConfigError(f"{key}.{name}: required")
    name = table["name"]
    _check_type(f"{key}.name", name, str)
    if not _REPO_NAME.fullmatch(name):
        raise ConfigError(
            f"{key}.name: {name!r} must be 1-32 lowercase letters, digits and single '-'"
        )
    _check_type(f"{key}.path", table["path"], str)
    prefix = table.get("prefix")
    host = table.get("host")
    if prefix is not None:
        prefix = _prefix(f"{key}.prefix", prefix)
    if host is not None:
        host = _hostname(f"{key}.host", host)
    if prefix is None and host is None:
        prefix = f"/{name}"
    return RepositoryMount(name=name, path=Path(table["path"]), prefix=prefix, host=host)


def _mounts(value: Any) -> tuple[RepositoryMount, ...]:
    if not isinstance(value, list):
        raise ConfigError("repositories: expected a list of tables ([[repositories]])")
    mounts = tuple(_mount(f"repositories[{i}]", t) for i, t in enumerate(value))
    for attr in ("name", "prefix", "host"):
        seen: dict[object, int] = {}
        for i, mount in enumerate(mounts):
            key = getattr(mount, attr)
            if key is None:
                continue
            if key in seen:
                raise ConfigError(
                    f"repositories[{i}].{attr}: {key!r} already used by repositories[{seen[key]}]"
                )
            seen[key] = i
    return mounts


def _namespaces(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError("namespaces: expected a list of strings")
    for ns in value:
        if not ns.startswith("refs/") or not ns.endswith("/"):
            raise ConfigError(f"namespaces: {ns!r} must look like 'refs/<name>/'")
    return tuple(value)


def _cors(value: Any) -> str | None:
    if value is not None and (not isinstance(value, str) or value == ""):
        raise ConfigError("cors_origin: expected an origin string such as '*'")
    return value or None


def _base_domain(value: Any) -> str | None:
    return None if value is None else _hostname("base_domain", value)


def _access_log(value: Any) -> str:
    if value not in ACCESS_LOG_FORMATS:
        raise ConfigError(f"access_log: expected one of {', '.join(ACCESS_LOG_FORMATS)}")
    return str(value)


def _string(key: str) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        _check_type(key, value, str)
        if not value:
            raise ConfigError(f"{key}: must not be empty")
        return str(value)

    return parse


def _path(key: str) -> Callable[[Any], Path]:
    def parse(value: Any) -> Path:
        _check_type(key, value, str)
        return Path(value)

    return parse


def _boolean(key: str) -> Callable[[Any], bool]:
    def parse(value: Any) -> bool:
        _check_type(key, value, bool)
        return bool(value)

    return parse


def _integer(key: str, low: int, high: int | None = None) -> Callable[[Any], int]:
    def parse(value: Any) -> int:
        _check_type(key, value, int)
        if value < low or (high is not None and value > high):
            bound = f"{low}..{high}" if high is not None else f">= {low}"
            raise ConfigError(f"{key}: must be {bound}")
        return int(value)

    return parse


def _parsers() -> dict[str, Callable[[Any], Any]]:
    parsers: dict[str, Callable[[Any], Any]] = {
        "namespaces": _namespaces,
        "cors_origin": _cors,
        "repositories": _mounts,
        "base_domain": _base_domain,
        "access_log": _access_log,
        "host": _string("host"),
        "forwarded_allow_ips": _string("forwarded_allow_ips"),
        "port": _integer("port", 0, 65535),
        "graceful_timeout": _integer("graceful_timeout", 0),
        "workers": _integer("workers", 1, 256),
    }
    for key in _POLICY_KEYS:
        parsers[key] = functools.partial(_policy, key)
    for key in _PATH_KEYS:
        parsers[key] = _path(key)
    for key in _BOOL_KEYS:
        parsers[key] = _boolean(key)
    for key in ("cache_max_bytes", "max_path_length", "max_ranges"):
        parsers[key] = _integer(key, 1)
    return parsers


_PARSERS = _parsers()


def from_mapping(data: Mapping[str, Any], base: Settings | None = None) -> Settings:
    """Build settings from a parsed TOML table, validating every key."""
    changes: dict[str, Any] = {}
    for key, value in data.items():
        parser = _PARSERS.get(key)
        if parser is None:
            raise ConfigError(f"{key}: unknown key")
        changes[key] = parser(value)
    return dataclasses.replace(base or Settings(), **changes)


def to_mapping(settings: Settings) -> dict[str, Any]:
    """The settings as a JSON-able mapping that ``from_mapping`` reads back unchanged."""
    data: dict[str, Any] = {}
    for f in dataclasses.fields(Settings):
        value = getattr(settings, f.name)
        if isinstance(value, Path):
            value = str(value)
        elif isinstance(value, CachePolicy):
            value = {k: v for k, v in dataclasses.asdict(value).items() if v is not None}
        elif f.name == "repositories":
            value = [
                {k: str(v) if isinstance(v, Path) else v
                 for k, v in dataclasses.asdict(m).items() if v is not None}
                for m in value
            ]
        elif isinstance(value, tuple):
            value = list(value)
        data[f.name] = value
    return data


def load(path: str | os.PathLike[str], base: Settings | None = None) -> Settings:
    """Load settings from a TOML file; raise ``ConfigError`` naming the bad key."""
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    return from_mapping(data, base)


# ------------------------------------------------------------------------ environment

ENV_PREFIX = "PACKSERVE_"
# The keys an operator changes per deployment; the rest belong in the file.
ENV_KEYS = (
    "repository", "host", "port", "workers", "cache_dir", "cache_max_bytes",
    "base_domain", "redirect_branches", "raw_mode", "listings", "spa_fallback",
    "not_found_page", "cors_origin", "access_log", "metrics", "proxy_headers",
    "forwarded_allow_ips", "graceful_timeout", "namespaces",
)
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def _env_value(key: str, text: str) -> Any:
    # Environment values are strings; convert by the default's type, then validate as TOML.
    var = ENV_PREFIX + key.upper()
    default = getattr(Settings(), key)
    if key in _BOOL_KEYS:
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise ConfigError(f"{key}: {var}={text!r} is not a boolean (true/false)")
    if isinstance(default, int):
        try:
            return int(text, 10)
        except ValueError:
            raise ConfigError(f"{key}: {var}={text!r} is not an integer") from None
    if key == "namespaces":
        return [ns.strip() for ns in text.split(",") if ns.strip()]
    if key in ("cors_origin", "base_domain") and text.lower() in ("", "none"):
        return None
    return text


def from_environment(
    environ: Mapping[str, str] | None = None, base: Settings | None = None
) -> Settings:
    """Apply ``PACKSERVE_<KEY>`` overrides (keys in ``ENV_KEYS``) on top of ``base``."""
    environ = os.environ if environ is None else environ
    data = {
        key: _env_value(key, environ[ENV_PREFIX + key.upper()])
        for key in ENV_KEYS
        if ENV_PREFIX + key.upper() in environ
    }
    return from_mapping(data, base)
