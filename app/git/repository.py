"""``Repository``: the engine's one stateful façade over layout, refs, objects and trees.

Rules:

1. Opening costs the same for ten objects and ten million: it finds the directories, reads the
   config's format keys and opens the object database (mmap + header checks only). Refs are
   read on first use.
2. Everything the HTTP shell needs goes through this class and the dataclasses it returns
   (``Target``, ``Entry``, ``DirEntry``, ``Blob``, ``StoredStream``); nothing else in
   ``app.git`` is part of the contract.
3. Thread-safe: all state is either immutable snapshots replaced by assignment (refs, pack
   lists) or lock-guarded LRU caches. Cached calls (``resolve`` of a known ref, ``lookup`` of
   a known ``(commit, path)``) do no I/O besides the ref freshness check (``refs.store``
   rule 5) and may run on the event loop; cold calls inflate and belong on a worker thread.
4. Only errors from ``app.git.errors`` escape.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from app.git import objtype
from app.git.errors import InvalidName, ObjectNotFound
from app.git.gitconfig import read_repository_format
from app.git.layout import discover
from app.git.odb import ObjectDatabase
from app.git.oid import ObjectId
from app.git.pack.stream import StoredStream
from app.git.refs.store import RefStore
from app.git.revision import RevisionResolver, Target
from app.git.tree import DirEntry, Entry, TreeWalker

DEFAULT_NAMESPACES = ("refs/heads/", "refs/tags/")

@dataclass(frozen=True, slots=True)
class Blob:
    """A blob's size and, when it is stored whole in a pack, its zlib stream."""

    oid: ObjectId
    size: int  # inflated content size
    stored: StoredStream | None  # None for deltas, loose objects and FDICT streams


def _check_namespaces(namespaces: Sequence[str]) -> tuple[str, ...]:
    checked = []
    for ns in namespaces:
        if not ns.startswith("refs/") or not ns.endswith("/") or ".." in ns or "//" in ns:
            raise InvalidName(f"ref namespace must look like 'refs/<name>/': {ns!r}")
        checked.append(ns)
    return tuple(checked)


class Repository:
    """A Git repository read straight from its files; see the module rules."""

    def __init__(self, git_dir: Path, common_dir: Path, object_format: str, hash_len: int,
                 odb: ObjectDatabase, refs: RefStore) -> None:
        self.git_dir = git_dir
        self.common_dir = common_dir
        self.object_format = object_format
        self.hash_len = hash_len
        self._odb = odb
        self._refs = refs
        self._trees = TreeWalker(odb.read, hash_len)
        self._revisions = RevisionResolver(refs, odb.header, odb.read, odb.find_prefix, hash_len)

    @classmethod
    def open(cls, path: str | os.PathLike[str], *,
             namespaces: Sequence[str] = DEFAULT_NAMESPACES,
             refs_ttl: float = 1.0) -> Repository:
        """Open the repository at ``path`` (working tree, ``.git`` dir or file, bare repo).

        ``namespaces`` are the ref prefixes URLs may name. ``refs_ttl`` is how many seconds a
        ref snapshot is trusted before its file stamps are checked again (0: every call).
        Raises ``UnsupportedRepository`` for a non-repository, a reftable repository or an
        unknown format extension.
        """
        layout = discover(path)
        fmt = read_repository_format(layout.common_dir)
        odb = ObjectDatabase.open(layout.objects_dir, fmt.hash_len)
        refs = RefStore(layout, fmt.hash_len, _check_namespaces(namespaces), ttl=refs_ttl)
        return cls(layout.git_dir, layout.common_dir, fmt.object_format, fmt.hash_len, odb,
                   refs)

    def needs_prepare(self) -> bool:
        """Whether some pack has no pack order yet (no ``.rev``, not built): ``blob`` would
        build it, in time in the number of objects, unless told not to (``build_order``)."""
        return self._odb.needs_prepare()

    def prepare(self) -> None:
        """Build now what the first blob lookups would otherwise build on first use: the
        pack order of packs without a ``.rev`` (DESIGN.md §2). Costs time in the number of
        objects (holding the GIL only briefly at a time), so servers call it from a worker
        thread — at start-up, and whenever ``needs_prepare`` says a new pack came. Raises
        ``CorruptIndex`` for a pack whose order cannot be built, after trying the others."""
        self._odb.prepare()

    def close(self) -> None:
        """Release the object database. Streams already handed out stay readable."""
        close = getattr(self._odb, "close", None)
        if close is not None:
            close()

    def __enter__(self) -> Repository:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # Refs and revisions

    def refs(self) -> dict[str, ObjectId]:
        """Exposed refs by full name (``refs/heads/main``) → the commit they peel to."""
        return self._revisions.refs()

    def head(self) -> str | None:
        """The ref ``HEAD`` points at (``refs/heads/main``), even if unborn; None if detached."""
        return self._revisions.head()

    def resolve(self, url_path: str) -> Target:
        """Split a percent-decoded URL path (no leading ``/``) into a commit and a path.

        Order: a full hex id naming a commit or a tag; then the longest ``/``-bounded prefix
        that is an exposed ref, trying ``HEAD``, ``refs/<n>``, ``refs/tags/<n>``,
        ``refs/heads/<n>`` as ``git rev-parse`` does; then an abbreviated id (≥ 4 hex) unique
        among commit-ish objects. Raises ``InvalidName``, ``RefNotFound`` or
        ``AmbiguousRevision``. See ``app.git.revision`` for the full rules.
        """
        return self._revisions.resolve(url_path)

    # Trees

    def lookup(self, commit: ObjectId, path: str) -> Entry:
        """The entry at ``path`` in ``commit`` ("" is the root), symlinks followed.

        Raises ``PathNotFound``, ``SymlinkError``, ``SubmoduleEntry`` or ``InvalidName``.
        """
        return self._trees.lookup(commit, path)

    def list_dir(self, tree: ObjectId) -> list[DirEntry]:
        """The entries of a tree, sorted as git sorts them (directories compare as ``name/``)."""
        return self._trees.list_dir(tree)

    def commit_time(self, commit: ObjectId) -> int:
        """The committer timestamp of ``commit`` (seconds since the epoch; 0 if unparsable)."""
        return self._trees.commit(commit).commit_time

    # Blobs

    def _require_blob(self, oid: ObjectId) -> int:
        code, size = self._odb.header(oid)
        if code != objtype.BLOB:
            raise ObjectNotFound(f"{oid.hex()} is a {objtype.type_name(code)}, not a blob")
        return size

    def blob(self, oid: ObjectId, *, build_order: bool = True) -> Blob:
        """The blob's size and stored stream, without inflating it. Where the stream's pack
        has no pack order yet, it is built first (``needs_prepare``) — or, with
        ``build_order=False``, the stream's end is found by inflating the blob instead (time
        in its size, not the pack's: what a server does while ``prepare`` runs)."""
        size = self._require_blob(oid)
        return Blob(oid, size, self._odb.stored_stream(oid, build_order=build_order))

    def read_blob(self, oid: ObjectId) -> bytes:
        """The blob's full content (deltas resolved)."""
        code, content = self._odb.read(oid)
        if code != objtype.BLOB:
            raise ObjectNotFound(f"{oid.hex()} is a {objtype.type_name(code)}, not a blob")
        return content

    def iter_blob(self, oid: ObjectId, chunk_size: int = 65536) -> Iterator[bytes]:
        """The blob's content in chunks of at most ``chunk_size`` bytes, in bounded memory."""
        self._require_blob(oid)
        return self._odb.iter_content(oid, chunk_size)

    def object_size(self, oid: ObjectId) -> int:
        """The inflated size of any object, from its header."""
        return self._odb.header(oid)[1]
