"""``StoredStream``: the exact zlib stream of a whole-stored pack entry, for pass-through.

Rules:
1. ``data`` is a zero-copy slice of the mmap'd pack covering exactly the entry's zlib stream
   (RFC 1950): from after the entry header to the next entry in pack order (``.rev`` or the
   lazily built pack order; the last entry ends at ``pack_size - hash_len``, as
   git:pack-revindex.c ``pack_pos_to_offset`` does).
2. It stays valid after the pack file is deleted (Linux keeps an unlinked mapping alive, and
   nothing closes a pack explicitly while it is referenced).
3. Never produced for deltas, loose objects or streams with a preset dictionary (FDICT).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class StoredStream:
    """Where a whole-stored object's compressed bytes are, ready to be copied verbatim."""

    data: memoryview
    pack_id: str
    offset: int
    crc32: int | None
