"""Delta chain resolution across packs and loose objects: iterative, bounded, cycle-safe.

Model: git:packfile.c ``unpack_entry`` — walk down the chain with an explicit stack until a
whole object (or a cached base) is found, inflate it, then apply the deltas upwards, caching
each intermediate base keyed by (pack checksum, offset) as ``add_delta_base_cache`` does.

Rules:
1. No recursion: the walk is a loop, capped at ``max_depth`` links (git writes at most
   ``pack.depth`` = 4095, git:Documentation/config/pack.txt; other writers may go deeper).
2. Every visited (pack, offset) goes into a set: a REF_DELTA pair that names each other, or
   an OFS distance that points back into the chain, is a ``DeltaError``, never a loop
   (dulwich#1326, #2299; git:t/t5309-pack-delta-cycles.sh).
3. A REF_DELTA base is looked up in the same pack first (it may sit *later* in the pack
   after ``index-pack --fix-thin``), then wherever the ``BaseLookup`` finds it (another
   pack, a loose object, an alternate).
4. Sizes are capped before inflating or applying (``max_size``: everything built in memory).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, TypeVar

from app.git.delta import apply_delta, delta_header
from app.git.errors import CorruptPack, DeltaError
from app.git.lru import Cache, NullCache
from app.git.objtype import OBJECT_TYPES, OFS_DELTA
from app.git.pack.entry import PackEntry
from app.git.pack.file import PackFile

DEFAULT_MAX_DEPTH = 10000
# Two size varints of at most 10 bytes each.
_DELTA_HEADER_MAX = 20

CacheKey = tuple[bytes, int]
Resolved = tuple[int, bytes]
T = TypeVar("T")


class BaseLookup(Protocol):
    """Finds a REF_DELTA base outside the pack that refers to it."""

    def locate_packed(self, oid: bytes) -> tuple[PackFile, int] | None:
        """A (pack, offset) holding ``oid``, or ``None``."""
        ...

    def read_unpacked(self, oid: bytes) -> Resolved | None:
        """``(type, content)`` of ``oid`` stored outside packs (loose), or ``None``."""
        ...

    def header_unpacked(self, oid: bytes) -> tuple[int, int] | None:
        """``(type, size)`` of ``oid`` stored outside packs, or ``None``."""
        ...


class _Link:
    __slots__ = ("pack", "entry")

    def __init__(self, pack: PackFile, entry: PackEntry) -> None:
        self.pack = pack
        self.entry = entry


def _base_of(pack: PackFile, entry: PackEntry, lookup: BaseLookup) -> tuple[PackFile, int] | None:
    """Where ``entry``'s base lives in a pack; ``None`` if it is only available unpacked."""
    if entry.type == OFS_DELTA and entry.base_offset is not None:
        return pack, entry.base_offset
    oid = entry.base_oid or b""
    same = pack.find(oid)
    if same >= 0:
        return pack, same
    return lookup.locate_packed(oid)


def _unpacked_base(pack: PackFile, entry: PackEntry, fetch: Callable[[bytes], T | None]) -> T:
    """``entry``'s base as ``fetch`` finds it outside the packs; ``DeltaError`` if absent."""
    oid = entry.base_oid or b""
    found = fetch(oid)
    if found is None:
        raise DeltaError(f"{pack.name}@{entry.offset}: delta base {oid.hex()} is missing")
    return found


def _visit(seen: set[CacheKey], pack: PackFile, offset: int) -> CacheKey:
    """Record (pack, offset) as part of the chain being walked (rule 2)."""
    key = (pack.checksum, offset)
    if key in seen:
        raise DeltaError(f"{pack.name}@{offset}: delta chain loops back on itself")
    seen.add(key)
    return key


def resolve(
    pack: PackFile,
    offset: int,
    lookup: BaseLookup,
    *,
    cache: Cache[CacheKey, Resolved] | None = None,
    max_size: int,
    max_depth: int = DEFAULT_MAX_DEPTH,
) -> Resolved:
    """``(type, content)`` of the entry at ``offset`` of ``pack``, deltas applied."""
    base_cache: Cache[CacheKey, Resolved] = cache if cache is not None else NullCache()
    chain: list[_Link] = []
    seen: set[CacheKey] = set()
    cur_pack, cur_offset = pack, offset
    while True:
        key = _visit(seen, cur_pack, cur_offset)
        if chain:
            hit = base_cache.get(key)
            if hit is not None:
                kind, data = hit
                break
        entry = cur_pack.entry(cur_offset)
        if entry.type in OBJECT_TYPES:
            kind, data = entry.type, cur_pack.inflate(entry, max_size)
            if chain:
                base_cache.put(key, (kind, data), len(data))
            break
        chain.append(_Link(cur_pack, entry))
        if len(chain) > max_depth:
            raise DeltaError(f"{pack.name}@{offset}: delta chain deeper than {max_depth}")
        located = _base_of(cur_pack, entry, lookup)
        if located is None:
            kind, data = _unpacked_base(cur_pack, entry, lookup.read_unpacked)
            break
        cur_pack, cur_offset = located
    # Apply the deltas from the base upwards; cache every intermediate result, which is the
    # base of the next link (and of its siblings in other chains).
    for depth in range(len(chain) - 1, -1, -1):
        link = chain[depth]
        delta = link.pack.inflate(link.entry, max_size)
        data = apply_delta(data, delta, max_size)
        if depth:
            base_cache.put((link.pack.checksum, link.entry.offset), (kind, data), len(data))
    return kind, data


def delta_result_size(pack: PackFile, entry: PackEntry) -> int:
    """The result size a delta entry declares, inflating only its first bytes."""
    head = pack.inflate_head(entry, _DELTA_HEADER_MAX)
    return delta_header(head)[1]


def header(
    pack: PackFile,
    offset: int,
    lookup: BaseLookup,
    *,
    max_size: int,
    max_stream_size: int | None = None,
    max_depth: int = DEFAULT_MAX_DEPTH,
) -> tuple[int, int]:
    """``(type, size)`` of the entry at ``offset``: for a delta, the type of its chain's base
    and the result size from the delta's own header; only entry headers are walked. A size
    the reader would refuse is refused here too, so no caller plans a response around it:
    over ``max_size`` for a delta (its result must be built in memory), over
    ``max_stream_size`` (default: ``max_size``) for a whole object (it can be streamed)."""
    entry = pack.entry(offset)
    if entry.type in OBJECT_TYPES:
        if entry.size > (max_size if max_stream_size is None else max_stream_size):
            raise CorruptPack(f"{pack.name}@{offset}: declared size {entry.size} exceeds the cap")
        return entry.type, entry.size
    size = delta_result_size(pack, entry)
    if size > max_size:
        raise DeltaError(f"{pack.name}@{offset}: delta result size {size} exceeds the cap")
    seen: set[CacheKey] = {(pack.checksum, offset)}
    cur_pack, cur = pack, entry
    for _ in range(max_depth):
        located = _base_of(cur_pack, cur, lookup)
        if located is None:
            return _unpacked_base(cur_pack, cur, lookup.header_unpacked)[0], size
        cur_pack, base_offset = located
        _visit(seen, cur_pack, base_offset)
        cur = cur_pack.entry(base_offset)
        if cur.type in OBJECT_TYPES:
            return cur.type, size
    raise DeltaError(f"{pack.name}@{offset}: delta chain deeper than {max_depth}")
