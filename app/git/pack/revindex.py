"""Pack order: the offset of the entry that follows a given entry, from ``.rev`` or built.

The compressed length of an entry is ``next_offset - offset`` (git:pack-revindex.c
``pack_pos_to_offset``); the last entry ends at ``pack_size - hash_len``.

``.rev`` layout (gitformat-pack, "pack-*.rev files"): ``RIDX``, u32 version 1, u32 hash id
(1 SHA-1, 2 SHA-256), n x u32 idx positions in pack-offset order, pack checksum, own checksum.

Rules:
1. A ``.rev`` is checked only for header, size and pack checksum when loaded (O(1)); its
   entries are checked as they are used (position in range, offsets increasing at the point
   looked up). If it does not load, the order is built in memory instead, exactly like
   git:pack-revindex.c ``load_pack_revindex`` falls back to ``create_pack_revindex_in_memory``.
2. The in-memory order is the idx offsets sorted (git:pack-revindex.c
   ``create_pack_revindex_in_memory``), built once by whoever first needs it, then shared
   read-only.
3. Building it holds the GIL only briefly at a time, however many objects the pack has
   (it runs in a worker thread beside a server's event loop): the offsets are read in
   batches and spread over buckets by value range in Python, and only small buckets are
   sorted by one C call — a bucket still too large is spread again over a narrower range,
   so a skewed or hostile idx costs more passes but never one long call. Between steps
   (a batch, a bucket) the GIL is released outright, so a waiting thread gets it within a
   fraction of a millisecond instead of the 5 ms switch interval. Buckets are ``array``s,
   which the cyclic garbage collector does not traverse. (Git avoids one big comparison
   sort here too: git:pack-revindex.c ``sort_revindex`` is a radix sort.)
4. Malformed input raises ``CorruptIndex`` only.
"""

from __future__ import annotations

import os
import struct
from array import array
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from itertools import chain
from typing import Protocol

from app.git.errors import CorruptIndex
from app.git.pack.index import Buffer, PackIndex

RIDX_MAGIC = b"RIDX"
_HEADER = struct.Struct(">4sII")
_U32 = struct.Struct(">I")
_HASH_IDS = {20: 1, 32: 2}
# Entries per bucket aimed at when spreading offsets: sorting that many takes microseconds.
_BUCKET = 256
# A bucket up to this size is sorted by one C call (about a millisecond); a larger one is
# spread again.
_SORT_AT_ONCE = 8192


class PackOrder(Protocol):
    """Answers "where does the entry after this one start?"."""

    def next_offset(self, offset: int) -> int:
        """The offset of the entry following the one at ``offset`` (or the trailer)."""
        ...


class SortedOffsets:
    """Pack order built in memory from the idx offsets."""

    __slots__ = ("_offsets", "_end")

    def __init__(self, index: PackIndex, data_end: int) -> None:
        self._offsets = sort_offsets(index.offset_batches())
        self._end = data_end

    def next_offset(self, offset: int) -> int:
        """See ``PackOrder.next_offset``; ``CorruptIndex`` if ``offset`` is no entry."""
        pos = bisect_right(self._offsets, offset)
        if pos == 0 or self._offsets[pos - 1] != offset:
            raise CorruptIndex(f"offset {offset} is not the start of an indexed entry")
        return self._offsets[pos] if pos < len(self._offsets) else self._end


def sort_offsets(batches: Iterable[Sequence[int]]) -> array[int]:
    """All values of ``batches`` (unsigned 64-bit) in ascending order; see rule 3."""
    out: array[int] = array("Q")
    parts: list[Sequence[int]] = []
    for batch in batches:
        if batch:
            parts.append(batch)
        _let_others_run()
    if not parts:
        return out
    # One C call per batch, not one over all of them (nested C calls never yield the GIL).
    low = min([min(part) for part in parts])
    high = max([max(part) for part in parts])
    # Groups still to place, as (value lists, lowest possible value, highest possible value),
    # the next group (lowest values) last. Bounds come from the bucket a group was, so no
    # pass over a large list is needed to find them. Lists are dropped as soon as they are
    # placed: freeing a million values at once would hold the GIL as long as a sort.
    pending = [(parts, low, high)]
    del parts
    while pending:
        _let_others_run()
        group, low, high = pending.pop()
        count = sum(map(len, group))
        if low == high:
            out.extend(array("Q", [low]) * count)
            continue
        if count <= _SORT_AT_ONCE:
            out.extend(sorted(chain.from_iterable(group)))
            continue
        # 2**shift is the width of a bucket's value range: at least two buckets, about one
        # per _BUCKET values, so each spans a narrower range than the group and splitting
        # ends (at worst with buckets of one value each).
        shift = ((high - low) // max(2, count // _BUCKET)).bit_length()
        pending.extend(_spread(group, low, high, shift))
    return out


def _spread(
    group: list[Sequence[int]], low: int, high: int, shift: int
) -> list[tuple[list[Sequence[int]], int, int]]:
    """Move the values of ``group`` (emptied) into buckets ``2**shift`` values wide from
    ``low``; the non-empty ones, as groups for ``sort_offsets``, highest values first."""
    buckets: list[array[int]] = [array("Q") for _ in range(((high - low) >> shift) + 1)]
    put = [bucket.append for bucket in buckets]
    while group:
        for value in group.pop():
            put[(value - low) >> shift](value)
        _let_others_run()
    width = 1 << shift
    return [
        ([bucket], low + at * width, min(high, low + (at + 1) * width - 1))
        for at, bucket in reversed(list(enumerate(buckets)))
        if bucket
    ]


def _let_others_run() -> None:
    # sched_yield releases the GIL and offers the CPU to a runnable thread, so one waiting
    # for the GIL (the event loop, a request) gets it now rather than after the switch
    # interval (5 ms by default). It costs about a microsecond; time.sleep(0) would do the
    # same for ~70 (timer slack): 0.2 s more on a million-object pack.
    os.sched_yield()


class RevIndex:
    """An on-disk ``.rev`` file, read on demand."""

    __slots__ = ("_buf", "_index", "_end", "count", "name")

    def __init__(self, buf: Buffer, index: PackIndex, data_end: int, name: str = "<rev>") -> None:
        hash_len = index.hash_len
        expected = _HEADER.size + 4 * index.count + 2 * hash_len
        if len(buf) != expected:
            raise CorruptIndex(f"{name}: reverse index is {len(buf)} bytes, expected {expected}")
        magic, version, hash_id = _HEADER.unpack(buf[: _HEADER.size])
        if magic != RIDX_MAGIC:
            raise CorruptIndex(f"{name}: bad reverse index signature")
        if version != 1:
            raise CorruptIndex(f"{name}: reverse index version {version} is not supported")
        if hash_id != _HASH_IDS[hash_len]:
            raise CorruptIndex(f"{name}: reverse index hash id {hash_id} does not match")
        trailer = len(buf) - 2 * hash_len
        if buf[trailer : trailer + hash_len] != index.pack_checksum:
            raise CorruptIndex(f"{name}: reverse index belongs to another pack")
        self._buf = buf
        self._index = index
        self._end = data_end
        self.count = index.count
        self.name = name

    @classmethod
    def from_bytes(
        cls, buf: Buffer, index: PackIndex, data_end: int, name: str = "<rev>"
    ) -> RevIndex:
        """Check a ``.rev`` held in memory against its ``index``."""
        return cls(buf, index, data_end, name)

    def _offset(self, pack_pos: int) -> int:
        at = _HEADER.size + 4 * pack_pos
        idx_pos = _U32.unpack(self._buf[at : at + 4])[0]
        if idx_pos >= self.count:
            raise CorruptIndex(f"{self.name}: entry {pack_pos} names idx position {idx_pos}")
        return self._index.offset_at(idx_pos)

    def next_offset(self, offset: int) -> int:
        """See ``PackOrder.next_offset``; ``CorruptIndex`` if the file disagrees with the idx."""
        lo, hi = 0, self.count
        while lo < hi:
            mid = (lo + hi) // 2
            if self._offset(mid) <= offset:
                lo = mid + 1
            else:
                hi = mid
        if lo == 0 or self._offset(lo - 1) != offset:
            raise CorruptIndex(f"{self.name}: offset {offset} not found in pack order")
        return self._offset(lo) if lo < self.count else self._end
