"""``create_app(settings)``: the ASGI application uvicorn runs.

Rules:
- The top-level callable dispatches on the path before any framework code runs: ``/``,
  ``/-`` and ``/-/…`` (the service's own endpoints) and the lifespan go to a Starlette app;
  every other path is a file URL and goes straight to the lean ``BlobHandler`` (DESIGN.md
  §5: a Starlette Request/Response per file request costs more than the file itself).
- The lifespan opens the repository, the on-disk cache, the app's own ``CapacityLimiter``
  for engine work in threads (so it never competes with anyio's default limiter, Starlette
  #1724) and a task group for background work (CRC-32s, inflated copies); shutdown cancels
  the background work, then closes the repository.
- Start-up does not wait for the pack order of packs without ``.rev`` (time in the number
  of objects, DESIGN.md §2; git:pack-revindex.c builds it the same way): the lifespan asks
  ``Representations.prepare`` to build it in a worker thread while the service already
  answers, and requests do not wait for it either (``representation`` module rules).
- Nothing here is global: two apps in one process (tests, several repositories later) share
  nothing but the on-disk cache, which is content-addressed and safe to share.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio
import anyio.to_thread
from starlette.applications import Starlette

from app.config import Settings
from app.diskcache import DiskCache
from app.git import Repository
from app.http.blobs import BlobHandler
from app.http.errors import send_error
from app.http.representation import CODINGS, Representations
from app.http.routes import ROUTES

log = logging.getLogger("packserve.http")

# Engine work in threads at once: inflates and delta chains are CPU-bound and zlib releases
# the GIL, so a few per core keeps cores busy without letting a burst of cold requests
# queue hundreds of threads.
THREADS = 8


def _open_repository(settings: Settings) -> Repository:
    return Repository.open(settings.repository, namespaces=settings.namespaces)


def _open_cache(settings: Settings) -> DiskCache:
    return DiskCache(settings.cache_dir, settings.cache_max_bytes)


class PackserveApp:
    """The ASGI callable: file URLs to ``BlobHandler``, the rest to Starlette."""

    def __init__(
        self,
        settings: Settings,
        open_repository: Callable[[Settings], Repository],
        open_cache: Callable[[Settings], DiskCache],
        codings: tuple[str, ...],
    ) -> None:
        self.settings = settings
        self._open_repository = open_repository
        self._open_cache = open_cache
        self._codings = codings
        self.blobs: BlobHandler | None = None
        self.service = Starlette(routes=ROUTES, lifespan=self._lifespan)
        self.service.state.cors_origin = settings.cors_origin

    @asynccontextmanager
    async def _lifespan(self, app: Starlette) -> AsyncIterator[None]:
        settings = self.settings
        repo = self._open_repository(settings)
        limiter = anyio.CapacityLimiter(THREADS)
        disk = self._open_cache(settings)
        try:
            async with anyio.create_task_group() as background:

                def spawn(job: Callable[[], Awaitable[None]]) -> None:
                    background.start_soon(_logged, job)

                reps = Representations(repo, disk, limiter, spawn)
                reps.prepare()
                self.blobs = BlobHandler(settings, repo, reps, codings=self._codings)
                app.state.repo = repo
                app.state.limiter = limiter
                try:
                    yield
                finally:
                    self.blobs = None
                    background.cancel_scope.cancel()
        finally:
            repo.close()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """ASGI entry: file paths go straight to the blob handler, the rest to Starlette."""
        if scope["type"] == "http":
            path = scope["path"]
            if path != "/" and path != "/-" and not path.startswith("/-/"):
                blobs = self.blobs
                if blobs is None:
                    await send_error(send, 503, "not started (the lifespan has not run)")
                    return
                await blobs(scope, receive, send)
                return
        await self.service(scope, receive, send)


async def _logged(job: Callable[[], Awaitable[None]]) -> None:
    # A failed background job must not take the task group (and the service) down with it.
    try:
        await job()
    except Exception:
        log.exception("background job failed")


def create_app(
    settings: Settings,
    *,
    open_repository: Callable[[Settings], Repository] = _open_repository,
    open_cache: Callable[[Settings], DiskCache] = _open_cache,
    codings: tuple[str, ...] = CODINGS,
) -> PackserveApp:
    """Build the application for ``settings``.

    ``open_repository`` and ``open_cache`` are called by the lifespan (tests and the
    operations layer pass their own: a shared handle, a cache that counts its lookups);
    ``codings`` is the server's preference order among equally acceptable codings
    (default gzip, deflate, identity: ``negotiation.PREFERENCE``).
    """
    return PackserveApp(settings, open_repository, open_cache, codings)
