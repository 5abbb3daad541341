"""``multipart/byteranges`` framing, precomputed (RFC 9110 §14.6, §15.3.7.3; RFC 2046 §5.1.1).

Rules of this module:
1. Pure: given the slices, the total length, the part Content-Type and a boundary, every byte
   that is not representation data is computed up front, together with the exact
   ``Content-Length`` (http-semantics.md §7 item 15: never chunked). The caller streams
   ``header, data[start:stop]`` for each part, then ``closing``.
2. Lines end in CRLF. Each part carries ``Content-Type`` and ``Content-Range``; the response
   itself carries no Content-Range (§14.6).
3. Only for two or more slices: a single range is always a single-part 206 (§15.3.7.2: "MUST
   NOT generate a multipart response to a request for a single range").

Decision on the boundary: random (``secrets.token_hex(16)``, 32 hex digits) by default. The
content of an untrusted branch cannot then predict it and forge part delimiters for clients
that scan for the boundary rather than trusting Content-Range; its fixed length keeps
``Content-Length`` the same for HEAD and GET. A caller (tests) may pass its own.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from app.http.ranges import content_range

__all__ = ["MultipartPlan", "make_boundary", "plan_byteranges"]

# bchars of RFC 2046 §5.1.1, without space (so it never needs quoting), 1 to 70 characters.
_BOUNDARY = re.compile(r"[0-9A-Za-z'()+_,\-./:=?]{1,70}")


def make_boundary() -> str:
    """A fresh unpredictable boundary: 32 lower-case hex digits."""
    return secrets.token_hex(16)


@dataclass(frozen=True, slots=True)
class MultipartPlan:
    """Everything of a ``multipart/byteranges`` body except the representation data.

    Send ``content_type`` and ``content_length`` as headers, then for each
    ``(header, start, stop)`` of ``parts``: ``header`` followed by bytes ``[start, stop)`` of
    the representation; then ``closing``.
    """

    content_type: str
    parts: tuple[tuple[bytes, int, int], ...]
    closing: bytes
    content_length: int


def plan_byteranges(
    slices: tuple[tuple[int, int], ...],
    length: int,
    part_type: str,
    boundary: str | None = None,
) -> MultipartPlan:
    """Frame ``slices`` (from ``ranges.resolve``) of a ``length``-byte representation.

    ``part_type`` is the representation's Content-Type, repeated in every part. Raises
    ValueError for fewer than two slices, an out-of-bounds slice or an invalid boundary: those
    are caller bugs, not request errors.
    """
    if len(slices) < 2:
        raise ValueError("multipart/byteranges needs at least two ranges")
    if boundary is None:
        boundary = make_boundary()
    elif not _BOUNDARY.fullmatch(boundary):
        raise ValueError("invalid multipart boundary")
    delimiter = f"--{boundary}\r\n"
    parts: list[tuple[bytes, int, int]] = []
    total = 0
    for index, (start, stop) in enumerate(slices):
        if not 0 <= start < stop <= length:
            raise ValueError(f"slice {start}-{stop} outside 0-{length}")
        # The CRLF that ends the previous part's data belongs to the next delimiter (RFC 2046).
        header = (
            ("\r\n" if index else "")
            + delimiter
            + f"Content-Type: {part_type}\r\n"
            + f"Content-Range: {content_range(start, stop, length)}\r\n\r\n"
        ).encode("latin-1")
        parts.append((header, start, stop))
        total += len(header) + stop - start
    closing = f"\r\n--{boundary}--\r\n".encode("ascii")
    return MultipartPlan(
        content_type=f"multipart/byteranges; boundary={boundary}",
        parts=tuple(parts),
        closing=closing,
        content_length=total + len(closing),
    )
