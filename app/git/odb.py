"""The object database: packs, loose objects and alternates behind one lookup.

Lookup order (git:packfile.c ``find_pack_entry``, git:object-file.c
``do_oid_object_info_extended``): packs — local before alternates, newer pack first
(git:packfile.c ``sort_pack``) — then loose objects, then *rescan the pack directories once
and retry*, because a concurrent ``git gc``/push may just have moved the object.

Rules:
1. Opening reads ``objects/info/alternates`` (relative paths are relative to the objects
   directory holding the file; ``#`` comments; C-quoted paths; nesting at most 5 deep,
   git:object-file.c ``link_alt_odb_entries``; a directory reached twice is skipped) and maps
   every pack (header checks only). A pack that does not open is skipped, as git does.
2. The pack list is an immutable tuple replaced atomically by a rescan; a rescan reuses the
   already mapped packs and drops deleted ones without closing them (a response streaming
   from a deleted pack completes). Besides the rescan on a miss, a lookup stats the pack
   directories at most every few seconds, so packs deleted by ``git gc`` are let go even
   when nothing misses.
3. A multi-pack-index beside the packs is not needed: the ``.idx`` files it covers always
   exist, so the packs are read directly. ``.keep``, ``.promisor``, ``.bitmap`` and
   ``.mtimes`` are ignored.
4. The same object in several packs, or twice in one pack, is fine: any copy that decodes is
   used, the next copy is tried if one is corrupt (git:t/t5303-pack-corruption-resilience.sh).
5. Delta bases are cached by bytes (``ByteLRU``, default 96 MiB like git's
   ``core.deltaBaseCacheLimit``). Two size caps, checked before anything is allocated:
   ``max_object_size`` for whatever is built in memory (``read``, every delta result; default
   1 GiB, so a 64 KiB delta claiming 4 GiB is refused outright) and ``max_stream_size`` for
   whole objects streamed by ``iter_content`` with bounded memory.
6. Thread safety: lookups read the current snapshot; rescans are serialized by a lock.
7. A stored stream's extent needs the pack order (``pack/file.py`` rule 4). A pack without
   ``.rev`` has it built on first use, once — or, when the caller says it must not wait
   for that (``build_order=False``: a server while ``prepare`` runs in another thread), the
   extent is found by inflating just that entry. ``needs_prepare`` tells a caller when that
   is so, for the packs of the current snapshot (re-checked as lookups do, so a pack that
   ``git gc`` or a push adds later counts too). Once a pack's order exists it is always
   used.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

from app.git import loose
from app.git.errors import (
    CorruptIndex,
    CorruptPack,
    CorruptRepository,
    GitError,
    ObjectNotFound,
)
from app.git.lru import ByteLRU, Cache
from app.git.objtype import OBJECT_TYPES
from app.git.oid import ObjectId
from app.git.pack import chain
from app.git.pack.file import PackFile
from app.git.pack.inflate import has_fdict, valid_zlib_header
from app.git.pack.stream import StoredStream

log = logging.getLogger("packserve.git")

# In-memory results (read(), delta chains): large enough for any blob worth serving from
# memory, small enough that a forged size cannot take the process down.
DEFAULT_MAX_OBJECT_SIZE = 1 << 30
# Whole objects streamed in bounded chunks: only a sanity bound on the declared size.
DEFAULT_MAX_STREAM_SIZE = 1 << 40
DEFAULT_DELTA_CACHE_BYTES = 96 << 20
MAX_ALTERNATE_DEPTH = 5
DEFAULT_PREFIX_LIMIT = 16
# A pack directory whose mtime is unchanged and older than this many seconds at the time of
# the last scan need not be listed again (a racy-git guard for coarse timestamps).
_RACY_SECONDS = 2.0
_HEX = re.compile(r"[0-9a-f]+\Z")
# Even without a miss, look at the pack directories (one stat each) this often, so packs
# deleted by ``git gc`` are dropped and their disk space freed within seconds.
_REVALIDATE_SECONDS = 5.0

T = TypeVar("T")


def _c_unquote(text: str) -> str:
    """Undo git's C-style quoting of a path (git:quote.c ``unquote_c_style``)."""
    body = text[1:-1] if len(text) >= 2 and text.endswith('"') else text[1:]
    out = bytearray()
    i = 0
    simple = {"n": 10, "t": 9, "r": 13, "a": 7, "b": 8, "f": 12, "v": 11, '"': 34, "\\": 92}
    raw = body.encode("utf-8", "surrogateescape")
    while i < len(raw):
        ch = raw[i]
        if ch == 0x5C and i + 1 < len(raw):
            nxt = chr(raw[i + 1])
            if nxt in simple:
                out.append(simple[nxt])
                i += 2
                continue
            octal = raw[i + 1 : i + 4]
            if len(octal) == 3 and all(0x30 <= b <= 0x37 for b in octal):
                out.append(int(octal, 8) & 0xFF)
                i += 4
                continue
        out.append(ch)
        i += 1
    return out.decode("utf-8", "surrogateescape")


def read_alternates(objects_dir: Path) -> list[Path]:
    """The alternate object directories listed by ``objects_dir/info/alternates``."""
    try:
        text = (objects_dir / "info" / "alternates").read_bytes().decode("utf-8", "surrogateescape")
    except OSError:
        return []
    found: list[Path] = []
    for line in text.splitlines():
        line = line.strip("\r")
        if not line or line.startswith("#"):
            continue
        if line.startswith('"'):
            line = _c_unquote(line)
        path = Path(line)
        found.append(path if path.is_absolute() else objects_dir / path)
    return found


class _ObjectDir:
    """One objects directory: its loose fan-out and its current pack snapshot."""

    def __init__(self, path: Path, hash_len: int) -> None:
        self.path = path
        self.pack_dir = path / "pack"
        self.hash_len = hash_len
        self.packs: tuple[tuple[float, PackFile], ...] = ()
        self.broken: frozenset[str] = frozenset()
        self._stamp: tuple[int, float] | None = None

    def scan(self, force: bool) -> bool:
        """Re-list ``pack/``; return True if the set of packs changed."""
        try:
            mtime_ns = os.stat(self.pack_dir).st_mtime_ns
        except OSError:
            mtime_ns = -1
        now = time.time()
        stamp = self._stamp
        if (
            not force
            and stamp is not None
            and stamp[0] == mtime_ns
            and stamp[1] - mtime_ns / 1e9 > _RACY_SECONDS
        ):
            return False
        try:
            names = os.listdir(self.pack_dir)
        except OSError:
            names = []
        present = set(names)
        known = {pack.name: (mtime, pack) for mtime, pack in self.packs}
        fresh: list[tuple[float, PackFile]] = []
        broken: set[str] = set()
        for name in names:
            if not (name.startswith("pack-") and name.endswith(".pack")):
                continue
            if name[:-5] + ".idx" not in present:
                continue  # still being written: git renames the .idx into place last
            if name in known:
                fresh.append(known[name])
                continue
            path = self.pack_dir / name
            try:
                mtime = os.stat(path).st_mtime
                fresh.append((mtime, PackFile.open(path, self.hash_len)))
            except (GitError, OSError) as exc:
                # git:packfile.c add_packed_git: a pack that fails to open is skipped and
                # reported, once per pack rather than on every rescan.
                broken.add(name)
                if name not in self.broken:
                    log.warning("skipping pack %s: %s", path, exc)
        fresh.sort(key=lambda item: (-item[0], item[1].name))
        changed = [p for _, p in fresh] != [p for _, p in self.packs]
        self.packs = tuple(fresh)
        self.broken = frozenset(broken)
        self._stamp = (mtime_ns, now)
        return changed


class ObjectDatabase:
    """Read objects by id from packs, loose files and alternates."""

    def __init__(
        self,
        dirs: list[_ObjectDir],
        hash_len: int,
        *,
        cache: Cache[chain.CacheKey, chain.Resolved],
        max_object_size: int,
        max_stream_size: int,
        max_depth: int,
    ) -> None:
        self.hash_len = hash_len
        self.max_object_size = max_object_size
        self.max_stream_size = max(max_stream_size, max_object_size)
        self.max_depth = max_depth
        self._dirs = tuple(dirs)
        self._cache = cache
        self._lock = threading.Lock()
        self._packs: tuple[PackFile, ...] = ()
        self._next_check = 0.0
        self._rescan(force=True)

    @classmethod
    def open(
        cls,
        objects_dir: str | os.PathLike[str],
        hash_len: int,
        *,
        cache: Cache[chain.CacheKey, chain.Resolved] | None = None,
        max_object_size: int = DEFAULT_MAX_OBJECT_SIZE,
        max_stream_size: int = DEFAULT_MAX_STREAM_SIZE,
        max_depth: int = chain.DEFAULT_MAX_DEPTH,
    ) -> ObjectDatabase:
        """Open ``objects_dir`` (and its alternates) for a repository with ``hash_len``-byte
        ids (20 SHA-1, 32 SHA-256). Only maps files; nothing is parsed per object."""
        if hash_len not in (20, 32):
            raise ValueError(f"unsupported hash length {hash_len}")
        root = Path(objects_dir)
        dirs: list[_ObjectDir] = []
        seen: set[str] = set()
        # Breadth-first over alternates, depth-limited and deduplicated by real path (git
        # skips a directory it already linked), so a loop ends.
        frontier: list[tuple[Path, int]] = [(root, 0)]
        while frontier:
            path, depth = frontier.pop(0)
            real = os.path.realpath(path)
            if real in seen or (depth and not os.path.isdir(real)):
                continue
            seen.add(real)
            dirs.append(_ObjectDir(path, hash_len))
            if depth < MAX_ALTERNATE_DEPTH:
                frontier.extend((alt, depth + 1) for alt in read_alternates(path))
        return cls(
            dirs,
            hash_len,
            cache=cache if cache is not None else ByteLRU(DEFAULT_DELTA_CACHE_BYTES),
            max_object_size=max_object_size,
            max_stream_size=max_stream_size,
            max_depth=max_depth,
        )

    # -- snapshot management ----------------------------------------------------------------

    @property
    def objects_dirs(self) -> tuple[Path, ...]:
        """The objects directory and its alternates, in lookup order."""
        return tuple(d.path for d in self._dirs)

    @property
    def packs(self) -> tuple[PackFile, ...]:
        """The current pack snapshot, in lookup order."""
        return self._packs

    def rescan(self) -> bool:
        """Re-list every pack directory now; True if the pack set changed."""
        return self._rescan(force=True)

    def _revalidate(self) -> None:
        if time.monotonic() >= self._next_check:
            self._rescan(force=False)

    def _rescan(self, force: bool) -> bool:
        with self._lock:
            self._next_check = time.monotonic() + _REVALIDATE_SECONDS
            changed = False
            for directory in self._dirs:
                changed |= directory.scan(force)
            if changed or not self._packs:
                self._packs = tuple(p for d in self._dirs for _, p in d.packs)
            return changed

    def needs_prepare(self) -> bool:
        """Whether some pack still has no pack order (``prepare`` would build it; rule 7)."""
        self._revalidate()
        return any(pack.order_pending for pack in self._packs)

    def prepare(self) -> None:
        """Build each pack's in-memory pack order now (for packs without ``.rev``), so no
        ``stored_stream`` pays for it. Time in the number of objects, meant for a worker
        thread. Every pack is tried; the first ``CorruptIndex`` is raised at the end (the
        pack keeps failing, cheaply, for the lookups that need its order)."""
        self._revalidate()
        failed: CorruptIndex | None = None
        for pack in self._packs:
            try:
                pack.prepare_order()
            except CorruptIndex as exc:
                failed = failed or exc
        if failed is not None:
            raise failed

    def close(self) -> None:
        """Drop the pack snapshot. Mappings are released when no stream references them."""
        with self._lock:
            self._packs = ()
            for directory in self._dirs:
                directory.packs = ()
                directory._stamp = None

    # -- locating ---------------------------------------------------------------------------

    def _locations(self, oid: bytes) -> Iterator[tuple[PackFile, int, int]]:
        """(pack, idx position, offset) of every packed copy of ``oid``."""
        for pack in self._packs:
            for pos in pack.index.positions(oid):
                yield pack, pos, pack.index.offset_at(pos)

    def _loose_paths(self, oid: bytes) -> Iterator[Path]:
        for directory in self._dirs:
            yield loose.loose_path(directory.path, oid)

    def locate_packed(self, oid: bytes) -> tuple[PackFile, int] | None:
        """The first (pack, offset) holding ``oid``, or ``None`` (no rescan)."""
        for pack in self._packs:
            offset = pack.find(oid)
            if offset >= 0:
                return pack, offset
        return None

    def _first_loose(self, oid: bytes, read: Callable[[Path], T]) -> T | None:
        """``read`` of the first loose file of ``oid`` that exists, or ``None``. A missing
        file is a miss (the object lives elsewhere, or ``git prune-packed`` just removed
        it); any other I/O error is damage."""
        for path in self._loose_paths(oid):
            try:
                return read(path)
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise CorruptRepository(f"{path}: {exc}") from exc
        return None

    def read_unpacked(self, oid: bytes) -> chain.Resolved | None:
        """``(type, content)`` of a loose ``oid`` in any objects directory, or ``None``."""
        return self._first_loose(oid, lambda path: loose.read(path, self.max_object_size))

    def header_unpacked(self, oid: bytes) -> tuple[int, int] | None:
        """``(type, size)`` of a loose ``oid``, or ``None``."""
        return self._first_loose(oid, lambda path: loose.read_header(path, self.max_stream_size))

    def _resolve(self, pack: PackFile, offset: int) -> chain.Resolved:
        """The entry at ``offset`` of ``pack`` with its delta chain applied, through the
        shared base cache and within this database's caps."""
        return chain.resolve(
            pack,
            offset,
            self,
            cache=self._cache,
            max_size=self.max_object_size,
            max_depth=self.max_depth,
        )

    def _lookup(
        self,
        oid: bytes,
        packed: Callable[[PackFile, int, int], T],
        unpacked: Callable[[bytes], T | None],
    ) -> T:
        """Try every packed copy, then loose; on a miss rescan once and retry. A corrupt copy
        is skipped if another decodes; if none does, the first corruption is raised."""
        if len(oid) != self.hash_len:
            raise ObjectNotFound(f"object id {oid.hex()!r} is not {self.hash_len} bytes long")
        self._revalidate()
        for attempt in (0, 1):
            first_error: CorruptRepository | None = None
            for pack, pos, offset in self._locations(oid):
                try:
                    return packed(pack, pos, offset)
                except CorruptRepository as exc:
                    first_error = first_error or exc
            found = unpacked(oid)
            if found is not None:
                return found
            if first_error is not None:
                raise first_error
            if attempt == 0 and not self._rescan(force=False):
                break
        raise ObjectNotFound(f"object {oid.hex()} not found")

    # -- public API -------------------------------------------------------------------------

    def read(self, oid: bytes) -> tuple[int, bytes]:
        """``(type code 1..4, content)`` with deltas resolved; ``ObjectNotFound`` if absent."""
        return self._lookup(
            oid, lambda pack, _pos, offset: self._resolve(pack, offset), self.read_unpacked
        )

    def header(self, oid: bytes) -> tuple[int, int]:
        """``(type code, size)`` without inflating the object (a delta's result size comes
        from the first bytes of its delta)."""
        return self._lookup(
            oid,
            lambda pack, _pos, offset: chain.header(
                pack,
                offset,
                self,
                max_size=self.max_object_size,
                max_stream_size=self.max_stream_size,
                max_depth=self.max_depth,
            ),
            self.header_unpacked,
        )

    def contains(self, oid: bytes) -> bool:
        """Whether ``oid`` is stored anywhere (rescanning once on a miss)."""
        if len(oid) != self.hash_len:
            return False
        self._revalidate()
        for attempt in (0, 1):
            if self.locate_packed(oid) is not None:
                return True
            if any(path.is_file() for path in self._loose_paths(oid)):
                return True
            if attempt == 0 and not self._rescan(force=False):
                break
        return False

    def stored_stream(self, oid: bytes, *, build_order: bool = True) -> StoredStream | None:
        """The exact zlib stream of ``oid`` if it is stored whole in a pack, delimited by the
        pack order — or, where that is not built and ``build_order`` is False, by inflating
        it (rule 7); ``None`` for deltas, loose objects and streams with a preset dictionary."""

        def packed(pack: PackFile, pos: int, offset: int) -> StoredStream | None:
            entry = pack.entry(offset)
            if entry.type not in OBJECT_TYPES:
                return None
            head = pack.buf[entry.data_offset : entry.data_offset + 2]
            if not valid_zlib_header(head):
                raise CorruptPack(f"{pack.name}@{offset}: not a zlib stream (RFC 1950 §2.2)")
            if has_fdict(head):
                # Not passed through, so its extent is not needed (and inflating it to find
                # the end would need the dictionary).
                return None
            end = pack.stream_end(entry, self.max_stream_size, build_order=build_order)
            if end < entry.data_offset + 2:
                raise CorruptPack(f"{pack.name}@{offset}: entry is shorter than a zlib header")
            data = memoryview(pack.buf)[entry.data_offset : end]
            return StoredStream(data, pack.pack_id, offset, pack.index.crc32_at(pos))

        def unpacked(oid: bytes) -> StoredStream | None:
            # _lookup reads None as "absent"; a loose object exists but has no stream to
            # pass through (its zlib data starts with the loose header), hence the sentinel.
            exists = any(path.is_file() for path in self._loose_paths(oid))
            return _NO_STREAM if exists else None

        result = self._lookup(oid, packed, unpacked)
        return None if result is _NO_STREAM else result

    def iter_content(self, oid: bytes, chunk_size: int = 65536) -> Iterator[bytes]:
        """The content of ``oid`` in pieces of at most ``chunk_size`` bytes. Whole-stored
        objects are inflated as the iterator advances (bounded memory); deltas are resolved
        first, then sliced. ``ObjectNotFound`` is raised by this call, not by the iterator."""
        chunk_size = max(1, chunk_size)

        def packed(pack: PackFile, _pos: int, offset: int) -> Iterator[bytes]:
            entry = pack.entry(offset)
            if entry.type in OBJECT_TYPES:
                return pack.iter_inflate(entry, chunk_size, self.max_stream_size)
            return _slices(self._resolve(pack, offset)[1], chunk_size)

        def unpacked(oid: bytes) -> Iterator[bytes] | None:
            return self._first_loose(
                oid, lambda path: loose.open_stream(path, chunk_size, self.max_stream_size)[2]
            )

        return self._lookup(oid, packed, unpacked)

    def find_prefix(self, hex_prefix: str, limit: int = DEFAULT_PREFIX_LIMIT) -> list[ObjectId]:
        """Ids (sorted, distinct, at most ``limit``) whose hex starts with ``hex_prefix``;
        empty if the prefix is not hex or too long. Rescans once if nothing matches."""
        prefix = hex_prefix.lower()
        if not prefix or len(prefix) > 2 * self.hash_len or not _HEX.match(prefix):
            return []
        for attempt in (0, 1):
            found: set[bytes] = set()
            for pack in self._packs:
                found.update(pack.index.find_prefix(prefix, limit))
            for directory in self._dirs:
                found.update(loose.find_prefix(directory.path, prefix, self.hash_len, limit))
            if found or attempt or not self._rescan(force=False):
                return [ObjectId(oid) for oid in sorted(found)[:limit]]
        return []


_NO_STREAM = StoredStream(memoryview(b""), "", -1, None)


def _slices(data: bytes, size: int) -> Iterator[bytes]:
    view = memoryview(data)
    for start in range(0, len(data), size):
        yield bytes(view[start : start + size])
