"""Content-coding negotiation: which of our representations a request accepts (RFC 9110 §12.5.3).

Rules of this module:
1. Pure functions of header strings; stdlib only; nothing here raises on any header value.
2. The grammar is applied strictly, one list member at a time (§5.6.1): a member that is not
   ``token [ OWS ";" OWS "q=" qvalue ]`` is ignored as if it were absent. Ignoring a bad member can
   only make us *more* conservative: a coding that is not clearly accepted is never sent, and
   identity stays acceptable unless clearly refused.
3. Results are memoized per (header, available): CDNs and browsers send a handful of distinct
   values, so the hot path is one cache lookup.

Decisions (documented for the application and the README):
- No ``Accept-Encoding`` at all means every coding is acceptable (§12.5.3), but we *prefer*
  identity then, for interoperability (http-semantics.md §7 item 2): old clients that omit the
  field rarely decode anything.
- An empty field value (or one whose members are all invalid) means "no coding": identity only.
- identity not named explicitly takes ``*``'s weight when ``*`` is present, otherwise the lowest
  non-zero weight (0.001), so ``gzip;q=0.5`` still selects gzip over identity.
- A coding listed more than once gets its lowest weight (a ``q=0`` anywhere refuses it).
- ``x-gzip`` is ``gzip`` (§8.4.1.3).
- Ties are broken by the server's order of ``available``; ``PREFERENCE`` is the recommended order:
  gzip before deflate because every client and CDN decodes gzip, while ``deflate`` has a history
  of raw-vs-zlib confusion (§8.4.1.2), so deflate is sent only when the client ranks it strictly
  higher than gzip or refuses gzip.
"""

from __future__ import annotations

import re
from functools import lru_cache

__all__ = ["PREFERENCE", "acceptable_codings", "choose_coding"]

PREFERENCE: tuple[str, ...] = ("gzip", "deflate", "identity")
"""Recommended server preference order for ``available``, best first."""

# member = token [ weight ]; weight = OWS ";" OWS "q=" qvalue (§12.5.3, §12.4.2).
# qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ); the parameter name is
# case-insensitive (§5.6.6). Digits are spelled [0-9]: \d would accept non-ASCII digits.
_MEMBER = re.compile(
    r"[ \t]*([!#$%&'*+\-.^_`|~0-9A-Za-z]+)[ \t]*"
    r"(?:;[ \t]*[qQ]=(0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?))?[ \t]*"
)

_ALIASES = {"x-gzip": "gzip", "x-compress": "compress"}  # §8.4.1.1, §8.4.1.3
_IMPLICIT_IDENTITY = 1  # weight in thousandths: the lowest acceptable weight, 0.001
# Real Accept-Encoding values are short; longer ones are ranked uncached so that a client
# sending many distinct huge values cannot fill memory through the cache.
_MAX_CACHED_LENGTH = 256


def _weight(qvalue: str | None) -> int:
    """A grammar-checked qvalue as an integer number of thousandths (no float rounding)."""
    if qvalue is None:
        return 1000
    if qvalue[0] == "1":
        return 1000
    digits = qvalue[2:]
    return int(digits.ljust(3, "0")) if digits else 0


def _parse(header: str) -> tuple[dict[str, int], int | None]:
    """Map lower-cased coding -> weight (thousandths), and the weight of ``*`` (None if absent)."""
    weights: dict[str, int] = {}
    star: int | None = None
    for member in header.split(","):
        if not member or member.isspace():
            continue  # empty list elements are allowed and ignored (§5.6.1)
        match = _MEMBER.fullmatch(member)
        if match is None:
            continue
        coding = match.group(1).lower()
        coding = _ALIASES.get(coding, coding)
        weight = _weight(match.group(2))
        if coding == "*":
            star = weight if star is None else min(star, weight)
        else:
            previous = weights.get(coding)
            weights[coding] = weight if previous is None else min(previous, weight)
    return weights, star


def acceptable_codings(header: str | None, available: tuple[str, ...]) -> tuple[str, ...]:
    """Return the codings of ``available`` the request accepts, best first.

    ``header`` is the raw ``Accept-Encoding`` value (None when the field is absent);
    ``available`` lists our codings in lower case ("gzip", "deflate", "identity"), in server
    preference order (see ``PREFERENCE``); it must be a tuple (the result is memoized).

    Element 0, when present, is the coding to send (``choose_coding``). The whole tuple is what
    If-None-Match is compared against (weak comparison across acceptable variants, RFC 9110
    §13.1.2, RFC 9111 §4.3.4): put the ETags in this order so a 304 echoes the preferred variant.
    An empty tuple means nothing acceptable: answer 406 (§15.5.7).
    """
    if header is not None and len(header) > _MAX_CACHED_LENGTH:
        return _rank(header, available)  # odd values are not worth a cache slot
    return _rank_cached(header, available)


def _rank(header: str | None, available: tuple[str, ...]) -> tuple[str, ...]:
    if header is None:
        # §12.5.3: no field means any coding is acceptable; identity is preferred (module doc).
        if "identity" in available:
            return ("identity", *(c for c in available if c != "identity"))
        return available
    weights, star = _parse(header)
    ranked: list[tuple[int, int, str]] = []
    for index, coding in enumerate(available):
        weight = weights.get(coding)
        if weight is None:
            if star is not None:
                weight = star  # "*" matches any coding not listed, identity included
            elif coding == "identity":
                weight = _IMPLICIT_IDENTITY  # acceptable unless explicitly refused (§12.5.3)
            else:
                weight = 0
        if weight > 0:  # q=0 means "not acceptable" (§12.4.2)
            ranked.append((-weight, index, coding))
    ranked.sort()
    return tuple(coding for _, _, coding in ranked)


_rank_cached = lru_cache(maxsize=512)(_rank)


def choose_coding(header: str | None, available: tuple[str, ...]) -> str | None:
    """Return the coding to send for this ``Accept-Encoding`` value, or None to answer 406.

    Highest weight wins; ties go to the earlier entry of ``available``. See
    ``acceptable_codings`` for the arguments.
    """
    codings = acceptable_codings(header, available)
    return codings[0] if codings else None
