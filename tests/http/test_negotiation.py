"""Accept-Encoding negotiation (RFC 9110 §12.5.3) as a table."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.http.negotiation import PREFERENCE, acceptable_codings, choose_coding

ALL = PREFERENCE  # ("gzip", "deflate", "identity")

CHOOSE_CASES = [
    # header, expected choice with PREFERENCE
    (None, "identity"),  # absent: identity preferred (issue 3, http-semantics §7.2)
    ("", "identity"),  # empty value: no coding wanted
    ("   ", "identity"),
    (",", "identity"),
    ("gzip", "gzip"),
    ("GZIP", "gzip"),  # tokens are case-insensitive
    ("x-gzip", "gzip"),  # §8.4.1.3
    ("deflate", "deflate"),
    ("Deflate", "deflate"),
    ("gzip, deflate", "gzip"),  # tie -> server order
    ("deflate, gzip", "gzip"),
    ("gzip, deflate, br, zstd", "gzip"),  # Chromium
    ("br, gzip", "gzip"),  # Cloudflare to origin
    ("deflate;q=1, gzip;q=0.9", "deflate"),  # deflate only when ranked highest
    ("gzip;q=0.5, deflate;q=0.501", "deflate"),
    ("gzip;q=0", "identity"),  # q=0: not acceptable
    ("gzip;q=0.000", "identity"),
    ("gzip;q=0.", "identity"),  # "0." is grammatical
    ("gzip;q=1.", "gzip"),
    ("gzip;q=0.001", "gzip"),  # still beats implicit identity on server order
    ("gzip;q=0.5", "gzip"),
    ("gzip; q=0.5", "gzip"),  # OWS after ";"
    ("gzip ;q=0.5", "gzip"),  # OWS before ";"
    ("gzip;Q=0.5", "gzip"),  # parameter name is case-insensitive
    ("gzip;q=0.5, identity;q=0.6", "identity"),
    ("identity", "identity"),
    ("identity;q=0", None),  # nothing acceptable -> 406
    ("identity;q=0, gzip", "gzip"),
    ("*", "gzip"),
    ("*;q=0", None),  # "*;q=0" without identity entry refuses identity
    ("*;q=0, identity", "identity"),
    ("*;q=0, identity;q=0.1", "identity"),
    ("*;q=0, deflate", "deflate"),
    ("*, gzip;q=0", "deflate"),
    ("*;q=0.5, gzip;q=0.4", "deflate"),
    ("br", "identity"),  # unknown coding only: identity
    ("br;q=1, identity;q=0", None),
    ("compress", "identity"),
    # invalid qvalues: the member is ignored (grammar §12.4.2)
    ("gzip;q=2", "identity"),
    ("gzip;q=1.5", "identity"),
    ("gzip;q=1.001", "identity"),
    ("gzip;q=0.0001", "identity"),
    ("gzip;q=-1", "identity"),
    ("gzip;q=.5", "identity"),
    ("gzip;q=0.5x", "identity"),
    ("gzip;q=", "identity"),
    ("gzip;q = 0.5", "identity"),
    ("gzip;q=\u0661", "identity"),  # Arabic-Indic digit one
    ("gzip;level=9", "identity"),  # no other parameters in this grammar
    ("gzip;q=0.5;q=1", "identity"),
    ("identity;q=2", "identity"),  # ignored member: identity stays acceptable
    ("identity;q=zero, *;q=0", None),
    ("gz ip", "identity"),
    ("gzip\x00", "identity"),
    ("gzip, gzip;q=0", "identity"),  # duplicates: lowest weight wins
    ("gzip;q=0, x-gzip", "identity"),
    (",,gzip,,", "gzip"),  # empty list elements allowed (§5.6.1)
    ("\tgzip\t", "gzip"),
]


@pytest.mark.parametrize(("header", "expected"), CHOOSE_CASES)
def test_choose_coding(header: str | None, expected: str | None) -> None:
    assert choose_coding(header, ALL) == expected


ACCEPTABLE_CASES = [
    (None, ALL, ("identity", "gzip", "deflate")),  # absent: all acceptable, identity first
    (None, ("gzip", "deflate"), ("gzip", "deflate")),
    ("", ALL, ("identity",)),
    ("gzip", ALL, ("gzip", "identity")),
    ("gzip, deflate", ALL, ("gzip", "deflate", "identity")),
    ("deflate;q=1, gzip;q=0.5", ALL, ("deflate", "gzip", "identity")),
    ("identity;q=0", ALL, ()),
    ("*;q=0", ALL, ()),
    ("*", ALL, ("gzip", "deflate", "identity")),
    ("gzip", ("deflate", "identity"), ("identity",)),
    ("gzip, deflate", ("deflate", "gzip", "identity"), ("deflate", "gzip", "identity")),
    ("identity", ("gzip",), ()),
]


@pytest.mark.parametrize(("header", "available", "expected"), ACCEPTABLE_CASES)
def test_acceptable_codings(
    header: str | None, available: tuple[str, ...], expected: tuple[str, ...]
) -> None:
    assert acceptable_codings(header, available) == expected


def test_choice_is_first_acceptable() -> None:
    for header, _ in CHOOSE_CASES:
        acceptable = acceptable_codings(header, ALL)
        assert choose_coding(header, ALL) == (acceptable[0] if acceptable else None)


def test_memoized_result_is_identical_object() -> None:
    header = "gzip, deflate, br"
    assert acceptable_codings(header, ALL) is acceptable_codings(header, ALL)


@given(st.text(max_size=200))
def test_arbitrary_header_never_raises(header: str) -> None:
    codings = acceptable_codings(header, ALL)
    assert set(codings) <= set(ALL)
    assert len(set(codings)) == len(codings)
    assert choose_coding(header, ALL) in (*ALL, None)


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["gzip", "deflate", "identity", "*", "br", "x-gzip"]),
            st.sampled_from([None, "0", "0.5", "1", "0.001", "0.999", "1.000", "2", "0.1234"]),
        ),
        max_size=6,
    )
)
def test_structured_header_invariants(members: list[tuple[str, str | None]]) -> None:
    header = ", ".join(c if q is None else f"{c};q={q}" for c, q in members)
    choice = choose_coding(header, ALL)
    # a coding refused with a valid q=0 (and not re-listed) is never chosen
    refused = {c for c, q in members if q == "0"}
    listed_ok = {c for c, q in members if q not in ("0", "2", "0.1234")}
    for coding in ("gzip", "deflate"):
        assert not (coding in refused and choice == coding), (header, choice)
        if choice == coding:
            assert coding in listed_ok or "*" in listed_ok or (
                coding == "gzip" and "x-gzip" in listed_ok
            )


def test_long_header_is_ranked_without_the_cache() -> None:
    header = "br;q=0.1, " * 40 + "deflate;q=0.9, gzip;q=0.8"
    assert len(header) > 256
    assert acceptable_codings(header, ALL) == ("deflate", "gzip", "identity")
