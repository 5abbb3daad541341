"""Test-side writers and readers for git's pack formats, used to build hostile inputs.

Shared by the engine tests (``tests.git.fixtures`` crafts packs and indexes with these
primitives) and the fault corpus (``tests.faults.corpus``).

Rules:
1. This is test code: it writes what a *correct* writer would, byte for byte
   (gitformat-pack), so that each corpus case differs from a valid file in exactly the
   fault it names. Trailer checksums are recomputed unless the fault is the checksum.
2. Nothing here imports the engine: the corpus must not share bugs with what it tests.
"""

from __future__ import annotations

import hashlib
import struct
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

OBJ_COMMIT, OBJ_TREE, OBJ_BLOB, OBJ_TAG, OBJ_OFS_DELTA, OBJ_REF_DELTA = 1, 2, 3, 4, 6, 7
TYPE_CODES = {"commit": OBJ_COMMIT, "tree": OBJ_TREE, "blob": OBJ_BLOB, "tag": OBJ_TAG}
TYPE_NAMES = {code: name for name, code in TYPE_CODES.items()}


def hasher(hash_len: int) -> hashlib._Hash:
    """A fresh hash object of the repository's algorithm (20 -> SHA-1, 32 -> SHA-256)."""
    return hashlib.sha1() if hash_len == 20 else hashlib.sha256()


def digest(data: bytes, hash_len: int) -> bytes:
    """The repository-algorithm digest of ``data``."""
    h = hasher(hash_len)
    h.update(data)
    return h.digest()


def object_id(type_name: str, content: bytes, hash_len: int = 20) -> bytes:
    """The raw id git gives an object: hash of ``"<type> <size>\\0" + content``."""
    return digest(b"%s %d\0" % (type_name.encode(), len(content)) + content, hash_len)


def entry_header(type_code: int, size: int) -> bytes:
    """Pack entry header: type and size, size's low 4 bits first, then 7-bit groups."""
    out = bytearray()
    byte = (type_code << 4) | (size & 0x0F)
    size >>= 4
    while size:
        out.append(byte | 0x80)
        byte = size & 0x7F
        size >>= 7
    out.append(byte)
    return bytes(out)


def ofs_encoding(distance: int) -> bytes:
    """OFS_DELTA base distance, big-endian 7-bit groups with +1 per continuation.

    The inverse of the decoder in gitformat-pack; mirrors git:builtin/pack-objects.c.
    """
    out = [distance & 0x7F]
    distance >>= 7
    while distance:
        distance -= 1
        out.append(0x80 | (distance & 0x7F))
        distance >>= 7
    return bytes(reversed(out))


def delta_varint(value: int) -> bytes:
    """Delta header size: little-endian 7-bit groups."""
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def copy_op(offset: int, size: int) -> bytes:
    """A delta copy instruction; ``size`` 0x10000 is written as no size bytes (= 0x10000)."""
    op = 0x80
    args = bytearray()
    for i in range(4):
        byte = (offset >> (8 * i)) & 0xFF
        if byte:
            op |= 1 << i
            args.append(byte)
    if size != 0x10000:
        for i in range(3):
            byte = (size >> (8 * i)) & 0xFF
            if byte:
                op |= 0x10 << i
                args.append(byte)
    return bytes([op]) + bytes(args)


def insert_ops(data: bytes) -> bytes:
    """Delta insert instructions carrying ``data`` (at most 127 bytes each)."""
    out = bytearray()
    for start in range(0, len(data), 127):
        chunk = data[start : start + 127]
        out.append(len(chunk))
        out += chunk
    return bytes(out)


def delta(base_size: int, result_size: int, ops: bytes) -> bytes:
    """A delta payload: the two size varints followed by the instructions."""
    return delta_varint(base_size) + delta_varint(result_size) + ops


@dataclass(frozen=True)
class RawEntry:
    """One entry to write: ``oid`` is what the idx claims the entry is.

    ``base`` is a raw object id for REF_DELTA, or an entry index (earlier or the entry
    itself) for OFS_DELTA; ``size`` overrides the header's declared size.
    """

    oid: bytes
    type_code: int
    payload: bytes
    base: bytes | int | None = None
    size: int | None = None


@dataclass(frozen=True)
class WrittenPack:
    """A pack image and the idx facts about each entry, in entry order."""

    data: bytes
    oids: list[bytes]
    offsets: list[int]
    crcs: list[int]

    @property
    def checksum(self) -> bytes:
        """The pack trailer (hash of everything before it)."""
        return self.data[-len(self.oids[0]) :] if self.oids else b""


def write_pack(entries: Sequence[RawEntry], hash_len: int = 20) -> WrittenPack:
    """A version-2 pack holding ``entries`` in order, with a correct trailer."""
    body = bytearray(b"PACK" + struct.pack(">II", 2, len(entries)))
    offsets: list[int] = []
    crcs: list[int] = []
    for index, entry in enumerate(entries):
        offset = len(body)
        offsets.append(offset)
        size = len(entry.payload) if entry.size is None else entry.size
        raw = bytearray(entry_header(entry.type_code, size))
        if entry.type_code == OBJ_OFS_DELTA:
            if not isinstance(entry.base, int) or entry.base > index:
                raise ValueError("OFS_DELTA base must be an earlier (or this) entry index")
            raw += ofs_encoding(offset - offsets[entry.base])
        elif entry.type_code == OBJ_REF_DELTA:
            if not isinstance(entry.base, bytes):
                raise ValueError("REF_DELTA base must be an object id")
            raw += entry.base
        raw += zlib.compress(entry.payload)
        crcs.append(zlib.crc32(raw))
        body += raw
    body += digest(bytes(body), hash_len)
    return WrittenPack(bytes(body), [e.oid for e in entries], offsets, crcs)


def idx_v2(
    rows: Iterable[tuple[bytes, int, int]],
    pack_checksum: bytes,
    hash_len: int = 20,
    *,
    large_from: int = 0x80000000,
) -> bytes:
    """A version-2 ``.idx`` listing ``(oid, crc32, offset)`` rows, sorted here by id then
    offset (an id may appear twice). Offsets at or above ``large_from`` go through the
    64-bit table; the default uses it only when an offset needs it."""
    ordered = sorted(rows, key=lambda row: (row[0], row[2]))
    fanout = [0] * 256
    for oid, _, _ in ordered:
        fanout[oid[0]] += 1
    running = 0
    for byte in range(256):
        running += fanout[byte]
        fanout[byte] = running
    out = bytearray(b"\xfftOc" + struct.pack(">I", 2) + struct.pack(">256I", *fanout))
    for oid, _, _ in ordered:
        out += oid
    for _, crc, _ in ordered:
        out += struct.pack(">I", crc)
    large: list[int] = []
    for _, _, offset in ordered:
        if offset < large_from:
            out += struct.pack(">I", offset)
        else:
            out += struct.pack(">I", 0x80000000 | len(large))
            large.append(offset)
    for offset in large:
        out += struct.pack(">Q", offset)
    out += pack_checksum
    out += digest(bytes(out), hash_len)
    return bytes(out)


def write_idx_v2(pack: WrittenPack, hash_len: int = 20) -> bytes:
    """A version-2 ``.idx`` for ``pack`` (large offsets used only when needed)."""
    rows = zip(pack.oids, pack.crcs, pack.offsets, strict=True)
    return idx_v2(rows, pack.checksum, hash_len)


def rehash_trailer(data: bytes | bytearray, hash_len: int = 20) -> bytes:
    """``data`` with its own trailing checksum recomputed (idx, rev, pack)."""
    body = bytes(data[:-hash_len])
    return body + digest(body, hash_len)


@dataclass(frozen=True)
class EntryLayout:
    """Where an entry sits in a pack: header length, so its zlib stream is known."""

    offset: int
    header_len: int
    raw_len: int
    type_code: int

    @property
    def zlib_start(self) -> int:
        """Offset of the first byte of the entry's zlib stream."""
        return self.offset + self.header_len

    @property
    def end(self) -> int:
        """Offset just past the entry."""
        return self.offset + self.raw_len


def entry_header_len(pack: bytes, offset: int, hash_len: int) -> tuple[int, int]:
    """(type code, header length including the OFS/REF base) of the entry at ``offset``."""
    pos = offset
    byte = pack[pos]
    type_code = (byte >> 4) & 7
    pos += 1
    while byte & 0x80:
        byte = pack[pos]
        pos += 1
    if type_code == OBJ_OFS_DELTA:
        byte = pack[pos]
        pos += 1
        while byte & 0x80:
            byte = pack[pos]
            pos += 1
    elif type_code == OBJ_REF_DELTA:
        pos += hash_len
    return type_code, pos - offset
