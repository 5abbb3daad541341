"""Settings: TOML loading, environment overrides, the worker round trip, every error."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest

from app.config import (
    ENV_KEYS,
    CachePolicy,
    ConfigError,
    RepositoryMount,
    Settings,
    from_environment,
    from_mapping,
    load,
    to_mapping,
)


def test_defaults_mount_the_single_repository_at_the_root() -> None:
    settings = Settings()
    assert settings.mounts() == (RepositoryMount("default", Path("."), prefix=""),)
    assert settings.access_log == "text" and settings.workers == 1 and settings.metrics


def test_load_reads_every_kind_of_key(tmp_path: Path) -> None:
    path = tmp_path / "packserve.toml"
    path.write_text(
        """
repository = "/srv/site.git"
port = 9000
namespaces = ["refs/heads/", "refs/tags/", "refs/pull/"]
raw_mode = true
cors_origin = "https://example.com"
base_domain = "Preview.Example.COM"
access_log = "json"
workers = 4
[branch_cache]
max_age = 5
stale_while_revalidate = 30
[[repositories]]
name = "docs"
path = "/srv/docs.git"
[[repositories]]
name = "site"
path = "/srv/site.git"
host = "site.example.com"
[[repositories]]
name = "api"
path = "/srv/api.git"
prefix = "/v1/api"
"""
    )
    settings = load(path)
    assert settings.repository == Path("/srv/site.git")
    assert settings.port == 9000 and settings.workers == 4 and settings.raw_mode
    assert settings.namespaces[-1] == "refs/pull/"
    assert settings.branch_cache == CachePolicy(max_age=5, stale_while_revalidate=30)
    assert settings.base_domain == "preview.example.com"
    assert settings.mounts() == (
        RepositoryMount("docs", Path("/srv/docs.git"), prefix="/docs"),
        RepositoryMount("site", Path("/srv/site.git"), host="site.example.com"),
        RepositoryMount("api", Path("/srv/api.git"), prefix="/v1/api"),
    )


def test_settings_survive_the_json_round_trip_to_workers() -> None:
    settings = from_mapping(
        {
            "cors_origin": None,
            "base_domain": "p.example",
            "repositories": [{"name": "a", "path": "/a", "host": "a.example", "prefix": "/a"}],
            "abbrev_cache": {"max_age": 1},
        }
    )
    assert from_mapping(json.loads(json.dumps(to_mapping(settings)))) == settings
    assert from_mapping(json.loads(json.dumps(to_mapping(Settings())))) == Settings()


def test_environment_overrides_the_file_values() -> None:
    base = from_mapping({"port": 1, "listings": True})
    env = {
        "PACKSERVE_PORT": "8080",
        "PACKSERVE_LISTINGS": "off",
        "PACKSERVE_CORS_ORIGIN": "none",
        "PACKSERVE_NAMESPACES": "refs/heads/, refs/tags/",
        "PACKSERVE_CACHE_DIR": "/var/cache/ps",
        "PACKSERVE_BASE_DOMAIN": "preview.example",
        "PACKSERVE_TAG_CACHE": "ignored: not an environment key",
        "UNRELATED": "x",
    }
    settings = from_environment(env, base)
    assert settings.port == 8080 and not settings.listings and settings.cors_origin is None
    assert settings.namespaces == ("refs/heads/", "refs/tags/")
    assert settings.cache_dir == Path("/var/cache/ps")
    assert settings.base_domain == "preview.example"
    assert settings.tag_cache == Settings().tag_cache


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"colour": "blue"}, "colour: unknown key"),
        ({"port": "80"}, "port: expected int"),
        ({"port": True}, "port: expected an integer"),
        ({"port": 70000}, "port: must be 0..65535"),
        ({"workers": 0}, "workers: must be 1..256"),
        ({"max_ranges": 0}, "max_ranges: must be >= 1"),
        ({"cache_max_bytes": -1}, "cache_max_bytes: must be >= 1"),
        ({"graceful_timeout": -1}, "graceful_timeout: must be >= 0"),
        ({"host": ""}, "host: must not be empty"),
        ({"forwarded_allow_ips": 1}, "forwarded_allow_ips: expected str"),
        ({"repository": 1}, "repository: expected str"),
        ({"cache_dir": ["x"]}, "cache_dir: expected str"),
        ({"raw_mode": "yes"}, "raw_mode: expected bool"),
        ({"metrics": 1}, "metrics: expected bool"),
        ({"namespaces": "refs/heads/"}, "namespaces: expected a list of strings"),
        ({"namespaces": ["heads/"]}, "namespaces: 'heads/' must look like"),
        ({"cors_origin": ""}, "cors_origin: expected an origin"),
        ({"access_log": "xml"}, "access_log: expected one of off, text, json"),
        ({"base_domain": "-bad.example"}, "base_domain: '-bad.example' is not a host name"),
        ({"base_domain": "a..b"}, "base_domain: 'a..b' is not a host name"),
        ({"branch_cache": 5}, "branch_cache: expected a table"),
        ({"branch_cache": {"s_maxage": 1}}, "branch_cache.max_age: required"),
        ({"tag_cache": {"max_age": 1, "ttl": 2}}, "tag_cache.ttl: unknown key"),
        ({"tag_cache": {"max_age": -1}}, "tag_cache.max_age: must be >= 0"),
        ({"repositories": {"name": "a"}}, "repositories: expected a list of tables"),
        ({"repositories": ["a"]}, "repositories[0]: expected a table"),
        ({"repositories": [{"path": "/a"}]}, "repositories[0].name: required"),
        ({"repositories": [{"name": "a"}]}, "repositories[0].path: required"),
        ({"repositories": [{"name": "a", "path": 1}]}, "repositories[0].path: expected str"),
        ({"repositories": [{"name": "a b", "path": "/a"}]}, "repositories[0].name: 'a b'"),
        ({"repositories": [{"name": "a--b", "path": "/a"}]}, "repositories[0].name: 'a--b'"),
        ({"repositories": [{"name": "A", "path": "/a"}]}, "repositories[0].name: 'A' must"),
        ({"repositories": [{"name": "a" * 33, "path": "/a"}]}, "repositories[0].name: 'aaa"),
        ({"repositories": [{"name": "a", "path": "/a", "x": 1}]}, "repositories[0].x: unknown"),
        (
            {"repositories": [{"name": "a", "path": "/a", "prefix": "a"}]},
            "repositories[0].prefix: 'a' must look like '/name'",
        ),
        (
            {"repositories": [{"name": "a", "path": "/a", "prefix": "/a/"}]},
            "repositories[0].prefix: '/a/' must look like",
        ),
        (
            {"repositories": [{"name": "a", "path": "/a", "prefix": "/-/x"}]},
            "repositories[0].prefix: '/-/x' may not use",
        ),
        (
            {"repositories": [{"name": "a", "path": "/a", "host": "a_b.example"}]},
            "repositories[0].host: 'a_b.example' is not a host name",
        ),
        (
            {"repositories": [{"name": "a", "path": "/a"}, {"name": "a", "path": "/b"}]},
            "repositories[1].name: 'a' already used by repositories[0]",
        ),
        (
            {
                "repositories": [
                    {"name": "a", "path": "/a", "host": "x.example"},
                    {"name": "b", "path": "/b", "host": "X.example"},
                ]
            },
            "repositories[1].host: 'x.example' already used",
        ),
        (
            {
                "repositories": [
                    {"name": "a", "path": "/a", "prefix": "/p"},
                    {"name": "b", "path": "/b", "prefix": "/p"},
                ]
            },
            "repositories[1].prefix: '/p' already used",
        ),
    ],
)
def test_every_invalid_value_is_named(data: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        from_mapping(data)
    assert str(info.value).startswith(message)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"PACKSERVE_PORT": "eighty"}, "port: PACKSERVE_PORT='eighty' is not an integer"),
        ({"PACKSERVE_METRICS": "maybe"}, "metrics: PACKSERVE_METRICS='maybe' is not a boolean"),
        ({"PACKSERVE_ACCESS_LOG": "xml"}, "access_log: expected one of"),
        ({"PACKSERVE_WORKERS": "0"}, "workers: must be 1..256"),
    ],
)
def test_invalid_environment_values_are_named(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        from_environment(env)
    assert str(info.value).startswith(message)


def test_unreadable_and_malformed_files_are_reported(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("port = \n")
    with pytest.raises(ConfigError, match="bad.toml"):
        load(bad)


EXAMPLE = Path(__file__).resolve().parents[2] / "config.example.toml"


def test_the_example_documents_every_key_and_which_the_environment_overrides() -> None:
    documented: dict[str, bool] = {}
    for block in EXAMPLE.read_text().split("\n\n"):
        comments = " ".join(line for line in block.splitlines() if line.startswith("#"))
        for match in re.finditer(r"^(?:# )?\[*([a-z_]+)\]*(?: =|$)", block, re.M):
            documented[match.group(1)] = re.search(r"\benv\b", comments) is not None
    assert set(documented) >= {f.name for f in dataclasses.fields(Settings)}
    assert {key for key, env in documented.items() if env} == set(ENV_KEYS)


def test_the_example_loads_to_the_defaults() -> None:
    loaded = load(EXAMPLE)
    assert dataclasses.replace(loaded, cache_dir=Settings().cache_dir) == Settings()
