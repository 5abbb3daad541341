"""Walk a commit's tree to a path: only the trees on the path are inflated, results are cached.

Rules:

1. A path is ``/``-separated components below the root; ``""`` is the root and one trailing
   ``/`` is ignored. Empty, ``.`` and ``..`` components, and NUL, raise ``InvalidName``: the
   URL layer never needs them and they must not reach a lookup (DESIGN §3).
2. Symlinks (mode 120000, the blob holds the target) are followed inside the tree as a
   checkout's filesystem would (path_resolution(7)):
   relative targets resolve against the link's directory, ``..`` may climb but never above the
   root, absolute targets are refused, and at most ``MAX_SYMLINK_HOPS`` = 40 links are followed
   per lookup (Linux's ``MAXSYMLINKS``). A link that loops, escapes, dangles or is absolute
   raises ``SymlinkError``.
3. A gitlink (mode 160000) on the path raises ``SubmoduleEntry``: its commit lives in another
   repository (git-formats §3) and is never looked up here.
4. Caches: parsed trees by tree id and parsed commits by commit id (content-addressed, never
   stale), and ``(commit, path) → Entry`` results, so a warm lookup is one locked dict access.
   Errors are not cached.
5. Names are bytes in trees; they are exposed as ``str`` decoded as UTF-8 with
   ``surrogateescape``, so any name round-trips through ``lookup``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from app.git import objtype
from app.git.errors import (
    CorruptObject,
    InvalidName,
    PathNotFound,
    SubmoduleEntry,
    SymlinkError,
)
from app.git.lru import ByteLRU
from app.git.objects import (
    MODE_GITLINK,
    MODE_SYMLINK,
    MODE_TREE,
    Commit,
    TreeItem,
    parse_commit,
    parse_tree,
)
from app.git.oid import ObjectId

MAX_SYMLINK_HOPS = 40
# A symlink's target is a path; Linux's PATH_MAX bounds what a checkout could create.
MAX_SYMLINK_TARGET = 4096

# (type code, content) for an object id; raises ObjectNotFound.
ReadObject = Callable[[ObjectId], tuple[int, bytes]]


@dataclass(frozen=True, slots=True)
class Entry:
    """What a path resolves to in a commit, symlinks followed."""

    path: str  # path after following symlinks ("" for the root)
    mode: int  # 0o100644, 0o100755, 0o040000 or 0o160000; never 0o120000
    oid: ObjectId
    kind: Literal["blob", "tree"]


@dataclass(frozen=True, slots=True)
class DirEntry:
    """One entry of a directory listing, as stored (symlinks and gitlinks not followed)."""

    name: str
    mode: int
    oid: ObjectId
    kind: Literal["blob", "tree", "symlink", "gitlink"]


class ParsedTree:
    """A tree's entries in stored order, plus a name index (first entry of a name wins)."""

    __slots__ = ("items", "by_name")

    def __init__(self, items: tuple[TreeItem, ...]) -> None:
        self.items = items
        by_name: dict[bytes, TreeItem] = {}
        for item in items:
            by_name.setdefault(item.name, item)
        self.by_name = by_name


def _decode(name: bytes) -> str:
    return name.decode("utf-8", "surrogateescape")


def _kind(mode: int) -> Literal["blob", "tree", "symlink", "gitlink"]:
    if mode == MODE_TREE:
        return "tree"
    if mode == MODE_SYMLINK:
        return "symlink"
    if mode == MODE_GITLINK:
        return "gitlink"
    return "blob"


def _git_order(item: TreeItem) -> bytes:
    # git compares a directory's name as if it ended in "/" (git:tree.c ``verify_ordered``).
    return item.name + b"/" if item.mode == MODE_TREE else item.name


def split_path(path: str) -> list[bytes]:
    """Split a lookup path into name components; raise ``InvalidName`` for bad ones."""
    if path.endswith("/"):
        path = path[:-1]
    if not path:
        return []
    if "\0" in path:
        raise InvalidName(f"NUL in path {path!r}")
    parts = path.split("/")
    for part in parts:
        if part in ("", ".", ".."):
            raise InvalidName(f"invalid path component {part!r} in {path!r}")
    return [part.encode("utf-8", "surrogateescape") for part in parts]


class TreeWalker:
    """Path → entry over a commit's tree, with caches; thread-safe."""

    def __init__(self, read: ReadObject, hash_len: int, *, tree_cache_bytes: int = 64 << 20,
                 entry_cache_bytes: int = 16 << 20) -> None:
        self._read = read
        self._hash_len = hash_len
        self._trees: ByteLRU[ObjectId, ParsedTree] = ByteLRU(tree_cache_bytes)
        self._commits: ByteLRU[ObjectId, Commit] = ByteLRU(16 << 20)
        # Bounded by bytes: symlinks make arbitrarily long paths resolve ("a/self/self/…").
        self._entries: ByteLRU[tuple[ObjectId, str], Entry] = ByteLRU(entry_cache_bytes)

    def commit(self, oid: ObjectId) -> Commit:
        """The parsed commit ``oid`` (cached); ``CorruptObject`` if it is not a commit."""
        commit = self._commits.get(oid)
        if commit is None:
            code, body = self._read(oid)
            if code != objtype.COMMIT:
                raise CorruptObject(f"{oid.hex()} is a {objtype.type_name(code)}, not a commit")
            commit = parse_commit(body, self._hash_len)
            self._commits.put(oid, commit, len(body) + 128)
        return commit

    def tree(self, oid: ObjectId) -> ParsedTree:
        """The parsed tree ``oid`` (cached); ``CorruptObject`` if it is not a tree."""
        tree = self._trees.get(oid)
        if tree is None:
            code, body = self._read(oid)
            if code != objtype.TREE:
                raise CorruptObject(f"{oid.hex()} is a {objtype.type_name(code)}, not a tree")
            tree = ParsedTree(parse_tree(body, self._hash_len))
            # A parsed entry (TreeItem, name bytes, ObjectId, dict slot) costs about six times
            # its ~30 raw bytes.
            self._trees.put(oid, tree, 6 * len(body) + 64)
        return tree

    def list_dir(self, oid: ObjectId) -> list[DirEntry]:
        """The entries of tree ``oid`` in git's order (directories compare as ``name/``)."""
        items = sorted(self.tree(oid).items, key=_git_order)
        return [DirEntry(_decode(i.name), i.mode, i.oid, _kind(i.mode)) for i in items]

    def lookup(self, commit: ObjectId, path: str) -> Entry:
        """Resolve ``path`` in ``commit``'s tree, following symlinks (see module rules)."""
        key = (commit, path)
        entry = self._entries.get(key)
        if entry is None:
            parts = split_path(path)
            entry = self._walk(self.commit(commit).tree, parts, path)
            self._entries.put(key, entry, len(path) + len(entry.path) + 256)
        return entry

    def _link_target(self, oid: ObjectId, where: str) -> list[bytes]:
        code, body = self._read(oid)
        if code != objtype.BLOB:
            raise CorruptObject(f"symlink {where!r}: target object is not a blob")
        if not body or len(body) > MAX_SYMLINK_TARGET:
            raise SymlinkError(f"symlink {where!r}: empty or overlong target")
        if body.startswith(b"/"):
            raise SymlinkError(f"symlink {where!r}: absolute target {_decode(body)!r}")
        if b"\0" in body:
            raise SymlinkError(f"symlink {where!r}: NUL in target")
        return body.split(b"/")

    def _walk(self, root: ObjectId, parts: list[bytes], path: str) -> Entry:
        # `dirs` is the current directory as (name, tree id) from the root down; `todo` is a
        # stack of (component, came_from_a_symlink), next component last.
        dirs: list[tuple[bytes, ObjectId]] = []
        current = root
        todo = [(part, False) for part in reversed(parts)]
        hops = 0
        while todo:
            name, via_link = todo.pop()
            if name in (b"", b"."):
                continue
            if name == b"..":
                if not dirs:
                    raise SymlinkError(f"{path!r}: a symlink points above the tree root")
                dirs.pop()
                current = dirs[-1][1] if dirs else root
                continue
            item = self.tree(current).by_name.get(name)
            here = b"/".join([d for d, _ in dirs] + [name])
            if item is None:
                if via_link:
                    raise SymlinkError(f"{path!r}: symlink target {_decode(here)!r} is missing")
                raise PathNotFound(f"{path!r}: no entry {_decode(here)!r}")
            if item.mode == MODE_SYMLINK:
                hops += 1
                if hops > MAX_SYMLINK_HOPS:
                    raise SymlinkError(f"{path!r}: more than {MAX_SYMLINK_HOPS} symlinks")
                target = self._link_target(item.oid, _decode(here))
                todo.extend((part, True) for part in reversed(target))
                continue
            if item.mode == MODE_GITLINK:
                raise SubmoduleEntry(f"{path!r}: {_decode(here)!r} is a submodule "
                                     f"at commit {item.oid.hex()}")
            if item.mode == MODE_TREE:
                dirs.append((name, item.oid))
                current = item.oid
                continue
            if todo:
                if via_link or todo[-1][1]:
                    raise SymlinkError(f"{path!r}: symlink goes through file {_decode(here)!r}")
                raise PathNotFound(f"{path!r}: {_decode(here)!r} is a file, not a directory")
            return Entry(_decode(here), item.mode, item.oid, "blob")
        return Entry(_decode(b"/".join(d for d, _ in dirs)), MODE_TREE, current, "tree")
