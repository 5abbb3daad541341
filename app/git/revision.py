"""Revisions: peel refs and tags to commits, and split a URL path into ``<revision>/<path>``.

Rules, in the order a URL path is tried (git:Documentation/revisions.txt, git:refs.c
``ref_rev_parse_rules``, git:object-name.c ``get_oid_basic``):

1. The path is rejected with ``InvalidName`` if it contains NUL, control characters, lone
   surrogates (malformed UTF-8), or an empty, ``.`` or ``..`` segment; or if its first segment
   cannot begin a ref name (git-check-ref-format) and is not hex.
2. A first segment of full hex length (40, or 64 for SHA-256; either case) that names a commit,
   or a tag that peels to a commit (tags of tags too), wins — as in git, where full-length hex
   is the object even if a ref has the same name.
3. Otherwise the *longest* prefix of the path, on ``/`` boundaries, that names an exposed ref
   wins, so ``feature/x/docs/a.txt`` finds branch ``feature/x`` even if ``feature`` exists.
   Each prefix ``<n>`` is tried as git's rev-parse does: ``HEAD`` (only as the whole first
   segment), then ``<n>`` itself when it starts with ``refs/``, ``refs/<n>``, ``refs/tags/<n>``,
   ``refs/heads/<n>``; the first of these that exists in an exposed namespace and peels to a
   commit is used. Tags therefore win over branches of the same short name, as in git.
   ``refs/remotes/`` rules are not applied: remotes are not exposed.
4. Otherwise a first segment of 4 or more hex digits is an abbreviated id (``minimum_abbrev``
   = 4, git:environment.c). Like git with a commit-ish type hint, only objects that peel to a
   commit count: one such object is the answer, several raise ``AmbiguousRevision``.
5. Nothing matched: ``RefNotFound``.

Peeling follows tag objects at most ``MAX_TAG_DEPTH`` deep with a cycle check; a packed-refs
``^`` line or a "known not peelable" trait short-cuts the walk (``refs.packed`` rule 2).
Per ref-snapshot results are cached: a short-name index, each ref's peeled commit, and the
``Target`` of each URL path resolved (an LRU dropped with the snapshot, so a ref change is seen
as soon as the store notices it; errors are not cached).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from app.git import objtype
from app.git.errors import (
    AmbiguousRevision,
    CorruptRefs,
    InvalidName,
    ObjectNotFound,
    RefNotFound,
)
from app.git.lru import ByteLRU
from app.git.objects import parse_tag
from app.git.oid import ObjectId
from app.git.refs.names import check_ref_format
from app.git.refs.packed import PackedRef
from app.git.refs.store import RefSnapshot, RefStore

MAX_TAG_DEPTH = 32
# Any "<ref>/<anything>" resolves, so the target cache is bounded by bytes, not entries: the
# key and the path are both as long as the URL.
TARGET_CACHE_BYTES = 16 << 20
_TARGET_OVERHEAD = 256
MIN_ABBREV = 4
# How many objects sharing an abbreviation are examined; more than this is ambiguous anyway.
ABBREV_PROBE_LIMIT = 64

_BAD_CHARS = re.compile(r"[\x00-\x1f\x7f]")
_HEX = re.compile(r"[0-9a-fA-F]+\Z")

# Order of git's rev-parse rules for a short name (refs.c ``ref_rev_parse_rules``).
_RULES = ("", "refs/", "refs/tags/", "refs/heads/")

Header = Callable[[ObjectId], tuple[int, int]]
Read = Callable[[ObjectId], tuple[int, bytes]]
FindPrefix = Callable[[str, int], list[ObjectId]]


@dataclass(frozen=True, slots=True)
class Target:
    """What the revision part of a URL path names, and the rest of the path."""

    commit: ObjectId
    kind: Literal["commit", "abbrev", "branch", "tag"]  # "commit": a full id; HEAD is "branch"
    ref: str  # as the URL spelled it: "main", "feature/x", "refs/tags/v1", "HEAD", "1a2b3c"
    full_ref: str | None  # "refs/heads/main" (for HEAD: its target); None for ids
    path: str  # the rest after the revision, without leading or trailing "/"
    trailing_slash: bool  # the URL path ended in "/"


def _kind_of(full_ref: str) -> Literal["branch", "tag"]:
    return "tag" if full_ref.startswith("refs/tags/") else "branch"


def _short_index(snap: RefSnapshot) -> dict[str, tuple[str, ...]]:
    """Map every short name a URL may use to the full names it can mean, in rule order."""
    ranked: dict[str, list[tuple[int, str]]] = {}
    for full in snap.names():
        for rank, prefix in enumerate(_RULES):
            if full.startswith(prefix) and len(full) > len(prefix):
                ranked.setdefault(full[len(prefix) :], []).append((rank, full))
    return {short: tuple(full for _, full in sorted(fulls)) for short, fulls in ranked.items()}


class RevisionResolver:
    """Resolves URL paths and ref names against a ``RefStore`` and an object database."""

    def __init__(self, refs: RefStore, header: Header, read: Read, find_prefix: FindPrefix,
                 hash_len: int) -> None:
        self._refs = refs
        self._header = header
        self._read = read
        self._find_prefix = find_prefix
        self._hash_len = hash_len
        self._index: tuple[RefSnapshot | None, dict[str, tuple[str, ...]]] = (None, {})
        self._targets: tuple[RefSnapshot | None, ByteLRU[str, Target]] = (None, ByteLRU(0))

    def peel(self, oid: ObjectId, hint: PackedRef | None = None) -> ObjectId | None:
        """The commit ``oid`` peels to through tag objects; None if not commit-ish or missing."""
        if hint is not None and hint.peeled is not None:
            oid = hint.peeled
        elif hint is not None and hint.peel_known:
            return oid if self._type_of(oid) == objtype.COMMIT else None
        seen: set[ObjectId] = set()
        for _ in range(MAX_TAG_DEPTH):
            code = self._type_of(oid)
            if code == objtype.COMMIT:
                return oid
            if code != objtype.TAG or oid in seen:
                return None
            seen.add(oid)
            _, body = self._read(oid)
            oid = parse_tag(body, self._hash_len).object
        return None

    def _type_of(self, oid: ObjectId) -> int | None:
        try:
            return self._header(oid)[0]
        except ObjectNotFound:
            return None

    def refs(self) -> dict[str, ObjectId]:
        """Every exposed ref that peels to a commit, by full name."""
        snap = self._refs.snapshot()
        out: dict[str, ObjectId] = {}
        for name in snap.names():
            try:
                commit = snap.commit_of(name, self.peel)
            except CorruptRefs:
                continue  # a broken ref or symref loop: skipped, as git for-each-ref does
            if commit is not None:
                out[name] = commit
        return out

    def head(self) -> str | None:
        """The ref ``HEAD`` points at (even if unborn); None when detached or missing."""
        return self._refs.snapshot().symref_target("HEAD")

    def _index_for(self, snap: RefSnapshot) -> dict[str, tuple[str, ...]]:
        cached_snap, index = self._index
        if cached_snap is not snap:
            index = _short_index(snap)
            self._index = (snap, index)
        return index

    def resolve(self, url_path: str) -> Target:
        """Split ``url_path`` into a revision and a path; see the module rules for the order."""
        snap = self._refs.snapshot()
        cached_snap, targets = self._targets
        if cached_snap is not snap:
            targets = ByteLRU(TARGET_CACHE_BYTES)
            self._targets = (snap, targets)
        target = targets.get(url_path)
        if target is None:
            target = self._resolve(url_path, snap)
            targets.put(url_path, target, 2 * len(url_path) + _TARGET_OVERHEAD)
        return target

    def _resolve(self, url_path: str, snap: RefSnapshot) -> Target:
        trailing = url_path.endswith("/")
        body = url_path[:-1] if trailing else url_path
        if not body:
            raise InvalidName("empty revision")
        if _BAD_CHARS.search(body):
            raise InvalidName(f"control character in {url_path!r}")
        try:
            body.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidName(f"malformed UTF-8 in {url_path!r}") from None
        segments = body.split("/")
        for segment in segments:
            if segment in ("", ".", ".."):
                raise InvalidName(f"invalid path segment {segment!r} in {url_path!r}")
        first = segments[0]
        is_hex = _HEX.match(first) is not None
        if not is_hex and not check_ref_format(first, allow_onelevel=True):
            raise InvalidName(f"{first!r} cannot be a ref name")

        if is_hex and len(first) == 2 * self._hash_len:
            commit = self.peel(ObjectId(bytes.fromhex(first)))
            if commit is not None:
                return Target(commit, "commit", first, None, "/".join(segments[1:]), trailing)

        if first == "HEAD":
            resolved = snap.resolve("HEAD")
            commit = self.peel(resolved.oid) if resolved and resolved.oid else None
            if commit is not None:
                full = snap.symref_target("HEAD") or "HEAD"
                return Target(commit, "branch", "HEAD", full, "/".join(segments[1:]), trailing)
        index = self._index_for(snap)
        for n in range(len(segments), 0, -1):
            short = "/".join(segments[:n])
            for full in index.get(short, ()):
                commit = snap.commit_of(full, self.peel)
                if commit is not None:
                    return Target(commit, _kind_of(full), short, full, "/".join(segments[n:]),
                                  trailing)

        if is_hex and MIN_ABBREV <= len(first) < 2 * self._hash_len:
            commit = self._abbrev(first.lower())
            if commit is not None:
                return Target(commit, "abbrev", first, None, "/".join(segments[1:]), trailing)
        raise RefNotFound(f"no exposed ref, commit or unique abbreviation for {url_path!r}")

    def _abbrev(self, prefix: str) -> ObjectId | None:
        candidates = self._find_prefix(prefix, ABBREV_PROBE_LIMIT)
        if len(candidates) >= ABBREV_PROBE_LIMIT:
            raise AmbiguousRevision(f"short id {prefix} matches {len(candidates)}+ objects")
        matches: dict[ObjectId, ObjectId] = {}
        for oid in candidates:
            commit = self.peel(oid)
            if commit is not None:
                matches[oid] = commit
        if len(matches) > 1:
            listed = ", ".join(sorted(oid.hex() for oid in matches))
            raise AmbiguousRevision(f"short id {prefix} is ambiguous: {listed}")
        return next(iter(matches.values()), None)
