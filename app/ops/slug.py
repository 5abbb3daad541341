"""Ref name → preview host label ("slug"), the way Cloudflare Pages and Netlify name previews.

The rule, applied to every exposed ref at once (``preview_slugs``):

1. Start from the short name: ``refs/heads/`` and ``refs/tags/`` are dropped, any other
   namespace keeps its name without ``refs/`` (``refs/pull/7/head`` → ``pull/7/head``).
2. Lowercase it; every run of characters outside ``[a-z0-9]`` becomes one ``-``; leading
   and trailing ``-`` go. An empty result becomes ``ref``. (``Fix/API_v2`` → ``fix-api-v2``.)
   Because runs collapse, a slug never contains ``--``, which leaves ``--`` free as a
   separator (``<slug>--<repo>`` in multi-repository deployments).
3. A slug longer than the cap (a DNS label is at most 63 octets, RFC 1035 §2.3.4, minus
   what the caller reserves) is cut and gets the suffix ``-<hash>``: the first 6 hex digits
   of SHA-256 of the full ref name. So two long names with a common start stay distinct.
4. When several refs end with the same slug, a ref whose short name already *is* that
   slug keeps it (a branch before a tag); every other ref of the group gets ``-<hash>``.
   Creating ``fix/api`` therefore never moves the preview of an existing ``fix-api``.
5. In the astronomically rare case that a suffixed slug still collides, the hash grows to
   12 hex digits.

Everything depends only on the set of ref names, so every worker and every restart
computes the same map.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

DNS_LABEL_MAX = 63
_NON_ALNUM = re.compile(r"[^a-z0-9]+")
_HASH_LENGTHS = (6, 12)
# Lower rank keeps the bare slug in a collision between canonical names.
_NAMESPACE_RANK = {"refs/heads/": 0, "refs/tags/": 1}


def short_name(ref: str) -> str:
    """The name a person would type: ``refs/heads/x`` → ``x``, ``refs/pull/1`` → ``pull/1``."""
    for namespace in _NAMESPACE_RANK:
        if ref.startswith(namespace):
            return ref[len(namespace):]
    return ref.removeprefix("refs/")


def _hash(ref: str, length: int) -> str:
    return hashlib.sha256(ref.encode("utf-8", "surrogateescape")).hexdigest()[:length]


def _suffixed(base: str, ref: str, max_length: int, hash_length: int) -> str:
    suffix = "-" + _hash(ref, hash_length)
    return base[: max_length - len(suffix)].rstrip("-") + suffix


def slugify(ref: str, max_length: int = DNS_LABEL_MAX) -> str:
    """Rules 1–3 for one ref, ignoring collisions with other refs."""
    if max_length < 1 + 1 + _HASH_LENGTHS[-1]:
        raise ValueError(f"max_length {max_length} leaves no room for a hash suffix")
    base = _NON_ALNUM.sub("-", short_name(ref).lower()).strip("-") or "ref"
    if len(base) <= max_length:
        return base
    return _suffixed(base, ref, max_length, _HASH_LENGTHS[0])


def preview_slugs(refs: Iterable[str], max_length: int = DNS_LABEL_MAX) -> dict[str, str]:
    """Map every full ref name to a distinct slug (rules 1–5)."""
    groups: dict[str, list[str]] = {}
    for ref in refs:
        groups.setdefault(slugify(ref, max_length), []).append(ref)
    result: dict[str, str] = {}
    suffixed: list[tuple[str, str]] = []
    for slug, members in groups.items():
        canonical = sorted(
            (ref for ref in members if short_name(ref) == slug),
            key=lambda ref: (_NAMESPACE_RANK.get(ref[: ref.find("/", 5) + 1], 2), ref),
        )
        keeper = canonical[0] if canonical else members[0] if len(members) == 1 else None
        for ref in members:
            if ref == keeper:
                result[ref] = slug
            else:
                suffixed.append((slug, ref))
    taken = set(result.values())
    for slug, ref in sorted(suffixed, key=lambda item: item[1]):
        for length in _HASH_LENGTHS:
            candidate = _suffixed(slug, ref, max_length, length)
            if candidate not in taken:
                break
        taken.add(candidate)
        result[ref] = candidate
    return result
