"""``PackFile``: one ``.pack`` with its ``.idx`` (and ``.rev`` when present), memory-mapped.

Rules:
1. Opening maps the files and checks only headers and sizes (git:packfile.c
   ``open_packed_git_1``): ``PACK`` signature, version 2 or 3 (git accepts both and writes
   2), object count equal to the idx count, and the pack trailer equal to the checksum the
   idx records. Cost does not depend on the number of objects.
2. The pack is never closed explicitly: the mapping lives as long as anything (a
   ``StoredStream``, a running inflate) references it, so a pack deleted by ``git gc`` can
   still finish a response (Linux keeps unlinked mappings valid).
3. Pack order (for entry extents) comes from the ``.rev`` if it loads (checked when the pack
   is opened: header, size and pack checksum, O(1)), else it is built once in memory under a
   lock and then shared (git:pack-revindex.c ``load_pack_revindex``). A build that fails
   (a corrupt idx) is not retried: its error is raised again to every caller, at no cost.
4. An entry's extent (where its zlib stream ends) is the next entry's offset in pack order
   (git:pack-revindex.c ``pack_pos_to_offset``; gitformat-pack: entries are contiguous).
   While the order is not there yet and the caller must not wait for it to be built (time
   in the number of objects), the extent is found instead by inflating that one entry (time
   in its size): both give the same end on a well-formed pack, and the inflate also proves
   the stream ends and holds exactly the declared size. Once the order exists it is always
   used.
5. Entry data is inflated with bounded output (``inflate.py``); sizes are capped by the
   caller's ``max_size`` before inflating.
"""

from __future__ import annotations

import contextlib
import os
import struct
import threading
from collections.abc import Iterator
from pathlib import Path

from app.git.errors import CorruptIndex, CorruptPack
from app.git.pack.entry import PACK_HEADER_SIZE, PackEntry, parse_entry
from app.git.pack.index import Buffer, PackIndex, map_file
from app.git.pack.inflate import (
    buffer_slices,
    first_slice_for,
    inflate_exact,
    inflate_prefix,
    iter_inflate,
    stream_length,
)
from app.git.pack.revindex import PackOrder, RevIndex, SortedOffsets

_HEADER = struct.Struct(">4sII")
SUPPORTED_VERSIONS = (2, 3)


class PackFile:
    """A mapped pack plus its index; entries are decoded on demand."""

    def __init__(
        self,
        pack: Buffer,
        index: PackIndex,
        *,
        rev: Buffer | None = None,
        name: str = "<pack>",
        path: Path | None = None,
    ) -> None:
        hash_len = index.hash_len
        if len(pack) < PACK_HEADER_SIZE + hash_len:
            raise CorruptPack(f"{name}: pack file is too small ({len(pack)} bytes)")
        magic, version, count = _HEADER.unpack(pack[:PACK_HEADER_SIZE])
        if magic != b"PACK":
            raise CorruptPack(f"{name}: not a pack file (bad signature)")
        if version not in SUPPORTED_VERSIONS:
            raise CorruptPack(f"{name}: pack version {version} is not supported")
        if count != index.count:
            raise CorruptPack(
                f"{name}: pack claims {count} objects while its index lists {index.count}"
            )
        self.data_end = len(pack) - hash_len
        self.checksum = bytes(pack[self.data_end :])
        if self.checksum != index.pack_checksum:
            # git:packfile.c open_packed_git_1: "packfile %s does not match index" (a truncated
            # or rewritten pack shows up here first).
            raise CorruptPack(f"{name}: pack trailer does not match its index")
        self.buf = pack
        self.index = index
        self.hash_len = hash_len
        self.name = name
        self.path = path
        self.pack_id = self.checksum.hex()
        self.version = version
        self._order: PackOrder | None = None
        if rev is not None:
            # A .rev that does not load is ignored: the order is built in memory (rule 3).
            with contextlib.suppress(CorruptIndex):
                self._order = RevIndex(rev, index, self.data_end, name + ".rev")
        self._order_lock = threading.Lock()
        self._order_error: CorruptIndex | None = None

    @classmethod
    def from_bytes(
        cls,
        pack: Buffer,
        idx: Buffer,
        hash_len: int,
        *,
        rev: Buffer | None = None,
        name: str = "<pack>",
    ) -> PackFile:
        """Build from in-memory ``.pack``, ``.idx`` (and optional ``.rev``) contents."""
        return cls(pack, PackIndex.from_bytes(idx, hash_len, name + ".idx"), rev=rev, name=name)

    @classmethod
    def open(cls, pack_path: str | os.PathLike[str], hash_len: int) -> PackFile:
        """Map ``pack-*.pack`` and its sibling ``.idx`` (and ``.rev`` if present)."""
        path = Path(pack_path)
        index = PackIndex.open(path.with_suffix(".idx"), hash_len)
        try:
            rev: Buffer | None = map_file(path.with_suffix(".rev"), CorruptIndex, "reverse index")
        except FileNotFoundError:
            rev = None
        pack = map_file(path, CorruptPack, "pack")
        return cls(pack, index, rev=rev, name=path.name, path=path)

    def __repr__(self) -> str:
        return f"<PackFile {self.name} objects={self.index.count}>"

    # -- lookup -----------------------------------------------------------------------------

    def find(self, oid: bytes) -> int:
        """Pack offset of ``oid`` (first copy), or -1."""
        pos = self.index.find(oid)
        return self.index.offset_at(pos) if pos >= 0 else -1

    def offsets_of(self, oid: bytes) -> list[int]:
        """Offsets of every copy of ``oid`` in this pack (usually zero or one)."""
        return [self.index.offset_at(pos) for pos in self.index.positions(oid)]

    def entry(self, offset: int) -> PackEntry:
        """Decode the entry header at ``offset``."""
        return parse_entry(self.buf, offset, self.data_end, self.hash_len)

    # -- extents ----------------------------------------------------------------------------

    def _pack_order(self) -> PackOrder:
        order = self._order
        if order is not None:
            return order
        with self._order_lock:
            if self._order is None:
                if self._order_error is not None:
                    raise self._order_error
                try:
                    self._order = SortedOffsets(self.index, self.data_end)
                except CorruptIndex as exc:
                    self._order_error = exc
                    raise
            return self._order

    @property
    def order_pending(self) -> bool:
        """True while the pack order is neither loaded nor built (nor failed to build)."""
        return self._order is None and self._order_error is None

    def prepare_order(self) -> None:
        """Build the pack order now (it is otherwise built on first use)."""
        self._pack_order()

    def next_offset(self, offset: int) -> int:
        """Offset of the entry after ``offset`` in pack order (``data_end`` for the last)."""
        nxt = self._pack_order().next_offset(offset)
        if not offset < nxt <= self.data_end:
            raise CorruptIndex(f"{self.name}: entry after {offset} claims offset {nxt}")
        return nxt

    def stream_end(self, entry: PackEntry, max_size: int, *, build_order: bool) -> int:
        """Offset just past ``entry``'s zlib stream (rule 4): from the pack order when it is
        at hand or ``build_order`` allows building it now, else by ``inflated_end``."""
        if self._order is None and not build_order:
            return self.inflated_end(entry, max_size)
        return self.next_offset(entry.offset)

    def inflated_end(self, entry: PackEntry, max_size: int) -> int:
        """Offset just past ``entry``'s zlib stream, found by inflating it (output discarded,
        bounded as every inflate); ``CorruptPack`` unless it ends and holds exactly the
        declared size."""
        self._check_size(entry, max_size)
        chunks = buffer_slices(
            self.buf, entry.data_offset, self.data_end, first_slice_for(entry.size)
        )
        what = f"{self.name}@{entry.offset}"
        return entry.data_offset + stream_length(chunks, entry.size, CorruptPack, what)

    # -- inflating --------------------------------------------------------------------------

    def inflate(self, entry: PackEntry, max_size: int) -> bytes:
        """The whole inflated data of ``entry`` (an object, or a delta's instructions)."""
        self._check_size(entry, max_size)
        chunks = buffer_slices(
            self.buf, entry.data_offset, self.data_end, first_slice_for(entry.size)
        )
        return inflate_exact(chunks, entry.size, CorruptPack, f"{self.name}@{entry.offset}")

    def iter_inflate(self, entry: PackEntry, chunk_size: int, max_size: int) -> Iterator[bytes]:
        """Inflate ``entry`` in pieces of at most ``chunk_size`` bytes."""
        self._check_size(entry, max_size)
        chunks = buffer_slices(
            self.buf, entry.data_offset, self.data_end, first_slice_for(entry.size)
        )
        return iter_inflate(
            chunks, entry.size, chunk_size, CorruptPack, f"{self.name}@{entry.offset}"
        )

    def inflate_head(self, entry: PackEntry, want: int) -> bytes:
        """The first ``want`` inflated bytes of ``entry`` (e.g. a delta's size header)."""
        chunks = buffer_slices(self.buf, entry.data_offset, self.data_end, 64)
        return inflate_prefix(chunks, want, CorruptPack, f"{self.name}@{entry.offset}")

    def _check_size(self, entry: PackEntry, max_size: int) -> None:
        if entry.size > max_size:
            raise CorruptPack(
                f"{self.name}@{entry.offset}: declared size {entry.size} exceeds the cap {max_size}"
            )
