"""Exact repeats of a request for a small file are answered from memory (``BlobHandler``'s
remembered answers): they must be the answers the full path gives, and must stop being
given the moment the ref moves, the ref goes, the plan changes or the request differs in
a field that changes the answer."""

from __future__ import annotations

import gzip
import shutil
import time
import zlib
from collections.abc import Callable
from pathlib import Path

import anyio
import pytest

from app.config import Settings
from app.git import ObjectId
from app.http.app import PackserveApp, create_app
from tests.conftest import SiteRepos, cat_blob, tree_files
from tests.git.fixtures import git
from tests.http.test_app_hotpath import call

DECODE: dict[str, Callable[[bytes], bytes]] = {
    "gzip": gzip.decompress, "deflate": zlib.decompress, "identity": bytes,
}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def remembered(app: PackserveApp) -> int:
    """How many answers the app holds for repeats."""
    blobs = app.blobs
    if blobs is None:
        raise RuntimeError("the app is not started")
    return len(blobs._answers._items)


async def until_changed(app: PackserveApp, url: str, old: bytes) -> tuple[int, bytes]:
    # Refs are re-read within a second of a change (stat-based, with git's racy rule).
    deadline = time.monotonic() + 5
    while True:
        status, _, body = await call(app, url)
        if body != old or time.monotonic() > deadline:
            return status, body
        await anyio.sleep(0.05)


@pytest.mark.anyio
async def test_repeats_get_the_answer_the_full_path_gives(
    site_repos: SiteRepos, tmp_path: Path
) -> None:
    app = create_app(Settings(repository=site_repos.gc, cache_dir=tmp_path))
    files = tree_files(site_repos.gc, "main")
    async with app.service.router.lifespan_context(app.service):
        for path in ("style.css", "README.md", "data/small.bin", "empty.txt"):
            url = f"/main/{path}"
            for coding in ("gzip", "deflate", "identity"):
                etag = ""
                for method in ("GET", "HEAD"):
                    headers = {"accept-encoding": coding, "accept": "text/html"}
                    first = await call(app, url, headers, method)
                    again = await call(app, url, headers, method)
                    assert again == first
                    status, fields, body = first
                    assert status == 200 and fields.get("content-encoding", "identity") == coding
                    if method == "GET":
                        etag = fields["etag"]
                        content = cat_blob(site_repos.gc, files[path])
                        assert fields["content-length"] == str(len(body))
                        assert DECODE[coding](body) == content
                    else:
                        assert body == b""
                revalidate = {"accept-encoding": coding, "if-none-match": etag}
                first_304 = await call(app, url, revalidate)
                assert first_304[0] == 304 and first_304[1]["etag"] == etag
                assert await call(app, url, revalidate) == first_304
        # Every small answer above (3 codings x GET/HEAD/304, 4 files) is now remembered.
        assert remembered(app) == 4 * 3 * 3


@pytest.mark.anyio
async def test_fields_outside_the_key_always_take_the_full_path(
    site_repos: SiteRepos, tmp_path: Path
) -> None:
    app = create_app(Settings(repository=site_repos.gc, cache_dir=tmp_path))
    url = "/main/style.css"
    async with app.service.router.lifespan_context(app.service):
        plain = {"accept-encoding": "identity"}
        status, fields, whole = await call(app, url, plain)
        await call(app, url, plain)
        assert status == 200
        etag, modified = fields["etag"], fields["last-modified"]
        ranged = await call(app, url, {**plain, "range": "bytes=0-3"})
        assert ranged[0] == 206 and ranged[2] == whole[:4]
        assert (await call(app, url, {**plain, "if-match": '"other"'}))[0] == 412
        assert (await call(app, url, {**plain, "if-modified-since": modified}))[0] == 304
        assert (await call(app, url, {**plain, "if-unmodified-since": "Thu, 01 Jan 1970 "
                                                                        "00:00:00 GMT"}))[0] == 412
        stale = {**plain, "range": "bytes=0-3", "if-range": '"other"'}
        assert (await call(app, url, stale))[0] == 200
        assert (await call(app, url, {**plain, "if-none-match": etag}))[0] == 304
        # Another coding, another answer; none of the above displaced the plain one.
        assert (await call(app, url, {"accept-encoding": "gzip"}))[1]["content-encoding"] == "gzip"
        assert await call(app, url, plain) == (status, fields, whole)


@pytest.mark.anyio
async def test_a_moved_or_deleted_ref_is_seen_by_the_next_repeat(
    site_repos: SiteRepos, tmp_path: Path
) -> None:
    repo = shutil.copytree(site_repos.gc, tmp_path / "repo.git", symlinks=True)
    app = create_app(Settings(repository=repo, cache_dir=tmp_path / "cache"))
    feature = git(repo, "rev-parse", "feature/x").decode().strip()
    url = "/main/README.md"
    async with app.service.router.lifespan_context(app.service):
        old = (await call(app, url))[2]
        assert (await call(app, url))[2] == old == cat_blob(repo, tree_files(repo, "main")[
            "README.md"])
        git(repo, "update-ref", "refs/heads/main", feature)
        status, body = await until_changed(app, url, old)
        assert status == 200 and body == cat_blob(repo, tree_files(repo, "feature/x")[
            "README.md"])
        status, fields, _ = await call(app, url)
        assert fields["x-git-commit"] == feature
        git(repo, "update-ref", "-d", "refs/heads/main")
        status, _ = await until_changed(app, url, body)
        assert status == 404


@pytest.mark.anyio
async def test_an_answer_is_not_repeated_once_its_plan_is_gone(
    site_repos: SiteRepos, tmp_path: Path
) -> None:
    app = create_app(Settings(repository=site_repos.gc, cache_dir=tmp_path))
    url = "/main/app.js"
    oid = ObjectId.from_hex(tree_files(site_repos.gc, "main")["app.js"])
    async with app.service.router.lifespan_context(app.service):
        await call(app, url, {"accept-encoding": "deflate"})
        blobs = app.blobs
        assert blobs is not None
        plan = blobs.reps.cached(oid)
        assert plan is not None
        made: list[ObjectId] = []
        real = blobs.reps.plan

        async def counting(wanted: ObjectId) -> object:
            made.append(wanted)
            return await real(wanted)

        blobs.reps.plan = counting  # type: ignore[method-assign,assignment]
        await call(app, url, {"accept-encoding": "deflate"})
        assert made == []  # a repeat: neither the plan nor the engine was consulted
        blobs.reps.discard(plan)  # what a stream failing verification does
        status, _, _ = await call(app, url, {"accept-encoding": "deflate"})
        assert status == 200 and made == [oid]
        assert blobs.reps.cached(oid) is not plan
