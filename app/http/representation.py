"""The three representations of a blob — deflate, gzip, identity — and how each is made.

Rules:
- ``deflate`` is a zlib stream (RFC 9110 §8.4.1.2 defines ``deflate`` as RFC 1950 zlib). For
  a blob stored whole in a pack it is the pack's own stream, a zero-copy slice of the mmap;
  it is never inflated and re-compressed. ``gzip`` is the same raw deflate data reframed
  (``gzipframe``). ``identity`` is the content.
- A blob without a usable stored stream (a delta, a loose object, FDICT, or a stored stream
  that failed verification) is resolved once, deflated once in a worker thread and written
  to the on-disk cache as ``<id>.zz``; from then on it is served exactly like a stored one.
- The content's CRC-32 (the gzip trailer) costs one inflate per blob, ever: small blobs are
  inflated inline when first planned; large ones when their first gzip/identity response
  streams. It is kept in the plan and persisted as ``<id>.crc``. That inflate also proves
  the stream is exactly the blob (size, Adler-32, extent), so passthrough is never wrong.
- ``identity`` of a small blob is its content, kept in the plan. A larger blob asked for
  in identity a second time (whole or a Range: CDNs fetch full objects compressed but
  slices in identity) gets an inflated copy on disk, ``<id>.raw``, made once in a worker
  thread and served as slices of its mapping like a stored stream. Identity answers wait
  while it is being made; before that each inflates, as far as it needs. A blob asked for
  once costs no disk.
- ETags are strong and distinct per representation (RFC 9110 §8.8.1, §8.8.3.3): identity's
  is the blob id; a coded one adds a tag that changes whenever the coded bytes could — the
  pack id and offset for a stored stream (a repack makes a new one), the CRC-32 of the
  stream we made for a materialised one.
- Plans live in a loop-owned LRU: a warm request finds its plan with one dict lookup.
  Only unbounded work (materialising, inflating a large blob) runs in a worker thread,
  under the app's own ``CapacityLimiter``; concurrent first requests share one job.
- A blob lookup that would make the engine build a pack order (a pack without ``.rev``,
  at start-up or newly written by ``git gc`` or a push; ``Repository.needs_prepare``)
  never runs on the event loop: the plan starts ``prepare`` in a worker thread (one at a
  time) and looks the blob up in another with ``build_order=False``, where the engine
  finds the stored stream's end by inflating that blob (``app.git.pack.file`` rule 4):
  time in a size this very lookup is the first to learn, so not boundable on the loop.
  Once every pack has its order the lookup is cheap (git:pack-revindex.c
  ``pack_pos_to_offset``) and runs on the loop.
"""

from __future__ import annotations

import hashlib
import logging
import struct
import zlib
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

import anyio
import anyio.to_thread

from app.diskcache import DiskCache
from app.git import GitError, ObjectId
from app.http.gzipframe import Inflater, StreamMismatch, gzip_length, gzip_parts
from app.http.lru import LoopLRU

if TYPE_CHECKING:
    from app.git import Blob, Repository

log = logging.getLogger("packserve.representation")
T = TypeVar("T")

GZIP = "gzip"
DEFLATE = "deflate"
IDENTITY = "identity"
CODINGS: tuple[str, ...] = (GZIP, DEFLATE, IDENTITY)

# Blobs up to this size are inflated inline on the event loop (tens of microseconds) and
# their content kept in memory, so their identity responses need no inflate at all.
SMALL_BLOB = 64 * 1024
# The identity request (whole or Range) on a blob above SMALL_BLOB that makes an inflated
# copy worth keeping on disk: the first may be a one-off, the second says the blob is hot.
RAW_COPY_AFTER = 2
_STEP = 256 * 1024
# Trailer of a ``.zz`` cache file: magic, content CRC-32, stream CRC-32, content size.
_ZZ_TRAILER = struct.Struct("<4sIIQ")
_ZZ_MAGIC = b"PSZ1"
_CRC_RECORD = struct.Struct("<IQ")
# Deflate cannot expand data more than 1032:1 (a 258-byte match per 2-bit code, RFC 1951
# §3.2.5); an entry declaring more content than that is corrupt, and is caught before its
# headers go out instead of halfway through its body.
_MAX_RATIO = 1032
# What a plan holding a mapping of a cache file is charged against the plans' budget. Each
# such mapping keeps an open descriptor (before Python 3.13, mmap keeps a dup of the file's
# descriptor), so the budget must bound how many there are: at the default 64 MiB, 4,096.
_MAPPING_COST = 16 * 1024


@dataclass(eq=False, slots=True)
class BlobPlan:
    """Everything needed to answer for one blob in any coding."""

    oid: ObjectId
    size: int  # identity length, from the object header
    stream: memoryview  # the zlib stream served as deflate and reframed as gzip
    made: bool  # True when we deflated it (not the pack's own stream)
    tag: str  # coded-ETag discriminator
    crc: int | None  # CRC-32 of the content; None until one inflate
    content: bytes | None = None  # the whole content, for small blobs
    raw: memoryview | None = None  # inflated copy on disk, for hot blobs above SMALL_BLOB
    identity_requests: int = 0  # counted until ``raw`` exists
    etags: dict[str, bytes] = field(default_factory=dict)
    etag_texts: dict[str, str] = field(default_factory=dict)
    gzip_body: bytes | None = None  # the whole gzip body, once built (gzip_member)

    def __post_init__(self) -> None:
        hexid = self.oid.hex()
        self.etag_texts = {
            IDENTITY: f'"{hexid}"',
            DEFLATE: f'"{hexid}.z.{self.tag}"',
            GZIP: f'"{hexid}.gz.{self.tag}"',
        }
        self.etags = {coding: tag.encode() for coding, tag in self.etag_texts.items()}

    def memory(self) -> int:
        """What this plan costs the plans' budget: heap bytes, plus a fixed charge per
        mapped cache file (pack slices share the pack's mapping and cost nothing)."""
        cost = (
            512
            + (len(self.content) if self.content is not None else 0)
            + (len(self.gzip_body) if self.gzip_body is not None else 0)
        )
        if self.made:
            # A stream we made is a mapping of its cache file, or plain bytes when the disk
            # cache could not take it.
            cost += len(self.stream) if isinstance(self.stream.obj, bytes) else _MAPPING_COST
        if self.raw is not None:
            cost += _MAPPING_COST
        return cost

    def length(self, coding: str) -> int:
        """Length in bytes of the body in ``coding``."""
        if coding == IDENTITY:
            return self.size
        if coding == DEFLATE:
            return len(self.stream)
        return gzip_length(len(self.stream))


def _stored_tag(pack_id: str, offset: int) -> str:
    return "p" + hashlib.blake2b(f"{pack_id}:{offset}".encode(), digest_size=5).hexdigest()


class Representations:
    """Makes, verifies and remembers ``BlobPlan``s; owned by one app instance."""

    def __init__(
        self,
        repo: Repository,
        disk: DiskCache | None,
        limiter: anyio.CapacityLimiter,
        spawn: Callable[[Callable[[], Awaitable[None]]], None],
        *,
        memory_bytes: int = 64 << 20,
    ) -> None:
        self.repo = repo
        self._preparing = False  # a prepare job is running (module rules)
        self.disk = disk
        self.limiter = limiter
        self._spawn = spawn
        self._plans: LoopLRU[ObjectId, BlobPlan] = LoopLRU(memory_bytes)
        self._jobs: dict[tuple[ObjectId, str], anyio.Event] = {}
        # Blobs whose stored stream failed verification: always re-made from the engine.
        self._bad_streams: set[ObjectId] = set()

    def cached(self, oid: ObjectId) -> BlobPlan | None:
        """The plan if already made (the warm path: one dict lookup)."""
        return self._plans.get(oid)

    async def plan(self, oid: ObjectId) -> BlobPlan:
        """The plan for blob ``oid``, made on first use."""
        plan = self._plans.get(oid)
        while plan is None:
            event = self._jobs.get((oid, "plan"))
            if event is not None:
                await event.wait()
                plan = self._plans.get(oid)
                continue
            event = self._jobs[(oid, "plan")] = anyio.Event()
            try:
                plan = await self._make(oid)
                self._remember(plan)
            finally:
                del self._jobs[(oid, "plan")]
                event.set()
        return plan

    def _remember(self, plan: BlobPlan) -> None:
        self._plans.put(plan.oid, plan, plan.memory())

    def gzip_member(self, plan: BlobPlan) -> bytes:
        """The whole gzip body as one ``bytes`` (CRC-32 known), kept with the plan.

        For bodies sent in one message: three messages (header, data, trailer) would make
        uvicorn wait for the socket to drain before the trailer. The copy is made once and
        counted against the plans' memory budget.
        """
        member = plan.gzip_body
        if member is None:
            if plan.crc is None:
                raise ValueError("gzip_member() needs the CRC-32")
            member = plan.gzip_body = b"".join(gzip_parts(plan.stream, plan.crc, plan.size))
            self._recount(plan)
        return member

    def _recount(self, plan: BlobPlan) -> None:
        """Charge a remembered plan again after it grew (a gzip body, an inflated copy)."""
        if self._plans.get(plan.oid) is plan:
            self._remember(plan)

    async def _thread(self, fn: Callable[[], T]) -> T:
        return await anyio.to_thread.run_sync(fn, limiter=self.limiter)

    def prepare(self) -> None:
        """Have the engine build missing pack orders in a worker thread, unless it is doing
        so already (start-up calls this; so does a plan that finds a new pack)."""
        if self._preparing:
            return
        self._preparing = True

        async def job() -> None:
            try:
                await self._thread(self.repo.prepare)
            finally:
                self._preparing = False

        self._spawn(job)

    async def _make(self, oid: ObjectId) -> BlobPlan:
        if self.repo.needs_prepare():
            # The engine may have to inflate the blob (of a size not known yet) to find its
            # stored stream's end, or build a pack order: not on the loop (module rules).
            self.prepare()
            blob = await self._thread(lambda: self.repo.blob(oid, build_order=False))
        else:
            blob = self.repo.blob(oid)
        stored = blob.stored
        if stored is not None and blob.size > _MAX_RATIO * len(stored.data) + 64:
            log.error("blob %s: %d bytes cannot inflate to the declared %d", oid.hex(),
                      len(stored.data), blob.size)
            self._bad_streams.add(oid)
        if stored is not None and oid not in self._bad_streams:
            plan = BlobPlan(
                oid, blob.size, stored.data, False, _stored_tag(stored.pack_id, stored.offset), None
            )
            if blob.size > SMALL_BLOB:
                plan.crc = self._read_crc(oid, blob.size)
                return plan
            try:
                inflater = Inflater(stored.data, blob.size)
                plan.content = inflater.read_all()
                plan.crc = inflater.crc
                return plan
            except StreamMismatch as exc:
                log.warning("blob %s: stored stream unusable (%s); re-deflating", oid.hex(), exc)
        return await self._materialise(blob)

    def _read_crc(self, oid: ObjectId, size: int) -> int | None:
        if self.disk is None:
            return None
        record = self.disk.read(oid.hex() + ".crc", _CRC_RECORD.size)
        if record is None or len(record) != _CRC_RECORD.size:
            return None
        crc, recorded_size = _CRC_RECORD.unpack(record)
        return crc if recorded_size == size else None

    async def _materialise(self, blob: Blob) -> BlobPlan:
        plan = self._load_made(blob.oid, blob.size)
        if plan is not None and plan.size <= SMALL_BLOB:
            try:
                plan.content = Inflater(plan.stream, plan.size).read_all()
            except StreamMismatch:
                self.discard(plan)  # a damaged cache entry: make it again
                plan = None
        if plan is None:
            plan = await self._thread(lambda: self._make_stream(blob.oid, blob.size))
            if plan.size <= SMALL_BLOB:
                plan.content = Inflater(plan.stream, plan.size).read_all()
        return plan

    def _load_made(self, oid: ObjectId, size: int) -> BlobPlan | None:
        view = self.disk.map(oid.hex() + ".zz") if self.disk is not None else None
        if view is None or len(view) < _ZZ_TRAILER.size:
            return None
        magic, crc, stream_crc, recorded = _ZZ_TRAILER.unpack(view[-_ZZ_TRAILER.size :])
        if magic != _ZZ_MAGIC or recorded != size:
            return None
        return BlobPlan(oid, size, view[: -_ZZ_TRAILER.size], True, f"m{stream_crc:08x}", crc)

    def _make_stream(self, oid: ObjectId, size: int) -> BlobPlan:
        """Worker thread: resolve the blob, deflate it once, keep it on disk."""
        state: dict[str, int] = {}

        def deflated() -> Iterator[bytes]:
            state.update(crc=0, stream_crc=0, size=0)
            compressor = zlib.compressobj(6)
            for chunk in self.repo.iter_blob(oid, _STEP):
                state["crc"] = zlib.crc32(chunk, state["crc"])
                state["size"] += len(chunk)
                if out := compressor.compress(chunk):
                    state["stream_crc"] = zlib.crc32(out, state["stream_crc"])
                    yield out
            if state["size"] != size:
                # The object header and the content disagree: never let a Content-Length
                # computed from one describe the other.
                raise StreamMismatch(f"blob {oid.hex()}: {state['size']} bytes, header {size}")
            out = compressor.flush()
            state["stream_crc"] = zlib.crc32(out, state["stream_crc"])
            yield out
            yield _ZZ_TRAILER.pack(_ZZ_MAGIC, state["crc"], state["stream_crc"], state["size"])

        if self.disk is not None:
            try:
                self.disk.put(oid.hex() + ".zz", deflated())
            except OSError as exc:
                log.warning("disk cache unwritable (%s); keeping blob %s in memory", exc, oid)
            else:
                plan = self._load_made(oid, size)
                if plan is not None:
                    return plan
        data = b"".join(deflated())[: -_ZZ_TRAILER.size]
        tag = f"m{state['stream_crc']:08x}"
        return BlobPlan(oid, size, memoryview(data), True, tag, state["crc"])

    async def ensure_crc(self, plan: BlobPlan) -> int:
        """The content CRC-32, inflating the stream once (in a thread) if not yet known.

        Raises ``StreamMismatch`` when the stream is not exactly the blob; the plan is then
        forgotten, so the next request re-plans (and re-deflates) it.
        """
        key = (plan.oid, "crc")
        while plan.crc is None:
            event = self._jobs.get(key)
            if event is not None:
                await event.wait()
                if plan.crc is None and self._plans.get(plan.oid) is not plan:
                    raise StreamMismatch(f"blob {plan.oid.hex()}: stream failed verification")
                continue
            event = self._jobs[key] = anyio.Event()
            try:
                crc = await self._thread(lambda: self._verify(plan))
            except StreamMismatch:
                self.discard(plan)
                raise
            finally:
                del self._jobs[key]
                event.set()
            self.record_crc(plan, crc)
        return plan.crc

    def prepare_crc(self, plan: BlobPlan) -> None:
        """Start computing the CRC-32 in the background, while a gzip body streams.

        The response awaits the same job (``ensure_crc``) only when it reaches the trailer,
        so the inflate runs in parallel with sending the deflate data.
        """

        async def job() -> None:
            try:
                await self.ensure_crc(plan)
            except (StreamMismatch, GitError):
                pass  # logged by discard(); the waiting response fails on its own

        self._spawn(job)

    @staticmethod
    def _verify(plan: BlobPlan) -> int:
        inflater = Inflater(plan.stream, plan.size)
        while inflater.read(1 << 20):
            pass
        return inflater.crc

    def record_crc(self, plan: BlobPlan, crc: int) -> None:
        """Keep a CRC-32 proven by a complete inflate: in the plan now, on disk in the
        background (an fsync'd write must not delay the answer that computed it)."""
        if plan.crc is not None:
            return
        plan.crc = crc
        disk = self.disk
        if disk is None or plan.made:  # a made stream's trailer already holds its CRC-32
            return
        record = _CRC_RECORD.pack(crc, plan.size)

        async def persist() -> None:
            try:
                await self._thread(lambda: disk.put(plan.oid.hex() + ".crc", [record]))
            except OSError as exc:
                log.warning("disk cache unwritable: %s", exc)

        self._spawn(persist)

    def discard(self, plan: BlobPlan) -> None:
        """Forget a plan whose stream proved bad (logged: the pack may be corrupt)."""
        log.error("blob %s: stream failed verification; will re-deflate", plan.oid.hex())
        if not plan.made:
            self._bad_streams.add(plan.oid)
        elif self.disk is not None:
            self.disk.remove(plan.oid.hex() + ".zz")
        if self._plans.get(plan.oid) is plan:
            self._plans.pop(plan.oid)

    def note_identity(self, plan: BlobPlan) -> None:
        """Count an identity GET (whole or Range) of a blob not kept in memory; the first
        maps an inflated copy made earlier (by this process or another worker), the second
        starts making one.

        Until the copy exists an identity answer costs an inflate up to its last byte;
        afterwards, a slice of the mapping.
        """
        if plan.raw is not None or plan.content is not None or self.disk is None:
            return
        plan.identity_requests += 1
        if plan.identity_requests == 1:
            plan.raw = self._map_raw(plan)
            self._recount(plan)
        elif plan.identity_requests == RAW_COPY_AFTER and (plan.oid, "raw") not in self._jobs:
            # Registered now, not when the job first runs, so this very request waits for it.
            event = self._jobs[(plan.oid, "raw")] = anyio.Event()
            self._spawn(lambda: self._make_raw(plan, event))

    async def identity_copy(self, plan: BlobPlan) -> memoryview | None:
        """The inflated copy, waiting for it if it is being made right now.

        While a copy is made, identity answers wait for it rather than each inflating the
        blob again: one inflate instead of one per concurrent download, and memory per
        answer stays a slice of a mapping (measured: 100 concurrent 50 MB downloads held
        ~50 MB of inflated chunks without the wait).
        """
        event = self._jobs.get((plan.oid, "raw"))
        if event is not None:
            await event.wait()
            if plan.raw is None:
                # The job was making it for an earlier plan of this blob (evicted since).
                plan.raw = self._map_raw(plan)
                self._recount(plan)
        return plan.raw

    def _map_raw(self, plan: BlobPlan) -> memoryview | None:
        view = self.disk.map(plan.oid.hex() + ".raw") if self.disk is not None else None
        # Content-addressed and written atomically, so only its length can be wrong (a
        # foreign file): a copy of another length is ignored and made again.
        return view if view is not None and len(view) == plan.size else None

    async def _make_raw(self, plan: BlobPlan, event: anyio.Event) -> None:
        try:
            await self._write_raw(plan)
        finally:
            del self._jobs[(plan.oid, "raw")]
            event.set()

    async def _write_raw(self, plan: BlobPlan) -> None:
        disk = self.disk
        if disk is None:
            return
        inflater = Inflater(plan.stream, plan.size)

        def write() -> memoryview | None:
            # Inflater.read returns b"" only once the stream is proven to be the blob, so
            # a copy that reaches the rename is the whole, verified content.
            disk.put(plan.oid.hex() + ".raw", iter(lambda: inflater.read(_STEP), b""))
            return self._map_raw(plan)

        try:
            plan.raw = await self._thread(write)
            self._recount(plan)
        except StreamMismatch:
            self.discard(plan)  # the next request re-plans from the engine
            return
        except OSError as exc:
            log.warning("blob %s: no inflated copy (%s)", plan.oid.hex(), exc)
            return
        self.record_crc(plan, inflater.crc)
