"""Object type codes shared by packs, loose objects and the object database.

Rules:
1. One integer per type, the codes of gitformat-pack ("Object types"): 1 commit, 2 tree,
   3 blob, 4 tag, 6 OFS_DELTA, 7 REF_DELTA. 0 is invalid and 5 is reserved.
2. Only the four *object* types (1..4) ever leave the object database; the two delta types
   are pack-internal encodings.
3. Names are the ASCII words git writes in loose headers and ``git cat-file -t``.
"""

from __future__ import annotations

COMMIT = 1
TREE = 2
BLOB = 3
TAG = 4
OFS_DELTA = 6
REF_DELTA = 7

OBJECT_TYPES = frozenset({COMMIT, TREE, BLOB, TAG})

_NAMES = {COMMIT: "commit", TREE: "tree", BLOB: "blob", TAG: "tag"}
_CODES = {name: code for code, name in _NAMES.items()}
_CODES_BYTES = {name.encode("ascii"): code for code, name in _NAMES.items()}


def type_name(code: int) -> str:
    """Return ``"commit"``, ``"tree"``, ``"blob"`` or ``"tag"`` for an object type code."""
    try:
        return _NAMES[code]
    except KeyError:
        raise ValueError(f"not an object type code: {code}") from None


def type_code(name: str | bytes) -> int | None:
    """Return the code for an object type name, or ``None`` if it is not one of the four."""
    if isinstance(name, bytes):
        return _CODES_BYTES.get(name)
    return _CODES.get(name)
