"""Real servers for the end-to-end tests: uvicorn on a free 127.0.0.1 port, in a thread.

Each distinct (repository, settings) pair gets one server for the whole session; tests
talk to it over a real socket (httpx, curl, Chromium, REDbot).
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from app.config import Settings
from app.http.app import create_app
from tests.conftest import SiteRepos


@dataclasses.dataclass
class Running:
    """A server in a background thread and its base URL."""

    server: uvicorn.Server
    thread: threading.Thread
    url: str


def start(app: Any) -> Running:
    """Run ``app`` under uvicorn (h11, asyncio) on a free port; return once it listens."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    return Running(server, thread, f"http://127.0.0.1:{port}")


def stop(running: Running) -> None:
    """Ask the server to exit and wait for its thread."""
    running.server.should_exit = True
    running.thread.join(timeout=20)


class Servers:
    """Starts one server per (repository, settings overrides), reused for the session."""

    def __init__(self, repos: SiteRepos, cache_root: Path) -> None:
        self.repos = repos
        self._cache_root = cache_root
        self._running: dict[tuple[object, ...], Running] = {}

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
