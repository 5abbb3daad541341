"""Byte-range requests: parse ``Range`` and resolve it against a length (RFC 9110 §14.1–14.4).

Rules of this module:
1. Pure functions; stdlib only; no header value makes anything here raise.
2. Only the ``bytes`` unit is understood (case-insensitive, §14.1). An unknown unit, a syntax
   error, an inverted ``int-range`` or more than ``max_ranges`` range-specs make the whole field
   ignored (``None``): §14.2 lets a server ignore an invalid Range, and answering the full 200 is
   what clients and CDNs handle best (http-semantics.md §7 item 10).
3. Integers are ASCII digits only: ``int()`` alone would also accept ``_``, ``+``, whitespace and
   non-ASCII digits. Values too long to matter are clamped, so no input reaches ``int()``'s
   4300-digit limit.
4. Linear work in the size of the field (GHSA-7f5h-v6xp-fcq8): one pass to parse, bounded by
   ``max_ranges``; then one sort and one merge pass, never a pairwise comparison.

Result of ``byte_ranges``/``resolve``:
- ``None``: ignore Range, send 200 with the whole representation;
- ``UNSATISFIABLE``: send 416 with ``Content-Range: bytes */N`` (``unsatisfied_range``);
- a non-empty tuple of half-open ``(start, stop)`` slices: send 206, single-part when the tuple
  has one slice (§15.3.7.2), else ``multipart/byteranges`` (§15.3.7.3).

Decisions:
- Overlapping or adjacent slices are coalesced (§15.3.7.3 allows it); the parts keep the order
  in which the client asked for them (the "SHOULD" of §15.3.7.3), a coalesced part taking the
  position of its earliest member.
- A zero-length representation ignores Range (200 with an empty body): there is no byte a 206
  could describe and a 416 for an empty file surprises clients.
- ``bytes=0-`` still gives a 206 covering everything: media players send it and expect a 206.
"""

from __future__ import annotations

import enum
import re
from typing import Final, Literal

__all__ = [
    "UNSATISFIABLE",
    "RangeSpec",
    "byte_ranges",
    "content_range",
    "parse_range",
    "resolve",
    "unsatisfied_range",
]

RangeSpec = tuple[int | None, int | None]
"""``(first, last)`` inclusive, ``last`` None for ``first-``; ``(None, n)`` is the suffix ``-n``."""


class _Unsatisfiable(enum.Enum):
    UNSATISFIABLE = "unsatisfiable"


UNSATISFIABLE: Final = _Unsatisfiable.UNSATISFIABLE
"""Sentinel result: no range-spec overlaps the representation; answer 416 (§15.5.17)."""

# range-spec = int-range / suffix-range (§14.1.1); OWS only around list elements (§5.6.1).
_SPEC = re.compile(r"[ \t]*([0-9]*)-([0-9]*)[ \t]*")
_HUGE = 1 << 63  # beyond any representation length; stands in for over-long numbers
_MAX_DIGITS = 18


def _int(digits: str) -> int:
    """ASCII digits (checked by the caller's pattern) to int, clamping absurd lengths."""
    if len(digits) > _MAX_DIGITS:
        digits = digits.lstrip("0") or "0"
        if len(digits) > _MAX_DIGITS:
            return _HUGE
    return int(digits)


def parse_range(header: str | None, max_ranges: int = 100) -> tuple[RangeSpec, ...] | None:
    """Parse a ``Range`` value into its byte range-specs, or None to ignore the field.

    None for: an absent field, a unit other than ``bytes``, any syntax error, an int-range whose
    last-pos is below its first-pos (§14.1.1), no range-spec at all, or more than ``max_ranges``
    range-specs (a request for that many pieces gets the whole representation instead).
    """
    if header is None:
        return None
    unit, sep, range_set = header.partition("=")
    if not sep or unit.strip(" \t").lower() != "bytes":
        return None  # unknown or missing unit (§14.1: units are case-insensitive)
    specs: list[RangeSpec] = []
    for element in range_set.split(","):
        if not element or element.isspace():
            continue  # empty list elements are allowed (§5.6.1)
        match = _SPEC.fullmatch(element)
        if match is None:
            return None
        first_s, last_s = match.groups()
        if first_s:
            first = _int(first_s)
            last = _int(last_s) if last_s else None
            if last is not None and last < first:
                return None  # invalid int-range (§14.1.1)
            specs.append((first, last))
        elif last_s:
            specs.append((None, _int(last_s)))  # suffix-range
        else:
            return None  # a lone "-"
        if len(specs) > max_ranges:
            return None
    return tuple(specs) if specs else None


def resolve(
    specs: tuple[RangeSpec, ...] | None, length: int
) -> tuple[tuple[int, int], ...] | Literal[_Unsatisfiable.UNSATISFIABLE] | None:
    """Resolve parsed range-specs against the selected representation's ``length``.

    Returns None (serve 200), ``UNSATISFIABLE`` (serve 416) or the coalesced half-open slices
    (serve 206) — see the module docstring. ``length`` counts the bytes of the representation
    actually selected: for a content-coded one, the coded bytes (§14.1.2).
    """
    if specs is None or length <= 0:
        return None
    slices: list[tuple[int, int, int]] = []
    for index, (first, last) in enumerate(specs):
        if first is None:
            # suffix-range: the last n bytes, all of them when shorter (§14.1.1); -0 is
            # unsatisfiable.
            if last:
                slices.append((max(length - last, 0), length, index))
        elif first < length:
            # int-range: satisfiable when first-pos < length; last-pos clamps (§14.1.1).
            stop = length if last is None or last >= length else last + 1
            slices.append((first, stop, index))
    if not slices:
        return UNSATISFIABLE
    if len(slices) == 1:
        start, stop, _ = slices[0]
        return ((start, stop),)
    slices.sort()
    merged: list[list[int]] = []
    for start, stop, index in slices:
        if merged and start <= merged[-1][1]:  # overlapping or adjacent: coalesce
            last_part = merged[-1]
            if stop > last_part[1]:
                last_part[1] = stop
            if index < last_part[2]:
                last_part[2] = index
        else:
            merged.append([start, stop, index])
    merged.sort(key=lambda part: part[2])  # the client's order (§15.3.7.3)
    return tuple((start, stop) for start, stop, _ in merged)


def byte_ranges(
    header: str | None, length: int, max_ranges: int = 100
) -> tuple[tuple[int, int], ...] | Literal[_Unsatisfiable.UNSATISFIABLE] | None:
    """``parse_range`` then ``resolve``: the whole Range decision for one representation.

    Call it only for GET, after preconditions passed and If-Range allowed it (§13.2.2, §14.2).
    """
    return resolve(parse_range(header, max_ranges), length)


def content_range(start: int, stop: int, length: int) -> str:
    """``Content-Range`` for the half-open slice ``[start, stop)`` of ``length`` bytes (§14.4)."""
    return f"bytes {start}-{stop - 1}/{length}"


def unsatisfied_range(length: int) -> str:
    """``Content-Range`` of a 416 answer: ``bytes */length`` (§14.4, §15.5.17)."""
    return f"bytes */{length}"
