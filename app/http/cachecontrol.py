"""Cache-Control values by how the URL named the commit (RFC 9111 §5.2.2, RFC 8246, RFC 5861).

Rules of this module:
1. Pure and memoized: a value depends only on the ref kind and a frozen ``CachePolicy``, so
   each distinct header string is built once.
2. What a URL names decides its lifetime: a full commit id names bytes that can never change;
   a branch, tag or abbreviated id is a movable name and gets the operator's policy.

Decisions:
- Full commit id: ``public, max-age=31536000, immutable`` (one year, the conventional maximum;
  RFC 8246 ``immutable`` stops browsers revalidating on reload).
- Movable names: ``public, max-age=N`` plus the policy's optional ``s-maxage`` (RFC 9111
  §5.2.2.10), ``stale-while-revalidate`` and ``stale-if-error`` (RFC 5861). No
  ``must-revalidate``: it would forbid exactly the stale serving the policy asks for. The
  validators (strong ETags) make revalidation a cheap 304.
- ``no-transform`` (RFC 9111 §5.2.2.6) on every blob answer, by default: we serve files
  byte-exact, and our coded representations only make sense untouched — it keeps Cloudflare
  from recompressing, keeps ``Content-Length`` and our strong ETags (http-semantics.md §5, §7
  item 16), and stops "optimizations" (minifiers, e-mail obfuscation) rewriting the content.
  The cost: a CDN will not transcode our gzip to br for its clients.
- A 404 is a movable fact except under a full commit id (a commit's tree never changes), but it
  is never cached longer than the matching positive answer, and at most ``NOT_FOUND_MAX_AGE``
  seconds (60) under movable names, one hour under a commit id: a fixed deployment (new
  namespaces exposed) should not stay invisible for a year.
- A redirect the service derives from the tree (``/<ref>`` → ``/<ref>/``, a directory without
  its slash) has the lifetime of the content it leads to. A redirect from a branch to its
  current commit changes with every push: the branch policy, no stale serving.
- Errors caused by the request (400, 405, 406, 414) and server errors: ``no-store``.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Final, Literal

from app.config import CachePolicy, Settings

__all__ = [
    "IMMUTABLE",
    "NOT_FOUND_MAX_AGE",
    "NO_STORE",
    "RefKind",
    "for_branch_redirect",
    "for_listing",
    "for_not_found",
    "for_ref",
    "format_policy",
    "policy_for",
]

RefKind = Literal["commit", "abbrev", "branch", "tag"]

IMMUTABLE: Final = "public, max-age=31536000, immutable"
"""Lifetime of anything named by a full commit id (without ``no-transform``)."""
NO_STORE: Final = "no-store"
"""For errors the request caused (400, 405, 406, 414) and 5xx. A 416 uses ``for_ref``."""
NOT_FOUND_MAX_AGE: Final = 60
_COMMIT_NOT_FOUND_MAX_AGE = 3600
_COMMIT_LISTING_MAX_AGE = 86400  # listing HTML/JSON also depends on the service's version


def policy_for(kind: RefKind, settings: Settings) -> CachePolicy | None:
    """The configured policy for a movable name, or None for a full commit id."""
    if kind == "branch":
        return settings.branch_cache
    if kind == "tag":
        return settings.tag_cache
    if kind == "abbrev":
        return settings.abbrev_cache
    return None


@lru_cache(maxsize=64)
def format_policy(policy: CachePolicy | None, no_transform: bool = True) -> str:
    """Render a policy (None = immutable) as a Cache-Control value, memoized.

    >>> format_policy(CachePolicy(max_age=60, s_maxage=120), no_transform=False)
    'public, max-age=60, s-maxage=120'
    """
    if policy is None:
        parts = [IMMUTABLE]
    else:
        parts = ["public", f"max-age={policy.max_age}"]
        if policy.s_maxage is not None:
            parts.append(f"s-maxage={policy.s_maxage}")
        if policy.stale_while_revalidate is not None:
            parts.append(f"stale-while-revalidate={policy.stale_while_revalidate}")
        if policy.stale_if_error is not None:
            parts.append(f"stale-if-error={policy.stale_if_error}")
    if no_transform:
        parts.append("no-transform")
    return ", ".join(parts)


def for_ref(kind: RefKind, settings: Settings, *, no_transform: bool = True) -> str:
    """Cache-Control for a blob (200, 206, 304, 416) or a tree-derived redirect.

    ``kind`` is ``Target.kind``: ``"commit"`` gives ``IMMUTABLE`` (+ ``no-transform``); the
    others format the matching ``Settings.*_cache`` policy.
    """
    return format_policy(policy_for(kind, settings), no_transform)


def for_listing(kind: RefKind, settings: Settings) -> str:
    """Cache-Control for a directory listing or the refs index of this ref kind.

    A listing under a full commit id lives a day rather than a year: its markup belongs to
    the service and changes with upgrades. No ``no-transform``: listings are our own pages.
    """
    if kind == "commit":
        return _short(_COMMIT_LISTING_MAX_AGE)
    return format_policy(policy_for(kind, settings), False)


def for_not_found(kind: RefKind | None, settings: Settings) -> str:
    """Cache-Control for a 404: ``kind`` of the resolved ref, or None when no ref matched.

    Unknown refs use the branch policy's lifetime (a push can create them); every movable
    name is capped at ``NOT_FOUND_MAX_AGE``; a path missing from a full commit id, an hour.
    """
    if kind == "commit":
        return _short(_COMMIT_NOT_FOUND_MAX_AGE)
    policy = policy_for(kind or "branch", settings)
    max_age = NOT_FOUND_MAX_AGE if policy is None else min(policy.max_age, NOT_FOUND_MAX_AGE)
    return _short(max_age)


def for_branch_redirect(settings: Settings) -> str:
    """Cache-Control for a 302 from a branch URL to the same path under its current commit."""
    policy = settings.branch_cache
    if policy.s_maxage is None:
        return _short(policy.max_age)
    return f"public, max-age={policy.max_age}, s-maxage={policy.s_maxage}"


@lru_cache(maxsize=64)
def _short(max_age: int) -> str:
    return f"public, max-age={max_age}"
