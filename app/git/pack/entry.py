"""Pack entry headers: type, declared size, and the delta base reference.

Encoding (gitformat-pack, "Object entries"): the first byte is
``MSB-continue | type<<4 | size & 0xF``; each further byte adds 7 size bits, least
significant group first. OFS_DELTA then holds the base distance as big-endian 7-bit groups
with +1 added at every continuation (git:builtin/pack-objects.c ``write_reuse_object``,
git:packfile.c ``get_delta_base``); REF_DELTA holds the base id (``hash_len`` bytes).

Rules:
1. Every read is bounds-checked against ``data_end`` (the start of the pack trailer).
2. Size varints stop at 64 bits; OFS distances must land on an earlier entry at or after the
   12-byte pack header (distance 0, a forward base or one inside the header is a cycle or a
   lie: ``DeltaError``, as dulwich#2281 and git's "delta base offset out of bound").
3. Type 0 and the reserved type 5 are ``CorruptPack``.
"""

from __future__ import annotations

from typing import NamedTuple

from app.git.errors import CorruptPack, DeltaError
from app.git.objtype import OFS_DELTA, REF_DELTA
from app.git.pack.index import Buffer

PACK_HEADER_SIZE = 12
_MAX_SHIFT = 63


class PackEntry(NamedTuple):
    """One decoded entry header."""

    offset: int  # of the type byte
    type: int  # 1..4, OFS_DELTA or REF_DELTA
    size: int  # inflated size: of the object, or of the delta for delta types
    data_offset: int  # first byte of the zlib stream
    base_offset: int | None  # OFS_DELTA: absolute offset of the base entry
    base_oid: bytes | None  # REF_DELTA: base object id


def parse_entry(buf: Buffer, offset: int, data_end: int, hash_len: int) -> PackEntry:
    """Decode the entry header at ``offset`` of a pack buffer whose data ends at ``data_end``."""
    view = buf  # bytes or mmap: both index to int and slice to bytes
    if not PACK_HEADER_SIZE <= offset < data_end:
        raise CorruptPack(f"entry offset {offset} is outside the pack data")
    byte = view[offset]
    kind = (byte >> 4) & 7
    size = byte & 0x0F
    shift = 4
    pos = offset + 1
    while byte & 0x80:
        if pos >= data_end:
            raise CorruptPack(f"entry header at {offset} is truncated")
        if shift > _MAX_SHIFT:
            raise CorruptPack(f"entry size at {offset} does not fit 64 bits")
        byte = view[pos]
        pos += 1
        size |= (byte & 0x7F) << shift
        shift += 7
    if kind == OFS_DELTA:
        if pos >= data_end:
            raise CorruptPack(f"delta base offset at {offset} is truncated")
        byte = view[pos]
        pos += 1
        distance = byte & 0x7F
        groups = 1
        while byte & 0x80:
            if pos >= data_end:
                raise CorruptPack(f"delta base offset at {offset} is truncated")
            groups += 1
            if groups > 10:
                raise DeltaError(f"delta base offset at {offset} does not fit 64 bits")
            byte = view[pos]
            pos += 1
            distance = ((distance + 1) << 7) | (byte & 0x7F)
        base = offset - distance
        if distance == 0 or base < PACK_HEADER_SIZE:
            raise DeltaError(f"OFS_DELTA at {offset} has an impossible base distance {distance}")
        if pos >= data_end:
            raise CorruptPack(f"entry at {offset} has no data")
        return PackEntry(offset, kind, size, pos, base, None)
    if kind == REF_DELTA:
        if pos + hash_len >= data_end:
            raise CorruptPack(f"REF_DELTA base id at {offset} is truncated")
        oid = bytes(view[pos : pos + hash_len])
        return PackEntry(offset, kind, size, pos + hash_len, None, oid)
    if kind in (0, 5):
        raise CorruptPack(f"entry at {offset} has invalid type {kind}")
    if pos >= data_end:
        raise CorruptPack(f"entry at {offset} has no data")
    return PackEntry(offset, kind, size, pos, None, None)
