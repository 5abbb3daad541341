"""Verify a repository end to end, reporting every damaged file, object and ref.

What is checked (the operator's question is "what is damaged, and where?"):

1. Per pack (gitformat-pack): the ``.idx`` parses (``PackIndex`` rules: size, monotonic
   fan-out) and its trailer is the hash of its content; the ``.pack`` trailer is the hash of
   its content and equals the checksum the ``.idx`` records; the object counts agree; a
   ``.rev`` has a good trailer and lists the entries in ascending offset order.
2. Per pack entry, in pack order (the sorted idx offsets): the offset lies inside the data
   area and is no other entry's; the CRC-32 of the raw entry (header, base reference and
   zlib bytes) equals the idx's (v2); the object inflates (deltas resolved, bases taken from
   anywhere in the repository) and its id is the hash of ``"<type> <size>\\0" + content``,
   SHA-1 or SHA-256 as the repository says.
3. Loose objects: each file inflates, its header parses, its id matches its path.
4. Refs: ``packed-refs`` parses; every loose ref under ``refs/`` and ``HEAD`` parses;
   symbolic refs end within ``SYMREF_MAXDEPTH`` hops; every ref names an existing object.

Rules:
1. Corruption never raises: each problem becomes a ``Finding`` and the walk goes on. Only a
   path that is not a usable repository raises (``GitError`` from layout discovery and the
   repository format check), which callers report as "unusable".
2. Bounded memory: whole-stored objects are hashed as they inflate, in bounded chunks,
   whatever size they declare; delta results are built in memory (a delta can only be
   applied whole), capped by ``max_object_size`` and helped by a byte-bounded base cache.
3. Parsers are the engine's (``PackIndex``, ``PackFile``, ``chain``, ``loose``, the ref
   readers); this module only adds the checks a reader skips for speed (trailer hashes,
   CRCs, content hashes, ``.rev`` order). Alternates are used to resolve REF_DELTA bases but
   are not themselves verified; a multi-pack-index is not read (the engine does not use it).
4. A pack, index or loose object that vanishes between the directory listing and its check
   was removed by a concurrent ``git gc``/``repack``: it is skipped, not reported. A pack
   without its index (or the reverse) is reported only if it was so in two listings at
   least ``_ORPHAN_GRACE_SECONDS`` apart.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from app.git import loose, objtype
from app.git.errors import GitError
from app.git.gitconfig import read_repository_format
from app.git.layout import discover
from app.git.lru import ByteLRU
from app.git.odb import ObjectDatabase
from app.git.pack import chain
from app.git.pack.entry import PACK_HEADER_SIZE
from app.git.pack.file import PackFile
from app.git.pack.index import Buffer, PackIndex, map_file
from app.git.refs.loose import read_loose
from app.git.refs.names import check_ref_format
from app.git.refs.packed import PackedRefs
from app.git.refs.store import SYMREF_MAXDEPTH

Progress = Callable[[int, int], None]
"""``progress(objects_done, objects_total)``, called after every object."""

DEFAULT_MAX_OBJECT_SIZE = 1 << 30
# Whole-stored objects are hashed in a stream, so their declared size needs no cap beyond
# "fits the pack format"; only delta results are materialised (rule 2).
_STREAM_SIZE_CAP = 1 << 62
_CHUNK = 1 << 20
_HASH_CHUNK = 16 << 20
_DELTA_CACHE_BYTES = 96 << 20
_RIDX_HEADER = 12
# git deletes an old pack's .idx just after its .pack and renames a new .idx into place just
# after its .pack; a run over a small repository can start and end inside that gap, so the
# two listings that must agree on an orphan are taken at least this far apart.
_ORPHAN_GRACE_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem: which file (relative to the git dir), which object if any, and what."""

    path: str
    message: str
    oid: str | None = None

    def __str__(self) -> str:
        where = f"{self.path} {self.oid}" if self.oid else self.path
        return f"{where}: {self.message}"


@dataclass(slots=True)
class Report:
    """Everything ``verify_repository`` looked at and every problem it found."""

    git_dir: Path
    object_format: str
    packs: int = 0
    packed_objects: int = 0
    loose_objects: int = 0
    refs: int = 0
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing is damaged."""
        return not self.findings

    def add(self, path: Path | str, message: str, oid: bytes | str | None = None) -> None:
        """Record a finding; ``path`` is shown relative to the git dir when inside it."""
        shown = os.fspath(path)
        try:
            shown = os.fspath(Path(path).relative_to(self.git_dir))
        except ValueError:
            pass
        hex_id = oid.hex() if isinstance(oid, bytes) else oid
        self.findings.append(Finding(shown, message, hex_id))


def verify_repository(
    repo_path: str | os.PathLike[str],
    progress: Progress | None = None,
    *,
    max_object_size: int = DEFAULT_MAX_OBJECT_SIZE,
) -> Report:
    """Verify every pack, loose object and ref of the repository at ``repo_path``.

    Raises a ``GitError`` only when ``repo_path`` is not a readable repository.
    """
    layout = discover(repo_path)
    fmt = read_repository_format(layout.common_dir)
    report = Report(layout.git_dir, fmt.object_format)
    hash_len = fmt.hash_len
    objects_dir = layout.objects_dir
    odb = ObjectDatabase.open(objects_dir, hash_len)
    packs = _open_packs(objects_dir / "pack", hash_len, report)
    listed_at = time.monotonic()
    orphans = _orphans(objects_dir / "pack")
    loose_files = list(_loose_files(objects_dir, hash_len))
    total = sum(index.count for _, index in packs) + len(loose_files)
    counter = _Counter(progress, total)
    cache: ByteLRU[chain.CacheKey, chain.Resolved] = ByteLRU(_DELTA_CACHE_BYTES)
    for pack_path, index in packs:
        _verify_pack(pack_path, index, odb, cache, max_object_size, report, counter)
    for hex_id, path in loose_files:
        _verify_loose(path, hex_id, hash_len, report)
        report.loose_objects += 1
        counter.step()
    _verify_refs(layout.git_dir, layout.common_dir, hash_len, odb, report)
    # Only files that are still orphans now: git renames a new .pack before its .idx and
    # deletes an old .idx after its .pack, so a concurrent gc shows orphans for a moment.
    if orphans:
        time.sleep(max(0.0, listed_at + _ORPHAN_GRACE_SECONDS - time.monotonic()))
    for path, message in sorted(orphans & _orphans(objects_dir / "pack")):
        report.add(path, message)
    return report


class _Counter:
    def __init__(self, progress: Progress | None, total: int) -> None:
        self.progress = progress
        self.total = total
        self.done = 0
        if progress is not None:
            progress(0, total)

    def step(self, count: int = 1) -> None:
        self.done += count
        if self.progress is not None:
            self.progress(self.done, self.total)


def _hash(hash_len: int) -> hashlib._Hash:
    return hashlib.sha1() if hash_len == 20 else hashlib.sha256()


def _hash_buffer(buf: Buffer, end: int, hash_len: int) -> bytes:
    """Hash ``buf[:end]`` in slices (an mmap of a multi-GiB pack is never copied whole)."""
    h = _hash(hash_len)
    view = memoryview(buf)
    for start in range(0, end, _HASH_CHUNK):
        h.update(view[start : min(start + _HASH_CHUNK, end)])
    return h.digest()


def _trailer_ok(buf: Buffer, hash_len: int) -> bool:
    """Whether the last ``hash_len`` bytes are the hash of everything before them."""
    end = len(buf) - hash_len
    return end >= 0 and _hash_buffer(buf, end, hash_len) == bytes(buf[end:])


def _object_id(kind: int, size: int, pieces: Iterable[bytes], hash_len: int) -> bytes:
    h = _hash(hash_len)
    h.update(b"%s %d\0" % (objtype.type_name(kind).encode("ascii"), size))
    for piece in pieces:
        h.update(piece)
    return h.digest()


# -- packs ---------------------------------------------------------------------------------


_PACK_NAME = re.compile(r"pack-[0-9a-f]+\.(?:pack|idx)\Z")


def _orphans(pack_dir: Path) -> set[tuple[Path, str]]:
    """``.pack`` files without their ``.idx`` and the reverse, with the finding to report."""
    try:
        names = set(os.listdir(pack_dir))
    except OSError:
        return set()
    found = set()
    for name in names:
        if not _PACK_NAME.match(name):
            continue
        stem, _, ext = name.rpartition(".")
        if ext == "pack" and f"{stem}.idx" not in names:
            found.add((pack_dir / name, "pack without an index: its objects are unreachable"))
        elif ext == "idx" and f"{stem}.pack" not in names:
            found.add((pack_dir / name, "index without a pack"))
    return found


def _open_packs(pack_dir: Path, hash_len: int, report: Report) -> list[tuple[Path, PackIndex]]:
    """Every ``.idx`` that parses and has a good trailer, with its ``.pack`` path."""
    try:
        names = sorted(os.listdir(pack_dir))
    except FileNotFoundError:
        return []
    except OSError as exc:
        report.add(pack_dir, f"cannot list the pack directory: {exc.strerror}")
        return []
    found: list[tuple[Path, PackIndex]] = []
    for name in names:
        # git's own temporaries (".tmp-*", "tmp_pack_*") are not packs yet (rule 4).
        if not _PACK_NAME.match(name):
            continue
        path = pack_dir / name
        if not name.endswith(".idx") or not path.with_suffix(".pack").exists():
            continue  # orphans are reported by _orphans, after the long part of the run
        try:
            buf = map_file(path, OSError, "index")
        except FileNotFoundError:
            continue  # removed since the listing by a concurrent gc (rule 4)
        except OSError as exc:
            report.add(path, f"cannot read: {exc}")
            continue
        if not _trailer_ok(buf, hash_len):
            report.add(path, "index checksum mismatch (trailer is not the hash of the file)")
        try:
            index = PackIndex.from_bytes(buf, hash_len, name)
        except GitError as exc:
            report.add(path, f"index does not parse: {exc}")
            continue
        found.append((path.with_suffix(".pack"), index))
    return found


def _verify_pack(
    pack_path: Path,
    index: PackIndex,
    odb: ObjectDatabase,
    cache: ByteLRU[chain.CacheKey, chain.Resolved],
    max_object_size: int,
    report: Report,
    counter: _Counter,
) -> None:
    report.packs += 1
    hash_len = index.hash_len
    try:
        buf = map_file(pack_path, OSError, "pack")
    except FileNotFoundError:
        counter.step(index.count)  # removed by a concurrent gc (rule 4)
        return
    except OSError as exc:
        report.add(pack_path, f"cannot read: {exc}")
        counter.step(index.count)
        return
    if not _trailer_ok(buf, hash_len):
        report.add(pack_path, "pack checksum mismatch (trailer is not the hash of the file)")
    rev_path = pack_path.with_suffix(".rev")
    rev = map_file(rev_path, OSError, "rev") if rev_path.exists() else None
    try:
        pack = PackFile(buf, index, name=pack_path.name, path=pack_path)
    except GitError as exc:
        report.add(pack_path, f"pack unusable, {index.count} objects not checked: {exc}")
        counter.step(index.count)
        return
    order = _pack_order(pack, index, report)
    if rev is not None:
        _verify_rev(rev_path, rev, index, order, report)
    for i, (offset, pos) in enumerate(order):
        end = order[i + 1][0] if i + 1 < len(order) else pack.data_end
        _verify_entry(pack, index, pos, offset, end, odb, cache, max_object_size, report)
        counter.step()
    counter.step(index.count - len(order))


def _pack_order(pack: PackFile, index: PackIndex, report: Report) -> list[tuple[int, int]]:
    """(offset, idx position) of every entry whose offset is sane, sorted by offset."""
    path = pack.path or pack.name
    order: list[tuple[int, int]] = []
    for pos in range(index.count):
        try:
            offset = index.offset_at(pos)
        except GitError as exc:
            report.add(path, f"idx position {pos}: {exc}", index.oid_at(pos))
            continue
        if not PACK_HEADER_SIZE <= offset < pack.data_end:
            report.add(path, f"offset {offset} is outside the pack data", index.oid_at(pos))
            continue
        order.append((offset, pos))
    order.sort()
    for (first, pos_a), (second, pos_b) in zip(order, order[1:], strict=False):
        if first == second:
            report.add(
                path,
                f"offset {first} is also claimed by {index.oid_at(pos_a).hex()}",
                index.oid_at(pos_b),
            )
    return order


def _verify_rev(
    rev_path: Path, rev: Buffer, index: PackIndex, order: list[tuple[int, int]], report: Report
) -> None:
    """The ``.rev`` must be the pack order: idx positions sorted by their offsets."""
    hash_len = index.hash_len
    expected_size = _RIDX_HEADER + 4 * index.count + 2 * hash_len
    if len(rev) != expected_size or bytes(rev[:4]) != b"RIDX":
        report.add(rev_path, f"reverse index is malformed ({len(rev)} bytes)")
        return
    if not _trailer_ok(rev, hash_len):
        report.add(rev_path, "reverse index checksum mismatch")
    if bytes(rev[-2 * hash_len : -hash_len]) != index.pack_checksum:
        report.add(rev_path, "reverse index belongs to another pack")
    body = memoryview(rev)[_RIDX_HEADER : _RIDX_HEADER + 4 * index.count]
    listed = [int.from_bytes(body[i : i + 4], "big") for i in range(0, len(body), 4)]
    wanted = [pos for _, pos in order]
    # Entries with impossible offsets are reported already and missing from ``order``.
    if len(wanted) == index.count and listed != wanted:
        bad = next(i for i, (a, b) in enumerate(zip(listed, wanted, strict=False)) if a != b)
        report.add(rev_path, f"reverse index disagrees with the idx from pack position {bad}")


def _verify_entry(
    pack: PackFile,
    index: PackIndex,
    pos: int,
    offset: int,
    end: int,
    odb: ObjectDatabase,
    cache: ByteLRU[chain.CacheKey, chain.Resolved],
    max_object_size: int,
    report: Report,
) -> None:
    path = pack.path or pack.name
    oid = index.oid_at(pos)
    report.packed_objects += 1
    expected_crc = index.crc32_at(pos)
    if expected_crc is not None and zlib.crc32(pack.buf[offset:end]) != expected_crc:
        report.add(path, f"CRC-32 mismatch for the entry at offset {offset}", oid)
    try:
        entry = pack.entry(offset)
        if entry.type in objtype.OBJECT_TYPES:
            pieces = pack.iter_inflate(entry, _CHUNK, _STREAM_SIZE_CAP)
            actual = _object_id(entry.type, entry.size, pieces, index.hash_len)
        else:
            kind, data = chain.resolve(pack, offset, odb, cache=cache, max_size=max_object_size)
            actual = _object_id(kind, len(data), (data,), index.hash_len)
    except GitError as exc:
        report.add(path, f"object at offset {offset} does not decode: {exc}", oid)
        return
    if actual != oid:
        report.add(path, f"object at offset {offset} hashes to {actual.hex()}", oid)


# -- loose objects -------------------------------------------------------------------------

_HEX2 = re.compile(r"[0-9a-f]{2}\Z")


def _loose_files(objects_dir: Path, hash_len: int) -> Iterable[tuple[str, Path]]:
    """(hex id, path) of every file named like a loose object."""
    rest = re.compile(rf"[0-9a-f]{{{2 * hash_len - 2}}}\Z")
    try:
        subdirs = sorted(os.listdir(objects_dir))
    except OSError:
        return
    for sub in subdirs:
        if not _HEX2.match(sub):
            continue
        try:
            names = sorted(os.listdir(objects_dir / sub))
        except OSError:
            continue
        for name in names:
            if rest.match(name):
                yield sub + name, objects_dir / sub / name


def _verify_loose(path: Path, hex_id: str, hash_len: int, report: Report) -> None:
    try:
        kind, size, pieces = loose.open_stream(path, _CHUNK, _STREAM_SIZE_CAP)
        actual = _object_id(kind, size, pieces, hash_len)
    except GitError as exc:
        report.add(path, f"loose object does not decode: {exc}", hex_id)
        return
    except FileNotFoundError:
        return  # packed and pruned by a concurrent gc (rule 4)
    except OSError as exc:
        report.add(path, f"cannot read: {exc.strerror}", hex_id)
        return
    if actual.hex() != hex_id:
        report.add(path, f"loose object hashes to {actual.hex()}", hex_id)


# -- refs ----------------------------------------------------------------------------------


def _verify_refs(
    git_dir: Path, common_dir: Path, hash_len: int, odb: ObjectDatabase, report: Report
) -> None:
    packed_path = common_dir / "packed-refs"
    packed: dict[str, bytes] = {}
    try:
        parsed = PackedRefs.open(packed_path, hash_len)
    except GitError as exc:
        report.add(packed_path, f"does not parse: {exc}")
    else:
        for name, record in parsed.refs.items():
            packed[name] = record.oid
            if record.peeled is not None:
                _check_target(packed_path, f"{name} (peeled)", record.peeled, odb, report)
    values: dict[str, bytes | str] = dict(packed)
    loose_paths: dict[str, Path] = {}
    for name, path in _loose_ref_files(common_dir):
        loose_paths[name] = path
        try:
            value = read_loose(path, hash_len)
        except GitError as exc:
            report.add(path, f"ref does not parse: {exc}")
            values.pop(name, None)
            continue
        if value is not None:
            values[name] = value
    head_path = git_dir / "HEAD"
    try:
        head = read_loose(head_path, hash_len)
    except GitError as exc:
        report.add(head_path, f"does not parse: {exc}")
        head = None
    if head is not None:
        values["HEAD"] = head
        loose_paths["HEAD"] = head_path
    for name, target in sorted(values.items()):
        report.refs += 1
        path = loose_paths.get(name, packed_path)
        if isinstance(target, str):
            _check_symref(path, name, values, report)
        else:
            _check_target(path, name, target, odb, report)


def _loose_ref_files(common_dir: Path) -> Iterable[tuple[str, Path]]:
    """(ref name, path) of every file under ``refs/`` with a valid ref name."""
    for root, dirs, files in os.walk(common_dir / "refs"):
        dirs.sort()
        rel = Path(root).relative_to(common_dir).as_posix()
        for name in sorted(files):
            full = f"{rel}/{name}"
            if check_ref_format(full):
                yield full, Path(root) / name


def _check_symref(path: Path, name: str, values: dict[str, bytes | str], report: Report) -> None:
    seen = [name]
    current: bytes | str | None = values[name]
    while isinstance(current, str):
        if current in seen:
            report.add(path, f"symbolic ref loop: {' -> '.join([*seen, current])}")
            return
        if len(seen) > SYMREF_MAXDEPTH:
            report.add(path, f"symbolic ref chain deeper than {SYMREF_MAXDEPTH}: {name}")
            return
        seen.append(current)
        current = values.get(current)
    # A symref to a ref that does not exist yet (an unborn branch) is legitimate.


def _check_target(path: Path, name: str, oid: bytes, odb: ObjectDatabase, report: Report) -> None:
    if not odb.contains(oid):
        report.add(path, f"{name} points to a missing object", oid)
