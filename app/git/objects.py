"""Parse commit, tag and tree bodies (the content after the loose/pack header).

Rules (git:Documentation/gitformat-object / git:commit.c, git:tag.c, git:tree-walk.c):

1. Commits and tags are parsed leniently: real repositories hold malformed idents, dates and
   time zones (git:fsck.h ``badTimezone``, ``zeroPaddedDate``, ``missingSpaceBeforeDate``…).
   Only what the engine relies on is required: a commit's ``tree`` line, a tag's ``object``
   and ``type`` lines. Everything else is kept raw. Continuation lines (leading SP, e.g. in
   ``gpgsig``) belong to the header above them.
2. The committer time is read as git's ``parse_commit_date`` does: the digits after the last
   ``>`` of the ``committer`` line; 0 when absent or unparsable.
3. Trees are validated structurally — an octal mode, SP, a non-empty name, NUL, exactly
   ``hash_len`` id bytes — and any violation raises ``CorruptObject``. Modes are normalised
   with git's ``canon_mode`` (git:object.h), so legacy ``100664`` reads as ``100644`` and
   zero-padded modes are accepted. Order and duplicates are not checked: git reads broken
   trees too, and lookups take the first entry of a name.
"""

from __future__ import annotations

import re
import stat
from dataclasses import dataclass

from app.git.errors import CorruptObject
from app.git.oid import ObjectId

MODE_FILE = 0o100644
MODE_EXECUTABLE = 0o100755
MODE_SYMLINK = 0o120000
MODE_TREE = 0o040000
MODE_GITLINK = 0o160000

_MAX_MODE_DIGITS = 7
_HEX = re.compile(rb"[0-9a-f]+\Z")
_DIGITS = re.compile(rb"\s*(\d+)")


@dataclass(frozen=True, slots=True)
class Commit:
    """The parts of a commit the engine uses, plus the raw header lines."""

    tree: ObjectId
    parents: tuple[ObjectId, ...]
    author: bytes
    committer: bytes
    commit_time: int
    message: bytes


@dataclass(frozen=True, slots=True)
class Tag:
    """An annotated tag object."""

    object: ObjectId
    type_name: bytes  # b"commit", b"tree", b"blob" or b"tag"
    name: bytes
    tagger: bytes | None  # old tags have none (fsck MISSING_TAGGER_ENTRY)
    message: bytes


@dataclass(frozen=True, slots=True)
class TreeItem:
    """One tree entry: canonical mode, raw name bytes, id."""

    mode: int
    name: bytes
    oid: ObjectId


def canon_mode(mode: int) -> int:
    """git:object.h ``canon_mode``: the mode git uses for any stored mode value."""
    if stat.S_ISREG(mode):
        return MODE_EXECUTABLE if mode & 0o100 else MODE_FILE
    if stat.S_ISLNK(mode):
        return MODE_SYMLINK
    if stat.S_ISDIR(mode):
        return MODE_TREE
    return MODE_GITLINK


def _headers(body: bytes) -> tuple[list[tuple[bytes, bytes]], bytes]:
    """Split ``key SP value`` header lines (with SP continuations) from the message."""
    head, sep, message = body.partition(b"\n\n")
    if not sep and body.endswith(b"\n"):
        head = body[:-1]
    headers: list[tuple[bytes, bytes]] = []
    for line in head.split(b"\n") if head else ():
        if line.startswith(b" ") and headers:
            key, value = headers[-1]
            headers[-1] = (key, value + b"\n" + line[1:])
            continue
        key, _, value = line.partition(b" ")
        headers.append((key, value))
    return headers, message


def _oid(value: bytes, hash_len: int, what: str) -> ObjectId:
    if len(value) != 2 * hash_len or not _HEX.match(value):
        raise CorruptObject(f"{what}: bad object id {value[:80]!r}")
    return ObjectId(bytes.fromhex(value.decode("ascii")))


def _ident_time(ident: bytes) -> int:
    """git:commit.c ``parse_commit_date``: digits after the last '>'; 0 if none."""
    close = ident.rfind(b">")
    if close < 0:
        return 0
    m = _DIGITS.match(ident, close + 1)
    if m is None:
        return 0
    digits = m.group(1)
    # git parses with strtoumax into timestamp_t; an overflow reads as 0.
    return int(digits) if len(digits) <= 19 else 0


def parse_commit(body: bytes, hash_len: int) -> Commit:
    """Parse a commit body; only the first ``tree`` line is required."""
    headers, message = _headers(body)
    if not headers or headers[0][0] != b"tree":
        raise CorruptObject("commit: no tree line first")
    tree = _oid(headers[0][1], hash_len, "commit tree")
    parents: list[ObjectId] = []
    author = committer = b""
    for key, value in headers[1:]:
        if key == b"parent" and not author and not committer:
            parents.append(_oid(value, hash_len, "commit parent"))
        elif key == b"author" and not author:
            author = value
        elif key == b"committer" and not committer:
            committer = value
    return Commit(tree=tree, parents=tuple(parents), author=author, committer=committer,
                  commit_time=_ident_time(committer), message=message)


def parse_tag(body: bytes, hash_len: int) -> Tag:
    """Parse an annotated tag body; ``object`` and ``type`` are required."""
    headers, message = _headers(body)
    fields: dict[bytes, bytes] = {}
    for key, value in headers:
        fields.setdefault(key, value)
    if b"object" not in fields or b"type" not in fields:
        raise CorruptObject("tag: missing object or type line")
    return Tag(object=_oid(fields[b"object"], hash_len, "tag object"), type_name=fields[b"type"],
               name=fields.get(b"tag", b""), tagger=fields.get(b"tagger"), message=message)


def parse_tree(body: bytes, hash_len: int) -> tuple[TreeItem, ...]:
    """Parse a tree body into its entries, in stored order."""
    items: list[TreeItem] = []
    pos = 0
    end = len(body)
    while pos < end:
        space = body.find(b" ", pos, pos + _MAX_MODE_DIGITS + 1)
        if space <= pos:
            raise CorruptObject(f"tree: bad mode at offset {pos}")
        raw_mode = body[pos:space]
        if not raw_mode.isdigit() or b"8" in raw_mode or b"9" in raw_mode:
            raise CorruptObject(f"tree: mode {raw_mode[:16]!r} is not octal at offset {pos}")
        nul = body.find(b"\0", space + 1)
        if nul < 0:
            raise CorruptObject(f"tree: entry name not NUL-terminated at offset {pos}")
        if nul == space + 1:
            raise CorruptObject(f"tree: empty entry name at offset {pos}")
        oid_end = nul + 1 + hash_len
        if oid_end > end:
            raise CorruptObject(f"tree: truncated object id at offset {nul + 1}")
        items.append(TreeItem(canon_mode(int(raw_mode, 8)), body[space + 1 : nul],
                              ObjectId(body[nul + 1 : oid_end])))
        pos = oid_end
    return tuple(items)
