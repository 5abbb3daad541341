"""The packserve engine: read a Git repository straight from its files (sync, stdlib only).

The HTTP shell uses only what is exported here; see ``Repository`` for the entry point and
``app.git.errors`` for the error tree.
"""

from __future__ import annotations

from app.git.errors import (
    AmbiguousRevision,
    CorruptIndex,
    CorruptObject,
    CorruptPack,
    CorruptRefs,
    CorruptRepository,
    DeltaError,
    GitError,
    InvalidName,
    NotFound,
    ObjectNotFound,
    PathNotFound,
    RefNotFound,
    SubmoduleEntry,
    SymlinkError,
    UnsupportedRepository,
)
from app.git.oid import ObjectId
from app.git.pack.stream import StoredStream
from app.git.repository import Blob, Repository
from app.git.revision import Target
from app.git.tree import DirEntry, Entry

__all__ = [
    "AmbiguousRevision",
    "Blob",
    "CorruptIndex",
    "CorruptObject",
    "CorruptPack",
    "CorruptRefs",
    "CorruptRepository",
    "DeltaError",
    "DirEntry",
    "Entry",
    "GitError",
    "InvalidName",
    "NotFound",
    "ObjectId",
    "ObjectNotFound",
    "PathNotFound",
    "RefNotFound",
    "Repository",
    "StoredStream",
    "SubmoduleEntry",
    "SymlinkError",
    "Target",
    "UnsupportedRepository",
]
