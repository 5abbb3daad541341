"""Engine errors become clear answers: the status the engine suggests, no server detail in a
5xx body, and the next request is served normally."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.config import Settings
from app.git import (
    AmbiguousRevision,
    CorruptObject,
    GitError,
    InvalidName,
    RefNotFound,
    Repository,
    SubmoduleEntry,
)
from app.http.app import create_app
from tests.conftest import SiteRepos
from tests.http.test_app_hotpath import call


class FailingRepository:
    """A real repository whose ``resolve`` raises the planted error for one URL."""

    def __init__(self, real: Repository, failures: dict[str, GitError]) -> None:
        self._real = real
        self._failures = failures

    def resolve(self, url_path: str) -> object:
        failure = self._failures.get(url_path)
        if failure is not None:
            raise failure
        return self._real.resolve(url_path)

    def __getattr__(self, name: str) -> object:
        return getattr(self._real, name)


FAILURES: dict[str, tuple[GitError, int]] = {
    "abc1/x": (AmbiguousRevision("abc1 is ambiguous"), 409),
    "bad/x": (InvalidName("bad ref name"), 400),
    "gone/x": (RefNotFound("no ref gone"), 404),
    "sub/x": (SubmoduleEntry("x is a submodule"), 404),
    "broken/x": (CorruptObject("/srv/secret/objects/pack/pack-1.pack: bad tree"), 500),
}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_engine_errors_map_to_statuses(site_repos: SiteRepos, tmp_path: Path) -> None:
    failures = {path: error for path, (error, _) in FAILURES.items()}

    def opener(settings: Settings) -> Repository:
        return FailingRepository(Repository.open(settings.repository), failures)  # type: ignore[return-value]

    app = create_app(Settings(repository=site_repos.gc, cache_dir=tmp_path),
                     open_repository=opener)
    async with app.service.router.lifespan_context(app.service):
        for path, (_, status) in FAILURES.items():
            got, fields, body = await call(app, "/" + path)
            assert got == status, path
            assert fields["content-type"] == "text/plain; charset=utf-8"
            assert fields["vary"] == "Accept-Encoding"
            if status >= 500:
                assert b"/srv/secret" not in body
                assert fields["cache-control"] == "no-store"
            got, _, _ = await call(app, "/main/README.md")
            assert got == 200  # the service keeps serving
        _, fields, _ = await call(app, "/gone/x")
        assert fields["cache-control"].startswith("public, max-age=")  # a short negative TTL


@pytest.mark.anyio
async def test_an_unusable_cache_directory_only_costs_speed(
    site_repos: SiteRepos, tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_bytes(b"")
    app = create_app(Settings(repository=site_repos.gc, cache_dir=blocker / "cache"))
    async with app.service.router.lifespan_context(app.service):
        for coding in ("deflate", "gzip", "identity"):
            # log.txt's tip is a delta: it must be deflated, and cannot be kept on disk.
            status, fields, body = await call(app, "/main/data/log.txt",
                                              {"accept-encoding": coding})
            assert status == 200
            assert int(fields["content-length"]) == len(body)
