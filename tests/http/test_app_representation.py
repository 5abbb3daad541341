"""Representation plans against a hand-written fake engine: passthrough, made-once streams,
the CRC-32 computed once and persisted, and the ETag per representation."""

from __future__ import annotations

import gzip
import hashlib
import threading
import zlib
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import pytest

from app.diskcache import DiskCache
from app.git import Blob, ObjectId, StoredStream
from app.http.gzipframe import Inflater, StreamMismatch, gzip_parts
from app.http.representation import (
    DEFLATE,
    GZIP,
    IDENTITY,
    RAW_COPY_AFTER,
    SMALL_BLOB,
    BlobPlan,
    Representations,
)


def blob_id(content: bytes) -> ObjectId:
    return ObjectId(hashlib.sha1(b"blob %d\0" % len(content) + content).digest())


@dataclass
class FakeRepository:
    """Blobs by id; ``stored`` ones carry a zlib stream as a pack would."""

    contents: dict[ObjectId, bytes]
    stored: dict[ObjectId, bytes]
    iter_calls: int = 0
    # (thread, build_order) of every blob lookup; the threads prepare ran in.
    blob_calls: list[tuple[threading.Thread, bool]] = field(default_factory=list)
    prepare_threads: list[threading.Thread] = field(default_factory=list)
    unprepared: bool = False  # some pack has no pack order yet

    def needs_prepare(self) -> bool:
        return self.unprepared

    def prepare(self) -> None:
        self.prepare_threads.append(threading.current_thread())
        self.unprepared = False

    def blob(self, oid: ObjectId, *, build_order: bool = True) -> Blob:
        self.blob_calls.append((threading.current_thread(), build_order))
        stream = self.stored.get(oid)
        data = None if stream is None else StoredStream(memoryview(stream), "ab" * 20, 12, None)
        return Blob(oid, len(self.contents[oid]), data)

    def iter_blob(self, oid: ObjectId, chunk_size: int = 65536) -> Iterator[bytes]:
        self.iter_calls += 1
        content = self.contents[oid]
        for pos in range(0, len(content), chunk_size):
            yield content[pos : pos + chunk_size]


def make(contents: list[bytes], stored: bool) -> tuple[FakeRepository, list[ObjectId]]:
    ids = [blob_id(c) for c in contents]
    repo = FakeRepository(
        dict(zip(ids, contents, strict=True)),
        {oid: zlib.compress(c) for oid, c in zip(ids, contents, strict=True)} if stored else {},
    )
    return repo, ids


async def run_with(repo: FakeRepository, disk: DiskCache | None,
                   body: Callable[[Representations], Awaitable[None]]) -> None:
    async with anyio.create_task_group() as tg:
        reps = Representations(repo, disk, anyio.CapacityLimiter(2), tg.start_soon)  # type: ignore[arg-type]
        await body(reps)


SMALL = b"small text\n" * 100
LARGE = b"".join(b"%08d large line\n" % i for i in range(40_000))


@pytest.mark.anyio
async def test_small_stored_blob_is_passthrough_with_content_and_crc(tmp_path: Path) -> None:
    repo, (oid,) = make([SMALL], stored=True)

    async def check(reps: Representations) -> None:
        plan = await reps.plan(oid)
        assert not plan.made
        assert bytes(plan.stream) == repo.stored[oid]  # the pack's own bytes
        assert plan.content == SMALL
        assert plan.crc == zlib.crc32(SMALL)
        assert len(set(plan.etags.values())) == 3
        assert plan.etags[IDENTITY] == f'"{oid.hex()}"'.encode()
        assert plan.length(GZIP) == len(b"".join(gzip_parts(plan.stream, plan.crc, plan.size)))
        assert plan.length(DEFLATE) == len(repo.stored[oid])
        assert reps.cached(oid) is plan
        assert repo.iter_calls == 0

    await run_with(repo, DiskCache(tmp_path, 1 << 20), check)


@pytest.mark.anyio
async def test_large_stored_blob_crc_once_then_from_disk(tmp_path: Path) -> None:
    assert len(LARGE) > SMALL_BLOB
    repo, (oid,) = make([LARGE], stored=True)
    disk = DiskCache(tmp_path, 1 << 24)

    async def first(reps: Representations) -> None:
        plan = await reps.plan(oid)
        assert plan.crc is None and plan.content is None
        crc = await reps.ensure_crc(plan)
        assert crc == zlib.crc32(LARGE)
        member = b"".join(gzip_parts(plan.stream, crc, plan.size))
        assert gzip.decompress(member) == LARGE

    async def restarted(reps: Representations) -> None:
        plan = await reps.plan(oid)
        assert plan.crc == zlib.crc32(LARGE)  # read back from the disk cache

    await run_with(repo, disk, first)
    await run_with(repo, disk, restarted)


@pytest.mark.anyio
@pytest.mark.parametrize("content", [SMALL, LARGE, b""], ids=["small", "large", "empty"])
async def test_unstored_blob_is_deflated_once_and_reused_after_restart(
    tmp_path: Path, content: bytes
) -> None:
    repo, (oid,) = make([content], stored=False)
    disk = DiskCache(tmp_path, 1 << 24)
    seen: list[bytes] = []

    async def check(reps: Representations) -> None:
        plan = await reps.plan(oid)
        assert plan.made
        assert zlib.decompress(plan.stream) == content
        assert plan.crc == zlib.crc32(content)
        assert plan.etags[DEFLATE].endswith(b'.m%08x"' % zlib.crc32(plan.stream))
        seen.append(plan.etags[GZIP])

    await run_with(repo, disk, check)
    await run_with(repo, disk, check)
    assert repo.iter_calls == 1  # the second app found the stream on disk
    assert seen[0] == seen[1]


@pytest.mark.anyio
async def test_without_a_disk_cache_streams_are_kept_in_memory() -> None:
    repo, (oid,) = make([LARGE], stored=False)

    async def check(reps: Representations) -> None:
        plan = await reps.plan(oid)
        assert zlib.decompress(plan.stream) == LARGE

    await run_with(repo, None, check)


@pytest.mark.anyio
async def test_bad_stored_stream_is_discarded_and_remade(tmp_path: Path) -> None:
    repo, (small, large) = make([SMALL, LARGE], stored=True)
    repo.stored[small] = repo.stored[small] + b"junk"  # extent longer than the stream
    bad = bytearray(repo.stored[large])
    bad[-1] ^= 0xFF  # wrong Adler-32
    repo.stored[large] = bytes(bad)

    async def check(reps: Representations) -> None:
        plan = await reps.plan(small)
        assert plan.made and plan.content == SMALL
        plan = await reps.plan(large)
        assert not plan.made
        with pytest.raises(StreamMismatch):
            await reps.ensure_crc(plan)
        again = await reps.plan(large)
        assert again.made
        assert zlib.decompress(again.stream) == LARGE

    await run_with(repo, DiskCache(tmp_path, 1 << 24), check)


@pytest.mark.anyio
async def test_hot_identity_requests_make_an_inflated_copy(tmp_path: Path) -> None:
    repo, (oid,) = make([LARGE], stored=True)
    disk = DiskCache(tmp_path, 1 << 25)

    async def check(reps: Representations) -> None:
        plan = await reps.plan(oid)
        assert plan.crc is None
        reps.note_identity(plan)
        await anyio.sleep(0.05)
        assert plan.raw is None and disk.map(oid.hex() + ".raw") is None  # once: no copy
        for _ in range(RAW_COPY_AFTER - 1):
            reps.note_identity(plan)
        for _ in range(100):
            if plan.raw is not None:
                break
            await anyio.sleep(0.02)
        assert plan.raw is not None
        assert bytes(plan.raw) == LARGE
        assert plan.crc == zlib.crc32(LARGE)  # the copy's inflate proved the stream

    await run_with(repo, disk, check)

    async def reuse(reps: Representations) -> None:
        plan = await reps.plan(oid)
        reps.note_identity(plan)  # the first request of a new process maps the copy
        assert plan.raw is not None and bytes(plan.raw) == LARGE

    await run_with(repo, disk, reuse)



@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
@pytest.mark.parametrize("content", [SMALL, LARGE], ids=["small", "large"])
async def test_a_damaged_cache_entry_is_made_again(tmp_path: Path, content: bytes) -> None:
    repo, (oid,) = make([content], stored=False)
    disk = DiskCache(tmp_path, 1 << 24)

    async def first(reps: Representations) -> None:
        await reps.plan(oid)

    await run_with(repo, disk, first)
    path = disk.root / oid.hex()[:2] / (oid.hex()[2:] + ".zz")
    data = bytearray(path.read_bytes())
    data[10:14] = b"\xff\xff\xff\xff"  # inside the deflate data; the trailer still parses
    path.write_bytes(bytes(data))

    async def again(reps: Representations) -> None:
        plan = await reps.plan(oid)
        if plan.size > SMALL_BLOB:
            # Large: found by the first answer that inflates it (identity), which discards it.
            with pytest.raises(StreamMismatch):
                Inflater(plan.stream, plan.size).read_all()
            reps.discard(plan)
            plan = await reps.plan(oid)
        assert zlib.decompress(plan.stream) == content

    await run_with(repo, disk, again)
    assert repo.iter_calls == 2


@pytest.mark.anyio
async def test_concurrent_first_requests_share_one_job(tmp_path: Path) -> None:
    repo, (delta, whole) = make([LARGE, LARGE + b"x"], stored=False)
    repo.stored[whole] = zlib.compress(repo.contents[whole])
    plans = []

    async def check(reps: Representations) -> None:
        async def one() -> None:
            plan = await reps.plan(delta)
            plans.append(plan)
            await reps.ensure_crc(await reps.plan(whole))

        async with anyio.create_task_group() as tg:
            for _ in range(10):
                tg.start_soon(one)

    await run_with(repo, DiskCache(tmp_path, 1 << 25), check)
    assert repo.iter_calls == 1  # one resolve-and-deflate for ten concurrent first requests
    assert len({id(plan) for plan in plans}) == 1
    crc_files = list(tmp_path.rglob("*.crc"))
    assert len(crc_files) == 1


@pytest.mark.anyio
async def test_plans_start_in_a_thread_while_a_pack_order_is_missing() -> None:
    repo, (first, second) = make([SMALL, LARGE], stored=True)
    repo.unprepared = True  # at start-up, or after git gc wrote a pack without .rev
    async with anyio.create_task_group() as tg:
        reps = Representations(repo, None, anyio.CapacityLimiter(2), tg.start_soon)  # type: ignore[arg-type]
        assert (await reps.plan(first)).content == SMALL
        with anyio.fail_after(10):
            while repo.unprepared:
                await anyio.sleep(0.001)
        await reps.plan(second)
    main = threading.main_thread()
    # First: the engine call that may inflate the blob to find its extent ran off the loop,
    # told not to build the order, and a prepare was started (in a thread, not on the loop);
    # once it had built the orders: on the loop.
    assert [(t is main, build) for t, build in repo.blob_calls] == [(False, False), (True, True)]
    assert len(repo.prepare_threads) == 1 and repo.prepare_threads[0] is not main


@pytest.mark.anyio
async def test_a_blob_replanned_while_its_copy_is_made_still_gets_it(tmp_path: Path) -> None:
    repo, (oid,) = make([LARGE], stored=True)

    async def check(reps: Representations) -> None:
        old = await reps.plan(oid)
        for _ in range(RAW_COPY_AFTER):
            reps.note_identity(old)
        reps.discard(old)  # as if evicted while its copy is being made
        new = await reps.plan(oid)
        for _ in range(RAW_COPY_AFTER):
            reps.note_identity(new)  # joins the running job, or starts one if it ended
        copy = await reps.identity_copy(new)
        assert copy is not None and bytes(copy) == LARGE

    await run_with(repo, DiskCache(tmp_path, 1 << 25), check)


def test_plans_holding_cache_mappings_are_charged_so_descriptors_stay_bounded(
    tmp_path: Path,
) -> None:
    # Each mapping of a cache file keeps a descriptor open: the plans' budget must bound
    # their number, and a made stream kept in memory must count its bytes.
    disk = DiskCache(tmp_path, 1 << 30)
    stream = zlib.compress(b"x" * 100_000)
    oid = blob_id(b"x" * 100_000)
    disk.put(oid.hex() + ".zz", iter([stream]))
    mapped = disk.map(oid.hex() + ".zz")
    assert mapped is not None
    in_pack = BlobPlan(oid, 100_000, memoryview(stream), False, "p0", None)
    in_memory = BlobPlan(oid, 100_000, memoryview(stream), True, "m0", None)
    from_disk = BlobPlan(oid, 100_000, mapped, True, "m0", None)
    assert in_pack.memory() < 1024
    assert in_memory.memory() >= len(stream)
    assert from_disk.memory() >= 16 * 1024
    from_disk.raw = mapped
    assert from_disk.memory() >= 32 * 1024
