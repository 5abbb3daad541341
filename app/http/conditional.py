"""Conditional requests: entity-tags, HTTP dates and the precondition order (RFC 9110 §13).

Rules of this module:
1. Pure functions of header strings; stdlib only; nothing here raises on any header value.
2. A malformed validator never matches: a bad ``If-None-Match`` or ``If-Modified-Since`` means
   "send the full response" (§13.1.2, §13.1.3: invalid dates are ignored), a bad ``If-Range``
   means "send the full 200" (§13.1.5), a bad ``If-Match`` fails (412), which is the safe side
   for each field.
3. Our own ETags are strong and quoted (``"..."``); the caller passes them exactly as sent.
4. Parsing is linear (one anchored regex per list member) and dates are memoized.

Precondition order (§13.2.2), for GET and HEAD, which are the only methods this service
answers (anything else is 405 before preconditions: §13.2.1 says conditions are ignored when
the answer would not be 2xx/412):
1. If-Match (strong comparison, §13.1.1) → 412 when it fails; else
2. If-Unmodified-Since when If-Match is absent (§13.1.4) → 412 when modified since;
3. If-None-Match (weak comparison, §13.1.2) → 304 when it matches; else
4. If-Modified-Since when If-None-Match is absent (§13.1.3) → 304 when not modified since;
5. then If-Range decides whether Range applies (§13.1.5), then Range (§14.2).
``precondition_failed`` does steps 1–2, ``evaluate`` steps 3–4, ``if_range_allows`` step 5.

Decision on If-Range dates: a date matches only when it equals, byte for byte, the
``Last-Modified`` we send for this representation *and* the caller declares that date a strong
validator (§8.8.2.2, §13.1.5). Our Last-Modified is a commit time: it can repeat or go backwards
on a branch, and a coded representation's bytes can change under a fixed date after a repack,
so by default dates never satisfy If-Range and the client simply gets the full 200.
"""

from __future__ import annotations

import calendar
import re
import time
from collections.abc import Sequence
from functools import lru_cache

__all__ = [
    "evaluate",
    "http_date",
    "if_range_allows",
    "parse_etag_list",
    "parse_http_date",
    "precondition_failed",
]

# entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE; etagc = %x21 / %x23-7E / obs-text (§8.8.3).
# A comma is a legal etagc, so the list cannot be split on "," first; the pattern consumes one
# member and its separator at a time. Leading commas/OWS are skipped (§5.6.1 empty elements).
_ETAG_MEMBER = re.compile(r'[ \t,]*(W/)?("[\x21\x23-\x7e\x80-\xff]*")[ \t]*(?:,|\Z)')
_ONLY_SEPARATORS = re.compile(r"[ \t,]*")

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTH_NUMBER = {name: index + 1 for index, name in enumerate(_MONTHS)}
_MONTH_RE = "(" + "|".join(_MONTHS) + ")"
_TIME_RE = "([0-9]{2}):([0-9]{2}):([0-9]{2})"
# HTTP-date = IMF-fixdate / obs-date (§5.6.7). Names are case-sensitive in the grammar.
_IMF_FIXDATE = re.compile(
    r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), ([0-9]{2}) " + _MONTH_RE + r" ([0-9]{4}) " + _TIME_RE
    + r" GMT"
)
_RFC850_DATE = re.compile(
    r"(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), ([0-9]{2})-" + _MONTH_RE
    + r"-([0-9]{2}) " + _TIME_RE + r" GMT"
)
_MAX_DATE_LENGTH = 33  # "Wednesday, 09-Nov-94 08:49:37 GMT", the longest form
_ASCTIME_DATE = re.compile(
    r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) " + _MONTH_RE + r" ([0-9 ][0-9]) " + _TIME_RE
    + r" ([0-9]{4})"
)


def parse_etag_list(value: str | None) -> tuple[tuple[bool, str], ...] | str | None:
    """Parse an ``If-None-Match``/``If-Match`` value (§13.1.1, §13.1.2).

    Returns None when the field is absent, ``"*"`` for the wildcard, otherwise a tuple of
    ``(weak, opaque_tag)`` pairs where ``opaque_tag`` keeps its quotes. A malformed value (an
    unquoted tag, garbage between members, ``*`` mixed with tags) yields ``()``: present but
    matching nothing.
    """
    if value is None:
        return None
    stripped = value.strip(" \t")
    if stripped == "*":
        return "*"
    tags: list[tuple[bool, str]] = []
    pos = 0
    end = len(value)
    while pos < end:
        match = _ETAG_MEMBER.match(value, pos)
        if match is None:
            if _ONLY_SEPARATORS.fullmatch(value, pos):
                break  # trailing commas / whitespace
            return ()
        tags.append((match.group(1) is not None, match.group(2)))
        pos = match.end()
    return tuple(tags)


def _opaque(etag: str) -> str:
    return etag[2:] if etag.startswith("W/") else etag


def evaluate(
    method: str,
    if_none_match: str | None,
    if_modified_since: str | None,
    etags: Sequence[str],
    last_modified: int | None,
) -> str | None:
    """Steps 3–4 of §13.2.2: return the ETag to echo in a 304, or None to carry on.

    ``etags`` are the strong ETags (as sent, quoted) of every representation acceptable to this
    request, the selected one first (``negotiation.acceptable_codings`` order): If-None-Match
    uses weak comparison against all of them (§13.1.2) and the 304 names the one the client
    holds, so a cache knows which stored response to refresh (RFC 9111 §4.3.4). ``*`` and an
    If-Modified-Since hit echo ``etags[0]``. ``last_modified`` is the representation's
    Last-Modified as integer seconds, or None when none is sent.

    If-Modified-Since counts only when If-None-Match is absent and only for GET/HEAD (§13.1.3);
    other methods return None (the service answers them 405, where §13.2.1 ignores conditions).
    """
    if method != "GET" and method != "HEAD":
        return None
    if if_none_match is not None:
        for etag in etags:
            if if_none_match == etag:
                return etag  # fast path: the client echoes the one ETag it holds
        tags = parse_etag_list(if_none_match)
        if isinstance(tags, str):  # "*"
            return etags[0] if etags else None
        if not tags:
            return None
        wanted = {opaque for _, opaque in tags}  # weak comparison ignores W/ on both sides
        for etag in etags:
            if _opaque(etag) in wanted:
                return etag
        return None
    if if_modified_since is not None and last_modified is not None and etags:
        if if_modified_since == http_date(last_modified):
            return etags[0]  # fast path: the client echoes the Last-Modified we sent
        since = parse_http_date(if_modified_since)
        if since is not None and last_modified <= since:
            return etags[0]
    return None


def precondition_failed(
    if_match: str | None,
    if_unmodified_since: str | None,
    etag: str,
    last_modified: int | None,
) -> bool:
    """Steps 1–2 of §13.2.2: True when the request must be answered 412 Precondition Failed.

    If-Match uses strong comparison against the selected representation's ETag (§13.1.1; a
    ``W/`` tag never matches; ``*`` matches since the representation exists). If-Unmodified-Since
    is evaluated only without If-Match and only when it parses and we have a Last-Modified
    (§13.1.4: an invalid date is ignored).
    """
    if if_match is not None:
        tags = parse_etag_list(if_match)
        if isinstance(tags, str):  # "*"
            return False
        return not any(not weak and opaque == etag for weak, opaque in tags or ())
    if if_unmodified_since is not None and last_modified is not None:
        since = parse_http_date(if_unmodified_since)
        return since is not None and last_modified > since
    return False


def if_range_allows(
    if_range: str | None,
    etag: str,
    last_modified: str | None = None,
    *,
    date_is_strong: bool = False,
) -> bool:
    """Whether a Range may be honoured under this ``If-Range`` value (§13.1.5, §13.2.2 step 5).

    True when the field is absent. An entity-tag matches only by strong comparison with our
    ``etag`` (a ``W/`` tag never does). A date matches only when it equals ``last_modified``
    (the exact Last-Modified string we send) and ``date_is_strong`` is True (module docstring).
    False means: ignore Range, send the whole 200. Only call it when a Range field is present
    (a lone If-Range is ignored, §13.1.5).
    """
    if if_range is None:
        return True
    value = if_range.strip(" \t")
    if value.startswith('"') or value.startswith("W/"):
        return value == etag and not value.startswith("W/")
    return date_is_strong and last_modified is not None and value == last_modified


def _two_digit_year(year: int, now: float) -> int:
    # §5.6.7: a two-digit year more than 50 years in the future is the most recent past year
    # with the same last two digits.
    current = time.gmtime(now).tm_year
    full = current - current % 100 + year
    if full > current + 50:
        full -= 100
    return full


def _timestamp(year: int, month: int, day: int, hour: int, minute: int, second: int) -> int | None:
    if not 1 <= day <= calendar.monthrange(year, month)[1]:
        return None
    if hour > 23 or minute > 59 or second > 60:  # 60: leap second (§5.6.7)
        return None
    return calendar.timegm((year, month, day, hour, minute, min(second, 59), 0, 0, 0))


@lru_cache(maxsize=256)
def _parse_fixed(value: str) -> int | None:
    match = _IMF_FIXDATE.fullmatch(value)
    if match is not None:
        day, month, year, hour, minute, second = match.groups()
    else:
        match = _ASCTIME_DATE.fullmatch(value)
        if match is None:
            return None
        month, day, hour, minute, second, year = match.groups()
        day = day.lstrip(" ")
    year_n = int(year)
    if year_n < 1:
        return None
    return _timestamp(year_n, _MONTH_NUMBER[month], int(day), int(hour), int(minute), int(second))


def parse_http_date(value: str, now: float | None = None) -> int | None:
    """Parse an HTTP-date (§5.6.7) into integer seconds since the epoch, or None if invalid.

    Accepts IMF-fixdate and both obsolete forms (rfc850-date, asctime-date), as recipients
    must. The weekday name is checked for spelling but not against the date (§5.6.7 does not
    require it). ``now`` (default: the current time) only matters for rfc850's two-digit years.
    """
    value = value.strip(" \t")
    if len(value) > _MAX_DATE_LENGTH:
        return None  # also keeps junk out of the memo
    result = _parse_fixed(value)
    if result is not None:
        return result
    match = _RFC850_DATE.fullmatch(value)
    if match is None:
        return None
    day, month, year, hour, minute, second = match.groups()
    full_year = _two_digit_year(int(year), time.time() if now is None else now)
    return _timestamp(
        full_year, _MONTH_NUMBER[month], int(day), int(hour), int(minute), int(second)
    )


@lru_cache(maxsize=1024)
def http_date(timestamp: int) -> str:
    """Format integer seconds since the epoch as an IMF-fixdate (§5.6.7), memoized.

    Example: ``Sun, 06 Nov 1994 08:49:37 GMT``. Use it for Last-Modified and Date.
    """
    t = time.gmtime(timestamp)
    return (
        f"{_DAYS[t.tm_wday]}, {t.tm_mday:02d} {_MONTHS[t.tm_mon - 1]} {t.tm_year:04d} "
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} GMT"
    )
