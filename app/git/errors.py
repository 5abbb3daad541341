"""Every error the engine raises, each with the HTTP status the shell should answer.

Rule: the engine raises only these classes. A malformed pack, index, ref file or
object never escapes as ``AssertionError``, ``IndexError``, ``struct.error``,
``ValueError`` or a bare ``zlib.error``; parsers catch those at the point of
decoding and re-raise one of the classes below, naming the file and offset.

The tree::

    GitError                      500  base class; ``status_hint`` on every class
    ├── NotFound                  404  a name that does not exist
    │   ├── RefNotFound           404  no exposed ref, id or abbreviation matches
    │   ├── ObjectNotFound        404  an object id is in no pack, loose or alternate
    │   ├── PathNotFound          404  no entry at that path in the commit's tree
    │   ├── SubmoduleEntry        404  the path is a gitlink: its commit lives elsewhere
    │   └── SymlinkError          404  a symlink loops, escapes the tree root or dangles
    ├── InvalidName               400  a ref or path that can never be valid (``..``, NUL, …)
    ├── AmbiguousRevision         409  an abbreviated id matches several objects
    ├── UnsupportedRepository     500  a layout or extension we refuse (e.g. reftable)
    └── CorruptRepository         500  on-disk data that does not decode
        ├── CorruptIndex          500  ``.idx`` / ``.rev`` / multi-pack-index
        ├── CorruptPack           500  ``.pack`` header, entry header, zlib stream, sizes
        ├── DeltaError            500  a delta that does not apply, a cycle, a chain too deep
        ├── CorruptObject         500  a commit, tree or tag body that does not parse
        └── CorruptRefs           500  ``packed-refs``, a loose ref, a symref loop
"""

from __future__ import annotations


class GitError(Exception):
    """Base of every engine error; ``status_hint`` is the HTTP status to answer."""

    status_hint: int = 500


class NotFound(GitError):
    """A name (ref, object, path) that does not exist."""

    status_hint = 404


class RefNotFound(NotFound):
    """No exposed ref, full id or unique abbreviation matches the revision."""


class ObjectNotFound(NotFound):
    """The object id is not in any pack, loose object directory or alternate."""


class PathNotFound(NotFound):
    """The commit's tree has no entry at the requested path."""


class SubmoduleEntry(NotFound):
    """The path names a gitlink (mode 160000); its commit is in another repository."""


class SymlinkError(NotFound):
    """A symlink inside the tree loops, points above the root, or dangles."""


class InvalidName(GitError):
    """A ref name or path that is malformed whatever the repository holds."""

    status_hint = 400


class AmbiguousRevision(GitError):
    """An abbreviated object id that matches more than one object."""

    status_hint = 409


class UnsupportedRepository(GitError):
    """A repository layout or extension the engine refuses to read."""


class CorruptRepository(GitError):
    """On-disk data that does not decode; the base of every corruption error."""


class CorruptIndex(CorruptRepository):
    """A ``.idx``, ``.rev`` or multi-pack-index file that does not decode."""


class CorruptPack(CorruptRepository):
    """A ``.pack`` file whose header, entry or zlib stream does not decode."""


class DeltaError(CorruptRepository):
    """A delta that does not apply: bad sizes, out-of-range copy, opcode 0, cycle, depth."""


class CorruptObject(CorruptRepository):
    """A commit, tree or tag whose body does not parse."""


class CorruptRefs(CorruptRepository):
    """A ``packed-refs`` file or loose ref that does not parse, or a symref loop."""
