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
2. The in-memory order is built once (sorting the idx offsets; git:pack-revindex.h) by
   whoever first needs it, then shared read-only.
3. Malformed input raises ``CorruptIndex`` only.
"""

from __future__ import annotations

import struct
from array import array
from bisect import bisect_right
from typing import Protocol

from app.git.errors import CorruptIndex
from app.git.pack.index import Buffer, PackIndex

RIDX_MAGIC = b"RIDX"
_HEADER = struct.Struct(">4sII")
_U32 = struct.Struct(">I")
_HASH_IDS = {20: 1, 32: 2}


class PackOrder(Protocol):
    """Answers "where does the entry after this one start?"."""

    def next_offset(self, offset: int) -> int:
        """The offset of the entry following the one at ``offset`` (or the trailer)."""
        ...


class SortedOffsets:
    """Pack order built in memory from the idx offsets."""

    __slots__ = ("_offsets", "_end")

    def __init__(self, index: PackIndex, data_end: int) -> None:
        self._offsets = array("Q", sorted(index.offsets()))
        self._end = data_end

    def next_offset(self, offset: int) -> int:
        """See ``PackOrder.next_offset``; ``CorruptIndex`` if ``offset`` is no entry."""
        pos = bisect_right(self._offsets, offset)
        if pos == 0 or self._offsets[pos - 1] != offset:
            raise CorruptIndex(f"offset {offset} is not the start of an indexed entry")
        return self._offsets[pos] if pos < len(self._offsets) else self._end


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
