"""Assemble the whole service for a ``Settings`` and run it under uvicorn.

Rules:
1. ``build_app`` opens every repository once, at start-up, and shares that handle with the
   repository's app (``create_app(open_repository=…)``) and the router; a repository that
   cannot be opened is a ``ConfigError`` naming its key, before any socket is bound.
2. ``--workers N`` needs an import string, so workers rebuild the app from
   ``PACKSERVE_SETTINGS_JSON`` (``config.to_mapping`` as JSON) via the factory
   ``app.ops.server:worker_app``. They share the on-disk cache (atomic renames, see
   ``app.diskcache``) and, for metrics, a ``PROMETHEUS_MULTIPROC_DIR``.
3. Our access log replaces uvicorn's (one line per request, with bytes and timing).
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from app.config import ConfigError, RepositoryMount, Settings, from_mapping, to_mapping
from app.git import GitError, Repository
from app.http.app import create_app
from app.ops import accesslog, metrics
from app.ops.observe import ObserveRequests
from app.ops.repos import Router, Site

SETTINGS_ENV = "PACKSERVE_SETTINGS_JSON"
_MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def _key(settings: Settings, index: int) -> str:
    return f"repositories[{index}].path" if settings.repositories else "repository"


def open_repositories(settings: Settings) -> list[tuple[RepositoryMount, Repository]]:
    """Open every configured repository; ``ConfigError`` names the first that fails."""
    opened: list[tuple[RepositoryMount, Repository]] = []
    try:
        for index, mount in enumerate(settings.mounts()):
            try:
                repo = Repository.open(mount.path, namespaces=settings.namespaces)
            except (GitError, OSError) as exc:
                raise ConfigError(
                    f"{_key(settings, index)}: cannot open {str(mount.path)!r}: {exc}"
                ) from None
            opened.append((mount, repo))
    except ConfigError:
        for _, repo in opened:
            repo.close()
        raise
    return opened


def _opened(repo: Repository) -> Callable[[Settings], Repository]:
    # The app's lifespan "opens" the handle build_app already opened (and closes it).
    def open_repository(_settings: Settings) -> Repository:
        return repo

    return open_repository


def _counting_cache(settings: Settings) -> metrics.CountingDiskCache:
    return metrics.CountingDiskCache(settings.cache_dir, settings.cache_max_bytes)


def build_app(settings: Settings) -> Any:
    """The ASGI app serving every configured repository, with metrics and access log."""
    # The counting cache is how /-/metrics sees hits, misses, delta resolutions and inflates.
    counting: dict[str, Any] = {"open_cache": _counting_cache} if settings.metrics else {}
    sites = []
    for mount, repo in open_repositories(settings):
        single = dataclasses.replace(settings, repository=mount.path, repositories=())
        app = create_app(single, open_repository=_opened(repo), **counting)
        sites.append(Site(mount, app, repo))
    endpoints = {"/-/metrics": metrics.endpoint()} if settings.metrics else {}
    router = Router(
        sites,
        base_domain=settings.base_domain,
        redirect_branches=settings.redirect_branches,
        redirect_max_age=settings.branch_cache.max_age,
        cors_origin=settings.cors_origin,
        endpoints=endpoints,
    )
    log = None
    if settings.access_log != "off":
        log = accesslog.AccessLog(settings.access_log)
    if log is None and not settings.metrics:
        return router
    return ObserveRequests(router, metrics=metrics.METRICS if settings.metrics else None,
                           access_log=log)


def worker_app() -> Any:
    """uvicorn factory for worker processes: settings come from ``PACKSERVE_SETTINGS_JSON``."""
    return build_app(from_mapping(json.loads(os.environ[SETTINGS_ENV])))


def _multiprocess_metrics(settings: Settings) -> None:
    # Stale files of a previous run would add old counts to the new one: start empty.
    if os.environ.get(_MULTIPROC_ENV):
        return
    directory = Path(settings.cache_dir) / "metrics"
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    os.environ[_MULTIPROC_ENV] = str(directory)


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """The uvicorn settings packserve derives from its own."""
    return {
        "host": settings.host,
        "port": settings.port,
        "proxy_headers": settings.proxy_headers,
        "forwarded_allow_ips": settings.forwarded_allow_ips,
        # SIGTERM stops accepting, then waits this long for in-flight responses.
        "timeout_graceful_shutdown": settings.graceful_timeout,
        "access_log": False,
        "log_level": "info",
    }


def run(settings: Settings) -> None:
    """Serve until SIGINT/SIGTERM (graceful: in-flight responses may finish)."""
    import uvicorn

    options = uvicorn_options(settings)
    if settings.workers == 1:
        uvicorn.run(build_app(settings), **options)
        return
    for _, repo in open_repositories(settings):  # fail here, not in every worker
        repo.close()
    if settings.metrics:
        _multiprocess_metrics(settings)
    os.environ[SETTINGS_ENV] = json.dumps(to_mapping(settings))
    uvicorn.run(
        "app.ops.server:worker_app", factory=True, workers=settings.workers, **options
    )
