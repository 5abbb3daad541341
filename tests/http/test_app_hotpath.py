"""The hot path in process: warm requests stay on the event loop, and header blocks and
bodies are consistent for every kind of answer."""

from __future__ import annotations

import shutil
import threading
import zlib
from pathlib import Path
from typing import Any
from urllib.parse import quote

import anyio
import anyio.to_thread
import pytest

from app.config import Settings
from app.git import Repository
from app.git import odb as odb_module
from app.git.pack import revindex
from app.http.app import PackserveApp, create_app
from tests.conftest import SiteRepos, cat_blob, tree_files
from tests.git.fixtures import git


async def call(app: PackserveApp, path: str, headers: dict[str, str] | None = None,
               method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    raw_path, _, query = path.encode().partition(b"?")
    scope = {
        "type": "http", "method": method, "path": path.split("?")[0], "raw_path": raw_path,
        "query_string": query, "http_version": "1.1",
        "headers": [(k.encode(), v.encode()) for k, v in (headers or {}).items()],
    }
    messages: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    await app(scope, receive, send)
    start, *bodies = messages
    assert bodies and not bodies[-1].get("more_body", False)
    assert all(m.get("more_body") for m in bodies[:-1])
    body = b"".join(bytes(m.get("body", b"")) for m in bodies)
    fields = {k.decode(): v.decode() for k, v in start["headers"]}
    return start["status"], fields, body


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_warm_requests_never_hop_to_a_thread(
    site_repos: SiteRepos, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = create_app(Settings(repository=site_repos.gc, cache_dir=tmp_path))
    hops: list[object] = []
    real = anyio.to_thread.run_sync

    async def counting(fn: Any, *args: Any, **kwargs: Any) -> Any:
        hops.append(fn)
        return await real(fn, *args, **kwargs)

    monkeypatch.setattr(anyio.to_thread, "run_sync", counting)
    urls = ["/main/style.css", "/main/data/big.txt", "/main/data/log.txt", "/main/"]
    codings = ["identity", "gzip", "deflate"]
    async with app.service.router.lifespan_context(app.service):
        for _ in range(2):  # the second identity GET of a large file makes its inflated copy
            for url in urls:
                for coding in codings:
                    await call(app, url, {"accept-encoding": coding})
        await anyio.sleep(0.2)  # background CRC jobs finish
        hops.clear()
        for url in urls:
            for coding in codings:
                status, fields, _ = await call(app, url, {"accept-encoding": coding})
                assert status == 200
                etag = fields["etag"]
                status, _, _ = await call(app, url, {"accept-encoding": coding,
                                                     "if-none-match": etag})
                assert status == 304
    # The identity GETs of the two large files (3.2 MB, 0.3 MB) are slices of their
    # inflated copies by now: nothing hops.
    assert hops == []


@pytest.mark.anyio
async def test_content_length_matches_every_body(site_repos: SiteRepos, tmp_path: Path) -> None:
    app = create_app(Settings(repository=site_repos.whole, cache_dir=tmp_path))
    requests = [
        ("/main/data/big.txt", {"accept-encoding": "gzip"}),
        ("/main/data/big.txt", {"accept-encoding": "identity", "range": "bytes=100-200,5-9"}),
        ("/main/data/random.bin", {"accept-encoding": "deflate", "range": "bytes=-10"}),
        ("/main/docs/", {}),
        ("/main/docs", {}),
        ("/main/nope", {}),
        ("/main/%zz", {}),
        ("/-/healthz", {}),
        ("/", {"accept": "application/json"}),
    ]
    async with app.service.router.lifespan_context(app.service):
        for path, headers in requests:
            status, fields, body = await call(app, path, headers)
            assert int(fields["content-length"]) == len(body), (path, status)
            assert "accept-encoding" in fields["vary"].lower(), path
            _, head_fields, head_body = await call(app, path, headers, method="HEAD")
            if path != "/" and not path.startswith("/-/"):
                assert head_body == b""  # (Starlette leaves dropping it to the server)
            if "range" not in headers:  # HEAD ignores Range (RFC 9110 §14.2): a 200
                assert head_fields == fields, path


@pytest.mark.anyio
async def test_start_up_prepares_the_pack_order_in_a_worker_thread(
    site_repos: SiteRepos, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: list[threading.Thread] = []
    real = Repository.prepare

    def prepare(self: Repository) -> None:
        threads.append(threading.current_thread())
        real(self)

    monkeypatch.setattr(Repository, "prepare", prepare)
    app = create_app(Settings(repository=site_repos.gc, cache_dir=tmp_path))
    async with app.service.router.lifespan_context(app.service):
        status, _, _ = await call(app, "/main/style.css", {"accept-encoding": "gzip"})
        assert status == 200
        for _ in range(100):
            if threads:
                break
            await anyio.sleep(0.01)
    assert len(threads) == 1 and threads[0] is not threading.main_thread()


@pytest.mark.anyio
async def test_requests_during_start_up_do_not_wait_for_the_pack_order(
    site_repos: SiteRepos, tmp_path: Path
) -> None:
    repo = Repository.open(site_repos.gc)
    packs = repo._odb.packs
    assert packs and all(pack._order is None for pack in packs)  # git gc wrote no .rev
    app = create_app(Settings(repository=site_repos.gc, cache_dir=tmp_path),
                     open_repository=lambda _: repo)
    files = tree_files(site_repos.gc, "main")
    # Holding the order locks makes prepare() stall the way a huge pack's build does.
    for pack in packs:
        pack._order_lock.acquire()
    async with app.service.router.lifespan_context(app.service):
        try:
            with anyio.fail_after(10):
                for path, oid in files.items():
                    for coding in ("identity", "deflate"):
                        status, fields, body = await call(app, "/main/" + quote(path),
                                                          {"accept-encoding": coding})
                        assert status == 200, path
                        if fields.get("content-encoding") == "deflate":
                            body = zlib.decompress(body)
                        assert body == cat_blob(site_repos.gc, oid), path
            assert all(pack._order is None for pack in packs)
        finally:
            for pack in packs:
                pack._order_lock.release()
        with anyio.fail_after(10):
            while repo.needs_prepare():
                await anyio.sleep(0.001)
    assert all(pack._order is not None for pack in packs)


@pytest.mark.anyio
async def test_a_pack_written_after_start_up_has_its_order_built_off_the_loop(
    site_repos: SiteRepos, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # git before 2.41 writes no .rev: after a gc the new pack's order must be built again,
    # in time in the number of objects, and that must not stall the event loop.
    repo_dir = shutil.copytree(site_repos.gc, tmp_path / "repo.git", symlinks=True)
    monkeypatch.setattr(odb_module, "_REVALIDATE_SECONDS", 0.0)  # see new packs at once
    builders: list[threading.Thread] = []
    real_init = revindex.SortedOffsets.__init__

    def recording(self: revindex.SortedOffsets, *args: Any) -> None:
        builders.append(threading.current_thread())
        real_init(self, *args)

    monkeypatch.setattr(revindex.SortedOffsets, "__init__", recording)
    app = create_app(Settings(repository=repo_dir, cache_dir=tmp_path / "cache"))
    files = tree_files(repo_dir, "main")
    first, *rest = sorted(files)
    async with app.service.router.lifespan_context(app.service):
        assert (await call(app, "/main/" + quote(first)))[0] == 200
        with anyio.fail_after(10):
            while app.blobs is None or app.blobs.repo.needs_prepare():
                await anyio.sleep(0.01)
        git(repo_dir, "repack", "-adfq", "--window=0")  # every blob stored whole, anew
        assert not list((repo_dir / "objects/pack").glob("*.rev"))
        builders.clear()
        for path in rest:  # blobs never planned: each needs the new pack's extents
            status, _, body = await call(app, "/main/" + quote(path))
            assert status == 200 and body == cat_blob(repo_dir, files[path]), path
        with anyio.fail_after(10):
            while app.blobs.repo.needs_prepare():
                await anyio.sleep(0.01)
    assert builders and threading.main_thread() not in builders
