"""Real servers for the end-to-end tests: uvicorn on a free 127.0.0.1 port, in a thread
(``tests.servers.start``).

Each distinct (repository, settings) pair gets one server for the whole session; tests
talk to it over a real socket (httpx, curl, Chromium, REDbot).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.config import Settings
from app.http.app import create_app
from tests.conftest import SiteRepos
from tests.servers import ThreadedServer, start, stop


class Servers:
    """Starts one server per (repository, settings overrides), reused for the session."""

    def __init__(self, repos: SiteRepos, cache_root: Path) -> None:
        self.repos = repos
        self._cache_root = cache_root
        self._running: dict[tuple[object, ...], ThreadedServer] = {}

    def __call__(self, form: str = "gc", **overrides: Any) -> str:
        codings = overrides.pop("codings", None)
        key = (form, codings, tuple(sorted(overrides.items())))
        if key not in self._running:
            settings = Settings(
                repository=getattr(self.repos, form),
                cache_dir=self._cache_root / f"cache-{len(self._running)}",
                **overrides,
            )
            extra = {"codings": codings} if codings else {}
            self._running[key] = start(create_app(settings, **extra))
        return self._running[key].url

    def close(self) -> None:
        """Stop every server started."""
        for running in self._running.values():
            stop(running)


@pytest.fixture(scope="session")
def servers(
    site_repos: SiteRepos, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Servers]:
    """``servers("gc", raw_mode=True)`` -> base URL of a running packserve."""
    pool = Servers(site_repos, tmp_path_factory.mktemp("caches"))
    yield pool
    pool.close()


@pytest.fixture(scope="session")
def base(servers: Servers) -> str:
    """The default server: the gc'd repository with default settings."""
    return servers("gc")
