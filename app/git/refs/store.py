"""The ref store: loose over packed, symrefs, and an immutable snapshot kept fresh by ``stat``.

Rules:

1. Precedence (git:refs/files-backend.c): a loose ref is read first; ``packed-refs`` is only the
   fallback, also when a directory sits at the ref path. Iteration overlays loose over packed.
2. Symrefs are followed at most ``SYMREF_MAXDEPTH`` = 5 deep (git:refs/refs-internal.h); a
   loop or a deeper chain raises ``CorruptRefs``. A symref to a missing ref is *unborn*.
3. Only the configured namespaces (default ``refs/heads/`` and ``refs/tags/``) are scanned and
   can be named; a symref inside them may point anywhere and is followed by direct reads. Such
   an outside target is not stamped: its move shows up with the next snapshot (any change in
   the exposed namespaces, ``packed-refs`` or ``HEAD``).
4. ``HEAD``, ``refs/bisect/``, ``refs/worktree/`` and ``refs/rewritten/`` are per-worktree and
   read from the git dir; every other ref and ``packed-refs`` from the common dir
   (git:Documentation/git-worktree.txt, "REFS").
5. Freshness: a snapshot records the stat of ``packed-refs`` and ``HEAD`` and the
   ``(mtime_ns, inode)`` of every namespace directory it scanned. Git updates refs by lock file
   and ``rename(2)``, and ``pack-refs``/``gc`` rewrite ``packed-refs`` the same way, so any
   ref change alters one of these stamps. The stamps are re-checked at most once per ``ttl``
   seconds (default 1 s; 0 checks on every call), so the hot path costs one clock read.
   Timestamps are coarse (a kernel tick), so a second update within the tick that the scan
   saw would keep the same stamp: a snapshot whose newest stamp is less than ``RACY_SECONDS``
   older than the scan is never trusted, and is rebuilt at the next check (git's "racy git"
   rule, git:Documentation/technical/racy-git.txt).
6. Snapshots are immutable and replaced by one assignment; readers never see a half-built one.
   The only mutable part is each snapshot's peel cache, a dict filled by single assignments.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from app.git.errors import CorruptRefs
from app.git.layout import Layout
from app.git.oid import ObjectId
from app.git.refs.loose import DirStamp, LooseValue, read_loose, scan, stamp_dirs
from app.git.refs.packed import PackedRef, PackedRefs

SYMREF_MAXDEPTH = 5
RACY_SECONDS = 2.0
_PER_WORKTREE = ("refs/bisect/", "refs/worktree/", "refs/rewritten/")

# Peels a ref's object to a commit id (None when it is not commit-ish); the packed-refs record,
# when there is one, carries a peel hint.
Peeler = Callable[[ObjectId, "PackedRef | None"], "ObjectId | None"]
FileStamp = tuple[int, int, int]


@dataclass(frozen=True, slots=True)
class ResolvedRef:
    """A ref after following symrefs: the name it ended at and its value."""

    name: str
    oid: ObjectId | None  # None: unborn (a symref to a ref that does not exist)
    packed: PackedRef | None  # the packed record when the value came from packed-refs


def _file_stamp(path: Path) -> FileStamp:
    try:
        st = os.stat(path)
    except OSError:
        return (0, 0, 0)
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def _is_per_worktree(name: str) -> bool:
    return name == "HEAD" or name.startswith(_PER_WORKTREE) or "/" not in name


@dataclass(slots=True)
class RefSnapshot:
    """All exposed refs at one moment, plus what is needed to tell when it went stale."""

    layout: Layout
    hash_len: int
    namespaces: tuple[str, ...]
    packed: PackedRefs
    loose: dict[str, LooseValue | CorruptRefs]  # exposed loose refs; they win over packed
    head: LooseValue | None
    packed_stamp: FileStamp
    head_stamp: FileStamp
    dir_stamps: tuple[tuple[Path, list[DirStamp]], ...]
    racy: bool  # some stamp was too recent to prove that nothing changed after the scan
    peeled: dict[str, ObjectId | None] = field(default_factory=dict)

    def is_exposed(self, name: str) -> bool:
        """Whether ``name`` lies in one of the configured namespaces."""
        return name.startswith(self.namespaces)

    def _read(self, name: str) -> tuple[LooseValue | None, PackedRef | None]:
        if name == "HEAD":
            return self.head, None
        if self.is_exposed(name):
            found = self.loose.get(name)
            if isinstance(found, CorruptRefs):
                raise CorruptRefs(str(found))
            loose = found
        else:
            base = self.layout.git_dir if _is_per_worktree(name) else self.layout.common_dir
            loose = read_loose(base / name, self.hash_len)
        if loose is not None:
            return loose, None
        record = self.packed.refs.get(name)
        return (record.oid if record else None), record

    def names(self) -> list[str]:
        """Every exposed ref name (loose or packed), sorted."""
        packed = (n for n in self.packed.refs if n.startswith(self.namespaces))
        return sorted(set(self.loose).union(packed))

    def resolve(self, name: str) -> ResolvedRef | None:
        """Follow ``name`` through symrefs; ``None`` when ``name`` itself does not exist."""
        seen: list[str] = []
        current = name
        while True:
            value, record = self._read(current)
            if value is None:
                return None if not seen else ResolvedRef(current, None, None)
            if not isinstance(value, str):
                return ResolvedRef(current, value, record)
            seen.append(current)
            if value in seen:
                raise CorruptRefs(f"symref loop: {' -> '.join([*seen, value])}")
            if len(seen) >= SYMREF_MAXDEPTH:
                raise CorruptRefs(f"symref chain deeper than {SYMREF_MAXDEPTH}: {name}")
            current = value

    def symref_target(self, name: str) -> str | None:
        """The ref ``name`` points at directly, when it is a symref."""
        value, _ = self._read(name)
        return value if isinstance(value, str) else None

    def commit_of(self, name: str, peel: Peeler) -> ObjectId | None:
        """The commit a ref peels to (cached per snapshot); None if absent, unborn or not
        commit-ish."""
        try:
            return self.peeled[name]
        except KeyError:
            pass
        resolved = self.resolve(name)
        commit = None
        if resolved is not None and resolved.oid is not None:
            commit = peel(resolved.oid, resolved.packed)
        self.peeled[name] = commit
        return commit


class RefStore:
    """Hands out a fresh ``RefSnapshot``; rebuilds it when a stamp changed."""

    def __init__(self, layout: Layout, hash_len: int, namespaces: Sequence[str],
                 *, ttl: float = 1.0) -> None:
        self._layout = layout
        self._hash_len = hash_len
        self._namespaces = tuple(ns if ns.endswith("/") else ns + "/" for ns in namespaces)
        self._ttl = ttl
        self._lock = threading.Lock()
        self._snapshot: RefSnapshot | None = None
        self._checked_at = 0.0

    @property
    def namespaces(self) -> tuple[str, ...]:
        """The ref prefixes exposed (``refs/heads/``, ``refs/tags/`` by default)."""
        return self._namespaces

    def snapshot(self) -> RefSnapshot:
        """The current snapshot, re-validated at most once per ``ttl`` seconds."""
        snap = self._snapshot
        now = time.monotonic()
        if snap is not None and now - self._checked_at < self._ttl:
            return snap
        if snap is not None and self._is_fresh(snap):
            self._checked_at = now
            return snap
        with self._lock:
            if self._snapshot is not snap and self._snapshot is not None:
                return self._snapshot
            fresh = self._build()
            self._snapshot = fresh
            self._checked_at = now
            return fresh

    def _is_fresh(self, snap: RefSnapshot) -> bool:
        if snap.racy:
            return False
        layout = self._layout
        if _file_stamp(layout.common_dir / "packed-refs") != snap.packed_stamp:
            return False
        if _file_stamp(layout.git_dir / "HEAD") != snap.head_stamp:
            return False
        return all(stamp_dirs(base, stamps) for base, stamps in snap.dir_stamps)

    def _build(self) -> RefSnapshot:
        layout = self._layout
        scanned_at = time.time_ns()
        # Stamps first: a change racing the reads below then shows up at the next check.
        packed_path = layout.common_dir / "packed-refs"
        packed_stamp = _file_stamp(packed_path)
        head_stamp = _file_stamp(layout.git_dir / "HEAD")
        dir_stamps: list[tuple[Path, list[DirStamp]]] = []
        loose_all: dict[str, LooseValue | CorruptRefs] = {}
        for ns in self._namespaces:
            base = layout.git_dir if _is_per_worktree(ns) else layout.common_dir
            found, stamps = scan(base, ns, self._hash_len)
            loose_all.update(found)
            dir_stamps.append((base, stamps))
        packed = PackedRefs.open(packed_path, self._hash_len)
        head = read_loose(layout.git_dir / "HEAD", self._hash_len)
        newest = max([packed_stamp[0], head_stamp[0]]
                     + [mtime for _, stamps in dir_stamps for _, mtime, _ in stamps])
        racy = scanned_at - newest < RACY_SECONDS * 1e9
        return RefSnapshot(layout=layout, hash_len=self._hash_len, namespaces=self._namespaces,
                           packed=packed, loose=loose_all, head=head, packed_stamp=packed_stamp,
                           head_stamp=head_stamp, dir_stamps=tuple(dir_stamps),
                           racy=racy)
