"""Pack index (``.idx``) v1 and v2: object id -> offset in the ``.pack``, over a buffer.

Layout (gitformat-pack, "pack-*.idx files have the following format"):

- v1: 256 x u32 fan-out, then n x (u32 offset, id), then pack checksum and idx checksum.
- v2: ``\\377tOc``, u32 version 2, 256 x u32 fan-out, n ids, n x u32 CRC-32, n x u32
  offsets (MSB set: index into the u64 large-offset table that follows), then the same
  trailer. SHA-256 repositories use the same v2 layout with 32-byte ids (gitformat-pack,
  hash-function-transition).

Rules:
1. Opening costs O(1) in the object count: the size check and the 256-entry fan-out only,
   as git:packfile.c ``load_idx`` does. Ids and offsets are read on demand from the buffer.
2. The size checks are git's: v1 exactly ``1024 + n(4+H) + 2H``; v2 between the minimum and
   the minimum plus ``8(n-1)`` bytes of large offsets. A decreasing fan-out is rejected.
3. The large-offset MSB is honoured for every offset, even small ones
   (``git index-pack --index-version=2,<ofs>``, git:t/t5302-pack-index.sh).
4. Lookups are a fan-out range plus binary search (gix-pack ``index/access.rs``), started
   by one interpolated probe pair since ids are uniformly distributed hashes.
5. Malformed input raises ``CorruptIndex`` only.
"""

from __future__ import annotations

import mmap
import os
import struct
import sys
from array import array
from collections.abc import Iterator
from math import isqrt
from pathlib import Path

from app.git.errors import CorruptIndex

V2_MAGIC = b"\xfftOc"
_FANOUT_BYTES = 256 * 4
_FANOUT = struct.Struct(">256I")
_U32 = struct.Struct(">I")
_U64 = struct.Struct(">Q")
# Offsets decoded per batch by ``offset_batches``: converting this many takes well under a
# millisecond, a short enough hold of the GIL.
_OFFSET_BATCH = 16384

Buffer = bytes | mmap.mmap


def map_file(path: str | os.PathLike[str], error: type[Exception], what: str) -> Buffer:
    """Map ``path`` read-only (an empty file becomes ``b""``: mmap refuses length 0).

    The descriptor is closed at once; the mapping lives until its last reference goes.
    """
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        if size == 0:
            return b""
        try:
            return mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        except (OSError, ValueError) as exc:
            raise error(f"{what} {os.fspath(path)}: cannot map: {exc}") from exc


class PackIndex:
    """A parsed-on-demand ``.idx`` file."""

    __slots__ = (
        "_buf",
        "hash_len",
        "version",
        "count",
        "_fanout",
        "_oid_base",
        "_oid_stride",
        "_crc_base",
        "_off_base",
        "_large_base",
        "_large_count",
        "pack_checksum",
        "name",
    )

    def __init__(self, buf: Buffer, hash_len: int, name: str = "<idx>") -> None:
        if hash_len not in (20, 32):
            raise ValueError(f"unsupported hash length {hash_len}")
        self._buf = buf
        self.hash_len = hash_len
        self.name = name
        size = len(buf)
        if size >= 8 and buf[:4] == V2_MAGIC:
            self.version = int(_U32.unpack(buf[4:8])[0])
            if self.version != 2:
                # git:packfile.c load_idx: "index file %s is version %u and is not supported"
                raise CorruptIndex(f"{name}: index version {self.version} is not supported")
            fan_at = 8
        else:
            self.version = 1
            fan_at = 0
        if size < fan_at + _FANOUT_BYTES + 2 * hash_len:
            raise CorruptIndex(f"{name}: index file is too small ({size} bytes)")
        fanout = _FANOUT.unpack(buf[fan_at : fan_at + _FANOUT_BYTES])
        prev = 0
        for value in fanout:
            if value < prev:
                raise CorruptIndex(f"{name}: non-monotonic fan-out table")
            prev = value
        count = int(fanout[255])
        self._fanout = fanout
        self.count = count
        table = fan_at + _FANOUT_BYTES
        if self.version == 1:
            self._oid_stride = 4 + hash_len
            self._oid_base = table + 4
            self._off_base = table
            self._crc_base = -1
            expected = table + count * (4 + hash_len) + 2 * hash_len
            if size != expected:
                raise CorruptIndex(f"{name}: v1 index is {size} bytes, expected {expected}")
            self._large_base = expected
            self._large_count = 0
        else:
            self._oid_stride = hash_len
            self._oid_base = table
            self._crc_base = table + count * hash_len
            self._off_base = self._crc_base + count * 4
            self._large_base = self._off_base + count * 4
            minimum = self._large_base + 2 * hash_len
            maximum = minimum + (8 * (count - 1) if count else 0)
            if not minimum <= size <= maximum:
                raise CorruptIndex(
                    f"{name}: v2 index is {size} bytes, expected {minimum}..{maximum}"
                )
            self._large_count = (size - minimum) // 8
        trailer = size - 2 * hash_len
        self.pack_checksum = bytes(buf[trailer : trailer + hash_len])

    @classmethod
    def from_bytes(cls, buf: Buffer, hash_len: int, name: str = "<idx>") -> PackIndex:
        """Parse an index held in memory (``bytes`` or an mmap)."""
        return cls(buf, hash_len, name)

    @classmethod
    def open(cls, path: str | os.PathLike[str], hash_len: int) -> PackIndex:
        """Map and check the index file at ``path``."""
        return cls(map_file(path, CorruptIndex, "index"), hash_len, os.fspath(Path(path).name))

    def __len__(self) -> int:
        return self.count

    def oid_at(self, pos: int) -> bytes:
        """The id at sorted position ``pos`` (0 <= pos < count)."""
        if not 0 <= pos < self.count:
            raise CorruptIndex(f"{self.name}: position {pos} out of range")
        start = self._oid_base + pos * self._oid_stride
        return bytes(self._buf[start : start + self.hash_len])

    def offset_at(self, pos: int) -> int:
        """The pack offset of the object at sorted position ``pos``."""
        if not 0 <= pos < self.count:
            raise CorruptIndex(f"{self.name}: position {pos} out of range")
        if self.version == 1:
            at = self._off_base + pos * self._oid_stride
            return int(_U32.unpack(self._buf[at : at + 4])[0])
        at = self._off_base + pos * 4
        value = int(_U32.unpack(self._buf[at : at + 4])[0])
        if not value & 0x80000000:
            return value
        large = value & 0x7FFFFFFF
        if large >= self._large_count:
            raise CorruptIndex(f"{self.name}: large offset #{large} is outside the table")
        at = self._large_base + large * 8
        return int(_U64.unpack(self._buf[at : at + 8])[0])

    def crc32_at(self, pos: int) -> int | None:
        """The CRC-32 of the raw entry at ``pos`` (v2 only; ``None`` for v1)."""
        if self.version == 1:
            return None
        if not 0 <= pos < self.count:
            raise CorruptIndex(f"{self.name}: position {pos} out of range")
        at = self._crc_base + pos * 4
        return int(_U32.unpack(self._buf[at : at + 4])[0])

    def _range(self, first_byte: int) -> tuple[int, int]:
        lo = self._fanout[first_byte - 1] if first_byte else 0
        return lo, self._fanout[first_byte]

    def _lower_bound(self, key: bytes, lo: int, hi: int) -> int:
        buf = self._buf
        base = self._oid_base
        stride = self._oid_stride
        klen = len(key)
        count = hi - lo
        if count > 64 and klen >= 4:
            # Ids are uniformly distributed hashes, so bytes 1-3 of the key predict its rank
            # inside the fan-out bucket to within ~sqrt(n)/2. Probe both ends of a window
            # around the guess; each probe narrows the range only when it is conclusive, so
            # a crafted index merely falls back to plain bisection.
            guess = lo + ((int.from_bytes(key[1:4], "big") * count) >> 24)
            width = isqrt(count) + 4
            left, right = guess - width, guess + width
            if left > lo:
                at = base + left * stride
                if buf[at : at + klen] < key:
                    lo = left + 1
            if right < hi:
                at = base + right * stride
                if buf[at : at + klen] >= key:
                    hi = right
        while lo < hi:
            mid = (lo + hi) // 2
            at = base + mid * stride
            if buf[at : at + klen] < key:
                lo = mid + 1
            else:
                hi = mid
        return lo

    def find(self, oid: bytes) -> int:
        """Return the sorted position of ``oid`` (the first, if listed twice), or -1."""
        if len(oid) != self.hash_len:
            return -1
        lo, hi = self._range(oid[0])
        pos = self._lower_bound(oid, lo, hi)
        if pos < hi:
            at = self._oid_base + pos * self._oid_stride
            if self._buf[at : at + self.hash_len] == oid:
                return pos
        return -1

    def positions(self, oid: bytes) -> range:
        """All sorted positions holding ``oid`` (duplicates inside one pack are legal,
        git:t/t5308-pack-detect-duplicates.sh); empty if absent."""
        first = self.find(oid)
        if first < 0:
            return range(0)
        end = first + 1
        while end < self.count and self.oid_at(end) == oid:
            end += 1
        return range(first, end)

    def find_prefix(self, hex_prefix: str, limit: int) -> list[bytes]:
        """Ids whose lowercase hex starts with ``hex_prefix`` (1+ hex digits), at most
        ``limit`` of them, in sorted order (duplicates collapsed)."""
        if not hex_prefix or len(hex_prefix) > 2 * self.hash_len:
            return []
        padded = hex_prefix + "0" if len(hex_prefix) % 2 else hex_prefix
        try:
            key = bytes.fromhex(padded)
        except ValueError:
            return []
        if len(hex_prefix) == 1:
            lo, hi = self._fanout[key[0] - 1] if key[0] else 0, self._fanout[key[0] | 0x0F]
        else:
            lo, hi = self._range(key[0])
        pos = self._lower_bound(key, lo, hi)
        found: list[bytes] = []
        while pos < hi and len(found) < limit:
            oid = self.oid_at(pos)
            if not oid.hex().startswith(hex_prefix):
                break
            if not found or found[-1] != oid:
                found.append(oid)
            pos += 1
        return found

    def __iter__(self) -> Iterator[bytes]:
        """Every id in sorted order."""
        for pos in range(self.count):
            yield self.oid_at(pos)

    def offsets(self) -> list[int]:
        """Every pack offset, in idx (sorted-id) order."""
        values: list[int] = []
        for batch in self.offset_batches():
            values.extend(batch)
        return values

    def offset_batches(self, batch: int = _OFFSET_BATCH) -> Iterator[list[int]]:
        """Every pack offset, in idx (sorted-id) order, ``batch`` at a time.

        Each batch is a few C-speed calls over a slice of the table: none holds the GIL for
        long, so a thread reading a million offsets does not stall the others.
        """
        n = self.count
        step = max(1, batch)
        for start in range(0, n, step):
            stop = min(start + step, n)
            if self.version == 1:
                at = self._off_base + start * self._oid_stride
                table = self._buf[at : self._off_base + stop * self._oid_stride]
                yield [v[0] for v in struct.iter_unpack(f">I{self.hash_len}x", table)]
                continue
            words = array("I")
            if words.itemsize != 4:  # pragma: no cover - every CPython platform we run on
                yield [self.offset_at(pos) for pos in range(start, stop)]
                continue
            words.frombytes(self._buf[self._off_base + 4 * start : self._off_base + 4 * stop])
            if sys.byteorder == "little":
                words.byteswap()
            values = words.tolist()
            if max(words) & 0x80000000:
                # Rule 3: an MSB sends this entry to the 64-bit table, however small it is.
                for pos, value in enumerate(values):
                    if value & 0x80000000:
                        values[pos] = self.offset_at(start + pos)
            yield values
