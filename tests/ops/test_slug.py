"""Preview slugs: the documented rule, table by table."""

from __future__ import annotations

import hashlib
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.ops.slug import DNS_LABEL_MAX, preview_slugs, short_name, slugify


def h(ref: str, n: int = 6) -> str:
    return hashlib.sha256(ref.encode()).hexdigest()[:n]


@pytest.mark.parametrize(
    ("ref", "short"),
    [
        ("refs/heads/main", "main"),
        ("refs/heads/feature/x", "feature/x"),
        ("refs/tags/v1.0", "v1.0"),
        ("refs/pull/7/head", "pull/7/head"),
        ("HEAD", "HEAD"),
    ],
)
def test_short_name(ref: str, short: str) -> None:
    assert short_name(ref) == short


LONG = "refs/heads/" + "a" * 70
LONG_B = LONG + "b"


@pytest.mark.parametrize(
    ("ref", "slug"),
    [
        ("refs/heads/main", "main"),
        ("refs/heads/Fix/API_v2", "fix-api-v2"),
        ("refs/heads/feature//x", "feature-x"),
        ("refs/tags/v1.0.0", "v1-0-0"),
        ("refs/heads/-leading-and-trailing-", "leading-and-trailing"),
        ("refs/heads/über", "ber"),
        ("refs/heads/___", "ref"),
        ("refs/pull/7/head", "pull-7-head"),
        ("refs/heads/" + "a" * 63, "a" * 63),
        (LONG, "a" * 56 + "-" + h(LONG)),
    ],
)
def test_slugify(ref: str, slug: str) -> None:
    result = slugify(ref)
    assert result == slug
    assert len(result) <= DNS_LABEL_MAX and "--" not in result


def test_truncation_respects_a_reserved_suffix_and_keeps_long_names_apart() -> None:
    assert slugify(LONG, max_length=50) == "a" * 43 + "-" + h(LONG)
    assert slugify(LONG) != slugify(LONG_B)
    # A cut that lands on a separator does not leave "--" behind.
    ref = "refs/heads/" + "a" * 55 + "/" + "b" * 20
    assert slugify(ref) == "a" * 55 + "-" + h(ref)
    with pytest.raises(ValueError):
        slugify(LONG, max_length=10)


@pytest.mark.parametrize(
    ("refs", "expected"),
    [
        # No collision: everyone keeps the plain slug.
        (["refs/heads/main", "refs/heads/fix/api"], {"main": "main", "fix/api": "fix-api"}),
        # The ref already spelled as its slug keeps it; the other one is suffixed.
        (
            ["refs/heads/fix/api", "refs/heads/fix-api"],
            {"fix-api": "fix-api", "fix/api": "fix-api-" + h("refs/heads/fix/api")},
        ),
        # Branch before tag when both are canonical.
        (
            ["refs/tags/v1", "refs/heads/v1"],
            {"refs/heads/v1": "v1", "refs/tags/v1": "v1-" + h("refs/tags/v1")},
        ),
        # Nobody canonical: every member of the collision is suffixed.
        (
            ["refs/heads/Fix/Api", "refs/heads/fix_api"],
            {
                "Fix/Api": "fix-api-" + h("refs/heads/Fix/Api"),
                "fix_api": "fix-api-" + h("refs/heads/fix_api"),
            },
        ),
    ],
)
def test_preview_slugs_resolve_collisions(refs: list[str], expected: dict[str, str]) -> None:
    result = preview_slugs(refs)
    named = {
        (short_name(ref) if sum(short_name(r) == short_name(ref) for r in refs) == 1 else ref): s
        for ref, s in result.items()
    }
    assert named == expected
    assert len(set(result.values())) == len(refs)


def test_preview_slugs_are_deterministic_and_order_independent() -> None:
    refs = [f"refs/heads/{name}" for name in ("a/b", "a-b", "A_B", "a.b", "c")]
    assert preview_slugs(refs) == preview_slugs(list(reversed(refs)))
    # Adding a colliding, non-canonical ref never moves an existing canonical preview.
    assert preview_slugs(refs)["refs/heads/a-b"] == "a-b"


_NAME = st.text(alphabet="aAbB01-_./ü", min_size=1, max_size=90)


@given(
    names=st.sets(_NAME, max_size=30),
    namespaces=st.lists(st.sampled_from(["refs/heads/", "refs/tags/"]), min_size=30,
                        max_size=30),
    reserve=st.integers(0, 40),
)
def test_slugs_are_always_distinct_dns_labels(
    names: set[str], namespaces: list[str], reserve: int
) -> None:
    refs = [ns + name for ns, name in zip(namespaces, sorted(names), strict=False)]
    cap = DNS_LABEL_MAX - reserve
    slugs = preview_slugs(refs, cap)
    assert set(slugs) == set(refs)
    assert len(set(slugs.values())) == len(refs)
    for slug in slugs.values():
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", slug) and len(slug) <= cap
