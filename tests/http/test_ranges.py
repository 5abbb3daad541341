"""Range parsing and resolution (RFC 9110 §14.1–14.4) as tables."""

from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.http.ranges import (
    UNSATISFIABLE,
    byte_ranges,
    content_range,
    parse_range,
    resolve,
    unsatisfied_range,
)

PARSE_CASES = [
    ("bytes=0-0", ((0, 0),)),
    ("bytes=0-499", ((0, 499),)),
    ("bytes=500-", ((500, None),)),
    ("bytes=-500", ((None, 500),)),
    ("Bytes=0-1", ((0, 1),)),  # unit is case-insensitive (§14.1)
    ("BYTES=0-1", ((0, 1),)),
    ("bytes=0-1,5-6", ((0, 1), (5, 6))),
    ("bytes=0-1, 5-6", ((0, 1), (5, 6))),
    ("bytes= 0-1 ,\t5-6 ", ((0, 1), (5, 6))),
    ("bytes=0-1,,5-6,", ((0, 1), (5, 6))),  # empty list elements (§5.6.1)
    ("bytes=00-01", ((0, 1),)),
    ("bytes=5-5", ((5, 5),)),
    ("bytes=-0", ((None, 0),)),  # grammatical, unsatisfiable later
    ("bytes=0-99999999999999999999999999", ((0, 1 << 63),)),  # clamped, no int() blowup
    ("bytes=" + "0" * 5000 + "1-2", ((1, 2),)),  # leading zeros beyond int()'s digit limit
    # ignored (None): unparseable, unknown unit, invalid
    (None, None),
    ("", None),
    ("bytes", None),
    ("bytes=", None),
    ("bytes=,", None),
    ("bytes=-", None),
    ("bytes=abc", None),  # Starlette: 400; we ignore (§14.2 MAY)
    ("bytes=5-4", None),  # inverted int-range (§14.1.1)
    ("bytes=1-2-3", None),
    ("bytes=1--2", None),
    ("bytes=+1-2", None),
    ("bytes=1_0-20", None),  # int() would accept "1_0"
    ("bytes=\u0661-2", None),  # Arabic-Indic digit: int() would accept it
    ("bytes=\uff11-2", None),  # fullwidth digit
    ("bytes=1 -2", None),
    ("bytes=0x10-20", None),
    ("bytes=1.5-2", None),
    ("items=0-5", None),  # unknown unit
    ("bytes0-5", None),
    ("bytes=0-1;x", None),
    ("bytes=0-1,x", None),  # one bad member poisons the field
]


@pytest.mark.parametrize(("header", "expected"), PARSE_CASES)
def test_parse_range(header: str | None, expected: object) -> None:
    assert parse_range(header) == expected


def test_max_ranges_cap() -> None:
    header = "bytes=" + ",".join(f"{i * 10}-{i * 10 + 1}" for i in range(5))
    assert parse_range(header, max_ranges=5) is not None
    assert parse_range(header, max_ranges=4) is None  # too many -> whole 200


RESOLVE_CASES = [
    # header, length, expected
    ("bytes=0-0", 10, ((0, 1),)),  # http-semantics §7 item 14 (WhiteNoise got this wrong)
    ("bytes=0-9", 10, ((0, 10),)),
    ("bytes=0-", 10, ((0, 10),)),  # whole thing is still a 206
    ("bytes=0-100", 10, ((0, 10),)),  # last-pos clamps
    ("bytes=9-", 10, ((9, 10),)),
    ("bytes=9-9", 10, ((9, 10),)),
    ("bytes=-1", 10, ((9, 10),)),
    ("bytes=-10", 10, ((0, 10),)),
    ("bytes=-100", 10, ((0, 10),)),  # suffix longer than representation: all of it
    ("bytes=3-5", 10, ((3, 6),)),
    ("bytes=0-99999999999999999999999999", 10, ((0, 10),)),
    # unsatisfiable -> 416
    ("bytes=10-", 10, UNSATISFIABLE),
    ("bytes=99999-", 10, UNSATISFIABLE),  # Starlette verified behaviour: 416
    ("bytes=10-20", 10, UNSATISFIABLE),
    ("bytes=-0", 10, UNSATISFIABLE),
    ("bytes=10-20,30-", 10, UNSATISFIABLE),
    ("bytes=99999999999999999999999999-", 10, UNSATISFIABLE),
    # unsatisfiable members are dropped when another is satisfiable
    ("bytes=10-20,0-0", 10, ((0, 1),)),
    ("bytes=-0,2-3", 10, ((2, 4),)),
    # several ranges: coalesced when overlapping/adjacent, request order kept
    ("bytes=0-1,5-6", 10, ((0, 2), (5, 7))),
    ("bytes=5-6,0-1", 10, ((5, 7), (0, 2))),  # §15.3.7.3: keep the client's order
    ("bytes=0-1,2-3", 10, ((0, 4),)),  # adjacent -> single part
    ("bytes=0-4,2-3", 10, ((0, 5),)),  # contained
    ("bytes=2-3,0-4", 10, ((0, 5),)),
    ("bytes=0-2,1-5,8-", 10, ((0, 6), (8, 10))),
    ("bytes=8-,0-2,1-5", 10, ((8, 10), (0, 6))),
    ("bytes=-2,0-1", 10, ((8, 10), (0, 2))),
    ("bytes=-5,0-", 10, ((0, 10),)),
    ("bytes=0-0,0-0,0-0", 10, ((0, 1),)),
    ("bytes=4-5,0-1,2-3", 10, ((0, 6),)),  # chain merge: takes the earliest member's place
    ("bytes=6-7,4-5,0-1", 10, ((4, 8), (0, 2))),
    # ignored
    (None, 10, None),
    ("bytes=abc", 10, None),
    ("bytes=5-4", 10, None),
    ("items=0-1", 10, None),
    ("bytes=0-0", 0, None),  # empty representation: Range ignored, 200
    ("bytes=-5", 0, None),
]


@pytest.mark.parametrize(("header", "length", "expected"), RESOLVE_CASES)
def test_byte_ranges(header: str | None, length: int, expected: object) -> None:
    assert byte_ranges(header, length) == expected


def test_resolve_of_parsed_equals_byte_ranges() -> None:
    for header, length, expected in RESOLVE_CASES:
        assert resolve(parse_range(header), length) == expected


@pytest.mark.parametrize(
    ("start", "stop", "length", "expected"),
    [
        (0, 1, 10, "bytes 0-0/10"),
        (0, 10, 10, "bytes 0-9/10"),
        (9, 10, 10, "bytes 9-9/10"),
        (500, 1000, 12345, "bytes 500-999/12345"),
    ],
)
def test_content_range(start: int, stop: int, length: int, expected: str) -> None:
    assert content_range(start, stop, length) == expected


def test_unsatisfied_range() -> None:
    assert unsatisfied_range(10) == "bytes */10"
    assert unsatisfied_range(0) == "bytes */0"


def test_many_overlapping_ranges_are_linear() -> None:
    # GHSA-7f5h-v6xp-fcq8: thousands of overlapping ranges must not take quadratic time.
    n = 20000
    header = "bytes=" + ",".join(f"{i}-{i + n}" for i in range(n))
    began = time.perf_counter()
    result = byte_ranges(header, 10**9, max_ranges=n)
    elapsed = time.perf_counter() - began
    assert result == ((0, 2 * n),)
    assert elapsed < 1.0
    began = time.perf_counter()
    assert byte_ranges(header, 10**9, max_ranges=50) is None  # stops at the cap
    assert time.perf_counter() - began < 0.1


def _reference(header_specs: list[tuple[int, int]], length: int) -> set[int]:
    covered: set[int] = set()
    for first, last in header_specs:
        covered.update(range(first, min(last, length - 1) + 1))
    return covered


@given(
    st.lists(st.tuples(st.integers(0, 60), st.integers(0, 60)), min_size=1, max_size=8),
    st.integers(1, 50),
)
def test_resolved_slices_cover_exactly_the_requested_bytes(
    pairs: list[tuple[int, int]], length: int
) -> None:
    specs = [(min(a, b), max(a, b)) for a, b in pairs]
    header = "bytes=" + ",".join(f"{a}-{b}" for a, b in specs)
    result = byte_ranges(header, length)
    expected = _reference(specs, length)
    if not expected:
        assert result is UNSATISFIABLE
        return
    assert isinstance(result, tuple)
    got: list[int] = []
    for start, stop in result:
        assert 0 <= start < stop <= length
        got.extend(range(start, stop))
    assert len(got) == len(set(got))  # no overlap between parts
    assert set(got) == expected
    ordered = sorted(result)
    for (_, stop), (start, _) in zip(ordered, ordered[1:], strict=False):
        assert stop < start  # neither overlapping nor adjacent


@given(st.text(max_size=200), st.integers(0, 1000))
def test_arbitrary_header_never_raises(header: str, length: int) -> None:
    result = byte_ranges(header, length)
    assert result is None or result is UNSATISFIABLE or isinstance(result, tuple)


@given(st.from_regex(r"bytes=[0-9,\- ]{0,40}", fullmatch=True), st.integers(0, 1000))
def test_bytes_like_header_never_raises(header: str, length: int) -> None:
    result = byte_ranges(header, length)
    if isinstance(result, tuple):
        assert result
        for start, stop in result:
            assert 0 <= start < stop <= length
