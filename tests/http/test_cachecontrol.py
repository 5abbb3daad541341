"""Cache-Control values by ref kind, as tables."""

from __future__ import annotations

import pytest

from app.config import CachePolicy, Settings
from app.http.cachecontrol import (
    IMMUTABLE,
    NO_STORE,
    NOT_FOUND_MAX_AGE,
    for_branch_redirect,
    for_listing,
    for_not_found,
    for_ref,
    format_policy,
    policy_for,
)

SETTINGS = Settings(
    branch_cache=CachePolicy(max_age=60, s_maxage=30, stale_while_revalidate=60,
                             stale_if_error=86400),
    tag_cache=CachePolicy(max_age=600, s_maxage=3600),
    abbrev_cache=CachePolicy(max_age=3600, stale_if_error=86400),
)

FOR_REF_CASES = [
    ("commit", True, "public, max-age=31536000, immutable, no-transform"),
    ("commit", False, "public, max-age=31536000, immutable"),
    ("branch", True, "public, max-age=60, s-maxage=30, stale-while-revalidate=60, "
                     "stale-if-error=86400, no-transform"),
    ("branch", False, "public, max-age=60, s-maxage=30, stale-while-revalidate=60, "
                      "stale-if-error=86400"),
    ("tag", True, "public, max-age=600, s-maxage=3600, no-transform"),
    ("abbrev", False, "public, max-age=3600, stale-if-error=86400"),
]


@pytest.mark.parametrize(("kind", "no_transform", "expected"), FOR_REF_CASES)
def test_for_ref(kind: str, no_transform: bool, expected: str) -> None:
    assert for_ref(kind, SETTINGS, no_transform=no_transform) == expected  # type: ignore[arg-type]


def test_commit_value_is_the_documented_constant() -> None:
    assert for_ref("commit", SETTINGS, no_transform=False) == IMMUTABLE
    assert IMMUTABLE == "public, max-age=31536000, immutable"


def test_defaults_have_no_contradictory_directives() -> None:
    for kind in ("commit", "branch", "tag", "abbrev"):
        value = for_ref(kind, Settings())
        directives = [d.split("=")[0] for d in value.split(", ")]
        assert directives[0] == "public"
        assert "must-revalidate" not in directives
        assert "no-cache" not in directives
        assert len(directives) == len(set(directives))


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        (CachePolicy(max_age=0), "public, max-age=0"),
        (CachePolicy(max_age=5, stale_while_revalidate=0), "public, max-age=5, "
                                                           "stale-while-revalidate=0"),
        (None, IMMUTABLE),
    ],
)
def test_format_policy(policy: CachePolicy | None, expected: str) -> None:
    assert format_policy(policy, False) == expected
    assert format_policy(policy, True) == expected + ", no-transform"


def test_memoized() -> None:
    assert for_ref("tag", SETTINGS) is for_ref("tag", SETTINGS)


def test_policy_for() -> None:
    assert policy_for("commit", SETTINGS) is None
    assert policy_for("branch", SETTINGS) is SETTINGS.branch_cache
    assert policy_for("tag", SETTINGS) is SETTINGS.tag_cache
    assert policy_for("abbrev", SETTINGS) is SETTINGS.abbrev_cache


NOT_FOUND_CASES = [
    ("commit", "public, max-age=3600"),
    ("branch", "public, max-age=60"),
    ("tag", f"public, max-age={NOT_FOUND_MAX_AGE}"),  # capped
    ("abbrev", f"public, max-age={NOT_FOUND_MAX_AGE}"),
    (None, "public, max-age=60"),  # unknown ref: branch lifetime
]


@pytest.mark.parametrize(("kind", "expected"), NOT_FOUND_CASES)
def test_for_not_found(kind: str | None, expected: str) -> None:
    assert for_not_found(kind, SETTINGS) == expected  # type: ignore[arg-type]


def test_not_found_never_outlives_positive_answer() -> None:
    settings = Settings(branch_cache=CachePolicy(max_age=5))
    assert for_not_found("branch", settings) == "public, max-age=5"
    assert for_not_found(None, settings) == "public, max-age=5"


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("commit", "public, max-age=86400"),
        ("tag", "public, max-age=600, s-maxage=3600"),
        ("branch", "public, max-age=60, s-maxage=30, stale-while-revalidate=60, "
                   "stale-if-error=86400"),
    ],
)
def test_for_listing(kind: str, expected: str) -> None:
    assert for_listing(kind, SETTINGS) == expected  # type: ignore[arg-type]


def test_for_branch_redirect() -> None:
    assert for_branch_redirect(SETTINGS) == "public, max-age=60, s-maxage=30"
    assert for_branch_redirect(Settings(branch_cache=CachePolicy(max_age=7))) == (
        "public, max-age=7"
    )


def test_no_store() -> None:
    assert NO_STORE == "no-store"
