"""Conditional requests (RFC 9110 §13) as tables."""

from __future__ import annotations

import calendar
import email.utils

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.http.conditional import (
    evaluate,
    http_date,
    if_range_allows,
    parse_etag_list,
    parse_http_date,
    precondition_failed,
)
from app.http.ranges import UNSATISFIABLE, byte_ranges

ID = '"abc"'  # identity ETag
GZ = '"abc.gz.1f"'  # gzip ETag
DF = '"abc.z.1f"'  # deflate ETag
LM = 784111777  # Sun, 06 Nov 1994 08:49:37 GMT
LM_TEXT = "Sun, 06 Nov 1994 08:49:37 GMT"

PARSE_ETAG_CASES = [
    (None, None),
    ("*", "*"),
    (" * ", "*"),
    ('"a"', ((False, '"a"'),)),
    ('W/"a"', ((True, '"a"'),)),
    ('"a", W/"b"', ((False, '"a"'), (True, '"b"'))),
    ('"a",W/"b" ,\t"c"', ((False, '"a"'), (True, '"b"'), (False, '"c"'))),
    ('"a,b"', ((False, '"a,b"'),)),  # a comma is a legal etagc (§8.8.3)
    ('""', ((False, '""'),)),
    (',"a",,', ((False, '"a"'),)),  # empty list elements (§5.6.1)
    ('"\xe9"', ((False, '"\xe9"'),)),  # obs-text (latin-1 decoded header)
    ("", ()),
    ("abc", ()),  # unquoted: malformed
    ('"a" "b"', ()),
    ('"a', ()),
    ('w/"a"', ()),  # "W/" is case-sensitive
    ('W/ "a"', ()),
    ('*, "a"', ()),
    ('"a"\n', ()),
    ('"a b"', ()),  # space is not an etagc
    ('"a"x', ()),
]


@pytest.mark.parametrize(("value", "expected"), PARSE_ETAG_CASES)
def test_parse_etag_list(value: str | None, expected: object) -> None:
    assert parse_etag_list(value) == expected


EVALUATE_CASES = [
    # method, INM, IMS, etags, last_modified, expected echo
    ("GET", None, None, (ID,), LM, None),
    ("GET", ID, None, (ID,), LM, ID),
    ("HEAD", ID, None, (ID,), LM, ID),
    ("GET", f"W/{ID}", None, (ID,), LM, ID),  # weak comparison (§13.1.2)
    ("GET", '"other"', None, (ID,), LM, None),
    ("GET", f'"other", {ID}', None, (ID,), LM, ID),
    ("GET", "*", None, (GZ, ID), LM, GZ),  # "*" echoes the selected representation
    ("GET", "*", None, (), LM, None),
    # across acceptable variants: echo the one the client holds (RFC 9111 §4.3.4)
    ("GET", ID, None, (GZ, DF, ID), LM, ID),
    ("GET", f"{DF}, {GZ}", None, (GZ, DF, ID), LM, GZ),  # our order decides among matches
    ("GET", GZ, None, (ID,), LM, None),  # gzip variant not acceptable now: no 304
    # INM present (even malformed or non-matching) disables IMS (§13.1.3)
    ("GET", '"other"', LM_TEXT, (ID,), LM, None),
    ("GET", "garbage", LM_TEXT, (ID,), LM, None),
    # If-Modified-Since
    ("GET", None, LM_TEXT, (ID,), LM, ID),  # exact echo of Last-Modified
    ("GET", None, "Sun, 06 Nov 1994 08:49:38 GMT", (ID,), LM, ID),  # later
    ("GET", None, "Sun, 06 Nov 1994 08:49:36 GMT", (ID,), LM, None),  # modified since
    ("GET", None, "Sunday, 06-Nov-94 08:49:37 GMT", (ID,), LM, ID),  # rfc850
    ("GET", None, "Sun Nov  6 08:49:37 1994", (ID,), LM, ID),  # asctime
    ("GET", None, "not a date", (ID,), LM, None),  # invalid: ignored
    ("GET", None, f"{LM_TEXT}, {LM_TEXT}", (ID,), LM, None),  # more than one member
    ("GET", None, LM_TEXT, (ID,), None, None),  # no Last-Modified
    # other methods: conditions ignored (405 comes first)
    ("POST", ID, None, (ID,), LM, None),
    ("POST", None, LM_TEXT, (ID,), LM, None),
    ("get", ID, None, (ID,), LM, None),  # methods are case-sensitive (§9.1)
]


@pytest.mark.parametrize(("method", "inm", "ims", "etags", "lm", "expected"), EVALUATE_CASES)
def test_evaluate(
    method: str,
    inm: str | None,
    ims: str | None,
    etags: tuple[str, ...],
    lm: int | None,
    expected: str | None,
) -> None:
    assert evaluate(method, inm, ims, etags, lm) == expected


PRECONDITION_CASES = [
    # If-Match, If-Unmodified-Since, expected 412
    (None, None, False),
    ("*", None, False),
    (ID, None, False),
    (f'"x", {ID}', None, False),
    (f"W/{ID}", None, True),  # strong comparison (§13.1.1)
    ('"x"', None, True),
    ("garbage", None, True),
    ('"x"', LM_TEXT, True),  # IUS ignored when If-Match is present
    (None, LM_TEXT, False),
    (None, "Sun, 06 Nov 1994 08:49:36 GMT", True),
    (None, "Sun, 06 Nov 1994 08:49:38 GMT", False),
    (None, "garbage", False),  # invalid date: ignored (§13.1.4)
]


@pytest.mark.parametrize(("if_match", "ius", "expected"), PRECONDITION_CASES)
def test_precondition_failed(if_match: str | None, ius: str | None, expected: bool) -> None:
    assert precondition_failed(if_match, ius, ID, LM) is expected


IF_RANGE_CASES = [
    # If-Range, last_modified sent, date_is_strong, expected
    (None, LM_TEXT, False, True),
    (ID, LM_TEXT, False, True),
    (f" {ID} ", LM_TEXT, False, True),
    (f"W/{ID}", LM_TEXT, False, False),  # weak never matches (§13.1.5)
    ('"other"', LM_TEXT, False, False),
    (GZ, LM_TEXT, False, False),  # another representation's tag
    (LM_TEXT, LM_TEXT, False, False),  # dates are weak by default
    (LM_TEXT, LM_TEXT, True, True),
    ("Sun, 06 Nov 1994 08:49:38 GMT", LM_TEXT, True, False),  # exact match only
    ("Sunday, 06-Nov-94 08:49:37 GMT", LM_TEXT, True, False),
    (LM_TEXT, None, True, False),
    ("garbage", LM_TEXT, True, False),
    ("", LM_TEXT, True, False),
]


@pytest.mark.parametrize(("if_range", "lm_text", "strong", "expected"), IF_RANGE_CASES)
def test_if_range_allows(
    if_range: str | None, lm_text: str | None, strong: bool, expected: bool
) -> None:
    assert if_range_allows(if_range, ID, lm_text, date_is_strong=strong) is expected


NOW_2026 = calendar.timegm((2026, 11, 21, 0, 0, 0, 0, 0, 0))

DATE_CASES = [
    (LM_TEXT, LM),
    ("Sunday, 06-Nov-94 08:49:37 GMT", LM),
    ("Sun Nov  6 08:49:37 1994", LM),
    ("Sun Nov 16 08:49:37 1994", LM + 10 * 86400),
    (f" {LM_TEXT} ", LM),
    ("Thu, 01 Jan 1970 00:00:00 GMT", 0),
    ("Wed, 31 Dec 1969 23:59:59 GMT", -1),
    ("Sat, 21 Nov 2026 00:00:00 GMT", NOW_2026),
    ("Tue, 30 Jun 2015 23:59:60 GMT", calendar.timegm((2015, 6, 30, 23, 59, 59))),  # leap s
    ("Mon, 06 Nov 1994 08:49:37 GMT", LM),  # weekday not cross-checked
    ("Saturday, 21-Nov-26 00:00:00 GMT", NOW_2026),  # 2-digit year near now
    ("Wednesday, 01-Jan-76 00:00:00 GMT", calendar.timegm((2076, 1, 1, 0, 0, 0))),  # +50y
    ("Friday, 01-Jan-77 00:00:00 GMT", calendar.timegm((1977, 1, 1, 0, 0, 0))),  # +51y
    ("Monday, 01-Jan-80 00:00:00 GMT", calendar.timegm((1980, 1, 1, 0, 0, 0))),  # >50y ahead
    # invalid
    ("", None),
    ("Sun, 6 Nov 1994 08:49:37 GMT", None),
    ("Sun, 06 Nov 1994 08:49:37 UTC", None),
    ("Sun, 06 nov 1994 08:49:37 GMT", None),  # case-sensitive names (§5.6.7)
    ("Sun, 31 Nov 1994 08:49:37 GMT", None),
    ("Sun, 29 Feb 1994 08:49:37 GMT", None),
    ("Tue, 29 Feb 2000 00:00:00 GMT", calendar.timegm((2000, 2, 29, 0, 0, 0))),
    ("Sun, 06 Nov 1994 24:00:00 GMT", None),
    ("Sun, 06 Nov 1994 08:60:00 GMT", None),
    ("Sun, 06 Nov 0000 08:49:37 GMT", None),
    ("Sun, 00 Nov 1994 08:49:37 GMT", None),
    ("Sun, 06 Nov 1994 08:49:37", None),
    ("Sun, \u0660\u0666 Nov 1994 08:49:37 GMT", None),  # non-ASCII digits
    ("1994-11-06T08:49:37Z", None),
    ("784111777", None),
    ("Sun, 06 Nov 1994 08:49:37 GMT\n", None),
    ("Funday, 06-Nov-94 08:49:37 GMT", None),
    ("Sun, 06 Nov 1994 08:49:37 GMT" + " " * 5 + "x" * 100, None),  # over-long
]


@pytest.mark.parametrize(("value", "expected"), DATE_CASES)
def test_parse_http_date(value: str, expected: int | None) -> None:
    assert parse_http_date(value, now=NOW_2026) == expected


@pytest.mark.parametrize("timestamp", [0, LM, NOW_2026, 253402300799, 1700000000])
def test_http_date_matches_stdlib(timestamp: int) -> None:
    assert http_date(timestamp) == email.utils.formatdate(timestamp, usegmt=True)
    assert parse_http_date(http_date(timestamp)) == timestamp


def test_http_date_example() -> None:
    assert http_date(LM) == LM_TEXT


@given(st.integers(0, 253402300799))
def test_http_date_round_trip(timestamp: int) -> None:
    assert parse_http_date(http_date(timestamp)) == timestamp


@given(st.text(max_size=120))
def test_arbitrary_values_never_raise(value: str) -> None:
    parsed = parse_etag_list(value)
    assert parsed == "*" or isinstance(parsed, tuple)
    assert parse_http_date(value) is None or isinstance(parse_http_date(value), int)
    assert evaluate("GET", value, None, (ID, GZ), LM) in (None, ID, GZ)
    assert evaluate("GET", None, value, (ID,), LM) in (None, ID)
    assert isinstance(precondition_failed(value, value, ID, LM), bool)
    assert isinstance(if_range_allows(value, ID, LM_TEXT, date_is_strong=True), bool)


@given(st.lists(st.tuples(st.booleans(), st.text("abc,xyz!#", max_size=5)), max_size=5))
def test_etag_list_round_trip(tags: list[tuple[bool, str]]) -> None:
    value = ", ".join(("W/" if weak else "") + f'"{body}"' for weak, body in tags)
    assert parse_etag_list(value) == tuple((weak, f'"{body}"') for weak, body in tags)


def _decide(headers: dict[str, str], length: int = 100) -> object:
    """The §13.2.2 order as the application runs it, from these pure functions."""
    if precondition_failed(headers.get("if-match"), headers.get("if-unmodified-since"), ID, LM):
        return 412
    if evaluate("GET", headers.get("if-none-match"), headers.get("if-modified-since"), (ID,), LM):
        return 304
    if "range" not in headers or not if_range_allows(headers.get("if-range"), ID, LM_TEXT):
        return 200
    result = byte_ranges(headers["range"], length)
    return 200 if result is None else result


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        # http-semantics.md §1 "Verified behaviours", with our decisions (§7 items 8-10, 14)
        ({"range": "bytes=abc"}, 200),  # Starlette: 400; we ignore the field
        ({"range": "bytes=5-4"}, 200),  # Starlette: 400; we ignore the field
        ({"range": "bytes=99999-"}, "416"),
        ({"range": "bytes=0-0"}, ((0, 1),)),
        ({"range": "bytes=0-9", "if-range": f"W/{ID}"}, 200),
        ({"range": "bytes=0-9", "if-range": ID}, ((0, 10),)),
        ({"range": "bytes=0-9", "if-none-match": ID}, 304),  # Range never overrides a 304
        ({"range": "bytes=0-9", "if-modified-since": LM_TEXT}, 304),
        ({"range": "bytes=0-9", "if-match": '"nope"'}, 412),
    ],
)
def test_evaluation_order(headers: dict[str, str], expected: object) -> None:
    result = _decide(headers)
    assert ("416" if result is UNSATISFIABLE else result) == expected
